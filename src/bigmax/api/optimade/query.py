"""OPTIMADE list and single-entry queries over the archive's SQL tables.

Query parameters are parsed here (with OPTIMADE's 400/403/501 errors), the filter goes through
``bigmax.search.compile_filter`` (compiled filters are cached by text), and the scope always
comes from ``bigmax.archive.access``. Embargoed entries follow the native API's rule: a list
includes them only when the filter, the sort and ``response_fields`` name nothing but what an
embargoed entry shows (formula, elements, space group, ids); a single embargoed structure shows
those properties and null for the rest.

Each entry's attributes are serialized at ingest (``optimade_structures``), so a page is a few
index lookups and string concatenation. Counts are cached per archive generation, viewer and
filter (``bigmax.search.cache``).
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import ColumnElement

from bigmax.api.optimade.responses import OptimadeError
from bigmax.archive.access import EMBARGO_FINDABLE, Viewer, entry_scope, findable_entry_scope
from bigmax.archive.db import ArchiveRow, EntryRow, OptimadeRow, archive_generation
from bigmax.search.cache import CHEAP_MATCHES, CountCache, WouldBlock
from bigmax.search.errors import FilterError, QueryError, UnknownPropertyWarning
from bigmax.search.fields import SearchField, get_field, get_optimade_field
from bigmax.search.optimade_filter import compile_filter, filter_properties
from bigmax.search.optimade_properties import (
    dumps,
    property_names,
    structure_attributes_json,
)
from bigmax.search.pagination import decode_cursor, encode_cursor
from bigmax.search.query import (
    _page_plan,
    _row_estimate,
    _without_index_ranges,
    indexed_lookup,
)

DEFAULT_PAGE_LIMIT = 20
MAX_PAGE_LIMIT = 1000

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
    data: list[str]  # each resource object as JSON text
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


def _order_by(sort: list[tuple[SearchField, bool]], cols=None, pk=None) -> list[Any]:
    """ORDER BY terms for ``sort``, on the entries columns or on ``cols`` and ``pk`` (the same
    values, selected by a subquery)."""
    cols = [f.column for f, _ in sort] if cols is None else cols
    pk = EntryRow.pk if pk is None else pk
    terms: list[Any] = []
    for (f, desc), col in zip(sort, cols, strict=True):
        if f.nullable:
            terms.append(col.desc().nulls_last() if desc else col.asc().nulls_last())
        else:
            terms.append(col.desc() if desc else col.asc())
    if not (len(sort) == 1 and sort[0][0].unique):
        terms.append(pk.desc() if sort[-1][1] else pk.asc())
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



# -- access: which entries a request may see ---------------------------------------------------

_FINDABLE_FIELDS = frozenset(f.name for n in EMBARGO_FINDABLE if (f := get_field(n)) is not None)


@lru_cache(maxsize=1)
def findable_attributes() -> frozenset[str]:
    """OPTIMADE attributes an embargoed entry shows to anyone: formula, elements, space group
    and ids (``elements_ratios`` is the reduced formula's composition)."""
    names = {"elements_ratios"}
    for name in property_names():
        f = get_optimade_field(name)
        if f is not None and f.name in _FINDABLE_FIELDS:
            names.add(name)
    return frozenset(names - {"id", "type"})


def _findable_property(name: str) -> bool:
    if name in ("id", "type"):
        return True
    f = get_optimade_field(name)
    return f is not None and f.name in _FINDABLE_FIELDS


def base_scope(viewer: Viewer, findable: bool = False) -> ColumnElement[bool]:
    """Entries OPTIMADE serves to ``viewer``: fully readable ones with a composition, plus
    embargoed ones when ``findable`` (the request touches only what they show)."""
    scope = findable_entry_scope(viewer) if findable else entry_scope(viewer)
    return and_(scope, EntryRow.formula_reduced.is_not(None))


@dataclass(frozen=True)
class CompiledFilter:
    clause: ColumnElement[bool] | None
    notes: tuple[dict[str, Any], ...]
    findable: bool  # it names only properties an embargoed entry shows


_COMPILED: dict[str, CompiledFilter] = {}


def _compile_cached(text: str) -> CompiledFilter:
    hit = _COMPILED.get(text)
    if hit is None:
        hit = _compile(text)
        if len(_COMPILED) >= 2048:
            _COMPILED.clear()
        _COMPILED[text] = hit
    return hit


def _compile(text: str) -> CompiledFilter:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownPropertyWarning)
        clause = compile_filter(text)
    notes = tuple(
        {"type": "warning", "title": "UnknownProviderProperty", "detail": str(w.message)}
        for w in caught
        if issubclass(w.category, UnknownPropertyWarning)
    )
    findable = all(_findable_property(name) for name in filter_properties(text))
    return CompiledFilter(clause, notes, findable)


