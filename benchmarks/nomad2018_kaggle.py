"""NOMAD 2018 Kaggle challenge: 5-fold CV RMSLE on the 2400 training entries, predictions for
the 600 test entries, side by side with the competition's winner.

Usage: python benchmarks/nomad2018_kaggle.py [--data DIR] [--out CSV] [--jobs 2] [--plots DIR]

Data: the Kaggle set of Sutton et al., npj Comput Mater 5, 111 (2019), read from
../shared/data/structures/nomad2018 at benchmark time (train.csv, test.csv and
{train,test}/<id>/geometry.xyz in FHI-aims syntax). Only the training labels are read; if
test.csv carries label columns they are dropped before anything else happens.

Model (all of it bigmax.analytics; every choice tuned by 5-fold CV on the training set only):
- descriptor blocks, each standardised on the training rows: SOAP (r_cut 6, n_max 8, l_max
  6, averaged), MBTR k2 (inverse distances), crystal-graph n-grams (cation-oxygen bonds, paths
  of 1-4 atoms labelled by element and coordination), and composition + cell (element
  fractions and property statistics, lattice lengths and angles, volume per atom, the
  data set's space group one-hot);
- targets log(1 + y), so the fit minimises the RMSLE;
- ``KernelRidgeCV`` with a product of per-block kernels (block weights, width and
  regularisation from a small grid, per target): Laplacian and Gaussian on all four blocks,
  Laplacian on graph + cell;
- the mean (in log space) of the three models.

The CV score of a model chosen on the same folds is slightly optimistic (a few grid points
only); the test predictions are judged by the held-out labels.
Descriptors are cached under benchmarks/.cache/nomad2018 (git-ignored).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DEFAULT_DATA = ROOT.parents[1] / "shared/data/structures/nomad2018"
DEFAULT_OUT = ROOT / "results/nomad2018_test_predictions.csv"
CACHE = ROOT / ".cache/nomad2018"
TARGETS = ("formation_energy_ev_natom", "bandgap_energy_ev")
#: Test-set RMSLE of the top three (Sutton et al. 2019, Table 1).
WINNER = {"formation_energy_ev_natom": 0.020, "bandgap_energy_ev": 0.078}
PODIUM = "2nd 0.022 / 0.081, 3rd 0.021 / 0.083"
CATIONS_O = (("Al", "O"), ("Ga", "O"), ("In", "O"))
SPECIES = ["O", "Al", "Ga", "In"]

#: name -> (kernel, blocks, candidate block weights, gamma_scales, alphas). The grids are
#: small neighbourhoods of what a wider 5-fold CV search on the training set preferred.
MODELS = {
    "laplacian, 4 blocks": (
        "laplacian",
        ("soap", "mbtr", "graph", "cell"),
        ((0.25, 0.25, 0.25, 0.25), (0.2, 0.27, 0.35, 0.18)),
        (0.125, 0.25),
        (3e-3, 1e-2, 3e-2, 1e-1, 3e-1),
    ),
    "gaussian, 4 blocks": (
        "gaussian",
        ("soap", "mbtr", "graph", "cell"),
        ((0.25, 0.25, 0.25, 0.25),),
        (0.18, 0.5),
        (3e-3, 1e-2, 3e-2, 1e-1),
    ),
    "laplacian, graph+cell": (
        "laplacian",
        ("graph", "cell"),
        ((0.5, 0.5),),
        (0.125, 0.25),
        (1e-2, 3e-2, 1e-1, 3e-1),
    ),
}


def fit_model(name: str, blocks: dict, rows: np.ndarray, y: np.ndarray):
    """``KernelRidgeCV`` of model ``name`` fitted on ``rows`` (both targets)."""
    from bigmax.analytics.kernels import KernelRidgeCV

    kernel, parts, weights, gammas, alphas = MODELS[name]
    X = np.hstack([blocks[p] for p in parts])
    return KernelRidgeCV(
        kernel=kernel,
        gamma_scales=gammas,
        alphas=alphas,
        cv=5,
        target_transform="log1p",
        blocks=[blocks[p].shape[1] for p in parts],
        block_weights=weights,
        precision="single",
    ).fit(X[rows], y[rows])


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def read_split(data: Path, split: str) -> tuple[list[dict], list]:
    """Rows of ``split``.csv (labels of the test split dropped) and their structures."""
    from ase.io import read

    with open(data / f"{split}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if split == "test":
        for row in rows:
            for t in TARGETS:
                row.pop(t, None)
    structures = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ASE's FHI-aims reader warns on every call
        for row in rows:
            atoms = read(data / split / row["id"] / "geometry.xyz", format="aims")
            atoms.info["spacegroup"] = int(row["spacegroup"])
            atoms.info["source"] = f"{split}/{row['id']}/geometry.xyz"
            structures.append(atoms)
    return rows, structures


def descriptor(name: str, jobs: int):
    from sklearn.pipeline import make_union

    from bigmax.analytics.descriptors import MBTRDescriptor, SOAPDescriptor
    from bigmax.analytics.descriptors.cell import CellDescriptor
    from bigmax.analytics.descriptors.composition import CompositionDescriptor
    from bigmax.analytics.descriptors.graph import CrystalGraphNgrams

    if name == "soap":
        return SOAPDescriptor(r_cut=6.0, n_max=8, l_max=6, species=SPECIES, n_jobs=jobs)
    if name == "mbtr":
        return MBTRDescriptor(
            geometry="inverse_distance",
            grid_max=0.7,
            n_grid=100,
            sigma=0.01,
            scale=1.0,
            species=SPECIES,
            n_jobs=jobs,
        )
    if name == "graph":
        return CrystalGraphNgrams(
            max_n=4, tolerance=1.3, pairs=CATIONS_O, normalize="volume", min_count=5
        )
    return make_union(CompositionDescriptor(), CellDescriptor(space_group="spacegroup"))


def features(name: str, train: list, test: list, jobs: int) -> np.ndarray:
    """Block ``name`` for train + test rows (fitted on train), cached by its settings."""
    d = descriptor(name, jobs)
    key = hashlib.sha256(
        json.dumps([name, repr(d.get_params(deep=False)), len(train), len(test)]).encode()
    ).hexdigest()[:16]
    path = CACHE / f"{name}_{key}.npy"
    if path.is_file():
        return np.load(path)
    t0 = time.perf_counter()
    x = np.vstack([np.asarray(d.fit_transform(train)), np.asarray(d.transform(test))])
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, x)
    print(f"  {name}: {x.shape[1]} features in {time.perf_counter() - t0:.0f} s", flush=True)
    return x


def standardise(x: np.ndarray, n_train: int) -> np.ndarray:
    """Zero mean, unit variance on the training rows; constant columns dropped."""
    mean, std = x[:n_train].mean(axis=0), x[:n_train].std(axis=0)
    keep = std > 1e-12
    return (x[:, keep] - mean[keep]) / std[keep]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--jobs", type=int, default=2, help="descriptor processes")
    parser.add_argument("--plots", type=Path, help="write the docs pictures into this folder")
    parser.add_argument(
        "--nested",
        action="store_true",
        help="also score the whole procedure by nested CV (hyperparameters chosen inside each "
        "outer training fold): an unbiased estimate, 5x the model time",
    )
    args = parser.parse_args()

    from threadpoolctl import threadpool_limits

    from bigmax.analytics.kernels import rmsle

    # oversubscribed BLAS threads are ruinous on a shared 2-core machine
    threadpool_limits(int(os.environ.get("BLAS_THREADS", "1")))
    t_start = time.perf_counter()
    print(f"nproc {os.cpu_count()}, load average {load_average()}")
    train_rows, train = read_split(args.data, "train")
    test_rows, test = read_split(args.data, "test")
    n = len(train)
    y = np.array([[float(r[t]) for t in TARGETS] for r in train_rows])
    print(f"{n} training and {len(test)} test structures from {args.data}")

    blocks = {name: standardise(features(name, train, test, args.jobs), n)
              for name in ("soap", "mbtr", "graph", "cell")}
    folds_note = "5-fold CV (shuffled, seed 0), mean over folds"
    oof, test_pred, report = {}, {}, []
    for name in MODELS:
        t0 = time.perf_counter()
        model = fit_model(name, blocks, np.arange(n), y)
        X = np.hstack([blocks[p] for p in MODELS[name][1]])
        oof[name] = np.log1p(np.maximum(model.cv_predictions_, 0.0))
        test_pred[name] = np.log1p(np.maximum(model.predict(X[n:]), 0.0))
        report.append((name, model.best_score_, model.best_params_, time.perf_counter() - t0))

    from sklearn.model_selection import KFold

    folds = list(KFold(5, shuffle=True, random_state=0).split(np.arange(n)))
    z = np.log1p(y)

    def cv_rmsle(pred: np.ndarray) -> np.ndarray:
        return np.mean(
            [np.sqrt(np.mean((pred[te] - z[te]) ** 2, axis=0)) for _, te in folds], axis=0
        )

    ens_oof = np.mean([oof[m] for m in MODELS], axis=0)
    ens_test = np.mean([test_pred[m] for m in MODELS], axis=0)
    mean_only = cv_rmsle(np.tile(z.mean(axis=0), (n, 1)))
    print(f"\nCV RMSLE ({folds_note}); winner = test-set RMSLE of the 1st place, {PODIUM}")
    print(f"{'model':<24} {'formation':>10} {'band gap':>10}   fit+CV")
    print(f"{'mean of the training y':<24} {mean_only[0]:>10.4f} {mean_only[1]:>10.4f}")
    for name, score, params, seconds in report:
        print(f"{name:<24} {score[0]:>10.4f} {score[1]:>10.4f}   {seconds:.0f} s")
        for t, p in zip(TARGETS, params, strict=True):
            w = ", ".join(f"{v:.2f}" for v in p["block_weights"])
            print(f"    {t}: gamma_scale {p['gamma_scale']}, alpha {p['alpha']:g}, weights {w}")
    ens = cv_rmsle(ens_oof)
    print(f"{'ensemble (mean of 3)':<24} {ens[0]:>10.4f} {ens[1]:>10.4f}")
    print(f"{'winner (Sutton 2019)':<24} {WINNER[TARGETS[0]]:>10.3f} {WINNER[TARGETS[1]]:>10.3f}")
    ratio = ens / np.array([WINNER[t] for t in TARGETS])
    print(f"{'ratio ensemble/winner':<24} {ratio[0]:>10.2f} {ratio[1]:>10.2f}")
    if args.nested:
        outer = np.zeros_like(z)
        t0 = time.perf_counter()
        for tr, te in folds:
            logs = []
            for name in MODELS:
                model = fit_model(name, blocks, tr, y)
                X = np.hstack([blocks[p] for p in MODELS[name][1]])
                logs.append(np.log1p(np.maximum(model.predict(X[te]), 0.0)))
            outer[te] = np.mean(logs, axis=0)
        nested = cv_rmsle(outer)
        print(f"{'ensemble, nested CV':<24} {nested[0]:>10.4f} {nested[1]:>10.4f}   "
              f"{time.perf_counter() - t0:.0f} s")
    pred_y = np.expm1(ens_oof)
    mae = np.mean(np.abs(pred_y - y), axis=0)
    print(f"CV MAE: formation {mae[0] * 1000:.1f} meV/atom, band gap {mae[1] * 1000:.0f} meV; "
          f"pooled RMSLE {rmsle(y[:, 0], pred_y[:, 0]):.4f} / {rmsle(y[:, 1], pred_y[:, 1]):.4f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    values = np.maximum(np.expm1(ens_test), 0.0)
    with open(args.out, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", *TARGETS])
        for row, v in zip(test_rows, values, strict=True):
            w.writerow([row["id"], f"{v[0]:.5f}", f"{v[1]:.5f}"])
    print(f"wrote {len(values)} test predictions to {args.out}")
    if args.plots is not None:
        plots(args.plots, y, pred_y, blocks, n, report, train + test)
    print(f"total {time.perf_counter() - t_start:.0f} s, load average {load_average()}")


def plots(folder: Path, y, pred, blocks: dict, n: int, report, structures: list) -> None:
    """Parity plots of the CV predictions, learning curves and a map, for docs/learning.md."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bigmax.analytics.kernels import (
        KernelRidgeRegressor,
        learning_curve_data,
        plot_learning_curve,
        plot_parity,
    )
    from bigmax.analytics.maps import MaterialsMap

    folder.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 4.0))
    for ax, t, label, unit in zip(
        axes, range(2), ("formation energy", "band gap"), ("eV/atom", "eV"), strict=True
    ):
        plot_parity(y[:, t], pred[:, t], ax=ax, label=label, unit=unit)
    fig.suptitle("NOMAD 2018: 5-fold CV predictions of the ensemble (2400 structures)")
    fig.tight_layout()
    fig.savefig(folder / "learning_parity.png", dpi=110)
    plt.close(fig)

    # learning curves of the 4-block model at its CV-chosen hyperparameters
    name, _, params, _ = report[0]
    kernel, parts = MODELS[name][:2]
    X = np.hstack([blocks[p] for p in parts])[:n]
    curves = {}
    for t, label in enumerate(("formation energy", "band gap")):
        p = params[t]
        model = KernelRidgeRegressor(
            kernel=kernel,
            gamma_scale=p["gamma_scale"],
            alpha=p["alpha"],
            blocks=[blocks[b].shape[1] for b in parts],
            block_weights=p["block_weights"],
            target_transform="log1p",
            precision="single",
        )
        curves[label] = learning_curve_data(
            model, X, y[:, t], (100, 200, 400, 800, 1600, 1920), cv=5, metric="rmsle"
        )
    fig, ax = plt.subplots(figsize=(4.8, 3.8))
    plot_learning_curve(curves, ax=ax, ylabel="test RMSLE (5-fold)")
    ax.set_title(f"NOMAD 2018: learning curves, KRR ({name})", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "learning_curve.png", dpi=110)
    plt.close(fig)

    # a map of the 3000 structures from their SOAP vectors: islands and the band gap
    m = MaterialsMap(method="tsne", clustering="dbscan", perplexity=40).fit(blocks["soap"])
    groups = np.array([a.info["spacegroup"] for a in structures])
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.2))
    gaps = np.full(len(groups), np.nan)
    gaps[:n] = y[:, 1]
    m.plot(ax=axes[0], title="t-SNE of SOAP, DBSCAN clusters on the map")
    m.plot(color=gaps, ax=axes[1], label="band gap (eV)", title="coloured by band gap (train)")
    fig.tight_layout()
    fig.savefig(folder / "learning_map.png", dpi=110)
    plt.close(fig)
    split = ["train"] * n + ["test"] * (len(gaps) - n)
    frame = m.to_frame(spacegroup=groups, gap=gaps, split=split)
    frame.to_csv(DEFAULT_OUT.parent / "nomad2018_map.csv", index=False, float_format="%.5g")
    print("map clusters (DBSCAN on the t-SNE map) vs the data set's space group:")
    for label, part in frame[frame.cluster >= 0].groupby("cluster"):
        top = part.spacegroup.value_counts()
        print(f"  cluster {label}: {len(part)} structures, {top.iloc[0] / len(part):.0%} "
              f"space group {top.index[0]}")
    print(f"  noise points: {(frame.cluster < 0).sum()}")
    print(f"pictures in {folder}")


if __name__ == "__main__":
    main()
