"""Parquet and CSV event tables (one row per event), read with pyarrow.

Parquet: row groups are the natural chunks, and only the asked columns are decoded. Store
metadata written by :func:`bigmax.techniques.mpes.store.convert_to_parquet` (key
``bigmax.mpes``: source files, units, instrument) is read back into ``units`` and ``metadata``.

CSV: a header line with the column names, then one event per line (numbers only; empty
lines are skipped). The event count takes one streamed pass on first use. Column types are
inferred from the first block and then fixed. CSV has no index, so a read of events
``[a, b)`` parses and skips the first ``a`` rows; convert large CSV files to Parquet once
(``bigmax mpes convert``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from bigmax.techniques.mpes.readers.base import EventFileReader, MPESFormatError, aligned_bounds

#: Parquet key-value metadata key of the BigMax event store.
STORE_META_KEY = b"bigmax.mpes"


def _arrow_to_numpy(col) -> np.ndarray:
    import pyarrow as pa

    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return col.to_numpy(zero_copy_only=False)


def _numpy_dtype(arrow_type, path: Path, name: str) -> np.dtype:
    try:
        dtype = np.dtype(arrow_type.to_pandas_dtype())
    except (NotImplementedError, TypeError) as err:
        raise MPESFormatError(f"{path}: column {name!r} has unsupported type {arrow_type}") from err
    if dtype.kind not in "iufbM":
        raise MPESFormatError(f"{path}: column {name!r} is not numeric ({arrow_type})")
    return dtype


class ParquetReader(EventFileReader):
    """A Parquet event table; row groups are the chunks."""

    format = "parquet"
    label = "Parquet"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._pf = pq.ParquetFile(self.path, pre_buffer=False)  # no retained buffers
        except (OSError, pa.ArrowException) as err:
            raise MPESFormatError(f"{self.path}: not a readable Parquet file ({err})") from err
        meta = self._pf.metadata
        schema = self._pf.schema_arrow
        self.columns = {f.name: _numpy_dtype(f.type, self.path, f.name) for f in schema}
        self.n_events = int(meta.num_rows)
        ends = np.cumsum([meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
        self._group_ends = [int(e) for e in ends]
        kv = dict(schema.metadata or {})
        kv.update(meta.metadata or {})
        if STORE_META_KEY in kv:
            try:
                info = json.loads(kv[STORE_META_KEY])
            except ValueError:
                info = {}
            self.units = dict(info.get("units", {}))
            self.metadata = dict(info)
        self.metadata.setdefault("row_groups", meta.num_row_groups)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_pf"] = None
        return state

    def __setstate__(self, state):
        import pyarrow.parquet as pq

        self.__dict__.update(state)
        self._pf = pq.ParquetFile(self.path, pre_buffer=False)  # no retained buffers

    def chunk_bounds(self, chunk_events: int) -> list[tuple[int, int]]:
        return aligned_bounds(self._group_ends, max(1, int(chunk_events)))

    def _read(self, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
        import pyarrow as pa

        ends = self._group_ends
        first = int(np.searchsorted(ends, start, side="right"))
        last = int(np.searchsorted(ends, stop - 1, side="right"))
        base = ends[first - 1] if first > 0 else 0
        try:
            table = self._pf.read_row_groups(list(range(first, last + 1)), columns=names)
        except (OSError, pa.ArrowException) as err:
            raise MPESFormatError(
                f"{self.path}: row groups {first}..{last} unreadable: {err}"
            ) from err
        table = table.slice(start - base, stop - start)
        return {c: _arrow_to_numpy(table.column(c)) for c in names}


class CSVReader(EventFileReader):
    """A CSV event table with a header line."""

    format = "csv"
    label = "CSV"

    def __init__(self, path: str | Path) -> None:
        super().__init__(path)
        import pyarrow as pa
        import pyarrow.csv as pcsv

        try:
            reader = pcsv.open_csv(self.path)
            schema = reader.schema
            reader.close()
        except (OSError, pa.ArrowException) as err:
            raise MPESFormatError(f"{self.path}: not a readable CSV table ({err})") from err
        self._schema = schema
        self.columns = {f.name: _numpy_dtype(f.type, self.path, f.name) for f in schema}
        self._n: int | None = None

    @property
    def n_events(self) -> int:  # type: ignore[override]
        """Counted on first use: one streamed pass that converts a single column."""
        if self._n is None:
            import pyarrow as pa
            import pyarrow.csv as pcsv

            first = self._schema[0]
            convert = pcsv.ConvertOptions(
                column_types={first.name: first.type}, include_columns=[first.name]
            )
            n = 0
            try:
                with pcsv.open_csv(self.path, convert_options=convert) as rd:
                    for batch in rd:
                        n += batch.num_rows
            except (OSError, pa.ArrowException) as err:
                raise MPESFormatError(f"{self.path}: not a readable CSV table ({err})") from err
            self._n = n
        return self._n

    @n_events.setter
    def n_events(self, value: int) -> None:
        self._n = None if value == 0 else value

    def _read(self, start: int, stop: int, names: list[str]) -> dict[str, np.ndarray]:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        convert = pcsv.ConvertOptions(
            column_types={f.name: f.type for f in self._schema}, include_columns=names
        )
        read = pcsv.ReadOptions(skip_rows_after_names=start)
        parts: dict[str, list[np.ndarray]] = {c: [] for c in names}
        want = stop - start
        got = 0
        try:
            with pcsv.open_csv(self.path, read_options=read, convert_options=convert) as rd:
                for batch in rd:
                    take = min(batch.num_rows, want - got)
                    for c in names:
                        parts[c].append(_arrow_to_numpy(batch.column(c).slice(0, take)))
                    got += take
                    if got >= want:
                        break
        except (OSError, pa.ArrowException) as err:
            raise MPESFormatError(f"{self.path}: rows {start}:{stop} unreadable: {err}") from err
        return {
            c: np.concatenate(p) if p else np.empty(0, self.columns[c]) for c, p in parts.items()
        }
