"""The SISSO feature space: stored rungs built once, the last rung streamed and screened.

Rung ``r`` holds an operator applied to features of lower rungs with at least one operand from
rung ``r - 1`` (so a rung-``r`` expression is a tree of depth ``r``). :meth:`FeatureSpace.fit`
builds and keeps the values of rungs ``0 .. max_rung - 1`` (the *stored* rungs, duplicates
removed). :meth:`FeatureSpace.screen` then generates the last rung lazily, block by block, in
compiled code (numba), scores every candidate on the fly and keeps only a streaming top-k, so
memory stays O(k n + stored rungs) however large the last rung is. Each candidate is an
``(operator, a, b)`` triple over stored features, so a block of the last rung costs nothing
to describe.

Two unit modes (see :mod:`bigmax.analytics.sisso.operators`):

``strict`` (default)
    ``+ - |-|`` need equal units, ``exp exp(-x) log sin cos scd`` a dimensionless input.
    Commutative and antisymmetric operators are applied once per pair (``b + a``, ``b - a``,
    ``|b - a|``, ``b * a`` with ``b`` the later feature, as SISSO++ writes them; ``/`` both
    ways). Compositions that undo each other or cancel to a simpler feature are never built:
    ``exp(log x)``, ``log(exp x)``, ``log`` of a power or of an exponential, ``exp`` of
    ``exp``, ``1/(1/x)``, ``1/(a/b)``, ``(sqrt x)^2``, ``sqrt(x^2)``, ``(cbrt x)^3``,
    ``cbrt(x^3)``, ``|x|`` of a one-signed ``x``, ``*`` or ``/`` with a ``1/x`` operand, and
    any ``+ - |-|`` (or ``* /``) whose terms cancel to at most one, such as ``(a + b) - a``,
    ``(a - b) + b`` or ``(a * b) / a``. A candidate is in the space when all its values are
    finite, it is not constant, and ``min_abs <= max|x| <= max_abs`` (defaults 1e-50 and 1e50,
    SISSO++'s). Stored features equal to an earlier one (values equal to 1e-10 relative) are
    dropped, and within a rung the simpler of two equal features is kept.
``fortran``
    the rules of the reference Fortran code v3.5 (rouyang2017/SISSO, ``FC.f90``), so that
    counts match it exactly: transcendental functions accept dimensional input; no
    ``exp``/``exp(-x)``/``log`` of ``exp``, ``exp(-x)`` or ``log``; no ``(sqrt x)^2``,
    ``sqrt(x^2)``, ``(cbrt x)^3``, ``cbrt(x^3)``; ``a - b`` and ``b - a`` in stored rungs but
    only ``a - b`` in the last; no ``/`` of a quotient in a stored rung when ``*`` is in the
    set; no ``(a*b)/b`` (nor ``b/(a*b)`` when ``^-1`` is in the set); ``cbrt`` of a negative
    value is NaN, as Fortran's ``x**(1/3)``. A candidate is counted unless it is constant
    (``max|x - x_1| <= 1e-8``) or ``max|x|`` is above 1e50 or at most 1e-50 (NaN values are
    skipped in those maxima, as gfortran's ``maxval`` does); it is *selectable* only when all its
    values are finite and ``min_abs <= max|x| <= max_abs`` (defaults 1e-3 and 1e5, the
    reference's ``fmax_min``/``fmax_max``). Stored rungs drop duplicates as the reference does
    (same fingerprint ``||tag + x||`` to 1e-8 and ``|corr| > 0.99``). ``max_complexity`` is the
    reference's ``fcomplexity``.

In both modes the last rung is not de-duplicated (it is never stored), so :attr:`n_features`
counts its duplicates, as the reference does; the screen removes duplicates among its picks.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from bigmax.analytics.sisso import operators as O
from bigmax.analytics.sisso.expression import Expression, check_unit_mode
from bigmax.analytics.sisso.operators import ALL_OPERATORS, BY_CODE, operators_per_rung
from bigmax.analytics.sisso.screening import (
    PearsonScore,
    ScreenResult,
    TopK,
    offer_block,
    pearson_row,
    standardize,
)
from bigmax.analytics.sisso.units import Unit, UnitError, parse_unit, unit_matrix

__all__ = ["FeatureSpace", "FeatureSpaceError"]


class FeatureSpaceError(ValueError):
    """Bad input to the feature space: the message names the column or parameter."""


_IDENT = O.IDENT
_EXP, _NEG_EXP, _LOG, _INV = O.EXP, O.NEG_EXP, O.LOG, O.INV
_SQ, _CB, _SIX_POW = O.SQ, O.CB, O.SIX_POW
_SQRT, _CBRT, _ABS, _SIN, _COS, _SCD = O.SQRT, O.CBRT, O.ABS, O.SIN, O.COS, O.SCD
_ADD, _SUB, _ABS_DIFF, _MULT, _DIV = O.ADD, O.SUB, O.ABS_DIFF, O.MULT, O.DIV
_UNIT_TOL = 1e-8
_NO_LIMIT = 1 << 30


# ---------------------------------------------------------------------------------------------
# compiled kernels
# ---------------------------------------------------------------------------------------------
@njit(nogil=True, cache=True)
def _dimensionless(U, a):
    for j in range(U.shape[1]):
        if abs(U[a, j]) > _UNIT_TOL:
            return False
    return True


@njit(nogil=True, cache=True)
def _same_unit(U, a, b):
    for j in range(U.shape[1]):
        if abs(U[a, j] - U[b, j]) > _UNIT_TOL:
            return False
    return True


@njit(nogil=True, cache=True)
def _terms(node, op, ch0, ch1, sign, multiplicative, ids, cf, k):
    """Push the additive (or multiplicative) terms of ``node`` with ``sign``; return new k."""
    o = op[node]
    if multiplicative:
        if o == _MULT or o == _DIV:
            ids[k] = ch0[node]
            cf[k] = sign
            ids[k + 1] = ch1[node]
            cf[k + 1] = sign if o == _MULT else -sign
            return k + 2
        if o == _INV:
            ids[k] = ch0[node]
            cf[k] = -sign
            return k + 1
    else:
        if o == _ADD or o == _SUB:
            ids[k] = ch0[node]
            cf[k] = sign
            ids[k + 1] = ch1[node]
            cf[k + 1] = sign if o == _ADD else -sign
            return k + 2
    ids[k] = node
    cf[k] = sign
    return k + 1


@njit(nogil=True, cache=True)
def _cancels(code, x, y, op, ch0, ch1, ids, cf):
    """True if ``code(x, y)`` reduces to at most one term (e.g. (a + b) - a, (a * b) / a)."""
    mult = code == _MULT or code == _DIV
    # fast exit: the terms of x and y must share a feature for anything to cancel
    if mult:
        fx = op[x] == _MULT or op[x] == _DIV or op[x] == _INV
        fy = op[y] == _MULT or op[y] == _DIV or op[y] == _INV
    else:
        fx = op[x] == _ADD or op[x] == _SUB
        fy = op[y] == _ADD or op[y] == _SUB
    x0 = ch0[x] if fx else x
    x1 = ch1[x] if fx else -2
    y0 = ch0[y] if fy else y
    y1 = ch1[y] if fy else -3
    if not (x0 == y0 or x0 == y1 or (x1 >= 0 and (x1 == y0 or x1 == y1))):
        return False
    k = _terms(x, op, ch0, ch1, 1, mult, ids, cf, 0)
    s = 1 if (code == _ADD or code == _MULT) else -1
    k = _terms(y, op, ch0, ch1, s, mult, ids, cf, k)
    n_nonzero = 0
    for i in range(k):
        first = True
        for j in range(i):
            if ids[j] == ids[i]:
                first = False
                break
        if not first:
            continue
        tot = 0
        for j in range(i, k):
            if ids[j] == ids[i]:
                tot += cf[j]
        if tot != 0:
            n_nonzero += 1
    return n_nonzero <= 1


@njit(nogil=True, cache=True)
def _unary_ok(u, a, op, U, nonzero, positive, nonneg, nonpos, fortran):
    o = op[a]
    if fortran:
        if u == _EXP or u == _NEG_EXP:
            return not (o == _EXP or o == _NEG_EXP or o == _LOG)
        if u == _INV:
            return nonzero[a]
        if u == _SQ:
            return o != _SQRT
        if u == _CB:
            return o != _CBRT
        if u == _SQRT:
            return o != _SQ and positive[a]
        if u == _CBRT:
            return o != _CB
        if u == _LOG:
            return not (o == _EXP or o == _NEG_EXP or o == _LOG) and positive[a]
        return True
    if u == _EXP or u == _NEG_EXP or u == _LOG or u == _SIN or u == _COS or u == _SCD:
        if not _dimensionless(U, a):
            return False
    if u == _EXP or u == _NEG_EXP:
        return not (o == _EXP or o == _NEG_EXP or o == _LOG)
    if u == _LOG:
        if (o == _EXP or o == _NEG_EXP or o == _LOG or o == _INV or o == _SQ or o == _CB
                or o == _SIX_POW or o == _SQRT or o == _CBRT):
            return False
        return positive[a]
    if u == _INV:
        return not (o == _INV or o == _DIV or o == _EXP or o == _NEG_EXP) and nonzero[a]
    if u == _SQ:
        return not (o == _SQRT or o == _ABS)
    if u == _CB:
        return o != _CBRT
    if u == _SIX_POW:
        return not (o == _SQRT or o == _CBRT or o == _ABS)
    if u == _SQRT:
        return not (o == _SQ or o == _SIX_POW) and nonneg[a]
    if u == _CBRT:
        return not (o == _CB or o == _SIX_POW)
    if u == _ABS:
        return not (nonneg[a] or nonpos[a])
    return True


@njit(nogil=True, cache=True)
def _enumerate(a_lo, a_hi, s, m, op, ch0, ch1, comp, U, nonzero, positive, nonneg, nonpos,
               mask, fortran, last, maxc, out_op, out_a, out_b):
    """All candidates of the next rung with first operand in [a_lo, a_hi) (rung s..m-1)."""
    ids = np.empty(4, dtype=np.int64)
    cf = np.empty(4, dtype=np.int64)
    inv_on = mask[_INV]
    mult_on = mask[_MULT]
    k = 0
    for a in range(a_lo, a_hi):
        if comp[a] + 1 <= maxc:
            for u in range(1, 14):
                if mask[u] and _unary_ok(u, a, op, U, nonzero, positive, nonneg, nonpos,
                                         fortran):
                    out_op[k] = u
                    out_a[k] = a
                    out_b[k] = -1
                    k += 1
        for b in range(m):
            if b >= s and b <= a:
                continue
            if comp[a] + comp[b] + 1 > maxc:
                continue
            if fortran:
                x = a
                y = b
            else:
                x = max(a, b)
                y = min(a, b)
            if _same_unit(U, x, y):
                if mask[_ADD] and (fortran or not _cancels(_ADD, x, y, op, ch0, ch1, ids, cf)):
                    out_op[k] = _ADD
                    out_a[k] = x
                    out_b[k] = y
                    k += 1
                if mask[_SUB] and (fortran or not _cancels(_SUB, x, y, op, ch0, ch1, ids, cf)):
                    out_op[k] = _SUB
                    out_a[k] = x
                    out_b[k] = y
                    k += 1
                    if fortran and not last:
                        out_op[k] = _SUB
                        out_a[k] = y
                        out_b[k] = x
                        k += 1
                if mask[_ABS_DIFF] and (fortran or not _cancels(_SUB, x, y, op, ch0, ch1, ids,
                                                                cf)):
                    out_op[k] = _ABS_DIFF
                    out_a[k] = x
                    out_b[k] = y
                    k += 1
            if fortran:
                if mask[_MULT]:
                    out_op[k] = _MULT
                    out_a[k] = x
                    out_b[k] = y
                    k += 1
                if mask[_DIV]:
                    do_xy = True
                    do_yx = True
                    if mult_on and (op[x] == _DIV or op[y] == _DIV) and not last:
                        do_xy = False
                        do_yx = False
                    elif op[x] == _MULT and (ch0[x] == y or ch1[x] == y):
                        do_xy = False
                        do_yx = not inv_on
                    elif op[y] == _MULT and (ch0[y] == x or ch1[y] == x):
                        do_yx = False
                        do_xy = not inv_on
                    if do_xy and nonzero[y]:
                        out_op[k] = _DIV
                        out_a[k] = x
                        out_b[k] = y
                        k += 1
                    if do_yx and nonzero[x]:
                        out_op[k] = _DIV
                        out_a[k] = y
                        out_b[k] = x
                        k += 1
            elif op[x] != _INV and op[y] != _INV:
                if mask[_MULT] and not _cancels(_MULT, x, y, op, ch0, ch1, ids, cf):
                    out_op[k] = _MULT
                    out_a[k] = x
                    out_b[k] = y
                    k += 1
                if mask[_DIV]:
                    if nonzero[y] and not _cancels(_DIV, x, y, op, ch0, ch1, ids, cf):
                        out_op[k] = _DIV
                        out_a[k] = x
                        out_b[k] = y
                        k += 1
                    if nonzero[x] and not _cancels(_DIV, y, x, op, ch0, ch1, ids, cf):
                        out_op[k] = _DIV
                        out_a[k] = y
                        out_b[k] = x
                        k += 1
    return k


@njit(nogil=True, cache=True, error_model="numpy")
def _eval_into(code, a, b, V, buf, fortran):
    n = buf.shape[0]
    if code == _IDENT:
        for i in range(n):
            buf[i] = V[a, i]
    elif code == _EXP:
        for i in range(n):
            buf[i] = np.exp(V[a, i])
    elif code == _NEG_EXP:
        for i in range(n):
            buf[i] = np.exp(-V[a, i])
    elif code == _LOG:
        for i in range(n):
            buf[i] = np.log(V[a, i])
    elif code == _INV:
        for i in range(n):
            buf[i] = 1.0 / V[a, i]
    elif code == _SQ:
        for i in range(n):
            x = V[a, i]
            buf[i] = x * x
    elif code == _CB:
        for i in range(n):
            x = V[a, i]
            buf[i] = x * x * x
    elif code == _SIX_POW:
        for i in range(n):
            x = V[a, i]
            x3 = x * x * x
            buf[i] = x3 * x3
    elif code == _SQRT:
        for i in range(n):
            buf[i] = np.sqrt(V[a, i])
    elif code == _CBRT:
        if fortran:  # Fortran's x**(1/3): NaN for a negative x
            for i in range(n):
                x = V[a, i]
                buf[i] = x ** (1.0 / 3.0) if x >= 0.0 else np.nan
        else:
            for i in range(n):
                buf[i] = np.cbrt(V[a, i])
    elif code == _ABS:
        for i in range(n):
            buf[i] = abs(V[a, i])
    elif code == _SIN:
        for i in range(n):
            buf[i] = np.sin(V[a, i])
    elif code == _COS:
        for i in range(n):
            buf[i] = np.cos(V[a, i])
    elif code == _SCD:
        for i in range(n):
            x = V[a, i]
            buf[i] = 1.0 / (np.pi * (1.0 + x * x))
    elif code == _ADD:
        for i in range(n):
            buf[i] = V[a, i] + V[b, i]
    elif code == _SUB:
        for i in range(n):
            buf[i] = V[a, i] - V[b, i]
    elif code == _ABS_DIFF:
        for i in range(n):
            buf[i] = abs(V[a, i] - V[b, i])
    elif code == _MULT:
        for i in range(n):
            buf[i] = V[a, i] * V[b, i]
    elif code == _DIV:
        for i in range(n):
            buf[i] = V[a, i] / V[b, i]


@njit(nogil=True, cache=True)
def _fortran_counted(buf):
    """The reference's test: not constant (max|x - x_1| > 1e-8), 1e-50 < max|x| <= 1e50,
    with NaN skipped in both maxima as gfortran's maxval does (all NaN passes)."""
    v0 = buf[0]
    dmax = np.nan
    mabs = np.nan
    for i in range(buf.shape[0]):
        x = buf[i]
        d = abs(x - v0)
        if not np.isnan(d) and (np.isnan(dmax) or d > dmax):
            dmax = d
        ax = abs(x)
        if not np.isnan(ax) and (np.isnan(mabs) or ax > mabs):
            mabs = ax
    return not (dmax <= 1e-8 or mabs > 1e50 or mabs <= 1e-50)


