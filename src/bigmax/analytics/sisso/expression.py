"""SISSO features as immutable expression trees over the primary features.

An :class:`Expression` knows how to evaluate itself on new data, its unit, its complexity (the
number of operators, the Fortran code's definition), its rung (the depth of the tree) and three
text forms: readable infix (``str``), sympy and LaTeX. Its canonical postfix form, :attr:`rpn`
(``"9|14|div|18|15|add|div"``: primary-feature indices and operator names, as in SISSO++'s model
files), is the identity used for tie-breaks and JSON, and :meth:`Expression.from_rpn` reads it
back.

Commutative operators (``add``, ``mult``, ``abs_diff``) put the child with the larger postfix key
first (numbers compare as numbers), so ``r_p_B + r_sigma`` and ``r_sigma + r_p_B`` are one
expression with one ``rpn``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np

from bigmax.analytics.sisso.operators import Operator, resolve_operator
from bigmax.analytics.sisso.units import Unit, parse_unit

__all__ = ["Expression"]


class _Context:
    """The primary features an expression refers to (shared by all its nodes)."""

    __slots__ = ("names", "units", "_symbols")

    def __init__(self, names: Sequence[str], units: Sequence[Unit] | None) -> None:
        self.names = tuple(str(n) for n in names)
        if units is None:
            units = [Unit.dimensionless()] * len(self.names)
        self.units = tuple(parse_unit(u) for u in units)
        if len(self.units) != len(self.names):
            raise ValueError(
                f"got {len(self.names)} feature names but {len(self.units)} units"
            )
        self._symbols = None

    def symbols(self):
        if self._symbols is None:
            import sympy

            self._symbols = tuple(sympy.Symbol(n, real=True) for n in self.names)
        return self._symbols


def _key(tokens: tuple) -> tuple:
    return tuple((0, t) if isinstance(t, int) else (1, t) for t in tokens)


class Expression:
    """An immutable feature: a primary feature or an operator applied to expressions.

    Build leaves with :meth:`primary`, and combine with ``Expression(op, children)``.

    >>> names, units = ["a", "b"], ["AA", "AA"]
    >>> a, b = Expression.primary(0, names, units), Expression.primary(1, names, units)
    >>> e = Expression("div", (Expression("sub", (b, a)), Expression("sq", (a,))))
    >>> str(e), e.rpn, str(e.unit), e.complexity, e.rung
    ('(b - a) / a^2', '1|0|sub|0|sq|div', 'AA^-1', 3, 2)
    """

    __slots__ = ("_op", "_children", "_index", "_ctx", "_tokens", "__dict__")

    def __init__(self, op: str | Operator, children: Sequence[Expression]) -> None:
        opr = op if isinstance(op, Operator) else resolve_operator(op)
        children = tuple(children)
        if len(children) != opr.arity:
            raise ValueError(f"{opr.name} takes {opr.arity} operand(s), got {len(children)}")
        ctx = children[0]._ctx
        for c in children[1:]:
            if c._ctx is not ctx and c._ctx.names != ctx.names:
                raise ValueError("operands refer to different primary features")
        if opr.commutative and _key(children[1]._tokens) > _key(children[0]._tokens):
            children = (children[1], children[0])
        self._op = opr
        self._children = children
        self._index = -1
        self._ctx = ctx
        toks: tuple = ()
        for c in children:
            toks += c._tokens
        self._tokens = toks + (opr.name,)

    @classmethod
    def primary(
        cls, index: int, names: Sequence[str], units: Sequence[Unit | str] | None = None
    ) -> Expression:
        """The primary feature number ``index`` of ``names`` (and ``units``)."""
        ctx = names if isinstance(names, _Context) else _Context(names, units)
        return cls._leaf(int(index), ctx)

    @classmethod
    def _leaf(cls, index: int, ctx: _Context) -> Expression:
        if not 0 <= index < len(ctx.names):
            raise ValueError(f"primary feature index {index} out of range 0..{len(ctx.names)-1}")
        self = object.__new__(cls)
        self._op = None
        self._children = ()
        self._index = index
        self._ctx = ctx
        self._tokens = (index,)
        return self

    @classmethod
    def primaries(
        cls, names: Sequence[str], units: Sequence[Unit | str] | None = None
    ) -> list[Expression]:
        """All primary features, sharing one context."""
        ctx = _Context(names, units)
        return [cls._leaf(i, ctx) for i in range(len(ctx.names))]

    @classmethod
    def from_rpn(
        cls,
        rpn: str,
        names: Sequence[str],
        units: Sequence[Unit | str] | None = None,
        unit_mode: str | None = None,
    ) -> Expression:
        """Read a postfix string such as ``"9|14|div|18|15|add|div"``.

        Tokens are primary-feature indices, primary-feature names or operator names (SISSO++
        names, Fortran spellings or SISSO++'s short tokens ``abd nexp sp``). With ``unit_mode``
        (``"strict"`` or ``"fortran"``) the units are checked and a :class:`UnitError` raised
        where an operator does not accept its operands' units.
        """
        ctx = _Context(names, units)
        stack: list[Expression] = []
        tokens = [t.strip() for t in str(rpn).split("|")]
        for tok in tokens:
            if tok.lstrip("-").isdigit():
                stack.append(cls._leaf(int(tok), ctx))
                continue
            try:
                op = resolve_operator(tok)
            except ValueError:
                if tok in ctx.names:
                    stack.append(cls._leaf(ctx.names.index(tok), ctx))
                    continue
                raise ValueError(f"rpn {rpn!r}: unknown token {tok!r}") from None
            if len(stack) < op.arity:
                raise ValueError(f"rpn {rpn!r}: {op.name} needs {op.arity} operand(s)")
            args = stack[len(stack) - op.arity:]
            del stack[len(stack) - op.arity:]
            e = cls(op, args)
            if unit_mode is not None:
                op.unit(unit_mode, *(a.unit for a in args))
            stack.append(e)
        if len(stack) != 1:
            raise ValueError(f"rpn {rpn!r} does not describe one expression")
        return stack[0]

    # --- structure -------------------------------------------------------------------------
    @property
    def op(self) -> str | None:
        """The top operator's name, ``None`` for a primary feature."""
        return None if self._op is None else self._op.name

    @property
    def children(self) -> tuple[Expression, ...]:
        return self._children

    @property
    def index(self) -> int | None:
        """The primary-feature index of a leaf, else ``None``."""
        return self._index if self._op is None else None

    @property
    def is_primary(self) -> bool:
        return self._op is None

    @property
    def feature_names(self) -> tuple[str, ...]:
        """All primary-feature names of the context (not only the ones used)."""
        return self._ctx.names

    @property
    def feature_units(self) -> tuple[Unit, ...]:
        return self._ctx.units

    @cached_property
    def rpn(self) -> str:
        """Canonical postfix text: indices and operator names joined by ``|``."""
        return "|".join(str(t) for t in self._tokens)

    @cached_property
    def complexity(self) -> int:
        """Number of operators in the expression."""
        return sum(1 for t in self._tokens if not isinstance(t, int))

    @cached_property
    def rung(self) -> int:
        """Depth of the tree: 0 for a primary feature."""
        return 0 if self._op is None else 1 + max(c.rung for c in self._children)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Names of the primary features used, in primary-feature order."""
        idx = sorted({t for t in self._tokens if isinstance(t, int)})
        return tuple(self._ctx.names[i] for i in idx)

    @cached_property
    def indices(self) -> tuple[int, ...]:
        return tuple(sorted({t for t in self._tokens if isinstance(t, int)}))

    @cached_property
    def unit(self) -> Unit:
        """The unit; transcendental functions give a dimensionless result in either mode."""
        if self._op is None:
            return self._ctx.units[self._index]
        return self._op.unit("fortran", *(c.unit for c in self._children))

    def check_units(self, unit_mode: str = "strict") -> Unit:
        """The unit, raising :class:`UnitError` if ``unit_mode`` forbids a combination."""
        if self._op is None:
            return self.unit
        return self._op.unit(unit_mode, *(c.check_units(unit_mode) for c in self._children))

    # --- evaluation ------------------------------------------------------------------------
    def evaluate(self, X) -> np.ndarray:
        """Values on samples ``X`` of shape (n_samples, n_primary), columns in primary order.

        A pandas DataFrame whose columns include the primary-feature names is read by name.
        Invalid operations (log of a negative number) give NaN, never a warning.
        """
        cols = getattr(X, "columns", None)
        if cols is not None and all(n in cols for n in self.names):
            data = {n: np.asarray(X[n], dtype=np.float64) for n in self.names}

            def leaf(i):
                return data[self._ctx.names[i]]
        else:
            arr = np.asarray(X, dtype=np.float64)
            if arr.ndim == 1:
                arr = arr[None, :]
            if arr.ndim != 2 or arr.shape[1] <= max(self.indices, default=-1):
                raise ValueError(
                    f"X must have shape (n_samples, {len(self._ctx.names)}) in primary-feature "
                    f"order, got {arr.shape}"
                )

            def leaf(i):
                return arr[:, i]

        with np.errstate(all="ignore"):
            return np.asarray(self._eval(leaf), dtype=np.float64)

    def _eval(self, leaf) -> np.ndarray:
        if self._op is None:
            return leaf(self._index)
        return self._op.numpy(*(c._eval(leaf) for c in self._children))

    # --- text ------------------------------------------------------------------------------
    @property
    def _kind(self) -> str:
        return "leaf" if self._op is None else self._op.kind

    def __str__(self) -> str:
        if self._op is None:
            return self._ctx.names[self._index]
        args = []
        for c in self._children:
            args += [str(c), c._kind]
        return self._op.text(*args)

    def __repr__(self) -> str:
        return f"Expression({str(self)!r}, rpn={self.rpn!r})"

    def latex(self) -> str:
        """LaTeX for the expression as built (not simplified), e.g. ``\\frac{E_{HOMO B}}{...}``."""
        if self._op is None:
            import sympy

            return sympy.latex(self._ctx.symbols()[self._index])
        args = []
        for c in self._children:
            kind = "infix" if c._op is not None and c._op.name in ("add", "sub") else c._kind
            if c._op is not None and c._op.name in ("mult", "div") and self._op.kind != "infix":
                kind = "infix"
            args += [c.latex(), kind]
        return self._op.latex(*args)

    def to_sympy(self):
        """A sympy expression in real symbols named after the primary features."""
        if self._op is None:
            return self._ctx.symbols()[self._index]
        return self._op.sympy(*(c.to_sympy() for c in self._children))

    # --- identity --------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expression):
            return NotImplemented
        return self._tokens == other._tokens and self._ctx.names == other._ctx.names

    def __hash__(self) -> int:
        return hash(self._tokens)

    def sort_key(self) -> tuple[int, str]:
        """The documented tie-break: complexity first, then the postfix text."""
        return (self.complexity, self.rpn)


def check_unit_mode(unit_mode: str) -> str:
    if unit_mode not in ("strict", "fortran"):
        raise ValueError(f"unit_mode must be 'strict' or 'fortran', got {unit_mode!r}")
    return unit_mode

