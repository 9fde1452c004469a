"""Datasets: named collections of entries that a user curates and then freezes for citation.

A dataset is visible to its owner while it is open, and to everyone once it is frozen. Its
members are entry ids; a viewer only ever sees (and counts) the members it may read, so a frozen
dataset never reveals private or embargoed entries. Freezing gives a stable local persistent id
(``bigmax:ds/<hash>``) and a citation; minting a real DOI (DataCite) is not done here.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, delete, insert, or_, select, true, update
from sqlalchemy.engine import Connection, Engine

from bigmax.archive.access import Viewer, entry_scope, utcnow
from bigmax.archive.db import DatasetEntryRow, DatasetRow, EntryRow, UploadRow, UserRow
from bigmax.archive.lifecycle import PermissionDenied

PID_PREFIX = "bigmax:ds/"
MAX_NAME = 256
MAX_ENTRIES_PER_CALL = 10_000


class DatasetNotFound(LookupError):
    """No such dataset, or one the viewer may not see (the two are not told apart)."""


class DatasetError(ValueError):
    """A request the dataset cannot honour: bad name, frozen, unknown or unreadable entries."""


@dataclass
class Dataset:
    dataset_id: str
    name: str
    description: str | None
    owner: str | None  # username
    created_at: datetime
    frozen_at: datetime | None
    pid: str | None
    citation: str | None
    n_entries: int = 0  # members the viewer may read
    entry_ids: list[str] = field(default_factory=list)

    @property
    def frozen(self) -> bool:
        return self.frozen_at is not None


def _visible(viewer: Viewer):
    if viewer.is_admin:
        return true()
    if viewer.user_id is None:
        return DatasetRow.frozen_at.is_not(None)
    return or_(DatasetRow.frozen_at.is_not(None), DatasetRow.owner_id == viewer.user_id)


def _base():
    return select(*DatasetRow.__table__.c, UserRow.username).outerjoin(
        UserRow, UserRow.user_id == DatasetRow.owner_id
    )


def _readable_members(conn: Connection, viewer: Viewer, dataset_ids: list[str]):
    """(dataset_id, entry_id) of members the viewer may read, in entry-id order."""
    stmt = (
        select(DatasetEntryRow.dataset_id, DatasetEntryRow.entry_id)
        .join(EntryRow, EntryRow.entry_id == DatasetEntryRow.entry_id)
        .where(DatasetEntryRow.dataset_id.in_(dataset_ids), entry_scope(viewer))
        .order_by(DatasetEntryRow.entry_id)
    )
    return conn.execute(stmt).all()


def _dataset(row, members: list[str], with_ids: bool) -> Dataset:
    return Dataset(
        dataset_id=row.dataset_id,
        name=row.name,
        description=row.description,
        owner=row.username,
        created_at=row.created_at,
        frozen_at=row.frozen_at,
        pid=row.pid,
        citation=row.citation,
        n_entries=len(members),
        entry_ids=members if with_ids else [],
    )


def create_dataset(
    engine: Engine, viewer: Viewer, name: str, description: str | None = None
) -> Dataset:
    """A new, empty, open dataset owned by ``viewer``."""
    if viewer.user_id is None:
        raise PermissionDenied("log in to create a dataset")
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise DatasetError(f"name: 1 to {MAX_NAME} characters, got {len(name)}")
    row = {
        "dataset_id": secrets.token_hex(16),
        "name": name,
        "owner_id": viewer.user_id,
        "description": description,
        "created_at": utcnow(),
    }
    with engine.begin() as conn:
        conn.execute(insert(DatasetRow).values(**row))
    return get_dataset(engine, viewer, row["dataset_id"])


def list_datasets(engine: Engine, viewer: Viewer) -> list[Dataset]:
    """Frozen datasets and the viewer's own, newest first, with readable-member counts."""
    with engine.connect() as conn:
        rows = conn.execute(
            _base().where(_visible(viewer)).order_by(DatasetRow.created_at.desc())
        ).all()
        members: dict[str, list[str]] = {}
        ids = [r.dataset_id for r in rows]
        for start in range(0, len(ids), 500):
            for ds_id, entry_id in _readable_members(conn, viewer, ids[start : start + 500]):
                members.setdefault(ds_id, []).append(entry_id)
    return [_dataset(r, members.get(r.dataset_id, []), False) for r in rows]


def _row(conn: Connection, viewer: Viewer, dataset_id: str):
    found = conn.execute(
        _base().where(DatasetRow.dataset_id == dataset_id, _visible(viewer))
    ).first()
    if found is None:
        raise DatasetNotFound(f"no dataset {dataset_id!r}")
    return found


def get_dataset(engine: Engine, viewer: Viewer, dataset_id: str) -> Dataset:
    """One dataset with the ids of the members the viewer may read."""
    with engine.connect() as conn:
        row = _row(conn, viewer, dataset_id)
        members = [e for _, e in _readable_members(conn, viewer, [dataset_id])]
    return _dataset(row, members, True)


def _editable(conn: Connection, viewer: Viewer, dataset_id: str):
    row = _row(conn, viewer, dataset_id)
    if not (viewer.is_admin or (viewer.user_id and row.owner_id == viewer.user_id)):
        raise PermissionDenied(f"only the owner of dataset {dataset_id!r} may change it")
    if row.frozen_at is not None:
        raise DatasetError(f"dataset {dataset_id!r} is frozen ({row.pid}) and cannot change")
    return row


