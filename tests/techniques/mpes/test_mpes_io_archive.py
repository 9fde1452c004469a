"""The MPES archive reader: METIS sample ingested end to end and found by a search; NXmpes
cubes; the info/convert commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.config import Settings
from bigmax.io.base import HEAD_BYTES, ReaderError
from bigmax.io.mpes import MPESReader
from bigmax.io.registry import get_registry

LOADER = Path(__file__).resolve().parents[2] / "data" / "mpes" / "sed" / "tests" / "data" / "loader"
METIS = LOADER / "mpes" / "Scan0030_2.h5"


def _parse(path: Path):
    reader = MPESReader()
    assert reader.matches(str(path), path.read_bytes()[:HEAD_BYTES])
    (parsed,) = reader.parse(path, path.parent, 1e-3)
    return parsed.results.experiment


def test_metis_entry():
    exp = _parse(METIS)
    assert exp.technique == "multidimensional photoemission"
    assert "METIS" in exp.instrument and exp.file_format == "FHI METIS HDF5"
    assert exp.n_events == 297398
    assert exp.summary["acquisition_time"].value == pytest.approx(4.007)
    assert exp.summary["count_rate"].value == pytest.approx(297398 / 4.007)
    assert exp.summary["sample_bias"].value == pytest.approx(19.2996, abs=1e-3)
    (curve,) = exp.curves
    assert len(curve.x) <= 2000
    t = h5py.File(METIS)["Stream_2"][()]
    inside = (t >= curve.x[0] - 1) & (t <= curve.x[-1] + 1)
    assert sum(curve.y) == int(inside.sum()) == 297398 - exp.summary[
        "tof_events_outside_histogram"
    ].value
    peak = curve.x[int(np.argmax(curve.y))]
    assert abs(peak - np.median(t)) < 0.1 * np.median(t)


@pytest.mark.parametrize("name", ["flash", "sxp", "cfel"])
def test_fel_entries(name):
    path = sorted((LOADER / name).glob("*.h5"))[0]
    exp = _parse(path)
    assert exp.n_events > 0 and exp.curves and "dldTimeSteps" in exp.summary["columns"].value


def _nxmpes(path: Path) -> None:
    e = np.linspace(-2, 1, 120)
    kx = np.linspace(-1, 1, 30)
    cube = np.exp(-((e[None, None, :] + 0.5) ** 2) / 0.01) * np.ones((30, 30, 1))
    with h5py.File(path, "w") as f:
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry["definition"] = "NXmpes"
        entry["instrument/name"] = "synthetic momentum microscope"
        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "data"
        data.attrs["axes"] = ["kx", "ky", "energy"]
        data["data"] = cube.astype(np.float32)
        data["kx"] = kx
        data["ky"] = kx
        data["energy"] = e
        data["energy"].attrs["units"] = "eV"


def test_nxmpes_cube_entry(tmp_path):
    path = tmp_path / "cube.nxs"
    _nxmpes(path)
    exp = _parse(path)
    assert exp.file_format == "NeXus NXmpes (HDF5)"
    assert exp.instrument == "synthetic momentum microscope"
    assert exp.summary["shape"].value == "30 x 30 x 120"
    (edc,) = exp.curves
    assert edc.x_label == "energy (eV)" and len(edc.x) == 120
    assert edc.x[int(np.argmax(edc.y))] == pytest.approx(-0.5, abs=0.03)


def test_not_ours_and_broken(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(5)
    assert not MPESReader().matches(str(other), other.read_bytes()[:HEAD_BYTES])
    bad = tmp_path / "bad.h5"
    bad.write_bytes(METIS.read_bytes()[:4096])
    assert not MPESReader().matches(str(bad), bad.read_bytes())
    with pytest.raises(ReaderError, match="bad.h5"):
        list(MPESReader().parse(bad, tmp_path, 1e-3))


@pytest.fixture
def mpes_registered():
    get_registry().add(MPESReader())
    yield
    get_registry.cache_clear()


def test_ingest_and_search(tmp_path, database_url, mpes_registered):
    from bigmax.archive.db import init_db, make_engine
    from bigmax.archive.ingest import ingest
    from bigmax.search import search

    folder = tmp_path / "beamtime"
    folder.mkdir()
    shutil.copy(METIS, folder / "Scan0030_2.h5")
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    engine = make_engine(database_url)
    init_db(engine)
    try:
        report = ingest([folder], upload="mpes", settings=settings, engine=engine)
        assert report.entries == 1 and report.failed == 0
        result = search(engine, {"parser": "mpes"}, required=["entry_id", "mainfile"])
        assert result.total == 1 and result.data[0]["mainfile"] == "Scan0030_2.h5"
        from bigmax.archive.catalog import get_entry

        entry = get_entry(engine, result.data[0]["entry_id"])
        exp = entry["results"]["experiment"]
        assert exp["n_events"] == 297398 and exp["technique"] == "multidimensional photoemission"
    finally:
        engine.dispose()


def test_cli_info_json_and_convert(tmp_path):
    runner = CliRunner()
    out = tmp_path / "store"
    result = runner.invoke(app, ["mpes", "convert", str(LOADER / "flash"), "--out", str(out),
                                 "--row-group", "1000"])
    assert result.exit_code == 0, result.output
    assert "8,240 events" in result.output
    result = runner.invoke(app, ["mpes", "info", str(out), "--json", "--stats"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["n_events"] == 8240 and info["formats"] == ["parquet"]
    assert info["columns"]["dldPosX"]["dtype"] == "uint16"
    assert info["columns"]["dldSectorID"]["max"] <= 7
    result = runner.invoke(app, ["mpes", "info", str(METIS)])
    assert result.exit_code == 0 and "297,398" in result.output


def test_cube_binned_from_the_metis_sample(tmp_path):
    """The real chain: METIS events -> bin_events -> write_nxmpes -> an archive entry."""
    from bigmax.techniques.mpes.binning import bin_events
    from bigmax.techniques.mpes.events import open_events
    from bigmax.techniques.mpes.output import write_nxmpes

    src = open_events(METIS)
    cube = bin_events(src, ["X:0:1500:30", "Y:0:1500:30", "t:130000:160000:80"])
    path = write_nxmpes(cube, tmp_path / "scan30.nxs")
    assert MPESReader().matches("upload/scan30.nxs", path.read_bytes()[:HEAD_BYTES])
    exp = _parse(path)
    assert exp.n_events == 297398
    assert exp.summary["shape"].value == "30 x 30 x 80"
    assert exp.summary["total_counts"].value == float(cube.sum())
    (curve,) = exp.curves
    assert curve.title == "counts along t" and len(curve.y) == 80
    np.testing.assert_allclose(curve.y, cube.sum(dim=("X", "Y")).values)
