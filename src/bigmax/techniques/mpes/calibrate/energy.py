"""Energy calibration: time of flight to eV from a bias series.

Measuring the same spectrum at several sample biases shifts every feature by a known energy
(1 eV per volt) while the drift length stays the same; the TOF positions of one feature across
the series therefore pin down the TOF-energy relation. We find the feature in every trace (a
cross-correlation against the reference trace gives the coarse shift, then the maximum inside
the shifted window, refined to sub-bin by a parabola), and fit sed's forms:

* ``tof_quadratic``: E = s * m_e/(2e) * (d / (t * binwidth * binning - t0))^2 + e0, nonlinear
  least squares in (d, t0) with the constant solved exactly;
* ``polynomial``: E = sum_k a_k t^k + e0 (k >= 1), linear least squares on the differences to
  the reference trace.

Here ``s`` is +1 for a kinetic and -1 for a binding energy scale, and e0 puts the reference
trace's feature at ``ref_energy``: the calibration holds for events taken at the reference bias.
``bias_sign`` says whether the feature's kinetic energy in the drift tube rises (+1) or falls
(-1) with the bias value; ``"auto"`` reads it from the data (TOF falling with bias means +1).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np

from bigmax.techniques.mpes.calibrate import CalibrationError
from bigmax.techniques.mpes.transforms import ME_OVER_2E

__all__ = ["EnergyCalibrator", "bias_series_from_files", "find_bias_peaks", "normalise_traces"]

METIS_BIAS_KEY = "KTOF:Lens:Sample:V"


def _check_series(traces, tof, biases=None):
    tr = np.asarray(traces, dtype=np.float64)
    t = np.asarray(tof, dtype=np.float64)
    if tr.ndim != 2:
        raise CalibrationError(f"traces must be 2D (n_biases, n_tof), got shape {tr.shape}")
    if t.ndim != 1 or t.size != tr.shape[1]:
        raise CalibrationError(
            f"tof must be 1D with one value per trace column ({tr.shape[1]}), got {t.shape}"
        )
    if t.size < 5:
        raise CalibrationError(f"tof has only {t.size} values; need at least 5")
    if not np.all(np.isfinite(t)) or not np.all(np.diff(t) > 0):
        raise CalibrationError("tof must be finite and strictly increasing")
    if not np.all(np.isfinite(tr)):
        raise CalibrationError("traces contain NaN or infinite values")
    for i, row in enumerate(tr):
        if not np.any(row > 0):
            raise CalibrationError(f"trace {i} is empty (no positive counts)")
    if biases is not None:
        b = np.asarray(biases, dtype=np.float64)
        if b.shape != (tr.shape[0],):
            raise CalibrationError(
                f"biases must have one value per trace ({tr.shape[0]}), got shape {b.shape}"
            )
        if not np.all(np.isfinite(b)):
            raise CalibrationError("biases contain NaN or infinite values")
        if np.unique(b).size < b.size:
            raise CalibrationError("biases must all differ (each trace one bias)")
        return tr, t, b
    return tr, t, None


def normalise_traces(traces) -> np.ndarray:
    """Each trace divided by its maximum, so that the shape, not the count rate, is aligned."""
    tr = np.asarray(traces, dtype=np.float64)
    top = tr.max(axis=1, keepdims=True)
    if np.any(top <= 0):
        bad = int(np.flatnonzero(top.ravel() <= 0)[0])
        raise CalibrationError(f"trace {bad} is empty (no positive counts)")
    return tr / top


def _parabola(y: np.ndarray, i: int) -> float:
    if 0 < i < len(y) - 1:
        den = y[i - 1] - 2 * y[i] + y[i + 1]
        if den < 0:
            return i + 0.5 * (y[i - 1] - y[i + 1]) / den
    return float(i)


def _xcorr_shift(ref: np.ndarray, other: np.ndarray) -> float:
    """Shift (bins, sub-bin) that best moves ``ref`` onto ``other``, by FFT cross-correlation."""
    n = len(ref)
    a = ref - ref.mean()
    b = other - other.mean()
    size = 1 << int(np.ceil(np.log2(2 * n)))
    cc = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)
    cc = np.concatenate([cc[-(n - 1):], cc[:n]])  # lags -(n-1) .. n-1
    k = int(np.argmax(cc))
    return _parabola(cc, k) - (n - 1)


def find_bias_peaks(
    traces, tof, ref_id: int, ranges: tuple[float, float], smooth: float = 0.0
) -> np.ndarray:
    """TOF position of one feature in every trace of a bias series.

    ``ranges`` brackets the feature in the reference trace ``ref_id`` (TOF units). Each other
    trace is cross-correlated with the reference for its coarse shift, the window is moved by
    it, and the feature is the maximum inside, refined by a parabola through three bins.
    ``smooth`` (Gaussian sigma in bins) first smooths traces binned from few events.
    """
    tr, t, _ = _check_series(traces, tof)
    if smooth:
        from scipy.ndimage import gaussian_filter1d

        if not (np.isfinite(smooth) and smooth > 0):
            raise CalibrationError(f"smooth must be a positive number of bins, got {smooth}")
        tr = gaussian_filter1d(tr, float(smooth), axis=1)
    n = tr.shape[0]
    if not -n <= int(ref_id) < n:
        raise CalibrationError(f"ref_id {ref_id} is outside the {n} traces")
    ref_id = int(ref_id) % n
    lo, hi = float(min(ranges)), float(max(ranges))
    step = float(np.mean(np.diff(t)))
    i0, i1 = np.searchsorted(t, lo), np.searchsorted(t, hi)
    if i1 - i0 < 3:
        raise CalibrationError(
            f"ranges {tuple(ranges)} hold fewer than 3 TOF bins of the reference trace"
        )
    norm = normalise_traces(tr)
    idx = np.arange(t.size, dtype=np.float64)
    out = np.empty(n)
    for i in range(n):
        shift = 0.0 if i == ref_id else _xcorr_shift(norm[ref_id], norm[i])
        a = int(np.clip(round(i0 + shift), 0, t.size - 3))
        b = int(np.clip(round(i1 + shift), a + 3, t.size))
        k = a + int(np.argmax(norm[i, a:b]))
        pos = _parabola(norm[i], k)
        out[i] = np.interp(pos, idx, t) if step > 0 else t[k]
    return out


class EnergyCalibrator:
    """Fit the TOF-energy relation to the feature positions of a bias series.

    Parameters
    ----------
    kind : {"tof_quadratic", "polynomial"}, default="tof_quadratic"
    ref_id : int, default=0
        The reference trace: its feature lands at ``ref_energy`` and its window is ``ranges``.
    ranges : (float, float)
        TOF window around the feature in the reference trace.
    ref_energy : float, default=0.0
        Energy (eV) given to the feature of the reference trace.
    order : int, default=3
        Polynomial order (``polynomial`` only).
    binwidth, binning : TOF step (s) and binning factor, as in sed (``tof_quadratic``).
    energy_scale : {"kinetic", "binding"}, default="kinetic"
    bias_sign : {1, -1, "auto"}, default="auto"
        +1: the feature's kinetic energy rises with the bias value; -1: it falls.
    smooth : float, default=0.0
        Gaussian smoothing (bins) of the traces before the feature search.

    Attributes
    ----------
    peaks_ : array (n_biases,)
        Feature TOF per trace.
    d_, t0_, e0_ : float
        Fitted drift length (m), time offset (s), energy offset (eV) (``tof_quadratic``).
    coeffs_ : array
        Polynomial coefficients, highest order first (``polynomial``).
    residuals_tof_ : array (n_biases,)
        Feature positions minus the fitted model's, in TOF units.
    target_energies_ : array (n_biases,)
        The energy each feature should be calibrated to (reference energy plus bias shift).
    """

    def __init__(
        self,
        kind: Literal["tof_quadratic", "polynomial"] = "tof_quadratic",
        ref_id: int = 0,
        ranges: tuple[float, float] | None = None,
        ref_energy: float = 0.0,
        order: int = 3,
        binwidth: float = 4.125e-12,
        binning: int = 1,
        energy_scale: Literal["kinetic", "binding"] = "kinetic",
        bias_sign: int | str = "auto",
        smooth: float = 0.0,
    ):
        self.kind = kind
        self.ref_id = ref_id
        self.ranges = ranges
        self.ref_energy = ref_energy
        self.order = order
        self.binwidth = binwidth
        self.binning = binning
        self.energy_scale = energy_scale
        self.bias_sign = bias_sign
        self.smooth = smooth

    def get_params(self, deep: bool = True) -> dict:
        names = ("kind", "ref_id", "ranges", "ref_energy", "order", "binwidth", "binning",
                 "energy_scale", "bias_sign", "smooth")
        return {k: getattr(self, k) for k in names}

    def set_params(self, **params) -> EnergyCalibrator:
        for k, v in params.items():
            if k not in self.get_params():
                raise CalibrationError(f"EnergyCalibrator has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def fit(self, traces, tof, biases) -> EnergyCalibrator:
        """Find the feature in each trace and fit the calibration."""
        tr, t, b = _check_series(traces, tof, biases)
        if tr.shape[0] < 3:
            raise CalibrationError(f"a bias series needs at least 3 traces, got {tr.shape[0]}")
        if self.kind not in ("tof_quadratic", "polynomial"):
            raise CalibrationError(
                f"kind must be 'tof_quadratic' or 'polynomial', got {self.kind!r}"
            )
        if self.energy_scale not in ("kinetic", "binding"):
            raise CalibrationError(
                f"energy_scale must be 'kinetic' or 'binding', got {self.energy_scale!r}"
            )
        if self.ranges is None:
            raise CalibrationError("ranges (the TOF window of the feature) must be given")
        peaks = find_bias_peaks(tr, t, self.ref_id, self.ranges, self.smooth)
        return self.fit_peaks(peaks, b, tof=t)

    def fit_peaks(self, peaks, biases, tof=None) -> EnergyCalibrator:
        """Fit the calibration to known feature positions (TOF) and their biases."""
        p = np.asarray(peaks, dtype=np.float64)
        b = np.asarray(biases, dtype=np.float64)
        if p.ndim != 1 or p.shape != b.shape or p.size < 3:
            raise CalibrationError(
                f"peaks and biases must be 1D of equal length >= 3, got {p.shape} and {b.shape}"
            )
        if not (np.all(np.isfinite(p)) and np.all(np.isfinite(b))):
            raise CalibrationError("peaks or biases contain NaN or infinite values")
        order = np.argsort(b)
        if not (np.all(np.diff(p[order]) > 0) or np.all(np.diff(p[order]) < 0)):
            raise CalibrationError(
                "the feature's TOF is not monotonic in the bias; check ranges and ref_id "
                f"(TOF by increasing bias: {np.round(p[order], 2).tolist()})"
            )
        n = p.size
        ref = int(self.ref_id) % n
        if self.bias_sign == "auto":
            sign_b = 1.0 if p[order][-1] < p[order][0] else -1.0
        elif self.bias_sign in (1, -1):
            sign_b = float(self.bias_sign)
        else:
            raise CalibrationError(f"bias_sign must be 1, -1 or 'auto', got {self.bias_sign!r}")
        kin = sign_b * b  # kinetic energy in the drift tube, up to a constant
        s = 1.0 if self.energy_scale == "kinetic" else -1.0
        self.peaks_ = p
        self.biases_ = b
        self.bias_sign_ = int(sign_b)
        if self.kind == "tof_quadratic":
            self._fit_quadratic(p, kin, ref, s)
        else:
            self._fit_polynomial(p, kin, ref, s)
        self.residuals_tof_ = p - self._invert(self.energies_model_, p)
        # the energy each feature should get: the reference's, shifted by its bias difference
        self.target_energies_ = self.ref_energy + s * (kin - kin[ref])
        self.tof_ = None if tof is None else np.asarray(tof, dtype=np.float64)
        return self

    # -- forms ---------------------------------------------------------------------------
    def _k(self, t, d, t0):
        q = d / (t * (self.binwidth * self.binning) - t0)
        return ME_OVER_2E * q * q

    def _fit_quadratic(self, p, kin, ref, s):
        from scipy.optimize import least_squares

        if not (self.binwidth > 0 and int(self.binning) >= 1):
            raise CalibrationError("binwidth must be > 0 s and binning >= 1")
        scale = self.binwidth * self.binning
        ts = p * scale
        tmin = ts.min()

        def model(x):
            d, u = x  # t0 = tmin * (1 - exp(u)): always below the earliest feature
            t0 = tmin * (1.0 - np.exp(u))
            k = ME_OVER_2E * (d / (ts - t0)) ** 2
            c = np.mean(kin - k)
            return k + c - kin, t0, c

        best = None
        for frac in (0.05, 0.2, 0.5, 0.8, 0.95):
            # starting d from the mean slope dK/dt at t0 = tmin * (1 - frac)
            t0g = tmin * (1 - frac)
            slope = np.polyfit(ts, kin, 1)[0]
            tm = ts.mean() - t0g
            d0 = np.sqrt(abs(slope) * tm**3 / (2 * ME_OVER_2E))
            res = least_squares(lambda x: model(x)[0], [d0, np.log(frac)], method="lm",
                                x_scale=[max(d0, 1e-9), 1.0], max_nfev=4000)
            if best is None or res.cost < best.cost:
                best = res
        _, t0, c = model(best.x)
        d = abs(float(best.x[0]))
        self.d_, self.t0_ = d, float(t0)
        k_ref = ME_OVER_2E * (d / (ts[ref] - t0)) ** 2
        self.e0_ = float(self.ref_energy - s * k_ref)
        self.coeffs_ = None
        # energies of the features in the drift tube, as the model sees them (kinetic form)
        self.energies_model_ = kin - c

    def _fit_polynomial(self, p, kin, ref, s):
        order = int(self.order)
        if order < 1 or order > p.size - 1:
            raise CalibrationError(
                f"polynomial order must be between 1 and {p.size - 1} for {p.size} traces, "
                f"got {self.order}"
            )
        scale = float(np.max(np.abs(p)))
        x = p / scale
        powers = np.arange(order, 0, -1)
        tm = x[:, None] ** powers[None, :]
        a = tm - tm[ref]
        rhs = s * (kin - kin[ref])
        sol, *_ = np.linalg.lstsq(a, rhs, rcond=None)
        coeffs = sol / scale**powers
        self.coeffs_ = coeffs
        self.d_ = self.t0_ = None
        poly_ref = float(np.sum(coeffs * p[ref] ** powers))
        self.e0_ = float(self.ref_energy - poly_ref)
        self.energies_model_ = s * (kin - kin[ref]) + self.ref_energy

    # -- use -----------------------------------------------------------------------------
    def _fitted(self):
        if not hasattr(self, "e0_"):
            raise CalibrationError(
                "This EnergyCalibrator instance is not fitted yet. Call 'fit' with a bias series."
            )

    def predict(self, tof) -> np.ndarray:
        """Energy (eV) of TOF values (steps), at the reference bias."""
        self._fitted()
        t = np.asarray(tof, dtype=np.float64)
        s = 1.0 if self.energy_scale == "kinetic" else -1.0
        if self.kind == "tof_quadratic":
            return s * self._k(t, self.d_, self.t0_) + self.e0_
        powers = np.arange(len(self.coeffs_), 0, -1)
        return np.sum(self.coeffs_[:, None] * t[None, :] ** powers[:, None], axis=0) + self.e0_

    def _invert(self, energies, guess) -> np.ndarray:
        """TOF at which the calibration gives the feature energies of each trace (Newton)."""
        if self.kind == "tof_quadratic":
            kin_rel = energies  # model's kinetic energy in the drift tube, no offset
            scale = self.binwidth * self.binning
            return (self.t0_ + self.d_ * np.sqrt(ME_OVER_2E / kin_rel)) / scale
        target = energies
        t = np.asarray(guess, dtype=np.float64).copy()
        powers = np.arange(len(self.coeffs_), 0, -1)
        for _ in range(50):
            f = np.sum(self.coeffs_[:, None] * t[None, :] ** powers[:, None], axis=0) + self.e0_
            df = np.sum(
                (self.coeffs_ * powers)[:, None] * t[None, :] ** (powers[:, None] - 1), axis=0
            )
            t = t - (f - target) / np.where(df == 0, 1e-300, df)
        return t

    def score(self, traces=None, tof=None, biases=None) -> float:
        """Negative RMS residual in TOF units (higher is better, as scikit-learn expects)."""
        self._fitted()
        return -float(np.sqrt(np.mean(self.residuals_tof_**2)))

    def to_transform(self, tof_column: str = "t", out: str = "energy", tof_offset: float = 0.0):
        """The binning engine's ``EnergyCalibration`` step."""
        from bigmax.techniques.mpes.transforms import EnergyCalibration

        self._fitted()
        common = dict(e0=self.e0_, binwidth=self.binwidth, binning=int(self.binning),
                      energy_scale=self.energy_scale, tof_column=tof_column, out=out,
                      tof_offset=tof_offset)
        if self.kind == "tof_quadratic":
            return EnergyCalibration(kind="tof_quadratic", d=self.d_, t0=self.t0_, **common)
        return EnergyCalibration(kind="polynomial", coeffs=tuple(float(c) for c in self.coeffs_),
                                 **common)


