"""ePOS: headerless 44-byte big-endian records (9 float32 + 2 uint32, Larson 2013 Table A.4)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import BinaryIO

import numpy as np

from bigmax.techniques.apt.formats._common import be_columns, record_memmap
from bigmax.techniques.apt.formats.pos import xyz_mq_loaders
from bigmax.techniques.apt.ions import IonData, LazyColumns

RECORD = 44
#: the per-ion columns after x, y, z, m/q: (name, word index, dtype, unit)
EXTRA = (
    ("tof", 4, "<f4", "ns"),
    ("v_dc", 5, "<f4", "kV"),
    ("v_pulse", 6, "<f4", "kV"),
    ("det_x", 7, "<f4", "mm"),
    ("det_y", 8, "<f4", "mm"),
    ("delta_pulse", 9, "<u4", ""),
    ("multiplicity", 10, "<u4", ""),
)


def _col(words: np.ndarray, c: int, dtype: str):
    return lambda sl: be_columns(words[sl], c, 1, dtype).reshape(-1)


def read_epos(path: str | os.PathLike) -> IonData:
    """Map a .epos file; each column is swapped to native only when it is asked for."""
    words, n = record_memmap(path, 0, RECORD)
    core = LazyColumns(xyz_mq_loaders(words, path), n)
    extra = LazyColumns({name: _col(words, c, dt) for name, c, dt, _ in EXTRA}, n)
    units = {name: unit for name, _, _, unit in EXTRA if unit}
    return IonData(n, str(path), "epos", {"units": units}, core, extra)


def write_epos(
    path: str | os.PathLike,
    xyz: np.ndarray,
    mq: np.ndarray,
    columns: Mapping[str, np.ndarray] | None = None,
    chunk: int = 1 << 21,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write ions as .epos; columns missing from ``columns`` are written as 0."""
    xyz = np.asarray(xyz)
    mq = np.asarray(mq)
    n = len(xyz)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or mq.shape != (n,):
        raise ValueError(f"write_epos: need xyz (n, 3) and mq (n,), got {xyz.shape}, {mq.shape}")
    columns = dict(columns or {})
    known = {name for name, *_ in EXTRA}
    for name, col in columns.items():
        if name not in known:
            raise ValueError(f"write_epos: column {name!r} is not an ePOS field ({sorted(known)})")
        if len(col) != n:
            raise ValueError(f"write_epos: column {name!r} has {len(col)} rows, expected {n}")
    with open(path, "wb") as fh:
        for start in range(0, n, chunk):
            stop = min(start + chunk, n)
            cols = {k: v[start:stop] for k, v in columns.items()}
            append_epos(fh, xyz[start:stop], mq[start:stop], cols)
            if progress is not None:
                progress(stop)


RECORD_DTYPE = np.dtype(
    [("x", ">f4"), ("y", ">f4"), ("z", ">f4"), ("mq", ">f4")]
    + [(name, ">" + dt[1:]) for name, _, dt, _ in EXTRA]
)


def append_epos(
    fh: BinaryIO, xyz: np.ndarray, mq: np.ndarray, columns: Mapping[str, np.ndarray]
) -> None:
    """Append one chunk of ions to an open .epos file (absent columns are 0)."""
    b = np.zeros(len(xyz), dtype=RECORD_DTYPE)
    b["x"], b["y"], b["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    b["mq"] = mq
    for name, col in columns.items():
        if name in RECORD_DTYPE.names:
            b[name] = col
    b.tofile(fh)
