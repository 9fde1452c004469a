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

import numba
import numpy as np
import pandas as pd

_MAX_CELLS_PER_POINT = 8


class PointCloudError(ValueError):
    """Bad positions, species or parameters; the message names the argument."""


# ---------------------------------------------------------------- validation


def check_xyz(xyz: np.ndarray, name: str = "xyz") -> np.ndarray:
    """Return ``xyz`` if it is a finite float (n, 3) array (byte-swapped to native), else raise.

    Big-endian arrays (a raw .pos memory map) are copied once to native order: the numba
    kernels need native floats.
    """
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
    if not xyz.dtype.isnative:
        xyz = xyz.astype(xyz.dtype.newbyteorder("="))
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
    """Sorted indices of ``m`` ions drawn without replacement: one random-label permutation.

    Above 2^24 ions each ion is drawn with probability m/n instead, chunk by chunk, so no
    n-sized permutation is made; the count is then m within a few sqrt(m).
    """
    if n <= 1 << 24:
        return np.sort(rng.choice(n, size=m, replace=False))
    p = m / n
    step = 1 << 22
    parts = [
        np.flatnonzero(rng.random(min(step, n - s), dtype=np.float32) < p) + s
        for s in range(0, n, step)
    ]
    return np.concatenate(parts)


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
    xyz = check_xyz(xyz)
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


# ---------------------------------------------------------------- cell lists


def grid(points: np.ndarray, cell: float, pad: float = 0.0, max_cells: int | None = None):
    """Origin, cell size and dims of a dense grid over ``points`` (cell grown if too many)."""
    lo = points.min(axis=0).astype(np.float64) - pad
    hi = points.max(axis=0).astype(np.float64) + pad
    span = np.maximum(hi - lo, 1e-6)
    cap = max(_MAX_CELLS_PER_POINT * len(points), 1 << 16) if max_cells is None else max_cells
    cell = float(cell)
    while np.prod(np.floor(span / cell) + 1) > cap:
        cell *= 1.26
    dims = (np.floor(span / cell) + 1).astype(np.int64)
    return lo, cell, dims


@numba.njit(cache=True, parallel=True)
def _cell_of(p, lo, inv, dims):
    n = p.shape[0]
    out = np.empty(n, np.int64)
    for i in numba.prange(n):
        cx = min(max(int((p[i, 0] - lo[0]) * inv), 0), dims[0] - 1)
        cy = min(max(int((p[i, 1] - lo[1]) * inv), 0), dims[1] - 1)
        cz = min(max(int((p[i, 2] - lo[2]) * inv), 0), dims[2] - 1)
        out[i] = (cx * dims[1] + cy) * dims[2] + cz
    return out


def cell_list(
    points: np.ndarray, cell: float, pad: float = 0.0, max_cells: int | None = None
):
    """Points sorted by cell of a dense grid: (order, starts, lo, cell, dims).

    Points of cell c are ``points[order[starts[c]:starts[c + 1]]]``; the cell edge is at
    least ``cell`` (grown when the grid would exceed ``max_cells``, default 8 per point).
    """
    lo, cell, dims = grid(points, cell, pad, max_cells)
    ids = _cell_of(points, lo, 1.0 / cell, dims)
    counts = np.bincount(ids, minlength=int(np.prod(dims)))
    starts = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=starts[1:])
    del counts
    order = _counting_order(ids, starts)
    return order, starts, lo, cell, dims


@numba.njit(cache=True)
def _counting_order(ids, starts):
    """Stable order of ``ids`` by value, given the cumulative counts (O(n), no sort)."""
    fill = starts[:-1].copy()
    order = np.empty(ids.shape[0], np.int64)
    for i in range(ids.shape[0]):
        c = ids[i]
        order[fill[c]] = i
        fill[c] += 1
    return order


@numba.njit(cache=True, parallel=True)
def _shell_counts(xyz, is_b, offset, cs, cidx, starts, lo, inv, dims, r_max, dr, nb):
    n = xyz.shape[0]
    nx, ny, nz = dims[0], dims[1], dims[2]
    n_blocks = 64
    tot = np.zeros((n_blocks, nb), np.int64)
    hit = np.zeros((n_blocks, nb), np.int64)
    r2 = r_max * r_max
    for blk in numba.prange(n_blocks):
        for i in range(blk * n // n_blocks, (blk + 1) * n // n_blocks):
            fx = (xyz[i, 0] - lo[0]) * inv
            fy = (xyz[i, 1] - lo[1]) * inv
            fz = (xyz[i, 2] - lo[2]) * inv
            if fx < -1.0 or fy < -1.0 or fz < -1.0 or fx >= nx + 1 or fy >= ny + 1:
                continue
            if fz >= nz + 1:
                continue
            cx, cy, cz = int(np.floor(fx)), int(np.floor(fy)), int(np.floor(fz))
            for x2 in range(max(cx - 1, 0), min(cx + 2, nx)):
                for y2 in range(max(cy - 1, 0), min(cy + 2, ny)):
                    for z2 in range(max(cz - 1, 0), min(cz + 2, nz)):
                        c2 = (x2 * ny + y2) * nz + z2
                        for j in range(starts[c2], starts[c2 + 1]):
                            if cidx[j] == i + offset:
                                continue
                            d0 = xyz[i, 0] - cs[j, 0]
                            d1 = xyz[i, 1] - cs[j, 1]
                            d2 = xyz[i, 2] - cs[j, 2]
                            d = d0 * d0 + d1 * d1 + d2 * d2
                            if d < r2:
                                k = min(int(np.sqrt(d) / dr), nb - 1)
                                tot[blk, k] += 1
                                if is_b[i]:
                                    hit[blk, k] += 1
    return tot.sum(axis=0), hit.sum(axis=0)


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
    of every species). All ions stream past a cell list of the centres in chunks, in numba,
    so memory stays at the centres plus one chunk.
    """
    xyz = check_xyz(xyz)
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
    edges = np.arange(0.0, r_max + dr / 2, dr)
    nb = len(edges) - 1
    # stream all ions past a cell list of the (few) centres: no copy of size n
    c = np.asarray(xyz[a_idx])
    order, starts, lo, cell, dims = cell_list(c, r_max, pad=r_max)
    cs = np.ascontiguousarray(c[order], dtype=np.float64)
    cidx = a_idx[order]
    total = np.zeros(nb, np.int64)
    hits = np.zeros(nb, np.int64)
    step = 1 << 22
    for s0 in range(0, len(xyz), step):
        t, h = _shell_counts(
            xyz[s0 : s0 + step], b_mask[s0 : s0 + step], s0, cs, cidx, starts, lo,
            1.0 / cell, dims, float(r_max), float(dr), nb,
        )  # fmt: skip
        total += t
        hits += h
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
