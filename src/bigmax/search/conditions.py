"""Leaf conditions shared by the JSON query and the OPTIMADE filter.

Both languages reduce to the same few SQL shapes (compare, set membership, element masks,
substring tests), so they are built here once, with one set of value checks and messages.

Logic is two-valued: a comparison with a NULL column is false, and ``negate`` turns SQL's
unknown into false before negating, so ``NOT band_gap > 1`` also matches entries without a
band gap, as OPTIMADE asks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Boolean, and_, false, func, not_, or_, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from bigmax.archive.db import EntryRow
from bigmax.archive.elements import element_masks
from bigmax.schema.units import UnitError, parse_quantity
from bigmax.search.errors import QueryError
from bigmax.search.fields import SearchField

_INT64 = 2**63 - 1
_COMPARE = {"gt", "gte", "lt", "lte", "eq", "ne"}


def negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """NOT with unknown taken as false, so rows with NULLs are matched by the negation."""
    return not_(func.coalesce(clause, false(), type_=Boolean))


def _check_text(value: str, where: str) -> str:
    if "\x00" in value:
        raise QueryError(f"{where}: strings may not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise QueryError(f"{where}: {value!r} is not valid Unicode text") from None
    return value


def coerce_value(f: SearchField, value: Any, where: str) -> Any:
    """``value`` as the column stores it: numbers in SI, datetimes naive UTC, element symbols.

    Strings with units ('1.5 eV') are converted with pint to the field's SI unit.
    """
    kind = f.kind
    if kind in ("str", "elements"):
        if not isinstance(value, str):
            what = "a chemical element symbol" if kind == "elements" else "a string"
            raise QueryError(f"{where}: expected {what} for {f.name!r}, got {value!r}")
        _check_text(value, where)
        if kind == "elements":
            try:
                element_masks([value])
            except KeyError:
                raise QueryError(
                    f"{where}: {value!r} is not a chemical element symbol (e.g. 'Si', 'O')"
                ) from None
        return value
    if kind in ("int", "float"):
        unit = f.unit
        if isinstance(value, str):
            _check_text(value, where)
            try:
                number: float | int = parse_quantity(value, unit or "dimensionless")
            except UnitError as err:
                hint = f" like '1.5 eV' (stored in {unit})" if unit else ""
                raise QueryError(
                    f"{where}: expected a number{hint} for {f.name!r}, got {value!r}: {err}"
                ) from None
        elif isinstance(value, bool) or not isinstance(value, int | float):
            hint = f" or a quantity string like '1.5 eV' (stored in {unit})" if unit else ""
            raise QueryError(f"{where}: expected a number{hint} for {f.name!r}, got {value!r}")
        else:
            number = value
        if isinstance(number, float):
            if not math.isfinite(number):
                raise QueryError(f"{where}: expected a finite number for {f.name!r}")
            if number.is_integer() and kind == "int" and abs(number) <= _INT64:
                number = int(number)
        if isinstance(number, int) and abs(number) > _INT64:
            raise QueryError(f"{where}: {number} is out of range for {f.name!r}")
        return number
    if kind == "datetime":
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            _check_text(value, where)
            text = value.strip()
            if text.endswith(("Z", "z")):
                text = text[:-1] + "+00:00"
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                raise QueryError(
                    f"{where}: expected an ISO 8601 date or time for {f.name!r} "
                    f"(e.g. '2024-05-01T12:00:00Z'), got {value!r}"
                ) from None
        else:
            raise QueryError(f"{where}: expected an ISO 8601 date string for {f.name!r}")
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
    raise AssertionError(f"unhandled field kind {kind!r}")


def compare(f: SearchField, op: str, value: Any, where: str) -> ColumnElement[bool]:
    """``field op value`` for op in gt, gte, lt, lte, eq, ne; ``eq None`` is IS NULL."""
    if op not in _COMPARE:
        raise QueryError(f"{where}: unknown operator {op!r}")
    if f.kind == "elements":
        if op == "eq" and value is not None:
            return elements_condition(f, "all", [value], where)
        if op not in ("eq", "ne") or value is not None:
            raise QueryError(
                f"{where}: {f.name!r} is a set of elements: use any, all, none or only, not {op!r}"
            )
    col = f.column
    if value is None:
        if op == "eq":
            return col.is_(None)
        if op == "ne":
            return col.is_not(None)
        raise QueryError(f"{where}: {op!r} needs a value, got null")
    v = coerce_value(f, value, where)
    if op == "gt":
        return col > v
    if op == "gte":
        return col >= v
    if op == "lt":
        return col < v
    if op == "lte":
        return col <= v
    if op == "eq":
        return col == v
    return col != v


def _value_list(f: SearchField, values: Any, where: str) -> list[Any]:
    if isinstance(values, str | int | float) and not isinstance(values, bool):
        values = [values]
    if not isinstance(values, list | tuple) or not values:
        raise QueryError(f"{where}: expected a non-empty list of values for {f.name!r}")
    return [coerce_value(f, v, f"{where}[{i}]") for i, v in enumerate(values)]


def set_condition(f: SearchField, op: str, values: Any, where: str) -> ColumnElement[bool]:
    """any / all / none (and only, for elements) of ``values``.

    A single-valued field is treated as a set of one value, so ``all`` of two different
    values matches nothing; this keeps one meaning for lists across all fields.
    """
    if f.kind == "elements":
        return elements_condition(f, op, values, where)
    if op == "only":
        raise QueryError(f"{where}: 'only' applies to elements, not to {f.name!r}")
    vals = _value_list(f, values, where)
    col = f.column
    if op == "any":
        return col.in_(vals)
    if op == "none":
        return negate(col.in_(vals))
    if op == "all":
        distinct = set(vals)
        if len(distinct) > 1:
            return false()
        return col == vals[0]
    raise QueryError(f"{where}: unknown list operator {op!r}; use any, all or none")


def elements_condition(f: SearchField, op: str, values: Any, where: str) -> ColumnElement[bool]:
    """HAS ALL / ANY / ONLY / none of via the el_lo, el_hi bitmasks: one integer test per row."""
    symbols = _value_list(f, values, where)
    lo, hi = element_masks(symbols)
    el_lo, el_hi = EntryRow.el_lo, EntryRow.el_hi
    if op == "all":
        parts = []
        if lo:
            parts.append(el_lo.bitwise_and(lo) == lo)
        if hi:
            parts.append(el_hi.bitwise_and(hi) == hi)
        return and_(*parts)
    if op in ("any", "none"):
        parts = []
        if lo:
            parts.append(el_lo.bitwise_and(lo) != 0)
        if hi:
            parts.append(el_hi.bitwise_and(hi) != 0)
        any_clause = or_(*parts)
        return any_clause if op == "any" else negate(any_clause)
    if op == "only":
        return and_(
            EntryRow.elements.is_not(None),
            el_lo.bitwise_and(~lo) == 0,
            el_hi.bitwise_and(~hi) == 0,
        )
    raise QueryError(f"{where}: unknown operator {op!r} for elements; use any, all, none, only")


class _StrContains(FunctionElement):
    """Case-sensitive substring test; SQLite's LIKE ignores case, so LIKE is not used."""

    type = Boolean()
    inherit_cache = True


