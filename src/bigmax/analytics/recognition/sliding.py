"""Sliding-window recognition of large structures: grains, grain boundaries, uncertainty.

ARISE's "strided pattern matching": a box slides over the sample and each box is classified; the
boundaries between grains show up as windows of mixed or unknown structure and high
uncertainty. Here every atom's fingerprint is computed once, in its own length scale and with
its full neighbourhood, and a window's fingerprint is the mean over the atoms inside it, so
windows cost a sum, not a descriptor call each. Atoms whose neighbourhood is cut by a free
surface (a slab, a cluster) are left out of the means: the classifier knows bulk environments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from ase import Atoms

from bigmax.analytics.recognition.classifier import UNKNOWN, StructureClassifier
from bigmax.analytics.recognition.descriptor import (
    StructureError,
    buried_atoms,
    check_structure,
    local_scales,
    structure_name,
)


@dataclass
class WindowMap:
    """Per-window and per-atom results of ``sliding_windows``.

    ``grain`` numbers connected regions of windows with one confident label (-1: unknown or
    empty); ``atom_label``, ``atom_uncertainty`` and ``atom_grain`` give each atom the values of
    its nearest window centre.
    """

    centers: np.ndarray
    grid_shape: tuple[int, int, int]
    n_atoms: np.ndarray
    label: np.ndarray
    probability: np.ndarray
    uncertainty: np.ndarray
    unknown: np.ndarray
    grain: np.ndarray
    atom_label: np.ndarray
    atom_uncertainty: np.ndarray
    atom_grain: np.ndarray
    buried: np.ndarray
    threshold: float
    window: float
    stride: float
    extra: dict = field(default_factory=dict)

    @property
    def answer(self) -> np.ndarray:
        """The window's label, or "unknown" (uncertain) or "empty" (no buried atom inside)."""
        out = np.where(self.unknown, UNKNOWN, self.label).astype(object)
        out[self.n_atoms == 0] = "empty"
        return out.astype(str)

    def to_frame(self) -> pd.DataFrame:
        """One row per window: centre, atom count, label, probability, uncertainty, grain."""
        return pd.DataFrame(
            {
                "x": self.centers[:, 0],
                "y": self.centers[:, 1],
                "z": self.centers[:, 2],
                "n_atoms": self.n_atoms,
                "label": self.label,
                "probability": self.probability,
                "uncertainty": self.uncertainty,
                "answer": self.answer,
                "grain": self.grain,
            }
        )

    def grains(self) -> pd.DataFrame:
        """One row per grain: its label, number of windows and atoms, mean uncertainty."""
        rows = []
        for g in np.unique(self.grain[self.grain >= 0]):
            w = self.grain == g
            rows.append(
                {
                    "grain": int(g),
                    "label": self.label[w][0],
                    "n_windows": int(w.sum()),
                    "n_atoms": int((self.atom_grain == g).sum()),
                    "mean_uncertainty": float(self.uncertainty[w].mean()),
                }
            )
        return pd.DataFrame(rows, columns=["grain", "label", "n_windows", "n_atoms",
                                           "mean_uncertainty"])


def _grid(lo: np.ndarray, hi: np.ndarray, window: float, stride: float) -> list[np.ndarray]:
    axes = []
    for a, b in zip(lo, hi, strict=True):
        if b - a <= window:
            axes.append(np.array([(a + b) / 2]))
        else:
            n = int(np.ceil((b - a - window) / stride)) + 1
            start = (a + b) / 2 - (n - 1) * stride / 2
            axes.append(start + stride * np.arange(n))
    return axes


