"""ATO (GPM Rouen / LAWATAP): version 3 (8-byte header, 56-byte records) and version 5.

v3 records hold 14 float32: x, y, z (Angstrom), m/q, cluster id, pulse number (a float),
V_DC (kV), TOF (us), det x, y (cm), V_pulse (kV), virtual voltage, Fourier R, Fourier I. The
book says big-endian, real files are little-endian: the reader picks the byte order whose m/q
values look like masses. v5 has a 5000-byte header and 40-byte records of which only x, y
(int16, x0.01), z (float32, x0.1) and m/q (float32 at byte 8) are known; the rest of the
record is kept as raw bytes. Positions come back in nm.
"""

from __future__ import annotations

import os

import numpy as np

from bigmax.techniques.apt.formats._common import be_columns, file_size, record_memmap
from bigmax.techniques.apt.ions import APTFormatError, IonData, LazyColumns

V3_FIELDS = (
    "x", "y", "z", "mq", "cluster_id", "pulse_number", "v_dc", "tof", "det_x", "det_y",
    "v_pulse", "virtual_voltage", "fourier_r", "fourier_i",
)  # fmt: skip
V3_UNITS = {"v_dc": "kV", "tof": "us", "det_x": "cm", "det_y": "cm", "v_pulse": "kV"}


def ato_version(path: str | os.PathLike) -> int:
    size = file_size(path)
    if size < 8:
        raise APTFormatError(path, size, "file ends inside the 8-byte ATO header")
    with open(path, "rb") as fh:
        head = fh.read(8)
    version = int.from_bytes(head[4:8], "little")
    if version not in (3, 5):
        if int.from_bytes(head[4:8], "big") in (3, 5):
            version = int.from_bytes(head[4:8], "big")
        else:
            raise APTFormatError(path, 4, f"ATO version word is {version}; only 3 and 5 are known")
    return version


def _plausible(mq: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):
        return float(np.mean(np.isfinite(mq) & (mq >= 0) & (mq < 1000))) if len(mq) else 1.0


def read_ato(path: str | os.PathLike) -> IonData:
    """Map an .ato file (v3 or v5); the byte order of v3 is detected from the m/q column."""
    version = ato_version(path)
    if version == 3:
        words, n = record_memmap(path, 8, 56)
        sample = np.asarray(words[: min(n, 4096), 3]).view("<f4")
        big = _plausible(sample.byteswap()) > _plausible(sample)
        order = "big" if big else "little"

        def col(c: int, scale: float = 1.0):
            def load(sl):
                if big:
                    out = be_columns(words[sl], c, 1, "<f4").reshape(-1)
                else:
                    out = np.array(words[sl, c]).view("<f4")
                return out * np.float32(scale) if scale != 1.0 else out

            return load

        def xyz(sl):
            w = words[sl]
            out = be_columns(w, 0, 3, "<f4") if big else np.array(w[:, :3]).view("<f4")
            out *= np.float32(0.1)
            return out

        core = {"xyz": xyz, "mq": col(3)}
        extra = {name: col(i) for i, name in enumerate(V3_FIELDS) if i > 3}
        meta = {"version": 3, "byte_order": order, "units": V3_UNITS}
        return IonData(n, str(path), "ato", meta, LazyColumns(core, n), LazyColumns(extra, n))
    raw, n = record_memmap(path, 5000, 40, dtype="u1")

    def xyz5(sl):
        r = raw[sl]
        out = np.empty((len(r), 3), np.float32)
        out[:, 0] = np.array(r[:, 0:2]).view("<i2").reshape(-1) * np.float32(0.01)
        out[:, 1] = np.array(r[:, 2:4]).view("<i2").reshape(-1) * np.float32(0.01)
        out[:, 2] = np.array(r[:, 4:8]).view("<f4").reshape(-1) * np.float32(0.1)
        return out

    core = {"xyz": xyz5, "mq": lambda sl: np.array(raw[sl, 8:12]).view("<f4").reshape(-1)}
    extra = {"record_bytes": lambda sl: np.array(raw[sl])}
    meta = {"version": 5, "note": "v5 layout is only partly known; x, y units are ambiguous"}
    return IonData(n, str(path), "ato", meta, LazyColumns(core, n), LazyColumns(extra, n))
