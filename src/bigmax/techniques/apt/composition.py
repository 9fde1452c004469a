"""Composition from ranged ions: counts, molecular ions split into atoms, fractions with errors.

Each range count ``N_r`` is Poisson; a background estimate ``B_r`` (from ``spectrum.background``)
is subtracted and adds its own variance. A fraction ``f_e = A_e / T`` (atoms of ``e`` over all
atoms, where a CrO2+ ion gives one Cr and two O) then has the first-order variance
``sum_r (c_re - f_e c_r)^2 var(N_r) / T^2`` (``c_re`` atoms of ``e`` in range ``r``'s ion,
``c_r`` all its atoms): the Poisson error with ``var = N_r``, and the background-propagated
error with ``var = N_r + var(B_r)``. Counting is one parallel numba pass over the labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import pandas as pd

from bigmax.techniques.apt.ranges import RangeTable, label_ions
from bigmax.techniques.apt.spectrum import (
    Background,
    BackgroundModel,
    MassSpectrum,
    background,
    mass_spectrum,
)


class CompositionError(ValueError):
    """Labels and ranges that do not fit together; the message names which."""


@numba.njit(parallel=True, cache=True)
def _count_labels(labels, n_ranges):  # pragma: no cover - compiled
    """Per-range counts (labels in 0..n-1; -1 unranged is skipped) plus the min and max label."""
    n = labels.shape[0]
    n_chunks = min(64, max(1, n // 1_000_000))
    step = (n + n_chunks - 1) // n_chunks
    width = (n_ranges // 8 + 2) * 8  # padded rows: threads never share a cache line
    local = np.zeros((n_chunks, width), dtype=np.int64)
    lows = np.zeros(n_chunks, dtype=np.int64)
    highs = np.zeros(n_chunks, dtype=np.int64)
    for c in numba.prange(n_chunks):
        lo = np.int64(0)
        hi = np.int64(-1)
        row = local[c]
        for i in range(c * step, min(n, (c + 1) * step)):
            k = np.int64(labels[i])
            if k < lo:
                lo = k
            if k > hi:
                hi = k
            if k >= 0 and k < n_ranges:
                row[k] += 1
        lows[c] = lo
        highs[c] = hi
    return local.sum(axis=0)[:n_ranges], lows.min(), highs.max()


@dataclass(frozen=True)
class RangeCounts:
    """Per-range gross counts, background, and the number of ions looked at."""

    counts: np.ndarray
    background: np.ndarray
    background_variance: np.ndarray
    n_ions: int

    @property
    def net(self) -> np.ndarray:
        return np.maximum(self.counts - self.background, 0.0)

    @property
    def ranged_fraction(self) -> float:
        return float(self.counts.sum() / self.n_ions) if self.n_ions else 0.0


def count_ranges(
    labels: np.ndarray, ranges: RangeTable, bkg: Background | None = None
) -> RangeCounts:
    """Ions per range from ``labels`` (range index per ion, -1 unranged, as ``label_ions``)."""
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise CompositionError(f"labels: expected a 1-D array, got shape {lab.shape}")
    if lab.size == 0:
        raise CompositionError("labels: the array is empty (no ions)")
    if not np.issubdtype(lab.dtype, np.integer):
        raise CompositionError(f"labels: expected integer range indices, got dtype {lab.dtype}")
    n = len(ranges)
    if n == 0:
        raise CompositionError("ranges: the range table is empty")
    counts, low, high = _count_labels(np.ascontiguousarray(lab), n)
    if low < -1 or high >= n:
        raise CompositionError(
            f"labels: values from {low} to {high}, but the ranges "
            f"have indices 0..{n - 1} (and -1 for unranged): labels from another range table?"
        )
    counts = counts.astype(np.float64)
    if bkg is None:
        b = v = np.zeros(n)
    else:
        if bkg.counts.shape != (n,):
            raise CompositionError(
                f"background: {bkg.counts.size} values for {n} ranges (from other ranges?)"
            )
        b, v = bkg.counts, bkg.variance
    return RangeCounts(counts, b, v, int(lab.size))


def _species(ranges: RangeTable, decompose: bool) -> tuple[list[str], np.ndarray]:
    """Species names and the (n_ranges, n_species) matrix of how many of each a range holds."""
    user = ranges.is_user
    if decompose:
        pairs = list(zip(ranges.composition, user, strict=True))
        names = list(dict.fromkeys(el for c, u in pairs if not u for el in c))
        mat = np.zeros((len(ranges), len(names)))
        for r, (comp, u) in enumerate(pairs):
            if not u:
                for el, k in comp.items():
                    mat[r, names.index(el)] += k
    else:
        pairs = list(zip(ranges.name, user, strict=True))
        names = list(dict.fromkeys(n for n, u in pairs if not u))
        mat = np.zeros((len(ranges), len(names)))
        for r, (name, u) in enumerate(pairs):
            if not u:
                mat[r, names.index(name)] = 1.0
    return names, mat


def composition_table(
    counts: RangeCounts, ranges: RangeTable, decompose: bool = True
) -> pd.DataFrame:
    """Tidy table, one row per element (``decompose``) or per ion: counts, fraction, errors.

    Columns: ``species``, ``counts`` (atoms or ions, background subtracted), ``background``,
    ``fraction``, ``error_poisson``, ``error_total`` (Poisson plus background), ``percent``.
    ``attrs`` holds ``ranged_fraction``, ``n_ions`` and ``basis`` ('atomic' or 'ionic').
    """
    names, mat = _species(ranges, decompose)
    if not names:
        raise CompositionError("ranges: no range names a real element (only user labels)")
    net = counts.net
    atoms = net @ mat
    total = atoms.sum()
    if total <= 0:
        raise CompositionError(
            "ranges: no ion falls in any range (or all counts are background); "
            "do the ranges belong to this data set?"
        )
    frac = atoms / total
    per_range = mat.sum(axis=1)
    # d f_e / d N_r = (c_re - f_e c_r) / T
    deriv = (mat - frac[None, :] * per_range[:, None]) / total
    var_p = (deriv**2 * counts.counts[:, None]).sum(axis=0)
    var_t = (deriv**2 * (counts.counts + counts.background_variance)[:, None]).sum(axis=0)
    table = pd.DataFrame(
        {
            "species": names,
            "counts": atoms,
            "background": counts.background @ mat,
            "fraction": frac,
            "error_poisson": np.sqrt(var_p),
            "error_total": np.sqrt(var_t),
        }
    )
    table["percent"] = 100.0 * table["fraction"]
    table.attrs.update(
        ranged_fraction=counts.ranged_fraction,
        n_ions=counts.n_ions,
        basis="atomic" if decompose else "ionic",
    )
    return table


def composition(
    mq: np.ndarray,
    ranges: RangeTable,
    *,
    decompose: bool = True,
    background_model: BackgroundModel | None = None,
    bin_width: float = 0.01,
    mask: np.ndarray | None = None,
) -> pd.DataFrame:
    """Composition of the ions ``mq`` (optionally only where ``mask``) under ``ranges``.

    With ``background_model`` ('constant', 'linear' or 'tof'), each range's background is
    estimated from a window left of it in a spectrum of ``bin_width`` and subtracted.
    """
    values = np.asarray(mq)
    if values.ndim != 1:
        raise CompositionError(f"mq: expected a 1-D array, got shape {values.shape}")
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != values.shape or mask.dtype != bool:
            raise CompositionError(
                f"mask: expected a boolean array of shape {values.shape}, got {mask.dtype} "
                f"{mask.shape}"
            )
        values = values[mask]
    if values.size == 0:
        raise CompositionError("mq: no ions (empty array, or the mask selects none)")
    if np.isnan(values).any():
        raise CompositionError(f"mq: {int(np.isnan(values).sum())} NaN values")
    labels = label_ions(values, ranges)
    bkg = None
    if background_model is not None:
        top = max(float(ranges.hi.max()) + 1.0, 1.0)
        spectrum: MassSpectrum = mass_spectrum(values, bin_width, (0.0, top))
        bkg = background(spectrum, ranges.lo, ranges.hi, background_model)
    return composition_table(count_ranges(labels, ranges, bkg), ranges, decompose)
