"""Convex-domain overlap, the loss of classification SISSO.

Each class is represented by the convex hull of its samples in descriptor space; a sample
"lies in the overlap region" when it is inside the hull of another class (boundary included).
The loss is the number of such samples, and ties are broken by the normalised overlap

    Ω = 2/(M(M-1)) Σ_{i<j} Ω_ij,   Ω_ij = vol(H_i ∩ H_j) / min(vol H_i, vol H_j)

(Ouyang et al., Phys. Rev. Mater. 2, 083802 (2018)); when two hulls do not intersect, Ω_ij is
minus their distance, so well separated classes rank first. Coordinates are scaled to the unit
range of all samples first, so Ω is dimensionless.

Point-in-hull is a linear-programming feasibility problem (is p a convex combination of the
hull's points?), solved with scipy's HiGHS. For full-dimensional hulls a Qhull facet test gives
the same answer much faster, so the LP is used for degenerate hulls (too few or flat points)
and as the reference; in 1-D, hulls are intervals and everything is vectorised numpy.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy.optimize import linprog
from scipy.spatial import ConvexHull, HalfspaceIntersection, QhullError

__all__ = [
    "interval_overlap",
    "overlap_count",
    "overlap_mask",
    "overlap_volume",
    "in_hull_lp",
    "in_hull",
]

# Points within this distance (in unit-range coordinates) of a hull count as inside it.
HULL_TOL = 1e-9


def _scale(P: np.ndarray) -> np.ndarray:
    lo = P.min(axis=0)
    span = P.max(axis=0) - lo
    span[span == 0] = 1.0
    return (P - lo) / span


def interval_overlap(values: np.ndarray, codes: np.ndarray, n_classes: int):
    """1-D overlap of every column at once.

    Parameters
    ----------
    values : ndarray of shape (n_samples, n_columns)
    codes : ndarray of shape (n_samples,), class codes 0..n_classes-1

    Returns
    -------
    counts : ndarray of shape (n_columns,), samples inside another class's interval
    omega : ndarray of shape (n_columns,), the normalised overlap (negative: separation)
    """
    V = np.asarray(values, dtype=np.float64)
    if V.ndim == 1:
        V = V[:, None]
    span = V.max(axis=0) - V.min(axis=0)
    span = np.where(span > 0, span, 1.0)
    mins = np.empty((n_classes, V.shape[1]))
    maxs = np.empty((n_classes, V.shape[1]))
    inside = np.zeros(V.shape, dtype=bool)
    for a in range(n_classes):
        rows = codes == a
        if not rows.any():
            mins[a] = np.inf
            maxs[a] = -np.inf
            continue
        mins[a] = V[rows].min(axis=0)
        maxs[a] = V[rows].max(axis=0)
    for a in range(n_classes):
        if not np.isfinite(mins[a]).all():
            continue
        others = codes != a
        inside[others] |= (V[others] >= mins[a]) & (V[others] <= maxs[a])
    counts = inside.sum(axis=0)
    omega = np.zeros(V.shape[1])
    pairs = list(itertools.combinations(range(n_classes), 2))
    for i, j in pairs:
        ov = (np.minimum(maxs[i], maxs[j]) - np.maximum(mins[i], mins[j])) / span
        shortest = np.minimum(maxs[i] - mins[i], maxs[j] - mins[j]) / span
        omega += np.where(ov >= 0, np.where(shortest > 0, ov / np.maximum(shortest, 1e-300),
                                             1.0), ov)
    if pairs:
        omega /= len(pairs)
    return counts, omega


def in_hull_lp(points: np.ndarray, hull_points: np.ndarray, tol: float = HULL_TOL) -> np.ndarray:
    """Whether each point is a convex combination of ``hull_points`` (one LP each, HiGHS)."""
    points = np.atleast_2d(points)
    h, d = hull_points.shape
    A_eq = np.vstack([hull_points.T, np.ones((1, h))])
    out = np.zeros(len(points), dtype=bool)
    for q, p in enumerate(points):
        res = linprog(
            np.zeros(h),
            A_eq=A_eq,
            b_eq=np.append(p, 1.0),
            bounds=(0, None),
            method="highs",
            options={"primal_feasibility_tolerance": max(tol, 1e-10)},
        )
        out[q] = res.status == 0
    return out


def _hull(P: np.ndarray):
    """Qhull of P when it is full-dimensional, else None."""
    if len(P) <= P.shape[1]:
        return None
    try:
        return ConvexHull(P)
    except QhullError:
        return None


def in_hull(points: np.ndarray, hull_points: np.ndarray, tol: float = HULL_TOL) -> np.ndarray:
    """Point-in-hull: bounding-box reject, then Qhull facets, or the LP for degenerate hulls."""
    points = np.atleast_2d(points)
    lo = hull_points.min(axis=0) - tol
    hi = hull_points.max(axis=0) + tol
    cand = np.all((points >= lo) & (points <= hi), axis=1)
    out = np.zeros(len(points), dtype=bool)
    if not cand.any():
        return out
    if hull_points.shape[1] == 1:
        return cand
    hull = _hull(hull_points)
    if hull is None:
        out[cand] = in_hull_lp(points[cand], hull_points, tol)
        return out
    eq = hull.equations
    out[cand] = np.all(points[cand] @ eq[:, :-1].T + eq[:, -1] <= tol, axis=1)
    return out


def overlap_mask(P: np.ndarray, codes: np.ndarray, n_classes: int, method: str = "auto"):
    """Boolean mask of the samples inside the hull of another class."""
    P = _scale(np.asarray(P, dtype=np.float64).reshape(len(codes), -1))
    test = in_hull if method == "auto" else in_hull_lp
    mask = np.zeros(len(P), dtype=bool)
    for a in range(n_classes):
        rows = codes == a
        if not rows.any():
            continue
        others = np.flatnonzero(~rows & ~mask)
        if len(others):
            mask[others] |= test(P[others], P[rows])
    return mask


def overlap_count(P: np.ndarray, codes: np.ndarray, n_classes: int, method: str = "auto") -> int:
    """Number of samples inside the convex hull of another class."""
    return int(overlap_mask(P, codes, n_classes, method).sum())


def _distance(A: np.ndarray, B: np.ndarray) -> float:
    """L∞ distance between conv(A) and conv(B), an LP: min t, |Aᵀλ - Bᵀμ| <= t."""
    ha, d = A.shape
    hb = B.shape[0]
    n_var = ha + hb + 1
    c = np.zeros(n_var)
    c[-1] = 1.0
    diff = np.hstack([A.T, -B.T])
    ones = np.ones((d, 1))
    A_ub = np.vstack([np.hstack([diff, -ones]), np.hstack([-diff, -ones])])
    A_eq = np.zeros((2, n_var))
    A_eq[0, :ha] = 1.0
    A_eq[1, ha : ha + hb] = 1.0
    res = linprog(c, A_ub=A_ub, b_ub=np.zeros(2 * d), A_eq=A_eq, b_eq=[1.0, 1.0],
                  bounds=(0, None), method="highs")
    return float(res.fun) if res.status == 0 else 0.0


def _intersection_volume(ha, hb) -> float:
    halfspaces = np.vstack([ha.equations, hb.equations])
    A, b = halfspaces[:, :-1], halfspaces[:, -1]
    norms = np.linalg.norm(A, axis=1)
    d = A.shape[1]
    # Chebyshev centre: max r subject to A x + r |A_i| <= -b
    c = np.zeros(d + 1)
    c[-1] = -1.0
    res = linprog(c, A_ub=np.hstack([A, norms[:, None]]), b_ub=-b,
                  bounds=[(None, None)] * d + [(0, None)], method="highs")
    if res.status != 0 or res.x[-1] <= 1e-12:
        return 0.0
    try:
        hs = HalfspaceIntersection(halfspaces, res.x[:-1])
        return float(ConvexHull(hs.intersections).volume)
    except QhullError:
        return 0.0


def overlap_volume(P: np.ndarray, codes: np.ndarray, n_classes: int) -> float:
    """The normalised overlap Ω (tie-break; negative when the classes are separated)."""
    P = np.asarray(P, dtype=np.float64).reshape(len(codes), -1)
    if P.shape[1] == 1:
        return float(interval_overlap(P, codes, n_classes)[1][0])
    P = _scale(P)
    groups = [P[codes == a] for a in range(n_classes)]
    hulls = [_hull(g) if len(g) else None for g in groups]
    terms = []
    for i, j in itertools.combinations(range(n_classes), 2):
        if not len(groups[i]) or not len(groups[j]):
            continue
        hi, hj = hulls[i], hulls[j]
        vol = 0.0
        if hi is not None and hj is not None:
            vol = _intersection_volume(hi, hj)
        if vol > 0:
            terms.append(vol / min(hi.volume, hj.volume))
        else:
            terms.append(-_distance(groups[i], groups[j]))
    return float(np.mean(terms)) if terms else 0.0
