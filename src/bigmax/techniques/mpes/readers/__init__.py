"""Event-file readers and the one table that picks a reader for a file.

Detection goes by magic bytes (HDF5, Parquet), then for HDF5 by the layout inside (METIS
``Stream_0``, FLASH ``FLASH.EXP/HEXTOF.DAQ/DLD1``, EuXFEL ``INDEX/trainId`` + ``INSTRUMENT``,
CFEL ``DLD/DLD/times``, otherwise generic), then by extension (``.csv``, ``.parquet``).
Reader modules are imported only when used.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from bigmax.techniques.mpes.readers.base import (
    EventFileReader,
    MPESColumnError,
    MPESFileWarning,
    MPESFormatError,
)

__all__ = [
    "EventFileReader",
    "FORMATS",
    "MPESColumnError",
    "MPESFileWarning",
    "MPESFormatError",
    "detect_format",
    "open_file",
    "EVENT_SUFFIXES",
]

#: format name -> "module:Class" (module relative to this package).
FORMATS: dict[str, str] = {
    "metis": "hdf5:MetisReader",
    "flash": "fel:FlashReader",
    "sxp": "fel:SXPReader",
    "cfel": "fel:CFELReader",
    "hdf5": "hdf5:GenericHDF5Reader",
    "parquet": "tabular:ParquetReader",
    "csv": "tabular:CSVReader",
}

#: What h5py and pyarrow raise on damaged headers (besides their own OSError subclasses).
_HEADER_ERRORS = (
    OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError
)
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
PARQUET_MAGIC = b"PAR1"
#: Suffixes a folder is scanned for.
EVENT_SUFFIXES = (".h5", ".hdf5", ".hdf", ".parquet", ".pq", ".csv")


def _reader_class(fmt: str) -> type[EventFileReader]:
    try:
        target = FORMATS[fmt]
    except KeyError:
        raise MPESFormatError(
            f"unknown event format {fmt!r}; known formats: {', '.join(FORMATS)}"
        ) from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def _hdf5_layout(path: Path) -> str:
    import h5py

    try:
        with h5py.File(path, "r") as h5:
            if "Stream_0" in h5:
                return "metis"
            if "uncategorised/FLASH.EXP/HEXTOF.DAQ/DLD1" in h5 or "FL1" in h5:
                return "flash"
            if "INDEX/trainId" in h5 and "INSTRUMENT" in h5:
                return "sxp"
            if "DLD/DLD/times" in h5:
                return "cfel"
    except (OSError, ValueError, RuntimeError, KeyError) as err:
        raise MPESFormatError(f"{path}: not a readable HDF5 file ({err})") from err
    return "hdf5"


def detect_format(path: str | Path) -> str:
    """The format name of ``path`` (a key of ``FORMATS``); unknown files raise MPESFormatError."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as err:
        raise MPESFormatError(f"{path}: cannot open ({err.strerror or err})") from err
    if not head:
        raise MPESFormatError(f"{path}: empty file")
    if head.startswith(HDF5_MAGIC):
        return _hdf5_layout(path)
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in (".h5", ".hdf5", ".hdf", ".nxs"):
        raise MPESFormatError(f"{path}: no HDF5 signature (file corrupt or truncated)")
    if suffix in (".parquet", ".pq"):
        raise MPESFormatError(f"{path}: no Parquet signature (file corrupt or truncated)")
    if suffix in (".csv", ".txt", ".tsv"):
        return "csv"
    raise MPESFormatError(
        f"{path}: unknown event-file format (expected HDF5, Parquet or CSV; "
        f"suffixes {', '.join(EVENT_SUFFIXES)})"
    )


def open_file(path: str | Path, format: str | None = None) -> EventFileReader:
    """A reader for one event file; reads headers only. Bad files raise MPESFormatError."""
    fmt = format or detect_format(path)
    cls = _reader_class(fmt)
    try:
        return cls(path)
    except MPESFormatError:
        raise
    except _HEADER_ERRORS as err:
        # h5py and pyarrow report damaged headers with many exception types
        raise MPESFormatError(f"{path}: not a readable {cls.label} file ({err})") from err
