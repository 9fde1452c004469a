"""The Parquet event store: any event source rewritten as plain Parquet, streamed.

Layout: a folder of Parquet files, either one per input file (``00000_<stem>.parquet``, so
the sorted order is the input order and each file's event indices are the original ones) or
fixed-size parts across inputs (``part-00000.parquet``). Columns keep their native dtypes
(uint16 X/Y, uint32 t, ...). Every file carries the key-value metadata ``bigmax.mpes``
(JSON): the source files, the format and instrument, column units, the event count and, for
one-file-per-input stores, the source ``file_index``. Memory stays at about one chunk
(``row_group`` events) whatever the source size. Files are written under a temporary name and
renamed when complete, so a crash never leaves a half-written part that looks whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bigmax.techniques.mpes.events import EventSource, open_events
from bigmax.techniques.mpes.readers.tabular import STORE_META_KEY

__all__ = ["convert_to_parquet", "DEFAULT_ROW_GROUP"]

#: Events per row group (1 Mi: 4-12 MB per group for raw columns).
DEFAULT_ROW_GROUP = 2**20
STORE_VERSION = 1


def _meta(source: EventSource, files: list[str], n: int, extra: dict[str, Any]) -> bytes:
    labels = sorted({f.label for f in source.files})
    info = {
        "store_version": STORE_VERSION,
        "source_files": files,
        "source_format": ", ".join(source.formats),
        "instrument": ", ".join(labels),
        "units": source.units,
        "n_events": int(n),
        **extra,
    }
    return json.dumps(info, default=str).encode()


def convert_to_parquet(
    source: EventSource | str | os.PathLike | Sequence[str | os.PathLike],
    out_dir: str | os.PathLike,
    row_group: int = DEFAULT_ROW_GROUP,
    part_events: int | None = None,
    columns: Sequence[str] | None = None,
    compression: str = "none",
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write ``source`` as a Parquet event store in ``out_dir``; returns the files written.

    Parameters
    ----------
    source : EventSource or path(s)
        Anything ``open_events`` accepts.
    row_group : int, default=2**20
        Events per row group: the read chunk of the store.
    part_events : int, optional
        Fixed events per output file across inputs; by default one file per input file.
    columns : list of str, optional
        Columns to keep (all by default).
    compression : str, default="none"
        Parquet codec ("none", "snappy", "zstd", "lz4"); uncompressed reads fastest from a
        local disk, zstd halves the size of raw detector columns.
    overwrite : bool, default=False
        Replace existing store files of the same names.
    progress : callable, optional
        Called with the number of events written after each row group.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if int(row_group) < 1:
        raise ValueError(f"row_group must be >= 1, got {row_group!r}")
    if part_events is not None and int(part_events) < 1:
        raise ValueError(f"part_events must be >= 1, got {part_events!r}")
    src = source if isinstance(source, EventSource) else open_events(source)
    names = src.check_columns(columns)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    schema_fields = [pa.field(c, pa.from_numpy_dtype(src.columns[c])) for c in names]
    codec = None if compression in (None, "none") else compression
    written: list[Path] = []

    class _Part:
        def __init__(self, name: str, files: list[str], extra: dict[str, Any]) -> None:
            self.path = out / name
            if self.path.exists() and not overwrite:
                raise FileExistsError(f"{self.path} exists (use overwrite=True / --overwrite)")
            self.tmp = out / f".{name}.tmp"
            self.files, self.extra, self.n = files, extra, 0
            schema = pa.schema(schema_fields)
            self.writer = pq.ParquetWriter(self.tmp, schema, compression=codec)

        def write(self, data: dict[str, np.ndarray]) -> None:
            n = len(data[names[0]])
            if n:
                table = pa.table({c: data[c] for c in names})
                self.writer.write_table(table, row_group_size=int(row_group))
                self.n += n
                if progress is not None:
                    progress(n)

        def finish(self) -> None:
            self.writer.add_key_value_metadata(
                {STORE_META_KEY: _meta(src, self.files, self.n, self.extra)}
            )
            self.writer.close()
            os.replace(self.tmp, self.path)
            written.append(self.path)

        def abort(self) -> None:
            try:
                self.writer.close()
            finally:
                self.tmp.unlink(missing_ok=True)

    part: _Part | None = None
    try:
        if part_events is None:
            for idx, f in zip(src.file_indices, src.files, strict=True):
                part = _Part(
                    f"{idx:05d}_{f.path.stem}.parquet",
                    [str(f.path.resolve())],
                    {"file_index": idx, "source_format": f.format, "instrument": f.label},
                )
                if "acquisition_time_s" in f.metadata:
                    part.extra["acquisition_time_s"] = f.metadata["acquisition_time_s"]
                for a, b in f.chunk_bounds(int(row_group)):
                    data = f.read(a, b, names)
                    part.write({c: data[c].astype(src.columns[c], copy=False) for c in names})
                f.close()
                part.finish()
                part = None
        else:
            limit = int(part_events)
            k = 0
            seen: list[str] = []
            for chunk in src.iter_chunks(names, chunk_events=int(row_group)):
                path = str(src.files[src.file_indices.index(chunk.file_index)].path.resolve())
                pos, n = 0, len(chunk)
                while pos < n:
                    if part is None:
                        part = _Part(f"part-{k:05d}.parquet", [], {"part": k})
                        k += 1
                    if path not in part.files:
                        part.files.append(path)
                    take = min(n - pos, limit - part.n)
                    part.write({c: chunk.data[c][pos : pos + take] for c in names})
                    pos += take
                    if part.n >= limit:
                        part.finish()
                        part = None
                if path not in seen:
                    seen.append(path)
            if part is not None:
                part.finish()
                part = None
    finally:
        if part is not None:
            part.abort()
    return written
