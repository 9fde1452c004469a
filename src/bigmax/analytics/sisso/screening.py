"""Sure independence screening (SIS): scores and the streaming top-k.

The SIS score of a candidate feature is the absolute Pearson correlation between the feature and
the target. Against several targets (the residuals of the ``n_residual`` best models, SISSO++'s
refinement) it is the maximum over them.

Multi-task SISSO fits one coefficient per task, so a feature is good when it explains the
target *within* each task. :func:`pearson_score` with ``tasks`` scores

    s = sqrt( sum_t r_t**2 * SS_t / sum_t SS_t ),   SS_t = sum_{i in t} (y_i - mean_t(y))**2

where ``r_t`` is the Pearson correlation inside task ``t``. ``s**2`` is the fraction of the
within-task sum of squares that a one-feature, per-task linear fit explains (the R**2 of the
one-dimensional multi-task model), so the score ranks features exactly as the 1D multi-task fit
does; it is also the Fortran code's multi-task score (a quadratic mean of the per-task scores,
normalised by the target). A task whose feature values are constant contributes nothing.

The streaming top-k (:class:`TopK`) keeps the ``k`` best distinct candidates seen so far, so
memory stays O(k n) however many candidates stream past. Ties and duplicates are settled
deterministically: rank by score (descending), then complexity, then the postfix text; two
candidates whose values correlate with ``|r| >= 1 - 1e-10`` are one feature, and the simpler one
(complexity, then postfix text) is kept.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit

from bigmax.analytics.sisso.expression import Expression

__all__ = ["PearsonScore", "ScreenResult", "TopK", "pearson_score", "standardize"]

#: two features with |corr| at or above this are the same feature
DUPLICATE_CORR = 1.0 - 1e-10


class PearsonScore:
    """|Pearson r| of each candidate with the targets; the maximum over target columns.

    Call it on values of shape (n_samples, n_candidates). :class:`FeatureSpace` recognises it
    and scores inside its compiled generation loop instead of calling it.
    """

    def __init__(self, targets, tasks=None) -> None:
        y = np.asarray(targets, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] < 3:
            raise ValueError(
                f"targets must have shape (n_samples,) or (n_samples, n_targets) with at least "
                f"3 samples, got {np.shape(targets)}"
            )
        n = y.shape[0]
        bad = ~np.isfinite(y)
        if bad.any():
            col, row = np.argwhere(bad.T)[0]
            raise ValueError(f"targets column {col} has a non-finite value at row {row}")
        if tasks is None:
            task = np.zeros(n, dtype=np.int64)
            labels = [None]
        else:
            tasks = np.asarray(tasks)
            if tasks.shape != (n,):
                raise ValueError(f"tasks must have shape ({n},), got {tasks.shape}")
            labels, task = np.unique(tasks, return_inverse=True)
            task = task.astype(np.int64)
        n_tasks = len(labels)
        yc = y.copy()
        ss = np.zeros((y.shape[1], n_tasks))
        for t in range(n_tasks):
            rows = task == t
            yc[rows] -= yc[rows].mean(axis=0)
            ss[:, t] = (yc[rows] ** 2).sum(axis=0)
        sstot = ss.sum(axis=1)
        if np.any(sstot <= 0):
            col = int(np.flatnonzero(sstot <= 0)[0])
            raise ValueError(f"targets column {col} is constant (within every task)")
        if n_tasks == 1:
            # an orthonormal basis of the standardised targets: corr_r = sum_k c_k W[r, k] with
            # c_k = <basis_k, z>; |corr_r| is then bounded after a few c_k (see feature_space)
            yhat = yc.T / np.sqrt(sstot)[:, None]
            u, sv, vt = np.linalg.svd(yhat.T, full_matrices=False)
            q = max(1, int(np.sum(sv > 1e-12 * sv[0])))
            self.basis = np.ascontiguousarray(u[:, :q].T)
            self.weights = np.ascontiguousarray((sv[:q, None] * vt[:q]).T)
            # tail[r, m] = sqrt(sum_{k >= m} W[r, k]^2) bounds what m components miss
            w2 = self.weights**2
            self.tail = np.ascontiguousarray(
                np.sqrt(np.c_[np.cumsum(w2[:, ::-1], axis=1)[:, ::-1], np.zeros(len(w2))]))
        else:
            self.basis = np.zeros((1, n))
            self.weights = np.ones((y.shape[1], 1))
            self.tail = np.zeros((y.shape[1], 2))
        self.n_samples = n
        self.n_targets = y.shape[1]
        self.tasks = task
        self.task_labels = list(labels)
        self.n_tasks = n_tasks
        #: per-task centred targets, one row per target column
        self.yc = np.ascontiguousarray(yc.T)
        self.ss = np.ascontiguousarray(ss)
        self.sstot = sstot

    def kernel_args(self) -> tuple:
        """What the compiled screen needs: (basis, weights, tail, yc, tasks, n_tasks, sstot)."""
        return (self.basis, self.weights, self.tail, self.yc, self.tasks, self.n_tasks,
                self.sstot)

    def __call__(self, values) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None]
        if v.shape[0] != self.n_samples:
            raise ValueError(f"values must have {self.n_samples} rows, got {v.shape[0]}")
        vt = np.ascontiguousarray(v.T)
        out = np.empty(vt.shape[0])
        _score_rows(vt, self.yc, self.tasks, self.n_tasks, self.sstot, out)
        return out


def pearson_score(targets, tasks=None) -> PearsonScore:
    """The SIS score against ``targets`` (n,) or (n, r); see the module docstring for ``tasks``.

    >>> import numpy as np
    >>> y = np.array([1.0, 2.0, 4.0, 8.0])
    >>> s = pearson_score(y)
    >>> np.round(s(np.c_[y, -y, [1.0, 0.0, 1.0, 0.0]]), 6)
    array([1.      , 1.      , 0.466252])
    """
    return PearsonScore(targets, tasks)


@njit(nogil=True, cache=True, error_model="numpy")
def pearson_row(v, yc, task, n_tasks, sstot, mean_t, ss_t, cnt_t):
    """Score of one candidate's values ``v`` (finite, not constant)."""
    n = v.shape[0]
    for t in range(n_tasks):
        mean_t[t] = 0.0
        ss_t[t] = 0.0
        cnt_t[t] = 0.0
    for i in range(n):
        t = task[i]
        mean_t[t] += v[i]
        cnt_t[t] += 1.0
    for t in range(n_tasks):
        if cnt_t[t] > 0:
            mean_t[t] /= cnt_t[t]
    for i in range(n):
        d = v[i] - mean_t[task[i]]
        ss_t[task[i]] += d * d
    best = 0.0
    n_targets = yc.shape[0]
    if n_tasks == 1:
        ss = ss_t[0]
        if ss <= 0.0:
            return 0.0
        for r in range(n_targets):
            d = 0.0
            for i in range(n):
                d += v[i] * yc[r, i]
            s = abs(d) / np.sqrt(ss * sstot[r])
            if s > best:
                best = s
        return min(best, 1.0)
    for r in range(n_targets):
        for t in range(n_tasks):
            cnt_t[t] = 0.0  # reused as the per-task dot product
        for i in range(n):
            cnt_t[task[i]] += v[i] * yc[r, i]
        acc = 0.0
        for t in range(n_tasks):
            if ss_t[t] > 0.0:
                acc += cnt_t[t] * cnt_t[t] / ss_t[t]
        s = np.sqrt(acc / sstot[r])
        if s > best:
            best = s
    return min(best, 1.0)


