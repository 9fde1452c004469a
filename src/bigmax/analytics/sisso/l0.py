"""The SISSO sparsifying operator: an exhaustive l0 search over the SIS feature union.

Every ``n_dim``-subset of the union's columns is fitted by ordinary least squares with an
intercept. The data are centred and scaled once and the Gram matrix ``G = ZᵀZ`` (a correlation
matrix) and ``b = Zᵀy`` are precomputed, so a subset costs ``O(n_dim³)`` however many samples
there are. Subsets are enumerated in lexicographic order; the Cholesky factor of the fixed
prefix is updated incrementally (a Schur complement per level), so the inner loop over the
last index costs a few flops per subset.

The Gram stage only *pre-selects* candidates: the best ones are refitted exactly (QR least
squares on the raw data) and ranked by

1. the error (RMSE, or MaxAE with ``metric="maxae"``), rounded to 1e-10 of the target's
   standard deviation so that numerically equal fits tie;
2. the sum of the descriptors' complexities (fewer operators first);
3. the descriptors' canonical RPN strings, sorted and compared as text.

Work is split into blocks of first indices that depend only on the problem size, each block
keeps its own top list with a total order (score, then the index tuple), and the blocks are
merged in a fixed order, so ``n_jobs=1`` and ``n_jobs=2`` give identical results.

Multi-task SISSO (Ouyang et al., J. Phys.: Mater. 2, 024002 (2019)) fits each task with its
own coefficients and intercept on one shared descriptor. The loss is the task-averaged mean
squared error ``(1/T) Σ_t MSE_t`` (``task_weighting="equal"``, Fortran's default) or the
pooled one ``Σ_t SSE_t / N`` (``"size"``); the reported RMSE is its square root.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["L0Result", "l0_search", "fit_subset"]

# A column whose residual variance fraction, after projecting out the other columns of a
# subset, falls below this is treated as collinear and the subset is skipped.
SINGULAR_TOL = 1e-10
# Errors that agree to this fraction of the target's standard deviation count as ties.
TIE_DECIMALS = 10


class L0Error(ValueError):
    """Bad input to the l0 search."""


@dataclass(frozen=True)
class L0Result:
    """The best subsets, best first.

    Attributes
    ----------
    subsets : ndarray of shape (k, n_dim)
        Column indices into the union, ascending within each row.
    rmse, maxae : ndarray of shape (k,)
        Training errors of the exact refit (task-averaged for multi-task).
    coefs : ndarray of shape (k, n_tasks, n_dim)
    intercepts : ndarray of shape (k, n_tasks)
    task_rmse : ndarray of shape (k, n_tasks)
    tasks : ndarray
        The task labels in the order of the task axis (``[None]`` for one task).
    n_subsets : int
        How many subsets the search covered.
    """

    subsets: np.ndarray
    rmse: np.ndarray
    maxae: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    task_rmse: np.ndarray
    tasks: np.ndarray
    n_subsets: int


# -- numba kernels ----------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True)
def _worse(s1, idx1, s2, idx2):
    """True when (s1, idx1) ranks below (s2, idx2): lower score, then larger index tuple."""
    if s1 != s2:
        return s1 < s2
    for q in range(idx1.shape[0]):
        if idx1[q] != idx2[q]:
            return idx1[q] > idx2[q]
    return False


@numba.njit(cache=True, nogil=True)
def _find_worst(best_s, best_i, filled):
    w = 0
    for r in range(1, filled):
        if _worse(best_s[r], best_i[r], best_s[w], best_i[w]):
            w = r
    return w


@numba.njit(cache=True, nogil=True)
def _offer(score, cur, best_s, best_i, state):
    """Keep (score, cur) if it beats the worst kept; state = [filled, worst]."""
    k_keep = best_s.shape[0]
    filled = state[0]
    if filled < k_keep:
        best_s[filled] = score
        best_i[filled, :] = cur
        state[0] = filled + 1
        state[1] = _find_worst(best_s, best_i, filled + 1)
        return
    w = state[1]
    if _worse(best_s[w], best_i[w], score, cur):
        best_s[w] = score
        best_i[w, :] = cur
        state[1] = _find_worst(best_s, best_i, filled)


@numba.njit(cache=True, nogil=True)
def _l0_block(G, b, wt, n_dim, i0, i1, k_keep, tol):
    """Best ``k_keep`` subsets whose first index lies in [i0, i1).

    G (T, m, m) per-task correlation matrices (zero rows for columns constant in a task),
    b (T, m) correlations with the target, wt (T,) task weights. The score of a subset is
    Σ_t wt[t] R²_t; higher is better.
    """
    n_t = G.shape[0]
    m = G.shape[1]
    best_s = np.full(k_keep, -np.inf)
    best_i = np.zeros((k_keep, n_dim), dtype=np.int64)
    state = np.zeros(2, dtype=np.int64)
    cur = np.zeros(n_dim, dtype=np.int64)
    if n_dim == 1:
        for c in range(i0, i1):
            tot = 0.0
            ok = True
            for t in range(n_t):
                if G[t, c, c] <= tol:
                    ok = False
                    break
                tot += wt[t] * b[t, c] * b[t, c]
            if ok:
                cur[0] = c
                if state[0] < k_keep or tot >= best_s[state[1]]:
                    _offer(tot, cur, best_s, best_i, state)
        return best_s, best_i, state[0]

    n_pre = n_dim - 1  # prefix levels; the last one is fused with the scoring loop
    W = np.zeros((n_pre, n_t, m))
    S = np.zeros((n_dim, n_t, m))
    Tv = np.zeros((n_dim, n_t, m))
    E = np.zeros((n_dim, n_t))
    L = np.zeros((n_t, n_dim, n_dim))
    z = np.zeros((n_t, n_dim))
    inv_l = np.zeros(n_t)
    for t in range(n_t):
        for k in range(m):
            S[0, t, k] = G[t, k, k]
            Tv[0, t, k] = b[t, k]

    level = 0
    cur[0] = i0 - 1
    while level >= 0:
        # advance the index at this level
        c = cur[level] + 1
        top = m - (n_dim - level)  # largest admissible index at this level
        if level == 0:
            top = min(top, i1 - 1)
        if c > top:
            level -= 1
            continue
        cur[level] = c
        # include c at this level: Cholesky row, projections
        ok = True
        for t in range(n_t):
            s_c = S[level, t, c]
            if s_c <= tol:
                ok = False
                break
            lpp = math.sqrt(s_c)
            L[t, level, level] = lpp
            inv_l[t] = 1.0 / lpp
            for q in range(level):
                L[t, level, q] = W[q, t, c]
            z[t, level] = Tv[level, t, c] / lpp
            E[level + 1, t] = E[level, t] + z[t, level] * z[t, level]
        if not ok:
            continue
        if level < n_pre - 1:
            for t in range(n_t):
                il = inv_l[t]
                zl = z[t, level]
                for k in range(c + 1, m):
                    acc = G[t, c, k]
                    for q in range(level):
                        acc -= L[t, level, q] * W[q, t, k]
                    wk = acc * il
                    W[level, t, k] = wk
                    S[level + 1, t, k] = S[level, t, k] - wk * wk
                    Tv[level + 1, t, k] = Tv[level, t, k] - wk * zl
            level += 1
            cur[level] = c
            continue
        # last prefix level: score every last index k > c
        if n_t == 1:
            il = inv_l[0]
            zl = z[0, level]
            e0 = E[level + 1, 0]
            w0 = wt[0]
            for k in range(c + 1, m):
                acc = G[0, c, k]
                for q in range(level):
                    acc -= L[0, level, q] * W[q, 0, k]
                wk = acc * il
                s = S[level, 0, k] - wk * wk
                if s <= tol:
                    continue
                tt = Tv[level, 0, k] - wk * zl
                tot = w0 * (e0 + tt * tt / s)
                if state[0] < k_keep or tot >= best_s[state[1]]:
                    cur[n_dim - 1] = k
                    _offer(tot, cur, best_s, best_i, state)
        else:
            for k in range(c + 1, m):
                tot = 0.0
                good = True
                for t in range(n_t):
                    acc = G[t, c, k]
                    for q in range(level):
                        acc -= L[t, level, q] * W[q, t, k]
                    wk = acc * inv_l[t]
                    s = S[level, t, k] - wk * wk
                    if s <= tol:
                        good = False
                        break
                    tt = Tv[level, t, k] - wk * z[t, level]
                    tot += wt[t] * (E[level + 1, t] + tt * tt / s)
                if good and (state[0] < k_keep or tot >= best_s[state[1]]):
                    cur[n_dim - 1] = k
                    _offer(tot, cur, best_s, best_i, state)
    return best_s, best_i, state[0]


# -- Python side ------------------------------------------------------------------------------


def _plain(label):
    """A numpy scalar as its Python value, for readable messages."""
    return label.item() if isinstance(label, np.generic) else label


def _task_codes(tasks, n: int) -> tuple[np.ndarray, np.ndarray]:
    if tasks is None:
        return np.zeros(n, dtype=np.int64), np.array([None], dtype=object)
    tasks = np.asarray(tasks)
    if tasks.shape != (n,):
        raise L0Error(f"tasks: expected one label per sample ({n}), got shape {tasks.shape}")
    labels, codes = np.unique(tasks, return_inverse=True)
    return codes.astype(np.int64), labels


def _gram(D: np.ndarray, y: np.ndarray, codes: np.ndarray, n_tasks: int, weighting: str):
    """Per-task correlation matrices, target correlations and loss weights."""
    m = D.shape[1]
    G = np.zeros((n_tasks, m, m))
    b = np.zeros((n_tasks, m))
    wt = np.zeros(n_tasks)
    n_total = D.shape[0]
    for t in range(n_tasks):
        rows = codes == t
        Xt = D[rows]
        yt = y[rows]
        Xc = Xt - Xt.mean(axis=0)
        yc = yt - yt.mean()
        norms = np.sqrt(np.einsum("ij,ij->j", Xc, Xc))
        scale = np.maximum(np.abs(Xt).max(axis=0), np.finfo(float).tiny)
        const = norms <= 1e-12 * scale * math.sqrt(len(yt))
        Z = np.divide(Xc, norms, out=np.zeros_like(Xc), where=~const)
        G[t] = Z.T @ Z
        yy = float(yc @ yc)
        if yy > 0:
            b[t] = Z.T @ yc / math.sqrt(yy)
        # mean-squared-error weight of this task's (1 - R²)
        wt[t] = yy / len(yt) / n_tasks if weighting == "equal" else yy / n_total
    return G, b, wt


def _blocks(m: int, n_dim: int, n_blocks: int) -> list[tuple[int, int, float]]:
    """Contiguous ranges of first indices with about equal work; they depend only on m, n_dim."""
    firsts = np.arange(m - n_dim + 1)
    work = np.array([math.comb(m - 1 - i, n_dim - 1) for i in firsts], dtype=float)
    total = work.sum()
    if total == 0:
        return []
    cuts = np.searchsorted(np.cumsum(work), total * np.arange(1, n_blocks) / n_blocks)
    edges = np.unique(np.concatenate([[0], cuts + 1, [len(firsts)]]).clip(0, len(firsts)))
    return [
        (int(a), int(c), float(work[a:c].sum()))
        for a, c in zip(edges[:-1], edges[1:], strict=True)
        if c > a
    ]


def fit_subset(D: np.ndarray, y: np.ndarray, codes: np.ndarray, n_tasks: int):
    """Exact per-task OLS with intercept on the columns of D.

    Returns (coefs (T, d), intercepts (T,), residuals (n,), task_mse (T,)).
    """
    n, d = D.shape
    coefs = np.zeros((n_tasks, d))
    intercepts = np.zeros(n_tasks)
    resid = np.zeros(n)
    task_mse = np.zeros(n_tasks)
    for t in range(n_tasks):
        rows = codes == t
        Xt, yt = D[rows], y[rows]
        # centre and scale the columns first: features may differ by many orders of magnitude
        # (1e-29 m^3 next to 1e3), which lstsq's rank cut-off would otherwise drop
        mean = Xt.mean(axis=0)
        scale = np.sqrt(((Xt - mean) ** 2).mean(axis=0))
        scale[scale == 0] = 1.0
        ym = yt.mean()
        A = (Xt - mean) / scale
        sol, *_ = np.linalg.lstsq(A, yt - ym, rcond=None)
        coefs[t] = sol / scale
        intercepts[t] = ym - float(coefs[t] @ mean)
        r = (yt - ym) - A @ sol
        resid[rows] = r
        task_mse[t] = float(r @ r) / len(r)
    return coefs, intercepts, resid, task_mse


def l0_search(
    D: np.ndarray,
    y: np.ndarray,
    n_dim: int,
    *,
    n_models: int = 1,
    tasks: Sequence | np.ndarray | None = None,
    metric: str = "rmse",
    complexity: Sequence[int] | np.ndarray | None = None,
    keys: Sequence[str] | None = None,
    task_weighting: str = "equal",
    n_jobs: int = 1,
    backend: str = "threads",
    progress: Callable[[float], None] | None = None,
) -> L0Result:
    """Exhaustive l0 search: the best ``n_models`` OLS models on ``n_dim`` columns of ``D``.

    Parameters
    ----------
    D : ndarray of shape (n_samples, m)
        The feature union (raw values).
    y : ndarray of shape (n_samples,)
    n_dim : int
        Columns per model.
    n_models : int, default=1
        How many models to return, best first.
    tasks : array-like of shape (n_samples,), optional
        Task labels for multi-task SISSO; each task gets its own coefficients.
    metric : {"rmse", "maxae"}, default="rmse"
        Ranking error. MaxAE is evaluated on the ``max(100, 10·n_models)`` best subsets by RMSE
        (as the Gram matrix cannot give a maximum error).
    complexity, keys : per-column complexity and canonical text, used for tie-breaks.
    task_weighting : {"equal", "size"}, default="equal"
        Average the per-task MSE ("equal") or pool the squared errors ("size").
    n_jobs : int, default=1
        Threads (the numba kernel releases the GIL). Results do not depend on it.
    backend : {"threads", "dask"}, default="threads"
        "dask" submits the blocks to the current dask scheduler (needs dask installed).
    progress : callable, optional
        Called with the fraction of subsets done, from the calling thread.

    Notes
    -----
    Memory: ``n_tasks·m²`` floats for the Gram matrices (72 MB at m = 3000) plus
    ``O(n_dim·m)`` per thread.
    """
    D = np.ascontiguousarray(D, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    if D.ndim != 2:
        raise L0Error(f"D: expected a 2-D matrix, got {D.ndim} dimensions")
    n, m = D.shape
    if y.shape[0] != n:
        raise L0Error(f"y: expected {n} values, got {y.shape[0]}")
    if not (isinstance(n_dim, int | np.integer) and 1 <= n_dim <= m):
        raise L0Error(f"n_dim: expected an integer in [1, {m}] (the union size), got {n_dim!r}")
    if metric not in ("rmse", "maxae"):
        raise L0Error(f"metric: expected 'rmse' or 'maxae', got {metric!r}")
    if task_weighting not in ("equal", "size"):
        raise L0Error(f"task_weighting: expected 'equal' or 'size', got {task_weighting!r}")
    if backend not in ("threads", "dask"):
        raise L0Error(f"backend: expected 'threads' or 'dask', got {backend!r}")
    if not (np.isfinite(D).all() and np.isfinite(y).all()):
        raise L0Error("D and y must be finite")
    codes, labels = _task_codes(tasks, n)
    n_tasks = len(labels)
    counts = np.bincount(codes, minlength=n_tasks)
    if counts.min() < n_dim + 1:
        t = int(np.argmin(counts))
        raise L0Error(
            f"too few samples: task {_plain(labels[t])!r} has {counts[t]}, a {n_dim}-D model "
            f"with an intercept needs at least {n_dim + 1}"
        )
    complexity = np.zeros(m, dtype=np.int64) if complexity is None else np.asarray(complexity)
    keys = [f"{j:08d}" for j in range(m)] if keys is None else list(keys)
    if len(complexity) != m or len(keys) != m:
        raise L0Error("complexity and keys need one entry per column of D")

    G, b, wt = _gram(D, y, codes, n_tasks, task_weighting)
    k_keep = max(2 * n_models, n_models + 20)
    if metric == "maxae":
        k_keep = max(k_keep, 100, 10 * n_models)
    n_subsets = math.comb(m, n_dim)
    k_keep = min(k_keep, n_subsets)
    blocks = _blocks(m, n_dim, max(8, 16 * max(1, n_jobs)) if n_dim > 1 else 1)
    total_work = sum(w for *_, w in blocks) or 1.0

    def run(block):
        i0, i1, _ = block
        return _l0_block(G, b, wt, n_dim, i0, i1, k_keep, SINGULAR_TOL)

    results: list = [None] * len(blocks)
    if backend == "dask":
        try:
            import dask
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise L0Error("backend='dask' needs dask: pip install dask") from err
        tasks_d = [dask.delayed(_l0_block)(G, b, wt, n_dim, i0, i1, k_keep, SINGULAR_TOL)
                   for i0, i1, _ in blocks]
        results = list(dask.compute(*tasks_d))
        if progress:
            progress(1.0)
    elif n_jobs <= 1 or len(blocks) == 1:
        done = 0.0
        for j, block in enumerate(blocks):
            results[j] = run(block)
            done += block[2]
            if progress:
                progress(done / total_work)
    else:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            futures = [pool.submit(run, block) for block in blocks]
            done = 0.0
            for j, fut in enumerate(futures):
                results[j] = fut.result()
                done += blocks[j][2]
                if progress:
                    progress(done / total_work)

    scores = np.concatenate([r[0][: r[2]] for r in results]) if results else np.empty(0)
    subs = (
        np.concatenate([r[1][: r[2]] for r in results])
        if results
        else np.empty((0, n_dim), dtype=np.int64)
    )
    if len(scores) == 0:
        raise L0Error(f"no {n_dim}-column subset of the union has linearly independent columns")
    order = np.lexsort(tuple(subs[:, q] for q in range(n_dim - 1, -1, -1)) + (-scores,))
    subs = subs[order[:k_keep]]
    return _refit_and_rank(D, y, codes, labels, subs, n_models, metric, complexity, keys,
                           task_weighting, n_subsets)


def _refit_and_rank(D, y, codes, labels, subs, n_models, metric, complexity, keys,
                    task_weighting, n_subsets) -> L0Result:
    n_tasks = len(labels)
    counts = np.bincount(codes, minlength=n_tasks).astype(float)
    rows = []
    for sub in subs:
        coefs, icpt, resid, task_mse = fit_subset(D[:, sub], y, codes, n_tasks)
        if task_weighting == "equal":
            mse = float(task_mse.mean())
        else:
            mse = float((task_mse * counts).sum() / counts.sum())
        rows.append((sub, math.sqrt(mse), float(np.abs(resid).max()), coefs, icpt,
                     np.sqrt(task_mse)))
    scale = float(np.std(y)) or 1.0
    err_ix = 1 if metric == "rmse" else 2

    def key(row):
        sub = row[0]
        return (
            round(row[err_ix] / scale, TIE_DECIMALS),
            int(sum(int(complexity[j]) for j in sub)),
            tuple(sorted(keys[j] for j in sub)),
            tuple(int(j) for j in sub),
        )

    rows.sort(key=key)
    rows = rows[:n_models]
    return L0Result(
        subsets=np.array([r[0] for r in rows], dtype=np.int64),
        rmse=np.array([r[1] for r in rows]),
        maxae=np.array([r[2] for r in rows]),
        coefs=np.array([r[3] for r in rows]),
        intercepts=np.array([r[4] for r in rows]),
        task_rmse=np.array([r[5] for r in rows]),
        tasks=labels,
        n_subsets=n_subsets,
    )
