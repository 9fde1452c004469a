"""Automatic ranging: find the peaks of a mass spectrum and name the ions behind them.

The ions are recognised by their natural isotope patterns, as an expert (and Wei et al.,
Patterns 2:100192, 2021) would: Si+ is three peaks at 28, 29 and 30 Da in the ratio
92 : 4.7 : 3.1, Si2+ the same at 14, 14.5 and 15 Da. Steps:

1. peaks: ``scipy.signal.find_peaks`` on the smoothed spectrum over a running-percentile background,
   keeping peaks ``min_significance`` standard deviations above the Poisson noise;
2. candidates: every naturally occurring element at charge 1-3, common residual-gas ions
   (H2, H2O, OH, N2, O2, CO, ...), and, in a second pass, small molecular ions (XO, XO2, X2O,
   XH, XY, ...) of the elements the first pass found; each has its isotope pattern at its m/q;
3. explanation: greedily, the candidate that explains most background-free counts (its
   amplitude capped by every significant isotope line it predicts, so an absent line vetoes it)
   takes its share of the peaks, until no candidate explains a significant amount;
4. confidence: a chi-square comparison of the chosen ion with every rival that claims the same
   main peak (all its predicted lines, including the ones with no peak) turned into a
   probability; a peak shared by several ions keeps the share each explains.

Everything per peak or per candidate is a few hundred small numpy operations: the spectrum is
binned once (the heavy part, numba), so auto-ranging 10^8 ions costs little more than the
spectrum.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter1d, percentile_filter
from scipy.optimize import nnls
from scipy.signal import find_peaks, peak_widths

from bigmax.techniques.apt.ranges import RangeTable
from bigmax.techniques.apt.spectrum import MassSpectrum, SpectrumError, mass_spectrum

#: Residual-gas and hydride ions seen in most spectra, tried in the first pass.
GAS_IONS: tuple[dict[str, int], ...] = (
    {"H": 2},
    {"H": 3},
    {"O": 2},
    {"O": 1, "H": 1},
    {"O": 1, "H": 2},
    {"N": 2},
    {"C": 1, "O": 1},
    {"C": 1, "O": 2},
)
#: Molecular shapes tried in the second pass for found elements X, Y.
_SHAPES = ((("X", 2),), (("X", 1), ("O", 1)), (("X", 1), ("O", 2)), (("X", 2), ("O", 1)),
           (("X", 1), ("H", 1)), (("X", 1), ("H", 2)), (("X", 1), ("N", 1)))
ATOMIC_PRIOR = {1: 1.0, 2: 1.0, 3: 0.3}
MOLECULAR_PRIOR = 0.3
#: Prior weight of "no ion here" against an ion, in the confidence.
NONE_PRIOR = 1.0
#: A peak is ranged as the ion that explains most of it, if that is at least this share.
MIN_SHARE = 0.25
NOBLE = frozenset({"He", "Ne", "Ar", "Kr", "Xe", "Rn"})


class AutoRangeError(ValueError):
    """Auto-ranging cannot run on this input; the message names the parameter."""


@lru_cache(maxsize=1)
def _isotopes() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Natural isotope masses (Da) and abundances (fractions) of every element that has them."""
    import periodictable as pt

    table = {}
    for el in pt.elements:
        if el.number == 0:
            continue
        pairs = [(el[i].mass, el[i].abundance / 100.0) for i in el.isotopes if el[i].abundance]
        if pairs:
            masses, abund = np.array(pairs).T
            table[el.symbol] = (masses, abund / abund.sum())
    return table


