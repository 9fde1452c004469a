"""APT file formats: one module per format, ``read_ions`` to pick the right one.

``read_ions(path)`` chooses by magic bytes first (``APT\\0`` for AP Suite, the ATO version word,
HDF5), then by suffix. Every reader maps the file and converts columns on first access, so
``read_ions(path).mq`` of a 10^8-ion .epos reads one column, not 4.4 GB.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

from bigmax.techniques.apt.formats.apt6 import read_apt, read_sections
from bigmax.techniques.apt.formats.ato import read_ato
from bigmax.techniques.apt.formats.epos import EXTRA as EPOS_EXTRA
from bigmax.techniques.apt.formats.epos import append_epos, read_epos, write_epos
from bigmax.techniques.apt.formats.nxapm import read_nxapm, write_nxapm
from bigmax.techniques.apt.formats.pos import append_pos, read_pos, write_pos
from bigmax.techniques.apt.formats.raw import read_raw
from bigmax.techniques.apt.ions import APTFormatError, IonData

__all__ = [
    "FORMATS",
    "detect_format",
    "iter_chunks",
    "read_apt",
    "read_ato",
    "read_epos",
    "read_ions",
    "read_nxapm",
    "read_pos",
    "read_raw",
    "read_sections",
    "write_epos",
    "write_ions",
    "write_nxapm",
    "write_pos",
]

FORMATS = {
    "pos": read_pos,
    "epos": read_epos,
    "apt": read_apt,
    "ato": read_ato,
    "raw": read_raw,
    "nxapm": read_nxapm,
}
SUFFIXES = {
    ".pos": "pos",
    ".epos": "epos",
    ".apt": "apt",
    ".ato": "ato",
    ".raw": "raw",
    ".nxs": "nxapm",
    ".h5": "nxapm",
    ".hdf5": "nxapm",
}


def detect_format(path: str | os.PathLike) -> str:
    """The format name of ``path``: magic bytes where the format has them, else the suffix."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            head = fh.read(8)
    except OSError as err:
        raise APTFormatError(path, 0, f"cannot read file: {err.strerror}") from None
    if head[:4] == b"APT\x00":
        return "apt"
    if head[:8] == b"\x89HDF\r\n\x1a\n":
        return "nxapm"
    suffix = p.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise APTFormatError(
        path, 0, f"unknown APT format (suffix {suffix!r}; known: {sorted(SUFFIXES)})"
    )


def read_ions(
    path: str | os.PathLike, columns: list[str] | None = None, format: str | None = None
) -> IonData:
    """Open any supported APT file as a lazy ``IonData``.

    ``columns`` limits the extra columns exposed (for .apt, the sections that are mapped).
    """
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {sorted(FORMATS)}")
    ions = read_apt(path, columns) if fmt == "apt" else FORMATS[fmt](path)
    if columns is not None and fmt != "apt":
        keep = [c for c in columns if c in ions.columns]
        missing = [c for c in columns if c not in ions.columns and c not in ("xyz", "mq")]
        if missing:
            raise KeyError(f"{path}: no column(s) {missing}; it has {sorted(ions.columns)}")
        ions._extra = type(ions._extra)(
            {k: ions._extra._loaders[k] for k in keep}, ions.n_ions
        )
    return ions


def iter_chunks(
    path: str | os.PathLike, chunk_ions: int = 1 << 22, columns: list[str] | None = None
) -> Iterator[IonData]:
    """Walk a file ``chunk_ions`` ions at a time; each chunk reads only what is asked of it."""
    if chunk_ions <= 0:
        raise ValueError(f"chunk_ions must be positive, got {chunk_ions}")
    ions = read_ions(path, columns)
    for start in range(0, ions.n_ions, chunk_ions):
        yield ions.chunk(start, start + chunk_ions)


def write_ions(
    path: str | os.PathLike,
    ions: IonData,
    format: str | None = None,
    chunk: int = 1 << 22,
    progress: Callable[[int], None] | None = None,
    **kw,
) -> None:
    """Write ``ions`` as pos, epos or nxapm (by ``format`` or suffix), chunk by chunk.

    Lazy inputs stay lazy: only ``chunk`` ions are converted at a time, so converting a 10^8-ion
    file needs memory for one chunk, not for the whole file. ``kw`` goes to ``write_nxapm``
    (``ranges=``, ``compression=``).
    """
    fmt = format or SUFFIXES.get(Path(path).suffix.lower())
    if fmt not in ("pos", "epos", "nxapm"):
        raise ValueError(f"{path}: cannot write format {fmt!r}; use .pos, .epos or .nxs")
    if fmt == "nxapm":
        write_nxapm(path, ions, chunk=chunk, progress=progress, **kw)
        return
    known = {name for name, *_ in EPOS_EXTRA}
    with open(path, "wb") as fh:
        for start in range(0, ions.n_ions, chunk):
            c = ions.chunk(start, start + chunk)
            if fmt == "pos":
                append_pos(fh, c.xyz, c.mq)
            else:
                cols = {k: v for k, v in c.columns.items() if k in known}
                append_epos(fh, c.xyz, c.mq, cols)
            if progress is not None:
                progress(start + len(c))
