"""The upload lifecycle after ingest: share, publish (with an optional embargo), delete."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from bigmax.archive.access import Viewer, utcnow
from bigmax.archive.db import (
    DatasetEntryRow,
    EntryRow,
    UploadMemberRow,
    UploadRow,
    bump_generation,
)
from bigmax.archive.store import FileStore

MAX_EMBARGO_MONTHS = 36


class PermissionDenied(PermissionError):
    pass


class UploadNotFound(LookupError):
    pass


def add_months(start: datetime, months: int) -> datetime:
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    days = [
        31,
        29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28,
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ]
    return start.replace(year=year, month=month, day=min(start.day, days[month - 1]))


def get_upload(engine: Engine, upload_id: str):
    """The upload's row (columns as attributes); UploadNotFound names the id."""
    with engine.connect() as conn:
        row = conn.execute(select(UploadRow).where(UploadRow.upload_id == upload_id)).first()
    if row is None:
        raise UploadNotFound(f"no upload {upload_id!r}")
    return row


def _check_owner(upload, viewer: Viewer) -> None:
    if not (viewer.is_admin or (viewer.user_id and upload.owner_id == viewer.user_id)):
        raise PermissionDenied(f"only the owner of upload {upload.upload_id!r} may change it")


def publish(engine: Engine, upload_id: str, viewer: Viewer, embargo_months: int = 0) -> None:
    """Make an upload immutable; with ``embargo_months`` > 0 only its basic metadata is findable
    until then."""
    if not 0 <= embargo_months <= MAX_EMBARGO_MONTHS:
        raise ValueError(f"embargo_months: 0 to {MAX_EMBARGO_MONTHS}, not {embargo_months}")
    upload = get_upload(engine, upload_id)
    _check_owner(upload, viewer)
    if upload.published:
        raise ValueError(f"upload {upload_id!r} is already published")
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            update(UploadRow)
            .where(UploadRow.upload_id == upload_id)
            .values(
                published=True,
                published_at=now,
                embargo_until=add_months(now, embargo_months) if embargo_months else None,
            )
        )
        bump_generation(conn)


def lift_embargo(engine: Engine, upload_id: str, viewer: Viewer) -> None:
    upload = get_upload(engine, upload_id)
    _check_owner(upload, viewer)
    with engine.begin() as conn:
        conn.execute(
            update(UploadRow).where(UploadRow.upload_id == upload_id).values(embargo_until=None)
        )
        bump_generation(conn)


def share(engine: Engine, upload_id: str, viewer: Viewer, user_id: str) -> None:
    upload = get_upload(engine, upload_id)
    _check_owner(upload, viewer)
    with engine.begin() as conn:
        exists = conn.execute(
            select(UploadMemberRow).where(
                UploadMemberRow.upload_id == upload_id, UploadMemberRow.user_id == user_id
            )
        ).first()
        if not exists:
            conn.execute(insert(UploadMemberRow).values(upload_id=upload_id, user_id=user_id))
            bump_generation(conn)


def delete_upload(engine: Engine, store: FileStore, upload_id: str, viewer: Viewer) -> None:
    """Delete an unpublished upload with its entries and raw files."""
    upload = get_upload(engine, upload_id)
    _check_owner(upload, viewer)
    if upload.published:
        raise PermissionDenied(f"upload {upload_id!r} is published and cannot be deleted")
    with engine.begin() as conn:
        ids = select(EntryRow.entry_id).where(EntryRow.upload_id == upload_id)
        conn.execute(delete(DatasetEntryRow).where(DatasetEntryRow.entry_id.in_(ids)))
        conn.execute(delete(UploadRow).where(UploadRow.upload_id == upload_id))
        bump_generation(conn)
    store.remove_upload(upload_id)