def sliding_windows(
    atoms: Atoms,
    classifier: StructureClassifier,
    window: float = 12.0,
    stride: float = 4.0,
    min_atoms: int = 4,
) -> WindowMap:
    """Classify cubic windows of side ``window`` angstrom on a grid of step ``stride``.

    Parameters
    ----------
    atoms : ase.Atoms
        A large structure (a polycrystal, a nanoparticle); periodic cells are not wrapped.
    classifier : StructureClassifier
        A fitted classifier whose featurizer is a ScaledSOAP.
    window, stride : float
        Box side and grid step in angstrom (ARISE: 12-16 and 1-4).
    min_atoms : int, default=4
        Windows with fewer buried atoms are "empty".

    Notes
    -----
    Cost: one per-atom SOAP pass (grouped by local length scale) plus a KD-tree box query per
    window; the classifier runs once on all windows.
    """
    if not (window > 0 and stride > 0):
        raise ValueError(f"window and stride must be > 0, got {window!r} and {stride!r}")
    check_structure(atoms)
    featurizer = classifier._featurizer()
    scales = local_scales(atoms)
    per_atom = featurizer.per_atom(atoms, scales)
    buried = buried_atoms(atoms, scales, featurizer.r_cut)
    if not buried.any():
        raise StructureError(
            f"{structure_name(atoms)}: no atom has a complete neighbourhood (all lie within "
            f"{featurizer.r_cut} nearest-neighbour distances of a free surface)"
        )
    pos = atoms.positions
    axes = _grid(pos.min(axis=0), pos.max(axis=0), window, stride)
    gx, gy, gz = np.meshgrid(*axes, indexing="ij")
    centers = np.column_stack([gx.ravel(), gy.ravel(), gz.ravel()])

    from scipy.spatial import cKDTree

    inner = np.flatnonzero(buried)
    tree = cKDTree(pos[inner])
    members = tree.query_ball_point(centers, window / 2, p=np.inf)
    counts = np.array([len(m) for m in members])
    flat = inner[np.concatenate([np.asarray(m, int) for m in members])] if counts.sum() else []
    owner = np.repeat(np.arange(len(centers)), counts)
    sums = np.zeros((len(centers), per_atom.shape[1]))
    np.add.at(sums, owner, per_atom[flat])
    filled = counts >= min_atoms
    F = featurizer.normalise(sums / np.maximum(counts, 1)[:, None])

    n_w = len(centers)
    label = np.full(n_w, "empty", dtype=object)
    proba = np.zeros(n_w)
    unc = np.full(n_w, np.nan)
    unknown = ~filled
    if filled.any():
        p, u = classifier._proba_uncertainty(F[filled])
        label[filled] = classifier.classes_[p.argmax(axis=1)]
        proba[filled] = p.max(axis=1)
        unc[filled] = u
        unknown[filled] = classifier._unknown(p.argmax(axis=1), u)
    grain = _segment(label, unknown, tuple(len(a) for a in axes))
    _, nearest = cKDTree(centers).query(pos)
    return WindowMap(
        centers=centers,
        grid_shape=tuple(len(a) for a in axes),
        n_atoms=np.where(filled, counts, 0),
        label=label.astype(str),
        probability=proba,
        uncertainty=unc,
        unknown=unknown,
        grain=grain,
        atom_label=np.where(unknown[nearest], UNKNOWN, label[nearest].astype(str)),
        atom_uncertainty=unc[nearest],
        atom_grain=grain[nearest],
        buried=buried,
        threshold=float(classifier.threshold_),
        window=float(window),
        stride=float(stride),
        extra={"scales": scales},
    )


def _segment(label: np.ndarray, unknown: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Connected regions of confident windows with the same label (face neighbours)."""
    from scipy import ndimage

    grain = np.full(len(label), -1)
    next_id = 0
    for name in np.unique(label[~unknown]):
        mask = ((label == name) & ~unknown).reshape(shape)
        regions, n = ndimage.label(mask)
        flat = regions.ravel()
        grain[flat > 0] = flat[flat > 0] - 1 + next_id
        next_id += n
    return grain


def plot_window_map(result: WindowMap, path, title: str | None = None) -> None:
    """Two panels (label, uncertainty) of the windows in the plane of the two longest axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ext = np.ptp(result.centers, axis=0)
    a, b = np.argsort(ext)[::-1][:2]
    c = [ax for ax in range(3) if ax not in (a, b)][0]
    # average over the third axis: keep the layer with most atoms
    layers = np.unique(result.centers[:, c])
    best = max(layers, key=lambda v: result.n_atoms[result.centers[:, c] == v].sum())
    sel = (result.centers[:, c] == best) & (result.n_atoms > 0)
    answers = result.answer[sel]
    names = sorted(set(answers) - {UNKNOWN})
    codes = np.array([names.index(x) if x in names else -1 for x in answers], float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
    cmap = plt.get_cmap("tab10", max(len(names), 1))
    xa, xb = result.centers[sel, a], result.centers[sel, b]
    known = codes >= 0
    sc = axes[0].scatter(xa[known], xb[known], c=codes[known], cmap=cmap, vmin=-0.5,
                         vmax=len(names) - 0.5, marker="s", s=60)
    axes[0].scatter(xa[~known], xb[~known], c="dimgrey", marker="s", s=60, label="unknown")
    cb = fig.colorbar(sc, ax=axes[0], ticks=range(len(names)))
    cb.ax.set_yticklabels([n[:22] for n in names], fontsize=7)
    axes[0].legend(loc="lower left", fontsize=7)
    axes[0].set_title("most probable prototype per window")
    u = np.clip(result.uncertainty[sel], 1e-6, None)
    from matplotlib.colors import LogNorm

    sc2 = axes[1].scatter(xa, xb, c=u, cmap="viridis", marker="s", s=60,
                          norm=LogNorm(vmin=max(u.min(), result.threshold / 1000), vmax=u.max()))
    fig.colorbar(sc2, ax=axes[1], label="uncertainty (nats, log scale)")
    axes[1].set_title(f"uncertainty (threshold {result.threshold:.3g})")
    for ax in axes:
        ax.set_xlabel(f"{'xyz'[a]} (angstrom)")
        ax.set_ylabel(f"{'xyz'[b]} (angstrom)")
        ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
