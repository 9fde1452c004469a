"""Solute cluster finding: the maximum separation method, DBSCAN and HDBSCAN, one API.

Maximum separation (Hyde & English 2000; Vaumousse, Cerezo & Warren, Ultramicroscopy 95, 215,
2003): solute ions closer than ``d_max`` are linked (single linkage), linked groups with at
least ``n_min`` solutes are clusters; then every other ion within ``envelope`` (L) of a
cluster's solute joins that cluster, and *erosion* removes the joined ions that lie within
``erosion`` (d_e) of an ion outside every cluster, which strips the shell the envelope added
at the cluster surface but keeps the matrix ions inside the cluster.

Speed and memory: the linkage runs on the solute ions only (a few % of the specimen), on a
dense cell list (cell >= d_max) with a union-find in numba. The envelope is one parallel numba
pass over all ions that looks up a cell list of the cluster solutes; erosion then looks only at
ions within L + d_e of a cluster solute (nothing farther can be within d_e of a cluster ion).
Nothing of size n is copied: the extra memory is the int32 label array (4 bytes per ion), a
boolean solute mask and arrays the size of the solute set.

Automatic parameters (``d_max=None``, ``n_min=None``) come from random-label permutations; see
:class:`MaxSeparation`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numba
import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from bigmax.techniques.apt.spatial_stats import (
    PointCloudError,
    cell_list,
    check_xyz,
    knn_distribution,
    random_label_indices,
    species_mask,
)

ClusterInputError = PointCloudError


# ---------------------------------------------------------------- cell lists


@numba.njit(cache=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True)
def _link(ps, starts, dims, r2, parent):
    """Union every pair of points (sorted by cell) closer than sqrt(r2)."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    for cx in range(nx):
        for cy in range(ny):
            for cz in range(nz):
                c = (cx * ny + cy) * nz + cz
                a, b = starts[c], starts[c + 1]
                if a == b:
                    continue
                for dx in range(0, 2):
                    for dy in range(-1, 2):
                        for dz in range(-1, 2):
                            if dx == 0 and (dy < 0 or (dy == 0 and dz < 0)):
                                continue
                            x2, y2, z2 = cx + dx, cy + dy, cz + dz
                            if x2 >= nx or y2 < 0 or y2 >= ny or z2 < 0 or z2 >= nz:
                                continue
                            c2 = (x2 * ny + y2) * nz + z2
                            a2, b2 = starts[c2], starts[c2 + 1]
                            same = c2 == c
                            for i in range(a, b):
                                j0 = i + 1 if same else a2
                                for j in range(j0, b2):
                                    d0 = ps[i, 0] - ps[j, 0]
                                    d1 = ps[i, 1] - ps[j, 1]
                                    d2 = ps[i, 2] - ps[j, 2]
                                    if d0 * d0 + d1 * d1 + d2 * d2 <= r2:
                                        ri = _find(parent, i)
                                        rj = _find(parent, j)
                                        if ri != rj:
                                            if ri < rj:
                                                parent[rj] = ri
                                            else:
                                                parent[ri] = rj
    for i in range(parent.shape[0]):
        parent[i] = _find(parent, i)


def link(points: np.ndarray, d_max: float) -> np.ndarray:
    """Single-linkage groups at distance ``d_max``: one int64 group id per point (0..g-1)."""
    if len(points) == 0:
        return np.empty(0, np.int64)
    order, starts, _lo, _cell, dims = cell_list(points, d_max)
    ps = np.ascontiguousarray(points[order])
    parent = np.arange(len(ps), dtype=np.int64)
    _link(ps, starts, dims, float(d_max) ** 2, parent)
    _, group_sorted = np.unique(parent, return_inverse=True)
    groups = np.empty(len(ps), np.int64)
    groups[order] = group_sorted
    return groups


def _keep_large(groups: np.ndarray, n_min: int) -> np.ndarray:
    """Relabel groups with >= n_min members 0..K-1 (largest first); others -1 (int32)."""
    if len(groups) == 0:
        return np.empty(0, np.int32)
    sizes = np.bincount(groups)
    big = np.flatnonzero(sizes >= n_min)
    big = big[np.argsort(-sizes[big], kind="stable")]
    remap = np.full(len(sizes), -1, np.int32)
    remap[big] = np.arange(len(big), dtype=np.int32)
    return remap[groups]


