"""Per-cluster statistics: sizes, Guinier radius, centre, composition, and number density.

The Guinier radius R_G = sqrt(5/3) * R_g (R_g the radius of gyration of the cluster's solute
ions) is the radius of the uniform sphere with the same R_g, the usual APT size measure
(Miller, *Atom Probe Tomography*, 2000). Compositions are given twice: over all ions of the
cluster (matrix included) and with the matrix species left out, because the envelope pulls
matrix ions in and aberrations add more, so "matrix excluded" is the robust ratio of solutes.

Number density = clusters / analysed volume. The volume is either the convex hull of the ions
(``volume_method="hull"``; exact for a convex analysed region, computed from the extreme ions
of each column of a 2D grid along every axis, which changes the hull by at most about one
column width) or a voxel occupancy estimate (``"voxel"``: voxels holding at least half the
median count of the occupied voxels, times the voxel volume; robust to concave or sparse
regions). A cluster cut by the specimen surface counts as one (no edge correction).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd

from bigmax.techniques.apt.spatial_stats import PointCloudError, check_xyz


def _bincount_weights(labels: np.ndarray, w: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(labels, weights=w, minlength=k)[:k]


def cluster_table(
    xyz: np.ndarray,
    species: np.ndarray,
    labels: np.ndarray,
    solute_mask: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    matrix: Sequence | None = None,
) -> pd.DataFrame:
    """One row per cluster: ions, solutes, centre, R_g, Guinier radius, compositions.

    Parameters
    ----------
    xyz : ndarray of shape (n, 3), nm
    species : ndarray of shape (n,), non-negative int
        Species code per ion; ``names[code]`` names it (default ``"s<code>"``).
    labels : ndarray of shape (n,), int
        Cluster id per ion (-1 none), e.g. ``MaxSeparation.labels_``.
    solute_mask : ndarray of shape (n,), bool
        Which ions are solutes (R_g, centre and ``n_solute`` use these).
    matrix : sequence of codes, default: the most common species among all ions
        Left out of the ``excl_*`` compositions.

    Returns
    -------
    DataFrame with columns cluster, n_ions, n_solute, x, y, z, r_gyration, r_guinier, then
    ``incl_<name>`` (fraction of all cluster ions) and ``excl_<name>`` (fraction without the
    matrix species) per species.
    """
    xyz = check_xyz(xyz)
    n = len(xyz)
    for arr, nm in ((species, "species"), (labels, "labels"), (solute_mask, "solute_mask")):
        arr = np.asarray(arr)
        if arr.shape != (n,):
            raise PointCloudError(f"{nm} must have shape ({n},), got {arr.shape}")
    species = np.asarray(species)
    if species.dtype.kind not in "iu" or (n and species.min() < 0):
        raise PointCloudError("species must be non-negative integer codes (index into names)")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise PointCloudError(f"labels must be integers, got dtype {labels.dtype}")
    solute_mask = np.asarray(solute_mask, bool)
    n_species = int(species.max()) + 1 if n else 0
    if names is not None:
        names = list(names)
        if len(names) < n_species:
            raise PointCloudError(
                f"names has {len(names)} entries but species uses codes up to {n_species - 1}"
            )
        n_species = len(names)
    else:
        names = [f"s{i}" for i in range(n_species)]
    if matrix is None:
        matrix = [int(np.argmax(np.bincount(species, minlength=n_species)))] if n else []
    matrix_codes = np.asarray(list(matrix), dtype=np.int64)

    member = np.flatnonzero(labels >= 0)
    k = int(labels[member].max()) + 1 if len(member) else 0
    lab = labels[member].astype(np.int64)
    sp = species[member].astype(np.int64)
    sol = solute_mask[member]
    p = np.asarray(xyz[member], np.float64)

    n_ions = np.bincount(lab, minlength=k)[:k]
    n_sol = np.bincount(lab[sol], minlength=k)[:k]
    ls, ps = lab[sol], p[sol]
    cnt = np.maximum(n_sol, 1)
    centre = np.stack([_bincount_weights(ls, ps[:, j], k) / cnt for j in range(3)], axis=1)
    d2 = ((ps - centre[ls]) ** 2).sum(axis=1)
    rg = np.sqrt(_bincount_weights(ls, d2, k) / cnt)
    rg[n_sol == 0] = np.nan
    centre[n_sol == 0] = np.nan
    counts = np.zeros((k, n_species), np.int64)
    np.add.at(counts, (lab, sp), 1)
    table = {
        "cluster": np.arange(k),
        "n_ions": n_ions,
        "n_solute": n_sol,
        "x": centre[:, 0],
        "y": centre[:, 1],
        "z": centre[:, 2],
        "r_gyration": rg,
        "r_guinier": np.sqrt(5.0 / 3.0) * rg,
    }
    keep = np.ones(n_species, bool)
    keep[matrix_codes[matrix_codes < n_species]] = False
    excl_total = counts[:, keep].sum(axis=1)
    for j, name in enumerate(names):
        table[f"incl_{name}"] = counts[:, j] / np.maximum(n_ions, 1)
    for j, name in enumerate(names):
        if keep[j]:
            table[f"excl_{name}"] = counts[:, j] / np.maximum(excl_total, 1)
    return pd.DataFrame(table)


# ---------------------------------------------------------------- analysed volume


@numba.njit(cache=True)
def _column_extremes(p, off, a, b, c, lo, inv, na, nb, imin, imax, vmin, vmax):
    for i in range(p.shape[0]):
        ia = min(max(int((p[i, a] - lo[a]) * inv), 0), na - 1)
        ib = min(max(int((p[i, b] - lo[b]) * inv), 0), nb - 1)
        cell = ia * nb + ib
        v = p[i, c]
        if v < vmin[cell]:
            vmin[cell] = v
            imin[cell] = i + off
        if v > vmax[cell]:
            vmax[cell] = v
            imax[cell] = i + off


def analysed_volume(
    xyz: np.ndarray, method: str = "hull", column: float = 1.0, voxel: float = 2.0
) -> float:
    """Analysed volume in nm^3 by convex hull or voxel occupancy (see the module notes)."""
    xyz = check_xyz(xyz)
    if len(xyz) < 4:
        raise PointCloudError(f"need at least 4 ions for a volume, got {len(xyz)}")
    lo = np.array([xyz[:, j].min() for j in range(3)], np.float64)
    hi = np.array([xyz[:, j].max() for j in range(3)], np.float64)
    if method == "hull":
        from scipy.spatial import ConvexHull

        if not column > 0:
            raise PointCloudError(f"column must be > 0 nm, got {column!r}")
        picked = []
        for c, (a, b) in ((2, (0, 1)), (1, (0, 2)), (0, (1, 2))):
            na = int((hi[a] - lo[a]) / column) + 1
            nb = int((hi[b] - lo[b]) / column) + 1
            imin = np.full(na * nb, -1, np.int64)
            imax = np.full(na * nb, -1, np.int64)
            vmin = np.full(na * nb, np.inf)
            vmax = np.full(na * nb, -np.inf)
            step = 1 << 22
            for s in range(0, len(xyz), step):
                blk = xyz[s : s + step]
                _column_extremes(
                    blk, s, a, b, c, lo, 1.0 / column, na, nb, imin, imax, vmin, vmax
                )
            picked += [imin[imin >= 0], imax[imax >= 0]]
        idx = np.unique(np.concatenate(picked))
        try:
            return float(ConvexHull(np.asarray(xyz[idx], np.float64)).volume)
        except Exception as err:  # qhull: flat or degenerate point sets
            raise PointCloudError(f"the ions span no 3D volume (convex hull: {err})") from None
    if method == "voxel":
        if not voxel > 0:
            raise PointCloudError(f"voxel must be > 0 nm, got {voxel!r}")
        dims = ((hi - lo) / voxel).astype(np.int64) + 1
        counts = np.zeros(int(np.prod(dims)), np.int64)
        step = 1 << 22
        for s in range(0, len(xyz), step):
            ijk = ((xyz[s : s + step] - lo) / voxel).astype(np.int64)
            np.minimum(ijk, dims - 1, out=ijk)
            flat = (ijk[:, 0] * dims[1] + ijk[:, 1]) * dims[2] + ijk[:, 2]
            counts += np.bincount(flat, minlength=len(counts))
        occupied = counts[counts > 0]
        full = occupied >= 0.5 * np.median(occupied)
        return float(full.sum() * voxel**3)
    raise PointCloudError(f"volume method must be 'hull' or 'voxel', got {method!r}")


def number_density(n_clusters: int, volume_nm3: float) -> float:
    """Clusters per m^3 from a count and a volume in nm^3."""
    if not volume_nm3 > 0:
        raise PointCloudError(f"volume must be > 0 nm^3, got {volume_nm3!r}")
    return float(n_clusters) / (float(volume_nm3) * 1e-27)
