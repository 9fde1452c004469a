"""Maximum separation clustering on 10^7 and 10^8 ions: time and peak RSS; DBSCAN baseline.

Specimens come from ``bigmax.techniques.apt.synthetic`` (Fe steel, Cu-rich precipitates at
5e23 m^-3, 84.9 atoms/nm^3, 50 % detection); the solutes are Cu and Ni (about 2.5 % of the
ions, a realistic solute fraction). d_max and n_min are chosen automatically once on a 10^6
specimen of the same material and then held fixed, so every size times the same clustering.

Each timing runs in a fresh subprocess that loads the arrays (float32 xyz, int16 species) and
reports ``resource.getrusage(...).ru_maxrss``: the peak includes the 14 bytes/ion of input.

APAV has no cluster analysis (its feature list: multi-hit, correlation histograms, isotopes,
I/O, ROIs, compositional grids, spectrum quantification), so the side-by-side baseline is
scikit-learn's DBSCAN on the same solutes of a 10^6 specimen (``min_samples=1`` gives the same
single-linkage partition, which the script checks) and scipy's cKDTree ``query_pairs`` +
``connected_components`` at 10^7.

    python benchmarks/apt_clusters.py                       # 10^6 baseline and 10^7
    flock /tmp/bigmax-bench.lock python benchmarks/apt_clusters.py --sizes 1e7 1e8 \\
        --data-dir /work/bench-data/apt4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SOLUTES = ("Cu", "Ni")


def _make(n: int, folder: Path) -> tuple[Path, Path]:
    xyz_path, sp_path = folder / f"xyz_{n}.npy", folder / f"species_{n}.npy"
    if not (xyz_path.exists() and sp_path.exists()):
        code = (
            "import numpy as np, sys\n"
            "from bigmax.techniques.apt.synthetic import synthetic_specimen\n"
            f"s = synthetic_specimen({n}, seed=7, interface=False)\n"
            f"np.save({str(xyz_path)!r}, s.xyz); np.save({str(sp_path)!r}, s.species)\n"
            "print(s.species_names)\n"
        )
        subprocess.run([sys.executable, "-c", code], check=True)
    return xyz_path, sp_path


def _child(args: argparse.Namespace) -> None:
    """Runs in its own process: load, time, report JSON on stdout."""
    import resource

    import numpy as np

    from bigmax.techniques.apt.clusters import MaxSeparation
    from bigmax.techniques.apt.synthetic import DEFAULT_MATRIX

    names = tuple(DEFAULT_MATRIX)
    codes = [names.index(s) for s in SOLUTES]
    # compile the numba kernels on a tiny cloud first (cached on disk after the first run)
    rng = np.random.default_rng(0)
    tiny = rng.uniform(0, 5, (2000, 3)).astype(np.float32)
    MaxSeparation(d_max=0.5, n_min=2).fit(tiny, rng.random(2000) < 0.2)
    xyz = np.load(args.xyz)
    species = np.load(args.species)
    rss_inputs = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    model = MaxSeparation(solutes=codes, d_max=args.d_max, n_min=args.n_min)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        model.fit(xyz, species)
        times.append(time.perf_counter() - t0)
    out = {
        "n_ions": len(xyz),
        "n_solutes": int(np.isin(species, codes).sum()),
        "n_clusters": model.n_clusters_,
        "n_clustered_ions": int((model.labels_ >= 0).sum()),
        "seconds": min(times),
        "all_seconds": times,
        "rss_inputs_gb": rss_inputs,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }
    if args.auto:
        t0 = time.perf_counter()
        auto = MaxSeparation(solutes=codes).fit(xyz, species)
        out["auto_seconds"] = time.perf_counter() - t0
        out["auto_d_max"], out["auto_n_min"] = auto.d_max_, auto.n_min_
        out["auto_n_clusters"] = auto.n_clusters_
    if args.kdtree:
        from scipy.sparse import coo_matrix
        from scipy.sparse.csgraph import connected_components
        from scipy.spatial import cKDTree

        mask = np.isin(species, codes)
        t0 = time.perf_counter()
        pts = xyz[mask].astype(np.float64)
        pairs = cKDTree(pts).query_pairs(args.d_max, output_type="ndarray")
        g = coo_matrix((np.ones(len(pairs), bool), (pairs[:, 0], pairs[:, 1])), (len(pts),) * 2)
        _, comp = connected_components(g, directed=False)
        sizes = np.bincount(comp)
        out["kdtree_seconds"] = time.perf_counter() - t0
        out["kdtree_n_clusters"] = int((sizes >= args.n_min).sum())
        t0 = time.perf_counter()
        core = MaxSeparation(solutes=codes, d_max=args.d_max, n_min=args.n_min, envelope=0)
        out["core_n_clusters"] = core.fit(xyz, species).n_clusters_
        out["core_seconds"] = time.perf_counter() - t0
    print(json.dumps(out))


def _run_child(py: str, xyz: Path, sp: Path, d_max: float, n_min: int, **flags) -> dict:
    cmd = [py, __file__, "--child", "--xyz", str(xyz), "--species", str(sp),
           "--d-max", repr(d_max), "--n-min", str(n_min),
           "--repeat", str(flags.get("repeat", 1))]  # fmt: skip
    cmd += [f"--{k}" for k in ("auto", "kdtree") if flags.get(k)]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _baseline_1e6(folder: Path) -> tuple[float, int, dict]:
    """Automatic parameters on 10^6, then ours (solutes only) vs sklearn DBSCAN, same solutes."""
    import numpy as np
    from sklearn.cluster import DBSCAN

    from bigmax.techniques.apt.clusters import MaxSeparation, link
    from bigmax.techniques.apt.synthetic import DEFAULT_MATRIX

    xyz_p, sp_p = _make(1_000_000, folder)
    xyz, species = np.load(xyz_p), np.load(sp_p)
    names = tuple(DEFAULT_MATRIX)
    codes = [names.index(s) for s in SOLUTES]
    t0 = time.perf_counter()
    auto = MaxSeparation(solutes=codes).fit(xyz, species)
    t_auto = time.perf_counter() - t0
    d_max, n_min = auto.d_max_, auto.n_min_
    pts = np.ascontiguousarray(xyz[np.isin(species, codes)])
    link(pts[:100], d_max)  # compiled
    t0 = time.perf_counter()
    ours = MaxSeparation(solutes=codes, d_max=d_max, n_min=n_min, envelope=0).fit(xyz, species)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    groups = link(pts, d_max)
    t_link = time.perf_counter() - t0
    t0 = time.perf_counter()
    db = DBSCAN(eps=d_max, min_samples=1, n_jobs=-1).fit(pts.astype(np.float64)).labels_
    t_db = time.perf_counter() - t0
    same = len(np.unique(np.stack([groups, db], 1), axis=0)) == len(np.unique(groups))
    return d_max, n_min, {
        "n_solutes": len(pts), "auto_seconds": t_auto, "ours_fit_seconds": t_ours,
        "ours_link_seconds": t_link, "dbscan_seconds": t_db, "same_partition": bool(same),
        "n_clusters": ours.n_clusters_,
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--xyz")
    ap.add_argument("--species")
    ap.add_argument("--d-max", type=float)
    ap.add_argument("--n-min", type=int)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--auto", action="store_true")
    ap.add_argument("--kdtree", action="store_true")
    ap.add_argument("--sizes", nargs="+", default=["1e7"], help="ion counts, e.g. 1e7 1e8")
    ap.add_argument("--data-dir", default="/work/bench-data/apt4", help="generated specimens")
    ap.add_argument("--keep", action="store_true", help="keep the generated specimens")
    args = ap.parse_args()
    if args.child:
        _child(args)
        return
    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    load = open("/proc/loadavg").read().split()[:3] if os.path.exists("/proc/loadavg") else "?"
    print(f"machine: {os.cpu_count()} cores, load average {' '.join(load)}")
    d_max, n_min, base = _baseline_1e6(folder)
    print(f"automatic parameters on 10^6 ions ({base['auto_seconds']:.2f} s): "
          f"d_max {d_max:.3f} nm, n_min {n_min}; {base['n_clusters']} clusters")  # fmt: skip
    print(f"10^6 ions, {base['n_solutes']:,} solutes: maxsep linkage "
          f"{base['ours_link_seconds']:.3f} s (fit {base['ours_fit_seconds']:.3f} s) vs sklearn "
          f"DBSCAN {base['dbscan_seconds']:.3f} s: ratio "
          f"{base['dbscan_seconds'] / base['ours_link_seconds']:.1f}x (same partition: "
          f"{base['same_partition']})")  # fmt: skip
    targets = {10**7: 2.0, 10**8: 20.0}
    for size in args.sizes:
        n = int(float(size))
        xyz_p, sp_p = _make(n, folder)
        r = _run_child(
            sys.executable, xyz_p, sp_p, d_max, n_min,
            repeat=3 if n <= 10**7 else 1, auto=n <= 10**7, kdtree=n <= 10**7,
        )  # fmt: skip
        target = targets.get(n)
        verdict = "" if target is None else (
            f" (target <= {target:g} s: {'met' if r['seconds'] <= target else 'MISSED'})")
        print(f"{n:.0e} ions, {r['n_solutes']:,} solutes: maxsep + envelope/erosion "
              f"{r['seconds']:.2f} s{verdict}; {r['n_clusters']} clusters, "
              f"{r['n_clustered_ions']:,} ions in clusters; peak RSS {r['peak_rss_gb']:.2f} GB "
              f"(inputs {r['rss_inputs_gb']:.2f} GB; target <= 4 GB)")  # fmt: skip
        if "kdtree_seconds" in r:
            print(f"   solutes only (no envelope/erosion): ours {r['core_seconds']:.2f} s "
                  f"({r['core_n_clusters']} clusters) vs cKDTree query_pairs + "
                  f"connected_components {r['kdtree_seconds']:.2f} s "
                  f"({r['kdtree_n_clusters']} clusters): ratio "
                  f"{r['kdtree_seconds'] / r['core_seconds']:.1f}x")  # fmt: skip
        if "auto_seconds" in r:
            print(f"   with automatic d_max/n_min: {r['auto_seconds']:.2f} s "
                  f"(d_max {r['auto_d_max']:.3f}, n_min {r['auto_n_min']}, "
                  f"{r['auto_n_clusters']} clusters)")  # fmt: skip
        if not args.keep and n > 10**6:
            xyz_p.unlink()
            sp_p.unlink()


if __name__ == "__main__":
    main()