@njit(nogil=True, cache=True, error_model="numpy")
def _score_rows(vt, yc, task, n_tasks, sstot, out):
    mean_t = np.empty(n_tasks)
    ss_t = np.empty(n_tasks)
    cnt_t = np.empty(n_tasks)
    for k in range(vt.shape[0]):
        v = vt[k]
        ok = True
        for i in range(v.shape[0]):
            if not np.isfinite(v[i]):
                ok = False
                break
        out[k] = pearson_row(v, yc, task, n_tasks, sstot, mean_t, ss_t, cnt_t) if ok else np.nan


def standardize(values: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (a zero row stays zero), for correlations."""
    z = np.atleast_2d(np.asarray(values, dtype=np.float64))
    z = z - z.mean(axis=1, keepdims=True)
    norm = np.sqrt((z * z).sum(axis=1, keepdims=True))
    return np.divide(z, norm, out=np.zeros_like(z), where=norm > 0)


@dataclass
class ScreenResult:
    """The selected features, best first."""

    values: np.ndarray  # (n_samples, k)
    expressions: list[Expression]
    scores: np.ndarray  # (k,)

    def __len__(self) -> int:
        return len(self.expressions)

    @property
    def rpns(self) -> list[str]:
        return [e.rpn for e in self.expressions]


class _Entry:
    __slots__ = ("score", "expr", "values", "row", "key")

    def __init__(self, score: float, expr: Expression, values: np.ndarray, row: int):
        self.score = score
        self.expr = expr
        self.values = values
        self.row = row  # its standardised values live in TopK._z[row]
        self.key = (-score, expr.complexity, expr.rpn)


class TopK:
    """The ``k`` best distinct candidates of a stream (see the module docstring).

    ``tol`` widens the admission threshold so that a duplicate scoring a hair below the k-th
    entry is still seen and can replace a less simple twin; it never changes which distinct
    features are kept. Each offer costs O(k n) (the duplicate check) plus O(k) list work.
    """

    def __init__(self, k: int, exclude: np.ndarray | None = None, tol: float = 1e-6,
                 score_window: float | None = None) -> None:
        if k < 1:
            raise ValueError(f"n_select must be at least 1, got {k}")
        self.k = int(k)
        self.tol = tol
        self.entries: list[_Entry] = []  # sorted by key
        self._z: np.ndarray | None = None  # (k + 1, n) standardised values; free rows are 0
        self._free: list[int] = []
        self._by_row: dict[int, _Entry] = {}
        self.exclude = exclude if exclude is not None and len(exclude) else None
        #: twins' scores differ by at most this, so only entries this close are compared
        #: (|Pearson| scores of twins with |corr| >= 1 - 1e-10 differ by <= sqrt(2e-10))
        self.score_window = score_window
        self.n_offered = 0

    @property
    def threshold(self) -> float:
        """Candidates scoring below this can no longer enter."""
        if len(self.entries) < self.k:
            return -np.inf
        return self.entries[self.k - 1].score - self.tol

    def offer(self, score: float, build: Callable[[], tuple[Expression, np.ndarray]]) -> None:
        """Consider one candidate; ``build`` gives its expression and values when needed."""
        if not score >= self.threshold:
            return
        self.n_offered += 1
        expr, values = build()
        z = values - values.mean()
        norm = np.sqrt(z @ z)
        if norm > 0:
            z /= norm
        if self.exclude is not None and np.any(np.abs(self.exclude @ z) >= DUPLICATE_CORR):
            return
        if self._z is None:
            self._z = np.zeros((self.k + 1, len(z)))
            self._free = list(range(self.k, -1, -1))
        elif self.entries:
            if self.score_window is None:
                rows = None
                corr = np.abs(self._z @ z)
            else:
                w = self.score_window
                lo = bisect.bisect_left(self.entries, (-(score + w),), key=lambda x: x.key)
                hi = bisect.bisect_right(self.entries, (-(score - w), np.inf), key=lambda x: x.key)
                rows = [e.row for e in self.entries[lo:hi]]
                corr = np.abs(self._z[rows] @ z) if rows else np.zeros(0)
            dup = np.flatnonzero(corr >= DUPLICATE_CORR)
            if dup.size:
                row = int(dup[0]) if rows is None else rows[int(dup[0])]
                old = self._by_row[row]
                if (expr.complexity, expr.rpn) < (old.expr.complexity, old.expr.rpn):
                    self._remove(old)
                    self._insert(score, expr, values, z)
                return
        self._insert(score, expr, values, z)
        if len(self.entries) > self.k:
            self._remove(self.entries[-1])

    def _insert(self, score, expr, values, z) -> None:
        row = self._free.pop()
        self._z[row] = z
        e = _Entry(score, expr, values, row)
        self._by_row[row] = e
        bisect.insort(self.entries, e, key=lambda x: x.key)

    def _remove(self, e: _Entry) -> None:
        i = bisect.bisect_left(self.entries, e.key, key=lambda x: x.key)
        while self.entries[i] is not e:
            i += 1
        del self.entries[i]
        self._z[e.row] = 0.0
        del self._by_row[e.row]
        self._free.append(e.row)

    def result(self) -> ScreenResult:
        n = len(self.entries[0].values) if self.entries else 0
        values = (np.array([e.values for e in self.entries]).T if self.entries
                  else np.empty((n, 0)))
        return ScreenResult(
            values=np.ascontiguousarray(values),
            expressions=[e.expr for e in self.entries],
            scores=np.array([e.score for e in self.entries]),
        )


def offer_block(
    top: TopK,
    scores: np.ndarray,
    build: Callable[[int], tuple[Expression, np.ndarray]],
) -> None:
    """Offer a block of scored candidates, best first, stopping once they cannot enter."""
    idx = np.flatnonzero(scores >= top.threshold)
    if idx.size == 0:
        return
    # best first; equal scores keep their generation order (any order gives the same result)
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    for i in idx:
        s = float(scores[i])
        if not s >= top.threshold:
            break
        top.offer(s, lambda i=i: build(int(i)))
