"""OPTIMADE list and single-entry queries over the archive's SQL tables.

Query parameters are parsed here (with OPTIMADE's 400/403/501 errors), the filter goes through
``bigmax.search.compile_filter``, and the scope always comes from ``entry_scope``: OPTIMADE
shows exactly the entries the viewer may fully read (embargoed entries stay hidden).
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from bigmax.api.optimade.responses import OptimadeError
from bigmax.archive.access import Viewer, entry_scope
from bigmax.archive.db import ArchiveRow, EntryRow
from bigmax.search.errors import FilterError, QueryError, UnknownPropertyWarning
from bigmax.search.fields import SearchField, get_optimade_field
from bigmax.search.optimade_filter import compile_filter
from bigmax.search.optimade_properties import property_names, structure_attributes
from bigmax.search.pagination import decode_cursor, encode_cursor
from bigmax.search.query import _page_plan, _without_index_ranges

DEFAULT_PAGE_LIMIT = 20
MAX_PAGE_LIMIT = 1000
#: Counts are cached this long (seconds) per viewer and filter: a client paging through one
#: filter pays for its count once. After an ingest or publish, counts may lag by this much.
#: BIGMAX_OPTIMADE_COUNT_TTL overrides it; 0 turns the cache off.
COUNT_TTL = float(os.environ.get("BIGMAX_OPTIMADE_COUNT_TTL", "10"))

LIST_PARAMS = frozenset(
    {
        "filter",
        "page_limit",
        "page_offset",
        "page_number",
        "page_cursor",
        "page_above",
        "page_below",
        "sort",
        "include",
        "response_format",
        "email_address",
        "response_fields",
        "api_hint",
    }
)
SINGLE_PARAMS = frozenset(
    {"response_format", "email_address", "response_fields", "include", "api_hint"}
)
_FIELD_NAME = re.compile(r"^[a-z_][a-z_0-9]*$")


@dataclass
class Page:
    data: list[dict[str, Any]]
    data_returned: int
    data_available: int
    more: bool
    next_params: dict[str, str] | None
    warnings: list[dict[str, Any]] = field(default_factory=list)


def check_params(params: Mapping[str, str], allowed: frozenset[str]) -> None:
    """400 for unknown standard parameters; provider-prefixed ones (``_x_...``) are ignored."""
    for name in params:
        if name in allowed or name.startswith("_"):
            continue
        raise OptimadeError(
            400, f"unknown query parameter {name!r}; accepted: {', '.join(sorted(allowed))}"
        )
    fmt = params.get("response_format")
    if fmt not in (None, "", "json"):
        raise OptimadeError(400, f"response_format: only 'json' is served, not {fmt!r}")
    include = params.get("include")
    if include not in (None, "", "references"):
        raise OptimadeError(400, f"include: only 'references' is known, not {include!r}")


def _int_param(params: Mapping[str, str], name: str, minimum: int) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise OptimadeError(400, f"{name}: expected an integer, got {raw!r}") from None
    if value < minimum:
        raise OptimadeError(400, f"{name}: must be at least {minimum}, got {value}")
    return value


def response_fields(params: Mapping[str, str]) -> list[str] | None:
    raw = params.get("response_fields")
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    for name in names:
        if not _FIELD_NAME.match(name):
            raise OptimadeError(400, f"response_fields: {name!r} is not a property name")
    return list(dict.fromkeys(names))


def parse_sort(raw: str | None) -> list[tuple[SearchField, bool]]:
    """[(field, descending)] for ``sort``; the default is ``id`` ascending."""
    if not raw:
        return [(get_optimade_field("id"), False)]  # type: ignore[list-item]
    out = []
    known = set(property_names())
    for part in raw.split(","):
        name = part.strip()
        desc = name.startswith("-")
        name = name.lstrip("-")
        f = get_optimade_field(name)
        if f is None or name not in known:
            raise OptimadeError(400, f"sort: unknown property {name!r}")
        if f.kind == "elements" or f.name == "nperiodic_dimensions":
            raise OptimadeError(400, f"sort: {name!r} is not sortable")
        out.append((f, desc))
    return out


def _order_by(sort: list[tuple[SearchField, bool]]) -> list[Any]:
    terms: list[Any] = []
    for f, desc in sort:
        col = f.column
        if f.nullable:
            terms.append(col.desc().nulls_last() if desc else col.asc().nulls_last())
        else:
            terms.append(col.desc() if desc else col.asc())
    if not (len(sort) == 1 and sort[0][0].unique):
        terms.append(EntryRow.pk.desc() if sort[-1][1] else EntryRow.pk.asc())
    return terms


def _after(f: SearchField, desc: bool, value: Any, pk: int) -> ColumnElement[bool]:
    """Rows after (value, pk) in the single-field order used by ``page_cursor``."""
    col, pk_col = f.column, EntryRow.pk
    if f.unique and value is not None:
        return col < value if desc else col > value
    if value is None:  # NULLs come last in both directions
        return and_(col.is_(None), pk_col < pk if desc else pk_col > pk)
    beyond = col < value if desc else col > value
    tie = and_(col == value, pk_col < pk if desc else pk_col > pk)
    parts = [beyond, tie]
    if f.nullable:
        parts.append(col.is_(None))
    return or_(*parts)


def base_scope(viewer: Viewer) -> ColumnElement[bool]:
    """Entries OPTIMADE serves to ``viewer``: fully readable ones with a composition."""
    return and_(entry_scope(viewer), EntryRow.formula_reduced.is_not(None))


def compile_optimade_filter(text: str | None) -> tuple[ColumnElement[bool] | None, list[dict]]:
    """The SQL condition of ``filter`` plus OPTIMADE warnings; 400 or 501 on errors."""
    if text is None or not text.strip():
        return None, []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnknownPropertyWarning)
            clause = compile_filter(text)
    except FilterError as err:
        raise OptimadeError(501 if err.not_implemented else 400, str(err)) from None
    except QueryError as err:
        raise OptimadeError(400, str(err)) from None
    notes = [
        {"type": "warning", "title": "UnknownProviderProperty", "detail": str(w.message)}
        for w in caught
        if issubclass(w.category, UnknownPropertyWarning)
    ]
    return clause, notes


class CountCache:
    """Short-lived counts keyed by (scope key, filter text); thread-safe, bounded."""

    def __init__(self, ttl: float = COUNT_TTL, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._data: dict[tuple, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> int | None:
        if self.ttl <= 0:
            return None
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: tuple, value: int) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)


def _viewer_key(viewer: Viewer) -> tuple:
    return (viewer.user_id, viewer.is_admin)


def _count(engine: Engine, cache: CountCache, key: tuple, where: ColumnElement[bool]) -> int:
    cached = cache.get(key)
    if cached is not None:
        return cached
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(EntryRow).where(where)).scalar() or 0
    cache.put(key, n)
    return n


def _archives(conn: Connection, pks: list[int]) -> dict[int, str]:
    if not pks:
        return {}
    stmt = select(ArchiveRow.entry_pk, ArchiveRow.data).where(ArchiveRow.entry_pk.in_(pks))
    return dict(conn.execute(stmt).all())


def _walk_order_index(conn: Connection, f: SearchField, count: int, limit: int) -> bool:
    """True when walking the sort field's index (testing each row) beats collecting all
    matches and sorting them: when matches are common. Only SQLite needs the hint; the
    rule is the search module's (``_page_plan``)."""
    return _page_plan(conn, f, count, limit) == "ordered_scan"


