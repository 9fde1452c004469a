"""SIS scores (Pearson, several residuals, multi-task) and the streaming top-k."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.sisso.expression import Expression
from bigmax.analytics.sisso.screening import TopK, offer_block, pearson_score, standardize


def test_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    y = rng.normal(size=50)
    V = rng.normal(size=(50, 7))
    V[:, 3] = 2 * y + 1
    V[:, 4] = -y
    s = pearson_score(y)(V)
    want = [abs(np.corrcoef(V[:, j], y)[0, 1]) for j in range(7)]
    np.testing.assert_allclose(s, want, rtol=1e-12)
    assert s[3] == pytest.approx(1.0) and s[4] == pytest.approx(1.0)
    const = np.ones((50, 1))
    assert pearson_score(y)(const)[0] == 0.0
    assert np.isnan(pearson_score(y)(np.full((50, 1), np.nan))[0])


def test_several_targets_take_the_max():
    rng = np.random.default_rng(1)
    Y = rng.normal(size=(30, 4))
    V = rng.normal(size=(30, 9))
    s = pearson_score(Y)(V)
    want = [max(abs(np.corrcoef(V[:, j], Y[:, r])[0, 1]) for r in range(4)) for j in range(9)]
    np.testing.assert_allclose(s, want, rtol=1e-12)


def test_multi_task_score_is_the_root_of_the_per_task_fit_r2():
    rng = np.random.default_rng(2)
    tasks = np.repeat(["a", "b", "c"], [10, 15, 12])
    rng.shuffle(tasks)
    y = rng.normal(size=37) + (tasks == "b") * 5.0
    V = rng.normal(size=(37, 6))
    s = pearson_score(y, tasks=tasks)(V)
    for j in range(6):
        ss_res = ss_tot = 0.0
        for t in np.unique(tasks):
            rows = tasks == t
            A = np.c_[np.ones(rows.sum()), V[rows, j]]
            r = y[rows] - A @ np.linalg.lstsq(A, y[rows], rcond=None)[0]
            ss_res += r @ r
            ss_tot += ((y[rows] - y[rows].mean()) ** 2).sum()
        assert s[j] == pytest.approx(np.sqrt(1 - ss_res / ss_tot), rel=1e-10)
    # one task reduces to the plain Pearson score
    np.testing.assert_allclose(pearson_score(y, tasks=np.zeros(37))(V), pearson_score(y)(V))


def test_score_errors():
    with pytest.raises(ValueError, match="constant"):
        pearson_score(np.ones(10))
    with pytest.raises(ValueError, match="non-finite"):
        pearson_score(np.r_[np.arange(9.0), np.nan])
    with pytest.raises(ValueError, match="tasks"):
        pearson_score(np.arange(10.0), tasks=[0, 1])
    with pytest.raises(ValueError, match="3 samples"):
        pearson_score([1.0, 2.0])
    with pytest.raises(ValueError, match="rows"):
        pearson_score(np.arange(10.0))(np.ones((9, 2)))


def _exprs(p):
    names = [f"x{i}" for i in range(p)]
    return Expression.primaries(names)


def test_topk_keeps_the_simpler_twin_whatever_the_order():
    rng = np.random.default_rng(4)
    base = rng.normal(size=20)
    prim = _exprs(3)
    twin = Expression("sq", (prim[1],))  # complexity 1
    vals = {prim[0]: base, twin: 2 * base + 3, prim[2]: rng.normal(size=20)}
    for order in ([prim[0], twin, prim[2]], [twin, prim[0], prim[2]]):
        top = TopK(2)
        for e in order:
            top.offer(0.9 if e is not prim[2] else 0.5, lambda e=e: (e, vals[e]))
        res = top.result()
        assert [str(e) for e in res.expressions] == ["x0", "x2"]


def test_topk_exclude_and_threshold():
    rng = np.random.default_rng(5)
    V = rng.normal(size=(6, 25))
    prim = _exprs(6)
    top = TopK(3, exclude=standardize(V[[0]] * -4.0))
    scores = np.array([0.99, 0.8, 0.7, 0.6, 0.5, 0.4])
    offer_block(top, scores, lambda i: (prim[i], V[i]))
    res = top.result()
    assert [str(e) for e in res.expressions] == ["x1", "x2", "x3"]
    assert top.threshold == pytest.approx(0.6 - 1e-6)
    assert res.values.shape == (25, 3)


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(12))), st.integers(1, 6), st.sampled_from([None, 1e-3]))
def test_topk_result_does_not_depend_on_arrival_order(perm, k, window):
    rng = np.random.default_rng(6)
    V = rng.normal(size=(12, 15))
    V[5] = V[2] * 3  # twins
    V[9] = -V[2]
    prim = _exprs(12)
    scores = np.round(rng.uniform(size=12), 2)  # some exact ties
    scores[[5, 9]] = scores[2]
    ref = TopK(k)
    for i in range(12):
        ref.offer(scores[i], lambda i=i: (prim[i], V[i]))
    top = TopK(k, score_window=window)
    for i in perm:
        top.offer(scores[i], lambda i=i: (prim[i], V[i]))
    assert [e.rpn for e in top.result().expressions] == [e.rpn for e in ref.result().expressions]
    assert "5" not in [e.rpn for e in ref.result().expressions]  # x2 is the simpler twin
