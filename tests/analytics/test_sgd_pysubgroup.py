"""Side by side with pysubgroup 0.8.0 (pandas 3, numpy 2): the same top-k on the same input.

pysubgroup works here as installed, with no workaround. Its DFSNumeric enumerates every set of
distinct selectors, redundant ones included, which is our ``closed=False``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bigmax.analytics.subgroups import SubgroupDiscovery, make_selectors

ps = pytest.importorskip("pysubgroup")


def _peer(df, selectors, depth, k, algorithm):
    space = [ps.IntervalSelector(s.name, s.value, float("inf")) if s.op == ">=" else
             ps.IntervalSelector(s.name, float("-inf"), s.value) for s in selectors]
    task = ps.SubgroupDiscoveryTask(df, ps.NumericTarget("y"), space,
                                    qf=ps.StandardQFNumeric(1.0), result_set_size=k, depth=depth)
    result = algorithm.execute(task)
    return [(q / len(df), np.asarray(sg.covers(df), dtype=bool))
            for q, sg, _ in sorted(result.results, key=lambda r: -r[0])]


@pytest.mark.parametrize("depth", [1, 2])
def test_same_top_k_as_pysubgroup(depth):
    rng = np.random.default_rng(7)
    X = pd.DataFrame(rng.standard_normal((2000, 6)), columns=[f"x{i}" for i in range(6)])
    y = rng.standard_normal(2000) + 2.0 * ((X["x0"] > 1) & (X["x3"] < 0)).to_numpy()
    selectors, _ = make_selectors(X, n_cuts=9)
    peer = _peer(X.assign(y=y), selectors, depth, 10, ps.DFSNumeric())
    ours = SubgroupDiscovery(depth=depth, top_k=10, closed=False, n_permutations=0).fit(X, y)
    np.testing.assert_allclose(np.sort(ours.subgroups_["quality"])[::-1],
                               [q for q, _ in peer], rtol=1e-10)
    kth = peer[-1][0]
    ours_covers = {r.covers(X).tobytes() for r, q in zip(ours.rules_, ours.subgroups_["quality"],
                                                          strict=True) if q > kth * (1 + 1e-9)}
    assert ours_covers == {c.tobytes() for q, c in peer if q > kth * (1 + 1e-9)}
    # with closed pruning (the default), the distinct covers come in the same order
    closed = SubgroupDiscovery(depth=depth, top_k=10, n_permutations=0).fit(X, y)
    distinct = list(dict.fromkeys(c.tobytes() for _, c in peer))
    assert [closed.rules_[j].covers(X).tobytes() for j in range(len(distinct))] == distinct
    assert str(closed.rules_[0]).startswith("x0 >= ") if depth == 1 else (
        str(closed.rules_[0]).startswith("x0 >= ") and " AND x3 <= " in str(closed.rules_[0]))


def test_beam_search_agrees_with_pysubgroup_beam_on_the_top_subgroup():
    rng = np.random.default_rng(8)
    X = pd.DataFrame(rng.standard_normal((1500, 5)), columns=[f"x{i}" for i in range(5)])
    y = rng.standard_normal(1500) + 2.0 * ((X["x1"] < -0.5) & (X["x2"] > 0)).to_numpy()
    selectors, _ = make_selectors(X, n_cuts=9)
    peer = _peer(X.assign(y=y), selectors, 2, 5, ps.BeamSearch(beam_width=20))
    ours = SubgroupDiscovery(search="beam", depth=2, top_k=5, n_permutations=0).fit(X, y)
    assert ours.subgroups_["quality"].iloc[0] == pytest.approx(peer[0][0], rel=1e-10)
    assert ours.rules_[0].covers(X).tobytes() == peer[0][1].tobytes()
