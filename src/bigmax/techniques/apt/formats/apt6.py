"""AP Suite ``.apt`` (APT6): little-endian, a 540-byte file header then self-describing sections.

Only the section headers are read up front; a section's data is mapped when its column is asked
for, and the reader walks from section to section by ``header size + byte count`` (padding is
allowed, so count x size is never used to skip).
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bigmax.techniques.apt.formats._common import file_size
from bigmax.techniques.apt.ions import APTFormatError, IonData, LazyColumns

FILE_HEADER = struct.Struct("<4sii512sQQ")  # 540 bytes
SECTION_HEADER = struct.Struct("<4sii64siIIIii32sQQ")  # 148 bytes
RELATIONS = {0: "unknown", 1: "one per ion", 2: "sparse", 3: "unrelated", 4: "indexed list"}
KINDS = {1: "i", 2: "u", 3: "f"}
#: AP Suite section names -> our column names (the rest are lower-cased, spaces -> "_")
ALIASES = {
    "Position": "xyz",
    "Mass": "mq",
    "XDet_mm": "det_x",
    "YDet_mm": "det_y",
    "Multiplicity": "multiplicity",
    "Detector Coordinates": "detector_coordinates",
    "Voltage": "v_dc",
    "Pulse Voltage": "v_pulse",
    "pulseDelta": "delta_pulse",
}


@dataclass(frozen=True)
class Section:
    """One section header: where its data lies and how to read it."""

    name: str
    offset: int  # of the section header
    header_size: int
    version: int
    relation: int
    record_type: int
    data_type: int
    type_bits: int
    record_size: int
    unit: str
    record_count: int
    byte_count: int
    extra: bytes

    @property
    def data_offset(self) -> int:
        return self.offset + self.header_size

    @property
    def dtype(self) -> np.dtype | None:
        kind = KINDS.get(self.data_type)
        if kind is None or self.type_bits not in (8, 16, 32, 64):
            return None
        if kind == "f" and self.type_bits < 32:
            return None
        if self.record_size % (self.type_bits // 8):
            return None
        return np.dtype(f"<{kind}{self.type_bits // 8}")

    @property
    def width(self) -> int:
        dt_ = self.dtype
        return self.record_size // dt_.itemsize if dt_ is not None else self.record_size

    def describe(self) -> dict:
        return {
            "name": self.name,
            "relation": RELATIONS.get(self.relation, str(self.relation)),
            "dtype": str(self.dtype) if self.dtype is not None else f"bytes{self.record_size}",
            "width": self.width,
            "unit": self.unit,
            "records": self.record_count,
            "bytes": self.byte_count,
        }


def _wstr(raw: bytes) -> str:
    return raw.decode("utf-16-le", errors="replace").split("\x00", 1)[0]


def read_sections(path: str | os.PathLike) -> tuple[dict, list[Section]]:
    """The file header and every section header, without touching section data."""
    size = file_size(path)
    with open(path, "rb") as fh:
        head = fh.read(FILE_HEADER.size)
        if len(head) < FILE_HEADER.size:
            raise APTFormatError(path, len(head), "file ends inside the 540-byte APT header")
        sig, hsize, hver, fname, ctime, n_ions = FILE_HEADER.unpack(head)
        if sig != b"APT\x00":
            raise APTFormatError(path, 0, f"bad signature {sig!r}, expected b'APT\\x00'")
        if hsize < FILE_HEADER.size or hsize > size:
            raise APTFormatError(path, 4, f"header size {hsize} is impossible")
        created = None
        if 0 < ctime < 2**62:
            created = (
                dt.datetime(1601, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=ctime // 10)
            ).isoformat()
        header = {
            "header_version": hver,
            "original_file": _wstr(fname),
            "created": created,
            "ion_count": n_ions,
        }
        sections = []
        pos = hsize
        while pos < size:
            fh.seek(pos)
            raw = fh.read(SECTION_HEADER.size)
            if len(raw) < SECTION_HEADER.size:
                raise APTFormatError(path, pos, "file ends inside a 148-byte section header")
            (ssig, shsize, shver, name, sver, rel, rtype, dtype, bits, rsize, unit, count,
             nbytes) = SECTION_HEADER.unpack(raw)  # fmt: skip
            if ssig != b"SEC\x00":
                raise APTFormatError(path, pos, f"bad section signature {ssig!r}, expected SEC")
            if shsize < SECTION_HEADER.size:
                raise APTFormatError(path, pos + 4, f"section header size {shsize} < 148")
            end = pos + shsize + nbytes
            if end > size:
                raise APTFormatError(
                    path, size, f"section {_wstr(name)!r} needs bytes up to {end}; truncated file"
                )
            if rsize <= 0 or count * rsize > nbytes:
                raise APTFormatError(
                    path, pos + 84, f"section {_wstr(name)!r}: {count} records of {rsize} bytes "
                    f"do not fit in {nbytes} bytes"
                )
            fh.seek(pos + SECTION_HEADER.size)
            extra = fh.read(shsize - SECTION_HEADER.size)
            sections.append(
                Section(_wstr(name), pos, shsize, sver, rel, rtype, dtype, bits, rsize,
                        _wstr(unit), count, nbytes, extra)  # fmt: skip
            )
            pos = end
    return header, sections


def section_array(path: str | os.PathLike, sec: Section) -> np.ndarray:
    """A section's records as a read-only memmap: (n,) or (n, width) of its dtype, or bytes."""
    dtype = sec.dtype if sec.dtype is not None else np.dtype("u1")
    shape = (sec.record_count, sec.width) if sec.width > 1 else (sec.record_count,)
    if sec.record_count == 0:
        return np.zeros(shape, dtype=dtype)
    return np.memmap(Path(path), dtype=dtype, mode="r", offset=sec.data_offset, shape=shape)


def column_name(section: str) -> str:
    return ALIASES.get(section, section.strip().lower().replace(" ", "_"))


def read_apt(path: str | os.PathLike, columns: list[str] | None = None) -> IonData:
    """Map an AP Suite .apt file; per-ion sections become lazy columns, the others metadata.

    ``columns`` (our names or section names) limits the sections that are exposed.
    """
    header, sections = read_sections(path)
    n = header["ion_count"]
    core: dict = {}
    extra: dict = {}
    meta = dict(header, sections=[s.describe() for s in sections], units={})
    for sec in sections:
        name = column_name(sec.name)
        if columns is not None and name not in columns and sec.name not in columns:
            continue
        if sec.relation != 1:
            continue  # sparse / unrelated sections stay reachable via section_array
        if sec.record_count != n:
            raise APTFormatError(
                path, sec.offset + 132,
                f"section {sec.name!r} has {sec.record_count} records for {n} ions",
            )  # fmt: skip
        if sec.name == "Position" and len(sec.extra) >= 24:
            meta["bounding_box"] = np.frombuffer(sec.extra[:24], "<f4").tolist()

        def load(sl, sec=sec):
            return section_array(path, sec)[sl]

        (core if name in ("xyz", "mq") else extra)[name] = load
        if sec.unit:
            meta["units"][name] = sec.unit
    if "xyz" in core and section_width(sections, "Position") != 3:
        raise APTFormatError(path, 0, "Position section is not 3 float32 per ion")
    return IonData(n, str(path), "apt", meta, LazyColumns(core, n), LazyColumns(extra, n))


def section_width(sections: list[Section], name: str) -> int | None:
    for s in sections:
        if s.name == name:
            return s.width
    return None
