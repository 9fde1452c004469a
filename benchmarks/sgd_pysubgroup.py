"""Subgroup discovery side by side with pysubgroup 0.8.0: same data, selectors and quality.

Data: 10^4 x 20 N(0,1) features, y = N(0,1) + 2 [x0 > 1 and x3 < 0] (seed 0). Selectors: 9
decile cut points per feature, ``x <= c`` and ``x >= c`` (360); the cut points sit between data
values, so pysubgroup's ``IntervalSelector(x, -inf, c)`` (x < c) and ``(x, c, inf)`` (x >= c)
select exactly the same samples. Quality: impact, pysubgroup's ``StandardQFNumeric(a=1)``
(size x mean shift; ours is coverage x mean shift, the same ranking, N times smaller).
Exhaustive search, top 10: ours ``SubgroupDiscovery(search="bnb")`` against pysubgroup's
``DFSNumeric`` (its branch and bound for this quality).

"Same top-k": pysubgroup enumerates every set of distinct selectors, so its top 10 holds
conjunctions that cover exactly what a shorter one covers ("x0>=0.52 AND x0>=0.83"). Ours
skips those by default (closed-pattern pruning); with ``closed=False`` it searches the same
space as pysubgroup, and then the sorted top-10 qualities must agree to 1e-9 and every subgroup
strictly above the 10th quality must have the same cover in both. With closed pruning on, the
distinct covers in pysubgroup's top 10 must be ours, in the same order.

    .venv/bin/python benchmarks/sgd_pysubgroup.py            # depth 2 and 3
    .venv/bin/python benchmarks/sgd_pysubgroup.py --depths 2 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd


def planted(seed: int = 0, n: int = 10_000, p: int = 20):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    y = rng.standard_normal(n) + 2.0 * ((X[:, 0] > 1) & (X[:, 3] < 0))
    return pd.DataFrame(X, columns=[f"x{i}" for i in range(p)]), y


def ours(X, y, depth, closed, n_jobs=1):
    from bigmax.analytics.subgroups import SubgroupDiscovery

    model = SubgroupDiscovery(depth=depth, top_k=10, n_cuts=9, closed=closed,
                              n_permutations=0, n_jobs=n_jobs)
    t0 = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - t0, model


def peer(X, y, selectors, depth):
    import pysubgroup as ps

    df = X.copy()
    df["y"] = y
    search_space = []
    for s in selectors:
        if s.op == ">=":
            search_space.append(ps.IntervalSelector(s.name, s.value, float("inf")))
        else:
            search_space.append(ps.IntervalSelector(s.name, float("-inf"), s.value))
    task = ps.SubgroupDiscoveryTask(df, ps.NumericTarget("y"), search_space,
                                    qf=ps.StandardQFNumeric(1.0), result_set_size=10,
                                    depth=depth)
    t0 = time.perf_counter()
    result = ps.DFSNumeric().execute(task)
    elapsed = time.perf_counter() - t0
    rows = []
    for quality, sg, _ in sorted(result.results, key=lambda r: -r[0]):
        rows.append((quality / len(df), str(sg), np.asarray(sg.covers(df), dtype=bool)))
    return elapsed, rows


def same_top_k(open_model, closed_model, peer_rows, X) -> tuple[bool, str]:
    ours_q = np.sort(open_model.subgroups_["quality"].to_numpy())[::-1]
    peer_q = np.array([q for q, _, _ in peer_rows])
    if len(ours_q) != len(peer_q) or not np.allclose(ours_q, peer_q, rtol=1e-9, atol=0):
        return False, f"qualities differ: {ours_q} vs {peer_q}"
    kth = peer_q[-1]
    ours_covers = {open_model.rules_[j].covers(X).tobytes()
                   for j in range(len(open_model.rules_))
                   if open_model.subgroups_["quality"].iloc[j] > kth * (1 + 1e-9)}
    peer_covers = {c.tobytes() for q, _, c in peer_rows if q > kth * (1 + 1e-9)}
    if ours_covers != peer_covers:
        return False, "covers above the 10th quality differ"
    distinct = []
    for _, _, c in peer_rows:
        if c.tobytes() not in distinct:
            distinct.append(c.tobytes())
    closed = [closed_model.rules_[j].covers(X).tobytes() for j in range(len(distinct))]
    if closed != distinct:
        return False, "distinct covers differ from the closed top-k"
    return True, f"{len(distinct)} distinct covers in the top 10"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", default="2,3")
    ap.add_argument("--repeat", type=int, default=1, help="ours: best of this many runs")
    args = ap.parse_args()
    import pysubgroup  # noqa: F401  (fail early if the peer is missing)

    from bigmax.analytics.subgroups import make_selectors

    X, y = planted()
    selectors, covers = make_selectors(X, n_cuts=9)
    cuts = np.array([s.value for s in selectors])
    assert not np.isin(X.to_numpy(), cuts).any(), "a cut point equals a data value"
    ours(X.iloc[:500], y[:500], 2, True)  # compile and load the kernels outside the timing
    print(f"data 10000 x 20, {len(selectors)} threshold selectors, impact, top 10, exhaustive")
    print(f"load average before: {os.getloadavg()[0]:.2f} (nproc {os.cpu_count()})")
    print(f"{'depth':>5} {'ours (s)':>9} {'ours open (s)':>13} {'pysubgroup (s)':>14} "
          f"{'ratio':>7}  top subgroup / same top-k")
    for depth in [int(d) for d in args.depths.split(",")]:
        t_closed, closed_model = min((ours(X, y, depth, True) for _ in range(args.repeat)),
                                     key=lambda r: r[0])
        t_open, open_model = min((ours(X, y, depth, False) for _ in range(args.repeat)),
                                 key=lambda r: r[0])
        t_peer, rows = peer(X, y, selectors, depth)
        ok, why = same_top_k(open_model, closed_model, rows, X)
        top = closed_model.subgroups_.iloc[0]
        print(f"{depth:>5} {t_closed:9.3f} {t_open:13.3f} {t_peer:14.2f} "
              f"{t_peer / t_closed:6.0f}x  {top['rule']} (impact {top['quality'] * 1e4:.1f}, "
              f"n={top['count']}); same top-k: {'yes' if ok else 'NO'} ({why})", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
