"""Event sources: many event files read as one lazy, chunked, column-projected table.

``open_events(paths)`` opens headers only. Data flow as ``Chunk``s (a dict of native-dtype
numpy arrays plus the file index and the in-file index of the first event, so a counter-based
RNG can key its noise on (file, event)), or as picklable ``Partition`` descriptors that a
dask worker reads with ``read_partition``.

Files that cannot be read, or hold no events, are skipped with an ``MPESFileWarning`` when
other files remain; when nothing readable remains, ``MPESFormatError`` names the file(s).
"""

from __future__ import annotations

import glob as _glob
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bigmax.techniques.mpes.readers import EVENT_SUFFIXES, open_file
from bigmax.techniques.mpes.readers.base import (
    EventFileReader,
    MPESColumnError,
    MPESFileWarning,
    MPESFormatError,
)

__all__ = [
    "Chunk",
    "EventSource",
    "MPESColumnError",
    "MPESFileWarning",
    "MPESFormatError",
    "Partition",
    "expand_paths",
    "open_events",
    "read_partition",
]

#: Default events per chunk (4 Mi: 16-50 MB for 4-12 bytes per event).
DEFAULT_CHUNK_EVENTS = 2**22
#: Formats whose chunks several threads may read at once (each through its own reader).
_SHAREABLE = frozenset({"parquet", "metis", "hdf5", "csv"})


@dataclass
class Chunk:
    """Consecutive events of one file: ``data[column]`` arrays of equal length.

    ``event_offset`` is the index, within file ``file_index``, of the first event.
    """

    data: dict[str, np.ndarray]
    file_index: int
    event_offset: int

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0

    @property
    def n_events(self) -> int:
        return len(self)

    def __getitem__(self, column: str) -> np.ndarray:
        return self.data[column]


@dataclass(frozen=True)
class Partition:
    """A picklable pointer to events ``[start, stop)`` of one file (for dask tasks)."""

    path: str
    format: str
    file_index: int
    start: int
    stop: int
    #: Column dtypes of the whole source, so every partition gives the same dtypes.
    dtypes: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    @property
    def n_events(self) -> int:
        return self.stop - self.start


