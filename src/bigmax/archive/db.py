"""The metadata database: uploads, raw files, entries with their search columns, and archives.

The ``entries`` table is kept narrow (only scalar search columns) so that scans and counts over
millions of rows stay fast; each entry's full processed JSON lives in ``archives`` beside it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    """A local account; ``password_hash`` is an argon2id hash (never the password)."""

    __tablename__ = "users"

    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)


class TokenRow(Base):
    """A bearer API token; only the sha256 of its secret is kept."""

    __tablename__ = "tokens"

    token_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.user_id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UploadRow(Base):
    """An upload. Private until published; published with ``embargo_until`` in the future it is
    embargoed (only formula, elements and space group findable), and public after that."""

    __tablename__ = "uploads"

    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    owner_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.user_id", ondelete="SET NULL"), nullable=True, index=True
    )
    authors: Mapped[list] = mapped_column(JSON, default=list)
    license: Mapped[str] = mapped_column(String(64), default="CC-BY-4.0")
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    references: Mapped[list] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    embargo_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UploadMemberRow(Base):
    """A user an unpublished or embargoed upload is shared with."""

    __tablename__ = "upload_members"

    upload_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.user_id", ondelete="CASCADE"), primary_key=True
    )


class RawFileRow(Base):
    """A raw file kept in the file store; ``reader`` is None for files no reader matched."""

    __tablename__ = "raw_files"

    upload_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    reader: Mapped[str | None] = mapped_column(String(64), nullable=True)


class EntryRow(Base):
    __tablename__ = "entries"

    pk: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[str] = mapped_column(String(32), unique=True)
    upload_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("uploads.upload_id", ondelete="CASCADE"), index=True
    )
    mainfile: Mapped[str] = mapped_column(String(1024))
    child_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    parser: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # material
    formula_hill: Mapped[str | None] = mapped_column(String(256), nullable=True)
    formula_reduced: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    formula_anonymous: Mapped[str | None] = mapped_column(String(256), nullable=True)
    elements: Mapped[str | None] = mapped_column(String(512), nullable=True)  # "Al,Ga,O"
    el_lo: Mapped[int] = mapped_column(BigInteger, default=0)
    el_hi: Mapped[int] = mapped_column(BigInteger, default=0)
    n_elements: Mapped[int | None] = mapped_column(Integer, nullable=True)
    n_sites: Mapped[int | None] = mapped_column(Integer, nullable=True)
    space_group_number: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    space_group_symbol: Mapped[str | None] = mapped_column(String(32), nullable=True)
    crystal_system: Mapped[str | None] = mapped_column(String(16), nullable=True)
    bravais_lattice: Mapped[str | None] = mapped_column(String(4), nullable=True)
    point_group: Mapped[str | None] = mapped_column(String(16), nullable=True)
    dimensionality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # method
    program_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    xc_functional: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # properties, SI
    total_energy: Mapped[float | None] = mapped_column(Float, nullable=True)
    energy_per_atom: Mapped[float | None] = mapped_column(Float, nullable=True)
    formation_energy_per_atom: Mapped[float | None] = mapped_column(Float, nullable=True)
    band_gap: Mapped[float | None] = mapped_column(Float, nullable=True)
    band_gap_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    max_force: Mapped[float | None] = mapped_column(Float, nullable=True)
    magnetic_moment: Mapped[float | None] = mapped_column(Float, nullable=True)

    # Range + element searches (band gap 1-3 eV AND HAS O) and their counts are answered from
    # these indexes alone: the range picks the slice and the masks are tested in the index
    # entry, so no table row is read for entries that do not match. upload_id is there for the
    # access scope, which every server request carries. PostgreSQL also carries entry_id and
    # pk, so a page of rare matches is an index-only scan there too.
    __table_args__ = (
        Index(
            "ix_entries_band_gap_masks",
            "band_gap",
            "el_lo",
            "el_hi",
            "upload_id",
            postgresql_include=["entry_id", "pk"],
        ),
        Index(
            "ix_entries_formation_energy_masks",
            "formation_energy_per_atom",
            "el_lo",
            "el_hi",
            "upload_id",
            postgresql_include=["entry_id", "pk"],
        ),
    )


class EntryElementRow(Base):
    """One row per (element, entry): serves element terms aggregations from an index."""

    __tablename__ = "entry_elements"

    element: Mapped[str] = mapped_column(String(3), primary_key=True)
    entry_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("entries.pk", ondelete="CASCADE"), primary_key=True
    )
    __table_args__ = (Index("ix_entry_elements_entry", "entry_pk"),)


class ArchiveRow(Base):
    """The full processed entry as JSON, kept beside its index row."""

    __tablename__ = "archives"

    entry_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("entries.pk", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[str] = mapped_column(Text)


class OptimadeRow(Base):
    """The entry's OPTIMADE attributes, serialized once at ingest: a page of /structures is then
    string concatenation, not a JSON decode and conversion of every archive per request.
    Entries ingested before this table existed have no row; they are converted when read."""

    __tablename__ = "optimade_structures"

    entry_pk: Mapped[int] = mapped_column(
        Integer, ForeignKey("entries.pk", ondelete="CASCADE"), primary_key=True
    )
    attributes: Mapped[str] = mapped_column(Text)


class ArchiveStateRow(Base):
    """One row: ``generation`` goes up with every change that can alter what a search returns
    (ingest, publish, embargo, share, delete). Caches of counts key on it, so every server
    process sees a write at once, whichever process made it."""

    __tablename__ = "archive_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(BigInteger, default=0)


class JobRow(Base):
    """The latest processing run of an upload, kept in the database so that every server
    process, and a restarted one, reports it. ``worker`` names the process running it
    (host:pid), so a run cut off by a crash can be told from one still going."""

    __tablename__ = "jobs"

    upload_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(512))
    owner_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    entries: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    worker: Mapped[str | None] = mapped_column(String(128), nullable=True)


class DatasetRow(Base):
    """A user's collection of entries; freezing it gives a persistent id and a citation."""

    __tablename__ = "datasets"

    dataset_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    owner_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.user_id", ondelete="SET NULL"), nullable=True, index=True
    )
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    frozen_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    pid: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    citation: Mapped[str | None] = mapped_column(Text, nullable=True)