def compile_optimade_filter(text: str | None, cheap_only: bool = False) -> CompiledFilter:
    """The SQL condition of ``filter`` plus OPTIMADE warnings; 400 or 501 on errors. Parsing
    a filter costs ~10 ms: with ``cheap_only`` only filters parsed before are served."""
    if text is None or not text.strip():
        return CompiledFilter(None, (), True)
    if cheap_only and text.strip() not in _COMPILED:
        raise WouldBlock("the filter has not been parsed yet")
    try:
        return _compile_cached(text.strip())
    except FilterError as err:
        raise OptimadeError(501 if err.not_implemented else 400, str(err)) from None
    except QueryError as err:
        raise OptimadeError(400, str(err)) from None


def _viewer_key(viewer: Viewer) -> tuple:
    return (viewer.user_id, viewer.is_admin)


def _count(conn: Connection, cache: CountCache, key: tuple, where, cheap_only: bool) -> int:
    """The cached count for ``key``, or the count of ``where()`` (built only when needed)."""
    cached = cache.get(key)
    if cached is not None:
        return cached
    if cheap_only:
        raise WouldBlock("the count is not cached")
    stmt = lambda: select(func.count()).select_from(EntryRow).where(where())  # noqa: E731
    return cache.compute(key, lambda: conn.execute(stmt()).scalar() or 0)


def _walk_order_index(
    conn: Connection,
    cache: CountCache,
    generation: int,
    f: SearchField,
    count: int,
    limit: int,
    indexed: bool,
) -> bool:
    """True when walking the sort field's index (testing each row) beats collecting all
    matches and sorting them: when matches are common. Only SQLite needs the hint; the
    rule is the search module's (``_page_plan``)."""
    key = (generation, "rows")
    n_all = cache.get(key)
    if n_all is None:
        n_all = _row_estimate(conn)
        cache.put(key, n_all)
    return _page_plan(conn, f, count, limit, n_all, indexed) == "ordered_scan"