def _check_ids(entry_ids: list[str]) -> list[str]:
    if not isinstance(entry_ids, list) or not all(isinstance(e, str) for e in entry_ids):
        raise DatasetError("entry_ids: expected a list of entry id strings")
    if not entry_ids:
        raise DatasetError("entry_ids: give at least one entry id")
    if len(entry_ids) > MAX_ENTRIES_PER_CALL:
        raise DatasetError(f"entry_ids: at most {MAX_ENTRIES_PER_CALL} per call")
    return list(dict.fromkeys(entry_ids))


def add_entries(engine: Engine, viewer: Viewer, dataset_id: str, entry_ids: list[str]) -> Dataset:
    """Add entries the owner may read; unknown and unreadable ids are refused together (one
    message for both, so it says nothing about entries the owner cannot see)."""
    wanted = _check_ids(entry_ids)
    with engine.begin() as conn:
        _editable(conn, viewer, dataset_id)
        readable: set[str] = set()
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            stmt = select(EntryRow.entry_id).where(EntryRow.entry_id.in_(part), entry_scope(viewer))
            readable.update(conn.execute(stmt).scalars())
        missing = [e for e in wanted if e not in readable]
        if missing:
            shown = ", ".join(map(repr, missing[:5])) + (" ..." if len(missing) > 5 else "")
            raise DatasetError(f"entry_ids: {len(missing)} not found or not readable: {shown}")
        present = set(
            conn.execute(
                select(DatasetEntryRow.entry_id).where(
                    DatasetEntryRow.dataset_id == dataset_id, DatasetEntryRow.entry_id.in_(wanted)
                )
            ).scalars()
        )
        new = [{"dataset_id": dataset_id, "entry_id": e} for e in wanted if e not in present]
        if new:
            conn.execute(insert(DatasetEntryRow), new)
    return get_dataset(engine, viewer, dataset_id)


def remove_entries(
    engine: Engine, viewer: Viewer, dataset_id: str, entry_ids: list[str]
) -> Dataset:
    """Remove members; ids that are not members are ignored."""
    wanted = _check_ids(entry_ids)
    with engine.begin() as conn:
        _editable(conn, viewer, dataset_id)
        conn.execute(
            delete(DatasetEntryRow).where(
                DatasetEntryRow.dataset_id == dataset_id, DatasetEntryRow.entry_id.in_(wanted)
            )
        )
    return get_dataset(engine, viewer, dataset_id)


def make_pid(dataset_id: str, entry_ids: list[str], frozen_at: datetime) -> str:
    """``bigmax:ds/<26 base32 chars>``: a hash of the dataset, its members and freeze time."""
    digest = hashlib.sha256(
        "\x1f".join([dataset_id, frozen_at.isoformat(), *sorted(entry_ids)]).encode()
    ).digest()
    return PID_PREFIX + base64.b32encode(digest[:16]).decode().lower().rstrip("=")


def _authors(conn: Connection, dataset_id: str, owner: str | None) -> list[str]:
    """Upload authors of the members, in first-seen order; the owner when there are none."""
    stmt = (
        select(UploadRow.authors)
        .where(
            UploadRow.upload_id.in_(
                select(EntryRow.upload_id)
                .join(DatasetEntryRow, DatasetEntryRow.entry_id == EntryRow.entry_id)
                .where(DatasetEntryRow.dataset_id == dataset_id)
            )
        )
        .order_by(UploadRow.created_at, UploadRow.upload_id)
    )
    names: dict[str, None] = {}
    for authors in conn.execute(stmt).scalars():
        for author in authors or []:
            if isinstance(author, dict) and author.get("name"):
                names[author["name"]] = None
    return list(names) or ([owner] if owner else [])


def citation(authors: list[str], title: str, year: int, pid: str, n_entries: int) -> str:
    who = "; ".join(authors) if authors else "Anonymous"
    noun = "entry" if n_entries == 1 else "entries"
    return f"{who} ({year}). {title} [Data set, {n_entries} {noun}]. BigMax. {pid}"


def freeze(engine: Engine, viewer: Viewer, dataset_id: str) -> Dataset:
    """Make the dataset immutable and public, with a persistent id and a citation. Every
    member must be published (public or embargoed), since the citation is public."""
    with engine.begin() as conn:
        row = _editable(conn, viewer, dataset_id)
        members = list(
            conn.execute(
                select(DatasetEntryRow.entry_id).where(DatasetEntryRow.dataset_id == dataset_id)
            ).scalars()
        )
        if not members:
            raise DatasetError(f"dataset {dataset_id!r} is empty; add entries before freezing")
        unpublished = list(
            conn.execute(
                select(EntryRow.entry_id)
                .join(UploadRow, UploadRow.upload_id == EntryRow.upload_id)
                .where(EntryRow.entry_id.in_(members), UploadRow.published.is_(False))
                .order_by(EntryRow.entry_id)
            ).scalars()
        )
        if unpublished:  # a public citation must not count (or name) unpublished data
            shown = ", ".join(map(repr, unpublished[:5])) + (" ..." if len(unpublished) > 5 else "")
            raise DatasetError(
                f"entry_ids: {len(unpublished)} entries are unpublished; publish their uploads "
                f"or remove them before freezing: {shown}"
            )
        owner = row.username
        now = utcnow()
        pid = make_pid(dataset_id, members, now)
        text = citation(_authors(conn, dataset_id, owner), row.name, now.year, pid, len(members))
        done = conn.execute(
            update(DatasetRow)
            .where(and_(DatasetRow.dataset_id == dataset_id, DatasetRow.frozen_at.is_(None)))
            .values(frozen_at=now, pid=pid, citation=text)
        )
        if done.rowcount != 1:  # frozen by a concurrent request in between
            raise DatasetError(f"dataset {dataset_id!r} is frozen and cannot change")
    return get_dataset(engine, viewer, dataset_id)
