"""OPTIMADE filter strings to SQLAlchemy conditions.

The grammar is the ``optimade`` package's (v1.2.0); the translation to SQL is our own lark
Transformer over the same leaf conditions the JSON query uses. Parsing costs ~11 ms, so parsed
trees are cached by filter text.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lark import Token, Transformer, Tree, v_args
from sqlalchemy import false, true
from sqlalchemy.sql import ColumnElement

from bigmax.search.conditions import (
    all_of,
    any_of,
    coerce_value,
    compare,
    elements_condition,
    negate,
    string_condition,
)
from bigmax.search.errors import FilterError, QueryError, UnknownPropertyWarning
from bigmax.search.fields import (
    OPTIMADE_PREFIX,
    OPTIMADE_UNQUERYABLE,
    SearchField,
    get_field,
    get_optimade_field,
)

_OPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte", "=": "eq", "!=": "ne"}
_REVERSED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
_PROVIDER_PREFIX = re.compile(r"^_[a-z0-9]+_")
_MAX_FILTER_LENGTH = 10_000

_parser_lock = threading.Lock()


@lru_cache(maxsize=1)
def _parser():
    from optimade.filterparser import LarkParser

    return LarkParser(version=(1, 2, 0))


@lru_cache(maxsize=1024)
def parse_filter(text: str) -> Tree:
    """The lark tree of ``text``, cached; raises FilterError with the parser's position hint."""
    if not isinstance(text, str):
        raise FilterError(f"filter: expected a string, got {type(text).__name__}")
    if len(text) > _MAX_FILTER_LENGTH:
        raise FilterError(f"filter: longer than {_MAX_FILTER_LENGTH} characters")
    parser = _parser()
    try:
        with _parser_lock:
            return parser.lark.parse(text)
    except Exception as err:  # lark raises several error types, all meaning "bad syntax"
        detail = str(err).strip().splitlines()
        hint = " ".join(line.strip() for line in detail[:3] if line.strip())
        raise FilterError(f"filter: cannot parse {text!r}: {hint}") from None


@dataclass(frozen=True)
class _Prop:
    """A resolved property; ``field`` None means another provider's property (always null),
    or, with ``empty_list``, a list property that is always empty (``structure_features``)."""

    name: str
    field: SearchField | None
    empty_list: bool = False


@dataclass(frozen=True)
class _Str:
    value: str


def _unescape(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: m.group(1), body)


def _value(v: Any, where: str) -> Any:
    if isinstance(v, _Prop):
        raise FilterError(
            f"{where}: comparing two properties ({v.name}) is not supported",
            not_implemented=True,
        )
    return v.value if isinstance(v, _Str) else v


