"""bigmax doctor: real checks pass on a fresh archive, and each failure reads as a plain message."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import inspect, text

from bigmax import doctor
from bigmax.archive.db import Base, make_engine
from bigmax.config import Settings
from bigmax.doctor import Check, run_checks


def _by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def _failed(checks: list[Check]) -> list[Check]:
    return [check for check in checks if not check.ok]


def test_fresh_home_passes(tmp_path, database_url):
    checks = run_checks(Settings(home=tmp_path / "home", database_url=database_url))
    assert not _failed(checks)
    names = _by_name(checks)
    assert {
        "python",
        "package ase",
        "package optimade",
        "home",
        "database",
        "file store",
        "disk space",
    } <= set(names)
    assert not (tmp_path / "home").exists(), "doctor must not create the home folder"
    assert all(check.detail for check in checks)


def test_initialised_archive_passes(tmp_path, engine, database_url):
    checks = run_checks(Settings(home=tmp_path, database_url=database_url))
    assert not _failed(checks)
    n_tables = len(Base.metadata.tables)
    assert f"all {n_tables} tables present" in _by_name(checks)["database"].detail
    if database_url.startswith("sqlite"):
        assert _by_name(checks)["sqlite journal"].detail == "journal mode wal"


def test_missing_table_is_reported(tmp_path, engine, database_url):
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE archives"))
    check = _by_name(run_checks(Settings(home=tmp_path, database_url=database_url)))["database"]
    assert not check.ok
    assert "missing: archives" in check.detail
    assert check.fix


def test_doctor_does_not_create_tables(tmp_path, database_url):
    run_checks(Settings(home=tmp_path, database_url=database_url))
    if database_url.startswith("sqlite"):
        assert not os.path.exists(database_url.removeprefix("sqlite:///"))
        return
    eng = make_engine(database_url)
    try:
        assert inspect(eng).get_table_names() == []
    finally:
        eng.dispose()


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("this is not a url", "not a database URL"),
        ("postgresql://bigmax@127.0.0.1:1/bigmax", "no database server answers"),
        ("mysql://user@127.0.0.1/bigmax", "no driver"),
    ],
)
def test_bad_database_url(tmp_path, url, words):
    check = _by_name(run_checks(Settings(home=tmp_path, database_url=url)))["database"]
    assert not check.ok
    assert words in check.detail
    assert "Traceback" not in check.detail
    assert check.fix


def test_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "bigmax.sqlite"
    path.write_bytes(b"this is not SQLite" * 100)
    check = _by_name(run_checks(Settings(home=tmp_path, database_url=f"sqlite:///{path}")))
    assert not check["database"].ok
    assert "not a SQLite database" in check["database"].detail


def test_home_under_a_file_is_not_writable(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    checks = _by_name(run_checks(Settings(home=blocker / "home")))
    assert not checks["home"].ok
    assert "is a file" in checks["home"].detail
    assert "BIGMAX_HOME" in checks["home"].fix
    assert not checks["file store"].ok


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can write anywhere")
def test_read_only_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o500)
    try:
        check = _by_name(run_checks(Settings(home=home)))["home"]
    finally:
        home.chmod(0o700)
    assert not check.ok
    assert "cannot write" in check.detail


def test_fsspec_file_store(tmp_path):
    checks = _by_name(run_checks(Settings(home=tmp_path, files_url="memory://bigmax-files")))
    assert checks["file store"].ok, checks["file store"]
    bad = _by_name(run_checks(Settings(home=tmp_path, files_url="nosuchprotocol://bucket")))
    assert not bad["file store"].ok


def test_crashing_check_becomes_a_failed_check(tmp_path, monkeypatch):
    def boom(_settings):
        raise RuntimeError("kaputt")

    monkeypatch.setattr(doctor, "_disk", boom)
    check = _by_name(run_checks(Settings(home=tmp_path)))["disk space"]
    assert not check.ok
    assert "kaputt" in check.detail
