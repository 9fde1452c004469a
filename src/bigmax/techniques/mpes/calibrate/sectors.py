"""Detector sector alignment: per-sector TOF offsets of a segmented delay-line detector.

HEXTOF's DLD reads out in sectors (8 at FLASH), each with its own cable delays, so the same
spectrum arrives a few TOF steps earlier or later per sector and the summed spectrum blurs.
We histogram the TOF of every sector on one grid in a single pass (one ``bincount`` over
sector * n_bins + bin), find each sector's shift against the reference by FFT
cross-correlation with sub-bin parabolic refinement, and subtract it from every event's TOF
(``apply_sector_offsets``, vectorised, chunk by chunk).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bigmax.techniques.mpes.calibrate import CalibrationError
from bigmax.techniques.mpes.calibrate.energy import _xcorr_shift

__all__ = ["SectorOffsets", "align_sectors", "apply_sector_offsets", "sector_histograms"]


@dataclass(frozen=True)
class SectorOffsets:
    """TOF offset of each sector (TOF units); corrected TOF = TOF - offsets[sector]."""

    offsets: tuple[float, ...]
    reference: int | str

    def to_dict(self) -> dict:
        return {"offsets": [float(v) for v in self.offsets], "reference": self.reference}


def _check(tof, sector, n_sectors):
    t = np.asarray(tof)
    s = np.asarray(sector)
    if t.ndim != 1 or s.shape != t.shape:
        raise CalibrationError(
            f"tof and sector must be 1D of equal length, got {t.shape} and {s.shape}"
        )
    if t.size == 0:
        raise CalibrationError("tof is empty; there is nothing to align")
    if not np.issubdtype(s.dtype, np.integer):
        raise CalibrationError(f"sector must hold integer sector ids, got dtype {s.dtype}")
    if s.min() < 0 or s.max() >= n_sectors:
        raise CalibrationError(
            f"sector ids must lie in 0..{n_sectors - 1}, got {int(s.min())}..{int(s.max())}"
        )
    return t, s


def sector_histograms(tof, sector, n_sectors: int, bins: int, range_: tuple[float, float]):
    """Counts (n_sectors, bins) of TOF per sector on one grid, and the bin edges."""
    t, s = _check(tof, sector, n_sectors)
    lo, hi = float(range_[0]), float(range_[1])
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise CalibrationError(f"TOF range {range_} must be finite and increasing")
    if int(bins) < 8:
        raise CalibrationError(f"bins must be at least 8, got {bins}")
    bins = int(bins)
    k = np.floor((t - lo) * (bins / (hi - lo)))
    ok = (k >= 0) & (k < bins)
    flat = s[ok].astype(np.int64) * bins + k[ok].astype(np.int64)
    counts = np.bincount(flat, minlength=n_sectors * bins).reshape(n_sectors, bins)
    return counts, np.linspace(lo, hi, bins + 1)


def align_sectors(
    tof,
    sector,
    n_sectors: int = 8,
    *,
    bins: int = 1000,
    range_: tuple[float, float] | None = None,
    reference: int | str = 0,
) -> SectorOffsets:
    """Per-sector TOF offsets that line the sectors' spectra up with the reference.

    ``reference`` is a sector id (its offset is 0) or ``"mean"`` (offsets sum to zero, so the
    aligned spectrum keeps the mean TOF scale).
    """
    t, s = _check(tof, sector, n_sectors)
    if range_ is None:
        range_ = (float(np.min(t)), float(np.max(t)) + 1e-9)
    counts, edges = sector_histograms(t, s, n_sectors, bins, range_)
    width = edges[1] - edges[0]
    empty = [i for i in range(n_sectors) if counts[i].sum() == 0]
    if empty:
        raise CalibrationError(f"sector(s) {empty} have no events in the TOF range {range_}")
    if reference == "mean":
        ref = counts.sum(axis=0).astype(np.float64)
    elif isinstance(reference, int | np.integer) and 0 <= reference < n_sectors:
        ref = counts[int(reference)].astype(np.float64)
    else:
        raise CalibrationError(f"reference must be a sector id or 'mean', got {reference!r}")
    shifts = np.array([_xcorr_shift(ref, counts[i].astype(np.float64)) for i in range(n_sectors)])
    offsets = shifts * width
    if reference == "mean":
        offsets -= offsets.mean()
    else:
        offsets -= offsets[int(reference)]
    return SectorOffsets(tuple(float(v) for v in offsets), reference)


def apply_sector_offsets(tof, sector, offsets) -> np.ndarray:
    """TOF minus its sector's offset (float64), for one chunk of events."""
    off = np.asarray(getattr(offsets, "offsets", offsets), dtype=np.float64)
    t, s = _check(tof, sector, off.size)
    return t.astype(np.float64) - off[s]
