"""SISSO expressions: evaluation, complexity, rung, unit, postfix, sympy, LaTeX and text."""

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.sisso.expression import Expression
from bigmax.analytics.sisso.operators import (
    ALL_OPERATORS,
    FORTRAN_OPERATORS,
    OPERATORS,
    operators_per_rung,
    resolve_operator,
)
from bigmax.analytics.sisso.units import UnitError, parse_unit

NAMES = ["Z_A", "IP_A", "EA_B", "E_HOMO_B", "r_p_A", "r_p_B", "r_s_B", "r_sigma", "period_A"]
UNITS = ["nuc_charge", "eV_IP", "eV_IP", "eV", "AA", "AA", "AA", "AA", ""]
IDX = {n: i for i, n in enumerate(NAMES)}


def rpn(*tokens):
    return "|".join(str(IDX.get(t, t)) for t in tokens)


@pytest.fixture
def X():
    rng = np.random.default_rng(1)
    return rng.uniform(0.5, 3.0, size=(7, len(NAMES)))


def test_sisso_pp_1d_feature(X):
    e = Expression.from_rpn(rpn("E_HOMO_B", "r_p_A", "div", "r_sigma", "r_p_B", "add", "div"),
                            NAMES, UNITS)
    assert str(e) == "(E_HOMO_B / r_p_A) / (r_sigma + r_p_B)"
    assert e.complexity == 3 and e.rung == 2
    assert e.unit == parse_unit("eV AA^-2")
    assert e.names == ("E_HOMO_B", "r_p_A", "r_p_B", "r_sigma")
    want = X[:, 3] / X[:, 4] / (X[:, 7] + X[:, 5])
    np.testing.assert_allclose(e.evaluate(X), want, rtol=1e-15)
    assert Expression.from_rpn(e.rpn, NAMES, UNITS) == e
    x = sympy.symbols("E_HOMO_B r_p_A r_p_B r_sigma", real=True)
    assert sympy.simplify(e.to_sympy() - x[0] / x[1] / (x[3] + x[2])) == 0
    assert e.latex() == r"\frac{\frac{E_{HOMO B}}{r_{p A}}}{r_{\sigma} + r_{p B}}"


def test_sisso_pp_2d_feature_text_and_unit():
    e = Expression.from_rpn(rpn("EA_B", "IP_A", "sub", "r_sigma", "r_s_B", "abd", "mult"),
                            NAMES, UNITS, unit_mode="strict")
    assert str(e) in ("(EA_B - IP_A) * |r_sigma - r_s_B|", "|r_sigma - r_s_B| * (EA_B - IP_A)")
    assert e.unit == parse_unit("eV_IP AA")
    assert "\\left|r_{\\sigma} - r_{s B}\\right|" in e.latex()


def test_commutative_canonical_form():
    a = Expression.from_rpn("4|5|add", NAMES, UNITS)
    b = Expression.from_rpn("5|4|add", NAMES, UNITS)
    assert a == b and a.rpn == b.rpn == "5|4|add" and hash(a) == hash(b)
    assert Expression.from_rpn("4|5|sub", NAMES, UNITS) != Expression.from_rpn("5|4|sub", NAMES,
                                                                               UNITS)
    # names are accepted as tokens, and every operator alias resolves
    assert Expression.from_rpn("r_p_A|r_p_B|+", NAMES, UNITS) == a
    assert Expression.from_rpn("4|exp-", NAMES).rpn == "4|neg_exp"


def test_units_modes():
    e = Expression.from_rpn("4|exp", NAMES, UNITS)  # exp of a length
    assert e.unit.is_dimensionless  # fortran rule for .unit
    with pytest.raises(UnitError, match="dimensionless"):
        Expression.from_rpn("4|exp", NAMES, UNITS, unit_mode="strict")
    with pytest.raises(UnitError, match="dimensionless"):
        e.check_units("strict")
    assert Expression.from_rpn("4|exp", NAMES, UNITS, unit_mode="fortran").rung == 1
    with pytest.raises(UnitError, match="equal units"):
        Expression.from_rpn("1|3|add", NAMES, UNITS, unit_mode="strict")  # eV_IP + eV
    assert str(Expression.from_rpn("4|cbrt|sq", NAMES, UNITS).unit) == "AA^2/3"


