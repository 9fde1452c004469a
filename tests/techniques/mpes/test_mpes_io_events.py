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


# -- FEL and lab train-resolved files -------------------------------------------------------
FLASH = sorted((LOADER / "flash").glob("*.h5"))
SXP = LOADER / "sxp" / "RAW-R0016-DA03-S00000.h5"
CFEL = LOADER / "cfel" / "20250411_12h34m03s185_000123.h5"


def test_flash_electron_table_matches_the_padded_blocks():
    import h5py

    src = open_events(FLASH[0])
    with h5py.File(FLASH[0]) as h5:
        value = h5["uncategorised/FLASH.EXP/HEXTOF.DAQ/DLD1/value"][()]
        trains = h5["uncategorised/FLASH.EXP/HEXTOF.DAQ/DLD1/index"][()]
        gmd = h5["FL1/Photon Diagnostic/GMD/Pulse resolved energy/energy tunnel/value"][()]
        gmd_index = h5["FL1/Photon Diagnostic/GMD/Pulse resolved energy/energy tunnel/index"][()]
    valid = ~np.isnan(value[:, 3, :])
    assert src.n_events == int(valid.sum()) == 4027
    d = src.read()
    for c in ("trainId", "pulseId", "dldPosX", "dldPosY", "dldTimeSteps", "dldSectorID",
              "sampleBias", "timeStamp", "delayStage", "gmdTunnel"):
        assert c in d
    assert d["dldPosX"].dtype == np.uint16 and d["dldTimeSteps"].dtype == np.uint32
    np.testing.assert_array_equal(d["dldPosX"], value[:, 1, :][valid].astype(np.uint16))
    np.testing.assert_array_equal(d["dldPosY"], value[:, 0, :][valid].astype(np.uint16))
    raw_t = value[:, 3, :][valid].astype(np.int64)
    np.testing.assert_array_equal(d["dldTimeSteps"], raw_t >> 3)
    np.testing.assert_array_equal(d["dldSectorID"], raw_t & 7)
    np.testing.assert_array_equal(d["pulseId"], value[:, 2, :][valid].astype(np.int64) - 5)
    ti = np.nonzero(valid)[0]
    np.testing.assert_array_equal(d["trainId"], trains[ti])
    np.testing.assert_array_equal(d["sampleBias"], value[ti, 4, 0])
    # a per-pulse channel: the GMD energy of the electron's own train and pulse
    k = 100
    row = int(np.nonzero(gmd_index == d["trainId"][k])[0][0])
    assert d["gmdTunnel"][k] == gmd[row, 0, d["pulseId"][k]]
    # electronId counts electrons within each (train, pulse)
    assert d["electronId"][0] == 0
    same = (d["trainId"][1:] == d["trainId"][:-1]) & (d["pulseId"][1:] == d["pulseId"][:-1])
    np.testing.assert_array_equal(d["electronId"][1:][same], d["electronId"][:-1][same] + 1)


def test_flash_two_files_are_one_source():
    src = open_events(LOADER / "flash")
    assert len(src.files) == 2 and src.n_events == 4027 + 4213
    chunks = list(src.iter_chunks(["dldPosX"], chunk_events=1000))
    assert [c.file_index for c in chunks].count(1) == 5
    assert sum(len(c) for c in chunks) == src.n_events


def test_sxp_hits_and_train_channels():
    import h5py

    src = open_events(SXP)
    det = "INSTRUMENT/SXP_TR_XPES/DET/MCP_DETECTOR:output/data"
    with h5py.File(SXP) as h5:
        t = h5[f"{det}/t"][:, :500]
        x = h5[f"{det}/x"][:, :500]
        tid = h5[f"{det}/trainId"][()]
        index = h5["INDEX/trainId"][()]
        delay = h5["CONTROL/SCS_ILH_LAS/MDL/OPTICALDELAY_PP800/actualPosition/value"][()]
    valid = t != 0
    assert src.n_events == int(valid.sum()) == 2088
    d = src.read()
    np.testing.assert_array_equal(d["dldPosX"], x[valid])
    assert d["dldTimeSteps"].dtype == t.dtype
    np.testing.assert_array_equal(d["trainId"], tid[np.nonzero(valid)[0]])
    k = 1000
    assert d["delayStage"][k] == delay[index == d["trainId"][k]][0]


def test_cfel_loads_with_slow_channels():
    src = open_events(CFEL)
    assert src.n_events == 20
    d = src.read()
    assert {"dldPosX", "dldTimeSteps", "dldSectorID", "sampleBias", "timeStamp"} <= set(d)
    assert np.all(d["stepId"] == 0)  # all 20 events precede the first step's end count


