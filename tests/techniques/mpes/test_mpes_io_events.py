"""Event sources: the real METIS sample, Parquet, chunking and partitions."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bigmax.techniques.mpes.events import (
    Chunk,
    MPESColumnError,
    MPESFormatError,
    open_events,
    read_partition,
)

LOADER = Path(__file__).resolve().parents[2] / "data" / "mpes" / "sed" / "tests" / "data" / "loader"
METIS = LOADER / "mpes" / "Scan0030_2.h5"


def test_metis_columns_dtypes_and_count():
    src = open_events(METIS)
    assert src.n_events == 297398
    assert src.columns["X"] == np.uint16 and src.columns["Y"] == np.uint16
    assert src.columns["t"] == np.uint32 and src.columns["ADC"] == np.uint16
    assert src.columns["MasterRstCtr"] == np.uint8
    assert src.units["t"] == "step"
    assert src.files[0].metadata["acquisition_time_s"] == pytest.approx(4.007)


def test_metis_chunks_cover_every_event_once():
    import h5py

    src = open_events(METIS, columns=["X", "t"])
    with h5py.File(METIS) as h5:
        x, t = h5["Stream_0"][()], h5["Stream_2"][()]
    offsets, parts_x, parts_t = [], [], []
    for chunk in src.iter_chunks(chunk_events=70_001):
        assert isinstance(chunk, Chunk) and chunk.file_index == 0
        assert set(chunk.data) == {"X", "t"}
        offsets.append(chunk.event_offset)
        parts_x.append(chunk["X"])
        parts_t.append(chunk["t"])
    assert offsets == list(range(0, 297398, 70_001))
    np.testing.assert_array_equal(np.concatenate(parts_x), x)
    np.testing.assert_array_equal(np.concatenate(parts_t), t)


def test_metis_time_stamps_follow_ms_markers():
    src = open_events(METIS)
    ts = src.read(["timeStamps"])["timeStamps"]
    assert np.all(np.diff(ts) >= 0)
    span = ts[-1] - ts[0]
    assert 3.9 < span < 4.1  # 4007 ms markers


def test_missing_column_lists_available():
    with pytest.raises(MPESColumnError, match="available columns: X, Y, t"):
        open_events(METIS, columns=["X", "energy"])


def test_partitions_pickle_and_cover(tmp_path):
    rng = np.random.default_rng(1)
    files = []
    for i, n in enumerate([1000, 2500]):
        table = pa.table(
            {
                "X": rng.integers(0, 2048, n).astype(np.uint16),
                "t": rng.integers(0, 1 << 20, n).astype(np.uint32),
            }
        )
        f = tmp_path / f"part{i}.parquet"
        pq.write_table(table, f, row_group_size=300)
        files.append(f)
    src = open_events(tmp_path)
    assert src.n_events == 3500 and src.columns["X"] == np.uint16
    parts = src.partitions(chunk_events=600)
    parts = pickle.loads(pickle.dumps(parts))
    total = 0
    for p in parts:
        chunk = read_partition(p, ["t"])
        assert chunk.event_offset == p.start and chunk.file_index == p.file_index
        total += len(chunk)
    assert total == 3500
    got = np.concatenate([read_partition(p, ["X"])["X"] for p in parts])
    want = np.concatenate([pq.read_table(f)["X"].to_numpy() for f in files])
    np.testing.assert_array_equal(got, want)


def test_only_file_unreadable_raises_naming_it(tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    with pytest.raises(MPESFormatError, match="broken.h5"):
        open_events(bad)