@njit(nogil=True, cache=True)
def _check(buf, fortran, min_abs, max_abs):
    """(counted, selectable, sum of values) for one candidate (see the module docstring)."""
    n = buf.shape[0]
    vmin = np.inf
    vmax = -np.inf
    t0 = t1 = 0.0
    i = 0
    while i + 2 <= n:
        x = buf[i]
        z = buf[i + 1]
        t0 += x
        t1 += z
        vmin = min(vmin, min(x, z))
        vmax = max(vmax, max(x, z))
        i += 2
    if i < n:
        x = buf[i]
        t0 += x
        vmin = min(vmin, x)
        vmax = max(vmax, x)
    total = t0 + t1
    if not np.isfinite(total) or not np.isfinite(vmin) or not np.isfinite(vmax):
        # a NaN or an infinity somewhere: never selectable; counted by the reference's rule
        return (fortran and _fortran_counted(buf)), False, total
    mabs = max(-vmin, vmax)
    ok = (mabs >= min_abs) and (mabs <= max_abs) and (vmax - vmin > 1e-10 * mabs) and mabs > 0
    if fortran:
        v0 = buf[0]
        dmax = max(vmax - v0, v0 - vmin)
        counted = not (dmax <= 1e-8 or mabs > 1e50 or mabs <= 1e-50)
        return counted, counted and ok, total
    return ok, ok, total


