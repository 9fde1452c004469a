"""The SISSO feature space on the 82 octet binaries and on small synthetic data."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.sisso.expression import Expression
from bigmax.analytics.sisso.feature_space import FeatureSpace, FeatureSpaceError
from bigmax.analytics.sisso.operators import FORTRAN_OPERATORS
from bigmax.analytics.sisso.screening import pearson_score
from bigmax.analytics.sisso.units import UnitError, parse_header

DATA = Path(__file__).parents[1] / "data" / "sisso" / "octet_binaries_82.csv"


@pytest.fixture(scope="module")
def octet():
    df = pd.read_csv(DATA)
    parsed = [parse_header(c) for c in df.columns[2:]]
    names = [n for n, _ in parsed]
    units = [u for _, u in parsed]
    return df.iloc[:, 2:].to_numpy(), df.iloc[:, 1].to_numpy(), names, units


@pytest.fixture(scope="module")
def fortran_space(octet):
    X, _, names, units = octet
    return FeatureSpace(X, names, units, operators=FORTRAN_OPERATORS, max_rung=2,
                        unit_mode="fortran", max_complexity=3).fit()


@pytest.fixture(scope="module")
def strict_space(octet):
    X, _, names, units = octet
    return FeatureSpace(X, names, units, max_rung=2).fit()


def test_fortran_counts_match_the_reference(fortran_space):
    # rouyang2017/SISSO v3.5 on the same input prints 930 (Phi1) and 1331144 (Phi2)
    sizes = fortran_space.rung_sizes
    assert sizes[0] + sizes[1] == 930
    assert fortran_space.n_features == 1_331_144
    assert sizes == [20, 910, 1_330_214]
    # cbrt of negative values is NaN there: counted, never selectable
    assert fortran_space.n_selectable < fortran_space.n_features


def test_fortran_1d_pick_is_the_reference_model(octet, fortran_space):
    _, y, _, _ = octet
    res = fortran_space.screen(pearson_score(y), 10)
    assert str(res.expressions[0]) == "exp(-r_p_A) / cbrt(r_pi)"
    assert len(res) == 10 and np.all(np.diff(res.scores) <= 0)
    for e in res.expressions:
        assert e.complexity <= 3 and e.rung <= 2


def test_strict_top1_is_the_sisso_pp_1d_feature(octet, strict_space):
    X, y, _, _ = octet
    res = strict_space.screen(pearson_score(y), 10)
    top = res.expressions[0]
    assert top.rpn == "9|14|div|18|15|add|div"  # (E_HOMO_B / r_p_A) / (r_sigma + r_p_B)
    np.testing.assert_allclose(res.scores[0], abs(np.corrcoef(top.evaluate(X), y)[0, 1]),
                               rtol=1e-12)
    np.testing.assert_allclose(res.values[:, 0], top.evaluate(X), rtol=1e-14)
    for e in res.expressions:
        e.check_units("strict")  # raises on a unit violation


def test_strict_dimension_2_subspace_holds_the_sisso_pp_feature(octet, strict_space):
    X, y, names, units = octet
    first = strict_space.screen(pearson_score(y), 10)
    resid = []
    for j in range(10):  # residuals of the 10 best 1D models (all 1D models here)
        A = np.c_[np.ones(len(y)), first.values[:, j]]
        resid.append(y - A @ np.linalg.lstsq(A, y, rcond=None)[0])
    rmse = [np.sqrt(np.mean(r**2)) for r in resid]
    targets = np.array(resid)[np.argsort(rmse, kind="stable")].T
    second = strict_space.screen(pearson_score(targets), 10, exclude=first.expressions)
    assert not set(second.rpns) & set(first.rpns)
    want = Expression.from_rpn("7|4|sub|18|13|abs_diff|mult", names, units)
    assert want.rpn in second.rpns
    # its 2D fit with the 1D feature is SISSO++'s model (RMSE 0.0931541 eV)
    A = np.c_[np.ones(len(y)), first.values[:, 0], want.evaluate(X)]
    r = y - A @ np.linalg.lstsq(A, y, rcond=None)[0]
    assert round(float(np.sqrt(np.mean(r**2))), 7) == 0.0931541


def test_n_jobs_and_chunk_size_do_not_change_the_result(octet):
    X, y, names, units = octet
    ops = ["add", "sub", "abs_diff", "mult", "div", "inv", "sq", "sqrt"]
    score = pearson_score(y)
    ref = FeatureSpace(X, names, units, operators=ops, max_rung=2).fit().screen(score, 25)
    for kw in ({"n_jobs": 2}, {"chunk_size": 1000}, {"n_jobs": 2, "chunk_size": 777}):
        fs = FeatureSpace(X, names, units, operators=ops, max_rung=2, **kw).fit()
        res = fs.screen(score, 25)
        assert res.rpns == ref.rpns
        np.testing.assert_array_equal(res.scores, ref.scores)
        np.testing.assert_array_equal(res.values, ref.values)


def test_generic_score_matches_the_compiled_pearson(octet):
    X, y, names, units = octet
    fs = FeatureSpace(X[:, 12:], names[12:], units[12:], max_rung=2).fit()
    score = pearson_score(y)
    fast = fs.screen(score, 15)
    slow = fs.screen(lambda v: score(v), 15)
    assert fast.rpns == slow.rpns
    np.testing.assert_allclose(fast.scores, slow.scores, rtol=1e-12)


def test_pruned_screen_against_many_targets_is_exact(octet):
    # ten correlated targets (like the residuals of the ten best models): the compiled screen
    # prunes with a bound; it must pick exactly what the plain per-target scores pick
    X, y, names, units = octet
    rng = np.random.default_rng(11)
    Y = y[:, None] + 0.3 * y.std() * rng.normal(size=(len(y), 10))
    Y[:, 9] = Y[:, 8]  # a repeated target (rank-deficient set)
    ops = ["add", "sub", "abs_diff", "mult", "div", "inv", "sq", "sqrt"]
    score = pearson_score(Y)
    fast = FeatureSpace(X, names, units, operators=ops, max_rung=2).fit().screen(score, 20)
    slow = FeatureSpace(X, names, units, operators=ops, max_rung=2).fit().screen(
        lambda v: score(v), 20)
    assert fast.rpns == slow.rpns
    np.testing.assert_allclose(fast.scores, slow.scores, rtol=1e-11)
    par = FeatureSpace(X, names, units, operators=ops, max_rung=2, n_jobs=2,
                       chunk_size=5000).fit().screen(score, 20)
    assert par.rpns == fast.rpns
    np.testing.assert_array_equal(par.scores, fast.scores)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.floats(0.05, 3.0), st.floats(0.0, 0.9), st.integers(0, 10_000))
def test_kernel_bound_never_drops_a_candidate_above_the_threshold(n_targets, spread, thr, seed):
    from bigmax.analytics.sisso.feature_space import _score_codes

    rng = np.random.default_rng(seed)
    n, m = 30, 400
    base = rng.normal(size=n)
    Y = base[:, None] + spread * rng.normal(size=(n, n_targets))
    V = np.ascontiguousarray(base[None, :] * rng.uniform(-1, 1, size=(m, 1))
                             + rng.normal(size=(m, n)))
    score = pearson_score(Y)
    exact = score(V.T)
    out = np.empty(m)
    codes = (np.zeros(m, np.int8), np.arange(m, dtype=np.int32), np.full(m, -1, np.int32))
    _score_codes(*codes, m, V, False, 0.0, np.inf, *score.kernel_args()[:3], thr,
                 *score.kernel_args()[3:], out)
    keep = exact >= thr
    np.testing.assert_allclose(out[keep], exact[keep], rtol=1e-10, atol=1e-14)
    assert np.all((out[~keep] == -np.inf) | np.isclose(out[~keep], exact[~keep], rtol=1e-10))


def test_multi_task_screen(octet):
    X, y, names, units = octet
    tasks = np.where(X[:, names.index("period_A")] <= 3, "light", "heavy")
    ops = ["add", "sub", "mult", "div", "sq"]
    fs = FeatureSpace(X, names, units, operators=ops, max_rung=2).fit()
    score = pearson_score(y, tasks=tasks)
    fast = fs.screen(score, 10)
    slow = fs.screen(lambda v: score(v), 10)
    assert fast.rpns == slow.rpns
    np.testing.assert_allclose(fast.scores, slow.scores, rtol=1e-12)
    assert fast.rpns != fs.screen(pearson_score(y), 10).rpns


def test_several_residuals_score_is_the_max(octet, strict_space):
    X, y, _, _ = octet
    rng = np.random.default_rng(3)
    other = rng.normal(size=len(y))
    both = strict_space.screen(pearson_score(np.c_[y, other]), 5)
    for e, s in zip(both.expressions, both.scores, strict=True):
        v = e.evaluate(X)
        want = max(abs(np.corrcoef(v, y)[0, 1]), abs(np.corrcoef(v, other)[0, 1]))
        np.testing.assert_allclose(s, want, rtol=1e-10)


def test_duplicates_keep_the_simpler_and_exclude_removes_twins():
    rng = np.random.default_rng(0)
    a = rng.uniform(1, 2, 40)
    b = rng.uniform(1, 2, 40)
    X = np.c_[a, 3 * a + 1, b]  # column 1 is a linear copy of column 0
    y = a + 0.01 * b
    fs = FeatureSpace(X, ["a", "a3", "b"], operators=["add", "mult", "sq"], max_rung=1).fit()
    res = fs.screen(pearson_score(y), 5)
    picked = [str(e) for e in res.expressions]
    assert "a" in picked and "a3" not in picked  # same complexity: the smaller rpn wins
    z = (res.values - res.values.mean(0)) / res.values.std(0)
    corr = np.abs(z.T @ z) / len(y)
    np.fill_diagonal(corr, 0)
    assert corr.max() < 1 - 1e-10
    again = fs.screen(pearson_score(y), 5, exclude=[res.expressions[0]])
    assert "a" not in [str(e) for e in again.expressions]
    assert "a3" not in [str(e) for e in again.expressions]


def test_rung_3_finds_a_planted_formula():
    rng = np.random.default_rng(7)
    X = rng.uniform(0.5, 2.0, size=(60, 4))
    y = 2.0 * np.sqrt(X[:, 0] * X[:, 1]) / (X[:, 2] + X[:, 3]) - 1.0
    names, units = ["a", "b", "c", "d"], ["m", "m", "m", "m"]
    fs = FeatureSpace(X, names, units, operators=["add", "mult", "div", "sqrt"],
                      max_rung=3).fit()
    res = fs.screen(pearson_score(y), 5)
    assert res.scores[0] == pytest.approx(1.0, abs=1e-12)
    top = res.expressions[0]
    assert top.rung == 3 and top.complexity == 4
    assert str(top.unit) == ""
    np.testing.assert_allclose(top.evaluate(X), res.values[:, 0])
    assert fs.rung_sizes[2] > 0 and len(fs.rung_sizes) == 4


def test_strict_construction_rules(octet):
    X, _, names, units = octet
    fs = FeatureSpace(X[:, [0, 4, 6, 12, 14, 18]], [names[i] for i in (0, 4, 6, 12, 14, 18)],
                      [units[i] for i in (0, 4, 6, 12, 14, 18)], max_rung=2).fit()
    seen = set()
    forbidden = ("exp|log", "log|exp", "inv|inv", "sq|sqrt", "sqrt|sq", "cbrt|cb", "cb|cbrt")
    for rung in (1, 2):
        stored = range(fs._rung_start[rung - 1], fs._rung_start[rung]) if rung < 2 else []
        exprs = [fs.expression(i) for i in stored]
        if rung == 2:
            for lo, hi in fs._blocks(2):
                for c in zip(*fs._enumerate(2, lo, hi), strict=True):
                    exprs.append(fs._code_expr(*c))
        for e in exprs:
            e.check_units("strict")
            assert e.rpn not in seen
            seen.add(e.rpn)
            toks = e.rpn.split("|")
            post = "|".join(toks[-2:])
            assert not any(post.endswith(f) for f in forbidden), e.rpn
            if e.op in ("add", "sub", "abs_diff", "mult", "div"):
                assert e.children[0].rpn != e.children[1].rpn  # no a-a, a/a
    # cancellations are never built
    idx = {n: i for i, n in enumerate(fs.names)}
    a, b = idx["r_s_A"], idx["r_p_A"]
    assert f"{b}|{a}|add|{a}|sub" not in seen and f"{b}|{a}|mult|{a}|div" not in seen


def test_value_filters_and_complexity(octet):
    X, y, names, units = octet
    loose = FeatureSpace(X, names, units, max_rung=1).fit()
    tight = FeatureSpace(X, names, units, max_rung=1, max_abs=10.0, min_abs=0.5).fit()
    assert tight.n_features < loose.n_features
    res = tight.screen(pearson_score(y), 20)
    assert np.all(np.abs(res.values).max(axis=0) <= 10.0)
    assert np.all(np.abs(res.values).max(axis=0) >= 0.5)
    capped = FeatureSpace(X, names, units, max_rung=2, max_complexity=2).fit()
    res = capped.screen(pearson_score(y), 20)
    assert max(e.complexity for e in res.expressions) <= 2
    per_rung = FeatureSpace(X, names, units, max_rung=2, operators=[["sq"], ["add"]]).fit()
    res = per_rung.screen(pearson_score(y), 30)
    for e in res.expressions:
        assert set(e.rpn.split("|")) - set(map(str, range(20))) <= {"sq", "add"}
        if e.rung == 2:
            assert e.op == "add"


def test_fortran_mode_allows_dimensional_transcendentals(octet, fortran_space):
    X, y, names, units = octet
    res = fortran_space.screen(pearson_score(y), 200)
    assert any("exp(-r_" in str(e) for e in res.expressions)
    strict = FeatureSpace(X, names, units, max_rung=1).fit()
    for e in strict.screen(pearson_score(y), 200).expressions:
        e.check_units("strict")


# --- bad input ------------------------------------------------------------------------------
def test_bad_input_names_the_column():
    X = np.random.default_rng(0).uniform(size=(5, 3))
    names = ["a", "b", "c"]
    bad = X.copy()
    bad[2, 1] = np.nan
    with pytest.raises(FeatureSpaceError, match="'b'.*row 2"):
        FeatureSpace(bad, names)
    bad[2, 1] = np.inf
    with pytest.raises(FeatureSpaceError, match="'b'"):
        FeatureSpace(bad, names)
    const = X.copy()
    const[:, 2] = 4.0
    with pytest.raises(FeatureSpaceError, match="'c' is constant"):
        FeatureSpace(const, names)
    with pytest.raises(UnitError, match="'a'"):
        FeatureSpace(X, names, ["eV^x", "", ""])
    with pytest.raises(FeatureSpaceError, match="3 names but 2 units"):
        FeatureSpace(X, names, ["eV", "AA"])
    with pytest.raises(FeatureSpaceError, match="3 columns but 2 names"):
        FeatureSpace(X, names[:2])
    with pytest.raises(FeatureSpaceError, match="at least 3 samples"):
        FeatureSpace(X[:2], names)
    with pytest.raises(FeatureSpaceError, match="'a' appears twice"):
        FeatureSpace(X, ["a", "a", "c"])
    with pytest.raises(FeatureSpaceError, match="unit_mode"):
        FeatureSpace(X, names, unit_mode="loose")
    with pytest.raises(FeatureSpaceError, match="unknown operator"):
        FeatureSpace(X, names, operators=["add", "tanh"])
    fs = FeatureSpace(X, names, max_rung=1)
    with pytest.raises(FeatureSpaceError, match="n_select"):
        fs.screen(pearson_score(X[:, 0]), 0)
    with pytest.raises(FeatureSpaceError, match="samples"):
        fs.screen(pearson_score(np.arange(7.0)), 3)
    assert issubclass(FeatureSpaceError, ValueError)


@settings(max_examples=40, deadline=None)
@given(
    st.integers(3, 8),
    st.integers(1, 5),
    st.data(),
    st.sampled_from([np.nan, np.inf, -np.inf]),
)
def test_a_non_finite_value_is_reported_with_its_column(n, p, data, bad_value):
    X = np.random.default_rng(n * 10 + p).uniform(1, 2, size=(n, p))
    row = data.draw(st.integers(0, n - 1))
    col = data.draw(st.integers(0, p - 1))
    X[row, col] = bad_value
    names = [f"f{i}" for i in range(p)]
    with pytest.raises(FeatureSpaceError, match=f"'f{col}'"):
        FeatureSpace(X, names)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.data(), st.sampled_from(["eV^x", "(AA", "m//s", "3kg", "eV^", "a-b"]))
def test_a_bad_unit_is_reported_with_its_column(p, data, bad):
    X = np.random.default_rng(p).uniform(1, 2, size=(4, p))
    units = ["eV"] * p
    col = data.draw(st.integers(0, p - 1))
    units[col] = bad
    with pytest.raises(UnitError, match=f"column 'f{col}'"):
        FeatureSpace(X, [f"f{i}" for i in range(p)], units)


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 8), st.integers(2, 5), st.data())
def test_a_constant_column_is_reported(n, p, data):
    X = np.random.default_rng(n + p).uniform(1, 2, size=(n, p))
    col = data.draw(st.integers(0, p - 1))
    X[:, col] = data.draw(st.floats(-1e6, 1e6, allow_nan=False))
    with pytest.raises(FeatureSpaceError, match=f"'f{col}' is constant"):
        FeatureSpace(X, [f"f{i}" for i in range(p)])
