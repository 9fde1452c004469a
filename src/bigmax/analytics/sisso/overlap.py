"""Convex-domain overlap, the loss of classification SISSO.

Each class is represented by the convex hull of its samples in descriptor space; a sample
"lies in the overlap region" when it is inside the hull of another class (boundary included).
The loss is the number of such samples, and ties are broken by the normalised overlap

    Ω = 2/(M(M-1)) Σ_{i<j} Ω_ij,   Ω_ij = vol(H_i ∩ H_j) / min(vol H_i, vol H_j)

(Ouyang et al., Phys. Rev. Mater. 2, 083802 (2018)); when two hulls do not intersect, Ω_ij is
minus their Euclidean distance in the descriptor's own units, as the Fortran code reports it
(its "separation"), so well separated classes rank first.

Point-in-hull is a linear-programming feasibility problem (is p a convex combination of the
hull's points?), solved with scipy's HiGHS. For full-dimensional hulls a Qhull facet test gives
the same answer much faster; a flat hull (its points span fewer dimensions, e.g. two features
equal on one class) is tested in its own affine span, and the LP remains the reference and the
last resort; in 1-D, hulls are intervals and everything is vectorised numpy.
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
    "distance",
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
        ov = np.minimum(maxs[i], maxs[j]) - np.maximum(mins[i], mins[j])
        shortest = np.minimum(maxs[i] - mins[i], maxs[j] - mins[j])
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
        out[cand] = _in_flat_hull(points[cand], hull_points, tol)
        return out
    eq = hull.equations
    out[cand] = np.all(points[cand] @ eq[:, :-1].T + eq[:, -1] <= tol, axis=1)
    return out


def _in_flat_hull(points: np.ndarray, hull_points: np.ndarray, tol: float) -> np.ndarray:
    """Point-in-hull for a hull that is not full-dimensional: points off its affine span are
    outside; the rest are tested in the span's own coordinates (the LP if Qhull still fails).
    """
    centre = hull_points.mean(axis=0)
    H = hull_points - centre
    _, sv, vt = np.linalg.svd(H, full_matrices=False)
    rank = int((sv > 1e-9 * max(float(sv[0]) if len(sv) else 0.0, 1.0)).sum())
    if rank >= hull_points.shape[1]:
        return in_hull_lp(points, hull_points, tol)
    Q = points - centre
    basis = vt[:rank]
    inside_span = np.linalg.norm(Q - (Q @ basis.T) @ basis, axis=1) <= tol
    out = np.zeros(len(points), dtype=bool)
    if not inside_span.any():
        return out
    if rank == 0:
        out[inside_span] = True
        return out
    Qp, Hp = Q[inside_span] @ basis.T, H @ basis.T
    if rank == 1:
        out[inside_span] = (Qp[:, 0] >= Hp[:, 0].min() - tol) & (Qp[:, 0] <= Hp[:, 0].max() + tol)
        return out
    out[inside_span] = in_hull(Qp, Hp, tol)
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


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    ab = b - a
    t = float(np.clip((p - a) @ ab / max(float(ab @ ab), 1e-300), 0.0, 1.0))
    return float(np.linalg.norm(p - (a + t * ab)))


def _polygon_vertices(P: np.ndarray) -> np.ndarray:
    hull = _hull(P)
    return P if hull is None else P[hull.vertices]


def distance(A: np.ndarray, B: np.ndarray) -> float:
    """Euclidean distance between conv(A) and conv(B) (0 when they intersect).

    1-D: the gap; 2-D: exact, vertex to edge; higher: a small QP (SLSQP) on the hull
    vertices. Callers check that the hulls do not intersect first.
    """
    A = np.asarray(A, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    d = A.shape[1]
    if d == 1:
        return float(max(B.min() - A.max(), A.min() - B.max(), 0.0))
    VA, VB = _polygon_vertices(A), _polygon_vertices(B)
    if d == 2:
        best = np.inf
        for V, W in ((VA, VB), (VB, VA)):
            edges = [(W[i], W[(i + 1) % len(W)]) for i in range(len(W))] if len(W) > 1 else [
                (W[0], W[0])]
            for p in V:
                for a, b in edges:
                    best = min(best, _segment_distance(p, a, b))
        return float(best)
    from scipy.optimize import minimize

    ha, hb = len(VA), len(VB)

    def f(x):
        r = VA.T @ x[:ha] - VB.T @ x[ha:]
        return float(r @ r), np.concatenate([2 * VA @ r, -2 * VB @ r])

    x0 = np.concatenate([np.full(ha, 1 / ha), np.full(hb, 1 / hb)])
    cons = [{"type": "eq", "fun": lambda x: x[:ha].sum() - 1.0},
            {"type": "eq", "fun": lambda x: x[ha:].sum() - 1.0}]
    res = minimize(f, x0, jac=True, method="SLSQP", bounds=[(0, None)] * (ha + hb),
                   constraints=cons, options={"ftol": 1e-14, "maxiter": 500})
    return float(np.sqrt(max(res.fun, 0.0)))


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
    raw = np.asarray(P, dtype=np.float64).reshape(len(codes), -1)
    if raw.shape[1] == 1:
        return float(interval_overlap(raw, codes, n_classes)[1][0])
    P = _scale(raw)
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
            terms.append(-distance(raw[codes == i], raw[codes == j]))
    return float(np.mean(terms)) if terms else 0.0