# Reassociation lets LLVM vectorise these sums; the order is fixed by the compiled code, so a
# candidate's score does not depend on n_jobs, chunk_size or where it sits in a block.
_FAST = {"reassoc", "contract"}


@njit(nogil=True, cache=True, fastmath=_FAST)
def _dot1(buf, x0, y):
    a = 0.0
    for i in range(buf.shape[0]):
        a += (buf[i] - x0) * y[i]
    return a


@njit(nogil=True, cache=True, fastmath=_FAST)
def _sums(buf, x0, y):
    """sum(x - x_1), sum((x - x_1)^2), sum((x - x_1) y); NaN and infinities propagate."""
    s1 = 0.0
    s2 = 0.0
    d = 0.0
    for i in range(buf.shape[0]):
        p = buf[i] - x0
        s1 += p
        s2 += p * p
        d += p * y[i]
    return s1, s2, d


@njit(nogil=True, cache=True)
def _range(buf):
    mn = buf[0]
    mx = buf[0]
    for i in range(1, buf.shape[0]):
        u = buf[i]
        mn = min(mn, u)
        mx = max(mx, u)
    return mn, mx


@njit(nogil=True, cache=True, error_model="numpy")
def _score_codes(c_op, c_a, c_b, ncode, V, fortran, min_abs, max_abs, basis, W, tail, thr, yc,
                 task, n_tasks, sstot, out_score):
    """Evaluate and score ``ncode`` candidates; return (n counted, n selectable).

    One pass after the evaluation gives the range, the variance and the first component
    c_0 = <basis_0, z> of the standardised candidate z; sums are shifted by the candidate's
    first value x_1, which keeps the one-pass variance accurate (|mean - x_1| <= sqrt(n) std).
    The correlations with the targets are corr_r = sum_k c_k W[r, k] over an orthonormal basis
    of the standardised targets (singular values s_k, so W = V diag(s)). After m components
    |corr_r| <= |partial_r| + s_m sqrt(1 - sum c_k^2); a candidate whose bound is below ``thr``
    (the top-k admission threshold when the block started) cannot enter and is not finished
    (score -inf). The others get their exact score, so the result does not depend on ``thr``.
    """
    n = V.shape[1]
    q = basis.shape[0]
    n_targets = W.shape[0]
    buf = np.empty(n)
    b0 = basis[0] if q > 0 else np.zeros(n)
    partial = np.zeros(max(n_targets, 1))
    mean_t = np.empty(n_tasks)
    ss_t = np.empty(n_tasks)
    cnt_t = np.empty(n_tasks)
    n_counted = 0
    n_sel = 0
    for k in range(ncode):
        _eval_into(c_op[k], c_a[k], c_b[k], V, buf, fortran)
        x0 = buf[0]
        s1, s2, d0 = _sums(buf, x0, b0)
        mn, mx = _range(buf)
        out_score[k] = -np.inf
        if not (np.isfinite(s1) and np.isfinite(s2)):
            # a NaN or an infinity: never selectable; counted by the reference's rule
            if fortran and _fortran_counted(buf):
                n_counted += 1
            continue
        mabs = max(-mn, mx)
        ok = (mabs >= min_abs) and (mabs <= max_abs) and (mx - mn > 1e-10 * mabs) and mabs > 0
        if fortran:
            dmax = max(mx - x0, x0 - mn)
            counted = not (dmax <= 1e-8 or mabs > 1e50 or mabs <= 1e-50)
            ok = ok and counted
        else:
            counted = ok
        n_counted += counted
        if not ok:
            continue
        n_sel += 1
        if q == 0:
            out_score[k] = 0.0
            continue
        if n_tasks > 1:
            out_score[k] = pearson_row(buf, yc, task, n_tasks, sstot, mean_t, ss_t, cnt_t)
            continue
        ss = s2 - s1 * s1 / n
        if ss <= 0.0:
            out_score[k] = 0.0
            continue
        root = np.sqrt(ss)
        c = d0 / root
        csum = c * c
        best = 0.0
        for r in range(n_targets):
            partial[r] = c * W[r, 0]
            best = max(best, abs(partial[r]))
        m = 1
        while m < q:
            rest = np.sqrt(max(1.0 - csum, 0.0))
            bound = 0.0
            for r in range(n_targets):
                bound = max(bound, abs(partial[r]) + rest * tail[r, m])
            if bound + 1e-12 < thr:
                best = -np.inf
                break
            c = _dot1(buf, x0, basis[m]) / root
            csum += c * c
            best = 0.0
            for r in range(n_targets):
                partial[r] += c * W[r, m]
                best = max(best, abs(partial[r]))
            m += 1
        out_score[k] = min(best, 1.0)
    return n_counted, n_sel


