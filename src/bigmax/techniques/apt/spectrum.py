"""Mass spectra and their backgrounds.

A spectrum of 10^8 ions must take well under a second on a laptop, so the counts come from a
numba kernel that computes each ion's bin index in one pass over the float32 array (per-thread
histograms, summed at the end) and never makes a float64 copy. The backgrounds are what a
composition needs: how many of the counts inside each range are noise, with a variance, from
windows left of each peak (IVAS and APAV do the same): a local constant, a local linear fit, or
a TOF-uniform model (noise flat in time of flight is ``1/sqrt(m)`` in mass-to-charge).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numba
import numpy as np

BackgroundModel = Literal["constant", "linear", "tof"]


class SpectrumError(ValueError):
    """Bad spectrum input; the message names the array or parameter and what was wanted."""


@numba.njit(parallel=True, cache=True, nogil=True)
def _histogram(values, lo, inv_width, n_bins, n_chunks):  # pragma: no cover - compiled
    n = values.shape[0]
    local = np.zeros((n_chunks, n_bins), dtype=np.int64)
    bad = np.zeros(n_chunks, dtype=np.int64)
    step = (n + n_chunks - 1) // n_chunks
    for c in numba.prange(n_chunks):
        start = c * step
        stop = min(n, start + step)
        row = local[c]
        nan = 0
        top = n_bins / inv_width
        for i in range(start, stop):
            x = (values[i] - lo) * inv_width
            if x >= 0.0 and x < n_bins:
                row[np.int64(x)] += 1
            elif x != x:
                nan += 1
            elif x >= n_bins and values[i] - lo <= top:
                row[n_bins - 1] += 1  # the last edge belongs to the last bin, as in numpy
        bad[c] = nan
    return local.sum(axis=0), bad.sum()


@dataclass(frozen=True)
class MassSpectrum:
    """Counts in equal bins of mass-to-charge (or time of flight); ``edges`` has one more value."""

    edges: np.ndarray
    counts: np.ndarray
    n_ions: int
    unit: str = "Da"

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def bin_width(self) -> float:
        return float(self.edges[1] - self.edges[0])

    def density(self) -> np.ndarray:
        """Counts per unit (per Da, or per ns for a TOF spectrum): comparable across bin widths."""
        return self.counts / self.bin_width

    def normalised(self) -> np.ndarray:
        """Fraction of all ions per unit (per Da or per ns): comparable across datasets."""
        return self.density() / max(self.n_ions, 1)

    def rebinned(self, max_points: int) -> MassSpectrum:
        """The same spectrum with at most ``max_points`` bins (neighbours summed), for summaries."""
        factor = max(1, -(-len(self.counts) // max_points))
        n = len(self.counts) // factor * factor
        counts = self.counts[:n].reshape(-1, factor).sum(axis=1)
        return MassSpectrum(self.edges[: n + 1 : factor], counts, self.n_ions, self.unit)


def _check_values(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise SpectrumError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise SpectrumError(f"{name}: the array is empty (no ions)")
    if arr.dtype not in (np.float32, np.float64):
        if not np.issubdtype(arr.dtype, np.number):
            raise SpectrumError(f"{name}: expected numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float32)
    return np.ascontiguousarray(arr)


def mass_spectrum(
    mq: np.ndarray,
    bin_width: float = 0.05,
    mq_range: tuple[float, float] | None = None,
    *,
    unit: str = "Da",
    name: str = "m/q",
) -> MassSpectrum:
    """Histogram of ``mq`` (float32 or float64, 1-D) in bins of ``bin_width``.

    ``mq_range`` defaults to ``(0, max)``. NaN values raise ``SpectrumError`` (a NaN m/q means a
    broken file, never a real ion); values outside the range are left out.
    """
    values = _check_values(mq, name)
    if not (np.isfinite(bin_width) and bin_width > 0):
        raise SpectrumError(f"bin_width: expected a positive number, got {bin_width!r}")
    if mq_range is None:
        finite_max = float(np.nanmax(values)) if values.size else 0.0
        if not np.isfinite(finite_max):
            raise SpectrumError(f"{name}: contains NaN or infinite values")
        mq_range = (min(0.0, float(np.nanmin(values))), finite_max)
    lo, hi = (float(v) for v in mq_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise SpectrumError(f"mq_range: expected (low, high) with high > low, got {mq_range!r}")
    n_bins = max(1, int(np.ceil((hi - lo) / bin_width - 1e-9)))
    if n_bins > 50_000_000:
        raise SpectrumError(
            f"bin_width: {bin_width!r} over {hi - lo:g} {unit} gives {n_bins} bins (max 5e7)"
        )
    edges = lo + bin_width * np.arange(n_bins + 1, dtype=np.float64)
    n_chunks = max(1, min(numba.get_num_threads() * 4, values.size // 65536 + 1))
    counts, n_nan = _histogram(values, lo, 1.0 / bin_width, n_bins, n_chunks)
    if n_nan:
        raise SpectrumError(f"{name}: {n_nan} NaN values (a corrupt file or column?)")
    return MassSpectrum(edges, counts, int(values.size), unit)


@dataclass(frozen=True)
class Background:
    """Background counts under each range, their variance, and the model that gave them."""

    counts: np.ndarray
    variance: np.ndarray
    model: str
    windows: np.ndarray  # (n_ranges, 2) fit window of each range


def _cumulative(spectrum: MassSpectrum):
    """Counts in any interval [a, b], interpolated linearly inside the end bins."""
    cum = np.concatenate([[0.0], np.cumsum(spectrum.counts, dtype=np.float64)])

    def counts_between(a, b):
        return np.interp(b, spectrum.edges, cum) - np.interp(a, spectrum.edges, cum)

    return counts_between


def _check_bounds(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo = np.atleast_1d(np.asarray(lo, dtype=np.float64))
    hi = np.atleast_1d(np.asarray(hi, dtype=np.float64))
    if lo.shape != hi.shape or lo.ndim != 1:
        raise SpectrumError(f"ranges: low and high bounds differ in shape ({lo.shape}, {hi.shape})")
    bad = ~(np.isfinite(lo) & np.isfinite(hi) & (hi > lo))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise SpectrumError(f"ranges: range {i} has bounds ({lo[i]!r}, {hi[i]!r}); need low < high")
    return lo, hi


def background(
    spectrum: MassSpectrum,
    lo: np.ndarray,
    hi: np.ndarray,
    model: BackgroundModel = "constant",
    window: float = 1.0,
    gap: float = 0.2,
) -> Background:
    """Background counts under the ranges ``[lo, hi]`` from a window left of each range.

    The window is ``[lo - gap - window, lo - gap]``, moved further left past any other range
    it would overlap, so a neighbouring peak is never taken for background. ``constant``: mean
    density of the window. ``linear``: least-squares line through the window's bins,
    integrated over the range. ``tof``: density ``A / sqrt(m)`` with ``A`` from the window
    counts (noise uniform in time of flight). The variance is the Poisson variance of the
    window counts scaled to the range (the statistical error of the estimate).
    """
    lo, hi = _check_bounds(lo, hi)
    if model not in ("constant", "linear", "tof"):
        raise SpectrumError(f"model: expected 'constant', 'linear' or 'tof', got {model!r}")
    if not (window > 0 and gap >= 0):
        raise SpectrumError(f"window/gap: need window > 0 and gap >= 0, got {window!r}, {gap!r}")
    between = _cumulative(spectrum)
    start = float(spectrum.edges[0])
    order = np.argsort(lo)
    slo, shi = lo[order], hi[order]
    windows = np.empty((lo.size, 2))
    for i in range(lo.size):  # a few hundred ranges at most: plain Python is fine here
        b = lo[i] - gap
        a = b - window
        for _ in range(lo.size):
            hit = (shi > a) & (slo < b)
            if not hit.any():
                break
            b = float(slo[hit].min()) - gap
            a = b - window
        a = max(a, start)
        b = max(b, a + spectrum.bin_width)
        windows[i] = a, b
    a, b = windows[:, 0], windows[:, 1]
    n_win = between(a, b)
    width_range = hi - lo
    if model == "constant":
        scale = width_range / (b - a)
        counts = n_win * scale
    elif model == "tof":
        sq = 2.0 * (np.sqrt(np.maximum(hi, 0)) - np.sqrt(np.maximum(lo, 0)))
        sw = 2.0 * (np.sqrt(np.maximum(b, 0)) - np.sqrt(np.maximum(a, 0)))
        scale = np.divide(sq, sw, out=np.zeros_like(sq), where=sw > 0)
        counts = n_win * scale
    else:
        counts = np.empty(lo.size)
        scale = width_range / (b - a)
        centers, dens = spectrum.centers, spectrum.density()
        for i in range(lo.size):
            sel = (centers >= a[i]) & (centers <= b[i])
            if sel.sum() < 3:
                counts[i] = n_win[i] * scale[i]
                continue
            slope, icept = np.polyfit(centers[sel], dens[sel], 1)
            mid = 0.5 * (lo[i] + hi[i])
            counts[i] = max(0.0, (slope * mid + icept) * width_range[i])
    counts = np.maximum(counts, 0.0)
    variance = n_win * scale**2
    return Background(counts, variance, model, windows)


def tof_background_fit(spectrum: MassSpectrum, lo: np.ndarray, hi: np.ndarray,
                       m_min: float = 1.0) -> float:
    """Amplitude ``A`` of a global ``A / sqrt(m)`` background, fitted on the bins outside ranges.

    Maximum likelihood for Poisson counts: ``A = sum(counts) / sum(2 (sqrt(b) - sqrt(a)))`` over
    the bins above ``m_min`` that touch no range.
    """
    lo, hi = _check_bounds(lo, hi)
    e = spectrum.edges
    free = e[:-1] >= m_min
    for a, b in zip(lo, hi, strict=True):
        free &= ~((e[1:] > a) & (e[:-1] < b))
    if not free.any():
        raise SpectrumError("tof background: no bins left outside the ranges to fit")
    weight = 2.0 * (np.sqrt(e[1:][free]) - np.sqrt(e[:-1][free]))
    return float(spectrum.counts[free].sum() / weight.sum())


def plot_spectrum(
    spectrum: MassSpectrum,
    ranges=None,
    *,
    log: bool = True,
    ax=None,
    labels: bool = True,
    max_labels: int = 30,
):
    """Counts per bin against m/q; with a ``RangeTable`` each range is shaded in its colour."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    centers, counts = spectrum.centers, spectrum.counts
    ax.plot(centers, np.maximum(counts, 0.8 if log else 0), lw=0.6, color="0.15")
    if log:
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.8)
    ax.set_xlabel(f"mass-to-charge ({spectrum.unit})" if spectrum.unit == "Da" else
                  f"time of flight ({spectrum.unit})")  # fmt: skip
    ax.set_ylabel(f"counts per {spectrum.bin_width:g} {spectrum.unit}")
    if ranges is not None and len(ranges):
        shown: set[str] = set()
        order = np.argsort(ranges.lo)
        for i in order:
            color = "#" + ranges.color[i] if ranges.color[i] else "C1"
            name = ranges.name[i]
            ax.axvspan(ranges.lo[i], ranges.hi[i], color=color, alpha=0.45, lw=0,
                       label=None if name in shown else name)  # fmt: skip
            shown.add(name)
        if labels:
            top = ax.get_ylim()[1]
            for n_done, i in enumerate(order):
                if n_done >= max_labels:
                    break
                sel = (centers >= ranges.lo[i]) & (centers <= ranges.hi[i])
                if not sel.any():
                    continue
                z = int(ranges.charge[i]) if ranges.charge is not None else 0
                text = ranges.name[i] + ("+" * z if 0 < z <= 3 else "")
                y = min(float(counts[sel].max()) * 1.3, top)
                ax.annotate(text, (0.5 * (ranges.lo[i] + ranges.hi[i]), y), ha="center",
                            fontsize=7, rotation=90, va="bottom")  # fmt: skip
        ax.legend(loc="upper right", fontsize=7, ncols=2)
    ax.set_xlim(spectrum.edges[0], spectrum.edges[-1])
    return ax
