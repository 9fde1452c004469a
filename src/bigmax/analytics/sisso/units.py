"""Units of SISSO features: a map from base-unit names to rational exponents.

SISSO only combines features whose units allow it (``a + b`` needs equal units, ``exp(x)`` a
dimensionless ``x`` in strict mode), so every candidate carries its unit. Base units are free
names, as in SISSO++: ``eV`` and ``eV_IP`` are two different units, which is how a user keeps
ionisation potentials apart from orbital energies. Exponents are :class:`fractions.Fraction`,
so ``sqrt(AA^3)`` is exactly ``AA^3/2``.

Grammar accepted by :func:`parse_unit` (spaces or ``*`` multiply, ``/`` divides what follows)::

    unit   := "" | "1" | "dimensionless" | factor (("*" | " " | "/") factor)*
    factor := name ("^" | "**")? exponent?      e.g. AA^3, eV_IP, s^-1, m^1/2, K**0.5
    name   := letter (letter | digit | "_")*    (also "%" and a unicode letter such as Å)
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from fractions import Fraction

import numpy as np

__all__ = ["Unit", "UnitError", "parse_unit", "parse_header", "unit_matrix"]


class UnitError(ValueError):
    """A unit string that cannot be read, or units that an operator cannot combine."""


def _frac(x: int | float | Fraction | str) -> Fraction:
    f = Fraction(x).limit_denominator(1000) if isinstance(x, float) else Fraction(x)
    return f


class Unit(Mapping):
    """An immutable, hashable product of base units with rational exponents.

    >>> u = parse_unit("eV_IP/AA")
    >>> str(u), str(u * parse_unit("AA")), str(u ** 2)
    ('eV_IP AA^-1', 'eV_IP', 'eV_IP^2 AA^-2')
    """

    __slots__ = ("_items", "_hash")

    def __init__(self, exponents: Mapping[str, int | float | Fraction] | None = None) -> None:
        items: dict[str, Fraction] = {}
        for name, exp in (exponents or {}).items():
            f = _frac(exp)
            if f != 0:
                items[str(name)] = f
        # insertion order is kept for printing; equality and hashing ignore it
        self._items = items
        self._hash = hash(frozenset(items.items()))

    @classmethod
    def dimensionless(cls) -> Unit:
        return _DIMENSIONLESS

    # Mapping protocol
    def __getitem__(self, key: str) -> Fraction:
        return self._items[key]

    def __iter__(self):
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Unit):
            return self._items == other._items
        if isinstance(other, str):
            try:
                return self == parse_unit(other)
            except UnitError:
                return False
        return NotImplemented

    @property
    def is_dimensionless(self) -> bool:
        return not self._items

    def __mul__(self, other: Unit) -> Unit:
        out = dict(self._items)
        for k, v in other._items.items():
            out[k] = out.get(k, Fraction(0)) + v
        return Unit(out)

    def __truediv__(self, other: Unit) -> Unit:
        return self * other ** -1

    def __pow__(self, k: int | float | Fraction) -> Unit:
        f = _frac(k)
        return Unit({n: e * f for n, e in self._items.items()})

    def __str__(self) -> str:
        parts = []
        for name, e in self._items.items():
            if e == 1:
                parts.append(name)
            elif e.denominator == 1:
                parts.append(f"{name}^{e.numerator}")
            else:
                parts.append(f"{name}^{e.numerator}/{e.denominator}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"Unit({str(self)!r})"


_DIMENSIONLESS = Unit()

_NAME = r"(?:[^\W\d]|%)[\w%]*"
_NUM = r"[+-]?\d+(?:\.\d+)?(?:/\d+)?"
_FACTOR = re.compile(rf"\s*({_NAME})\s*(?:(?:\^|\*\*)\s*\(?\s*({_NUM})\s*\)?)?\s*")
_DIMLESS_WORDS = {"", "1", "-", "dimensionless", "none", "unitless"}


def parse_unit(text: str | Unit | None) -> Unit:
    """Read a unit string such as ``"AA^3"``, ``"eV/AA"`` or ``"eV_IP AA^-1"``.

    Raises
    ------
    UnitError
        If ``text`` does not follow the grammar in the module docstring; the message quotes it.
    """
    if isinstance(text, Unit):
        return text
    if text is None:
        return _DIMENSIONLESS
    if not isinstance(text, str):
        raise UnitError(f"unit must be a string, got {type(text).__name__} {text!r}")
    s = text.strip()
    if s.lower() in _DIMLESS_WORDS:
        return _DIMENSIONLESS
    out: dict[str, Fraction] = {}
    pos, sign = 0, 1
    while pos < len(s):
        m = _FACTOR.match(s, pos)
        if not m or m.end() == pos:
            raise UnitError(
                f"cannot read unit {text!r} at {s[pos:]!r}; expected names with optional "
                "exponents joined by spaces, '*' or '/', e.g. 'eV AA^-2'"
            )
        name, exp = m.group(1), m.group(2)
        try:
            e = Fraction(exp) if exp is not None else Fraction(1)
        except (ValueError, ZeroDivisionError):
            raise UnitError(f"cannot read exponent {exp!r} in unit {text!r}") from None
        out[name] = out.get(name, Fraction(0)) + sign * e
        pos = m.end()
        if pos < len(s):
            if s[pos] == "/":
                sign, pos = -1, pos + 1
            elif s[pos] == "*":
                pos += 1
            elif not s[pos - 1].isspace():
                raise UnitError(f"cannot read unit {text!r} at {s[pos:]!r}")
            if pos >= len(s) or s[pos:].strip() == "":
                raise UnitError(f"unit {text!r} ends with an operator")
    return Unit(out)


_HEADER = re.compile(r"^\s*(.*?)\s*\(([^()]*)\)\s*$")


def parse_header(header: str) -> tuple[str, Unit]:
    """Split a CSV header ``"name (unit)"`` into the name and its :class:`Unit`.

    A header without a trailing bracket is a dimensionless feature.

    >>> parse_header(" r_s_A (AA) ")
    ('r_s_A', Unit('AA'))
    """
    m = _HEADER.match(header)
    if not m:
        name = header.strip()
        if not name:
            raise UnitError(f"empty column name in header {header!r}")
        return name, _DIMENSIONLESS
    name = m.group(1).strip()
    if not name:
        raise UnitError(f"header {header!r} has a unit but no name")
    try:
        return name, parse_unit(m.group(2))
    except UnitError as err:
        raise UnitError(f"column {name!r}: {err}") from None


def unit_matrix(units: Iterable[Unit]) -> tuple[tuple[str, ...], np.ndarray]:
    """Exponent vectors of ``units`` over the union of their base names, shape (len, n_bases)."""
    units = list(units)
    bases: list[str] = []
    for u in units:
        for b in u:
            if b not in bases:
                bases.append(b)
    mat = np.zeros((len(units), max(len(bases), 1)), dtype=np.float64)
    for i, u in enumerate(units):
        for b, e in u.items():
            mat[i, bases.index(b)] = float(e)
    return tuple(bases), mat