# -- generic tables ---------------------------------------------------------------------------
def test_csv_and_generic_hdf5(tmp_path):
    import h5py

    rng = np.random.default_rng(3)
    x = rng.integers(0, 2000, 2345)
    t = rng.random(2345)
    csv = tmp_path / "events.csv"
    csv.write_text("x,t\n" + "".join(f"{a},{float(b)!r}\n" for a, b in zip(x, t, strict=True)))
    src = open_events(csv)
    assert src.n_events == 2345
    got = np.concatenate([c["t"] for c in src.iter_chunks(["t"], chunk_events=1000)])
    np.testing.assert_array_equal(got, t)
    h5 = tmp_path / "events.h5"
    with h5py.File(h5, "w") as f:
        f["det/x"] = x.astype(np.uint16)
        f["det/t"] = t.astype(np.float32)
        f["det/t"].attrs["units"] = "ns"
        f["scalar_log"] = np.arange(3)
    src = open_events(h5)
    assert src.columns == {"det/x": np.uint16, "det/t": np.float32}
    assert src.units == {"det/t": "ns"}
    np.testing.assert_array_equal(src.read(["det/x"])["det/x"], x)


def test_broken_and_empty_files_skipped_with_warning(tmp_path):
    import shutil

    from bigmax.techniques.mpes.events import MPESFileWarning

    shutil.copy(METIS, tmp_path / "a.h5")
    (tmp_path / "b.h5").write_bytes(METIS.read_bytes()[:5000])
    (tmp_path / "c.h5").write_bytes(b"")
    with pytest.warns(MPESFileWarning) as rec:
        src = open_events(tmp_path)
    messages = " ".join(str(w.message) for w in rec)
    assert "b.h5" in messages and "c.h5" in messages
    assert src.n_events == 297398 and src.file_indices == [0]


def test_bad_arguments():
    src = open_events(METIS)
    with pytest.raises(ValueError, match="chunk_events"):
        list(src.iter_chunks(chunk_events=0))
    with pytest.raises(MPESFormatError, match="no file matches"):
        open_events("/nonexistent/dir/*.h5")
    with pytest.raises(MPESFormatError, match="unknown event format"):
        open_events(METIS, format="tiff")


def test_prefetch_gives_the_same_chunks_and_stops_cleanly():
    src = open_events(LOADER / "flash")
    a = [(c.file_index, c.event_offset, c["dldTimeSteps"]) for c in
         src.iter_chunks(["dldTimeSteps"], chunk_events=999, prefetch=True)]
    b = [(c.file_index, c.event_offset, c["dldTimeSteps"]) for c in
         src.iter_chunks(["dldTimeSteps"], chunk_events=999, prefetch=False)]
    assert [x[:2] for x in a] == [x[:2] for x in b]
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x[2], y[2])
    it = src.iter_chunks(chunk_events=500)
    next(it)
    it.close()  # leaving early shuts the read-ahead thread down
    import threading

    assert not any(t.name.startswith("mpes-read") for t in threading.enumerate())


def test_csv_blank_lines_and_bad_rows(tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text("x,t\n1,2.5\n\n3,4.5\n")
    src = open_events(ok)
    assert src.n_events == 2
    np.testing.assert_array_equal(src.read()["x"], [1, 3])
    bad = tmp_path / "bad.csv"
    bad.write_text("x,t\n1,2.5\n3,oops\n")
    with pytest.raises(MPESFormatError, match="bad.csv"):
        open_events(bad).read()


@pytest.mark.parametrize("path", [METIS, FLASH[0]])
def test_sources_pickle_without_their_data(path):
    src = open_events(path)
    before = src.read()
    blob = pickle.dumps(src)
    assert len(blob) < 100_000
    after = pickle.loads(blob).read()
    for c in before:
        np.testing.assert_array_equal(before[c], after[c])


def test_parallel_read_ahead_keeps_order(tmp_path):
    rng = np.random.default_rng(5)
    for i in range(3):
        n = 1000 + 500 * i
        table = pa.table({"X": rng.integers(0, 2048, n).astype(np.uint16)})
        pq.write_table(table, tmp_path / f"f{i}.parquet", row_group_size=256)
    src = open_events(tmp_path)
    seq = list(src.iter_chunks(chunk_events=300, prefetch=False))
    par = list(src.iter_chunks(chunk_events=300, prefetch=3))
    assert [(c.file_index, c.event_offset) for c in par] == [
        (c.file_index, c.event_offset) for c in seq
    ]
    for a, b in zip(seq, par, strict=True):
        assert b["X"].dtype == np.uint16
        np.testing.assert_array_equal(a["X"], b["X"])