class _StrEndsWith(FunctionElement):
    type = Boolean()
    inherit_cache = True


@compiles(_StrContains)
def _contains_default(element, compiler, **kw):
    col, val = list(element.clauses)
    return f"(strpos({compiler.process(col, **kw)}, {compiler.process(val, **kw)}) > 0)"


@compiles(_StrContains, "sqlite")
def _contains_sqlite(element, compiler, **kw):
    col, val = list(element.clauses)
    return f"(instr({compiler.process(col, **kw)}, {compiler.process(val, **kw)}) > 0)"


@compiles(_StrEndsWith)
def _ends_default(element, compiler, **kw):
    col, val, n = list(element.clauses)
    c, v, k = (compiler.process(x, **kw) for x in (col, val, n))
    return f"(right({c}, {k}) = {v})"


@compiles(_StrEndsWith, "sqlite")
def _ends_sqlite(element, compiler, **kw):
    col, val, n = list(element.clauses)
    c, v, k = (compiler.process(x, **kw) for x in (col, val, n))
    return f"(substr({c}, -{k}) = {v})"


def string_condition(f: SearchField, op: str, value: Any, where: str) -> ColumnElement[bool]:
    """contains / startswith / endswith, case-sensitive on both backends."""
    if f.kind != "str":
        raise QueryError(f"{where}: {op!r} applies to string fields, not to {f.name!r}")
    v = coerce_value(f, value, where)
    if v == "":
        return f.column.is_not(None)
    col = f.column
    if op == "contains":
        return _StrContains(col, v)
    if op == "startswith":
        return func.substr(col, 1, len(v)) == v
    if op == "endswith":
        return _StrEndsWith(col, v, len(v))
    raise QueryError(f"{where}: unknown string operator {op!r}")


def all_of(clauses: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    """AND of ``clauses``; true for none, so an empty query matches everything."""
    clauses = list(clauses)
    if not clauses:
        return true()
    return clauses[0] if len(clauses) == 1 else and_(*clauses)


def any_of(clauses: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    """OR of ``clauses``; false for none."""
    clauses = list(clauses)
    if not clauses:
        return false()
    return clauses[0] if len(clauses) == 1 else or_(*clauses)
