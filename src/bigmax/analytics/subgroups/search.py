"""Search strategies: exhaustive branch and bound, best-first, beam, and brute force.

All strategies rank subgroups by one total order: higher quality first, then fewer selectors,
then the selector ids in lexicographic order. Branch and bound prunes a branch only when its
optimistic estimate is *strictly* below the k-th best quality, so the exact top-k under that
order comes out whatever order the branches run in: ``n_jobs=1`` and ``n_jobs=2`` agree.

Two engines run the exhaustive search:

- the general engine walks the search tree depth first; each node computes all its children at
  once from packed bitsets (compiled), and calls the quality once per node on the batch;
- the matrix engine serves qualities that are a sum of per-sample weights with an estimate of
  the same form (impact, WRAcc): one symmetric rank-k product (BLAS ``syrk``) over a node's
  rows gives the quality and the estimate of every conjunction two selectors deeper. Its
  floating-point sums are used with a rigorous error margin, and the final top-k is
  recomputed by the general engine's exact per-subgroup code.
"""

from __future__ import annotations

import bisect
import heapq
import inspect
import itertools
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bigmax.analytics.subgroups import _kernels as K
from bigmax.analytics.subgroups.quality import Quality, SubgroupStats
from bigmax.analytics.subgroups.selectors import SubgroupInputError

__all__ = ["Candidate", "Problem", "SearchResult", "brute_force", "run_search"]

Progress = Callable[[int, int], None]


@dataclass
class Problem:
    """One search: the target sorted ascending, the selector covers in that order, the quality."""

    y: np.ndarray
    covers: np.ndarray
    bits: np.ndarray
    quality: Quality
    depth: int
    top_k: int
    min_count: int = 1
    closed: bool = True
    full: np.ndarray = field(init=False)
    counts1: np.ndarray = field(init=False)
    pop: SubgroupStats = field(init=False)

    def __post_init__(self) -> None:
        n = len(self.y)
        self.full = K.full_bits(n)
        self.counts1 = self.covers.sum(axis=0).astype(np.int64)
        self.pop = SubgroupStats.population(self.y)

    @classmethod
    def build(
        cls,
        y: np.ndarray,
        covers: np.ndarray,
        quality: Quality,
        depth: int = 2,
        top_k: int = 10,
        min_count: int = 1,
        closed: bool = True,
    ) -> tuple[Problem, np.ndarray]:
        """A problem from targets and bool covers in data order; also the sort permutation."""
        y = np.asarray(y, dtype=np.float64)
        order = np.argsort(y, kind="stable")
        ys = y[order]
        cov = np.ascontiguousarray(np.asarray(covers, dtype=bool)[order])
        bound = quality.bind(ys, min_count=min_count)
        return (
            cls(ys, cov, K.pack_bits(cov), bound, depth, top_k, max(int(min_count), 1), closed),
            order,
        )

    @property
    def n_selectors(self) -> int:
        return self.covers.shape[1]

    def stats_of(self, conjs: list[tuple[int, ...]]) -> SubgroupStats:
        """Exact statistics of the given conjunctions (selector id tuples)."""
        words = K.conj_words(self.bits, _sets(conjs), self.full)
        counts = K.conj_counts(self.bits, _sets(conjs), self.full)
        pos, off = K.words_positions(words, counts)
        return SubgroupStats.from_positions(self.y, pos, off)

    def quality_of(self, stats: SubgroupStats, threshold: float = -np.inf) -> np.ndarray:
        """Qualities; a quality taking ``threshold`` may return any value below it for
        subgroups that cannot reach it (it skips their exact computation)."""
        if threshold > -np.inf and _takes_threshold(self.quality.__call__):
            return np.asarray(self.quality(stats, self.pop, threshold=threshold), np.float64)
        return np.asarray(self.quality(stats, self.pop), dtype=np.float64)

    def estimate_of(self, stats: SubgroupStats, threshold: float) -> np.ndarray | None:
        oe = getattr(self.quality, "optimistic_estimate", None)
        if oe is None:
            return None
        if _takes_threshold(oe):
            return np.asarray(oe(stats, self.pop, threshold=threshold), dtype=np.float64)
        return np.asarray(oe(stats, self.pop), dtype=np.float64)


