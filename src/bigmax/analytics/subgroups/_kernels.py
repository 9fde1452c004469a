"""Compiled inner loops: bitset covers, per-subgroup statistics and optimistic estimates.

Samples are kept sorted by target (ascending), so the members of any subgroup, listed by
position, are its target values in sorted order: medians, dispersions and the tight
estimators below need no sort. Covers are packed 64 samples to a word.
"""

from __future__ import annotations

import numba as nb
import numpy as np

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)
_ONE = np.uint64(1)
_S1 = np.uint64(1)
_S2 = np.uint64(2)
_S4 = np.uint64(4)
_S56 = np.uint64(56)


def pack_bits(covers: np.ndarray) -> np.ndarray:
    """Bool (n_samples, n_selectors) -> uint64 (n_selectors, n_words), bit i = sample i."""
    n, m = covers.shape
    n_words = max(1, (n + 63) // 64)
    packed = np.packbits(np.ascontiguousarray(covers.T), axis=1, bitorder="little")
    out = np.zeros((m, n_words * 8), dtype=np.uint8)
    out[:, : packed.shape[1]] = packed
    return out.view("<u8").astype(np.uint64).reshape(m, n_words)


def full_bits(n: int) -> np.ndarray:
    """The bitset of all ``n`` samples."""
    return pack_bits(np.ones((n, 1), dtype=bool))[0]


@nb.njit(inline="always")
def _popcount(x):
    x = x - ((x >> _S1) & _M1)
    x = (x & _M2) + ((x >> _S2) & _M2)
    x = (x + (x >> _S4)) & _M4
    return np.int64((x * _H01) >> _S56)


@nb.njit(nogil=True, cache=True)
def child_counts(bits, parent, cands):
    """Cover sizes of ``parent AND selector`` for each candidate selector."""
    n_words = bits.shape[1]
    out = np.empty(len(cands), dtype=np.int64)
    for j in range(len(cands)):
        row = bits[cands[j]]
        c = 0
        for k in range(n_words):
            c += _popcount(parent[k] & row[k])
        out[j] = c
    return out


@nb.njit(nogil=True, cache=True)
def conj_words(bits, sets, full):
    """Bitsets of conjunctions; ``sets`` is (K, L) selector ids, -1 padded."""
    n_words = bits.shape[1]
    out = np.empty((sets.shape[0], n_words), dtype=np.uint64)
    for i in range(sets.shape[0]):
        for k in range(n_words):
            w = full[k]
            for r in range(sets.shape[1]):
                s = sets[i, r]
                if s >= 0:
                    w &= bits[s, k]
            out[i, k] = w
    return out


@nb.njit(nogil=True, cache=True)
def conj_counts(bits, sets, full):
    """Cover sizes of conjunctions; ``sets`` is (K, L) selector ids, -1 padded."""
    n_words = bits.shape[1]
    out = np.empty(sets.shape[0], dtype=np.int64)
    for i in range(sets.shape[0]):
        c = 0
        for k in range(n_words):
            w = full[k]
            for r in range(sets.shape[1]):
                s = sets[i, r]
                if s >= 0:
                    w &= bits[s, k]
            c += _popcount(w)
        out[i] = c
    return out


@nb.njit(nogil=True, cache=True)
def redundant(bits, sets, counts, full):
    """True where a conjunction covers exactly what one of its one-shorter parts covers.

    Such a conjunction, and every refinement of it, equals a simpler one (closed-pattern
    pruning); checking the parts one selector shorter suffices, by induction.
    """
    n_words = bits.shape[1]
    length = sets.shape[1]
    out = np.zeros(sets.shape[0], dtype=np.bool_)
    for i in range(sets.shape[0]):
        for drop in range(length):
            if sets[i, drop] < 0:
                continue
            c = 0
            for k in range(n_words):
                w = full[k]
                for r in range(length):
                    s = sets[i, r]
                    if r != drop and s >= 0:
                        w &= bits[s, k]
                c += _popcount(w)
            if c == counts[i]:
                out[i] = True
                break
    return out


@nb.njit(nogil=True, cache=True)
def words_positions(words, counts):
    """Member positions (ascending) of each bitset row, as CSR (positions, offsets)."""
    n = words.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    for j in range(n):
        offsets[j + 1] = offsets[j] + counts[j]
    pos = np.empty(offsets[n], dtype=np.int32)
    for j in range(n):
        p = offsets[j]
        for k in range(words.shape[1]):
            w = words[j, k]
            while w != 0:
                t = w & (~w + _ONE)
                pos[p] = k * 64 + _popcount(t - _ONE)
                p += 1
                w ^= t
    return pos, offsets


@nb.njit(nogil=True, cache=True)
def children_words(bits, parent, cands):
    """``parent AND selector`` for each candidate, as bitset rows."""
    n_words = bits.shape[1]
    out = np.empty((len(cands), n_words), dtype=np.uint64)
    for j in range(len(cands)):
        for k in range(n_words):
            out[j, k] = parent[k] & bits[cands[j], k]
    return out


@nb.njit(nogil=True, cache=True)
def segment_sums(y, pos, offsets):
    """Sum of the target over each segment."""
    n = len(offsets) - 1
    out = np.zeros(n)
    for j in range(n):
        s = 0.0
        for i in range(offsets[j], offsets[j + 1]):
            s += y[pos[i]]
        out[j] = s
    return out


@nb.njit(nogil=True, cache=True)
def segment_std(y, pos, offsets, mean):
    """Population standard deviation of each segment (two-pass)."""
    n = len(offsets) - 1
    out = np.full(n, np.nan)
    for j in range(n):
        k = offsets[j + 1] - offsets[j]
        if k == 0:
            continue
        ss = 0.0
        for i in range(offsets[j], offsets[j + 1]):
            d = y[pos[i]] - mean[j]
            ss += d * d
        out[j] = np.sqrt(ss / k)
    return out


@nb.njit(nogil=True, cache=True)
def segment_median_mad(y, pos, offsets):
    """Median and mean absolute deviation from the median of each segment.

    ``y`` is sorted ascending and positions within a segment ascend, so the median is the
    middle element and the deviation is (sum of upper half - sum of lower half) / count.
    """
    n = len(offsets) - 1
    med = np.full(n, np.nan)
    mad = np.full(n, np.nan)
    for j in range(n):
        a = offsets[j]
        b = offsets[j + 1]
        k = b - a
        if k == 0:
            continue
        h = k // 2
        if k % 2 == 1:
            med[j] = y[pos[a + h]]
        else:
            med[j] = 0.5 * (y[pos[a + h - 1]] + y[pos[a + h]])
        up = 0.0
        down = 0.0
        for i in range(h):
            down += y[pos[a + i]]
            up += y[pos[b - 1 - i]]
        mad[j] = (up - down) / k
    return med, mad


@nb.njit(nogil=True, cache=True)
def weighted_block(covers, rows, cols, scale):
    """covers[rows][:, cols] * scale[rows][:, None] as float64, in one pass."""
    out = np.empty((len(rows), len(cols)))
    for r in range(len(rows)):
        i = rows[r]
        s = scale[i]
        for j in range(len(cols)):
            out[r, j] = s if covers[i, cols[j]] else 0.0
    return out


# -- optimistic estimates ------------------------------------------------------------------


@nb.njit(nogil=True, cache=True)
def meanshift_oe(v, offsets, n_pop, mu, a, kmin, sign):
    """max over k >= kmin of (k/N)^a (mean of the k most extreme values - mu): tight, O(n).

    For a fixed size the best subset takes the largest (sign +1) or smallest (-1) values, so
    the best over all subsets is the best prefix of the sorted values.
    """
    n = len(offsets) - 1
    out = np.empty(n)
    for j in range(n):
        a0 = offsets[j]
        b0 = offsets[j + 1]
        best = -np.inf
        cum = 0.0
        k = 0
        for t in range(b0 - a0):
            i = b0 - 1 - t if sign > 0 else a0 + t
            cum += sign * (v[i] - mu)
            k += 1
            if k >= kmin:
                f = (k / n_pop) ** a * cum / k
                if f > best:
                    best = f
        out[j] = best
    return out


@nb.njit(nogil=True, cache=True)
def _median_gstar(w, csum, k, c, d):
    """Best (med - c)+ (1 - amd/d)+ over windows of exactly k sorted values."""
    best = -np.inf
    h = k // 2
    for lft in range(len(w) - k + 1):
        r = lft + k
        if k % 2 == 1:
            med = w[lft + h]
        else:
            med = 0.5 * (w[lft + h - 1] + w[lft + h])
        amd = ((csum[r] - csum[r - h]) - (csum[lft + h] - csum[lft])) / k
        g = max(med - c, 0.0) * max(1.0 - amd / d, 0.0)
        if g > best:
            best = g
    return best


@nb.njit(nogil=True, cache=True)
def _std_gstar(w, csum, csq, k, sigma):
    """Best 1 - sigma_window / sigma over windows of exactly k sorted values (min variance).

    Variances come from prefix sums, so each is lowered by a bound on their rounding error:
    the square root would otherwise magnify it, and the estimate must not fall below an exact
    subgroup value.
    """
    n = len(w)
    best_var = np.inf
    for lft in range(n - k + 1):
        r = lft + k
        s = csum[r] - csum[lft]
        var = (csq[r] - csq[lft]) / k - (s / k) ** 2
        if var < best_var:
            best_var = var
    tol = 8.0 * (n + 2) * 2.220446049250313e-16 * csq[n] * (1.0 + n / k) / k
    return 1.0 - np.sqrt(max(best_var - tol, 0.0)) / sigma


@nb.njit(nogil=True, cache=True)
def _size_bound(k1, k2, g1, n_pop, gamma):
    """Bound on (k/N)^gamma g(k) for k in [k1, k2] when g is non-increasing and g(k1) = g1."""
    f1 = (k1 / n_pop) ** gamma * g1
    f2 = (k2 / n_pop) ** gamma * g1
    return max(f1, f2)


@nb.njit(nogil=True, cache=True)
def _maximise_sizes(kind, w, csum, csq, kmin, kmax, step, n_pop, gamma, p1, p2, threshold):
    """max over k in {kmin, kmin+step, ..} <= kmax of (k/N)^gamma g*(k), g* non-increasing.

    Interval branch and bound over sizes: an interval [k1, k2] is bounded by g*(k1) and the
    larger size factor; it is split until its bound falls below the best value found (or below
    ``threshold``, in which case the returned value is still a valid upper bound).
    """
    if kmin > kmax:
        return -np.inf
    g_lo = _gstar(kind, w, csum, csq, kmin, p1, p2)
    best = (kmin / n_pop) ** gamma * g_lo
    skipped = -np.inf
    stack_k1 = np.empty(128, dtype=np.int64)
    stack_k2 = np.empty(128, dtype=np.int64)
    stack_g = np.empty(128)
    top = 0
    if kmax > kmin:
        stack_k1[0] = kmin
        stack_k2[0] = kmax
        stack_g[0] = g_lo
        top = 1
    while top > 0:
        if best >= threshold > -np.inf:
            # decided: the node is worth expanding; the largest open bound is still valid
            for t in range(top):
                b = _size_bound(stack_k1[t] + step, stack_k2[t], stack_g[t], n_pop, gamma)
                if b > best:
                    best = b
            break
        top -= 1
        k1 = stack_k1[top]
        k2 = stack_k2[top]
        g1 = stack_g[top]
        bound = _size_bound(k1 + step, k2, g1, n_pop, gamma)
        if bound <= best:
            continue
        if bound < threshold:
            if bound > skipped:
                skipped = bound
            continue
        if k2 - k1 <= step:
            g2 = _gstar(kind, w, csum, csq, k2, p1, p2)
            f2 = (k2 / n_pop) ** gamma * g2
            if f2 > best:
                best = f2
            continue
        mid = k1 + step * ((k2 - k1) // (2 * step))
        gm = _gstar(kind, w, csum, csq, mid, p1, p2)
        fm = (mid / n_pop) ** gamma * gm
        if fm > best:
            best = fm
        if top + 2 > len(stack_k1):
            grow = len(stack_k1) * 2
            nk1 = np.empty(grow, dtype=np.int64)
            nk2 = np.empty(grow, dtype=np.int64)
            ng = np.empty(grow)
            nk1[:top] = stack_k1[:top]
            nk2[:top] = stack_k2[:top]
            ng[:top] = stack_g[:top]
            stack_k1, stack_k2, stack_g = nk1, nk2, ng
        stack_k1[top] = mid
        stack_k2[top] = k2
        stack_g[top] = gm
        stack_k1[top + 1] = k1
        stack_k2[top + 1] = mid
        stack_g[top + 1] = g1
        top += 2
    return max(best, skipped)


@nb.njit(nogil=True, cache=True)
def _gstar(kind, w, csum, csq, k, p1, p2):
    if kind == 0:
        return _median_gstar(w, csum, k, p1, p2)
    return _std_gstar(w, csum, csq, k, p1)


@nb.njit(nogil=True, cache=True)
def median_shift_oe(v, offsets, n_pop, c, d, gamma, kmin, sign, threshold):
    """Tight estimate of (k/N)^gamma (med - c)+ (1 - amd/d)+ over all subsets of each segment.

    Boley et al. (DMKD 2017): for fixed size, median and dispersion are best on a contiguous
    window of the sorted values, and for fixed parity the best window value cannot grow with
    size (drop one value from each end: same median, no larger mean absolute deviation).
    """
    n = len(offsets) - 1
    out = np.empty(n)
    for j in range(n):
        a0 = offsets[j]
        b0 = offsets[j + 1]
        m = b0 - a0
        w = np.empty(m)
        for t in range(m):
            w[t] = v[a0 + t] if sign > 0 else -v[b0 - 1 - t]
        cc = c if sign > 0 else -c
        csum = np.zeros(m + 1)
        for t in range(m):
            csum[t + 1] = csum[t] + w[t]
        best = -np.inf
        for parity in range(2):
            k0 = max(kmin, 1)
            if k0 % 2 != parity:
                k0 += 1
            k1 = m if m % 2 == parity else m - 1
            f = _maximise_sizes(0, w, csum, csum, k0, k1, 2, n_pop, gamma, cc, d, threshold)
            if f > best:
                best = f
        out[j] = best
    return out


@nb.njit(nogil=True, cache=True)
def std_reduction_oe(v, offsets, n_pop, sigma, gamma, kmin, threshold):
    """Tight estimate of (k/N)^gamma (1 - sigma_R/sigma) over all subsets R of each segment.

    The least-variance subset of a given size is a window of the sorted values, and the least
    variance cannot fall as the size grows (a random smaller subset has no larger expected
    variance), so the same interval search over sizes applies.
    """
    n = len(offsets) - 1
    out = np.empty(n)
    for j in range(n):
        a0 = offsets[j]
        b0 = offsets[j + 1]
        m = b0 - a0
        shift = v[a0 + m // 2] if m > 0 else 0.0
        csum = np.zeros(m + 1)
        csq = np.zeros(m + 1)
        for t in range(m):
            x = v[a0 + t] - shift
            csum[t + 1] = csum[t] + x
            csq[t + 1] = csq[t] + x * x
        out[j] = _maximise_sizes(
            1, v[a0:b0], csum, csq, max(kmin, 1), m, 1, n_pop, gamma, sigma, 0.0, threshold
        )
    return out


@nb.njit(inline="always")
def _phi(a, b):
    """a ln(2a/(a+b)) + b ln(2b/(a+b)) >= 0 (log-sum inequality), with 0 ln 0 = 0."""
    s = a + b
    out = 0.0
    if a > 0.0:
        out += a * np.log(2.0 * a / s)
    if b > 0.0:
        out += b * np.log(2.0 * b / s)
    return out


def cjs_blocks(dy: np.ndarray, n_blocks: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Gap-index boundaries of about ``n_blocks`` equal blocks, and each block's total gap."""
    edges = np.unique(np.linspace(0, len(dy), min(n_blocks, len(dy)) + 1).astype(np.int64))
    csum = np.concatenate([[0.0], np.cumsum(dy)])
    return edges, csum[edges[1:]] - csum[edges[:-1]]


@nb.njit(nogil=True, cache=True)
def cjs_block_bound(pos, offsets, edges, block_dy, n_pop):
    """Upper bound on each segment's CJS integral in O(members + blocks).

    On a block of gaps both CDFs are confined to intervals; the integrand is jointly convex
    (a perspective of the negative binary entropy), so its largest value on the rectangle is
    at a corner, and one of the two corners farthest from the diagonal.
    """
    n = len(offsets) - 1
    out = np.empty(n)
    for j in range(n):
        a0 = offsets[j]
        b0 = offsets[j + 1]
        k = b0 - a0
        p = a0
        total = 0.0
        for blk in range(len(block_dy)):
            if block_dy[blk] <= 0.0:
                continue
            g0 = edges[blk]
            g1 = edges[blk + 1] - 1
            while p < b0 and pos[p] <= g0:
                p += 1
            alo = (p - a0) / k
            q = p
            while q < b0 and pos[q] <= g1:
                q += 1
            ahi = (q - a0) / k
            blo = (g0 + 1) / n_pop
            bhi = (g1 + 1) / n_pop
            # the corners nearer the diagonal never win (move away from it along one axis)
            m = max(_phi(alo, bhi), _phi(ahi, blo))
            total += block_dy[blk] * m
        out[j] = total
    return out


def cjs_tables(y_sorted: np.ndarray) -> tuple[np.ndarray, ...]:
    """Population tables for the CJS kernels: gaps, F_P ln F_P, and prefix sums of the
    integrand where the subgroup CDF is 0, 1, or free in [0, 1] (its larger end)."""
    n = len(y_sorted)
    dy = np.diff(y_sorted)
    b = np.arange(1, n) / n
    blnb = b * np.log(b)
    phi0 = b * np.log(2.0)
    phi1 = blnb - (1.0 + b) * np.log((1.0 + b) / 2.0)
    zero = np.zeros(1)
    p0 = np.concatenate([zero, np.cumsum(dy * phi0)])
    p1 = np.concatenate([zero, np.cumsum(dy * phi1)])
    pm = np.concatenate([zero, np.cumsum(dy * np.maximum(phi0, phi1))])
    return dy, blnb, p0, p1, pm


@nb.njit(nogil=True, cache=True)
def cjs_values(pos, offsets, dy, blnb, p0, p1, n_pop):
    """Cumulative Jensen-Shannon divergence (in nats) of each segment's CDF against the
    population's, integrated exactly over the gaps between sorted population values.

    Below the first member the subgroup CDF is 0 and above the last it is 1: those parts come
    from prefix sums, and only the span between them is swept, one logarithm per gap.
    """
    n = len(offsets) - 1
    out = np.empty(n)
    n_gaps = len(dy)
    for j in range(n):
        a0 = offsets[j]
        b0 = offsets[j + 1]
        k = b0 - a0
        first = pos[a0]
        last = pos[b0 - 1]
        total = p0[first] + (p1[n_gaps] - p1[last])
        for t in range(k - 1):
            fq = (t + 1) / k
            alna = fq * np.log(fq)
            for g in range(pos[a0 + t], pos[a0 + t + 1]):
                ssum = fq + (g + 1) / n_pop
                total += dy[g] * (alna + blnb[g] - ssum * np.log(0.5 * ssum))
        out[j] = total
    return out


@nb.njit(nogil=True, cache=True)
def _cjs_bound(pos, a0, b0, dy, p0, p1, n_pop, k):
    """Integral of the largest integrand any size-k subset of the segment could have."""
    m = b0 - a0
    n_gaps = len(dy)
    first = pos[a0]
    last = pos[b0 - 1]
    total = p0[first] + (p1[n_gaps] - p1[last])
    p = a0
    for g in range(first, last):
        while pos[p] <= g:
            p += 1
        if dy[g] <= 0.0:
            continue
        h = p - a0
        lo = max(0.0, (k - (m - h)) / k)
        hi = min(1.0, h / k)
        fp = (g + 1) / n_pop
        total += dy[g] * max(_phi(lo, fp), _phi(hi, fp))
    return total


@nb.njit(nogil=True, cache=True)
def cjs_quick_bound(pos, offsets, p0, p1, pm, n_pop, gamma, norm):
    """O(1) per segment: (m/N)^gamma times the integral with the subgroup CDF free in [0, 1]
    between the first and last member, a bound on the quality and on every refinement's."""
    n = len(offsets) - 1
    out = np.empty(n)
    n_gaps = len(p0) - 1
    for j in range(n):
        a0 = offsets[j]
        b0 = offsets[j + 1]
        first = pos[a0]
        last = pos[b0 - 1]
        total = p0[first] + (pm[last] - pm[first]) + (p1[n_gaps] - p1[last])
        out[j] = ((b0 - a0) / n_pop) ** gamma * total / norm
    return out


@nb.njit(nogil=True, cache=True)
def cjs_oe(pos, offsets, dy, p0, p1, n_pop, gamma, kmin, norm, quick, threshold):
    """Valid bound on (k/N)^gamma CJS(R)/norm over all subsets R of each segment.

    At each point the subset's CDF can only lie in an interval set by how many members are
    below and above it; the integrand is convex in the CDF, so its largest value is at an end.
    The intervals widen as k falls, so the bound is non-increasing in k and an interval search
    over sizes applies. ``quick`` is the O(1) bound, used when it already decides.
    """
    n = len(offsets) - 1
    out = np.empty(n)
    for j in range(n):
        a0 = offsets[j]
        b0 = offsets[j + 1]
        m = b0 - a0
        kmin_j = max(kmin, 1)
        if kmin_j > m:
            out[j] = -np.inf
            continue
        if quick[j] < threshold:
            out[j] = quick[j]
            continue
        g1 = _cjs_bound(pos, a0, b0, dy, p0, p1, n_pop, kmin_j) / norm
        best_bound = (m / n_pop) ** gamma * g1
        if best_bound < threshold or kmin_j == m:
            out[j] = best_bound
            continue
        best = (kmin_j / n_pop) ** gamma * g1
        skipped = -np.inf
        st1 = [kmin_j]
        st2 = [m]
        stg = [g1]
        while len(st1) > 0:
            if best >= threshold > -np.inf:
                for t in range(len(st1)):
                    best = max(best, (st2[t] / n_pop) ** gamma * stg[t],
                               (st1[t] / n_pop) ** gamma * stg[t])
                break
            k1 = st1.pop()
            k2 = st2.pop()
            gk1 = stg.pop()
            bound = max((k1 / n_pop) ** gamma * gk1, (k2 / n_pop) ** gamma * gk1)
            if bound <= best:
                continue
            if bound < threshold:
                skipped = max(skipped, bound)
                continue
            if k2 - k1 <= 1:
                gk2 = _cjs_bound(pos, a0, b0, dy, p0, p1, n_pop, k2) / norm
                best = max(best, (k2 / n_pop) ** gamma * gk2)
                continue
            mid = (k1 + k2) // 2
            gm = _cjs_bound(pos, a0, b0, dy, p0, p1, n_pop, mid) / norm
            best = max(best, (mid / n_pop) ** gamma * gm)
            st1.append(k1)
            st2.append(mid)
            stg.append(gk1)
            st1.append(mid)
            st2.append(k2)
            stg.append(gm)
        out[j] = max(best, skipped)
    return out

