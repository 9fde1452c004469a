"""SISSO feature space: screening throughput of the streamed last rung.

Three cases, each a rung-2 space screened once against a target (SIS, top 100 distinct):

1. headline: 10^7 rung-2 candidates from 30 primary features. A documented synthetic set:
   82 samples (as the octet binaries), 30 log-normal positive features (seed 0), 18
   dimensionless and 12 in one length unit; strict units; SISSO++'s 17 operators. The target is
   a planted rung-2 formula plus 1 % noise, so the screen has something to find.
2. the 82 octet binaries in the reference Fortran code's setting (fortran units, 16 operators,
   fcomplexity 3): 1,331,144 candidates, side by side with the reference, whose feature
   construction takes 4.2-4.9 s per descriptor dimension for the same space on this machine
   class (shared/reference/02-sisso-sgd.md, section 1.1).
3. real data at p = 30: the 20 octet features plus 10 derived dimensionless ratios
   (strict units, 17 operators).

Run:  .venv/bin/python benchmarks/sisso_screening.py [--n-jobs N]

Numba compiles the kernels on first use (cached on disk afterwards); a small warm-up space
runs first so that compile time is not counted. Peak RSS is the process maximum.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from bigmax.analytics.sisso.feature_space import FeatureSpace  # noqa: E402
from bigmax.analytics.sisso.operators import FORTRAN_OPERATORS  # noqa: E402
from bigmax.analytics.sisso.screening import pearson_score  # noqa: E402
from bigmax.analytics.sisso.units import parse_header  # noqa: E402

OCTET = ROOT / "tests" / "data" / "sisso" / "octet_binaries_82.csv"
FORTRAN_FC_SECONDS = (4.2, 4.9)  # reference FC time per dimension, 1,331,144 features


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def octet():
    import pandas as pd

    df = pd.read_csv(OCTET)
    parsed = [parse_header(c) for c in df.columns[2:]]
    return (df.iloc[:, 2:].to_numpy(), df.iloc[:, 1].to_numpy(), [n for n, _ in parsed],
            [u for _, u in parsed])


def synthetic():
    rng = np.random.default_rng(0)
    X = np.exp(rng.normal(0.0, 0.5, size=(82, 30)))
    names = [f"f{i:02d}" for i in range(30)]
    units = [""] * 18 + ["m"] * 12
    y = X[:, 3] * X[:, 20] / (X[:, 21] + X[:, 22])
    y = y + 0.01 * y.std() * rng.normal(size=82)
    return X, y, names, units


def octet_plus_ratios():
    X, y, names, units = octet()
    c = {n: X[:, i] for i, n in enumerate(names)}
    extra = {
        "rs_rp_A": c["r_s_A"] / c["r_p_A"], "rs_rp_B": c["r_s_B"] / c["r_p_B"],
        "rd_A_rd_B": c["r_d_A"] / c["r_d_B"], "IP_A_IP_B": c["IP_A"] / c["IP_B"],
        "EA_B_IP_B": c["EA_B"] / c["IP_B"], "EA_A_IP_A": c["EA_A"] / c["IP_A"],
        "HOMO_A_HOMO_B": c["E_HOMO_A"] / c["E_HOMO_B"], "Z_A_Z_B": c["Z_A"] / c["Z_B"],
        "rsigma_rpi": c["r_sigma"] / c["r_pi"],
        "rA_rB": (c["r_s_A"] + c["r_p_A"]) / (c["r_s_B"] + c["r_p_B"]),
    }
    X2 = np.c_[X, np.array(list(extra.values())).T]
    return X2, y, names + list(extra), units + [""] * len(extra)


def run(label, X, y, names, units, n_jobs, n_select=100, **kw):
    t0 = time.perf_counter()
    fs = FeatureSpace(X, names, units, max_rung=2, n_jobs=n_jobs, **kw).fit()
    t_fit = time.perf_counter() - t0
    score = pearson_score(y)
    t0 = time.perf_counter()
    res = fs.screen(score, n_select)
    t_screen = time.perf_counter() - t0
    n = fs.n_features  # known after the screen, free
    print(f"\n[{label}] p={len(names)}, n={len(y)}, rung sizes {fs.rung_sizes}")
    print(f"  candidates        {n:,}")
    print(f"  fit (stored rungs) {t_fit:.2f} s")
    print(f"  screen            {t_screen:.2f} s  ({n / t_screen / 1e6:.2f} M features/s)")
    print(f"  top pick          {res.expressions[0]}  (|r| = {res.scores[0]:.6f})")
    return n, t_screen


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-jobs", type=int, default=1)
    args = ap.parse_args(argv)
    print(f"nproc {os.cpu_count()}, load average {open('/proc/loadavg').read().split()[:3]}")
    print(f"n_jobs {args.n_jobs}")

    X, y, names, units = octet()  # warm-up: compile the kernels (cached on disk afterwards)
    t0 = time.perf_counter()
    FeatureSpace(X[:, :4], names[:4], units[:4], max_rung=2).fit().screen(pearson_score(y), 3)
    FeatureSpace(X[:, :4], names[:4], units[:4], max_rung=2, unit_mode="fortran").fit().screen(
        pearson_score(y), 3)
    print(f"warm-up / compile {time.perf_counter() - t0:.1f} s; RSS after imports and warm-up "
          f"{peak_rss_mb():.0f} MB")

    n1, t1 = run("headline: synthetic p=30, strict, 17 operators", *synthetic(), args.n_jobs)
    n2, t2 = run("82 octet binaries, fortran mode, 16 operators, fcomplexity 3", *octet(),
                 args.n_jobs, operators=FORTRAN_OPERATORS, unit_mode="fortran",
                 max_complexity=3)
    n3, t3 = run("octet + 10 ratios, p=30, strict, 17 operators", *octet_plus_ratios(),
                 args.n_jobs)

    ref_rate = [n2 / s for s in FORTRAN_FC_SECONDS]
    print("\n=== summary ===")
    print(f"10^7-class screen: {n1:,} candidates in {t1:.1f} s "
          f"({n1 / t1 / 1e6:.2f} M/s; goal < 60 s)")
    print(f"octet rung 2 ({n2:,}): {t2:.2f} s here vs {FORTRAN_FC_SECONDS[0]}-"
          f"{FORTRAN_FC_SECONDS[1]} s of FC in the Fortran reference -> "
          f"{FORTRAN_FC_SECONDS[0] / t2:.1f}-{FORTRAN_FC_SECONDS[1] / t2:.1f}x faster "
          f"({n2 / t2 / 1e6:.2f} vs {ref_rate[1] / 1e6:.2f}-{ref_rate[0] / 1e6:.2f} M features/s)")
    print(f"octet + ratios: {n3:,} candidates in {t3:.1f} s")
    print(f"peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
