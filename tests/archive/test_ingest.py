from __future__ import annotations

import io
import json
import os
import zipfile

import pytest
from sqlalchemy import func, select

from bigmax.archive import ids
from bigmax.archive.catalog import get_entry, list_uploads
from bigmax.archive.db import ArchiveRow, EntryElementRow, EntryRow, RawFileRow
from bigmax.archive.ingest import ingest
from bigmax.archive.paths import UnsafePathError, safe_relpath
from bigmax.archive.store import FileStore
from bigmax.archive.unpack import UnsafeArchiveError
from bigmax.config import Settings

EV = 1.602176634e-19


@pytest.fixture
def settings(tmp_path, database_url):
    return Settings(home=tmp_path / "home", database_url=database_url)


def _count(engine, col=EntryRow.pk, *where):
    with engine.connect() as conn:
        return conn.execute(select(func.count(col)).where(*where)).scalar_one()


def test_ingest_folder(upload_dir, settings, engine):
    report = ingest([upload_dir], upload="u1", settings=settings, engine=engine)
    assert report.files == 4
    assert report.raw_only == 1  # notes.txt is kept, but makes no entry
    assert report.entries == 12 + 82 + 1
    assert report.failed == 1
    with engine.connect() as conn:
        failed = conn.execute(select(EntryRow.mainfile).where(EntryRow.state == "failed")).all()
        raw = dict(conn.execute(select(RawFileRow.path, RawFileRow.reader)).all())
    assert failed == [("broken.cif",)]
    assert raw == {
        "broken.cif": "ase",
        "notes.txt": None,
        "octet_binaries_82.csv": "table",
        "sub/oxides.extxyz": "ase",
    }
    entry = get_entry(engine, ids.entry_id(report.upload_id, "broken.cif"))
    assert entry["state"] == "failed"
    assert "broken.cif" in entry["errors"][0]
    # every raw file is in the store, byte for byte
    store = FileStore(settings.files_url)
    with store.open(report.upload_id, "notes.txt") as fh:
        assert fh.read() == b"measured on the old machine\n"


def test_entry_content_and_units(upload_dir, settings, engine):
    report = ingest([upload_dir], upload="u1", settings=settings, engine=engine)
    entry = get_entry(engine, ids.entry_id(report.upload_id, "sub/oxides.extxyz", "0"))
    material = entry["results"]["material"]
    assert material["chemical_formula_reduced"] == "Al5Ga3O12"
    assert material["symmetry"]["crystal_system"] == "triclinic"  # the Ga/Al order breaks Pna2_1
    assert material["n_sites"] == 80 and material["dimensionality"] == 3
    props = entry["results"]["properties"]
    assert props["formation_energy_per_atom"] == pytest.approx(0.068 * EV, rel=1e-12)
    assert props["band_gap"]["value"] == pytest.approx(3.4387 * EV, rel=1e-12)
    assert entry["provenance"]["files"][0]["path"] == "sub/oxides.extxyz"
    assert len(entry["provenance"]["files"][0]["sha256"]) == 64
    with engine.connect() as conn:
        gap = conn.execute(
            select(EntryRow.band_gap).where(EntryRow.entry_id == entry["entry_id"])
        ).scalar_one()
        elements = (
            conn.execute(
                select(EntryElementRow.element)
                .join(EntryRow, EntryRow.pk == EntryElementRow.entry_pk)
                .where(EntryRow.entry_id == entry["entry_id"])
                .order_by(EntryElementRow.element)
            )
            .scalars()
            .all()
        )
    assert gap / EV == pytest.approx(3.4387)
    assert elements == ["Al", "Ga", "O"]


def test_rerun_adds_nothing_and_ids_are_stable(upload_dir, settings, engine):
    first = ingest([upload_dir], upload="u1", settings=settings, engine=engine)
    with engine.connect() as conn:
        before = sorted(conn.execute(select(EntryRow.entry_id, EntryRow.pk)).all())
    again = ingest([upload_dir], upload="u1", settings=settings, engine=engine)
    assert again.upload_id == first.upload_id == ids.upload_id("u1")
    assert again.entries == 0 and again.files_skipped == 4
    with engine.connect() as conn:
        after = sorted(conn.execute(select(EntryRow.entry_id, EntryRow.pk)).all())
    assert after == before
    assert _count(engine, ArchiveRow.entry_pk) == len(before)


def test_changed_file_replaces_its_entries(upload_dir, settings, engine, nomad_frames):
    ingest([upload_dir], upload="u1", settings=settings, engine=engine)
    (upload_dir / "sub" / "oxides.extxyz").write_text(nomad_frames(5))
    report = ingest([upload_dir], upload="u1", settings=settings, engine=engine)
    assert report.entries == 5 and report.files_skipped == 3
    assert _count(engine, EntryRow.pk, EntryRow.mainfile == "sub/oxides.extxyz") == 5
    assert _count(engine) == 5 + 82 + 1
    orphans = _count(
        engine, EntryElementRow.entry_pk, EntryElementRow.entry_pk.not_in(select(EntryRow.pk))
    )
    assert orphans == 0


