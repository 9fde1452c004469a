"""The Parquet event store: bit-identical round trips, parts, metadata, projection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from bigmax.techniques.mpes.events import open_events
from bigmax.techniques.mpes.store import convert_to_parquet

LOADER = Path(__file__).resolve().parents[2] / "data" / "mpes" / "sed" / "tests" / "data" / "loader"
METIS = LOADER / "mpes" / "Scan0030_2.h5"


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for c in a:
        assert a[c].dtype == b[c].dtype, c
        assert a[c].tobytes() == b[c].tobytes(), c  # bit-identical, NaN included


def test_metis_round_trip_bit_identical(tmp_path):
    seen = []
    written = convert_to_parquet(METIS, tmp_path, row_group=50_000, progress=seen.append)
    assert [p.name for p in written] == ["00000_Scan0030_2.parquet"]
    assert sum(seen) == 297398
    store = open_events(tmp_path)
    _same(open_events(METIS).read(), store.read())
    pf = pq.ParquetFile(written[0])
    assert pf.metadata.num_row_groups == 6
    assert pf.schema_arrow.field("X").type == "uint16"
    info = json.loads(pf.metadata.metadata[b"bigmax.mpes"])
    assert info["n_events"] == 297398 and info["source_format"] == "metis"
    assert info["units"]["t"] == "step" and info["acquisition_time_s"] == pytest.approx(4.007)
    assert info["source_files"] == [str(METIS.resolve())]
    # the store's chunks are its row groups, and projection reads one column
    chunks = list(store.iter_chunks(["ADC"], chunk_events=50_000))
    assert [c.event_offset for c in chunks] == list(range(0, 297398, 50_000))
    assert all(list(c.data) == ["ADC"] for c in chunks)


def test_flash_parts_across_files(tmp_path):
    src = open_events(LOADER / "flash")
    written = convert_to_parquet(src, tmp_path, part_events=3000, row_group=700)
    assert [p.name for p in written] == [f"part-0000{i}.parquet" for i in range(3)]
    sizes = [pq.ParquetFile(p).metadata.num_rows for p in written]
    assert sizes == [3000, 3000, 8240 - 6000]
    _same(src.read(), open_events(tmp_path).read())
    info = json.loads(pq.ParquetFile(written[1]).metadata.metadata[b"bigmax.mpes"])
    assert len(info["source_files"]) == 2  # part 1 straddles the two input files


def test_columns_compression_and_overwrite(tmp_path):
    written = convert_to_parquet(METIS, tmp_path, columns=["X", "Y", "t"], compression="zstd")
    assert open_events(tmp_path).columns == {"X": np.uint16, "Y": np.uint16, "t": np.uint32}
    assert pq.ParquetFile(written[0]).metadata.row_group(0).column(0).compression == "ZSTD"
    with pytest.raises(FileExistsError, match="overwrite"):
        convert_to_parquet(METIS, tmp_path)
    convert_to_parquet(METIS, tmp_path, overwrite=True)
    assert "ADC" in open_events(tmp_path).columns
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="row_group"):
        convert_to_parquet(METIS, tmp_path, row_group=0)
    with pytest.raises(ValueError, match="available columns"):
        convert_to_parquet(METIS, tmp_path, columns=["kx"])
