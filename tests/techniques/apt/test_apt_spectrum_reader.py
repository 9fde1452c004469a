"""The archive reader: the Si set ingested end to end and found by element."""

from __future__ import annotations

import shutil

import pytest

from bigmax.archive import ids
from bigmax.archive.catalog import get_entry
from bigmax.archive.ingest import ingest
from bigmax.config import Settings
from bigmax.io.apt import DA_PER_E, APTReader
from bigmax.io.base import ReaderError
from bigmax.search import search


@pytest.fixture
def si_upload(apt_si_dir, tmp_path):
    folder = tmp_path / "si-run"
    folder.mkdir()
    for name in ("Si.pos", "Si.apt", "Si.RRNG"):
        shutil.copy(apt_si_dir / name, folder / name)
    return folder


def test_matches():
    reader = APTReader()
    assert reader.matches("run/R5.pos", b"\x00" * 16)
    assert reader.matches("R5.EPOS", b"\x00" * 44)
    assert reader.matches("x.apt", b"APT\x00" + b"\x00" * 20)
    assert not reader.matches("x.apt", b"something else")
    assert not reader.matches("x.cif", b"data_")


def test_parse_si(si_upload):
    (parsed,) = APTReader().parse(si_upload / "Si.pos", si_upload, 1e-3)
    exp = parsed.results.experiment
    assert exp.technique == "atom probe tomography" and exp.file_format == "pos"
    assert exp.n_events == 945_211
    assert exp.summary["ranged_fraction"].value == pytest.approx(0.928, abs=5e-4)
    assert exp.composition["Si"] == pytest.approx(0.747, abs=5e-4)
    assert exp.summary["mass_to_charge_max"].value / DA_PER_E == pytest.approx(378.3, abs=0.01)
    assert exp.summary["z_max"].value > exp.summary["z_min"].value
    (curve,) = exp.curves
    assert len(curve.x) <= 2000 and curve.log_y
    assert parsed.results.material.elements == ["C", "Cr", "Cu", "O", "Si"]
    assert parsed.related_files == ["Si.RRNG"]


def test_parse_errors(tmp_path):
    bad = tmp_path / "cut.pos"
    bad.write_bytes(b"\x00" * 17)  # not a whole number of 16-byte records
    with pytest.raises(ReaderError, match="cut.pos"):
        list(APTReader().parse(bad, tmp_path, 1e-3))


def test_ingest_and_search(si_upload, tmp_path, database_url, engine):
    # the reader comes from the bigmax.readers entry point, like any plugin
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    report = ingest([si_upload], upload="si", settings=settings, engine=engine)
    assert report.entries == 2 and report.failed == 0
    entry = get_entry(engine, ids.entry_id(report.upload_id, "Si.apt"))
    assert entry["results"]["experiment"]["n_events"] == 945_211
    hits = search(engine, {"elements": ["Cr", "Si"]}, page_size=10)
    assert hits.total == 2
    assert search(engine, {"elements": "Fe"}, page_size=0).total == 0
