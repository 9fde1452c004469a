"""Nearest-neighbour and pair-correlation statistics of one species against random labels.

Atom probe positions carry reconstruction noise and a detector efficiency below one, so a
distance distribution means little on its own: it is read against the same statistic for
*random-label permutations* (the same positions, the species labels shuffled). Excess at short
distances is clustering; the point where the measured and random distributions separate is the
linking distance d_max of the maximum separation method (Jägle et al., Microsc. Microanal. 20,
1662, 2014).

Every function takes ``xyz`` of shape (n, 3) in nm (float32 is kept as it is; nothing of size n
is copied to float64) and a boolean mask or per-ion species labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


class PointCloudError(ValueError):
    """Bad positions, species or parameters; the message names the argument."""


# ---------------------------------------------------------------- validation


def check_xyz(xyz: np.ndarray, name: str = "xyz") -> np.ndarray:
    """Return ``xyz`` unchanged if it is a finite float (n, 3) array, else raise."""
    if not isinstance(xyz, np.ndarray):
        raise PointCloudError(f"{name} must be a numpy array of shape (n, 3), got {type(xyz)!r}")
    if xyz.ndim != 2 or xyz.shape[1] != 3:
        raise PointCloudError(f"{name} must have shape (n, 3) in nm, got {xyz.shape}")
    if xyz.dtype.kind != "f":
        raise PointCloudError(f"{name} must be float32 or float64, got dtype {xyz.dtype}")
    if len(xyz) == 0:
        raise PointCloudError(f"{name} holds no ions")
    step = 1 << 22
    for start in range(0, len(xyz), step):
        block = xyz[start : start + step]
        if not np.isfinite(block.min()) or not np.isfinite(block.max()):
            bad = start + int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise PointCloudError(f"{name} has a non-finite coordinate at row {bad}")
    return xyz


def species_mask(
    species: np.ndarray, solutes: Sequence | None, n: int, name: str = "species"
) -> np.ndarray:
    """Boolean mask of the ions whose label is in ``solutes`` (or ``species`` itself if boolean)."""
    species = np.asarray(species)
    if species.ndim != 1 or len(species) != n:
        raise PointCloudError(
            f"{name} must be one label per ion, shape ({n},), got shape {species.shape}"
        )
    if solutes is None:
        if species.dtype != bool:
            raise PointCloudError(
                f"{name} has dtype {species.dtype}: give a boolean mask, or name the solute "
                "labels (solutes=...)"
            )
        if not species.any():
            raise PointCloudError(f"{name} marks no solute ion")
        return species
    wanted = np.asarray(list(solutes))
    if wanted.size == 0:
        raise PointCloudError("solutes is empty: name at least one solute species")
    if species.dtype.kind in "iu" and wanted.dtype.kind in "iu" and species.size:
        top = int(max(int(species.max()), int(wanted.max()))) + 1
        if int(species.min()) < 0 or int(wanted.min()) < 0:
            mask = np.isin(species, wanted)
        else:
            table = np.zeros(top, bool)
            table[wanted] = True
            mask = table[species]
    else:
        try:
            mask = np.isin(species, wanted)
        except TypeError as err:
            raise PointCloudError(f"{name} and solutes have incompatible labels: {err}") from None
    if not mask.any():
        raise PointCloudError(
            f"no ion of {name} has a solute label {list(wanted)!r}; check the solute names"
        )
    return mask


def _rng(random_state) -> np.random.Generator:
    return np.random.default_rng(random_state)


def random_label_indices(n: int, m: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``m`` ions drawn without replacement: one random-label permutation."""
    return np.sort(rng.choice(n, size=m, replace=False))


# ---------------------------------------------------------------- kNN