def _takes_threshold(func) -> bool:
    try:
        return "threshold" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _sets(conjs: list[tuple[int, ...]]) -> np.ndarray:
    width = max((len(c) for c in conjs), default=1) or 1
    out = np.full((len(conjs), width), -1, dtype=np.int64)
    for i, c in enumerate(conjs):
        out[i, : len(c)] = c
    return out


@dataclass(frozen=True)
class Candidate:
    """One subgroup found: its selector ids (ascending), quality and size."""

    conj: tuple[int, ...]
    quality: float
    count: int

    @property
    def key(self) -> tuple:
        return (-self.quality, len(self.conj), self.conj)


class TopK:
    """The k best candidates under the total order; thread safe."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.items: list[tuple[tuple, Candidate]] = []
        self.members: set[tuple[int, ...]] = set()
        self.lock = threading.Lock()
        self.evaluated = 0

    @property
    def threshold(self) -> float:
        return self.items[-1][1].quality if len(self.items) >= self.k else -np.inf

    def _select(self, quality: np.ndarray) -> np.ndarray:
        """Indices of a batch that could enter the top-k (a vectorised prefilter)."""
        q = np.asarray(quality, dtype=np.float64)
        sel = np.flatnonzero(np.isfinite(q) & (q >= self.threshold))
        if len(sel) > self.k:
            kth = np.partition(q[sel], len(sel) - self.k)[len(sel) - self.k]
            sel = sel[q[sel] >= kth]
        return sel

    def offer(self, quality: np.ndarray, conjs: list[tuple[int, ...]], counts: np.ndarray) -> None:
        """Offer a batch of candidates (quality, selector ids, cover size)."""
        self.offer_children(quality, counts, lambda i: conjs[i])

    def offer_children(self, quality, counts, conj_of: Callable[[int], tuple[int, ...]]) -> None:
        """Offer a batch whose selector ids ``conj_of(i)`` are built only when needed."""
        with self.lock:
            self.evaluated += len(counts)
            for i in self._select(quality):
                cand = Candidate(tuple(int(c) for c in conj_of(int(i))), float(quality[i]),
                                 int(counts[i]))
                entry = (cand.key, cand)
                if len(self.items) >= self.k and entry[0] >= self.items[-1][0]:
                    continue
                if cand.conj in self.members:
                    continue
                bisect.insort(self.items, entry, key=lambda e: e[0])
                self.members.add(cand.conj)
                for _, dropped in self.items[self.k :]:
                    self.members.discard(dropped.conj)
                del self.items[self.k :]

    def result(self) -> list[Candidate]:
        return [c for _, c in self.items]


@dataclass
class SearchResult:
    """The top-k candidates, best first, and how much work the search did."""

    candidates: list[Candidate]
    evaluated: int
    engine: str


# -- the general engine --------------------------------------------------------------------


@dataclass
class _Children:
    ids: np.ndarray
    counts: np.ndarray
    words: np.ndarray
    stats: SubgroupStats | None
    quality: np.ndarray
    estimate: np.ndarray | None


def _expand(
    problem: Problem,
    conj: tuple[int, ...],
    parent: np.ndarray,
    parent_count: int,
    cands: np.ndarray,
    need_estimate: bool,
    topk: TopK | None,
    exact: bool = False,
) -> _Children:
    """Evaluate ``conj AND c`` for every candidate selector c at once.

    The children are offered to ``topk`` before their estimates are computed, so the
    estimates can stop early against an up-to-date threshold. Unless ``exact``, a quality may
    skip the exact value of a child that cannot reach the top-k (beam search needs them all).
    """
    counts = K.child_counts(problem.bits, parent, cands)
    keep = counts >= problem.min_count
    if problem.closed:
        keep &= counts < parent_count
    ids = cands[keep]
    counts = counts[keep]
    if problem.closed and len(ids) and len(conj):
        sets = np.empty((len(ids), len(conj) + 1), dtype=np.int64)
        sets[:, : len(conj)] = conj
        sets[:, -1] = ids
        red = K.redundant(problem.bits, sets, counts, problem.full)
        ids = ids[~red]
        counts = counts[~red]
    if len(ids) == 0:
        empty = np.empty(0)
        return _Children(ids, counts, np.empty((0, len(parent)), np.uint64), None, empty, empty)
    words = K.children_words(problem.bits, parent, ids)
    pos, off = K.words_positions(words, counts)
    stats = SubgroupStats.from_positions(problem.y, pos, off)
    lazy = topk is not None and not exact
    quality = problem.quality_of(stats, topk.threshold if lazy else -np.inf)
    threshold = -np.inf
    if topk is not None:
        topk.offer_children(quality, counts, lambda i: tuple(sorted((*conj, int(ids[i])))))
        threshold = topk.threshold
    estimate = problem.estimate_of(stats, threshold) if need_estimate else None
    if need_estimate and estimate is None:
        estimate = np.full(len(ids), np.inf)
    return _Children(ids, counts, words, stats, quality, estimate)


def _conjs(conj: tuple[int, ...], ids: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(sorted((*conj, int(i)))) for i in ids]


def _root(problem: Problem, topk: TopK) -> tuple[_Children, np.ndarray, np.ndarray]:
    """The single selectors, and the selector order for canonical enumeration.

    Selectors are ordered by their estimate, ascending; a selector's children are the
    selectors after it, so the broad, promising ones (last) have few children. The order
    changes the work, never the result.
    """
    m = problem.n_selectors
    root = _expand(problem, (), problem.full, len(problem.y), np.arange(m), problem.depth > 1,
                   topk)
    est = np.full(m, -np.inf)
    if root.estimate is not None and len(root.ids):
        est[root.ids] = root.estimate
    order = np.lexsort((np.arange(m), est))
    rank = np.empty_like(order)
    rank[order] = np.arange(m)
    return root, order, rank


def _warm_start(problem: Problem, topk: TopK, root: _Children, width: int = 4) -> None:
    """Refine the best few single selectors by every selector, to raise the threshold early.

    These are ordinary candidates, offered like any other; the exact search that follows
    is unaffected except in how much it can prune.
    """
    if problem.depth < 2 or len(root.ids) == 0:
        return
    best = np.lexsort((root.ids, -root.quality))[:width]
    for j in best:
        c = int(root.ids[j])
        others = np.setdiff1d(np.arange(problem.n_selectors), [c])
        _expand(problem, (c,), root.words[j], int(root.counts[j]), others, False, topk)


def _dfs(
    problem: Problem,
    topk: TopK,
    order: np.ndarray,
    rank: np.ndarray,
    conj: tuple[int, ...],
    words: np.ndarray,
    count: int,
    last_rank: int,
) -> None:
    cands = order[last_rank + 1 :]
    if len(cands) == 0:
        return
    deeper = len(conj) + 1 < problem.depth
    ch = _expand(problem, conj, words, count, cands, deeper, topk)
    if len(ch.ids) == 0 or not deeper:
        return
    for j in np.argsort(-ch.estimate, kind="stable"):
        if ch.estimate[j] < topk.threshold:
            continue
        c = int(ch.ids[j])
        _dfs(problem, topk, order, rank, tuple(sorted((*conj, c))), ch.words[j],
             int(ch.counts[j]), int(rank[c]))


def _bnb_general(problem: Problem, n_jobs: int, progress: Progress | None) -> SearchResult:
    if getattr(problem.quality, "optimistic_estimate", None) is None:
        warnings.warn(
            f"quality {problem.quality.name!r} has no optimistic estimate: the exhaustive search "
            "cannot prune and enumerates every conjunction",
            UserWarning,
            stacklevel=4,
        )
    topk = TopK(problem.top_k)
    root, order, rank = _root(problem, topk)
    if problem.depth == 1 or len(root.ids) == 0:
        return SearchResult(topk.result(), topk.evaluated, "general")
    _warm_start(problem, topk, root)
    # most promising branches first: they raise the threshold early
    branches = sorted(range(len(root.ids)), key=lambda j: (-root.estimate[j], int(root.ids[j])))
    done = [0]
    lock = threading.Lock()

    def run(j: int) -> None:
        if root.estimate[j] >= topk.threshold:
            c = int(root.ids[j])
            _dfs(problem, topk, order, rank, (c,), root.words[j], int(root.counts[j]),
                 int(rank[c]))
        if progress is not None:
            with lock:
                done[0] += 1
                progress(done[0], len(branches))

    if n_jobs == 1:
        for j in branches:
            run(j)
    else:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            list(pool.map(run, branches))
    return SearchResult(topk.result(), topk.evaluated, "general")


def _best_first(problem: Problem, progress: Progress | None) -> SearchResult:
    topk = TopK(problem.top_k)
    heap: list = []
    tick = itertools.count()
    root, order, rank = _root(problem, topk)
    _warm_start(problem, topk, root)
    if problem.depth > 1:
        for j, c in enumerate(root.ids):
            heapq.heappush(heap, (-root.estimate[j], next(tick), (int(c),), root.words[j],
                                  int(root.counts[j])))
    expanded = 0
    while heap:
        neg, _, conj, words, count = heapq.heappop(heap)
        if -neg < topk.threshold:
            break
        last = max(int(rank[c]) for c in conj)
        deeper = len(conj) + 1 < problem.depth
        ch = _expand(problem, conj, words, count, order[last + 1 :], deeper, topk)
        expanded += 1
        if progress is not None and expanded % 64 == 0:
            progress(expanded, expanded + len(heap))
        if len(ch.ids) and deeper:
            for j, c in enumerate(ch.ids):
                if ch.estimate[j] >= topk.threshold:
                    heapq.heappush(heap, (-ch.estimate[j], next(tick),
                                          tuple(sorted((*conj, int(c)))), ch.words[j],
                                          int(ch.counts[j])))
    return SearchResult(topk.result(), topk.evaluated, "best-first")


def _beam(problem: Problem, width: int, n_jobs: int, progress: Progress | None) -> SearchResult:
    """Level-wise beam search: keep the ``width`` best conjunctions, refine each by any selector."""
    topk = TopK(problem.top_k)
    all_ids = np.arange(problem.n_selectors)
    root = _expand(problem, (), problem.full, len(problem.y), all_ids, False, topk, exact=True)
    conjs = _conjs((), root.ids)
    beam = sorted(
        zip(conjs, root.quality, root.words, root.counts, strict=True),
        key=lambda e: (-e[1], e[0]),
    )[:width]
    seen = {c for c, *_ in beam}
    expanded: set[tuple[int, ...]] = set()
    for level in range(2, problem.depth + 1):
        todo = [e for e in beam if e[0] not in expanded and len(e[0]) == level - 1]
        if not todo:
            break

        def refine(entry):
            conj, _, words, count = entry
            cands = np.setdiff1d(all_ids, conj)
            return conj, _expand(problem, conj, words, count, cands, False, topk, exact=True)

        if n_jobs == 1:
            results = [refine(e) for e in todo]
        else:
            with ThreadPoolExecutor(max_workers=n_jobs) as pool:
                results = list(pool.map(refine, todo))
        new = []
        for conj, ch in results:
            expanded.add(conj)
            if len(ch.ids) == 0:
                continue
            child_conjs = _conjs(conj, ch.ids)
            for j, cc in enumerate(child_conjs):
                if cc not in seen:
                    seen.add(cc)
                    new.append((cc, float(ch.quality[j]), ch.words[j], int(ch.counts[j])))
        beam = sorted(beam + new, key=lambda e: (-e[1], len(e[0]), e[0]))[:width]
        if progress is not None:
            progress(level, problem.depth)
    return SearchResult(topk.result(), topk.evaluated, "beam")


# -- the matrix engine ---------------------------------------------------------------------


class _Pool:
    """Candidates whose approximate quality may still reach the exact top-k."""

    def __init__(self, k: int, margin: float) -> None:
        self.k = k
        self.margin = margin
        self.q = np.empty(0)
        self.conjs: list[tuple[int, ...]] = []
        self.evaluated = 0

    @property
    def kth(self) -> float:
        if len(self.q) < self.k:
            return -np.inf
        return float(np.partition(self.q, len(self.q) - self.k)[len(self.q) - self.k])

    @property
    def prune_below(self) -> float:
        """Estimates below this cannot reach the exact top-k (4 margins: see module doc)."""
        return self.kth - 4 * self.margin

    def offer(self, q: np.ndarray, conjs: list[tuple[int, ...]]) -> None:
        self.evaluated += len(conjs)
        if not len(conjs):
            return
        self.q = np.concatenate([self.q, q])
        self.conjs.extend(conjs)
        if len(self.q) > 4 * self.k + 64:
            keep = np.flatnonzero(self.q >= self.prune_below)
            self.q = self.q[keep]
            self.conjs = [self.conjs[i] for i in keep]


def _gram(B: np.ndarray, select: np.ndarray) -> np.ndarray | None:
    """Upper triangle of B[select]^T B[select] by BLAS syrk (a slice when rows are contiguous)."""
    from scipy.linalg.blas import dsyrk

    idx = np.flatnonzero(select)
    if len(idx) == 0:
        return None
    if idx[-1] - idx[0] + 1 == len(idx):
        part = B[idx[0] : idx[-1] + 1]
    else:
        part = B[idx]
    return dsyrk(1.0, part.T)


def _weighted_gram(covers, rows, J, w) -> np.ndarray:
    """Upper triangle of sum over rows of w_r s_r s_r^T (rows split by the sign of w)."""
    B = K.weighted_block(covers, rows, J, np.sqrt(np.abs(w)))
    wr = w[rows]
    G = np.zeros((len(J), len(J)))
    pos = _gram(B, wr > 0)
    neg = _gram(B, wr < 0)
    if pos is not None:
        G += pos
    if neg is not None:
        G -= neg
    return G


def _bnb_matrix(problem: Problem, weights, n_jobs: int, progress: Progress | None):
    from threadpoolctl import threadpool_limits

    wq, woe = weights
    n, m = problem.covers.shape
    eps = np.finfo(np.float64).eps
    margin = 4.0 * n * eps * float(np.abs(wq).sum() + woe.sum()) + 1e-300
    pool = _Pool(problem.top_k, margin)
    depth = problem.depth
    covers = problem.covers
    q1 = wq @ covers
    oe1 = woe @ covers
    # impact and friends: the estimate's weights are the positive part of the quality's, so
    # one pass gives both (syrk over the positive rows is the estimate)
    fused = bool(np.array_equal(woe, np.maximum(wq, 0.0)))
    sqrt_w = np.sqrt(np.abs(wq))
    counts1 = problem.counts1
    valid = counts1 >= problem.min_count
    if problem.closed:
        valid &= counts1 < n
    ids1 = np.flatnonzero(valid)
    pool.offer(q1[ids1], [(int(i),) for i in ids1])

    def offer_pairs(node, J, G, sel_i, sel_j):
        """Offer ``node + J[i] + J[j]`` for index pairs whose approx quality may count."""
        ok = G[sel_i, sel_j] >= pool.prune_below
        sel_i, sel_j = sel_i[ok], sel_j[ok]
        if not len(sel_i):
            return
        conjs = [tuple(sorted((*node, int(J[a]), int(J[b])))) for a, b in
                 zip(sel_i, sel_j, strict=True)]
        sets = _sets(conjs)
        counts = K.conj_counts(problem.bits, sets, problem.full)
        keep = counts >= problem.min_count
        if problem.closed and keep.any():
            red = K.redundant(problem.bits, sets[keep], counts[keep], problem.full)
            keep[np.flatnonzero(keep)[red]] = False
        idx = np.flatnonzero(keep)
        pool.evaluated += len(sel_i) - len(idx)
        pool.offer(G[sel_i[idx], sel_j[idx]], [conjs[i] for i in idx])

    def viable_children(node, J, Goe, i):
        """Indices j > i with ``node + J[i] + J[j]`` worth expanding (count, closed, estimate)."""
        js = np.arange(i + 1, len(J))
        js = js[Goe[i, js] >= pool.prune_below]
        if not len(js):
            return js
        base = tuple(sorted((*node, int(J[i]))))
        conjs = [tuple(sorted((*base, int(J[j])))) for j in js]
        sets = _sets(conjs)
        counts = K.conj_counts(problem.bits, sets, problem.full)
        keep = counts >= problem.min_count
        if problem.closed and keep.any():
            red = K.redundant(problem.bits, sets[keep], counts[keep], problem.full)
            keep[np.flatnonzero(keep)[red]] = False
        return js[keep]

    def expand2(node: tuple[int, ...], rows: np.ndarray, J: np.ndarray, report=None) -> None:
        """Quality of node + 2 selectors from J, and the deeper recursion, from one syrk."""
        if fused:
            B = K.weighted_block(covers, rows, J, sqrt_w)
            wr = wq[rows]
            Gpos = _gram(B, wr > 0)
            Gneg = _gram(B, wr < 0)
            Goe = Gpos if Gpos is not None else np.zeros((len(J), len(J)))
            G = Goe - Gneg if Gneg is not None else Goe
        else:
            G = _weighted_gram(covers, rows, J, wq)
            Goe = _weighted_gram(covers, rows, J, woe) if len(node) + 3 <= depth else None
        iu, ju = np.triu_indices(len(J), 1)
        offer_pairs(node, J, G, iu, ju)
        if len(node) + 3 > depth:
            return
        order_i = np.argsort(-np.diag(Goe), kind="stable")
        for step, i in enumerate(order_i):
            if report is not None:
                report(step + 1, len(order_i))
            if Goe[i, i] < pool.prune_below:
                continue
            js = viable_children(node, J, Goe, i)
            if len(js) < 2:
                continue
            child = tuple(sorted((*node, int(J[i]))))
            expand2(child, rows[covers[rows, J[i]]], J[js])

    with threadpool_limits(limits=n_jobs, user_api="blas"):
        if depth >= 2:
            keep1 = valid & (oe1 >= pool.prune_below)
            J = np.flatnonzero(keep1)
            J = J[np.lexsort((J, oe1[J]))]
            expand2((), np.arange(n), J, report=progress)
            if progress is not None and depth == 2:
                progress(1, 1)
    # exact top-k: recompute the pool with the general engine's per-subgroup code
    cut = pool.prune_below
    keep = np.flatnonzero(pool.q >= cut)
    conjs = [pool.conjs[i] for i in keep]
    topk = TopK(problem.top_k)
    for start in range(0, len(conjs), 4096):
        chunk = conjs[start : start + 4096]
        stats = problem.stats_of(chunk)
        topk.offer(problem.quality_of(stats), chunk, stats.count)
    return SearchResult(topk.result(), pool.evaluated, "matrix")


# -- entry points --------------------------------------------------------------------------


def run_search(
    problem: Problem,
    search: str = "bnb",
    beam_width: int = 20,
    n_jobs: int = 1,
    progress: Progress | None = None,
    engine: str = "auto",
) -> SearchResult:
    """Run one search; ``engine`` ("auto", "general", "matrix") picks the exhaustive engine."""
    if search == "bnb":
        weights = problem.quality.linear_weights()
        use_matrix = engine == "matrix" or (engine == "auto" and weights is not None and
                                            problem.covers.size <= 200_000_000)
        if use_matrix:
            if weights is None:
                raise SubgroupInputError(
                    f"quality {problem.quality.name!r} has no linear weights for the matrix engine"
                )
            return _bnb_matrix(problem, weights, n_jobs, progress)
        return _bnb_general(problem, n_jobs, progress)
    if search == "best-first":
        return _best_first(problem, progress)
    if search == "beam":
        return _beam(problem, beam_width, n_jobs, progress)
    raise SubgroupInputError(f"search must be 'bnb', 'beam' or 'best-first', not {search!r}")


def brute_force(problem: Problem) -> list[Candidate]:
    """Every conjunction up to the depth, no pruning: the reference the searches must match."""
    topk = TopK(problem.top_k)
    m = problem.n_selectors
    for length in range(1, problem.depth + 1):
        combos = list(itertools.combinations(range(m), length))
        for start in range(0, len(combos), 20000):
            chunk = combos[start : start + 20000]
            sets = _sets(chunk)
            counts = K.conj_counts(problem.bits, sets, problem.full)
            keep = counts >= problem.min_count
            if problem.closed and keep.any():
                red = K.redundant(problem.bits, sets[keep], counts[keep], problem.full)
                keep[np.flatnonzero(keep)[red]] = False
            chosen = [chunk[i] for i in np.flatnonzero(keep)]
            if chosen:
                stats = problem.stats_of(chosen)
                topk.offer(problem.quality_of(stats), chosen, stats.count)
    return topk.result()
