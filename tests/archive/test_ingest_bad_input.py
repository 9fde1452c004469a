"""Garbage in an upload gives failed entries with clear messages; the rest is unaffected."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bigmax.archive.db import EntryRow, make_engine
from bigmax.archive.ingest import ingest
from bigmax.config import Settings

EXTENSIONS = [
    ".xyz",
    ".extxyz",
    ".cif",
    ".vasp",
    ".csv",
    ".parquet",
    ".in",
    ".out",
    ".xml",
    ".txt",
    "",
]
NAMES = ["POSCAR", "OUTCAR", "vasprun.xml", "geometry.in", "aims.out", "pw.in", "pw.out"]

garbage_names = st.one_of(
    st.builds(
        lambda stem, ext: stem + ext,
        st.from_regex(r"[a-z]{1,8}", fullmatch=True),
        st.sampled_from(EXTENSIONS),
    ),
    st.sampled_from(NAMES),
)


def _good_rows(engine):
    with engine.connect() as conn:
        return sorted(
            tuple(r)
            for r in conn.execute(
                select(
                    EntryRow.entry_id, EntryRow.state, EntryRow.formula_reduced, EntryRow.band_gap
                ).where(EntryRow.mainfile == "good/oxides.extxyz")
            )
        )


def _check(payloads: dict[str, bytes], good_text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "up"
        (folder / "good").mkdir(parents=True)
        (folder / "good" / "oxides.extxyz").write_text(good_text)
        for name, data in payloads.items():
            (folder / name).write_bytes(data)
        cfg = Settings(home=tmp / "home", database_url=f"sqlite:///{tmp}/db.sqlite")
        engine = make_engine(cfg.database_url)
        report = ingest([folder], upload="fuzz", settings=cfg, engine=engine)
        assert report.files == len(payloads) + 1
        good = _good_rows(engine)
        assert len(good) == 3 and all(state == "success" for _, state, _, _ in good)
        with engine.connect() as conn:
            bad = conn.execute(
                select(EntryRow.mainfile, EntryRow.state, EntryRow.entry_id).where(
                    EntryRow.mainfile != "good/oxides.extxyz", EntryRow.state == "failed"
                )
            ).all()
        from bigmax.archive.catalog import get_entry

        for mainfile, _, entry_id in bad:
            errors = get_entry(engine, entry_id)["errors"]
            assert errors and all(mainfile in e or Path(mainfile).name in e for e in errors)
        engine.dispose()


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(garbage_names, st.binary(min_size=0, max_size=2000), min_size=1, max_size=4))
def test_random_bytes(nomad_frames, payloads):
    _check(payloads, nomad_frames(3))


@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
@given(cut=st.floats(0.0, 1.0), name=garbage_names)
def test_truncated_and_misnamed_real_files(nomad_frames, cut, name):
    text = nomad_frames(3).encode()
    truncated = text[: int(len(text) * cut)]
    _check({name: truncated}, nomad_frames(3))
