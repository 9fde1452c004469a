"""The SISSO operator set: names, unit rules, numpy, sympy, text and LaTeX forms.

Names follow SISSO++ (``add sub abs_diff mult div inv abs exp neg_exp log sin cos sq cb six_pow
sqrt cbrt``) plus the Fortran code's ``scd`` (standard Cauchy density). The Fortran spellings
(``+ - * / exp exp- ^-1 ^2 ^3 ^6 sqrt cbrt log |-| scd sin cos``, with or without brackets, and
a whole ``ops='(+)(-)(*)'`` string) and the SISSO++ short tokens (``abd nexp sp``) are accepted
everywhere an operator name is.

Unit rules come in two modes:

``strict``
    ``+ - |-|`` need equal units; ``exp exp(-x) log sin cos scd`` need a dimensionless input.
``fortran``
    as the reference Fortran code v3.5: ``+ - |-|`` need equal units, the transcendental
    functions accept any input and give a dimensionless result.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from bigmax.analytics.sisso.units import Unit, UnitError

__all__ = [
    "ALL_OPERATORS",
    "FORTRAN_OPERATORS",
    "OPERATORS",
    "Operator",
    "UNIT_MODES",
    "operators_per_rung",
    "resolve_operator",
]

UNIT_MODES = ("strict", "fortran")

# integer codes shared with the numba kernels in feature_space.py
IDENT = 0
EXP, NEG_EXP, LOG, INV, SQ, CB, SIX_POW, SQRT, CBRT, ABS, SIN, COS, SCD = range(1, 14)
ADD, SUB, ABS_DIFF, MULT, DIV = range(20, 25)
N_CODES = 25


def _cbrt_sympy(x):
    import sympy

    return sympy.sign(x) * sympy.Abs(x) ** sympy.Rational(1, 3)


def _same_unit(name: str) -> Callable[[str, Unit, Unit], Unit]:
    def rule(mode: str, a: Unit, b: Unit) -> Unit:
        if a != b:
            raise UnitError(f"{name} needs equal units, got {str(a)!r} and {str(b)!r}")
        return a

    return rule


def _transcendental(name: str) -> Callable[[str, Unit], Unit]:
    def rule(mode: str, a: Unit) -> Unit:
        if mode == "strict" and not a.is_dimensionless:
            raise UnitError(f"{name} needs a dimensionless input in strict mode, got {str(a)!r}")
        return Unit.dimensionless()

    return rule


def _power(k: int | Fraction) -> Callable[[str, Unit], Unit]:
    return lambda mode, a: a**k


def _wrap(s: str, child_kind: str) -> str:
    """Parenthesise an infix child inside another infix or power form."""
    return f"({s})" if child_kind == "infix" else s


def _fn_text(fmt: str) -> Callable[..., str]:
    return lambda *args: fmt.format(*args)


@dataclass(frozen=True)
class Operator:
    """One operator: how it combines values, units and text."""

    name: str
    code: int
    arity: int
    numpy: Callable[..., np.ndarray]
    unit_rule: Callable[..., Unit]
    sympy: Callable[..., object]
    #: text form, from the children's text and kinds ("leaf", "func", "infix")
    text: Callable[..., str]
    latex: Callable[..., str]
    kind: str = "func"  # how the result prints: "func" (self-delimited) or "infix"
    commutative: bool = False
    transcendental: bool = False
    aliases: tuple[str, ...] = field(default=())

    def unit(self, mode: str, *units: Unit) -> Unit:
        """The unit of the result; raises :class:`UnitError` if the inputs are not allowed."""
        return self.unit_rule(mode, *units)


def _binary_text(sym: str) -> Callable[[str, str, str, str], str]:
    return lambda a, ka, b, kb: f"{_wrap(a, ka)} {sym} {_wrap(b, kb)}"


def _pow_text(k: str) -> Callable[[str, str], str]:
    return lambda a, ka: f"{a}^{k}" if ka == "leaf" else f"({a})^{k}"


def _lx_wrap(s: str, kind: str) -> str:
    return rf"\left({s}\right)" if kind == "infix" else s


def _lx_pow(k: str) -> Callable[[str, str], str]:
    return lambda a, ka: f"{a}^{{{k}}}" if ka == "leaf" else rf"\left({a}\right)^{{{k}}}"


def _make_operators() -> dict[str, Operator]:
    import sympy

    ops = [
        Operator("add", ADD, 2, np.add, _same_unit("add"), lambda a, b: a + b,
                 _binary_text("+"), lambda a, ka, b, kb: f"{a} + {b}", kind="infix",
                 commutative=True, aliases=("+",)),
        Operator("sub", SUB, 2, np.subtract, _same_unit("sub"), lambda a, b: a - b,
                 _binary_text("-"), lambda a, ka, b, kb: f"{a} - {_lx_wrap(b, kb)}",
                 kind="infix", aliases=("-",)),
        Operator("abs_diff", ABS_DIFF, 2, lambda a, b: np.abs(a - b), _same_unit("abs_diff"),
                 lambda a, b: sympy.Abs(a - b), lambda a, ka, b, kb: f"|{a} - {_wrap(b, kb)}|",
                 lambda a, ka, b, kb: rf"\left|{a} - {_lx_wrap(b, kb)}\right|",
                 commutative=True, aliases=("|-|", "abd")),
        Operator("mult", MULT, 2, np.multiply, lambda m, a, b: a * b, lambda a, b: a * b,
                 _binary_text("*"),
                 lambda a, ka, b, kb: rf"{_lx_wrap(a, ka)} \cdot {_lx_wrap(b, kb)}",
                 kind="infix", commutative=True, aliases=("*",)),
        Operator("div", DIV, 2, np.divide, lambda m, a, b: a / b, lambda a, b: a / b,
                 _binary_text("/"), lambda a, ka, b, kb: rf"\frac{{{a}}}{{{b}}}",
                 kind="infix", aliases=("/",)),
        Operator("inv", INV, 1, np.reciprocal, _power(-1), lambda a: 1 / a,
                 _pow_text("-1"), _lx_pow("-1"), aliases=("^-1",)),
        Operator("abs", ABS, 1, np.abs, lambda m, a: a, sympy.Abs,
                 lambda a, ka: f"|{a}|", lambda a, ka: rf"\left|{a}\right|"),
        Operator("exp", EXP, 1, np.exp, _transcendental("exp"), sympy.exp,
                 _fn_text("exp({0})"), lambda a, ka: rf"\exp\left({a}\right)",
                 transcendental=True),
        Operator("neg_exp", NEG_EXP, 1, lambda a: np.exp(-a), _transcendental("neg_exp"),
                 lambda a: sympy.exp(-a), lambda a, ka: f"exp(-{_wrap(a, ka)})",
                 lambda a, ka: rf"\exp\left(-{_lx_wrap(a, ka)}\right)",
                 transcendental=True, aliases=("exp-", "nexp")),
        Operator("log", LOG, 1, np.log, _transcendental("log"), sympy.log,
                 _fn_text("log({0})"), lambda a, ka: rf"\ln\left({a}\right)",
                 transcendental=True, aliases=("ln",)),
        Operator("sin", SIN, 1, np.sin, _transcendental("sin"), sympy.sin,
                 _fn_text("sin({0})"), lambda a, ka: rf"\sin\left({a}\right)",
                 transcendental=True),
        Operator("cos", COS, 1, np.cos, _transcendental("cos"), sympy.cos,
                 _fn_text("cos({0})"), lambda a, ka: rf"\cos\left({a}\right)",
                 transcendental=True),
        Operator("sq", SQ, 1, np.square, _power(2), lambda a: a**2,
                 _pow_text("2"), _lx_pow("2"), aliases=("^2",)),
        Operator("cb", CB, 1, lambda a: a**3, _power(3), lambda a: a**3,
                 _pow_text("3"), _lx_pow("3"), aliases=("^3",)),
        Operator("six_pow", SIX_POW, 1, lambda a: a**6, _power(6), lambda a: a**6,
                 _pow_text("6"), _lx_pow("6"), aliases=("^6", "sp")),
        Operator("sqrt", SQRT, 1, np.sqrt, _power(Fraction(1, 2)), sympy.sqrt,
                 _fn_text("sqrt({0})"), lambda a, ka: rf"\sqrt{{{a}}}"),
        Operator("cbrt", CBRT, 1, np.cbrt, _power(Fraction(1, 3)), _cbrt_sympy,
                 _fn_text("cbrt({0})"), lambda a, ka: rf"\sqrt[3]{{{a}}}"),
        Operator("scd", SCD, 1, lambda a: 1.0 / (np.pi * (1.0 + a * a)), _transcendental("scd"),
                 lambda a: 1 / (sympy.pi * (1 + a**2)), _fn_text("scd({0})"),
                 lambda a, ka: rf"\mathrm{{scd}}\left({a}\right)", transcendental=True),
    ]
    return {op.name: op for op in ops}


OPERATORS: dict[str, Operator] = _make_operators()
#: SISSO++'s 17 operators, the default set.
ALL_OPERATORS: tuple[str, ...] = (
    "add", "sub", "abs_diff", "mult", "div", "inv", "abs", "exp", "neg_exp", "log",
    "sin", "cos", "sq", "cb", "six_pow", "sqrt", "cbrt",
)
#: The Fortran reference code's operators without scd (the 16 of its published 82-binaries run).
FORTRAN_OPERATORS: tuple[str, ...] = (
    "add", "sub", "mult", "div", "exp", "neg_exp", "inv", "sq", "cb", "six_pow", "sqrt",
    "cbrt", "log", "abs_diff", "sin", "cos",
)
BY_CODE: dict[int, Operator] = {op.code: op for op in OPERATORS.values()}

_ALIASES: dict[str, str] = {}
for _op in OPERATORS.values():
    _ALIASES[_op.name] = _op.name
    for _a in _op.aliases:
        _ALIASES[_a] = _op.name


def resolve_operator(name: str) -> Operator:
    """The operator called ``name`` (SISSO++ name, Fortran spelling or short token)."""
    key = name.strip()
    if key.startswith("(") and key.endswith(")") and key[1:-1].strip() in _ALIASES:
        key = key[1:-1].strip()
    if key not in _ALIASES:
        raise ValueError(
            f"unknown operator {name!r}; known: {', '.join(sorted(OPERATORS))} "
            "(or the Fortran spellings + - * / exp- ^-1 ^2 ^3 ^6 |-|)"
        )
    return OPERATORS[_ALIASES[key]]


def _names(spec: str | Iterable[str]) -> list[str]:
    if isinstance(spec, str):
        s = spec.strip()
        if s.startswith("("):  # Fortran ops string: '(+)(-)(*)(/)'
            parts = re.findall(r"\(([^()]*(?:\(\))?[^()]*)\)", s)
            if "".join(f"({p})" for p in parts) != s.replace(" ", ""):
                raise ValueError(f"cannot read operator string {spec!r}")
        else:
            parts = s.replace(",", " ").split()
        return [resolve_operator(p).name for p in parts]
    return [resolve_operator(p).name for p in spec]


def operators_per_rung(
    operators: str | Sequence[str] | Sequence[Sequence[str]], max_rung: int
) -> list[frozenset[str]]:
    """One operator set per rung (1 .. ``max_rung``) from a flat set or a list of sets."""
    if isinstance(operators, str) or (
        len(operators) > 0 and all(isinstance(o, str) for o in operators)
    ):
        ops = frozenset(_names(operators))
        if not ops and max_rung > 0:
            raise ValueError("operators: need at least one operator for max_rung > 0")
        return [ops] * max_rung
    per = [frozenset(_names(o)) for o in operators]
    if len(per) != max_rung:
        raise ValueError(
            f"operators: got {len(per)} operator sets for max_rung={max_rung}; give one set, "
            "or one per rung"
        )
    return per
