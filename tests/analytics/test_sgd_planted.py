"""A planted rule, y = N(0,1) + 2 [x0 > 1 and x3 < 0] on 10^4 x 20, comes out on top."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bigmax.analytics.subgroups import (
    CumulativeJS,
    DispersionCorrectedMedianShift,
    Impact,
    MeanShift,
    StdReduction,
    SubgroupDiscovery,
    cut_points,
)


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((10_000, 20))
    y = rng.standard_normal(10_000) + 2.0 * ((X[:, 0] > 1) & (X[:, 3] < 0))
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(20)]), pd.Series(y, name="y")


def _nearest(values, n_cuts, planted_at):
    cuts = cut_points(values, n_cuts)
    return cuts[np.argmin(np.abs(cuts - planted_at))]


def _assert_planted(rule, X, n_cuts):
    sels = sorted(rule.selectors, key=lambda s: s.name)
    assert [(s.name, s.op) for s in sels] == [("x0", ">="), ("x3", "<=")], str(rule)
    assert sels[0].value == _nearest(X["x0"], n_cuts, 1.0), str(rule)
    assert sels[1].value == _nearest(X["x3"], n_cuts, 0.0), str(rule)


@pytest.mark.parametrize(
    "quality",
    [
        Impact(),
        MeanShift(a=0.5),
        DispersionCorrectedMedianShift(),
        DispersionCorrectedMedianShift(gamma=0.5),
        CumulativeJS(),
    ],
    ids=["impact", "mean-shift-0.5", "median-shift", "median-shift-0.5", "cjs"],
)
def test_planted_rule_on_top(planted, quality):
    # sextile cuts put a cut point within 0.05 of each planted threshold (0.955 and -0.007)
    X, y = planted
    model = SubgroupDiscovery(quality=quality, depth=2, top_k=3, n_cuts=5, n_permutations=0)
    model.fit(X, y)
    _assert_planted(model.rules_[0], X, 5)
    inside = model.membership_[:, 0]
    assert y[inside].mean() > 1.4 and y[~inside].mean() < 0.1


def test_planted_rule_with_default_deciles_and_every_search(planted):
    X, y = planted
    for search in ("bnb", "best-first", "beam"):
        model = SubgroupDiscovery(search=search, top_k=5, n_permutations=200, random_state=0)
        model.fit(X, y)
        _assert_planted(model.rules_[0], X, 9)
        assert str(model.rules_[0]) == "x0 >= 0.827 AND x3 <= -0.00749"
        assert model.subgroups_["count"].iloc[0] == 1012
        assert model.subgroups_["p_value"].iloc[0] == pytest.approx(1 / 201)
    # the same quality, in pysubgroup's units (size x mean shift), as the reference note
    assert model.subgroups_["quality"].iloc[0] * 10_000 == pytest.approx(1394.8019, abs=1e-3)


def test_planted_rule_at_depth_3_exhaustive(planted):
    X, y = planted
    model = SubgroupDiscovery(depth=3, top_k=5, n_permutations=0).fit(X, y)
    _assert_planted(model.rules_[0], X, 9)


def test_std_reduction_finds_the_quiet_complement_instead(planted):
    # coverage x (1 - sigma_Q/sigma_P) rewards a large group with a narrow target: the rest of
    # the data (no planted shift, sigma 1 against 1.14 overall) beats the planted group itself,
    # whose sigma is also 1 but whose coverage is 10 times smaller. It should not win here.
    X, y = planted
    model = SubgroupDiscovery(quality=StdReduction(), depth=2, top_k=3, n_cuts=5,
                              n_permutations=0).fit(X, y)
    top = model.rules_[0]
    assert [(s.name, s.op) for s in top] == [("x0", "<=")]
    assert top.selectors[0].value == _nearest(X["x0"], 5, 1.0)
    assert model.subgroups_["std"].iloc[0] < y.std() * 0.9