@v_args(inline=True)
class _ToSQL(Transformer):
    """Bottom-up translation; each comparison becomes a SQLAlchemy boolean clause."""

    # values -------------------------------------------------------------------------------
    def string(self, tok: Token) -> _Str:
        return _Str(_unescape(str(tok)))

    def number(self, tok: Token) -> int | float:
        text = str(tok)
        try:
            return int(text)
        except ValueError:
            return float(text)

    def signed_int(self, tok: Token) -> int:
        return int(str(tok))

    def bool(self, *_: Any) -> Any:
        raise FilterError("filter: no BigMax property is boolean, so TRUE/FALSE cannot be used")

    def property(self, *parts: Token) -> _Prop:
        name = ".".join(str(p) for p in parts)
        if len(parts) > 1:
            raise FilterError(
                f"filter: nested property {name!r} is not supported", not_implemented=True
            )
        f = get_optimade_field(name)
        if f is not None:
            return _Prop(name, f)
        if name == "structure_features":
            return _Prop(name, None, empty_list=True)
        if name in OPTIMADE_UNQUERYABLE:
            raise FilterError(
                f"filter: BigMax serves {name!r} but cannot filter on it", not_implemented=True
            )
        if name.startswith(OPTIMADE_PREFIX):
            raise FilterError(f"filter: unknown property {name!r}{_suggest(name)}")
        if _PROVIDER_PREFIX.match(name):
            warnings.warn(
                f"filter: {name!r} belongs to another provider; it is treated as unknown",
                UnknownPropertyWarning,
                stacklevel=2,
            )
            return _Prop(name, None)
        raise FilterError(f"filter: unknown property {name!r}{_suggest(name)}")

    def value(self, v: Any) -> Any:
        return v

    def constant(self, v: Any) -> Any:
        return v

    def non_string_value(self, v: Any) -> Any:
        return v

    def not_implemented_string(self, v: Any) -> Any:
        raise FilterError(
            "filter: comparing two constants is not supported",
            not_implemented=True,
        )

    def value_list(self, *items: Any) -> list[Any]:
        out = []
        for item in items:
            if isinstance(item, Token):
                if str(item) != "=":
                    raise FilterError(
                        f"filter: operators inside value lists ({item}) are not supported",
                        not_implemented=True,
                    )
                continue
            out.append(_value(item, "filter"))
        return out

    # right-hand sides: functions of the property ------------------------------------------
    def value_op_rhs(self, op: Token, v: Any):
        value = _value(v, "filter")
        return lambda p: _compare(p, str(op), value)

    def known_op_rhs(self, _is: Token, which: Token):
        known = str(which) == "KNOWN"

        def build(p: _Prop) -> ColumnElement[bool]:
            if p.empty_list:
                return true() if known else false()
            if p.field is None:
                return false() if known else true()
            col = p.field.column
            return col.is_not(None) if known else col.is_(None)

        return build

    def fuzzy_string_op_rhs(self, op: Token, *rest: Any):
        value = _value(rest[-1], "filter")
        kind = {"CONTAINS": "contains", "STARTS": "startswith", "ENDS": "endswith"}[str(op)]

        def build(p: _Prop) -> ColumnElement[bool]:
            if p.field is None:
                return false()
            where = f"filter: {p.name} {op}"
            if p.field.kind != "str":
                raise FilterError(f"{where}: {p.name} is not a string property")
            return string_condition(p.field, kind, value, where)

        return build

    def set_op_rhs(self, _has: Token, *rest: Any):
        first = rest[0]
        if isinstance(first, Token) and str(first) in ("ALL", "ANY", "ONLY"):
            op = {"ALL": "all", "ANY": "any", "ONLY": "only"}[str(first)]
            values = rest[1]
        else:
            if isinstance(first, Token):  # HAS <op> value
                if str(first) != "=":
                    raise FilterError(
                        f"filter: 'HAS {first}' is not supported", not_implemented=True
                    )
                rest = rest[1:]
            op, values = "all", [_value(rest[0], "filter")]

        def build(p: _Prop) -> ColumnElement[bool]:
            if p.field is None:
                return false()
            if p.field.kind != "elements":
                raise FilterError(f"filter: HAS needs a list property; {p.name} is not one")
            return elements_condition(p.field, op, values, f"filter: {p.name} HAS")

        return build

    def set_zip_op_rhs(self, *_: Any):
        raise FilterError("filter: correlated 'a:b HAS x:y' is not supported", not_implemented=True)

    def length_op_rhs(self, _length: Token, *rest: Any):
        op = str(rest[0]) if len(rest) == 2 else "="
        n = rest[-1]

        def build(p: _Prop) -> ColumnElement[bool]:
            if p.empty_list:
                holds = {"<": 0 < n, "<=": 0 <= n, ">": 0 > n, ">=": 0 >= n, "=": n == 0}
                return true() if holds.get(op, n != 0) else false()
            if p.field is None:
                return false()
            if p.field.kind != "elements":
                raise FilterError(f"filter: LENGTH needs a list property; {p.name} is not one")
            n_elements = get_field("n_elements")
            return compare(n_elements, _OPS[op], n, f"filter: {p.name} LENGTH")

        return build

    # comparisons and logic --------------------------------------------------------------
    def property_first_comparison(self, prop: _Prop, build) -> ColumnElement[bool]:
        return build(prop)

    def constant_first_comparison(self, const: Any, op: Token, other: Any):
        value = _value(const, "filter")
        if not isinstance(other, _Prop):
            raise FilterError(
                "filter: comparing two constants is not supported", not_implemented=True
            )
        return _compare(other, _REVERSED[str(op)], value)

    def comparison(self, clause: ColumnElement[bool]) -> ColumnElement[bool]:
        return clause

    def expression_phrase(self, *items: Any) -> ColumnElement[bool]:
        if len(items) == 2:  # NOT (...)
            return negate(items[1])
        return items[0]

    def expression_clause(self, *phrases: ColumnElement[bool]) -> ColumnElement[bool]:
        return all_of(phrases)

    def expression(self, *clauses: ColumnElement[bool]) -> ColumnElement[bool]:
        return any_of(clauses)

    def filter(self, *expressions: ColumnElement[bool]) -> ColumnElement[bool]:
        return all_of(expressions) if expressions else true()