def isotope_pattern(
    formula: dict[str, int], charge: int = 1, merge: float = 0.05, cutoff: float = 1e-4
) -> tuple[np.ndarray, np.ndarray]:
    """(m/q lines, fractions) of an ion: element patterns convolved, lines closer than ``merge``
    Da (in m/q) merged at their weighted mean, lines below ``cutoff`` dropped."""
    table = _isotopes()
    masses, weights = np.zeros(1), np.ones(1)
    for el, n in sorted(formula.items()):
        if el not in table:
            raise AutoRangeError(f"formula: {el!r} has no natural isotopes")
        m_el, w_el = table[el]
        for _ in range(n):
            masses = (masses[:, None] + m_el[None, :]).ravel()
            weights = (weights[:, None] * w_el[None, :]).ravel()
            keep = weights >= cutoff * 1e-2
            masses, weights = masses[keep], weights[keep]
    mq = masses / charge
    order = np.argsort(mq)
    mq, weights = mq[order], weights[order]
    group = np.concatenate([[0], np.cumsum(np.diff(mq) > merge)])
    w = np.bincount(group, weights=weights)
    m = np.bincount(group, weights=weights * mq) / w
    keep = w >= cutoff
    return m[keep], w[keep] / w[keep].sum()


def ion_name(formula: dict[str, int], charge: int) -> str:
    """'Cr2O2+' style: elements in the order given, counts above 1, then the charge."""
    body = "".join(f"{el}{n if n > 1 else ''}" for el, n in formula.items())
    return f"{body}{charge if charge > 1 else ''}+"


@dataclass
class Peaks:
    """Detected peaks: position, matching half-width, range bounds and background-free counts."""

    position: np.ndarray
    tol: np.ndarray
    low: np.ndarray
    high: np.ndarray
    counts: np.ndarray
    background: np.ndarray


def detect_peaks(
    spectrum: MassSpectrum,
    min_significance: float = 5.0,
    smooth: float = 1.5,
    background_width: float = 3.0,
    min_counts: float = 10.0,
) -> tuple[Peaks, np.ndarray]:
    """Peaks of ``spectrum`` above a running 30th-percentile background (also returned).

    Range bounds are where the smoothed peak falls to 10 % of its height above background
    (``peak_widths`` at ``rel_height=0.9``), cut half-way between overlapping neighbours.
    """
    counts = spectrum.counts.astype(np.float64)
    w = spectrum.bin_width
    smoothed = gaussian_filter1d(counts, smooth)
    size = max(3, int(background_width / w) | 1)
    # a low percentile ignores the peaks (they cover a small part of any 3 Da window)
    bkg = gaussian_filter1d(percentile_filter(smoothed, 30, size=size, mode="nearest"), 2.0)
    bkg = np.maximum(bkg, 0.0)
    z = (smoothed - bkg) / np.sqrt(bkg + 1.0)
    idx, _ = find_peaks(z, height=min_significance, distance=max(1, int(0.1 / w)))
    if idx.size == 0:
        empty = np.zeros(0)
        return Peaks(empty, empty, empty, empty, empty, empty), bkg
    excess = np.maximum(smoothed - bkg, 0.0)
    half = peak_widths(excess, idx, rel_height=0.5)
    foot = peak_widths(excess, idx, rel_height=0.9)
    edges0 = spectrum.edges[0]
    pos = edges0 + (idx + 0.5) * w
    fwhm = half[0] * w
    left = edges0 + (foot[2] + 0.5) * w
    right = edges0 + (foot[3] + 0.5) * w
    for k in range(1, idx.size):  # neighbours share their overlap half-way
        if left[k] < right[k - 1]:
            cut = 0.5 * (pos[k - 1] + pos[k])
            cut = min(max(cut, left[k]), right[k - 1])
            right[k - 1], left[k] = cut, cut
    cum = np.concatenate([[0.0], np.cumsum(counts - bkg)])
    cum_b = np.concatenate([[0.0], np.cumsum(bkg)])

    def integral(c, a, b):
        return np.interp(b, spectrum.edges, c) - np.interp(a, spectrum.edges, c)

    net = np.maximum(integral(cum, left, right), 0.0)
    under = integral(cum_b, left, right)
    tol = np.clip(0.5 * fwhm, 0.03, 0.3) + 0.02
    keep = net >= min_counts
    return Peaks(pos[keep], tol[keep], left[keep], right[keep], net[keep], under[keep]), bkg