class DatasetEntryRow(Base):
    """Membership by entry id (stable across re-processing), not by database key."""

    __tablename__ = "dataset_entries"

    dataset_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("datasets.dataset_id", ondelete="CASCADE"), primary_key=True
    )
    entry_id: Mapped[str] = mapped_column(String(32), primary_key=True, index=True)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA cache_size=-200000")  # 200 MB page cache
    cursor.execute("PRAGMA mmap_size=1073741824")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


#: Pooled SQLite connections kept open per process (as many again may overflow).
SQLITE_POOL_SIZE = 40


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and its folder is created."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # A server runs up to 40 requests at once in worker threads (AnyIO's default). Pooled
        # connections keep their page cache; overflow ones are opened (pragmas, cold cache)
        # and closed around every request, which costs more than the query.
        in_memory = parsed.database in (None, "", ":memory:")
        size = SQLITE_POOL_SIZE
        pool = {} if in_memory else {"pool_size": size, "max_overflow": size}
        engine = create_engine(url, **pool)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, pool_pre_ping=True)


def init_db(engine: Engine) -> None:
    """Create missing tables; existing data are left alone."""
    Base.metadata.create_all(engine)
    try:
        with engine.begin() as conn:
            if conn.execute(select(ArchiveStateRow.id)).first() is None:
                conn.execute(insert(ArchiveStateRow).values(id=1, generation=0))
    except IntegrityError:  # another server process made it first
        pass


def bump_generation(conn: Connection) -> None:
    """Mark the archive changed, inside the caller's transaction (so readers see the new
    generation exactly when they can see the change)."""
    conn.execute(update(ArchiveStateRow).values(generation=ArchiveStateRow.generation + 1))


_GENERATION = select(ArchiveStateRow.generation).where(ArchiveStateRow.id == 1)


def archive_generation(conn: Connection) -> int:
    """The archive's change counter (0 for a database made before it existed)."""
    return conn.execute(_GENERATION).scalar() or 0
