"""Normalisation by acquisition time or pulse count, on the axis of a binned cube.

A delay scan spends unequal time at each delay, and a FEL delivers unequal pulse counts per
bin; dividing the counts by the time (or pulses) spent in each bin makes the bins comparable.
The time comes from the "timed" stream: one sample per millisecond (METIS ``msMarkers`` index
the event recorded at each ms tick, so that event's delay is the stage position during that ms)
or one per FEL pulse. Its histogram on the same edges as the data axis is the normalisation
histogram; ``event_weights`` turns it into per-event weights for weighted binning.
"""

from __future__ import annotations

import numpy as np

from bigmax.techniques.mpes.calibrate import CalibrationError

__all__ = [
    "acquisition_time_histogram",
    "event_weights",
    "normalise",
    "pulse_count_histogram",
    "timed_values",
]


def _edges(edges) -> np.ndarray:
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or not np.all(np.isfinite(e)) or not np.all(np.diff(e) > 0):
        raise CalibrationError("edges must be a finite, strictly increasing 1D array of >= 2")
    return e


def timed_values(column, ms_markers) -> np.ndarray:
    """The column's value at each millisecond tick: the event each ``msMarkers`` entry indexes.

    Markers past the last event (a file cut short) use the last event.
    """
    c = np.asarray(column)
    m = np.asarray(ms_markers)
    if c.ndim != 1 or c.size == 0:
        raise CalibrationError("column must be a non-empty 1D array of event values")
    if m.ndim != 1 or m.size == 0:
        raise CalibrationError("ms_markers must be a non-empty 1D array of event indices")
    if not np.issubdtype(m.dtype, np.integer):
        raise CalibrationError(f"ms_markers must be integer event indices, got {m.dtype}")
    if np.any(np.diff(m.astype(np.int64)) < 0):
        raise CalibrationError("ms_markers must be non-decreasing event indices")
    idx = np.clip(m.astype(np.int64), 0, c.size - 1)
    return c[idx]


def acquisition_time_histogram(values, edges, tick_seconds: float = 1e-3) -> np.ndarray:
    """Seconds spent in each bin: ticks whose value falls in the bin, times the tick length."""
    e = _edges(edges)
    if not (np.isfinite(tick_seconds) and tick_seconds > 0):
        raise CalibrationError(f"tick_seconds must be positive, got {tick_seconds}")
    v = np.asarray(values, dtype=np.float64)
    counts, _ = np.histogram(v[np.isfinite(v)], bins=e)
    return counts * float(tick_seconds)


def pulse_count_histogram(values, edges, weights=None) -> np.ndarray:
    """Pulses in each bin (optionally weighted, e.g. by the GMD pulse energy)."""
    e = _edges(edges)
    v = np.asarray(values, dtype=np.float64)
    w = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != v.shape:
            raise CalibrationError(f"weights shape {w.shape} differs from values {v.shape}")
    ok = np.isfinite(v) if w is None else np.isfinite(v) & np.isfinite(w)
    counts, _ = np.histogram(v[ok], bins=e, weights=None if w is None else w[ok])
    return counts.astype(np.float64)


def normalise(counts, norm, axis: int = -1) -> np.ndarray:
    """Counts divided by the normalisation along ``axis``; bins with no time are NaN."""
    c = np.asarray(counts, dtype=np.float64)
    n = np.asarray(norm, dtype=np.float64)
    if n.ndim != 1:
        raise CalibrationError(f"the normalisation histogram must be 1D, got shape {n.shape}")
    if not -c.ndim <= axis < c.ndim or c.shape[axis] != n.size:
        raise CalibrationError(
            f"normalisation has {n.size} bins but axis {axis} of the counts has shape {c.shape}"
        )
    shape = [1] * c.ndim
    shape[axis] = n.size
    with np.errstate(divide="ignore", invalid="ignore"):
        out = c / n.reshape(shape)
    out[np.broadcast_to(n.reshape(shape) <= 0, c.shape)] = np.nan
    return out


def event_weights(values, edges, norm) -> np.ndarray:
    """Per-event weight 1 / norm[bin of the event] (0 outside the edges or where norm is 0)."""
    e = _edges(edges)
    n = np.asarray(norm, dtype=np.float64)
    if n.shape != (e.size - 1,):
        raise CalibrationError(f"norm must have {e.size - 1} bins (one per edge pair)")
    v = np.asarray(values, dtype=np.float64)
    k = np.searchsorted(e, v, side="right") - 1
    k[v == e[-1]] = e.size - 2
    ok = (k >= 0) & (k < n.size)
    w = np.zeros(v.shape)
    nk = n[np.clip(k, 0, n.size - 1)]
    good = ok & (nk > 0)
    w[good] = 1.0 / nk[good]
    return w
