"""Quality functions: values against direct formulas, estimates never below any refinement."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.analytics.subgroups import (
    CumulativeJS,
    DispersionCorrectedMedianShift,
    Impact,
    MeanShift,
    StdReduction,
    SubgroupInputError,
    SubgroupStats,
    WRAcc,
    get_quality,
)

# (factory, tight): a tight estimate equals the best quality over all subsets
QUALITIES = {
    "impact": (Impact, True),
    "impact-lower": (lambda: Impact(direction="lower"), True),
    "mean-shift-0.5": (lambda: MeanShift(a=0.5), True),
    "mean-shift-2": (lambda: MeanShift(a=2.0), True),
    "median-shift": (DispersionCorrectedMedianShift, True),
    "median-shift-0.5-lower": (lambda: DispersionCorrectedMedianShift(0.5, "lower"), True),
    "median-shift-2": (lambda: DispersionCorrectedMedianShift(2.0), True),
    "std-reduction": (StdReduction, True),
    "std-reduction-0.5": (lambda: StdReduction(0.5), True),
    "cjs": (CumulativeJS, False),
    "cjs-0.5": (lambda: CumulativeJS(0.5), False),
}


def _batch(y_sorted, subsets):
    counts = [len(s) for s in subsets]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    pos = np.concatenate([np.sort(np.asarray(s, dtype=np.int32)) for s in subsets])
    return SubgroupStats.from_positions(y_sorted, pos.astype(np.int32), offsets)


def _all_subsets(members, min_size):
    for r in range(max(min_size, 1), len(members) + 1):
        yield from itertools.combinations(members, r)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(st.floats(-5, 5, allow_nan=False), min_size=4, max_size=30),
    data=st.data(),
    name=st.sampled_from(sorted(QUALITIES)),
    min_count=st.integers(1, 3),
    ties=st.booleans(),
)
def test_estimate_bounds_every_refinement(values, data, name, min_count, ties):
    y = np.sort(np.round(values) if ties else np.asarray(values))
    if np.ptp(y) < 1e-6:  # the qualities refuse a target without spread (tested below)
        y[-1] += 1.0
    factory, tight = QUALITIES[name]
    q = factory().bind(y, min_count=min_count)
    size = data.draw(st.integers(max(min_count, 1), min(10, len(y))))
    members = sorted(data.draw(st.permutations(range(len(y))))[:size])
    node = _batch(y, [members])
    subsets = list(_all_subsets(members, min_count))
    sub = _batch(y, subsets)
    best = float(np.max(q(sub, q.pop_)))
    oe = float(q.optimistic_estimate(node, q.pop_)[0])
    assert oe >= best - 1e-9 * max(1.0, abs(best))
    if tight:
        # std reduction guards its prefix-sum variances against rounding (then takes a
        # square root), so it is tight to about 1e-4 only
        assert oe == pytest.approx(best, rel=1e-9, abs=1e-4 if "std" in name else 1e-12)
    # a threshold may loosen the estimate, never make it invalid
    for thr in (best * 0.5, best, best * 2 + 1):
        assert float(q.optimistic_estimate(node, q.pop_, threshold=thr)[0]) >= best - 1e-9


def test_values_against_direct_formulas():
    rng = np.random.default_rng(0)
    y = np.sort(rng.normal(size=50))
    subsets = [rng.choice(50, size=s, replace=False) for s in (1, 2, 7, 20, 50)]
    stats = _batch(y, subsets)
    sigma, med_p = y.std(), np.median(y)
    amd_p = np.mean(np.abs(y - med_p))
    for j, s in enumerate(subsets):
        v = y[np.sort(s)]
        cov = len(v) / 50
        med = np.median(v)
        amd = np.mean(np.abs(v - med))
        assert stats.median[j] == pytest.approx(med)
        assert stats.mad[j] == pytest.approx(amd)
        assert stats.std[j] == pytest.approx(v.std())
        imp = Impact().bind(y)
        assert imp(stats, imp.pop_)[j] == pytest.approx(cov * (v.mean() - y.mean()))
        ms = MeanShift(a=0.5).bind(y)
        assert ms(stats, ms.pop_)[j] == pytest.approx(cov**0.5 * (v.mean() - y.mean()))
        dc = DispersionCorrectedMedianShift().bind(y)
        want = cov * max(med - med_p, 0) * max(1 - amd / amd_p, 0)
        assert dc(stats, dc.pop_)[j] == pytest.approx(want, abs=1e-15)
        sr = StdReduction().bind(y)
        assert sr(stats, sr.pop_)[j] == pytest.approx(cov * (1 - v.std() / sigma))
        cj = CumulativeJS().bind(y)
        assert cj(stats, cj.pop_)[j] == pytest.approx(cov * _cjs_direct(v, y) / sigma, abs=1e-12)


def _cjs_direct(v, y):
    """The CJS integral in log2 units by brute force over the population's gaps."""
    total = 0.0
    for g in range(len(y) - 1):
        fq = np.mean(v <= y[g])
        fp = np.mean(y <= y[g])
        s = fq + fp
        term = 0.0
        if fq > 0:
            term += fq * np.log2(2 * fq / s)
        if fp > 0:
            term += fp * np.log2(2 * fp / s)
        total += (y[g + 1] - y[g]) * term
    return total


def test_cjs_threshold_shortcut_never_hides_a_value_above_it():
    rng = np.random.default_rng(1)
    y = np.sort(rng.normal(size=400))
    subsets = [rng.choice(400, size=s, replace=False) for s in rng.integers(5, 300, size=40)]
    subsets.append(np.arange(300, 400))  # a real shift
    stats = _batch(y, subsets)
    q = CumulativeJS().bind(y)
    exact = q(stats, q.pop_)
    for thr in np.quantile(exact, [0.1, 0.5, 0.9, 0.99]):
        lazy = q(stats, q.pop_, threshold=thr)
        above = exact >= thr
        np.testing.assert_allclose(lazy[above], exact[above])
        assert np.all(lazy[~above] < thr)


def test_linear_weights_reproduce_impact():
    rng = np.random.default_rng(2)
    y = np.sort(rng.normal(size=40))
    q = Impact().bind(y)
    wq, woe = q.linear_weights()
    s = np.sort(rng.choice(40, 15, replace=False))
    stats = _batch(y, [s])
    assert wq[s].sum() == pytest.approx(q(stats, q.pop_)[0])
    assert woe[s].sum() == pytest.approx(q.optimistic_estimate(stats, q.pop_)[0])
    assert MeanShift(a=0.5).bind(y).linear_weights() is None
    assert WRAcc().target == "binary"


def test_quality_names_and_bad_parameters():
    assert isinstance(get_quality("median-shift"), DispersionCorrectedMedianShift)
    with pytest.raises(SubgroupInputError, match="quality must be one of"):
        get_quality("nonsense")
    with pytest.raises(SubgroupInputError, match="direction"):
        Impact(direction="up").bind(np.arange(5.0))
    with pytest.raises(SubgroupInputError, match="no dispersion"):
        DispersionCorrectedMedianShift().bind(np.ones(5))
    with pytest.raises(SubgroupInputError, match="no spread"):
        StdReduction().bind(np.ones(5))