def bias_series_from_files(
    paths,
    *,
    bias_key: str = METIS_BIAS_KEY,
    bins: int = 1000,
    tof_range: tuple[float, float] | None = None,
    tof_dataset: str = "Stream_2",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Traces (n_files, bins), TOF bin centres and biases from one event file per bias.

    Each METIS HDF5 file holds the events of one sample bias, stored as the root attribute
    ``bias_key``. The TOF histograms share one grid: ``tof_range``, or the 0.5-99.5 %
    percentiles over all files.
    """
    import h5py

    paths = [Path(p) for p in paths]
    if len(paths) < 3:
        raise CalibrationError(f"a bias series needs at least 3 files, got {len(paths)}")
    if int(bins) < 5:
        raise CalibrationError(f"bins must be at least 5, got {bins}")
    tofs, biases = [], []
    for p in paths:
        try:
            f = h5py.File(p, "r")
        except OSError as err:
            raise CalibrationError(f"{p}: cannot be read as HDF5 ({err})") from None
        with f:
            if bias_key not in f.attrs:
                raise CalibrationError(f"{p}: attribute {bias_key!r} (the sample bias) is missing")
            try:
                biases.append(float(np.asarray(f.attrs[bias_key]).ravel()[0]))
            except (TypeError, ValueError, IndexError):
                raise CalibrationError(f"{p}: attribute {bias_key!r} is not a number") from None
            if tof_dataset not in f:
                raise CalibrationError(f"{p}: dataset {tof_dataset!r} (TOF) is missing")
            t = f[tof_dataset][...]
        if t.size == 0:
            raise CalibrationError(f"{p}: dataset {tof_dataset!r} (TOF) is empty")
        tofs.append(t)
    if tof_range is None:
        lo = min(float(np.percentile(t, 0.5)) for t in tofs)
        hi = max(float(np.percentile(t, 99.5)) for t in tofs)
    else:
        lo, hi = (float(v) for v in tof_range)
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise CalibrationError(f"TOF range ({lo}, {hi}) must be finite and increasing")
    edges = np.linspace(lo, hi, int(bins) + 1)
    traces = np.array([np.histogram(t, bins=edges)[0] for t in tofs], dtype=np.float64)
    return traces, 0.5 * (edges[1:] + edges[:-1]), np.asarray(biases)
