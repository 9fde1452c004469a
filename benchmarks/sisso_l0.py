"""SISSO benchmark: an exhaustive 3D l0 search over a 3000-feature union (4.5·10^9 triples).

Run:  .venv/bin/python benchmarks/sisso_l0.py [--union 3000] [--n-jobs 2] [--synthetic]

The union is what a 3D SISSO run with n_sis_select = 1000 searches: the 3000 best rung-2
features of the 82 octet binaries by |Pearson r| with the target (strict units, all 17
operators). Screening them once takes about two minutes, so they are cached under
benchmarks/.cache/; ``--synthetic`` uses random features instead (the search costs the same).
Only ``l0_search`` is timed: Gram matrix, the enumeration of every triple, the exact refit.

``--union N`` runs a smaller union quickly; the time for 3000 is then *extrapolated* by the
number of triples, and printed as such.

Peer: the reference Fortran SISSO v3.5 on this machine class did not finish this search
(3D, nf_sis = 1000) in 10 minutes and was stopped (reference note §1.3), so its time is only
known to exceed 600 s. Goal: under 10 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bigmax.analytics.sisso.l0 import l0_search

CACHE = Path(__file__).parent / ".cache"
DATA = Path(__file__).parents[1] / "tests" / "data" / "sisso" / "octet_binaries_82.csv"
FULL = 3000
FORTRAN_LOWER_BOUND_S = 600.0
GOAL_S = 600.0


def octet_union(k: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    from bigmax.analytics.sisso import FeatureSpace, pearson_score, read_feature_table

    cache = CACHE / f"sisso_octet_union_{k}.npz"
    if cache.exists():
        z = np.load(cache)
        return z["D"], z["y"], list(z["names"])
    table = read_feature_table(DATA, "E_RS - E_ZB")
    X, names, units, y = table.as_arrays()
    t0 = time.perf_counter()
    fs = FeatureSpace(X, names, units, max_rung=2, unit_mode="strict").fit()
    res = fs.screen(pearson_score(y), k)
    print(f"(screened the union of {k} once in {time.perf_counter() - t0:.0f} s; cached)")
    CACHE.mkdir(exist_ok=True)
    exprs = [str(e) for e in res.expressions]
    np.savez(cache, D=res.values, y=y, names=np.array(exprs))
    return res.values, y, exprs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--union", type=int, default=FULL, help="union size (default 3000)")
    ap.add_argument("--n-jobs", type=int, default=2, help="threads (default 2)")
    ap.add_argument("--synthetic", action="store_true", help="random features, no screening")
    args = ap.parse_args()
    m = args.union
    if args.synthetic:
        rng = np.random.default_rng(0)
        D = rng.normal(size=(82, m))
        y = D[:, :3] @ [1.0, -0.5, 0.2] + rng.normal(size=82)
        names = [f"f{j}" for j in range(m)]
        source = "random features, 82 samples"
    else:
        D, y, names = octet_union(m)
        source = "the best rung-2 features of the 82 octet binaries"
    l0_search(D[:, :12], y, 3)  # load the compiled kernel (numba cache) outside the timing
    n_triples = math.comb(m, 3)
    t0 = time.perf_counter()
    res = l0_search(D, y, 3, n_models=10, n_jobs=args.n_jobs)
    wall = time.perf_counter() - t0
    rate = n_triples / wall
    print(f"machine: {platform.machine()}, {os.cpu_count()} cpus (nproc), load "
          f"{open('/proc/loadavg').read().split()[:3]}, python {sys.version.split()[0]}")
    print(f"union: {m} features ({source}); {n_triples:,} triples; n_jobs {args.n_jobs}")
    print(f"best 3D model: RMSE {res.rmse[0]:.7f}  "
          f"[{', '.join(names[j] for j in res.subsets[0])}]")
    print(f"l0 wall time: {wall:.2f} s  ({rate / 1e6:.0f} million triples/s)")
    full = math.comb(FULL, 3)
    if m == FULL:
        t_full, label = wall, "measured"
    else:
        t_full, label = full / rate, f"EXTRAPOLATED from {m} by triple count"
    print()
    print(f"{'':34s}{'bigmax':>10s}{'Fortran v3.5':>14s}{'ratio':>9s}{'goal':>8s}")
    print(f"{'3D l0, 3000-union, 2 cores (s)':34s}{t_full:10.1f}{'> 600':>14s}"
          f"{'> ' + format(FORTRAN_LOWER_BOUND_S / t_full, '.0f') + 'x':>9s}{GOAL_S:8.0f}")
    print(f"({label}; Fortran did not finish in 600 s on this machine class and was stopped, "
          "reference note §1.3, not re-run here)")
    print(f"goal {'met' if t_full < GOAL_S else 'missed'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