@njit(nogil=True, cache=True, error_model="numpy")
def _values_codes(c_op, c_a, c_b, ncode, V, fortran, min_abs, max_abs, selectable_only,
                  out_vals, out_idx):
    """Pack the values of the counted (or selectable) candidates; return (packed, counted,
    selectable)."""
    n = V.shape[1]
    buf = np.empty(n)
    j = 0
    n_counted = 0
    n_sel = 0
    for k in range(ncode):
        _eval_into(c_op[k], c_a[k], c_b[k], V, buf, fortran)
        counted, sel, _ = _check(buf, fortran, min_abs, max_abs)
        n_counted += counted
        n_sel += sel
        if sel or (counted and not selectable_only):
            for i in range(n):
                out_vals[j, i] = buf[i]
            out_idx[j] = k
            j += 1
    return j, n_counted, n_sel


@njit(nogil=True, cache=True, error_model="numpy")
def _eval_one(code, a, b, V, fortran):
    buf = np.empty(V.shape[1])
    _eval_into(code, a, b, V, buf, fortran)
    return buf


@njit(nogil=True, cache=True)
def _duplicate_pairs(order, fp, V, maxabs, is_new, fortran):
    """Pairs (i, j) of equal features among fingerprint-sorted rows (at least one new)."""
    out_i = []
    out_j = []
    n = V.shape[1]
    m = order.shape[0]
    for p in range(m):
        i = order[p]
        fi = fp[i]
        if np.isnan(fi):
            break
        tol = 1e-8 if fortran else 1e-9 * max(1.0, abs(fi))
        for q in range(p + 1, m):
            j = order[q]
            fj = fp[j]
            if np.isnan(fj) or fj - fi > tol:
                break
            if not (is_new[i] or is_new[j]):
                continue
            if fortran:
                if not (is_new[i] and is_new[j]):
                    continue
                mi = 0.0
                mj = 0.0
                for t in range(n):
                    mi += V[i, t]
                    mj += V[j, t]
                mi /= n
                mj /= n
                sij = 0.0
                sii = 0.0
                sjj = 0.0
                for t in range(n):
                    di = V[i, t] - mi
                    dj = V[j, t] - mj
                    sij += di * dj
                    sii += di * di
                    sjj += dj * dj
                if sii > 0 and sjj > 0 and abs(sij / math.sqrt(sii * sjj)) > 0.99:
                    out_i.append(i)
                    out_j.append(j)
            else:
                lim = 1e-10 * max(maxabs[i], maxabs[j])
                same = True
                for t in range(n):
                    if abs(V[i, t] - V[j, t]) > lim:
                        same = False
                        break
                if same:
                    out_i.append(i)
                    out_j.append(j)
    return out_i, out_j