class _Statements:
    """Built SELECTs by what shapes them (filter, viewer, sort, page, plan): building one and
    rewriting it for the index walk costs more than running it. Every value that changes
    between requests (the clock, a cursor) is a bound parameter or keeps it out of here."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._data: dict[tuple, Any] = {}

    def get(self, key: tuple, build) -> Any:
        stmt = self._data.get(key)
        if stmt is None:
            stmt = build()
            if len(self._data) >= self.size:
                self._data.clear()
            self._data[key] = stmt
        return stmt


_STATEMENTS = _Statements()


# -- resources: pre-serialized attributes ------------------------------------------------------


def _missing_attributes(conn: Connection, pks: list[int]) -> dict[int, str]:
    """Attributes of entries ingested before ``optimade_structures`` existed, from archives."""
    stmt = select(ArchiveRow.entry_pk, ArchiveRow.data).where(ArchiveRow.entry_pk.in_(pks))
    return {pk: structure_attributes_json(json.loads(data)) for pk, data in conn.execute(stmt)}


def _attributes(conn: Connection, rows: list[Any]) -> list[tuple[str, str]]:
    """(entry id, attributes JSON) per row; rows carry ``pk``, ``entry_id``, ``attributes``."""
    missing = [r.pk for r in rows if r.attributes is None]
    filled = _missing_attributes(conn, missing) if missing else {}
    out = []
    for r in rows:
        text = r.attributes if r.attributes is not None else filled.get(r.pk)
        if text is not None:
            out.append((r.entry_id, text))
    return out


def _resource(entry_id: str, attributes: str, fields: list[str] | None, hide=None) -> str:
    """A resource object as JSON text. With ``fields`` only those attributes; ``hide`` (a set
    of attribute names that may show) nulls every other attribute."""
    if fields is not None or hide is not None:
        attrs = json.loads(attributes)
        if hide is not None:
            attrs = {k: (v if k in hide else None) for k, v in attrs.items()}
        if fields is not None:
            attrs = {name: attrs.get(name) for name in fields if name not in ("id", "type")}
        attributes = dumps(attrs)
    return f'{{"id":{json.dumps(entry_id)},"type":"structures","attributes":{attributes}}}'


# -- the two queries ---------------------------------------------------------------------------


def list_structures(
    engine: Engine,
    viewer: Viewer,
    params: Mapping[str, str],
    cache: CountCache,
    cheap_only: bool = False,
) -> Page:
    """One page of /structures for ``params`` (the request's query parameters). With
    ``cheap_only`` it raises WouldBlock instead of running anything slow."""
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
    compiled = compile_optimade_filter(params.get("filter"), cheap_only)
    findable = (
        compiled.findable
        and fields is not None
        and all(_findable_property(n) for n in fields)
        and all(f.name in _FINDABLE_FIELDS for f, _ in sort)
    )
    filter_text = (params.get("filter") or "").strip() or None
    clause = compiled.clause
    single = sort[0] if len(sort) == 1 else None
    vkey = (_viewer_key(viewer), findable)
    cursor = None
    if cursor_text is not None:
        if single is None:
            raise OptimadeError(400, "page_cursor works with a single sort field; use page_offset")
        try:
            cursor = decode_cursor(single[0], cursor_text)
        except QueryError as err:
            raise OptimadeError(400, f"page_cursor: {err}") from None

    def where_of() -> ColumnElement[bool]:
        scope = base_scope(viewer, findable)
        # the filter first: SQLite tests terms in order, and the filter's integer tests reject
        # most rows before the access scope's subquery runs (HAS ALL: 1.45 -> 0.67 ms a page)
        return scope if clause is None else and_(clause, scope)

    with engine.connect() as conn:
        generation = archive_generation(conn)
        ckey = (generation, *vkey)
        available = _count(
            conn, cache, (*ckey, None), lambda: base_scope(viewer, findable), cheap_only
        )
        returned = (
            available
            if clause is None
            else _count(conn, cache, (*ckey, filter_text), where_of, cheap_only)
        )

        rows: list[Any] = []
        more = returned > (offset or 0)
        if limit and returned:
            indexed = clause is not None and indexed_lookup(clause)
            walk = single is not None and _walk_order_index(
                conn, cache, generation, single[0], returned, limit, indexed
            )
            if cheap_only and (not walk and returned > CHEAP_MATCHES or (offset or 0) > 1000):
                raise WouldBlock("the page sorts or skips many matches")

            def build():
                page_where = where_of()
                id_col = EntryRow.entry_id
                if above:
                    page_where = and_(page_where, id_col > above)
                if below:
                    page_where = and_(page_where, id_col < below)
                if cursor is not None:
                    page_where = and_(page_where, _after(single[0], single[1], *cursor))
                if walk:
                    page_where = _without_index_ranges(page_where, single[0])
                keys = [f"sort_{i}" for i in range(len(sort))]
                inner = (
                    select(
                        EntryRow.pk,
                        EntryRow.entry_id,
                        *(f.column.label(k) for (f, _), k in zip(sort, keys, strict=True)),
                    )
                    .where(page_where)
                    .order_by(*_order_by(sort))
                    .limit(limit + 1)
                )
                if offset:
                    inner = inner.offset(offset)
                # the page first, then its attributes: joined before the sort, every match's
                # attributes (kilobytes each) would be read and carried through it
                page = inner.subquery("page")
                return (
                    select(page.c.pk, page.c.entry_id, OptimadeRow.attributes, *page.c[2:])
                    .outerjoin(OptimadeRow, OptimadeRow.entry_pk == page.c.pk)
                    .order_by(*_order_by(sort, [page.c[k] for k in keys], page.c.pk))
                )

            if cursor is not None:
                stmt = build()  # the cursor's values are part of the statement
            else:
                key = (filter_text, *vkey, params.get("sort"), limit, offset, above, below, walk)
                stmt = _STATEMENTS.get(key, build)
            rows = conn.execute(stmt).all()
            more = len(rows) > limit
            rows = rows[:limit]
        served = _attributes(conn, rows) if rows else []

    next_params = None
    if more and limit:
        next_params = {k: v for k, v in params.items() if not k.startswith("page_")}
        next_params["page_limit"] = str(limit)
        if single is not None and offset is None and not below:
            last = rows[-1]
            next_params["page_cursor"] = encode_cursor(single[0], last.sort_0, last.pk)
        else:
            next_params["page_offset"] = str((offset or 0) + limit)
            for key in ("page_above", "page_below"):
                if params.get(key):
                    next_params[key] = params[key]
    data = [_resource(i, a, fields) for i, a in served]
    return Page(data, returned, available, more, next_params, list(compiled.notes))


def _one_statement(viewer: Viewer, findable: bool):
    return (
        select(EntryRow.pk, EntryRow.entry_id, OptimadeRow.attributes)
        .outerjoin(OptimadeRow, OptimadeRow.entry_pk == EntryRow.pk)
        .where(base_scope(viewer, findable), EntryRow.entry_id == bindparam("entry_id"))
    )


def get_structure(
    engine: Engine,
    viewer: Viewer,
    entry_id: str,
    params: Mapping[str, str],
    cache: CountCache,
    cheap_only: bool = False,
) -> tuple[str, int]:
    """(resource JSON, data_available) of one structure; 404 when ``viewer`` may not see it.
    An embargoed structure the viewer may not read shows only ``findable_attributes``."""
    check_params(params, SINGLE_PARAMS)
    fields = response_fields(params)
    vkey = _viewer_key(viewer)
    with engine.connect() as conn:
        for findable in (False, True):
            stmt = _STATEMENTS.get(
                ("one", vkey, findable), lambda f=findable: _one_statement(viewer, f)
            )
            served = _attributes(conn, conn.execute(stmt, {"entry_id": entry_id}).all())
            if served:
                break
        if not served:
            raise OptimadeError(404, f"no structure with id {entry_id!r}")
        key = (archive_generation(conn), vkey, findable, None)
        available = _count(conn, cache, key, lambda: base_scope(viewer, findable), cheap_only)
    hide = findable_attributes() if findable else None
    return _resource(*served[0], fields, hide), available
