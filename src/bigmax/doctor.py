"""Health checks behind ``bigmax doctor``: is this installation able to run an archive?

Each check returns a :class:`Check` in plain words with a hint to fix it; nothing here raises,
creates tables or changes stored data. Only throwaway probe files are written and removed.
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from bigmax.config import Settings

MIN_PYTHON = (3, 11)
#: Python packages whose versions the report shows.
KEY_PACKAGES = ("ase", "spglib", "sqlalchemy", "pydantic", "pyarrow", "optimade")
#: Below this much free space in BIGMAX_HOME the disk check fails.
MIN_FREE_BYTES = 1 << 30
#: Seconds to wait for a database server before calling it unreachable.
CONNECT_TIMEOUT_S = 5


@dataclass(frozen=True)
class Check:
    """The outcome of one check: ``detail`` says what was found, ``fix`` what to do if not ok."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def run_checks(settings: Settings) -> list[Check]:
    """Run every check against ``settings`` and return the results in a fixed order."""
    named = [
        ("python", _python),
        ("packages", _packages),
        ("home", _home),
        ("database", _database),
        ("file store", _files),
        ("disk space", _disk),
    ]
    checks: list[Check] = []
    for name, func in named:
        checks.extend(_guarded(name, func, settings))
    return checks


def _guarded(name: str, func: Callable[[Settings], list[Check]], settings: Settings) -> list[Check]:
    """A check that crashes is reported as a failed check, never as a traceback."""
    try:
        return func(settings)
    except Exception as err:  # the report must survive any failure
        return [
            Check(
                name,
                False,
                f"the check itself failed: {type(err).__name__}: {err}",
                "Please report this as a bug, with the output of `bigmax doctor`.",
            )
        ]


def _python(_settings: Settings) -> list[Check]:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info >= MIN_PYTHON:
        return [Check("python", True, f"Python {version} at {sys.executable}")]
    return [
        Check(
            "python",
            False,
            f"Python {version} is too old",
            "BigMax needs Python 3.11 or newer: make a new virtual environment with it.",
        )
    ]


def _packages(_settings: Settings) -> list[Check]:
    checks = []
    for name in KEY_PACKAGES:
        try:
            checks.append(Check(f"package {name}", True, metadata.version(name)))
        except metadata.PackageNotFoundError:
            checks.append(
                Check(
                    f"package {name}",
                    False,
                    "not installed",
                    "Reinstall BigMax with its dependencies: pip install -e .",
                )
            )
    return checks


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _probe_write(folder: Path) -> str | None:
    """Write and remove a small file in ``folder``; the error in words, or None if it worked."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".bigmax-doctor-"):
            pass
    except OSError as err:
        return err.strerror or str(err)
    return None


def _folder(name: str, path: Path, what: str) -> Check:
    """A folder that exists and is writable, or that can be created."""
    if path.exists() and not path.is_dir():
        return Check(
            name,
            False,
            f"{path} is a file, not a folder",
            f"Move the file away or point {what} at a folder.",
        )
    if path.is_dir():
        error = _probe_write(path)
        if error is None:
            return Check(name, True, f"{path} exists and is writable")
        return Check(
            name,
            False,
            f"cannot write to {path}: {error}",
            f"Give your user write permission on {path}, or point {what} elsewhere.",
        )
    parent = _nearest_existing(path.parent)
    if not parent.is_dir():
        return Check(
            name,
            False,
            f"{path} cannot be created: {parent} is a file",
            f"Point {what} at a folder you can write to.",
        )
    error = _probe_write(parent)
    if error is None:
        return Check(name, True, f"{path} does not exist yet; BigMax creates it when needed")
    return Check(
        name,
        False,
        f"{path} does not exist and cannot be created in {parent}: {error}",
        f"Create {path} yourself, or point {what} at a folder you can write to.",
    )


def _home(settings: Settings) -> list[Check]:
    return [_folder("home", Path(settings.home), "BIGMAX_HOME")]


def _sqlite_path(url) -> Path | None:
    """The file of a SQLite URL; None for an in-memory database."""
    if url.database in (None, "", ":memory:"):
        return None
    return Path(url.database)


def _database(settings: Settings) -> list[Check]:
    from sqlalchemy import inspect, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from bigmax.archive.db import Base, make_engine

    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        return [
            Check(
                "database",
                False,
                f"BIGMAX_DATABASE_URL is not a database URL: {settings.database_url!r}",
                "Use sqlite:////path/to/bigmax.sqlite or postgresql://USER@HOST:PORT/DATABASE.",
            )
        ]
    shown = url.render_as_string(hide_password=True)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path is not None and not path.exists():
            folder = _folder("database", path.parent, "BIGMAX_DATABASE_URL")
            if not folder.ok:
                return [folder]
            return [
                Check(
                    "database", True, f"{shown}: not created yet; BigMax creates it on first use"
                ),
                _wal_probe(path.parent),
            ]
    elif url.drivername in ("postgresql", "postgresql+psycopg", "postgresql+psycopg2"):
        url = url.update_query_dict({"connect_timeout": str(CONNECT_TIMEOUT_S)})
    try:
        engine = make_engine(url.render_as_string(hide_password=False))
    except (NoSuchModuleError, ImportError) as err:
        return [
            Check(
                "database",
                False,
                f"{shown}: no driver for {url.drivername!r} ({err})",
                "For PostgreSQL install the driver: pip install 'bigmax[postgres]'.",
            )
        ]
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            present = set(inspect(conn).get_table_names())
            journal = (
                conn.execute(text("PRAGMA journal_mode")).scalar() if backend == "sqlite" else None
            )
    except Exception as err:  # every failure becomes a plain message
        return [_explain_db_error(shown, backend, err)]
    finally:
        engine.dispose()
    checks = [_tables(shown, present, set(Base.metadata.tables))]
    if journal is not None:
        ok = str(journal).lower() == "wal"
        checks.append(
            Check(
                "sqlite journal",
                ok,
                f"journal mode {journal}",
                ""
                if ok
                else "The file system refuses SQLite's WAL mode (a network share?): "
                "put the database on a local disk.",
            )
        )
    return checks


def _tables(shown: str, present: set[str], expected: set[str]) -> Check:
    missing = sorted(expected - present)
    if not missing:
        return Check("database", True, f"{shown}: reachable, all {len(expected)} tables present")
    if len(missing) == len(expected):
        return Check(
            "database",
            True,
            f"{shown}: reachable and empty; BigMax creates its tables on first use",
        )
    return Check(
        "database",
        False,
        f"{shown}: reachable, but tables are missing: " + ", ".join(missing),
        "This database was made by another version of BigMax or changed by hand: "
        "point BIGMAX_DATABASE_URL at a new database and ingest again.",
    )


def _explain_db_error(shown: str, backend: str, err: Exception) -> Check:
    """Turn a driver's error into words a user can act on."""
    message = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
    low = message.lower()
    if "connection refused" in low or "could not connect" in low:
        detail = "no database server answers at that address (is it running? right port?)"
        fix = "Start the PostgreSQL server, or correct host and port in BIGMAX_DATABASE_URL."
    elif "timeout" in low or "timed out" in low:
        detail = f"the server did not answer within {CONNECT_TIMEOUT_S} s"
        fix = "Check the host name, the network and any firewall between you and the server."
    elif "translate host name" in low or "name or service not known" in low:
        detail = "the host name in the URL is unknown"
        fix = "Correct the host in BIGMAX_DATABASE_URL."
    elif "password" in low or "authentication" in low or "pg_hba" in low:
        detail = "the server refused the user name or password"
        fix = "Correct the user and password in BIGMAX_DATABASE_URL, or the server's pg_hba.conf."
    elif "does not exist" in low:
        detail = "the server is up, but that database or role does not exist"
        fix = "Create it, e.g. createdb DATABASE, or correct the name in BIGMAX_DATABASE_URL."
    elif "permission denied" in low or "readonly" in low or "unable to open" in low:
        detail = "permission denied on the database (or its folder)"
        fix = "Give your user read and write access to the database file and its folder."
    elif "not a database" in low:
        detail = "the file is not a SQLite database"
        fix = "Point BIGMAX_DATABASE_URL at a BigMax database, or move the file away."
    else:
        detail = "cannot use the database"
        fix = "Check BIGMAX_DATABASE_URL and that the database server is running."
    return Check(
        "database", False, f"{shown} ({backend}): {detail}. The driver said: {message}", fix
    )


