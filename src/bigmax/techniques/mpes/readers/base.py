"""What every MPES event-file reader offers, and the errors they raise.

A reader describes one file: its columns (name -> native numpy dtype), its event count and
how to read a slice ``[start, stop)`` of some columns. Opening a reader reads headers only
(dataset shapes, Parquet footers, the first CSV block); event data are read only by ``read``.
Readers are cheap to re-create, so a dask partition carries a path and a format name, never a
reader.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np


class MPESFormatError(ValueError):
    """A file cannot be read as MPES events; the message names the file and the dataset."""


class MPESColumnError(MPESFormatError):
    """Asked for a column the source does not have; the message lists the available ones."""


class MPESFileWarning(UserWarning):
    """A broken or empty file was skipped; the message names the file and why."""


class EventFileReader(ABC):
    """Base class: one event file, read lazily by event ranges and columns.

    Subclasses set ``format`` (a short name used in partitions and the CLI), fill
    ``columns``, ``n_events``, ``units`` and ``metadata`` in ``__init__`` from headers only,
    and implement ``_read(start, stop, names)``.
    """

    format: ClassVar[str] = ""
    #: A human name for reports ("FHI METIS HDF5").
    label: ClassVar[str] = ""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.columns: dict[str, np.dtype] = {}
        self.n_events: int = 0
        self.units: dict[str, str] = {}
        self.metadata: dict[str, Any] = {}

    # -- reading ------------------------------------------------------------------------
    def check_columns(self, columns: Sequence[str] | None) -> list[str]:
        """The asked columns in the asked order (all when None); unknown ones raise."""
        if columns is None:
            return list(self.columns)
        names = list(columns)
        missing = [c for c in names if c not in self.columns]
        if missing:
            raise MPESColumnError(
                f"{self.path}: no column {', '.join(map(repr, missing))}; "
                f"available columns: {', '.join(self.columns)}"
            )
        return names

    def read(
        self, start: int, stop: int, columns: Sequence[str] | None = None
    ) -> dict[str, np.ndarray]:
        """Events ``[start, stop)`` of the asked columns, each in its native dtype."""
        names = self.check_columns(columns)
        start = max(0, int(start))
        stop = min(self.n_events, int(stop))
        if stop <= start:
            return {c: np.empty(0, dtype=self.columns[c]) for c in names}
        try:
            data = self._read(start, stop, names)
        except MPESFormatError:
            raise
        except (
            OSError, KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError
        ) as err:
            raise MPESFormatError(f"{self.path}: cannot read events {start}:{stop}: {err}") from err
        for c in names:
            arr = data[c]
            if len(arr) != stop - start:
                raise MPESFormatError(
                    f"{self.path}: column {c!r} gave {len(arr)} events, wanted {stop - start}"
                )
        return {c: data[c] for c in names}

    @abstractmethod
    def _read(self, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
        """Columns ``names`` of events [start, stop), as the file stores them."""

    def chunk_bounds(self, chunk_events: int) -> list[tuple[int, int]]:
        """Event ranges of at most about ``chunk_events`` that cover the file once, in order.

        Formats with natural blocks (Parquet row groups) align the ranges to them.
        """
        step = max(1, int(chunk_events))
        return [(a, min(a + step, self.n_events)) for a in range(0, self.n_events, step)]

    def close(self) -> None:  # noqa: B027 (a no-op unless the reader holds handles)
        """Release open handles (readers reopen on the next read)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r}, n_events={self.n_events})"


def aligned_bounds(block_ends: Sequence[int], chunk_events: int) -> list[tuple[int, int]]:
    """Group consecutive blocks (given by their cumulative ends) into ranges of ~chunk_events."""
    out: list[tuple[int, int]] = []
    start = 0
    for end in block_ends:
        if end - start >= chunk_events:
            out.append((start, int(end)))
            start = int(end)
    if block_ends and start < block_ends[-1]:
        out.append((start, int(block_ends[-1])))
    return out
