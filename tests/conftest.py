"""Shared fixtures: every database test runs on SQLite and, under make test, on PostgreSQL."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from bigmax.archive.db import init_db, make_engine

PG_ENV = "BIGMAX_TEST_POSTGRES_URL"


def _postgres_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if not url and os.environ.get("CI"):
        raise RuntimeError(f"{PG_ENV} is not set: make test starts PostgreSQL and sets it")
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bigmax.sqlite'}"
        return
    base = _postgres_url()
    if not base:
        pytest.skip(f"PostgreSQL not configured ({PG_ENV})")
    name = f"t_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + "/" + name
    yield url
    _drop(admin, name)
    admin.dispose()


def _drop(admin, name: str) -> None:
    """Drop a test database. Sessions a test left open (ours) are ended first; a plain DROP then
    lets the server stop its own autovacuum worker, which FORCE would need the right to signal."""
    with admin.connect() as conn:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :name AND usename = current_user AND pid <> pg_backend_pid()"
            ),
            {"name": name},
        )
        try:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        except OperationalError:  # a session that came back meanwhile
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def engine(database_url):
    """An engine on a fresh database with all tables created."""
    eng = make_engine(database_url)
    init_db(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def bigmax_home(tmp_path, monkeypatch, database_url):
    """BIGMAX_HOME and BIGMAX_DATABASE_URL pointing at a fresh archive for CLI tests."""
    home = tmp_path / "home"
    monkeypatch.setenv("BIGMAX_HOME", str(home))
    monkeypatch.setenv("BIGMAX_DATABASE_URL", database_url)
    monkeypatch.delenv("BIGMAX_FILES_URL", raising=False)
    return home