def _wal_probe(folder: Path) -> Check:
    """Whether a SQLite database in ``folder`` (which may not exist yet) can use WAL mode."""
    folder = _nearest_existing(folder)
    probe = folder / f".bigmax-doctor-{uuid.uuid4().hex}.sqlite"
    try:
        conn = sqlite3.connect(probe)
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as err:
        return Check(
            "sqlite journal",
            False,
            f"cannot make a SQLite database in {folder}: {err}",
            "Point BIGMAX_DATABASE_URL (or BIGMAX_HOME) at a folder you can write to.",
        )
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{probe}{suffix}").unlink(missing_ok=True)
    ok = mode.lower() == "wal"
    return Check(
        "sqlite journal",
        ok,
        f"WAL mode {'works' if ok else 'is refused'} in {folder}",
        ""
        if ok
        else "The file system refuses SQLite's WAL mode (a network share?): "
        "put the database on a local disk.",
    )


def _files(settings: Settings) -> list[Check]:
    url = settings.files_url
    if "://" not in url or url.startswith("file://"):
        path = Path(url.removeprefix("file://")).expanduser()
        return [_folder("file store", path, "BIGMAX_FILES_URL")]
    import fsspec

    probe = f"{url.rstrip('/')}/.bigmax-doctor-{uuid.uuid4().hex}"
    try:
        with fsspec.open(probe, "wb") as handle:
            handle.write(b"ok")
        fs, path = fsspec.core.url_to_fs(probe)
        fs.rm(path)
    except ImportError as err:
        return [
            Check(
                "file store",
                False,
                f"{url}: the protocol needs a package ({err})",
                "Install the fsspec implementation it names, e.g. pip install s3fs.",
            )
        ]
    except Exception as err:  # fsspec back ends raise many kinds
        return [
            Check(
                "file store",
                False,
                f"cannot write to {url}: {type(err).__name__}: {err}",
                "Check BIGMAX_FILES_URL, your credentials and that the bucket exists.",
            )
        ]
    return [Check("file store", True, f"{url} is writable")]


def _disk(settings: Settings) -> list[Check]:
    folder = _nearest_existing(Path(settings.home))
    usage = shutil.disk_usage(folder)
    gib = 1 << 30
    detail = f"{usage.free / gib:.1f} GiB free of {usage.total / gib:.1f} GiB at {folder}"
    ok = usage.free >= MIN_FREE_BYTES
    return [
        Check(
            "disk space",
            ok,
            detail,
            "" if ok else "Free some space, or point BIGMAX_HOME at a bigger disk.",
        )
    ]