# ---------------------------------------------------------------- envelope and erosion


_SPAN = 1  # cells per search radius


@numba.njit(cache=True, inline="always")
def _gap(p, a, h):
    """Distance from coordinate p to the cell [a, a + h] along one axis."""
    if p < a:
        return a - p
    if p > a + h:
        return p - a - h
    return 0.0


@numba.njit(cache=True)
def _first_within(px, py, pz, pts, starts, lo, h, dims, cx, cy, cz, span, r2):
    """Index of some point within sqrt(r2) of p (own cell first), or -1."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    own = (cx * ny + cy) * nz + cz
    for j in range(starts[own], starts[own + 1]):
        d0 = px - pts[j, 0]
        d1 = py - pts[j, 1]
        d2 = pz - pts[j, 2]
        if d0 * d0 + d1 * d1 + d2 * d2 <= r2:
            return j
    for x2 in range(max(cx - span, 0), min(cx + span + 1, nx)):
        gx = _gap(px, lo[0] + x2 * h, h)
        gx *= gx
        if gx > r2:
            continue
        for y2 in range(max(cy - span, 0), min(cy + span + 1, ny)):
            gy = _gap(py, lo[1] + y2 * h, h)
            gy = gx + gy * gy
            if gy > r2:
                continue
            for z2 in range(max(cz - span, 0), min(cz + span + 1, nz)):
                gz = _gap(pz, lo[2] + z2 * h, h)
                if gy + gz * gz > r2:
                    continue
                c2 = (x2 * ny + y2) * nz + z2
                if c2 == own:
                    continue
                for j in range(starts[c2], starts[c2 + 1]):
                    d0 = px - pts[j, 0]
                    d1 = py - pts[j, 1]
                    d2 = pz - pts[j, 2]
                    if d0 * d0 + d1 * d1 + d2 * d2 <= r2:
                        return j
    return -1


@numba.njit(cache=True)
def _nearest(px, py, pz, pts, starts, lo, h, dims, cx, cy, cz, span, r2):
    """(index, squared distance) of the nearest point within sqrt(r2) of p, or (-1, r2)."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    best = r2 * 1.0000001 + 1e-12
    who = -1
    for x2 in range(max(cx - span, 0), min(cx + span + 1, nx)):
        gx = _gap(px, lo[0] + x2 * h, h)
        gx *= gx
        if gx > best:
            continue
        for y2 in range(max(cy - span, 0), min(cy + span + 1, ny)):
            gy = _gap(py, lo[1] + y2 * h, h)
            gy = gx + gy * gy
            if gy > best:
                continue
            for z2 in range(max(cz - span, 0), min(cz + span + 1, nz)):
                gz = _gap(pz, lo[2] + z2 * h, h)
                if gy + gz * gz > best:
                    continue
                c2 = (x2 * ny + y2) * nz + z2
                for j in range(starts[c2], starts[c2 + 1]):
                    d0 = px - pts[j, 0]
                    d1 = py - pts[j, 1]
                    d2 = pz - pts[j, 2]
                    d = d0 * d0 + d1 * d1 + d2 * d2
                    if d < best:
                        best = d
                        who = j
    return who, best


@numba.njit(cache=True, parallel=True)
def _envelope(xyz, labels, cs, clab, starts, pure, lo, h, dims, span, l2):
    """Label free ions within sqrt(l2) of a cluster solute (the nearest solute's cluster).

    ``pure[c]`` is the one cluster whose solutes are within ``span`` cells of cell c, -1 if
    there are several (then the nearest solute decides), -2 if none (nothing to do).
    """
    n = xyz.shape[0]
    nx, ny, nz = dims[0], dims[1], dims[2]
    inv = 1.0 / h
    for i in numba.prange(n):
        if labels[i] >= 0:
            continue
        px, py, pz = xyz[i, 0], xyz[i, 1], xyz[i, 2]
        fx = (px - lo[0]) * inv
        fy = (py - lo[1]) * inv
        fz = (pz - lo[2]) * inv
        if fx < 0.0 or fy < 0.0 or fz < 0.0 or fx >= nx or fy >= ny or fz >= nz:
            continue
        cx, cy, cz = int(fx), int(fy), int(fz)
        tag = pure[(cx * ny + cy) * nz + cz]
        if tag == -2:
            continue
        if tag >= 0:
            if _first_within(px, py, pz, cs, starts, lo, h, dims, cx, cy, cz, span, l2) >= 0:
                labels[i] = tag
            continue
        who, best = _nearest(px, py, pz, cs, starts, lo, h, dims, cx, cy, cz, span, l2)
        if who >= 0:
            labels[i] = clab[who]