def _suggest(name: str) -> str:
    import difflib

    from bigmax.search.fields import optimade_names

    close = difflib.get_close_matches(name, optimade_names(), n=3)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _compare(p: _Prop, op: str, value: Any) -> ColumnElement[bool]:
    if p.empty_list:
        raise FilterError(f"filter: {p.name} is a list; use HAS, HAS ALL, HAS ANY or LENGTH")
    if p.field is None:
        return false()
    f = p.field
    where = f"filter: {p.name} {op}"
    if f.kind == "elements":
        raise FilterError(
            f"{where}: {p.name} is a list; use HAS, HAS ALL, HAS ANY, HAS ONLY or LENGTH"
        )
    if f.kind == "str" and not isinstance(value, str):
        raise FilterError(f"{where}: {p.name} is a string property, got {value!r}")
    if f.numeric and isinstance(value, str) and f.unit is None:
        raise FilterError(f"{where}: {p.name} is a number, got the string {value!r}")
    if f.kind == "datetime" and not isinstance(value, str):
        raise FilterError(f"{where}: {p.name} is a timestamp; give an RFC 3339 string")
    try:
        coerce_value(f, value, where)
        return compare(f, _OPS[op], value, where)
    except FilterError:
        raise
    except QueryError as err:
        raise FilterError(str(err)) from None


def filter_properties(text: str) -> frozenset[str]:
    """The property names ``text`` mentions (as written, e.g. ``nsites``, ``_bigmax_band_gap``);
    the access rules use them to tell whether a filter reaches past what embargoed entries
    show. Raises FilterError for bad syntax."""
    tree = parse_filter(text)
    return frozenset(
        ".".join(str(t) for t in node.children)
        for node in tree.iter_subtrees()
        if node.data == "property"
    )


def compile_filter(text: str) -> ColumnElement[bool]:
    """The SQL condition of OPTIMADE filter ``text``; raises FilterError naming the problem.

    Other providers' properties (``_other_x``) are unknown: comparisons on them are false,
    ``IS UNKNOWN`` is true, and an UnknownPropertyWarning is issued (on every call: the
    condition itself is cached by text).
    """
    if not isinstance(text, str):
        raise FilterError(f"filter: expected a string, got {type(text).__name__}")
    clause, notes = _compile_cached(text)
    for note in notes:
        warnings.warn(note, UnknownPropertyWarning, stacklevel=2)
    return clause


@lru_cache(maxsize=2048)
def _compile_cached(text: str) -> tuple[ColumnElement[bool], tuple[str, ...]]:
    tree = parse_filter(text)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnknownPropertyWarning)
        clause = _transform(tree)
    notes = tuple(
        str(w.message) for w in caught if issubclass(w.category, UnknownPropertyWarning)
    )
    return clause, notes


def _transform(tree: Tree) -> ColumnElement[bool]:
    try:
        return _ToSQL().transform(tree)
    except FilterError:
        raise
    except QueryError as err:
        raise FilterError(str(err)) from None
    except Exception as err:  # lark wraps errors raised inside callbacks
        inner = getattr(err, "orig_exc", None)
        if isinstance(inner, FilterError):
            raise inner from None
        if isinstance(inner, QueryError):
            raise FilterError(str(inner)) from None
        raise
