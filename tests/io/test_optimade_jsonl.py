"""OPTIMADE JSONL: export from the archive, read back through ingest, same structures."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import select

from bigmax.archive.catalog import archives_for
from bigmax.archive.db import EntryRow, make_engine
from bigmax.archive.ingest import ingest
from bigmax.config import Settings
from bigmax.io.base import ReaderError
from bigmax.io.optimade_jsonl import OptimadeJSONLReader
from bigmax.io.registry import load_registry
from bigmax.search.optimade_jsonl import write_optimade_jsonl

XYZ = """2
Lattice="0 2.7 2.7 2.7 0 2.7 2.7 2.7 0" Properties=species:S:1:pos:R:3 energy=-10.5 band_gap=1.1
Si 0 0 0
Si 1.35 1.35 1.35
3
Lattice="4.0 0 0 0 4.0 0 0 0 4.0" Properties=species:S:1:pos:R:3 pbc="T T T"
Na 0 0 0
Cl 2.0 2.0 2.0
Cl 0 2.0 2.0
"""


def _entries(engine, upload_id):
    with engine.connect() as conn:
        pks = list(
            conn.execute(select(EntryRow.pk).where(EntryRow.upload_id == upload_id)).scalars()
        )
    return archives_for(engine, sorted(pks))


def test_round_trip(tmp_path):
    settings = Settings(home=tmp_path / "home")
    engine = make_engine(settings.database_url)
    src = tmp_path / "src"
    src.mkdir()
    (src / "two.extxyz").write_text(XYZ)
    first = ingest([src], upload="first", settings=settings, engine=engine)
    original = _entries(engine, first.upload_id)

    out = tmp_path / "export" / "structures.jsonl"
    out.parent.mkdir()
    assert write_optimade_jsonl(original, out) == 2
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0] == {"x-optimade": {"api_version": "1.3.0"}}
    assert lines[1]["type"] == "info" and "lattice_vectors" in lines[1]["properties"]
    assert {line["type"] for line in lines[2:]} == {"structures"}

    second = ingest([out.parent], upload="second", settings=settings, engine=engine)
    assert second.entries == 2 and second.failed == 0
    back = {e["child_key"]: e for e in _entries(engine, second.upload_id)}
    for entry in original:
        again = back[entry["entry_id"]]
        assert again["parser"] == "optimade-jsonl"
        m0, m1 = entry["results"]["material"], again["results"]["material"]
        for key in ("chemical_formula_reduced", "chemical_formula_hill", "elements", "n_sites"):
            assert m0[key] == m1[key]
        assert m0["symmetry"]["space_group_number"] == m1["symmetry"]["space_group_number"]
        np.testing.assert_allclose(
            m0["structure"]["positions"], m1["structure"]["positions"], atol=1e-18
        )
        np.testing.assert_allclose(m0["structure"]["cell"], m1["structure"]["cell"], atol=1e-18)
        p0, p1 = entry["results"]["properties"], again["results"]["properties"]
        assert p0.get("total_energy") == pytest.approx(p1.get("total_energy"))
        assert (p0.get("band_gap") or {}).get("value") == pytest.approx(
            (p1.get("band_gap") or {}).get("value")
        )
    engine.dispose()


def test_registered_and_matching():
    reader = load_registry().get("optimade-jsonl")
    assert reader.matches("x/structures.jsonl", b'{"x-optimade": {"api_version": "1.3.0"}}\n')
    assert not reader.matches("x/rows.jsonl", b'{"entry_id": "abc"}\n')
    assert not reader.matches("x/structures.json", b'{"x-optimade": {}}\n')


def test_bad_lines_fail_soft(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"x-optimade": {"api_version": "1.3.0"}}\n'
        "not json\n"
        '{"type": "structures", "id": "nosites", "attributes": {"elements": ["Si"]}}\n'
    )
    parsed = list(OptimadeJSONLReader().parse(path, tmp_path, 0.05))
    assert [p.child_key for p in parsed] == ["line-2", "nosites"]
    assert "line 2: not JSON" in parsed[0].error
    assert "cartesian_site_positions" in parsed[1].error
    header_less = tmp_path / "plain.jsonl"
    header_less.write_text('{"type": "structures"}\n')
    with pytest.raises(ReaderError, match="line 1"):
        list(OptimadeJSONLReader().parse(header_less, tmp_path, 0.05))
