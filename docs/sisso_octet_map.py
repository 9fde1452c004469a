"""Make the SISSO tutorial's pictures (docs/img/sisso_octet_map.png, sisso_octet_class_map.png).

Run:  .venv/bin/python docs/sisso_octet_map.py

1. The 2D SISSO++-parity model of the 82 octet binaries: descriptor 1 against descriptor 2,
   each material coloured by the target E_RS - E_ZB; the model's zero line (where it predicts
   RS and ZB equally stable) is drawn across the map.
2. The 2D classification descriptor (Fortran-parity settings, rung 0): the two classes'
   convex hulls, which do not overlap, and the SVM's decision line.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.spatial import ConvexHull  # noqa: E402

from bigmax.analytics.sisso import SissoClassifier, SissoRegressor, read_feature_table  # noqa: E402

ROOT = Path(__file__).parents[1]
DATA = ROOT / "tests" / "data" / "sisso"
IMG = ROOT / "docs" / "img"


def regression_map() -> Path:
    table = read_feature_table(DATA / "octet_binaries_82.csv", "E_RS - E_ZB")
    est = SissoRegressor(n_dim=2, max_rung=2, n_sis_select=10, n_residual=10)
    est.fit(table.X, table.y)
    model = est.model_
    D = model.descriptors(table.X)
    y = table.y.to_numpy()
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    lim = np.abs(y).max()
    sc = ax.scatter(D[:, 0], D[:, 1], c=y, cmap="coolwarm", vmin=-lim, vmax=lim, s=28,
                    edgecolors="k", linewidths=0.4)
    fig.colorbar(sc, ax=ax, label=r"$E_\mathrm{RS} - E_\mathrm{ZB}$ (eV)")
    # the model's zero line: c0 + a1 d1 + a2 d2 = 0
    c0, (a1, a2) = model.intercepts[0], model.coefs[0]
    xs = np.linspace(D[:, 0].min(), D[:, 0].max(), 50)
    ax.plot(xs, -(c0 + a1 * xs) / a2, "k--", lw=1, label="model: RS = ZB")
    ax.set_ylim(D[:, 1].min() - 0.05 * np.ptp(D[:, 1]), D[:, 1].max() + 0.05 * np.ptp(D[:, 1]))
    for i, name in enumerate(table.labels):
        if name in ("C2", "CSi", "NaCl", "OZn", "CsF"):
            ax.annotate(name, D[i], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"$d_1 = {model.expressions[0].latex()}$  ({model.expressions[0].unit})")
    ax.set_ylabel(f"$d_2 = {model.expressions[1].latex()}$  ({model.expressions[1].unit})")
    ax.set_title(f"SISSO 2D map of 82 octet binaries (RMSE {model.rmse:.4f} eV)", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out = IMG / "sisso_octet_map.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def class_map() -> Path:
    table = read_feature_table(DATA / "octet_binaries_82_class.csv", "Class", classify=True)
    est = SissoClassifier(n_dim=2, max_rung=0, n_sis_select=20, unit_mode="fortran")
    est.fit(table.X, table.y)
    model = est.model_
    D = model.descriptors(table.X)
    y = table.y.to_numpy()
    fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=120)
    for cls, colour, label in ((0, "tab:blue", "rocksalt (class 0)"),
                               (1, "tab:red", "zincblende (class 1)")):
        P = D[y == cls]
        ax.scatter(P[:, 0], P[:, 1], c=colour, s=24, label=label, edgecolors="k",
                   linewidths=0.3)
        hull = ConvexHull(P)
        ring = np.append(hull.vertices, hull.vertices[0])
        ax.fill(P[ring, 0], P[ring, 1], color=colour, alpha=0.15)
    # SVM decision line in descriptor units: w . (d - mean)/scale + b = 0
    w, b = model.svm_coef[0] / model.scale, model.svm_intercept[0]
    b = b - w @ model.mean
    xs = np.linspace(D[:, 0].min(), D[:, 0].max(), 50)
    ax.plot(xs, -(b + w[0] * xs) / w[1], "k--", lw=1, label="linear SVM")
    ax.set_ylim(D[:, 1].min() - 0.5, D[:, 1].max() + 0.5)
    ax.set_xlabel(f"$d_1 = {model.expressions[0].latex()}$ ({model.expressions[0].unit})")
    ax.set_ylabel(f"$d_2 = {model.expressions[1].latex()}$")
    ax.set_title(f"SISSO classification: {model.n_overlap} samples in overlap, "
                 f"separation {-model.omega:.4f}", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    out = IMG / "sisso_octet_class_map.png"
    fig.savefig(out)
    plt.close(fig)
    return out


if __name__ == "__main__":
    IMG.mkdir(parents=True, exist_ok=True)
    for path in (regression_map(), class_map()):
        print(f"wrote {path}")