def knn_distances(points: np.ndarray, k: int, queries: np.ndarray | None = None) -> np.ndarray:
    """Distances from each query point to its 1st..k-th nearest neighbour among ``points``.

    The query points are members of ``points`` (selected by index), so the zero self-distance
    is skipped. Returns float32 of shape (n_queries, k).
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(points, balanced_tree=False, compact_nodes=False)
    q = points if queries is None else points[queries]
    if len(points) <= k:
        raise PointCloudError(f"need more than k={k} points for kNN distances, got {len(points)}")
    out = np.empty((len(q), k), np.float32)
    step = 1 << 18
    for start in range(0, len(q), step):
        d, _ = tree.query(q[start : start + step], k=k + 1, workers=-1)
        out[start : start + step] = d[:, 1:]
    return out


@dataclass
class KnnDistribution:
    """Measured and random-label kNN distances of one species (the data to choose d_max).

    ``measured[k-1]`` and ``random[p][k-1]`` are the sorted k-th NN distances (nm) of the
    query ions, for the real labels and random-label permutation ``p``.
    """

    k: int
    measured: list[np.ndarray]
    random: list[list[np.ndarray]]
    n_solutes: int

    def separation(self, k: int = 1) -> tuple[float, float]:
        """(d, D): the distance where the measured and random CDFs are furthest apart.

        D = max_d [F_meas(d) - F_rand(d)] is the Kolmogorov-Smirnov gap; at its argmax the
        two densities cross, which is the separation point used as d_max.
        """
        meas = self.measured[k - 1]
        rand = np.concatenate([r[k - 1] for r in self.random])
        rand.sort()
        grid = np.unique(meas)
        gap = (np.searchsorted(meas, grid, "right") / len(meas)) - (
            np.searchsorted(rand, grid, "right") / len(rand)
        )
        best = int(np.argmax(gap))
        return float(grid[best]), float(gap[best])

    def histogram(self, bins: int | np.ndarray = 80, r_max: float | None = None) -> pd.DataFrame:
        """Probability densities per k: measured, random mean and random min/max envelope."""
        if r_max is None:
            r_max = float(np.quantile(self.random[0][-1], 0.995)) * 1.2
        edges = np.linspace(0.0, r_max, bins + 1) if np.isscalar(bins) else np.asarray(bins)
        rows = {"r_lo": edges[:-1], "r_hi": edges[1:]}
        for k in range(1, self.k + 1):
            rows[f"k{k}_measured"] = np.histogram(self.measured[k - 1], edges, density=False)[0]
            rand = np.stack([np.histogram(r[k - 1], edges)[0] for r in self.random])
            norm = len(self.measured[k - 1]) * np.diff(edges)
            rows[f"k{k}_measured"] = rows[f"k{k}_measured"] / norm
            rand = rand / norm
            rows[f"k{k}_random"] = rand.mean(axis=0)
            rows[f"k{k}_random_lo"] = rand.min(axis=0)
            rows[f"k{k}_random_hi"] = rand.max(axis=0)
        return pd.DataFrame(rows)


def knn_distribution(
    xyz: np.ndarray,
    species: np.ndarray,
    solutes: Sequence | None = None,
    *,
    k: int = 5,
    n_permutations: int = 3,
    max_queries: int | None = 200_000,
    random_state: int | None = 0,
) -> KnnDistribution:
    """kNN distances (k = 1..k) among the solute ions and among random-label permutations.

    Parameters
    ----------
    xyz : ndarray of shape (n, 3), float32 or float64, nm
    species : ndarray of shape (n,)
        Boolean solute mask, or per-ion labels with ``solutes`` naming the solute labels.
    k : int, default=5
        Largest neighbour order.
    n_permutations : int, default=3
        Random-label sets: each picks as many ions as there are solutes, uniformly from all ions.
    max_queries : int or None, default=200_000
        Query at most this many ions per set (a random subset; the tree holds all of them).

    Notes
    -----
    Costs one k-d tree over the solutes per set (a float64 copy of the solutes only).
    """
    check_xyz(xyz)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise PointCloudError(f"k must be an integer >= 1, got {k!r}")
    if not isinstance(n_permutations, (int, np.integer)) or n_permutations < 1:
        raise PointCloudError(f"n_permutations must be an integer >= 1, got {n_permutations!r}")
    mask = species_mask(species, solutes, len(xyz))
    idx = np.flatnonzero(mask)
    if len(idx) <= k:
        raise PointCloudError(f"only {len(idx)} solute ions: need more than k={k}")
    rng = _rng(random_state)

    def one(indices: np.ndarray) -> list[np.ndarray]:
        pts = np.asarray(xyz[indices], dtype=np.float64)
        q = None
        if max_queries is not None and len(pts) > max_queries:
            q = np.sort(rng.choice(len(pts), size=max_queries, replace=False))
        d = knn_distances(pts, k, q)
        return [np.sort(d[:, j]) for j in range(k)]

    measured = one(idx)
    rand = [one(random_label_indices(len(xyz), len(idx), rng)) for _ in range(n_permutations)]
    return KnnDistribution(k=int(k), measured=measured, random=rand, n_solutes=len(idx))


# ---------------------------------------------------------------- RDF


@dataclass
class RadialDistribution:
    """Concentration of species B in shells around species-A ions, relative to the bulk.

    ``ratio`` = C_B(r) / C_B(bulk); 1 everywhere for a random solid solution. The envelope
    ``random_lo``/``random_hi`` comes from random labellings of the same shells.
    """

    table: pd.DataFrame
    n_centres: int
    bulk_fraction: float


def rdf(
    xyz: np.ndarray,
    species: np.ndarray,
    centres: Sequence | None = None,
    targets: Sequence | None = None,
    *,
    r_max: float = 3.0,
    dr: float = 0.1,
    max_centres: int = 5000,
    n_permutations: int = 200,
    envelope: float = 0.95,
    random_state: int | None = 0,
) -> RadialDistribution:
    """Radial distribution (APT convention): local B concentration around A over the bulk.

    Parameters
    ----------
    xyz : ndarray of shape (n, 3), nm
    species : ndarray of shape (n,)
        Per-ion labels.
    centres, targets : sequence of labels
        Species A (shell centres) and B (counted). ``targets`` defaults to ``centres``.
    r_max, dr : float, default=3.0, 0.1
        Largest radius and shell width, nm.
    max_centres : int, default=5000
        A random subset of the A ions is used as centres.
    n_permutations : int, default=200
        Random labellings. Under random labels the B count of a shell holding N ions is
        binomial(N, c_bulk) (the centre set kept fixed), so the permutations cost nothing
        but draws; ``envelope`` gives the central interval reported.

    Notes
    -----
    Normalising by the *local* number of ions in each shell, not the mean density, removes
    the bias of centres near the specimen surface (shells cut by the surface hold fewer ions
    of every species).
    """
    from scipy.spatial import cKDTree

    check_xyz(xyz)
    if not (r_max > 0 and dr > 0 and dr <= r_max):
        raise PointCloudError(f"need 0 < dr <= r_max, got dr={dr!r}, r_max={r_max!r}")
    if not isinstance(max_centres, (int, np.integer)) or max_centres < 1:
        raise PointCloudError(f"max_centres must be an integer >= 1, got {max_centres!r}")
    if not 0 < envelope < 1:
        raise PointCloudError(f"envelope must be in (0, 1), got {envelope!r}")
    if centres is None:
        raise PointCloudError("centres must name the species at the shell centres")
    a_mask = species_mask(species, centres, len(xyz))
    b_mask = a_mask if targets is None else species_mask(species, targets, len(xyz))
    rng = _rng(random_state)
    a_idx = np.flatnonzero(a_mask)
    if len(a_idx) > max_centres:
        a_idx = np.sort(rng.choice(a_idx, size=max_centres, replace=False))
    c = np.asarray(xyz[a_idx], np.float64)
    # only ions inside the bounding box of the centres (+ r_max) can fall in a shell
    lo, hi = c.min(axis=0) - r_max, c.max(axis=0) + r_max
    near = np.ones(len(xyz), bool)
    step = 1 << 22
    for start in range(0, len(xyz), step):
        blk = xyz[start : start + step]
        near[start : start + step] = ((blk >= lo) & (blk <= hi)).all(axis=1)
    near_idx = np.flatnonzero(near)
    pts = np.asarray(xyz[near_idx], np.float64)
    is_b = b_mask[near_idx]
    tree = cKDTree(pts)
    edges = np.arange(0.0, r_max + dr / 2, dr)
    nb = len(edges) - 1
    total = np.zeros(nb, np.int64)
    hits = np.zeros(nb, np.int64)
    for start in range(0, len(c), 1000):
        lists = tree.query_ball_point(c[start : start + 1000], r_max, workers=-1)
        sizes = np.fromiter((len(x) for x in lists), np.int64, len(lists))
        flat = np.concatenate([np.asarray(x, np.int64) for x in lists]) if sizes.sum() else None
        if flat is None:
            continue
        owner = np.repeat(np.arange(start, start + len(lists)), sizes)
        d = np.sqrt(((pts[flat] - c[owner]) ** 2).sum(axis=1))
        keep = d > 1e-9  # the centre itself
        shell = np.minimum((d[keep] / dr).astype(np.int64), nb - 1)
        total += np.bincount(shell, minlength=nb)
        hits += np.bincount(shell, weights=is_b[flat][keep], minlength=nb).astype(np.int64)
    bulk = float(b_mask.mean())
    conc = np.divide(hits, total, out=np.full(nb, np.nan), where=total > 0)
    draws = rng.binomial(total[None, :], bulk, size=(n_permutations, nb)) / np.maximum(total, 1)
    tail = (1 - envelope) / 2
    table = pd.DataFrame(
        {
            "r_lo": edges[:-1],
            "r_hi": edges[1:],
            "n_ions": total,
            "n_target": hits,
            "concentration": conc,
            "ratio": conc / bulk,
            "random_lo": np.quantile(draws, tail, axis=0) / bulk,
            "random_hi": np.quantile(draws, 1 - tail, axis=0) / bulk,
        }
    )
    return RadialDistribution(table=table, n_centres=len(a_idx), bulk_fraction=bulk)
