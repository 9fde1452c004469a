"""Damaged input: corrupt or truncated HDF5/Parquet/CSV and unknown columns give one clear
MPESFormatError (or a warning when other files remain), never a traceback."""

from __future__ import annotations

import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.techniques.mpes.events import (
    MPESColumnError,
    MPESFileWarning,
    MPESFormatError,
    open_events,
)
from bigmax.techniques.mpes.store import convert_to_parquet

LOADER = Path(__file__).resolve().parents[2] / "data" / "mpes" / "sed" / "tests" / "data" / "loader"
METIS = LOADER / "mpes" / "Scan0030_2.h5"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A 3000-event METIS file (the real sample's header and first events) and its store."""
    folder = tmp_path_factory.mktemp("mpes_fuzz")
    path = folder / "small.h5"
    with h5py.File(METIS) as src, h5py.File(path, "w") as out:
        for k, v in src.attrs.items():
            out.attrs[k] = v
        for i in range(6):
            ds = out.create_dataset(f"Stream_{i}", data=src[f"Stream_{i}"][:3000], chunks=(1000,))
            for k, v in src[f"Stream_{i}"].attrs.items():
                ds.attrs[k] = v
        out["msMarkers"] = src["msMarkers"][:40]
    (parquet,) = convert_to_parquet(path, folder / "store", row_group=1000)
    flash = sorted((LOADER / "flash").glob("*.h5"))[0]
    sxp = LOADER / "sxp" / "RAW-R0016-DA03-S00000.h5"
    return {
        "h5": path.read_bytes(),
        "parquet": parquet.read_bytes(),
        "flash": flash.read_bytes(),
        "sxp": sxp.read_bytes(),
    }


def _read_all_or_format_error(path: Path) -> None:
    try:
        src = open_events(path)
        data = src.read()
    except MPESFormatError as err:
        assert path.name in str(err)
        return
    assert all(len(v) == src.n_events for v in data.values())


# CFEL files are left out: their variable-length strings sit on an HDF5 global heap, and the
# HDF5 library can loop for minutes on a damaged one (the reader reads them only on demand).
@FUZZ
@given(data=st.data(), kind=st.sampled_from(["h5", "flash", "sxp"]))
def test_corrupt_hdf5_bytes(small, tmp_path_factory, data, kind):
    raw = bytearray(small[kind])
    for _ in range(data.draw(st.integers(1, 30))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path_factory.mktemp("c") / "corrupt.h5"
    path.write_bytes(bytes(raw))
    _read_all_or_format_error(path)


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["h5", "parquet", "flash", "sxp"]))
def test_truncated_files(small, tmp_path_factory, data, kind):
    raw = small[kind]
    cut = data.draw(st.integers(0, len(raw) - 1))
    path = tmp_path_factory.mktemp("t") / f"truncated.{kind}"
    path.write_bytes(raw[:cut])
    _read_all_or_format_error(path)


@FUZZ
@given(text=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300))
def test_arbitrary_csv_text(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("csv") / "events.csv"
    path.write_text(text, encoding="utf-8")
    _read_all_or_format_error(path)


@FUZZ
@given(names=st.lists(st.text(min_size=1, max_size=12), min_size=1, max_size=4))
def test_missing_columns_list_the_available(names):
    src = open_events(METIS)
    if all(n in src.columns for n in names):
        return
    with pytest.raises(MPESColumnError) as err:
        list(src.iter_chunks(names))
    assert "available columns: " + ", ".join(src.columns) in str(err.value)


def test_one_broken_file_among_good_ones_warns(small, tmp_path):
    (tmp_path / "a.h5").write_bytes(small["h5"])
    (tmp_path / "b.h5").write_bytes(small["h5"][: len(small["h5"]) // 3])
    with pytest.warns(MPESFileWarning, match="b.h5"):
        src = open_events(tmp_path)
    assert src.n_events == 3000


def test_cli_reports_one_line(small, tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(small["h5"][:2000])
    runner = CliRunner()
    result = runner.invoke(app, ["mpes", "info", str(bad)])
    assert result.exit_code == 1
    assert "bad.h5" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["mpes", "convert", str(METIS), "--out", str(tmp_path / "o"),
                                 "--columns", "X,kx"])
    assert result.exit_code == 1 and "available columns" in result.output


def test_no_numpy_warnings_on_good_file():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        src = open_events(METIS)
        assert np.isfinite(src.read(["timeStamps"])["timeStamps"]).all()