def test_parallel_ingest_matches_serial(upload_dir, settings, engine, tmp_path):
    serial = ingest([upload_dir], upload="a", settings=settings, engine=engine)
    parallel = ingest([upload_dir], upload="b", settings=settings, engine=engine, jobs=2)
    assert (serial.entries, serial.failed) == (parallel.entries, parallel.failed)
    uploads = {u["name"]: u for u in list_uploads(engine)}
    assert uploads["a"]["entries"] == uploads["b"]["entries"] == 95


@pytest.mark.parametrize(
    "name", ["../evil", "a/../../evil", "/etc/passwd", "C:\\x", "a\\..\\..\\b", "x\x00y", ""]
)
def test_unsafe_names_rejected(name):
    with pytest.raises(UnsafePathError):
        safe_relpath(name)


def test_safe_names_normalized():
    assert safe_relpath("a//b/./c.xyz") == "a/b/c.xyz"
    assert safe_relpath("a\\b.cif") == "a/b.cif"


def _zip(path, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_zip_traversal_rejected_and_nothing_stored(tmp_path, settings, engine):
    bad = tmp_path / "bad.zip"
    _zip(bad, {"ok.txt": b"fine", "../../escape.txt": b"gotcha"})
    with pytest.raises(UnsafeArchiveError, match="leaves the upload folder"):
        ingest([bad], upload="z", settings=settings, engine=engine)
    assert not (tmp_path / "escape.txt").exists()
    assert _count(engine, RawFileRow.path) == 0


def test_zip_bomb_rejected(tmp_path, settings, engine):
    bomb = tmp_path / "bomb.zip"
    _zip(bomb, {"zeros.xyz": bytes(64 * 1024 * 1024)})
    assert os.path.getsize(bomb) < 1024 * 1024
    with pytest.raises(UnsafeArchiveError, match="zip bomb"):
        ingest([bomb], upload="z", settings=settings, engine=engine)


def test_zip_upload(tmp_path, upload_dir, settings, engine):
    archive = tmp_path / "upload.zip"
    members = {
        p.relative_to(upload_dir).as_posix(): p.read_bytes()
        for p in upload_dir.rglob("*")
        if p.is_file()
    }
    _zip(archive, members)
    report = ingest([archive], upload="zipped", settings=settings, engine=engine)
    assert (report.entries, report.failed, report.raw_only) == (95, 1, 1)


def test_symlink_out_of_folder_is_skipped(tmp_path, upload_dir, settings, engine):
    secret = tmp_path / "secret.txt"
    secret.write_text("private")
    (upload_dir / "link.txt").symlink_to(secret)
    report = ingest([upload_dir], upload="u", settings=settings, engine=engine)
    assert any("link.txt" in msg for msg in report.rejected)
    assert _count(engine, RawFileRow.path, RawFileRow.path == "link.txt") == 0


def test_archive_json_is_valid(upload_dir, settings, engine):
    from bigmax.schema import Entry

    ingest([upload_dir], upload="u", settings=settings, engine=engine)
    with engine.connect() as conn:
        for (data,) in conn.execute(select(ArchiveRow.data)):
            Entry.model_validate(json.loads(data))


def test_missing_path_is_a_clear_error(tmp_path, settings, engine):
    with pytest.raises(FileNotFoundError, match="nope"):
        ingest([tmp_path / "nope"], settings=settings, engine=engine)


def test_unpack_rejects_garbage(tmp_path):
    from bigmax.archive.unpack import unpack_zip

    junk = tmp_path / "junk.zip"
    junk.write_bytes(io.BytesIO(b"PK\x03\x04 not really").getvalue())
    with pytest.raises(UnsafeArchiveError, match="junk.zip"):
        unpack_zip(junk, tmp_path / "out")


def test_owners_names_and_published_uploads(upload_dir, settings, engine):
    from bigmax.archive.access import SYSTEM
    from bigmax.archive.lifecycle import publish
    from bigmax.archive.users import create_user

    alice = create_user(engine, "alice", "correct horse").user_id
    bob = create_user(engine, "bob", "battery staple").user_id
    mine = ingest([upload_dir], upload="test", owner_id=alice, settings=settings, engine=engine)
    theirs = ingest([upload_dir], upload="test", owner_id=bob, settings=settings, engine=engine)
    assert mine.upload_id != theirs.upload_id and theirs.entries == mine.entries
    publish(engine, mine.upload_id, SYSTEM)
    with pytest.raises(ValueError, match="published"):
        ingest([upload_dir], upload="test", owner_id=alice, settings=settings, engine=engine)


def test_errors_name_the_path_in_the_upload(upload_dir, settings, engine):
    (upload_dir / "sub" / "broken.cif").write_text("data_y\n_cell_length_a\n")
    report = ingest([upload_dir], upload="u", settings=settings, engine=engine)
    entry = get_entry(engine, ids.entry_id(report.upload_id, "sub/broken.cif"))
    assert entry["errors"][0].startswith("sub/broken.cif")