def expand_paths(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> list[Path]:
    """Files named by a path, a folder (its event files, sorted), a glob, or a list of those."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        p = Path(text)
        if p.is_dir():
            found = sorted(
                q for q in p.iterdir() if q.is_file() and q.suffix.lower() in EVENT_SUFFIXES
            )
            if not found:
                raise MPESFormatError(
                    f"{p}: folder holds no event files ({', '.join(EVENT_SUFFIXES)})"
                )
            out.extend(found)
        elif any(ch in text for ch in "*?[") and not p.exists():
            found = sorted(Path(m) for m in _glob.glob(text) if Path(m).is_file())
            if not found:
                raise MPESFormatError(f"{text}: no file matches this pattern")
            out.extend(found)
        else:
            out.append(p)
    if not out:
        raise MPESFormatError("no event files given")
    return out


# One small reader cache per thread, so repeated partition reads do not re-parse headers.
_local = threading.local()
_CACHE_SIZE = 8


def _cached_reader(path: str, fmt: str) -> EventFileReader:
    cache: OrderedDict = getattr(_local, "readers", None)
    if cache is None:
        cache = _local.readers = OrderedDict()
    try:
        stat = os.stat(path)
    except OSError as err:
        raise MPESFormatError(f"{path}: cannot open ({err.strerror or err})") from err
    key = (path, fmt, stat.st_mtime_ns, stat.st_size)
    reader = cache.get(key)
    if reader is None:
        reader = open_file(path, fmt)
        cache[key] = reader
        while len(cache) > _CACHE_SIZE:
            _, old = cache.popitem(last=False)
            old.close()
    else:
        cache.move_to_end(key)
    return reader


def _cast(data: dict[str, np.ndarray], dtypes: dict[str, np.dtype]) -> dict[str, np.ndarray]:
    for c, arr in data.items():
        want = dtypes.get(c)
        if want is not None and arr.dtype != want:
            data[c] = arr.astype(want)
    return data


def read_partition(desc: Partition, columns: Sequence[str] | None = None) -> Chunk:
    """The events of one partition as a Chunk (usable on any worker: opens the file itself)."""
    reader = _cached_reader(desc.path, desc.format)
    data = reader.read(desc.start, desc.stop, columns)
    if desc.dtypes:
        data = _cast(data, {c: np.dtype(d) for c, d in desc.dtypes})
    return Chunk(data=data, file_index=desc.file_index, event_offset=desc.start)


class EventSource:
    """One or more event files as one table; nothing but headers is read until asked.

    Attributes
    ----------
    files : list of EventFileReader
        The readable, non-empty files, in input order.
    file_indices : list of int
        Each file's position in the input list (skipped files leave gaps), used as the
        ``file_index`` of its chunks.
    columns : dict of str to numpy.dtype
        Columns present in every file, in the first file's order; the native dtype (promoted
        when files disagree, e.g. uint16 and uint32 -> uint32).
    """

    def __init__(
        self,
        paths: str | os.PathLike | Sequence[str | os.PathLike],
        format: str | None = None,
    ) -> None:
        self.paths = expand_paths(paths)
        self.format = format
        self.files: list[EventFileReader] = []
        self.file_indices: list[int] = []
        problems: list[str] = []
        for i, p in enumerate(self.paths):
            try:
                reader = open_file(p, format)
                if reader.n_events == 0:
                    raise MPESFormatError(f"{p}: holds no events")
                reader.close()  # no handle stays open per file until data is asked for
            except MPESFormatError as err:
                problems.append(str(err))
                if len(self.paths) > 1:
                    warnings.warn(f"skipped {err}", MPESFileWarning, stacklevel=3)
                continue
            self.files.append(reader)
            self.file_indices.append(i)
        if not self.files:
            raise MPESFormatError("; ".join(problems) if problems else "no event files given")
        first = self.files[0].columns
        common = [c for c in first if all(c in f.columns for f in self.files[1:])]
        if not common:
            raise MPESFormatError(
                "the files share no column: "
                + "; ".join(f"{f.path}: {', '.join(f.columns)}" for f in self.files)
            )
        self.columns: dict[str, np.dtype] = {}
        for c in common:
            dt = first[c]
            for f in self.files[1:]:
                dt = np.promote_types(dt, f.columns[c])
            self.columns[c] = np.dtype(dt)

    # -- description ------------------------------------------------------------------------
    @property
    def n_events(self) -> int:
        return int(sum(f.n_events for f in self.files))

    @property
    def units(self) -> dict[str, str]:
        """Column units as the files declare them (first file wins)."""
        out: dict[str, str] = {}
        for f in reversed(self.files):
            out.update(f.units)
        return {c: u for c, u in out.items() if c in self.columns}

    @property
    def formats(self) -> list[str]:
        return sorted({f.format for f in self.files})

    @property
    def metadata(self) -> dict[str, Any]:
        """Per-file header metadata, keyed by file path."""
        return {str(f.path): f.metadata for f in self.files}

    def check_columns(self, columns: Sequence[str] | None) -> list[str]:
        """The asked columns (all when None); unknown names raise MPESColumnError."""
        if columns is None:
            return list(self.columns)
        if isinstance(columns, str):
            columns = [columns]
        names = list(columns)
        missing = [c for c in names if c not in self.columns]
        if missing:
            where = str(self.files[0].path) if len(self.files) == 1 else f"{len(self.files)} files"
            raise MPESColumnError(
                f"{where}: no column {', '.join(map(repr, missing))}; "
                f"available columns: {', '.join(self.columns)}"
            )
        return names

    # -- reading ------------------------------------------------------------------------------
    def partitions(self, chunk_events: int = DEFAULT_CHUNK_EVENTS) -> list[Partition]:
        """Picklable descriptors covering every event exactly once, file by file."""
        if int(chunk_events) < 1:
            raise ValueError(f"chunk_events must be >= 1, got {chunk_events!r}")
        dtypes = tuple((c, d.str) for c, d in self.columns.items())
        out = []
        for idx, f in zip(self.file_indices, self.files, strict=True):
            for a, b in f.chunk_bounds(int(chunk_events)):
                out.append(Partition(str(f.path), f.format, idx, a, b, dtypes))
        return out

    def read_partition(self, desc: Partition, columns: Sequence[str] | None = None) -> Chunk:
        """The events of ``desc`` (see the module-level ``read_partition``)."""
        return read_partition(desc, self.check_columns(columns))

    def iter_chunks(
        self,
        columns: Sequence[str] | None = None,
        chunk_events: int = DEFAULT_CHUNK_EVENTS,
        prefetch: bool | int = True,
    ) -> Iterator[Chunk]:
        """Chunks of about ``chunk_events`` events, in file and event order, each read once.

        ``prefetch`` is the read-ahead depth (True = 1, False = 0). With depth 1 one background
        thread reads the next chunk while the caller works on the current one (h5py, pyarrow
        and numba release the GIL), so decoding overlaps binning. With depth >= 2, Parquet,
        HDF5 and CSV chunks are read by that many threads at once, each with its own file
        handles (what a pure read or conversion wants on a multi-core box). Memory holds at
        most depth + 1 chunks.
        """
        names = self.check_columns(columns)
        if int(chunk_events) < 1:
            raise ValueError(f"chunk_events must be >= 1, got {chunk_events!r}")
        depth = 1 if prefetch is True else max(0, int(prefetch))
        if depth >= 2 and all(f.format in _SHAREABLE for f in self.files):
            yield from self._parallel_chunks(names, int(chunk_events), depth)
            return
        tasks = [
            (k, a, b)
            for k, f in enumerate(self.files)
            for a, b in f.chunk_bounds(int(chunk_events))
        ]
        last = {k: i for i, (k, _, _) in enumerate(tasks)}

        def load(i: int) -> Chunk:
            k, a, b = tasks[i]
            data = _cast(self.files[k].read(a, b, names), self.columns)
            return Chunk(data=data, file_index=self.file_indices[k], event_offset=a)

        if depth == 0 or len(tasks) < 2:
            for i, (k, _, _) in enumerate(tasks):
                try:
                    yield load(i)
                finally:
                    if last[k] == i:
                        self.files[k].close()  # drop handles and any converted table
            return
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mpes-read")
        pending = pool.submit(load, 0)
        try:
            for i, (k, _, _) in enumerate(tasks):
                chunk = pending.result()
                pending = pool.submit(load, i + 1) if i + 1 < len(tasks) else None
                yield chunk
                if last[k] == i:
                    self.files[k].close()
        finally:
            if pending is not None:
                pending.cancel()
            pool.shutdown(wait=True)

    def _parallel_chunks(self, names: list[str], chunk_events: int, depth: int):
        """Chunks in order, read by ``depth`` threads through per-thread readers."""
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        parts = self.partitions(chunk_events)

        def load(i: int) -> Chunk:
            chunk = read_partition(parts[i], names)
            chunk.data = _cast(chunk.data, self.columns)
            return chunk

        pool = ThreadPoolExecutor(max_workers=depth, thread_name_prefix="mpes-read")
        queue = deque(pool.submit(load, i) for i in range(min(depth, len(parts))))
        nxt = len(queue)
        try:
            while queue:
                chunk = queue.popleft().result()
                if nxt < len(parts):
                    queue.append(pool.submit(load, nxt))
                    nxt += 1
                yield chunk
        finally:
            for fut in queue:
                fut.cancel()
            pool.shutdown(wait=True)

    def read(self, columns: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Every event of the asked columns in memory (for small sources and tests)."""
        names = self.check_columns(columns)
        parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
        for chunk in self.iter_chunks(names):
            for c in names:
                parts[c].append(chunk.data[c])
        return {
            c: np.concatenate(p) if p else np.empty(0, self.columns[c]) for c, p in parts.items()
        }

    def close(self) -> None:
        for f in self.files:
            f.close()

    def __enter__(self) -> EventSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"EventSource({len(self.files)} file(s), {self.n_events} events, "
            f"columns={list(self.columns)})"
        )


def open_events(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike],
    columns: Sequence[str] | None = None,
    format: str | None = None,
) -> EventSource:
    """An EventSource over a file, a folder, a glob or a list of them.

    ``columns``, when given, is checked now (a missing column raises ``MPESColumnError``
    listing the available ones) and becomes the source's column set.
    """
    source = EventSource(path_or_paths, format=format)
    if columns is not None:
        names = source.check_columns(columns)
        source.columns = {c: source.columns[c] for c in names}
    return source
