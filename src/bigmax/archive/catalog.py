"""Read access to what is stored: uploads with their counts, and single entries."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.engine import Engine

from bigmax.archive.db import ArchiveRow, EntryRow, RawFileRow, UploadRow


class EntryNotFound(LookupError):
    pass


def list_uploads(engine: Engine) -> list[dict[str, Any]]:
    """Every upload with its numbers of files, entries and failed entries."""
    files = (
        select(RawFileRow.upload_id, func.count().label("files"))
        .group_by(RawFileRow.upload_id)
        .subquery()
    )
    entries = (
        select(
            EntryRow.upload_id,
            func.count().label("entries"),
            func.sum(case((EntryRow.state == "failed", 1), else_=0)).label("failed"),
        )
        .group_by(EntryRow.upload_id)
        .subquery()
    )
    stmt = (
        select(
            UploadRow.upload_id,
            UploadRow.name,
            UploadRow.created_at,
            UploadRow.published,
            func.coalesce(files.c.files, 0),
            func.coalesce(entries.c.entries, 0),
            func.coalesce(entries.c.failed, 0),
        )
        .outerjoin(files, files.c.upload_id == UploadRow.upload_id)
        .outerjoin(entries, entries.c.upload_id == UploadRow.upload_id)
        .order_by(UploadRow.created_at)
    )
    keys = ("upload_id", "name", "created_at", "published", "files", "entries", "failed")
    with engine.connect() as conn:
        return [dict(zip(keys, row, strict=True)) for row in conn.execute(stmt)]


def get_entry(engine: Engine, entry_id: str) -> dict[str, Any]:
    """The full processed entry; raises EntryNotFound naming the id."""
    stmt = (
        select(ArchiveRow.data)
        .join(EntryRow, EntryRow.pk == ArchiveRow.entry_pk)
        .where(EntryRow.entry_id == entry_id)
    )
    with engine.connect() as conn:
        data = conn.execute(stmt).scalar_one_or_none()
    if data is None:
        raise EntryNotFound(f"no entry with id {entry_id!r}")
    return json.loads(data)


def archives_for(engine: Engine, pks: list[int]) -> list[dict[str, Any]]:
    """Full entries for database keys ``pks``, in the order given (used by export)."""
    found: dict[int, str] = {}
    with engine.connect() as conn:
        for start in range(0, len(pks), 1000):
            part = pks[start : start + 1000]
            stmt = select(ArchiveRow.entry_pk, ArchiveRow.data).where(ArchiveRow.entry_pk.in_(part))
            found.update((pk, data) for pk, data in conn.execute(stmt))
    return [json.loads(found[pk]) for pk in pks if pk in found]
