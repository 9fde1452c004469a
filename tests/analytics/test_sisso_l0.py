"""The l0 search against brute-force least squares, and its tie-breaks and determinism."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.sisso.l0 import L0Error, fit_subset, l0_search


def _brute(D, y, n_dim, codes=None, weighting="equal"):
    n, m = D.shape
    codes = np.zeros(n, dtype=int) if codes is None else codes
    n_tasks = int(codes.max()) + 1
    counts = np.bincount(codes).astype(float)
    out = []
    for sub in itertools.combinations(range(m), n_dim):
        A = D[:, list(sub)]
        ok = all(
            np.linalg.matrix_rank(np.column_stack([np.ones((codes == t).sum()), A[codes == t]]))
            == n_dim + 1
            for t in range(n_tasks)
        )
        if not ok:
            continue
        *_, resid, task_mse = fit_subset(A, y, codes, n_tasks)
        mse = task_mse.mean() if weighting == "equal" else (task_mse * counts).sum() / n
        out.append((np.sqrt(mse), np.abs(resid).max(), sub))
    out.sort()
    return out


def _data(seed, n=50, m=12):
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n, m)) * rng.uniform(0.01, 100.0, size=m) + rng.normal(size=m) * 10
    j = min(7, m - 1)
    y = 0.3 * D[:, 2] / D[:, 2].std() - 0.5 * D[:, j] / D[:, j].std() + rng.normal(size=n)
    return D, y


@pytest.mark.parametrize("n_dim", [1, 2, 3, 4])
def test_l0_matches_brute_force(n_dim):
    D, y = _data(1)
    res = l0_search(D, y, n_dim, n_models=5)
    ref = _brute(D, y, n_dim)
    np.testing.assert_allclose(res.rmse, [r[0] for r in ref[:5]], rtol=1e-10)
    assert [tuple(s) for s in res.subsets] == [r[2] for r in ref[:5]]
    # the exact refit: coefficients of the best model
    A = np.column_stack([np.ones(len(y)), D[:, res.subsets[0]]])
    sol = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(res.intercepts[0, 0], sol[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.coefs[0, 0], sol[1:], rtol=1e-9)


@pytest.mark.parametrize("weighting", ["equal", "size"])
def test_l0_multitask_matches_brute_force(weighting):
    D, y = _data(2, n=60, m=10)
    codes = np.repeat([0, 1, 2], 20)
    tasks = np.array(["b", "a", "c"])[codes]  # labels sort to a, b, c
    y = y + 3.0 * (codes == 1) * D[:, 4] / D[:, 4].std()
    res = l0_search(D, y, 2, n_models=4, tasks=tasks, task_weighting=weighting)
    ref = _brute(D, y, 2, codes, weighting)
    np.testing.assert_allclose(res.rmse, [r[0] for r in ref[:4]], rtol=1e-10)
    assert list(res.tasks) == ["a", "b", "c"]
    # per-task coefficients differ; task "a" is code 1 here
    rows = codes == 1
    A = np.column_stack([np.ones(rows.sum()), D[rows][:, res.subsets[0]]])
    sol = np.linalg.lstsq(A, y[rows], rcond=None)[0]
    np.testing.assert_allclose(res.coefs[0, 0], sol[1:], rtol=1e-9)


def test_l0_n_jobs_identical():
    D, y = _data(3, n=40, m=40)
    a = l0_search(D, y, 3, n_models=10, n_jobs=1)
    b = l0_search(D, y, 3, n_models=10, n_jobs=2)
    np.testing.assert_array_equal(a.subsets, b.subsets)
    np.testing.assert_array_equal(a.rmse, b.rmse)
    np.testing.assert_array_equal(a.coefs, b.coefs)


def test_l0_progress_reaches_one():
    D, y = _data(4, m=20)
    seen = []
    l0_search(D, y, 3, progress=seen.append, n_jobs=2)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)


def test_l0_maxae_metric():
    D, y = _data(5)
    res = l0_search(D, y, 2, n_models=3, metric="maxae")
    ref = sorted(_brute(D, y, 2), key=lambda r: r[1])
    # MaxAE is ranked among the best subsets by RMSE; on this data that includes the optimum
    assert res.maxae[0] == pytest.approx(ref[0][1], rel=1e-10)
    assert list(res.maxae) == sorted(res.maxae)


def test_l0_tie_breaks_complexity_then_text():
    rng = np.random.default_rng(6)
    x = rng.normal(size=30)
    y = 2 * x + 1
    D = np.column_stack([x, 3 * x + 5, -x, rng.normal(size=30)])  # three exact fits
    res = l0_search(D, y, 1, n_models=3, complexity=[2, 1, 1, 0], keys=["b", "z", "a", "c"])
    # equal errors (all exact): lower complexity first, then the text
    assert [int(s[0]) for s in res.subsets] == [2, 1, 0]


def test_l0_skips_collinear_subsets():
    D, y = _data(7, m=6)
    D[:, 5] = 2 * D[:, 1] - D[:, 3]
    res = l0_search(D, y, 3, n_models=50)
    assert not any({1, 3, 5} <= set(s) for s in res.subsets.tolist())


def test_l0_constant_column_in_one_task_is_skipped():
    D, y = _data(8, n=40, m=5)
    tasks = np.repeat([0, 1], 20)
    D[tasks == 1, 2] = 4.0
    res = l0_search(D, y, 1, n_models=5, tasks=tasks)
    assert 2 not in res.subsets.ravel()


def test_l0_too_few_samples_names_task():
    D, y = _data(9, n=20, m=5)
    tasks = np.array([0] * 18 + [1] * 2)
    with pytest.raises(L0Error, match="too few samples: task 1 has 2"):
        l0_search(D, y, 2, tasks=tasks)


def test_l0_bad_arguments():
    D, y = _data(10, m=4)
    with pytest.raises(L0Error, match="n_dim"):
        l0_search(D, y, 5)
    with pytest.raises(L0Error, match="metric"):
        l0_search(D, y, 1, metric="mae")
    D[0, 0] = np.nan
    with pytest.raises(L0Error, match="finite"):
        l0_search(D, y, 1)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    m=st.integers(3, 9),
    n_dim=st.integers(1, 3),
    n_models=st.integers(1, 4),
)
def test_l0_property_best_is_brute_force_best(seed, m, n_dim, n_models):
    D, y = _data(seed, n=25, m=m)
    if n_dim > m:
        return
    res = l0_search(D, y, n_dim, n_models=n_models)
    ref = _brute(D, y, n_dim)
    k = min(n_models, len(ref))
    np.testing.assert_allclose(res.rmse[:k], [r[0] for r in ref[:k]], rtol=1e-8)
