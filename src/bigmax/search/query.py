"""The NOMAD-like JSON query language and the ``search`` entry point.

A query is a dict: each key a field (optionally ``field:op``) or one of ``and``, ``or``, ``not``,
``optimade_filter``; all keys must hold (AND). See docs/search.md for the full language.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Column, Connection, Engine, func, literal_column, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, BooleanClauseList, Grouping

from bigmax.archive.db import ArchiveRow, EntryRow
from bigmax.search.aggregations import AggregationRequest, run_aggregations
from bigmax.search.cache import CHEAP_MATCHES, CountCache, WouldBlock
from bigmax.search.conditions import all_of, any_of, compare, negate, set_condition
from bigmax.search.errors import QueryError
from bigmax.search.fields import SearchField, field_names, get_field
from bigmax.search.optimade_filter import compile_filter
from bigmax.search.pagination import (
    Order,
    after_condition,
    decode_cursor,
    encode_cursor,
    order_clauses,
)

Bind = Engine | Connection | Session

_RANGE_OPS = ("gt", "gte", "lt", "lte")
_LIST_OPS = ("any", "all", "none", "only")
_OPS = (*_RANGE_OPS, *_LIST_OPS)
_MAX_DEPTH = 64

#: Fields returned when ``required`` is not given.
DEFAULT_FIELDS = (
    "entry_id",
    "upload_id",
    "mainfile",
    "formula_reduced",
    "elements",
    "n_sites",
    "space_group_number",
    "program_name",
    "method_type",
    "band_gap",
    "formation_energy_per_atom",
)


def resolve_field(name: Any, where: str) -> SearchField:
    """The field called ``name``; QueryError with close matches otherwise."""
    if not isinstance(name, str):
        raise QueryError(f"{where}: field names are strings, got {name!r}")
    f = get_field(name)
    if f is None:
        close = difflib.get_close_matches(name, field_names(), n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise QueryError(f"{where}: unknown quantity {name!r}{hint}")
    return f


def _operation(f: SearchField, op: str, value: Any, where: str) -> ColumnElement[bool]:
    if op in _RANGE_OPS:
        if value is None or isinstance(value, list | dict):
            raise QueryError(f"{where}: {op!r} needs a single value, got {value!r}")
        return compare(f, op, value, where)
    if op in _LIST_OPS:
        return set_condition(f, op, value, where)
    raise QueryError(f"{where}: unknown operator {op!r}; use one of {', '.join(_OPS)}")


def _field_condition(key: str, value: Any, where: str) -> ColumnElement[bool]:
    name, sep, op = key.partition(":")
    f = resolve_field(name, where)
    if sep:
        return _operation(f, op, value, where)
    if isinstance(value, Mapping):
        if not value:
            raise QueryError(f"{where}: empty operator object; use e.g. {{'gte': 1}}")
        parts = []
        for op, v in value.items():
            if not isinstance(op, str):
                raise QueryError(f"{where}: operator names are strings, got {op!r}")
            parts.append(_operation(f, op, v, f"{where}.{op}"))
        return all_of(parts)
    if isinstance(value, list | tuple):
        return set_condition(f, "all", list(value), where)
    return compare(f, "eq", value, where)


def compile_query(query: Mapping[str, Any] | None, *, where: str = "query") -> ColumnElement[bool]:
    """The SQL condition of a JSON ``query``; None or {} matches everything.

    Conditions are cached by the query's text: parsing units ("1 eV") and building the clause
    costs more than running a typical search. Clauses are immutable, so sharing them is safe.
    """
    key = _plain_key(query, where)
    if key is None:
        return _compile(query, where, 0)
    hit = _COMPILED.get(key)
    if hit is None:
        hit = _compile(query, where, 0)
        if len(_COMPILED) >= _COMPILED_SIZE:
            _COMPILED.clear()
        _COMPILED[key] = hit
    return hit


_COMPILED: dict[str, ColumnElement[bool]] = {}
_COMPILED_SIZE = 2048
_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any, depth: int) -> bool:
    """JSON-like all through (str keys; no objects whose repr could hide their state)."""
    if depth > _MAX_DEPTH + 1:
        return False
    if isinstance(value, _SCALARS):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v, depth + 1) for k, v in value.items())
    return False


def _plain_key(query: Any, where: str) -> str | None:
    if not _plain(query, 0):
        return None
    return repr((where, query))


def _compile(query: Any, where: str, depth: int) -> ColumnElement[bool]:
    if query is None:
        return all_of([])
    if depth > _MAX_DEPTH:
        raise QueryError(f"{where}: nested deeper than {_MAX_DEPTH} levels")
    if not isinstance(query, Mapping):
        raise QueryError(f"{where}: expected an object of conditions, got {query!r}")
    clauses = []
    for key, value in query.items():
        if not isinstance(key, str):
            raise QueryError(f"{where}: keys must be strings, got {key!r}")
        path = f"{where}.{key}"
        if key in ("and", "or"):
            if not isinstance(value, list | tuple):
                raise QueryError(f"{path}: expected a list of queries")
            subs = [_compile(q, f"{path}[{i}]", depth + 1) for i, q in enumerate(value)]
            clauses.append(all_of(subs) if key == "and" else any_of(subs))
        elif key == "not":
            clauses.append(negate(_compile(value, path, depth + 1)))
        elif key == "optimade_filter":
            if not isinstance(value, str):
                raise QueryError(f"{path}: expected an OPTIMADE filter string")
            clauses.append(compile_filter(value))
        else:
            clauses.append(_field_condition(key, value, path))
    return all_of(clauses)


# -- request models -------------------------------------------------------------------------


class Pagination(BaseModel):
    """Cursor pagination: pass ``next_page_after_value`` back as ``page_after_value``."""

    model_config = ConfigDict(extra="forbid")

    page_size: int = Field(10, ge=0, le=10_000)
    order_by: str = "entry_id"
    order: Order = "asc"
    page_after_value: str | None = None


class Selection(BaseModel):
    """Which entries: a JSON query and/or an OPTIMADE filter, ANDed (both optional)."""

    model_config = ConfigDict(extra="forbid")

    query: dict[str, Any] | None = None
    filter: str | None = Field(None, description="OPTIMADE filter, ANDed with the query")

    @field_validator("query")
    @classmethod
    def _check_query(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        compile_query(v)
        return v

    @field_validator("filter")
    @classmethod
    def _check_filter(cls, v: str | None) -> str | None:
        if v and v.strip():
            compile_filter(v)
        return v


class SearchRequest(Selection):
    """A whole search request, as the REST API receives it; validates the query too."""

    pagination: Pagination = Field(default_factory=Pagination)
    required: list[str] | None = None
    aggregations: dict[str, AggregationRequest] = Field(default_factory=dict)
    total: bool = True


@dataclass
class SearchResult:
    """One page of results; ``total`` is None when it was not asked for."""

    total: int | None
    data: list[dict[str, Any]]
    next_page_after_value: str | None = None
    aggregations: dict[str, dict[str, Any]] = field(default_factory=dict)


# -- execution ------------------------------------------------------------------------------


@contextmanager
def _connect(bind: Bind) -> Iterator[Connection]:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            yield conn
    elif isinstance(bind, Session):
        yield bind.connection()
    elif isinstance(bind, Connection):
        yield bind
    else:
        raise TypeError(f"expected an Engine, Connection or Session, got {type(bind).__name__}")


def build_where(
    query: Mapping[str, Any] | None = None,
    filter: str | None = None,
    scope: ColumnElement[bool] | None = None,
) -> ColumnElement[bool]:
    """query AND filter AND scope: the one condition every part of a search uses.

    The same parts (the query's and filter's conditions are cached by text, scopes by viewer)
    give the same condition object, so statements built on it can be cached by it."""
    clauses = [compile_query(query)]
    if filter is not None and filter.strip():
        clauses.append(compile_filter(filter))
    if scope is not None:
        clauses.append(scope)
    parts = tuple(c for c in clauses if not _is_true(c))
    where = _WHERES.get(parts)
    if where is None:
        where = all_of(list(parts))
        if len(_WHERES) >= _COMPILED_SIZE:
            _WHERES.clear()
        _WHERES[parts] = where
    return where


#: Conditions and page statements by the objects they are built of (kept alive by the keys,
#: so an id is never reused while its entry exists).
_WHERES: dict[tuple, ColumnElement[bool]] = {}
_STATEMENTS: dict[tuple, Any] = {}


def _is_true(clause: ColumnElement[bool]) -> bool:
    from sqlalchemy.sql.elements import True_

    return isinstance(clause, True_)


#: Field kinds whose column values are already what the API returns.
_PLAIN_KINDS = frozenset({"str", "int", "float"})


def _output(f: SearchField, value: Any) -> Any:
    if value is None:
        return None
    if f.kind == "elements":
        return [s for s in value.split(",") if s]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def search(
    bind: Bind,
    query: Mapping[str, Any] | None = None,
    *,
    filter: str | None = None,
    scope: ColumnElement[bool] | None = None,
    order_by: str = "entry_id",
    order: Order = "asc",
    page_size: int = 10,
    page_after_value: str | None = None,
    required: Sequence[str] | None = None,
    aggregations: Mapping[str, Any] | None = None,
    total: bool = True,
    counts: CountCache | None = None,
    count_key: tuple | None = None,
    cheap_only: bool = False,
) -> SearchResult:
    """One page of entries matching ``query`` AND ``filter`` AND ``scope``.

    ``scope`` (e.g. access control) is applied to the data, the total and every aggregation,
    so nothing outside it can be seen through counts. Values are in SI.

    With ``counts`` and ``count_key``, the total (and the number of entries the page plan
    needs) is kept in ``counts`` under ``count_key``. The key must name everything the total
    depends on, and start with the archive generation (``archive_generation``), so that no
    count outlives a change to the archive.
    """
    if order not in ("asc", "desc"):
        raise QueryError(f"order: expected 'asc' or 'desc', got {order!r}")
    if isinstance(page_size, bool) or not isinstance(page_size, int) or not 0 <= page_size:
        raise QueryError(f"page_size: expected a non-negative integer, got {page_size!r}")
    if page_size > 10_000:
        raise QueryError("page_size: at most 10000; use iter_entry_pks for bulk export")
    order_field = resolve_field(order_by, "order_by")
    if order_field.kind == "elements":
        raise QueryError("order_by: cannot order by 'elements'; order by n_elements instead")
    if isinstance(required, str) or not isinstance(required, Sequence | None):
        raise QueryError(f"required: expected a list of field names, got {required!r}")
    names = list(DEFAULT_FIELDS if required is None else required)
    out_fields = [(n, resolve_field(n, "required")) for n in names]
    aggs = _validate_aggregations(aggregations)
    where = build_where(query, filter, scope)
    cursor = None
    if page_after_value is not None:
        cursor = decode_cursor(order_field, page_after_value)

    if cheap_only and (aggs or not total or counts is None or not count_key):
        raise WouldBlock("aggregations, or a page without a cached total")
    with _connect(bind) as conn:
        count = None
        if total:
            if cheap_only and counts.get(("total", *count_key)) is None:
                raise WouldBlock("the total is not cached")
            count = _cached(
                counts,
                count_key and ("total", *count_key),
                lambda: conn.execute(select(func.count()).select_from(EntryRow).where(where)),
            )
        data: list[dict[str, Any]] = []
        next_value = None
        if page_size and count != 0:
            page_where = where
            if cursor is not None:
                page_where = all_of([where, after_condition(order_field, order, *cursor)])
            n_all = None
            if counts is not None and count_key and count is not None:
                n_all = _cached(counts, (count_key[0], "rows"), lambda: _row_estimate(conn))
            plan = _page_plan(
                conn, order_field, count, page_size, n_all, indexed_lookup(where)
            )
            if cheap_only and plan != "ordered_scan" and (count or 0) > CHEAP_MATCHES:
                raise WouldBlock("the page sorts many matches")
            cols = [EntryRow.pk, order_field.column, *(f.column for _, f in out_fields)]
            if plan == "matches_first":
                rows = _page_matches_first(conn, cols, page_where, order_field, order, page_size)
            else:
                key = (where, tuple(names), order_field.name, order, page_size, plan)
                stmt = _STATEMENTS.get(key) if cursor is None else None
                if stmt is None:
                    if plan == "ordered_scan":
                        page_where = _without_index_ranges(page_where, order_field)
                    stmt = select(*cols).where(page_where)
                    stmt = stmt.order_by(*order_clauses(order_field, order)).limit(page_size + 1)
                    if cursor is None:  # a cursor's values are in the statement: not kept
                        if len(_STATEMENTS) >= _COMPILED_SIZE:
                            _STATEMENTS.clear()
                        _STATEMENTS[key] = stmt
                rows = conn.execute(stmt).all()
            plain = [
                (n, i + 2) for i, (n, f) in enumerate(out_fields) if f.kind in _PLAIN_KINDS
            ]
            other = [
                (n, i + 2, f) for i, (n, f) in enumerate(out_fields) if f.kind not in _PLAIN_KINDS
            ]
            for row in rows[:page_size]:
                item = {n: row[i] for n, i in plain}
                for n, i, f in other:
                    item[n] = _output(f, row[i])
                data.append({n: item[n] for n, _ in out_fields})  # in the order asked
            if len(rows) > page_size:
                last = rows[page_size - 1]
                next_value = encode_cursor(order_field, last[1], last[0])
        agg_results = {}
        if aggs:
            engine = bind if isinstance(bind, Engine) and not _in_memory(bind) else None
            agg_results = run_aggregations(conn, where, aggs, engine=engine)
    return SearchResult(count, data, next_value, agg_results)


def _cached(counts: CountCache | None, key: tuple | None, compute) -> int:
    """``compute()`` (an int, or a result whose scalar is one), kept in ``counts`` by ``key``."""

    def count() -> int:
        value = compute()
        return value if isinstance(value, int) else value.scalar() or 0

    if counts is None or key is None:
        return count()
    return counts.compute(key, count)


#: Walk the order index (testing each row) when that reads at most this many rows.
_ORDERED_SCAN_ROWS = 20_000

#: Leading columns of the entries indexes that pick a slice of the table (``state`` does not:
#: nearly every entry succeeds; ``upload_id`` is kept off by the access scope on purpose).
_SLICING = frozenset(
    {
        "pk",
        "entry_id",
        "formula_reduced",
        "space_group_number",
        "band_gap",
        "formation_energy_per_atom",
    }
)
_RANGE = frozenset(
    {operators.eq, operators.lt, operators.le, operators.gt, operators.ge, operators.in_op}
)
_INDEXED: dict[Any, bool] = {}


def indexed_lookup(where: ColumnElement[bool]) -> bool:
    """Whether ``where`` ANDs in a term an index answers (``formula_reduced = 'O2'``,
    ``band_gap > x``): then the matches are found without reading the rest of the table.
    Cached by condition object (conditions are cached by what builds them)."""
    hit = _INDEXED.get(where)
    if hit is None:
        hit = _INDEXED[where] = _has_slicing_term(where)
        if len(_INDEXED) >= _COMPILED_SIZE:
            _INDEXED.clear()
    return hit


def _has_slicing_term(clause: Any) -> bool:
    while isinstance(clause, Grouping):
        clause = clause.element
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        return any(_has_slicing_term(c) for c in clause.clauses)
    if isinstance(clause, BinaryExpression) and clause.operator in _RANGE:
        left = clause.left
        table = getattr(left, "table", None)
        return table is EntryRow.__table__ and getattr(left, "name", None) in _SLICING
    return False


def _order_indexed(f: SearchField) -> bool:
    if f.nullable:  # NULLS LAST cannot follow SQLite's index order (NULLs first there)
        return False
    if f.unique:
        return True
    col = f.column.property.columns[0]
    return any(next(iter(idx.columns)) is col for idx in EntryRow.__table__.indexes)


def _page_plan(
    conn: Connection,
    f: SearchField,
    count: int | None,
    page_size: int,
    n_all: int | None = None,
    indexed: bool = False,
) -> str:
    """How to fetch a page, chosen from the count we already have.

    Walking the order index and testing each row reads about page_size * N / count rows:
    cheap when matches are common. When they are rare it is cheaper to collect the matches
    from the WHERE's indexes first and sort only those. SQLite's planner always prefers the
    second ("ordered_scan" overrides it); PostgreSQL cannot estimate the element masks and
    always prefers the first ("matches_first" overrides it). ``n_all`` is the number of
    entries when the caller has it cached. With ``indexed`` (``indexed_lookup``) and at most
    CHEAP_MATCHES matches, SQLite collects them from that index and sorts them: a walk
    would read page_size * N / count rows (12,000 for 178 matches in 10^5: 26 ms, not 0.5).
    """
    if count is None or not _order_indexed(f):
        return "default"
    if n_all is None:
        n_all = _row_estimate(conn)
    common = (page_size + 1) * n_all <= _ORDERED_SCAN_ROWS * count
    if conn.dialect.name == "sqlite":
        if indexed and count <= CHEAP_MATCHES:
            return "default"
        return "ordered_scan" if common else "default"
    if conn.dialect.name == "postgresql":
        return "default" if common else "matches_first"
    return "default"


def _row_estimate(conn: Connection) -> int:
    """Rows in ``entries``: exact on SQLite (a b-tree count is quick there), the planner's
    estimate on PostgreSQL, where count(*) scans the whole table."""
    if conn.dialect.name == "postgresql":
        estimate = conn.execute(
            text("SELECT reltuples FROM pg_class WHERE oid = 'entries'::regclass")
        ).scalar()
        if estimate is not None and estimate >= 0:
            return int(estimate)
    return conn.execute(select(func.count()).select_from(EntryRow)).scalar() or 0


def _page_matches_first(conn, cols, where, f: SearchField, order: Order, page_size: int):
    """The page from a materialized set of matches: an optimisation fence for PostgreSQL."""
    matches = (
        select(EntryRow.pk.label("pk"), f.column.label("value"))
        .where(where)
        .cte("matches")
        .prefix_with("MATERIALIZED")
    )
    value, pk = matches.c.value, matches.c.pk
    if order == "asc":
        keys = [value.asc().nulls_last() if f.nullable else value.asc(), pk.asc()]
    else:
        keys = [value.desc().nulls_first() if f.nullable else value.desc(), pk.desc()]
    page = select(pk).order_by(*keys).limit(page_size + 1)
    pks = list(conn.execute(page).scalars())
    if not pks:
        return []
    rows = conn.execute(select(*cols).where(EntryRow.pk.in_(pks))).all()
    by_pk = {row[0]: row for row in rows}
    return [by_pk[p] for p in pks]


def _without_index_ranges(where: ColumnElement[bool], f: SearchField) -> ColumnElement[bool]:
    """``where`` with entries columns written ``+col``: same result, but SQLite can no longer
    use them as index ranges, so it walks the index of the order field."""
    table = EntryRow.__table__
    keep = (f.column.property.columns[0], table.c.pk)

    def replace(element):
        if (
            isinstance(element, Column)
            and element.table is table
            and not any(element is k for k in keep)
        ):
            return literal_column(f"+{table.name}.{element.name}", element.type)
        return None

    return visitors.replacement_traverse(where, {}, replace)


def _in_memory(engine: Engine) -> bool:
    """An in-memory SQLite database exists once per connection: no side-by-side queries."""
    url = engine.url
    return url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")


def search_request(
    bind: Bind,
    request: SearchRequest,
    scope: ColumnElement[bool] | None = None,
    counts: CountCache | None = None,
    count_key: tuple | None = None,
    cheap_only: bool = False,
) -> SearchResult:
    """``search`` for a validated SearchRequest (the REST API's body)."""
    p = request.pagination
    return search(
        bind,
        request.query,
        filter=request.filter,
        scope=scope,
        order_by=p.order_by,
        order=p.order,
        page_size=p.page_size,
        page_after_value=p.page_after_value,
        required=request.required,
        aggregations=request.aggregations,
        total=request.total,
        counts=counts,
        count_key=count_key,
        cheap_only=cheap_only,
    )


def _validate_aggregations(aggregations: Mapping[str, Any] | None) -> dict[str, Any]:
    if not aggregations:
        return {}
    if not isinstance(aggregations, Mapping):
        raise QueryError("aggregations: expected an object of named aggregations")
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(dict[str, AggregationRequest]).validate_python(dict(aggregations))
    except ValidationError as err:
        first = err.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise QueryError(f"aggregations.{loc}: {first['msg']}") from None


def iter_entry_pks(
    bind: Bind,
    query: Mapping[str, Any] | None = None,
    filter: str | None = None,
    scope: ColumnElement[bool] | None = None,
    *,
    chunk: int = 10_000,
) -> Iterator[list[int]]:
    """All matching entry pks in ascending chunks, for export of any size.

    Keyset pagination on pk: each chunk is one short query, so no cursor is held open between
    chunks and memory stays flat.
    """
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise QueryError(f"chunk: expected a positive integer, got {chunk!r}")
    where = build_where(query, filter, scope)
    last = None
    while True:
        stmt = select(EntryRow.pk).where(where)
        if last is not None:
            stmt = stmt.where(EntryRow.pk > last)
        stmt = stmt.order_by(EntryRow.pk).limit(chunk)
        with _connect(bind) as conn:
            pks = list(conn.execute(stmt).scalars())
        if not pks:
            return
        yield pks
        if len(pks) < chunk:
            return
        last = pks[-1]


def get_entries(
    bind: Bind,
    ids: Sequence[str],
    *,
    scope: ColumnElement[bool] | None = None,
) -> dict[str, Any]:
    """Full archives of ``ids`` as {entry_id: archive dict}, in the order asked.

    Ids that do not exist, or lie outside ``scope``, are left out.
    """
    if isinstance(ids, str):
        ids = [ids]
    found: dict[str, Any] = {}
    wanted = list(dict.fromkeys(ids))
    with _connect(bind) as conn:
        for start in range(0, len(wanted), 500):
            part = wanted[start : start + 500]
            stmt = (
                select(EntryRow.entry_id, ArchiveRow.data)
                .join(ArchiveRow, ArchiveRow.entry_pk == EntryRow.pk)
                .where(EntryRow.entry_id.in_(part))
            )
            if scope is not None:
                stmt = stmt.where(scope)
            for entry_id, data in conn.execute(stmt):
                found[entry_id] = json.loads(data)
    return {i: found[i] for i in wanted if i in found}
