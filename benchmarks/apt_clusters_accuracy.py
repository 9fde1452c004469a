"""Cluster recovery on synthetic specimens with automatic d_max and n_min: the docs table.

For each specimen (Fe steel with Cu-rich precipitates, radii 1-3 nm, from
``bigmax.techniques.apt.synthetic``) this fits ``MaxSeparation(solutes=["Cu"])`` with every
parameter chosen automatically and reports:

* solute-ion precision and recall: each found cluster is mapped to the planted precipitate
  holding most of its Cu ions; a Cu ion is a true positive when its cluster maps to its own
  precipitate (precision over Cu ions in clusters, recall over Cu ions in precipitates);
* the same over all ions (after envelope and erosion; matrix Fe inside precipitates counts);
* clusters found vs planted, and the median |R_Guinier / R_planted - 1| of matched clusters.

    python benchmarks/apt_clusters_accuracy.py [--n-ions 1000000] [--pictures docs/img]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def scores(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    found = labels >= 0
    k = int(labels.max()) + 1
    best = np.full(max(k, 1), -2)
    for c in range(k):
        t = truth[labels == c]
        t = t[t >= 0]
        if len(t):
            best[c] = np.bincount(t).argmax()
    tp = int((found & (best[labels.clip(0)] == truth) & (truth >= 0)).sum())
    return tp / max(int(found.sum()), 1), tp / max(int((truth >= 0).sum()), 1)


def run_case(
    n_ions: int, seed: int, method: str = "maxsep", k: int = 3, **spec_kw
) -> dict:
    from scipy.spatial import cKDTree

    from bigmax.techniques.apt.cluster_stats import cluster_table
    from bigmax.techniques.apt.clusters import MaxSeparation
    from bigmax.techniques.apt.synthetic import synthetic_specimen

    spec = synthetic_specimen(n_ions, seed=seed, interface=False, **spec_kw)
    cu = spec.species_index("Cu")
    sol = spec.species == cu
    t0 = time.perf_counter()
    auto = MaxSeparation(solutes=[cu], k=k).fit(spec.xyz, spec.species)
    model = auto
    if method != "maxsep":
        model = MaxSeparation(
            solutes=[cu], method=method, d_max=auto.d_max_, n_min=auto.n_min_
        ).fit(spec.xyz, spec.species)
    seconds = time.perf_counter() - t0
    p_sol, r_sol = scores(model.labels_[sol], spec.cluster_id[sol])
    p_all, r_all = scores(model.labels_, spec.cluster_id)
    table = cluster_table(spec.xyz, spec.species, model.labels_, sol, names=spec.species_names)
    rg_err = np.nan
    if len(table) and len(spec.radii):
        d, j = cKDTree(spec.centres).query(table[["x", "y", "z"]].to_numpy())
        ok = d < 0.5
        rg_err = float(np.median(np.abs(table["r_guinier"][ok] / spec.radii[j[ok]] - 1)))
    return {
        "n_ions": spec.n_ions, "density": spec_kw.get("number_density", 5e23),
        "efficiency": spec_kw.get("detection_efficiency", 0.5), "seed": seed,
        "method": method, "k": k, "d_max": auto.d_max_, "n_min": auto.n_min_,
        "planted": len(spec.radii), "found": model.n_clusters_,
        "p_solute": p_sol, "r_solute": r_sol, "p_all": p_all, "r_all": r_all,
        "guinier_err": rg_err, "seconds": seconds, "spec": spec, "model": model,
    }  # fmt: skip


def pictures(case: dict, folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bigmax.cli_apt_clusters import plot_knn

    spec, model = case["spec"], case["model"]
    folder.mkdir(parents=True, exist_ok=True)
    plot_knn(model.knn_, model.d_max_, folder / "apt-clusters-knn.png",
             "Cu kNN distances, synthetic Fe-Cu (1e6 ions); dashed: random labels")  # fmt: skip
    xyz, lab = spec.xyz, model.labels_
    cu = spec.species == spec.species_index("Cu")
    slab = np.abs(xyz[:, 1] - np.median(xyz[:, 1])) < 4.0
    fig, ax = plt.subplots(1, 2, figsize=(9, 6), sharey=True)
    sel = slab & cu
    ax[0].scatter(xyz[sel, 0], xyz[sel, 2], s=1, c="0.5")
    ax[0].set_title("Cu ions (8 nm slab)")
    inc = sel & (lab >= 0)
    ax[1].scatter(xyz[sel & (lab < 0), 0], xyz[sel & (lab < 0), 2], s=1, c="0.8")
    ax[1].scatter(xyz[inc, 0], xyz[inc, 2], s=2, c=lab[inc] % 10, cmap="tab10")
    ax[1].set_title(f"{model.n_clusters_} clusters (d_max {model.d_max_:.2f} nm, "
                    f"n_min {model.n_min_})")  # fmt: skip
    for a in ax:
        a.set_xlabel("x (nm)")
        a.set_aspect("equal")
    ax[0].set_ylabel("z (nm)")
    fig.tight_layout()
    fig.savefig(folder / "apt-clusters-map.png", dpi=110)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-ions", type=int, default=1_000_000)
    ap.add_argument("--pictures", type=Path, default=None, help="folder for the docs pictures")
    args = ap.parse_args()
    cases = [
        dict(seed=1),
        dict(seed=2),
        dict(seed=3, number_density=1e23),
        dict(seed=4, number_density=1e24),
        dict(seed=5, detection_efficiency=0.37),
        dict(seed=6, detection_efficiency=0.8),
        dict(seed=7, number_density=1e24, detection_efficiency=0.37),
        dict(seed=1, method="dbscan"),
        dict(seed=1, method="hdbscan"),
    ]
    print("| density (m^-3) | efficiency | method | d_max (nm) | n_min | planted | found | "
          "Cu precision | Cu recall | all-ion precision | all-ion recall | "
          "median R_G error | time (s) |")  # fmt: skip
    print("|" + "---|" * 13)
    first = None
    for kw in cases:
        kw = dict(kw)
        seed, method = kw.pop("seed"), kw.pop("method", "maxsep")
        r = run_case(args.n_ions, seed, method, **kw)
        first = first or r
        print(f"| {r['density']:.0e} | {r['efficiency']:.2f} | {r['method']} | "
              f"{r['d_max']:.3f} | {r['n_min']} | {r['planted']} | {r['found']} | "
              f"{r['p_solute']:.3f} | {r['r_solute']:.3f} | {r['p_all']:.3f} | "
              f"{r['r_all']:.3f} | {r['guinier_err']:.3f} | {r['seconds']:.2f} |")  # fmt: skip
    print()
    print("neighbour order k of the automatic d_max (density 5e23 m^-3, efficiency 0.5, seed 1):")
    print("| k | d_max (nm) | n_min | planted | found | Cu precision | Cu recall |")
    print("|---|---|---|---|---|---|---|")
    for k in range(1, 6):
        r = run_case(args.n_ions, 1, k=k)
        print(f"| {k} | {r['d_max']:.3f} | {r['n_min']} | {r['planted']} | {r['found']} | "
              f"{r['p_solute']:.3f} | {r['r_solute']:.3f} |")  # fmt: skip
    if args.pictures is not None:
        pictures(first, args.pictures)


if __name__ == "__main__":
    main()