# ---------------------------------------------------------------------------------------------
def _nan_flags(values: np.ndarray, fortran: bool) -> dict[str, np.ndarray]:
    """Domain flags of stored features; NaN-skipping minima as gfortran's minval in fortran."""
    if values.shape[0] == 0:
        z = np.zeros(0, dtype=np.bool_)
        return {"nonzero": z, "positive": z, "nonneg": z, "nonpos": z}
    with np.errstate(invalid="ignore"):
        if fortran:
            minabs = np.fmin.reduce(np.abs(values), axis=1)
            vmin = np.fmin.reduce(values, axis=1)
            vmax = np.fmax.reduce(values, axis=1)
        else:
            minabs = np.abs(values).min(axis=1)
            vmin = values.min(axis=1)
            vmax = values.max(axis=1)
        return {
            "nonzero": minabs > 1e-50,
            "positive": vmin > 0,
            "nonneg": vmin >= 0,
            "nonpos": vmax <= 0,
        }


class FeatureSpace:
    """Candidate features built from primary features by operators, with streaming SIS.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_primary)
        Values of the primary features (float64; finite; no constant column; n_samples >= 3).
    names : sequence of str
        The primary features' names, one per column.
    units : sequence of Unit or str, optional
        One unit per column (``None``: all dimensionless).
    operators : sequence of str, or one sequence per rung, default ALL_OPERATORS
        Operator names (SISSO++ names or the Fortran spellings), or a list with one operator
        set per rung ``1 .. max_rung``.
    max_rung : int, default 2
        Depth of the deepest expression; rungs below it are stored, the last is streamed.
    unit_mode : {"strict", "fortran"}, default "strict"
        Unit and construction rules (see the module docstring).
    max_complexity : int, optional
        At most this many operators per expression (the Fortran code's ``fcomplexity``).
    min_abs, max_abs : float, optional
        Bounds on ``max|x|`` of a selectable feature. Defaults: 1e-50 and 1e50 in strict mode
        (which also bound the space), 1e-3 and 1e5 in fortran mode (selection only).
    n_jobs : int, default 1
        Threads that score blocks of the last rung; ``-1`` for all cores. Results do not depend
        on it.
    chunk_size : int, default 131072
        Candidates per block of the last rung.

    Notes
    -----
    Memory is the stored rungs (``n_stored x n_samples`` float64) plus ``n_jobs`` blocks; the
    last rung is never stored. :meth:`fit` costs one pass over the stored rungs; every
    :meth:`screen` one pass over the whole space.

    Examples
    --------
    >>> import numpy as np
    >>> from bigmax.analytics.sisso.screening import pearson_score
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(1, 2, size=(30, 3))
    >>> y = 3.0 * X[:, 0] / (X[:, 1] + X[:, 2]) - 1.0
    >>> fs = FeatureSpace(X, ["a", "b", "c"], ["m", "m", "m"], max_rung=2).fit()
    >>> res = fs.screen(pearson_score(y), n_select=3)
    >>> str(res.expressions[0]), round(float(res.scores[0]), 12)
    ('a / (c + b)', 1.0)
    """

    def __init__(
        self,
        X,
        names: Sequence[str],
        units: Sequence[Unit | str] | None = None,
        operators: Sequence[str] | Sequence[Sequence[str]] | str = ALL_OPERATORS,
        max_rung: int = 2,
        unit_mode: str = "strict",
        max_complexity: int | None = None,
        min_abs: float | None = None,
        max_abs: float | None = None,
        n_jobs: int = 1,
        chunk_size: int = 1 << 17,
    ) -> None:
        try:
            check_unit_mode(unit_mode)
        except ValueError as err:
            raise FeatureSpaceError(str(err)) from None
        self.unit_mode = unit_mode
        self.names = self._check_names(names)
        self.X = self._check_X(X, self.names)
        self.units = self._check_units(units, self.names)
        if not isinstance(max_rung, int | np.integer) or max_rung < 0:
            raise FeatureSpaceError(f"max_rung must be an integer >= 0, got {max_rung!r}")
        self.max_rung = int(max_rung)
        try:
            self.operators = operators_per_rung(operators, self.max_rung)
        except ValueError as err:
            raise FeatureSpaceError(str(err)) from None
        if max_complexity is not None and (
            not isinstance(max_complexity, int | np.integer) or max_complexity < 0
        ):
            raise FeatureSpaceError(
                f"max_complexity must be an integer >= 0 or None, got {max_complexity!r}"
            )
        self.max_complexity = max_complexity
        fortran = unit_mode == "fortran"
        self.min_abs = float(min_abs if min_abs is not None else (1e-3 if fortran else 1e-50))
        self.max_abs = float(max_abs if max_abs is not None else (1e5 if fortran else 1e50))
        if not (0 <= self.min_abs < self.max_abs):
            raise FeatureSpaceError(
                f"need 0 <= min_abs < max_abs, got min_abs={self.min_abs}, max_abs={self.max_abs}"
            )
        if not isinstance(n_jobs, int | np.integer) or n_jobs == 0 or n_jobs < -1:
            raise FeatureSpaceError(f"n_jobs must be a positive integer or -1, got {n_jobs!r}")
        self.n_jobs = int(n_jobs)
        if not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
            raise FeatureSpaceError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        self.chunk_size = int(chunk_size)
        self._fitted = False

    # --- input checks --------------------------------------------------------------------------
    @staticmethod
    def _check_names(names) -> tuple[str, ...]:
        if isinstance(names, str):
            raise FeatureSpaceError("names must be a sequence of column names, not one string")
        names = tuple(str(n) for n in names)
        seen = set()
        for n in names:
            if not n.strip():
                raise FeatureSpaceError("a feature name is empty")
            if n in seen:
                raise FeatureSpaceError(f"feature name {n!r} appears twice")
            seen.add(n)
        return names

    @staticmethod
    def _check_X(X, names: tuple[str, ...]) -> np.ndarray:
        try:
            arr = np.asarray(X, dtype=np.float64)
        except (TypeError, ValueError):
            arr = None
        if arr is None or arr.ndim != 2:
            shape = getattr(arr, "shape", None)
            # name the first column that does not convert
            if arr is None and hasattr(X, "columns"):
                for c in X.columns:
                    try:
                        np.asarray(X[c], dtype=np.float64)
                    except (TypeError, ValueError):
                        raise FeatureSpaceError(f"column {c!r} is not numeric") from None
            raise FeatureSpaceError(f"X must be a 2-D numeric array, got shape {shape}")
        n, p = arr.shape
        if p != len(names):
            raise FeatureSpaceError(
                f"X has {p} columns but {len(names)} names were given ({', '.join(names)})"
            )
        if p == 0:
            raise FeatureSpaceError("X has no columns")
        if n < 3:
            raise FeatureSpaceError(f"need at least 3 samples, got {n}")
        bad = ~np.isfinite(arr)
        if bad.any():
            col = int(np.flatnonzero(bad.any(axis=0))[0])
            row = int(np.flatnonzero(bad[:, col])[0])
            raise FeatureSpaceError(
                f"column {names[col]!r} has a non-finite value ({arr[row, col]}) at row {row}"
            )
        span = arr.max(axis=0) - arr.min(axis=0)
        scale = np.abs(arr).max(axis=0)
        const = span <= 1e-12 * np.maximum(scale, 1e-300)
        if const.any():
            col = int(np.flatnonzero(const)[0])
            raise FeatureSpaceError(
                f"column {names[col]!r} is constant ({arr[0, col]}); drop it"
            )
        return np.ascontiguousarray(arr)

    @staticmethod
    def _check_units(units, names: tuple[str, ...]) -> tuple[Unit, ...]:
        if units is None:
            return tuple(Unit.dimensionless() for _ in names)
        if isinstance(units, str | Unit):
            raise FeatureSpaceError("units must be a sequence with one unit per column")
        units = list(units)
        if len(units) != len(names):
            raise FeatureSpaceError(
                f"got {len(names)} names but {len(units)} units; give one unit per column"
            )
        out = []
        for n, u in zip(names, units, strict=True):
            try:
                out.append(parse_unit(u))
            except UnitError as err:
                raise UnitError(f"column {n!r}: {err}") from None
        return tuple(out)

    # --- construction ----------------------------------------------------------------------
    @property
    def _fortran(self) -> bool:
        return self.unit_mode == "fortran"

    def _mask(self, rung: int) -> np.ndarray:
        mask = np.zeros(O.N_CODES, dtype=np.bool_)
        for name in self.operators[rung - 1]:
            mask[O.OPERATORS[name].code] = True
        return mask

    def fit(self) -> FeatureSpace:
        """Build and keep the stored rungs ``0 .. max_rung - 1`` (once; later calls are free)."""
        if self._fitted:
            return self
        p = len(self.names)
        self._bases, U = unit_matrix(self.units)
        self._V = np.ascontiguousarray(self.X.T)
        self._op = np.zeros(p, dtype=np.int8)
        self._ch0 = np.full(p, -1, dtype=np.int32)
        self._ch1 = np.full(p, -1, dtype=np.int32)
        self._comp = np.zeros(p, dtype=np.int32)
        self._U = U
        flags = _nan_flags(self._V, self._fortran)
        self._nonzero, self._positive = flags["nonzero"], flags["positive"]
        self._nonneg, self._nonpos = flags["nonneg"], flags["nonpos"]
        self._rung_start = [0, p]
        self._exprs: list[Expression | None] = list(Expression.primaries(self.names, self.units))
        for rung in range(1, self.max_rung):
            self._grow(rung)
        self._n_last: tuple[int, int] | None = None
        self._fitted = True
        return self

    def _maxc(self) -> int:
        return _NO_LIMIT if self.max_complexity is None else int(self.max_complexity)

    def _blocks(self, rung: int) -> list[tuple[int, int]]:
        """Split the first operands of ``rung`` into blocks of at most ~chunk_size candidates."""
        s, m = self._rung_start[rung - 1], self._rung_start[rung]
        if m <= s:
            return []
        mask = self._mask(rung)
        n_un = int(mask[1:14].sum())
        n_bin = int(mask[_ADD]) + int(mask[_SUB]) * (2 if self._fortran else 1)
        n_bin += int(mask[_ABS_DIFF]) + int(mask[_MULT]) + 2 * int(mask[_DIV])
        a = np.arange(s, m, dtype=np.int64)
        cum = np.cumsum(n_un + n_bin * (s + (m - a - 1)))
        cuts = np.searchsorted(cum, np.arange(self.chunk_size, cum[-1], self.chunk_size),
                               side="right")
        edges = [s] + [int(c) + s for c in np.unique(cuts) if 0 < c < m - s] + [m]
        return list(zip(edges[:-1], edges[1:], strict=True))

    def _enumerate(self, rung: int, a_lo: int, a_hi: int):
        s, m = self._rung_start[rung - 1], self._rung_start[rung]
        mask = self._mask(rung)
        n_un = int(mask[1:14].sum())
        bound = (a_hi - a_lo) * (n_un + 7 * m)
        c_op = np.empty(bound, dtype=np.int8)
        c_a = np.empty(bound, dtype=np.int32)
        c_b = np.empty(bound, dtype=np.int32)
        k = _enumerate(a_lo, a_hi, s, m, self._op, self._ch0, self._ch1, self._comp, self._U,
                       self._nonzero, self._positive, self._nonneg, self._nonpos, mask,
                       self._fortran, rung == self.max_rung, self._maxc(), c_op, c_a, c_b)
        return c_op[:k], c_a[:k], c_b[:k]

    def _grow(self, rung: int) -> None:
        """Generate, filter and de-duplicate stored rung ``rung``."""
        parts_v, parts_code = [], []
        n = self.X.shape[0]
        for a_lo, a_hi in self._blocks(rung):
            c_op, c_a, c_b = self._enumerate(rung, a_lo, a_hi)
            vals = np.empty((len(c_op), n))
            idx = np.empty(len(c_op), dtype=np.int64)
            k, _, _ = _values_codes(c_op, c_a, c_b, len(c_op), self._V, self._fortran,
                                    self.min_abs, self.max_abs, False, vals, idx)
            parts_v.append(vals[:k].copy())
            parts_code.append((c_op[idx[:k]], c_a[idx[:k]], c_b[idx[:k]]))
        if parts_v:
            new_v = np.concatenate(parts_v)
            c_op = np.concatenate([c[0] for c in parts_code])
            c_a = np.concatenate([c[1] for c in parts_code])
            c_b = np.concatenate([c[2] for c in parts_code])
        else:
            new_v = np.empty((0, n))
            c_op = np.empty(0, np.int8)
            c_a = c_b = np.empty(0, np.int32)
        keep = self._dedup(new_v, c_op, c_a, c_b)
        new_v, c_op, c_a, c_b = new_v[keep], c_op[keep], c_a[keep], c_b[keep]
        self._append(new_v, c_op, c_a, c_b)

    def _dedup(self, new_v, c_op, c_a, c_b) -> np.ndarray:
        """Mask of new features to keep: equal features collapse to the simplest."""
        m_old = self._V.shape[0]
        k = len(c_op)
        keep = np.ones(k, dtype=np.bool_)
        if k == 0:
            return keep
        if self._fortran:
            allv = new_v
            is_new = np.ones(k, dtype=np.bool_)
        else:
            allv = np.concatenate([self._V, new_v])
            is_new = np.r_[np.zeros(m_old, np.bool_), np.ones(k, np.bool_)]
        n = allv.shape[1]
        tag = 1.0 + 0.001 * np.arange(1, n + 1)
        with np.errstate(invalid="ignore", over="ignore"):
            fp = np.sqrt(((tag + allv) ** 2).sum(axis=1))
            maxabs = np.abs(allv).max(axis=1)
        order = np.argsort(fp, kind="stable")
        pi, pj = _duplicate_pairs(order, fp, np.ascontiguousarray(allv), maxabs, is_new,
                                  self._fortran)
        if not len(pi):
            return keep
        offset = 0 if self._fortran else m_old
        parent = {}

        def find(x):
            while parent.get(x, x) != x:
                x = parent[x]
            return x

        for i, j in zip(pi, pj, strict=True):
            if not is_new[i] or not is_new[j]:  # equal to an older stored feature: drop the new
                keep[(j if is_new[j] else i) - offset] = False
                continue
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
        groups: dict[int, list[int]] = {}
        for x in list(parent):
            groups.setdefault(find(x), []).append(x)
        for root, members in groups.items():
            members = sorted(set(members) | {root})
            exprs = [self._code_expr(c_op[x - offset], c_a[x - offset], c_b[x - offset])
                     for x in members]
            best = min(range(len(members)), key=lambda t: exprs[t].sort_key())
            for t, x in enumerate(members):
                if t != best:
                    keep[x - offset] = False
        return keep

    def _append(self, new_v, c_op, c_a, c_b) -> None:
        k = len(c_op)
        self._V = np.ascontiguousarray(np.concatenate([self._V, new_v]))
        self._op = np.concatenate([self._op, c_op.astype(np.int8)])
        self._ch0 = np.concatenate([self._ch0, c_a.astype(np.int32)])
        self._ch1 = np.concatenate([self._ch1, c_b.astype(np.int32)])
        comp = self._comp[c_a] + 1 + np.where(c_b >= 0, self._comp[np.maximum(c_b, 0)], 0)
        self._comp = np.concatenate([self._comp, comp.astype(np.int32)])
        self._U = np.concatenate([self._U, self._units_of(c_op, c_a, c_b)])
        flags = _nan_flags(new_v, self._fortran)
        self._nonzero = np.concatenate([self._nonzero, flags["nonzero"]])
        self._positive = np.concatenate([self._positive, flags["positive"]])
        self._nonneg = np.concatenate([self._nonneg, flags["nonneg"]])
        self._nonpos = np.concatenate([self._nonpos, flags["nonpos"]])
        self._rung_start.append(self._rung_start[-1] + k)
        self._exprs.extend([None] * k)

    def _units_of(self, c_op, c_a, c_b) -> np.ndarray:
        Ua = self._U[c_a]
        Ub = self._U[np.maximum(c_b, 0)]
        factor = {
            _INV: -1.0, _SQ: 2.0, _CB: 3.0, _SIX_POW: 6.0, _SQRT: 0.5, _CBRT: 1 / 3, _ABS: 1.0,
            _ADD: 1.0, _SUB: 1.0, _ABS_DIFF: 1.0,
        }
        out = np.zeros_like(Ua)
        for code, f in factor.items():
            rows = c_op == code
            out[rows] = f * Ua[rows]
        out[c_op == _MULT] = (Ua + Ub)[c_op == _MULT]
        out[c_op == _DIV] = (Ua - Ub)[c_op == _DIV]
        return out  # transcendental functions: dimensionless (zeros)

    # --- expressions ---------------------------------------------------------------------------
    def expression(self, i: int) -> Expression:
        """The stored feature number ``i`` (primary features first)."""
        e = self._exprs[i]
        if e is None:
            e = self._code_expr(self._op[i], self._ch0[i], self._ch1[i])
            self._exprs[i] = e
        return e

    def _code_expr(self, code, a, b) -> Expression:
        code, a, b = int(code), int(a), int(b)
        if code == _IDENT:
            return self.expression(a)
        op = BY_CODE[code]
        if op.arity == 1:
            return Expression(op, (self.expression(a),))
        return Expression(op, (self.expression(a), self.expression(b)))

    @property
    def primaries(self) -> list[Expression]:
        self.fit()
        return [self.expression(i) for i in range(len(self.names))]

    # --- sizes -----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not self._fitted:
            self.fit()

    @property
    def n_stored(self) -> int:
        """Features kept in memory (rungs below ``max_rung``)."""
        self._check_fitted()
        return int(self._V.shape[0])

    @property
    def rung_sizes(self) -> list[int]:
        """Features per rung: stored rungs after de-duplication, then the last rung's count."""
        self._check_fitted()
        sizes = [b - a for a, b in zip(self._rung_start[:-1], self._rung_start[1:], strict=True)]
        if self.max_rung > 0:
            sizes.append(self._last_counts()[0])
        return sizes

    @property
    def n_features(self) -> int:
        """The number of candidates in the whole space (see the module docstring)."""
        return int(sum(self.rung_sizes))

    @property
    def n_selectable(self) -> int:
        """Candidates the screen may select (within ``min_abs``/``max_abs``, finite)."""
        self._check_fitted()
        stored = self._score_stored_counts()
        return stored + (self._last_counts()[1] if self.max_rung > 0 else 0)

    def _score_stored_counts(self) -> int:
        codes = (np.zeros(self.n_stored, np.int8), np.arange(self.n_stored, dtype=np.int32),
                 np.full(self.n_stored, -1, np.int32))
        out = np.empty(self.n_stored)
        _, n_sel = _score_codes(*codes, self.n_stored, self._V, self._fortran, self.min_abs,
                                self.max_abs, *_no_targets(self.X.shape[0], -np.inf), out)
        return int(n_sel)

    def _last_counts(self) -> tuple[int, int]:
        if self._n_last is None:
            counted = sel = 0
            for c, s_, _, _ in self._run_jobs(self._last_jobs(), _no_targets(self.X.shape[0]),
                                              lambda: np.inf):  # keeps no candidate
                counted += c
                sel += s_
            self._n_last = (counted, sel)
        return self._n_last

    # --- screening -----------------------------------------------------------------------------
    def _last_jobs(self) -> list[tuple[str, int, int]]:
        if self.max_rung == 0:
            return []
        return [("last", lo, hi) for lo, hi in self._blocks(self.max_rung)]

    def _stored_jobs(self) -> list[tuple[str, int, int]]:
        return [("stored", lo, min(lo + self.chunk_size, self.n_stored))
                for lo in range(0, self.n_stored, self.chunk_size)]

    def _codes(self, job):
        kind, lo, hi = job
        if kind == "stored":
            return (np.zeros(hi - lo, np.int8), np.arange(lo, hi, dtype=np.int32),
                    np.full(hi - lo, -1, np.int32))
        return self._enumerate(self.max_rung, lo, hi)

    def _run_jobs(self, jobs, targets, threshold: Callable[[], float],
                  generic: Callable | None = None):
        """Yield (n counted, n selectable, codes, scores) per job, in job order."""

        def work(job):
            c_op, c_a, c_b = self._codes(job)
            k = len(c_op)
            if generic is None:
                scores = np.empty(k)
                basis, W, tail, yc, task, n_tasks, sstot = targets
                counted, sel = _score_codes(c_op, c_a, c_b, k, self._V, self._fortran,
                                            self.min_abs, self.max_abs, basis, W, tail,
                                            threshold(), yc, task, n_tasks, sstot, scores)
            else:
                counted, sel, scores = self._generic_scores(c_op, c_a, c_b, generic)
            keep = np.flatnonzero((scores >= threshold()) & (scores > -np.inf))
            return counted, sel, (c_op[keep], c_a[keep], c_b[keep]), scores[keep]

        n_jobs = (os.cpu_count() or 1) if self.n_jobs == -1 else self.n_jobs
        if n_jobs == 1 or len(jobs) <= 1:
            for job in jobs:
                yield work(job)
            return
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            # bounded look-ahead keeps memory at a few blocks per thread
            pending = []
            it = iter(jobs)
            for job in it:
                pending.append(pool.submit(work, job))
                if len(pending) >= 2 * n_jobs:
                    break
            while pending:
                fut = pending.pop(0)
                yield fut.result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(work, nxt))

    def _generic_scores(self, c_op, c_a, c_b, score):
        k = len(c_op)
        n = self.X.shape[0]
        scores = np.full(k, -np.inf)
        counted = sel = 0
        step = max(1, (1 << 22) // n)
        for lo in range(0, k, step):
            hi = min(k, lo + step)
            vals = np.empty((hi - lo, n))
            idx = np.empty(hi - lo, dtype=np.int64)
            j, c, s_ = _values_codes(c_op[lo:hi], c_a[lo:hi], c_b[lo:hi], hi - lo, self._V,
                                     self._fortran, self.min_abs, self.max_abs, True, vals, idx)
            counted += c
            sel += s_
            if j:
                s = np.asarray(score(np.ascontiguousarray(vals[:j].T)), dtype=np.float64)
                if s.shape != (j,):
                    raise ValueError(f"score returned shape {s.shape} for {j} candidates")
                scores[lo + idx[:j]] = np.where(np.isnan(s), -np.inf, s)
        return counted, sel, scores

    def screen(
        self,
        score,
        n_select: int,
        exclude: Sequence[Expression] = (),
        progress: Callable[[int, int], None] | None = None,
    ) -> ScreenResult:
        """The ``n_select`` best distinct features of the whole space under ``score``.

        Parameters
        ----------
        score : PearsonScore or callable
            :func:`~bigmax.analytics.sisso.screening.pearson_score` (scored in compiled code),
            or any callable mapping values (n_samples, n_candidates) to scores (n_candidates,),
            higher is better (NaN counts as unusable).
        n_select : int
            How many features to keep.
        exclude : sequence of Expression
            Features already chosen; candidates equal to one of them (|corr| >= 1 - 1e-10) are
            skipped.
        progress : callable, optional
            Called as ``progress(done, total)`` after each block.

        Returns
        -------
        ScreenResult
            ``values`` (n_samples, k), ``expressions`` and ``scores``, best first (score, then
            complexity, then postfix text), with k = min(n_select, available).
        """
        self._check_fitted()
        if not isinstance(n_select, int | np.integer) or n_select < 1:
            raise FeatureSpaceError(f"n_select must be a positive integer, got {n_select!r}")
        ex = [e for e in exclude]
        for e in ex:
            if not isinstance(e, Expression):
                raise FeatureSpaceError(f"exclude must hold Expression objects, got {e!r}")
        ex_z = standardize(np.array([e.evaluate(self.X) for e in ex])) if ex else None
        top = TopK(int(n_select), exclude=ex_z,
                   score_window=1e-3 if isinstance(score, PearsonScore) else None)
        if isinstance(score, PearsonScore):
            if score.n_samples != self.X.shape[0]:
                raise FeatureSpaceError(
                    f"the score has {score.n_samples} samples, the feature space "
                    f"{self.X.shape[0]}"
                )
            targets = score.kernel_args()
            generic = None
        elif callable(score):
            targets = _no_targets(self.X.shape[0])
            generic = score
        else:
            raise FeatureSpaceError(f"score must be callable, got {type(score).__name__}")
        stored_jobs, last_jobs = self._stored_jobs(), self._last_jobs()
        jobs = stored_jobs + last_jobs
        counted = sel = 0
        for done, (c, s_, codes, scores) in enumerate(
            self._run_jobs(jobs, targets, lambda: top.threshold, generic),
            start=1,
        ):
            if done > len(stored_jobs):
                counted += c
                sel += s_
            c_op, c_a, c_b = codes

            def build(i, c_op=c_op, c_a=c_a, c_b=c_b):
                expr = self._code_expr(c_op[i], c_a[i], c_b[i])
                vals = _eval_one(int(c_op[i]), int(c_a[i]), int(c_b[i]), self._V,
                                 self._fortran)
                return expr, vals

            offer_block(top, scores, build)
            if progress is not None:
                progress(done, len(jobs))
        if self._n_last is None and self.max_rung > 0:
            self._n_last = (counted, sel)
        return top.result()


def _no_targets(n: int, thr: float | None = None) -> tuple:
    """Kernel arguments that only count (no target to score against)."""
    args = (np.zeros((0, n)), np.zeros((0, 1)), np.zeros((0, 2)), np.zeros((0, n)),
            np.zeros(n, np.int64), 1, np.zeros(0))
    return args if thr is None else args[:3] + (thr,) + args[3:]