@dataclass
class _Candidate:
    formula: dict[str, int]
    charge: int
    lines: np.ndarray
    weights: np.ndarray
    prior: float

    @property
    def name(self) -> str:
        return ion_name(self.formula, self.charge)


def _candidates(
    elements: Iterable[str], molecules: Iterable[dict[str, int]], max_charge: int
) -> list[_Candidate]:
    out = []
    for el in elements:
        for z in range(1, max_charge + 1):
            m, w = isotope_pattern({el: 1}, z)
            out.append(_Candidate({el: 1}, z, m, w, ATOMIC_PRIOR.get(z, 0.3)))
    for formula in molecules:
        for z in range(1, min(max_charge, 2) + 1):
            m, w = isotope_pattern(formula, z)
            out.append(_Candidate(dict(formula), z, m, w, MOLECULAR_PRIOR))
    return out


def _molecules(found: Sequence[str]) -> list[dict[str, int]]:
    out: list[dict[str, int]] = [dict(g) for g in GAS_IONS]
    for x in found:
        for shape in _SHAPES:
            formula: dict[str, int] = {}
            for el, n in shape:
                el = x if el == "X" else el
                formula[el] = formula.get(el, 0) + n
            if formula not in out:
                out.append(formula)
    for x, y in itertools.combinations(found, 2):
        if {x: 1, y: 1} not in out and "O" not in (x, y) and "H" not in (x, y):
            out.append({x: 1, y: 1})
    return out


