"""Acceptance for the shipped demo: NOMAD 2018 (3000 entries) and the 82 octet binaries."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from bigmax.archive.db import ArchiveRow, EntryRow, UploadRow, make_engine
from bigmax.cli import app
from bigmax.config import get_settings
from bigmax.search import search

EV = 1.602176634e-19


@pytest.mark.slow
def test_demo(bigmax_home):
    result = CliRunner().invoke(app, ["demo", "--jobs", "2"])
    assert result.exit_code == 0, result.output
    engine = make_engine(get_settings().database_url)
    with engine.connect() as conn:
        uploads = dict(conn.execute(select(UploadRow.name, UploadRow.upload_id)).all())
        nomad = uploads["demo-nomad2018"]
        in_nomad = EntryRow.upload_id == nomad
        n, ok = conn.execute(
            select(func.count(), func.count(EntryRow.space_group_number)).where(in_nomad)
        ).one()
        labelled = conn.execute(
            select(func.count()).where(
                in_nomad,
                EntryRow.band_gap.is_not(None),
                EntryRow.formation_energy_per_atom.is_not(None),
            )
        ).scalar_one()
        pairs = [
            (sg, json.loads(data)["results"]["properties"]["extra"]["dataset_spacegroup"]["value"])
            for sg, data in conn.execute(
                select(EntryRow.space_group_number, ArchiveRow.data)
                .join(ArchiveRow, ArchiveRow.entry_pk == EntryRow.pk)
                .where(in_nomad)
            )
        ]
        octet = conn.execute(
            select(func.count()).where(
                EntryRow.upload_id == uploads["demo-octet-binaries"], EntryRow.state == "success"
            )
        ).scalar_one()
    assert (n, ok, labelled, octet) == (3000, 3000, 2400, 82)
    agreement = sum(a == b for a, b in pairs) / len(pairs)
    assert agreement >= 0.99, agreement

    # units both ways: train-1 has band gap 3.4387 eV and formation energy 0.068 eV/atom
    hits = search(
        engine,
        {
            "band_gap": {"gte": "3.4386 eV", "lte": "3.4388 eV"},
            "formation_energy_per_atom": {"gt": 0.0679 * EV, "lt": 0.0681 * EV},
        },
        required=["band_gap", "formation_energy_per_atom"],
    )
    assert hits.total == 1
    assert hits.data[0]["band_gap"] / EV == pytest.approx(3.4387)
    engine.dispose()