@numba.njit(cache=True, parallel=True)
def _free_near(xyz, labels, near, lo, h, dims, out):
    """out[i]: ion i is in no cluster and its cell is flagged in ``near``."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    inv = 1.0 / h
    for i in numba.prange(xyz.shape[0]):
        out[i] = False
        if labels[i] >= 0:
            continue
        fx = (xyz[i, 0] - lo[0]) * inv
        fy = (xyz[i, 1] - lo[1]) * inv
        fz = (xyz[i, 2] - lo[2]) * inv
        if fx < 0.0 or fy < 0.0 or fz < 0.0 or fx >= nx or fy >= ny or fz >= nz:
            continue
        out[i] = near[(int(fx) * ny + int(fy)) * nz + int(fz)]


@numba.njit(cache=True)
def _cell_label_range(starts, lab):
    nc = starts.shape[0] - 1
    lo = np.full(nc, np.iinfo(np.int32).max, np.int32)
    hi = np.full(nc, -1, np.int32)
    for c in range(nc):
        for j in range(starts[c], starts[c + 1]):
            lo[c] = min(lo[c], lab[j])
            hi[c] = max(hi[c], lab[j])
    return lo, hi


@numba.njit(cache=True, parallel=True)
def _erode(xyz, cand, labels, shell, starts, lo, h, dims, span, e2):
    """Unlabel candidate ions within sqrt(e2) of a shell (unclustered) ion."""
    nx, ny, nz = dims[0], dims[1], dims[2]
    inv = 1.0 / h
    drop = np.zeros(cand.shape[0], np.bool_)
    for t in numba.prange(cand.shape[0]):
        i = cand[t]
        px, py, pz = xyz[i, 0], xyz[i, 1], xyz[i, 2]
        fx = (px - lo[0]) * inv
        fy = (py - lo[1]) * inv
        fz = (pz - lo[2]) * inv
        if fx < 0.0 or fy < 0.0 or fz < 0.0 or fx >= nx or fy >= ny or fz >= nz:
            continue
        cx, cy, cz = int(fx), int(fy), int(fz)
        hit = False
        for x2 in range(max(cx - span, 0), min(cx + span + 1, nx)):
            gx = _gap(px, lo[0] + x2 * h, h)
            gx *= gx
            if gx > e2 or hit:
                continue
            for y2 in range(max(cy - span, 0), min(cy + span + 1, ny)):
                gy = _gap(py, lo[1] + y2 * h, h)
                gy = gx + gy * gy
                if gy > e2 or hit:
                    continue
                for z2 in range(max(cz - span, 0), min(cz + span + 1, nz)):
                    gz = _gap(pz, lo[2] + z2 * h, h)
                    if gy + gz * gz > e2 or hit:
                        continue
                    c2 = (x2 * ny + y2) * nz + z2
                    for j in range(starts[c2], starts[c2 + 1]):
                        d0 = px - shell[j, 0]
                        d1 = py - shell[j, 1]
                        d2 = pz - shell[j, 2]
                        if d0 * d0 + d1 * d1 + d2 * d2 <= e2:
                            hit = True
                            break
        drop[t] = hit
    for t in range(cand.shape[0]):
        if drop[t]:
            labels[cand[t]] = -1


def _search_grid(
    points: np.ndarray, radius: float, max_cells: int | None = None, want_near: bool = True
):
    """Cell list with cells of radius / _SPAN, and the cells within ``radius`` of a point."""
    from scipy.ndimage import maximum_filter

    cap = max(8 * len(points), 1 << 22) if max_cells is None else max_cells
    order, starts, lo, cell, dims = cell_list(points, radius / _SPAN, pad=radius, max_cells=cap)
    span = int(np.ceil(radius / cell - 1e-9))
    near = None
    if want_near:
        occupied = (np.diff(starts) > 0).reshape(tuple(dims))
        near = maximum_filter(occupied, size=2 * span + 1, mode="constant").ravel()
    return order, starts, near, lo, cell, dims, span


def _pure_cells(starts: np.ndarray, clab: np.ndarray, dims, span: int) -> np.ndarray:
    """Per cell: the one cluster within ``span`` cells, -1 for several, -2 for none."""
    from scipy.ndimage import maximum_filter, minimum_filter

    lo, hi = _cell_label_range(starts, clab.astype(np.int32))
    shape, size = tuple(int(d) for d in dims), 2 * span + 1
    lo = minimum_filter(lo.reshape(shape), size=size, mode="constant", cval=lo.max()).ravel()
    hi = maximum_filter(hi.reshape(shape), size=size, mode="constant", cval=-1).ravel()
    out = np.where(hi < 0, -2, np.where(lo == hi, hi, -1)).astype(np.int32)
    return out


def envelope_erode(
    xyz: np.ndarray,
    labels: np.ndarray,
    core: np.ndarray,
    envelope: float,
    erosion: float,
) -> None:
    """Grow the clusters in ``labels`` (in place) by ``envelope``, then erode by ``erosion``.

    ``core`` holds the indices of the cluster solutes (their labels are never changed).
    Erosion looks only at free ions in cells near the joined ions, so no distance search
    runs for the ions far from every cluster.
    """
    if len(core) == 0 or envelope <= 0:
        return
    cs_all = np.asarray(xyz[core])
    order, starts, _near, lo, cell, dims, span = _search_grid(
        cs_all, envelope, max_cells=max(8 * len(core), 1 << 24), want_near=False
    )
    cs = np.ascontiguousarray(cs_all[order])
    clab = labels[core][order]
    pure = _pure_cells(starts, clab, dims, span)
    _envelope(xyz, labels, cs, clab, starts, pure, lo, cell, dims, span, envelope**2)
    del pure, starts, cs
    if erosion <= 0:
        return
    is_core = np.zeros(len(labels), bool)
    is_core[core] = True
    cand = np.flatnonzero((labels >= 0) & ~is_core)
    if len(cand) == 0:
        return
    # free ions that can be within d_e of a joined ion: those in cells near the joined ions
    joined = np.asarray(xyz[cand])
    _o, starts, near, lo, cell, dims, _span = _search_grid(joined, erosion)
    free = is_core  # reuse the n-sized buffer
    _free_near(xyz, labels, near, lo, cell, dims, free)
    shell_idx = np.flatnonzero(free)
    del free, is_core, joined
    if len(shell_idx) == 0:
        return
    sh = np.asarray(xyz[shell_idx])
    order, starts, _near, lo, cell, dims, span = _search_grid(sh, erosion, want_near=False)
    sh = np.ascontiguousarray(sh[order])
    _erode(xyz, cand, labels, sh, starts, lo, cell, dims, span, erosion**2)


# ---------------------------------------------------------------- parameter choice


def choose_d_max(knn, k: int = 1) -> tuple[float, float]:
    """d_max and the KS gap from a :class:`~bigmax.techniques.apt.spatial_stats.KnnDistribution`.

    d_max is where the measured and random-label k-th NN CDFs are furthest apart, which is
    where their densities cross: below it solute pairs are more frequent than chance.
    """
    return knn.separation(k)


def choose_n_min(
    real_sizes: np.ndarray, random_sizes: list[np.ndarray], max_fdr: float = 0.05
) -> int:
    """Smallest size s >= 2 such that random-label groups of >= s solutes are fewer than
    ``max_fdr`` times the measured groups of >= s solutes (a false-discovery bound)."""
    top = int(max([real_sizes.max(initial=1)] + [r.max(initial=1) for r in random_sizes])) + 2
    real_tail = np.cumsum(np.bincount(real_sizes, minlength=top)[::-1])[::-1]
    rand_tail = np.mean(
        [np.cumsum(np.bincount(r, minlength=top)[::-1])[::-1] for r in random_sizes], axis=0
    )
    for s in range(2, top):
        if rand_tail[s] <= max_fdr * real_tail[s]:
            return s
    return top


# ---------------------------------------------------------------- estimator


class MaxSeparation(ClusterMixin, BaseEstimator):
    """Solute clusters by maximum separation (or DBSCAN / HDBSCAN) with envelope and erosion.

    Parameters
    ----------
    d_max : float or None, default=None
        Linking distance, nm. None: chosen from the k-th NN distances of the solutes against
        random-label permutations (:func:`choose_d_max`, order ``k``).
    n_min : int or None, default=None
        Smallest cluster, in solute ions. None: the smallest size at which groups found with
        the same d_max in random-label data are fewer than ``max_fdr`` times the measured
        groups of that size or more (:func:`choose_n_min`).
    envelope : float or None, default=None
        L, nm: other ions this close to a cluster solute join it. None: d_max. 0: no envelope.
    erosion : float or None, default=None
        d_e, nm: joined ions this close to an unclustered ion leave again. None: ``envelope``.
    method : {"maxsep", "dbscan", "hdbscan"}, default="maxsep"
        How solutes are grouped. "dbscan": ``sklearn.cluster.DBSCAN(eps=d_max,
        min_samples=min_samples)``; "hdbscan": ``sklearn.cluster.HDBSCAN(min_cluster_size=
        n_min, min_samples=min_samples)``. Either way groups below n_min are dropped and the
        envelope/erosion follows.
    min_samples : int, default=3
        Core-point neighbour count of DBSCAN/HDBSCAN (maxsep links every pair).
    k : int, default=3
        Neighbour order of the d_max choice. With k = 1 the crossover sits inside the
        distribution of a precipitate's solutes and linkage splits precipitates into
        fragments; k = 3 makes every cluster solute reach a few others (docs/apt-clusters.md
        has the measured precision/recall per k).
    solutes : sequence or None, default=None
        Solute labels in ``species``; None means ``species`` is a boolean mask.
    n_permutations : int, default=3
        Random-label sets for the automatic choices.
    max_fdr : float, default=0.05
        Bound on the expected share of chance clusters for the n_min choice.
    random_state : int or None, default=0

    Attributes
    ----------
    labels_ : ndarray of shape (n,), int32
        Cluster id per ion (0 is the largest cluster), -1 outside every cluster.
    solute_labels_ : ndarray of shape (n_solutes,), int32
        Cluster id per solute ion, in index order (before the envelope).
    n_clusters_, d_max_, n_min_, envelope_, erosion_ : the values used.
    knn_ : KnnDistribution or None
        The kNN data behind an automatic d_max.
    random_sizes_ : list of ndarray or None
        Group sizes in the random-label sets behind an automatic n_min.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> xyz = rng.uniform(0, 20, (60000, 3)).astype(np.float32)
    >>> solute = rng.random(60000) < 0.005
    >>> centre = rng.uniform(3, 17, (10, 3))
    >>> for c in centre:
    ...     solute |= np.linalg.norm(xyz - c, axis=1) < 1.2
    >>> model = MaxSeparation(d_max=0.5, n_min=10).fit(xyz, solute)
    >>> model.n_clusters_
    10

    References
    ----------
    Vaumousse, Cerezo & Warren, Ultramicroscopy 95, 215 (2003). Jägle, Choi & Raabe,
    Microsc. Microanal. 20, 1662 (2014).
    """

    def __init__(
        self,
        d_max: float | None = None,
        n_min: int | None = None,
        envelope: float | None = None,
        erosion: float | None = None,
        method: str = "maxsep",
        min_samples: int = 3,
        k: int = 3,
        solutes: Sequence | None = None,
        n_permutations: int = 3,
        max_fdr: float = 0.05,
        random_state: int | None = 0,
    ) -> None:
        self.d_max = d_max
        self.n_min = n_min
        self.envelope = envelope
        self.erosion = erosion
        self.method = method
        self.min_samples = min_samples
        self.k = k
        self.solutes = solutes
        self.n_permutations = n_permutations
        self.max_fdr = max_fdr
        self.random_state = random_state

    def _check_params(self) -> None:
        def bad(name, allowed):
            raise ClusterInputError(
                f"the {name!r} parameter of MaxSeparation must be {allowed}; "
                f"got {getattr(self, name)!r}"
            )

        def pos(name, allow_none=True, allow_zero=False):
            v = getattr(self, name)
            if v is None and allow_none:
                return
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            if not ok or not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
                bad(name, "a positive number" + (" or None" if allow_none else ""))

        pos("d_max")
        pos("envelope", allow_zero=True)
        pos("erosion", allow_zero=True)
        for name, lo in (("n_min", 1), ("min_samples", 1), ("k", 1), ("n_permutations", 1)):
            v = getattr(self, name)
            if name == "n_min" and v is None:
                continue
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                bad(name, f"an integer >= {lo}")
        if self.method not in ("maxsep", "dbscan", "hdbscan"):
            bad("method", "one of 'maxsep', 'dbscan', 'hdbscan'")
        if not isinstance(self.max_fdr, (int, float)) or not 0 < self.max_fdr < 1:
            bad("max_fdr", "a number in (0, 1)")

    def _group(self, pts: np.ndarray, d_max: float, n_min: int) -> np.ndarray:
        if self.method == "maxsep":
            return _keep_large(link(pts, d_max), n_min)
        if self.method == "dbscan":
            from sklearn.cluster import DBSCAN

            raw = DBSCAN(eps=d_max, min_samples=self.min_samples, n_jobs=-1).fit(pts).labels_
        else:
            from sklearn.cluster import HDBSCAN

            raw = HDBSCAN(
                min_cluster_size=max(n_min, 2), min_samples=self.min_samples, copy=True
            ).fit(pts).labels_
        out = np.full(len(pts), -1, np.int32)
        member = raw >= 0
        out[member] = _keep_large(raw[member].astype(np.int64), n_min)
        return out

    def fit(self, X: np.ndarray, species: np.ndarray, y=None) -> MaxSeparation:
        """Find the clusters of the solute ions among ``X`` (n, 3) nm.

        ``species`` is a boolean solute mask, or per-ion labels with ``solutes`` set.
        """
        self._check_params()
        xyz = check_xyz(X, "X")
        mask = species_mask(species, self.solutes, len(xyz))
        idx = np.flatnonzero(mask)
        pts = np.ascontiguousarray(xyz[idx])
        rng = np.random.default_rng(self.random_state)

        self.knn_ = None
        self.random_sizes_ = None
        d_max = self.d_max
        if d_max is None:
            if len(idx) <= self.k + 1:
                raise ClusterInputError(
                    f"only {len(idx)} solute ions: too few to choose d_max; give d_max"
                )
            self.knn_ = knn_distribution(
                xyz,
                mask,
                k=max(self.k, 1),
                n_permutations=self.n_permutations,
                random_state=int(rng.integers(2**31)),
            )
            d_max, gap = choose_d_max(self.knn_, self.k)
            if gap < 3.0 / np.sqrt(min(len(idx), 200_000)):
                warnings.warn(
                    f"the solute kNN distances barely differ from random labels (KS gap "
                    f"{gap:.3f}): the solutes look randomly distributed, clusters are doubtful",
                    stacklevel=2,
                )
        del mask
        d_max = float(d_max)
        n_min = self.n_min
        if n_min is None:
            real = np.bincount(link(pts, d_max))
            rand = []
            for _ in range(self.n_permutations):
                r = random_label_indices(len(xyz), len(idx), rng)
                rand.append(np.bincount(link(np.ascontiguousarray(xyz[r]), d_max)))
            self.random_sizes_ = rand
            n_min = choose_n_min(real, rand, self.max_fdr)
        n_min = int(n_min)

        solute_labels = self._group(pts, d_max, n_min)
        labels = np.full(len(xyz), -1, np.int32)
        labels[idx] = solute_labels
        envelope = d_max if self.envelope is None else float(self.envelope)
        erosion = envelope if self.erosion is None else float(self.erosion)
        core = idx[solute_labels >= 0]
        envelope_erode(xyz, labels, core, envelope, erosion)

        self.labels_ = labels
        self.solute_labels_ = solute_labels
        self.n_clusters_ = int(solute_labels.max(initial=-1)) + 1
        self.d_max_ = d_max
        self.n_min_ = n_min
        self.envelope_ = envelope
        self.erosion_ = erosion
        return self

    def fit_predict(self, X, species, y=None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, species).labels_