class _Model:
    """Weighted non-negative least squares of peak counts on candidates' isotope patterns.

    Rows are the detected peaks (observed background-free counts) plus, per candidate, the
    lines it predicts where no peak was found (observed 0). The variance of a row is Poisson
    (counts plus background) plus ``systematic`` relative error, since measured isotope ratios
    are off by a few per cent (overlaps, detector dead time).
    """

    def __init__(self, peaks: Peaks, spectrum: MassSpectrum, bkg: np.ndarray,
                 systematic: float = 0.03) -> None:
        self.peaks = peaks
        self.spectrum = spectrum
        self.bkg_density = bkg / spectrum.bin_width
        obs = peaks.counts.astype(np.float64)
        self.obs = obs
        self.sigma = np.sqrt(obs + peaks.background + 1.0 + (systematic * obs) ** 2)
        self._cache: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}

    def lines(self, cand: _Candidate) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(column over the peaks, fractions of missing lines, their noise sigma)."""
        key = id(cand)
        if key in self._cache:
            return self._cache[key]
        pos, tol = self.peaks.position, self.peaks.tol
        column = np.zeros(pos.size)
        matched = np.zeros(cand.lines.size, dtype=bool)
        if pos.size:
            j = np.clip(np.searchsorted(pos, cand.lines), 0, pos.size - 1)
            left = np.maximum(j - 1, 0)
            j = np.where(np.abs(pos[left] - cand.lines) < np.abs(pos[j] - cand.lines), left, j)
            matched = np.abs(pos[j] - cand.lines) <= tol[j]
            np.add.at(column, j[matched], cand.weights[matched])
        miss = cand.lines[~matched]
        density = np.interp(miss, self.spectrum.centers, self.bkg_density)
        noise = np.sqrt(density * 0.1 + 1.0)
        out = (column, cand.weights[~matched], noise)
        self._cache[key] = out
        return out

    def fit(self, cands: Sequence[_Candidate]) -> tuple[float, np.ndarray]:
        """(chi-square, amplitudes) of the best non-negative combination of ``cands``."""
        if not cands:
            return float(((self.obs / self.sigma) ** 2).sum()), np.zeros(0)
        parts = [self.lines(c) for c in cands]
        n_miss = [p[1].size for p in parts]
        rows = self.obs.size + sum(n_miss)
        design = np.zeros((rows, len(cands)))
        target = np.zeros(rows)
        design[: self.obs.size] = np.stack([p[0] for p in parts], axis=1) / self.sigma[:, None]
        target[: self.obs.size] = self.obs / self.sigma
        r = self.obs.size
        for i, (_, frac, noise) in enumerate(parts):
            design[r : r + frac.size, i] = frac / noise
            r += frac.size
        amp, norm = nnls(design, target, maxiter=50 * len(cands) + 100)
        return float(norm**2), amp

    def claims(self, cand: _Candidate, peak: int) -> bool:
        column = self.lines(cand)[0]
        return bool(column[peak] >= 0.2 * cand.weights.max())


def _prior(cand: _Candidate, found: set[str]) -> float:
    prior = cand.prior
    if set(cand.formula) <= found:
        prior *= 3.0  # an element already seen (other charge, other molecule) is expected
    if set(cand.formula) & NOBLE:
        prior *= 0.1
    return prior


def _select(
    pool: list[_Candidate],
    model: _Model,
    min_gain: float,
    min_explained: float,
    max_ions: int,
    allowed: set[str] | None,
) -> tuple[list[_Candidate], np.ndarray, list[float]]:
    """Forward stepwise selection: add the candidate that lowers chi-square most (with prior)."""
    chosen: list[_Candidate] = []
    found: set[str] = set()
    chi2, amp = model.fit(chosen)
    pool = list(pool)
    for _ in range(max_ions):
        best, best_gain, best_fit = None, min_gain, None
        for cand in pool:
            c2, a = model.fit([*chosen, cand])
            if a[-1] * model.lines(cand)[0].sum() < min_explained:
                continue
            gain = 0.5 * (chi2 - c2) + np.log(_prior(cand, found))
            if gain > best_gain:
                best, best_gain, best_fit = cand, gain, (c2, a)
        if best is None:
            break
        chosen.append(best)
        pool.remove(best)
        chi2, amp = best_fit
        new = set(best.formula) - found
        found |= set(best.formula)
        if new and allowed is not None:
            pool.extend(_extend(found, new, pool, chosen, allowed))
    # drop ions that later choices made redundant, then score each against its rivals
    conf = []
    for i, cand in enumerate(chosen):
        others = chosen[:i] + chosen[i + 1 :]
        found_o = {el for c in others for el in c.formula}
        main = int(np.argmax(model.lines(cand)[0])) if model.obs.size else -1
        logl = [-0.5 * chi2 + np.log(_prior(cand, found_o))]
        c_none, _ = model.fit(others)
        logl.append(-0.5 * c_none + np.log(NONE_PRIOR))
        for rival in pool:
            if main >= 0 and model.claims(rival, main):
                c_r, _ = model.fit([*others, rival])
                logl.append(-0.5 * c_r + np.log(_prior(rival, found_o)))
        logl_arr = np.array(logl)
        weights = np.exp(logl_arr - logl_arr.max())
        conf.append(float(weights[0] / weights.sum()))
    return chosen, amp, conf


def _extend(
    found: set[str],
    new: set[str],
    pool: list[_Candidate],
    chosen: list[_Candidate],
    allowed: set[str],
) -> list[_Candidate]:
    """Molecular ions of newly found elements (with each other and with O, H, N)."""
    known = {(tuple(sorted(c.formula.items())), c.charge) for c in [*pool, *chosen]}
    out = []
    for formula in _molecules(sorted(found)):
        if not set(formula) & new or len(formula) > 2 or not set(formula) <= allowed:
            continue
        for z in (1, 2):
            if (tuple(sorted(formula.items())), z) in known:
                continue
            m, w = isotope_pattern(formula, z)
            out.append(_Candidate(dict(formula), z, m, w, MOLECULAR_PRIOR))
    return out


@dataclass
class AutoRangeResult:
    """Assigned ions with confidences, and the ranges (one per peak) they give."""

    ions: pd.DataFrame
    ranges: pd.DataFrame
    peaks: Peaks
    spectrum: MassSpectrum
    background: np.ndarray = field(repr=False)

    @property
    def elements(self) -> list[str]:
        found: set[str] = set()
        for formula in self.ions["formula"]:
            found.update(formula)
        return sorted(found)

    def ranged(self) -> pd.DataFrame:
        """Only the ranges that carry an ion (what a range file holds)."""
        return self.ranges[self.ranges["ion"].notna()].reset_index(drop=True)

    def to_range_table(self, min_confidence: float = 0.0) -> RangeTable:
        """The assigned ranges as a ``RangeTable`` (charges set; confidences in metadata)."""
        rows = self.ranged()
        rows = rows[rows["confidence"] >= min_confidence].reset_index(drop=True)
        palette = _palette(list(dict.fromkeys(rows["ion"])))
        table = RangeTable(
            rows["low"].to_numpy(),
            rows["high"].to_numpy(),
            list(rows["formula"]),
            charge=rows["charge"].to_numpy(),
            color=[palette[ion] for ion in rows["ion"]],
            source="autorange",
            metadata={"confidence": rows["confidence"].to_numpy(), "ion": list(rows["ion"])},
        )
        table.overlaps = table.find_overlaps()
        return table


def _palette(ions: list[str]) -> dict[str, str]:
    """A distinct RRGGBB colour per ion (matplotlib's tab20 cycle)."""
    from matplotlib import colormaps

    cmap = colormaps["tab20"]
    out = {}
    for i, ion in enumerate(ions):
        r, g, b, _ = cmap(i % 20)
        out[ion] = f"{int(r * 255):02X}{int(g * 255):02X}{int(b * 255):02X}"
    return out


def autorange(
    mq: np.ndarray | MassSpectrum,
    *,
    bin_width: float = 0.02,
    mq_max: float = 200.0,
    elements: Sequence[str] | None = None,
    max_charge: int = 3,
    molecules: bool = True,
    min_significance: float = 5.0,
    min_fraction: float = 2e-4,
    min_gain: float = 12.5,
    max_ions: int = 40,
) -> AutoRangeResult:
    """Find peaks in ``mq`` (or a ready spectrum) and identify their ions by isotope patterns.

    ``elements`` limits the candidate elements (default: every element with natural
    isotopes). An ion is accepted when it explains at least ``min_fraction`` of the ranged
    counts (and 20 counts). The result's ``ranges`` table has one row per peak: bounds, the ion
    (or None), its charge, the counts, the share of the peak that ion explains and the ion's
    confidence.
    """
    if isinstance(mq, MassSpectrum):
        spectrum = mq
    else:
        values = np.asarray(mq)
        if values.ndim != 1 or values.size == 0:
            raise AutoRangeError(f"mq: expected a non-empty 1-D array, got shape {values.shape}")
        try:
            spectrum = mass_spectrum(values, bin_width, (0.0, mq_max))
        except SpectrumError as err:
            raise AutoRangeError(str(err)) from err
    if not 1 <= int(max_charge) <= 7:
        raise AutoRangeError(f"max_charge: expected 1..7, got {max_charge!r}")
    table = _isotopes()
    pool = list(table) if elements is None else list(elements)
    unknown = [el for el in pool if el not in table]
    if unknown:
        raise AutoRangeError(f"elements: {unknown} are not elements with natural isotopes")
    peaks, bkg = detect_peaks(spectrum, min_significance)
    model = _Model(peaks, spectrum, bkg)
    min_explained = max(20.0, min_fraction * float(peaks.counts.sum()))
    gas = [dict(g) for g in GAS_IONS if set(g) <= set(pool)]
    chosen, amp, conf = _select(
        _candidates(pool, gas, max_charge),
        model,
        min_gain=min_gain,
        min_explained=min_explained,
        max_ions=max_ions,
        allowed=set(pool) if molecules else None,
    )
    return _result(chosen, amp, conf, model, spectrum, bkg)


def _result(chosen, amp, conf, model: _Model, spectrum, bkg) -> AutoRangeResult:
    peaks = model.peaks
    n = peaks.position.size
    contrib = np.zeros((n, len(chosen)))
    for i, cand in enumerate(chosen):
        contrib[:, i] = amp[i] * model.lines(cand)[0]
    ions = pd.DataFrame(
        {
            "ion": [c.name for c in chosen],
            "formula": [dict(c.formula) for c in chosen],
            "charge": [c.charge for c in chosen],
            "counts": [float(a) for a in amp],
            "confidence": conf,
        }
    )
    best = contrib.argmax(axis=1) if chosen else np.zeros(n, dtype=int)
    top = contrib.max(axis=1) if chosen else np.zeros(n)
    has = top > MIN_SHARE * peaks.counts
    share = np.minimum(np.divide(top, peaks.counts, out=np.zeros(n), where=peaks.counts > 0), 1)
    ranges = pd.DataFrame(
        {
            "low": peaks.low,
            "high": peaks.high,
            "peak": peaks.position,
            "counts": peaks.counts,
            "ion": [chosen[b].name if h else None for b, h in zip(best, has, strict=True)],
            "formula": [
                dict(chosen[b].formula) if h else None for b, h in zip(best, has, strict=True)
            ],
            "charge": [chosen[b].charge if h else 0 for b, h in zip(best, has, strict=True)],
            "share": share,
            "confidence": [
                conf[b] * s if h else 0.0 for b, h, s in zip(best, has, share, strict=True)
            ],
        }
    )
    return AutoRangeResult(ions, ranges, peaks, spectrum, bkg)


def check_ranges(
    mq: np.ndarray | MassSpectrum,
    ranges: RangeTable,
    *,
    bin_width: float = 0.02,
    min_significance: float = 5.0,
) -> pd.DataFrame:
    """How well each range's ion explains the peaks in it, by its natural isotope pattern.

    For every ion of ``ranges`` (with its charge, inferred if the file had none) the pattern is
    fitted alone to the detected peaks on its lines. Per range: ``peak_counts`` (background-free
    counts of the peaks inside), ``predicted`` (the fitted pattern's counts inside), and
    ``explained`` = min(predicted, peak_counts) / peak_counts, NaN where no peak rises above
    the background. A hand-made range whose ion does not fit its peaks shows a low value.
    """
    if isinstance(mq, MassSpectrum):
        spectrum = mq
    else:
        top = float(ranges.hi.max()) + 5.0 if len(ranges) else 10.0
        try:
            spectrum = mass_spectrum(np.asarray(mq), bin_width, (0.0, top))
        except SpectrumError as err:
            raise AutoRangeError(str(err)) from err
    peaks, bkg = detect_peaks(spectrum, min_significance)
    model = _Model(peaks, spectrum, bkg)
    table = _isotopes()
    rows = []
    fits: dict[tuple, tuple[float, _Candidate]] = {}
    for i in range(len(ranges)):
        comp, z = ranges.composition[i], int(ranges.charge[i])
        inside = (peaks.position >= ranges.lo[i]) & (peaks.position < ranges.hi[i])
        observed = float(peaks.counts[inside].sum())
        row = {"range": i, "ion": ranges.name[i], "charge": z, "low": ranges.lo[i],
               "high": ranges.hi[i], "peak_counts": observed}  # fmt: skip
        if z < 1 or not comp or not set(comp) <= set(table):
            rows.append(row | {"predicted": np.nan, "explained": np.nan})
            continue
        key = (tuple(sorted(comp.items())), z)
        if key not in fits:
            cand = _Candidate(dict(comp), z, *isotope_pattern(comp, z), 1.0)
            _, amp = model.fit([cand])
            fits[key] = (float(amp[0]), cand)
        amp, cand = fits[key]
        in_lines = (cand.lines >= ranges.lo[i]) & (cand.lines < ranges.hi[i])
        predicted = amp * float(cand.weights[in_lines].sum())
        explained = min(predicted, observed) / observed if observed > 0 else np.nan
        rows.append(row | {"predicted": predicted, "explained": explained})
    return pd.DataFrame(rows)