def _rows_to_data(rows: list[Any], fields: list[str] | None) -> list[dict[str, Any]]:
    out = []
    for row, data in rows:
        entry = json.loads(data)
        out.append(
            {
                "id": row.entry_id,
                "type": "structures",
                "attributes": structure_attributes(entry, fields),
            }
        )
    return out


def list_structures(
    engine: Engine, viewer: Viewer, params: Mapping[str, str], cache: CountCache
) -> Page:
    """One page of /structures for ``params`` (the request's query parameters)."""
    check_params(params, LIST_PARAMS)
    limit = _int_param(params, "page_limit", 0)
    limit = DEFAULT_PAGE_LIMIT if limit is None else limit
    if limit > MAX_PAGE_LIMIT:
        raise OptimadeError(403, f"page_limit: at most {MAX_PAGE_LIMIT}, got {limit}")
    offset = _int_param(params, "page_offset", 0)
    number = _int_param(params, "page_number", 1)
    if number is not None:
        offset = (offset or 0) + (number - 1) * limit
    cursor_text = params.get("page_cursor") or None
    above, below = params.get("page_above"), params.get("page_below")
    fields = response_fields(params)
    sort = parse_sort(params.get("sort"))
    if (above or below) and params.get("sort"):
        raise OptimadeError(
            400, "page_above/page_below page by id; they cannot be combined with sort"
        )
    clause, notes = compile_optimade_filter(params.get("filter"))

    scope = base_scope(viewer)
    where = scope if clause is None else and_(scope, clause)
    vkey = _viewer_key(viewer)
    available = _count(engine, cache, (vkey, None), scope)
    returned = (
        available
        if clause is None
        else _count(engine, cache, (vkey, params.get("filter", "").strip()), where)
    )

    page_where = where
    id_col = EntryRow.entry_id
    if above:
        page_where = and_(page_where, id_col > above)
    if below:
        page_where = and_(page_where, id_col < below)
    single = sort[0] if len(sort) == 1 else None
    if cursor_text is not None:
        if single is None:
            raise OptimadeError(400, "page_cursor works with a single sort field; use page_offset")
        try:
            value, pk = decode_cursor(single[0], cursor_text)
        except QueryError as err:
            raise OptimadeError(400, f"page_cursor: {err}") from None
        page_where = and_(page_where, _after(single[0], single[1], value, pk))

    sort_cols = [f.column for f, _ in sort]
    if limit == 0:
        rows: list[Any] = []
        more = returned > (offset or 0)
    else:
        with engine.connect() as conn:
            if single is not None and _walk_order_index(conn, single[0], returned, limit):
                page_where = _without_index_ranges(page_where, single[0])
            stmt = (
                select(EntryRow.pk, EntryRow.entry_id, *sort_cols)
                .where(page_where)
                .order_by(*_order_by(sort))
                .limit(limit + 1)
            )
            if offset:
                stmt = stmt.offset(offset)
            rows = conn.execute(stmt).all()
            more = len(rows) > limit
            rows = rows[:limit]
            archives = _archives(conn, [r.pk for r in rows])
        rows = [(r, archives[r.pk]) for r in rows if r.pk in archives]

    next_params = None
    if more and limit:
        next_params = {k: v for k, v in params.items() if not k.startswith("page_")}
        next_params["page_limit"] = str(limit)
        if single is not None and offset is None and not below:
            last = rows[-1][0]
            next_params["page_cursor"] = encode_cursor(single[0], last[2], last.pk)
        else:
            next_params["page_offset"] = str((offset or 0) + limit)
            for key in ("page_above", "page_below"):
                if params.get(key):
                    next_params[key] = params[key]
    return Page(_rows_to_data(rows, fields), returned, available, more, next_params, notes)


def get_structure(
    engine: Engine, viewer: Viewer, entry_id: str, params: Mapping[str, str], cache: CountCache
) -> tuple[dict[str, Any], int]:
    """(resource, data_available) of one structure; 404 when it is not visible to ``viewer``."""
    check_params(params, SINGLE_PARAMS)
    fields = response_fields(params)
    scope = base_scope(viewer)
    stmt = (
        select(EntryRow.pk, EntryRow.entry_id, ArchiveRow.data)
        .join(ArchiveRow, ArchiveRow.entry_pk == EntryRow.pk)
        .where(scope, EntryRow.entry_id == entry_id)
    )
    with engine.connect() as conn:
        rows = [(r, r.data) for r in conn.execute(stmt).all()]
    if not rows:
        raise OptimadeError(404, f"no structure with id {entry_id!r}")
    available = _count(engine, cache, (_viewer_key(viewer), None), scope)
    return _rows_to_data(rows, fields)[0], available
