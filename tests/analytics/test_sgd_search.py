"""Subgroup search: branch and bound and best-first give the brute-force top-k exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.analytics.subgroups import (
    CumulativeJS,
    DispersionCorrectedMedianShift,
    Impact,
    MeanShift,
    Quality,
    StdReduction,
    WRAcc,
    make_selectors,
)
from bigmax.analytics.subgroups.search import Problem, brute_force, run_search

QUALITIES = {
    "impact": Impact,
    "impact-lower": lambda: Impact(direction="lower"),
    "mean-shift-0.5": lambda: MeanShift(a=0.5),
    "median-shift": DispersionCorrectedMedianShift,
    "median-shift-lower-0.5": lambda: DispersionCorrectedMedianShift(0.5, "lower"),
    "std-reduction": StdReduction,
    "cjs": CumulativeJS,
}


def _data(seed: int, n: int = 120, p: int = 4, n_cuts: int = 3):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.standard_normal((n, p)), columns=[f"f{i}" for i in range(p)])
    y = rng.standard_normal(n) + 1.5 * ((X["f0"] > 0.3) & (X["f1"] < 0)).to_numpy()
    _, covers = make_selectors(X, n_cuts=n_cuts)
    return y, covers


def _key(cands):
    return [(c.conj, round(c.quality, 12), c.count) for c in cands]


@pytest.mark.parametrize("name", sorted(QUALITIES))
@pytest.mark.parametrize("depth", [1, 2, 3])
def test_exhaustive_searches_match_brute_force(name, depth):
    y, covers = _data(seed=depth)
    problem, _ = Problem.build(y, covers, QUALITIES[name](), depth=depth, top_k=7)
    expected = _key(brute_force(problem))
    assert len(expected) == 7
    assert _key(run_search(problem, "bnb", engine="general").candidates) == expected
    assert _key(run_search(problem, "best-first").candidates) == expected
    if name.startswith("impact"):
        assert _key(run_search(problem, "bnb", engine="matrix").candidates) == expected


@pytest.mark.parametrize("closed", [True, False])
@pytest.mark.parametrize("min_count", [1, 15])
def test_closed_and_min_count_match_brute_force(closed, min_count):
    y, covers = _data(seed=11, n=90)
    for quality in (Impact(), DispersionCorrectedMedianShift()):
        problem, _ = Problem.build(y, covers, quality, depth=3, top_k=12, min_count=min_count,
                                   closed=closed)
        expected = brute_force(problem)
        assert all(c.count >= min_count for c in expected)
        assert _key(run_search(problem, "bnb", engine="general").candidates) == _key(expected)
        if isinstance(quality, Impact):
            assert _key(run_search(problem, "bnb", engine="matrix").candidates) == _key(expected)


def test_closed_pruning_drops_redundant_conjunctions():
    y, covers = _data(seed=3)
    closed, _ = Problem.build(y, covers, Impact(), depth=2, top_k=50, closed=True)
    open_, _ = Problem.build(y, covers, Impact(), depth=2, top_k=50, closed=False)
    got = brute_force(closed)
    covers_seen = {}
    for cand in got:
        members = tuple(np.flatnonzero(covers[:, list(cand.conj)].all(axis=1)))
        # no kept conjunction covers what one of its parts covers
        for drop in cand.conj:
            rest = [c for c in cand.conj if c != drop]
            part = covers[:, rest].all(axis=1) if rest else np.ones(len(y), bool)
            assert tuple(np.flatnonzero(part)) != members
        covers_seen.setdefault(members, []).append(cand.conj)
    # without closed pruning the same cover shows up under several (longer) names
    assert len(brute_force(open_)) == 50
    longer = [c for c in brute_force(open_) if len(c.conj) == 2]
    assert any(
        covers[:, list(c.conj)].all(axis=1).sum() == covers[:, c.conj[0]].sum()
        or covers[:, list(c.conj)].all(axis=1).sum() == covers[:, c.conj[1]].sum()
        for c in longer
    )


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(8, 60),
    p=st.integers(1, 4),
    depth=st.integers(1, 3),
    k=st.integers(1, 9),
    name=st.sampled_from(sorted(QUALITIES)),
    ties=st.booleans(),
)
def test_hypothesis_bnb_equals_brute_force(seed, n, p, depth, k, name, ties):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = rng.standard_normal(n)
    if ties:  # repeated values in features and target stress ties and equal covers
        X = np.round(X)
        y = np.round(y * 2) / 2
    if np.ptp(y) == 0:
        y[0] += 1.0
    X = pd.DataFrame(X, columns=[f"f{i}" for i in range(p)])
    try:
        _, covers = make_selectors(X, n_cuts=3)
    except ValueError:
        return  # every feature constant: nothing to search
    quality = QUALITIES[name]()
    problem, _ = Problem.build(y, covers, quality, depth=depth, top_k=k)
    expected = _key(brute_force(problem))
    assert _key(run_search(problem, "bnb", engine="general").candidates) == expected
    assert _key(run_search(problem, "best-first").candidates) == expected
    if name.startswith("impact"):
        assert _key(run_search(problem, "bnb", engine="matrix").candidates) == expected


def test_wracc_on_binary_target_matches_brute_force():
    rng = np.random.default_rng(5)
    X = pd.DataFrame(rng.standard_normal((150, 4)), columns=list("abcd"))
    y = ((X["a"] > 0) & (X["b"] > -0.5)).to_numpy().astype(float)
    flip = rng.random(150) < 0.1
    y[flip] = 1 - y[flip]
    _, covers = make_selectors(X, n_cuts=4)
    problem, _ = Problem.build(y, covers, WRAcc(), depth=2, top_k=5)
    expected = _key(brute_force(problem))
    assert _key(run_search(problem, "bnb").candidates) == expected


def test_n_jobs_gives_identical_results():
    y, covers = _data(seed=21, n=400, p=6, n_cuts=5)
    for quality in (Impact(), DispersionCorrectedMedianShift(), CumulativeJS()):
        problem, _ = Problem.build(y, covers, quality, depth=3, top_k=10)
        one = run_search(problem, "bnb", n_jobs=1).candidates
        two = run_search(problem, "bnb", n_jobs=2).candidates
        assert [(c.conj, c.quality, c.count) for c in one] == [
            (c.conj, c.quality, c.count) for c in two
        ]
        beam1 = run_search(problem, "beam", beam_width=15, n_jobs=1).candidates
        beam2 = run_search(problem, "beam", beam_width=15, n_jobs=2).candidates
        assert _key(beam1) == _key(beam2)


def test_beam_is_no_better_than_exact_and_finds_the_planted_pair():
    y, covers = _data(seed=8, n=300, p=5, n_cuts=5)
    problem, _ = Problem.build(y, covers, Impact(), depth=2, top_k=5)
    exact = run_search(problem, "bnb").candidates
    beam = run_search(problem, "beam", beam_width=20).candidates
    assert len(beam) == 5
    for b, e in zip(beam, exact, strict=True):
        assert b.quality <= e.quality + 1e-12
    assert beam[0].conj == exact[0].conj


class _NoEstimate(Quality):
    name = "variance-ratio"

    def __call__(self, sg, pop):
        return sg.coverage * (1.0 - sg.std**2 / pop.std[0] ** 2)


def test_user_quality_without_estimate_warns_and_is_still_exact():
    y, covers = _data(seed=2, n=60, p=3)
    problem, _ = Problem.build(y, covers, _NoEstimate(), depth=2, top_k=5)
    with pytest.warns(UserWarning, match="no optimistic estimate"):
        got = run_search(problem, "bnb").candidates
    assert _key(got) == _key(brute_force(problem))
