"""Cursor pagination: ``page_after_value`` is the (order value, pk) of the last row shown.

Ordering is always (field, pk), so ties are broken the same way on every page and every row is
seen exactly once however many rows share a value. NULLs sort as the largest value: last when
ascending, first when descending, on both backends.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, or_
from sqlalchemy.sql import ColumnElement

from bigmax.archive.db import EntryRow
from bigmax.search.errors import QueryError
from bigmax.search.fields import SearchField

Order = Literal["asc", "desc"]


def order_clauses(f: SearchField, order: Order) -> list[Any]:
    """ORDER BY terms for ``f``; a unique non-null column needs no pk tie-breaker."""
    col, pk = f.column, EntryRow.pk
    if order == "asc":
        terms = [col.asc().nulls_last() if f.nullable else col.asc()]
        if not f.unique:
            terms.append(pk.asc())
    else:
        terms = [col.desc().nulls_first() if f.nullable else col.desc()]
        if not f.unique:
            terms.append(pk.desc())
    return terms


def encode_cursor(f: SearchField, value: Any, pk: int) -> str:
    """An opaque, URL-safe cursor for the row (value, pk)."""
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([value, pk], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(f: SearchField, cursor: str) -> tuple[Any, int]:
    """(value, pk) of ``cursor``; QueryError if it is not one we made for this order field."""
    bad = QueryError(
        f"page_after_value: {cursor!r} is not a cursor from a previous page ordered by {f.name!r}"
    )
    if not isinstance(cursor, str):
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
    except (binascii.Error, ValueError, TypeError):
        raise bad from None
    if not isinstance(pk, int) or isinstance(pk, bool):
        raise bad
    if value is None:
        if not f.nullable:
            raise bad
        return None, pk
    if f.kind == "datetime":
        if not isinstance(value, str):
            raise bad
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise bad from None
    elif f.kind in ("str", "elements"):
        if not isinstance(value, str):
            raise bad
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise bad
    return value, pk


def after_condition(f: SearchField, order: Order, value: Any, pk: int) -> ColumnElement[bool]:
    """Rows strictly after (value, pk) in the (field, pk) order with NULLs largest."""
    col, pk_col = f.column, EntryRow.pk
    if f.unique and value is not None:
        return col > value if order == "asc" else col < value
    if order == "asc":
        if value is None:
            return and_(col.is_(None), pk_col > pk)
        parts = [col > value, and_(col == value, pk_col > pk)]
        if f.nullable:
            parts.append(col.is_(None))
        return or_(*parts)
    if value is None:
        return or_(and_(col.is_(None), pk_col < pk), col.is_not(None))
    return or_(col < value, and_(col == value, pk_col < pk))