@pytest.mark.parametrize("bad", ["", "0|add", "0|1", "0|nope", "0|1|2|add", "99"])
def test_bad_rpn(bad):
    with pytest.raises(ValueError):
        Expression.from_rpn(bad, NAMES, UNITS)


def test_evaluate_by_name_and_shape_errors(X):
    import pandas as pd

    e = Expression.from_rpn("4|5|div", NAMES, UNITS)
    df = pd.DataFrame(X[:, ::-1], columns=NAMES[::-1])
    np.testing.assert_array_equal(e.evaluate(df), X[:, 4] / X[:, 5])
    with pytest.raises(ValueError, match="shape"):
        e.evaluate(X[:, :3])
    # invalid operations give NaN, not warnings
    neg = Expression.from_rpn("1|log", NAMES, UNITS)
    with np.errstate(all="raise"):
        assert np.isnan(neg.evaluate(-X)).all()


def test_text_forms_of_every_operator(X):
    leaf = Expression.primary(4, NAMES, UNITS)
    other = Expression.primary(5, NAMES, UNITS)
    assert str(Expression("neg_exp", (leaf,))) == "exp(-r_p_A)"
    assert str(Expression("inv", (leaf,))) == "r_p_A^-1"
    assert str(Expression("sq", (Expression("add", (leaf, other)),))) == "(r_p_B + r_p_A)^2"
    assert str(Expression("abs", (leaf,))) == "|r_p_A|"
    for name in ALL_OPERATORS + ("scd",):
        op = OPERATORS[name]
        args = (leaf,) if op.arity == 1 else (leaf, other)
        e = Expression(name, args)
        assert str(e) and e.latex() and e.complexity == 1 and e.rung == 1
        v = e.evaluate(X)
        f = sympy.lambdify(sympy.symbols("r_p_A r_p_B", real=True), e.to_sympy(), "numpy")
        np.testing.assert_allclose(f(X[:, 4], X[:, 5]), v, rtol=1e-12)


def test_operator_names_and_sets():
    assert len(ALL_OPERATORS) == 17 and len(FORTRAN_OPERATORS) == 16
    assert resolve_operator("|-|").name == "abs_diff"
    assert resolve_operator("(^-1)").name == "inv"
    assert resolve_operator("exp-").name == "neg_exp"
    with pytest.raises(ValueError, match="unknown operator"):
        resolve_operator("tanh")
    per = operators_per_rung("(+)(-)(*)(/)(exp)(^2)", 2)
    assert per[0] == per[1] == {"add", "sub", "mult", "div", "exp", "sq"}
    assert operators_per_rung([["add"], ["mult", "div"]], 2)[1] == {"mult", "div"}
    with pytest.raises(ValueError, match="one per rung"):
        operators_per_rung([["add"], ["mult"]], 3)


# --- hypothesis: random trees ---------------------------------------------------------------
_UNARY = [n for n in ALL_OPERATORS + ("scd",) if OPERATORS[n].arity == 1]
_BINARY = [n for n in ALL_OPERATORS if OPERATORS[n].arity == 2]


@st.composite
def trees(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return Expression.primary(draw(st.integers(0, len(NAMES) - 1)), NAMES, UNITS)
    if draw(st.booleans()):
        return Expression(draw(st.sampled_from(_UNARY)), (draw(trees(depth - 1)),))
    return Expression(draw(st.sampled_from(_BINARY)),
                      (draw(trees(depth - 1)), draw(trees(depth - 1))))


@settings(max_examples=150, deadline=None)
@given(trees())
def test_rpn_roundtrip_and_invariants(e):
    back = Expression.from_rpn(e.rpn, NAMES, UNITS)
    assert back == e and back.rpn == e.rpn and str(back) == str(e)
    assert e.complexity == sum(1 for t in e.rpn.split("|") if not t.isdigit())
    assert e.rung <= e.complexity
    assert set(e.names) <= set(NAMES)
    X = np.random.default_rng(0).uniform(0.5, 2.0, size=(5, len(NAMES)))
    np.testing.assert_array_equal(np.isnan(e.evaluate(X)), np.isnan(back.evaluate(X)))


def test_docstring_examples_run():
    import doctest

    from bigmax.analytics.sisso import expression, feature_space, screening, units

    for mod in (units, expression, screening, feature_space):
        result = doctest.testmod(mod)
        assert result.failed == 0 and result.attempted > 0, mod.__name__
