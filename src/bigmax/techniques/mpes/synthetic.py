"""Synthetic momentum-microscope events with a known band structure: the ground truth.

Real event files come without an answer; these come with one. Events are drawn from a
tight-binding spectral function (Lorentzian-broadened bands times a Fermi occupation, plus a
pump-probe excited population that decays with delay, plus a flat background), then mapped to
the detector exactly as an instrument would: k to pixels through a known scale, a smooth radial
plus n-fold detector distortion, energy to time of flight through ``E = C (d / (t - t0))^2 +
E0`` and delay to ADC counts, then rounded to native integer dtypes (X, Y uint16, t uint32, ADC
uint16). The :class:`SyntheticTruth` keeps every parameter and the inverse maps, so a test can
check that calibration and binning recover the planted bands.

Stable API (used by the binning and calibration modules and the benchmarks):
``synthetic_events(n_events, *, seed, material, chunk_events, truth_columns) -> (columns,
truth)``, ``iter_synthetic(...)`` (chunks), ``write_synthetic(path, n_events, format=...)``
and ``SyntheticTruth`` (``band_energies``, ``distort``/``undistort``, ``energy_to_tof``/
``tof_to_energy``, ``delay_to_adc``/``adc_to_delay``, ``to_dict``/``from_dict``).

Events are generated in independent blocks of :data:`BLOCK` events, each with its own
counter-based random stream keyed on ``(seed, block index)``. The result is therefore the same
whatever the chunk size and the number of threads, and 10^9 events stream in bounded memory.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
from numba import njit, prange

Material = Literal["graphene", "WSe2"]
BLOCK = 1 << 16
"""Events per independent random stream; chunks are assembled from whole blocks."""

TOF_CONSTANT = 2.84281e-12
"""m_e / (2 e) in eV s^2 m^-2: E_kin = C (d / tof)^2 (sed's ``tof2ev``)."""

COLUMNS = ("X", "Y", "t", "ADC")
TRUTH_COLUMNS = ("kx_true", "ky_true", "E_true", "delay_true")

_MATERIAL_ID = {"graphene": 0, "WSe2": 1}


class SyntheticError(ValueError):
    """Bad arguments for the synthetic event generator (names the argument)."""


@dataclass(frozen=True)
class SyntheticTruth:
    """Everything the generator planted, and the exact inverse of each instrument map.

    Energies are in eV relative to the Fermi level, momenta in 1/Angstrom, delays in ps,
    detector coordinates in pixels, times of flight in steps of ``tof_binwidth`` seconds.
    """

    material: str
    lattice_constant: float
    band_params: dict[str, float]
    band_names: tuple[str, ...]
    occupied_bands: tuple[int, ...]
    excited_band: int
    hot_reference_energy: float
    # spectral function and sample
    linewidth: float = 0.05
    temperature: float = 70.0
    energy_resolution: float = 0.03
    momentum_resolution: float = 0.01
    energy_window: tuple[float, float] = (-3.5, 1.5)
    k_max: float = 2.0
    background_fraction: float = 0.02
    # pump-probe
    delay_range: tuple[float, float] = (-0.5, 2.0)
    excitation_amplitude: float = 0.1
    excitation_rise: float = 0.05
    excitation_decay: float = 0.4
    hot_temperature: float = 1000.0
    valley_width: float = 0.12
    # detector: momentum scale and distortion
    x_center: float = 700.0
    y_center: float = 730.0
    pixels_per_inverse_angstrom: float = 300.0
    distortion_radius: float = 600.0
    distortion_radial: float = 0.03
    distortion_nfold: int = 3
    distortion_nfold_amplitude: float = 0.08
    distortion_nfold_phase: float = 0.3
    distortion_twist: float = 0.06
    detector_bits: int = 11
    # time of flight: E = C * (d / (t * binwidth - t0))^2 + E0
    tof_distance: float = 1.0
    tof_time_offset: float = 5.0e-8
    tof_binwidth: float = 4.125e-12
    tof_energy_offset: float = -11.6
    # delay: ADC counts linear in delay
    adc_range: tuple[float, float] = (500.0, 7500.0)
    high_symmetry_points: dict[str, tuple[float, float]] = field(default_factory=dict)

    # ------------------------------------------------------------------ band structure
    def band_energies(self, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
        """Band energies (eV) of shape ``(n_bands, *broadcast(kx, ky).shape)``."""
        kx, ky = np.broadcast_arrays(np.asarray(kx, float), np.asarray(ky, float))
        out = np.empty((len(self.band_names), kx.size))
        _bands_many(_material_array(self), kx.ravel(), ky.ravel(), out)
        return out.reshape((len(self.band_names), *kx.shape))

    def path(self, points: list[str] | str, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
        """k points (2, n) along a path of high-symmetry points such as ``"G-K-M-G"``."""
        names = points.split("-") if isinstance(points, str) else list(points)
        missing = [p for p in names if p not in self.high_symmetry_points]
        if missing:
            raise SyntheticError(
                f"path: unknown point(s) {missing}; known: {sorted(self.high_symmetry_points)}"
            )
        xy = np.array([self.high_symmetry_points[p] for p in names], float)
        seg = np.hypot(*np.diff(xy, axis=0).T)
        s = np.concatenate([[0.0], np.cumsum(seg)])
        u = np.linspace(0.0, s[-1], n)
        return np.vstack([np.interp(u, s, xy[:, 0]), np.interp(u, s, xy[:, 1])])

    # ------------------------------------------------------------------ momentum <-> pixels
    def k_to_pixel(self, kx: np.ndarray, ky: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ideal (undistorted) detector position of a momentum."""
        s = self.pixels_per_inverse_angstrom
        return self.x_center + np.asarray(kx) * s, self.y_center + np.asarray(ky) * s

    def pixel_to_k(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Momentum of an ideal (distortion-corrected) detector position."""
        s = self.pixels_per_inverse_angstrom
        return (np.asarray(x) - self.x_center) / s, (np.asarray(y) - self.y_center) / s

    def distort(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ideal position -> measured detector position (the planted distortion)."""
        x = np.asarray(x, float)
        y = np.asarray(y, float)
        xd = np.empty(np.broadcast(x, y).shape)
        yd = np.empty_like(xd)
        _distort_many(_detector_array(self), *np.broadcast_arrays(x, y), xd, yd)
        return xd, yd

    def undistort(
        self, xd: np.ndarray, yd: np.ndarray, iterations: int = 60
    ) -> tuple[np.ndarray, np.ndarray]:
        """Measured detector position -> ideal position (fixed-point inverse of `distort`)."""
        xd = np.asarray(xd, float)
        yd = np.asarray(yd, float)
        x, y = xd.copy(), yd.copy()
        for _ in range(iterations):
            fx, fy = self.distort(x, y)
            x, y = x - (fx - xd), y - (fy - yd)
        return x, y

    def correction_field(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """Corrected (ideal) coordinates at every detector pixel: array (2, nx, ny) of x, y.

        ``field[0, i, j], field[1, i, j]`` is where the event measured at pixel (X=i, Y=j)
        truly belongs; a bilinear lookup of this field undoes the distortion.
        """
        n = 1 << self.detector_bits
        nx, ny = shape or (n, n)
        gx, gy = np.meshgrid(
            np.linspace(0, n - 1, nx), np.linspace(0, n - 1, ny), indexing="ij"
        )
        return np.stack(self.undistort(gx, gy))

    # ------------------------------------------------------------------ energy <-> TOF
    def energy_to_tof(self, energy: np.ndarray) -> np.ndarray:
        """Energy (eV) -> time of flight in steps (float)."""
        ekin = np.asarray(energy, float) - self.tof_energy_offset
        tof = self.tof_time_offset + self.tof_distance * np.sqrt(TOF_CONSTANT / ekin)
        return tof / self.tof_binwidth

    def tof_to_energy(self, t: np.ndarray) -> np.ndarray:
        """Time of flight in steps -> energy (eV); sed's ``tof2ev`` with binning 0."""
        dt = np.asarray(t, float) * self.tof_binwidth - self.tof_time_offset
        return TOF_CONSTANT * (self.tof_distance / dt) ** 2 + self.tof_energy_offset

    # ------------------------------------------------------------------ delay <-> ADC
    def delay_to_adc(self, delay: np.ndarray) -> np.ndarray:
        (a0, a1), (d0, d1) = self.adc_range, self.delay_range
        return a0 + (np.asarray(delay, float) - d0) * (a1 - a0) / (d1 - d0)

    def adc_to_delay(self, adc: np.ndarray) -> np.ndarray:
        (a0, a1), (d0, d1) = self.adc_range, self.delay_range
        return d0 + (np.asarray(adc, float) - a0) * (d1 - d0) / (a1 - a0)

    # ------------------------------------------------------------------ ranges for binning
    @property
    def tof_range(self) -> tuple[float, float]:
        """Times of flight (steps) of the energy window's ends, low to high."""
        t = self.energy_to_tof(np.array(self.energy_window))
        return float(t.min()), float(t.max())

    # ------------------------------------------------------------------ exact calibration
    def pipeline(self, *, jitter: bool = True, field_step: float = 16.0, seed: int = 0):
        """The transforms that invert the planted instrument exactly (up to the bilinear
        lookup of the distortion field): jitter, distortion correction, momentum, energy and
        delay calibration, as :class:`bigmax.techniques.mpes.transforms.Pipeline`."""
        from bigmax.techniques.mpes.transforms import (
            DelayCalibration,
            DistortionCorrection,
            EnergyCalibration,
            Jitter,
            MomentumCalibration,
            Pipeline,
        )

        n = 1 << self.detector_bits
        nodes = int(math.ceil((n - 1) / field_step)) + 1
        grid = np.arange(nodes) * field_step
        gx, gy = np.meshgrid(grid, grid, indexing="ij")
        ux, uy = self.undistort(gx, gy)
        scale = 1.0 / self.pixels_per_inverse_angstrom
        steps = [
            DistortionCorrection.from_arrays(ux - gx, uy - gy, x0=0.0, y0=0.0, step=field_step),
            MomentumCalibration(x_center=self.x_center, y_center=self.y_center,
                                kx_scale=scale, ky_scale=scale, x_column="Xm", y_column="Ym"),
            EnergyCalibration(kind="tof_quadratic", d=self.tof_distance, t0=self.tof_time_offset,
                              e0=self.tof_energy_offset, binwidth=self.tof_binwidth, binning=1),
            DelayCalibration.from_adc_range(self.adc_range, self.delay_range),
        ]
        if jitter:
            steps.insert(0, Jitter(columns={"X": 0.5, "Y": 0.5, "t": 0.5, "ADC": 0.5},
                                   seed=seed))
        return Pipeline(steps=tuple(steps))

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> SyntheticTruth:
        d = dict(d)
        for key in ("band_names", "occupied_bands", "energy_window", "delay_range", "adc_range"):
            d[key] = tuple(d[key])
        d["high_symmetry_points"] = {k: tuple(v) for k, v in d["high_symmetry_points"].items()}
        return cls(**d)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> SyntheticTruth:
        return cls.from_dict(json.loads(text))


def truth_for(material: Material = "graphene", **overrides) -> SyntheticTruth:
    """The default ground truth of a material; keyword overrides change any field."""
    if material == "graphene":
        a = 2.46
        truth = SyntheticTruth(
            material="graphene",
            lattice_constant=a,
            band_params={"hopping": 2.7, "dirac_energy": -0.4},
            band_names=("pi", "pi*"),
            occupied_bands=(0, 1),
            excited_band=1,
            hot_reference_energy=0.0,
            k_max=2.0,
            pixels_per_inverse_angstrom=300.0,
        )
    elif material == "WSe2":
        a = 3.28
        truth = SyntheticTruth(
            material="WSe2",
            lattice_constant=a,
            band_params={
                "vbm_K": -0.8,
                "soc_K": 0.47,
                "width_K": 2.5,
                "vbm_G": -1.3,
                "width_G": 1.5,
                "gap": 1.6,
                "width_c": 1.5,
            },
            band_names=("VB1", "VB2", "VB_G", "CB"),
            occupied_bands=(0, 1, 2),
            excited_band=3,
            hot_reference_energy=0.8,
            linewidth=0.06,
            k_max=1.6,
            pixels_per_inverse_angstrom=375.0,
        )
    else:
        raise SyntheticError(f"material: must be 'graphene' or 'WSe2', got {material!r}")
    kk = 4 * math.pi / (3 * a)
    points = {
        "G": (0.0, 0.0),
        "K": (kk, 0.0),
        "K'": (kk * 0.5, kk * math.sqrt(3) / 2),
        "M": (math.pi / a, math.pi / (math.sqrt(3) * a)),
    }
    truth = replace(truth, high_symmetry_points=points)
    return replace(truth, **overrides) if overrides else truth


# ---------------------------------------------------------------------- parameter arrays
def _material_array(t: SyntheticTruth) -> np.ndarray:
    bp = t.band_params
    if t.material == "graphene":
        vals = [0, t.lattice_constant, bp["hopping"], bp["dirac_energy"], 0, 0, 0, 0, 0]
    else:
        vals = [1, t.lattice_constant, bp["vbm_K"], bp["soc_K"], bp["width_K"], bp["vbm_G"],
                bp["width_G"], bp["gap"], bp["width_c"]]
    return np.array(vals, float)


def _detector_array(t: SyntheticTruth) -> np.ndarray:
    return np.array(
        [t.x_center, t.y_center, t.distortion_radius, t.distortion_radial,
         t.distortion_nfold, t.distortion_nfold_amplitude, t.distortion_nfold_phase,
         t.distortion_twist, math.cos(t.distortion_nfold * t.distortion_nfold_phase),
         math.sin(t.distortion_nfold * t.distortion_nfold_phase)],
        float,
    )


def _sampling_array(t: SyntheticTruth) -> np.ndarray:
    kb = 8.617333262e-5
    return np.array(
        [t.linewidth, kb * t.temperature, t.energy_resolution, t.momentum_resolution,
         t.energy_window[0], t.energy_window[1], t.k_max, t.background_fraction,
         t.delay_range[0], t.delay_range[1], t.excitation_amplitude, t.excitation_rise,
         t.excitation_decay, kb * t.hot_temperature, t.valley_width, t.hot_reference_energy,
         t.pixels_per_inverse_angstrom, float((1 << t.detector_bits) - 1),
         t.tof_distance, t.tof_time_offset, t.tof_binwidth, t.tof_energy_offset,
         t.adc_range[0], t.adc_range[1], float(len(t.occupied_bands)), float(t.excited_band),
         4 * math.pi / (3 * t.lattice_constant)],
        float,
    )


# ---------------------------------------------------------------------- compiled kernels
@njit(cache=True, inline="always")
def _band(m, b, kx, ky):
    a = m[1]
    c1 = kx * a
    c2 = -0.5 * kx * a + 0.8660254037844386 * ky * a
    c3 = -c1 - c2
    ftri = math.cos(c1) + math.cos(c2) + math.cos(c3)
    if m[0] == 0.0:  # graphene pi bands, nearest-neighbour tight binding
        mod = math.sqrt(max(3.0 + 2.0 * ftri, 0.0))
        return m[3] - m[2] * mod if b == 0 else m[3] + m[2] * mod
    h = (ftri + 1.5) / 4.5  # 0 at K, 1 at Gamma
    s = (math.sin(c1) + math.sin(c2) + math.sin(c3)) / 2.598076211353316  # +-1 at K, K'
    if b == 0:
        return m[2] - 0.5 * m[3] - m[4] * h + 0.5 * m[3] * abs(s)
    if b == 1:
        return m[2] - 0.5 * m[3] - m[4] * h - 0.5 * m[3] * abs(s)
    if b == 2:
        return m[5] - m[6] * (1.0 - h)
    return m[2] + m[7] + m[8] * h


@njit(cache=True)
def _bands_many(m, kx, ky, out):
    for b in range(out.shape[0]):
        for i in range(kx.size):
            out[b, i] = _band(m, b, kx[i], ky[i])


@njit(cache=True, inline="always")
def _distort1(d, x, y):
    u = (x - d[0]) / d[2]
    v = (y - d[1]) / d[2]
    r2 = u * u + v * v
    q = min(r2, 1.44)  # the distortion stops growing beyond 1.2 radii (outside the lens' view)
    # cos(n (theta - phase)) from the unit vector, without atan2: Re((u + iv)^n e^{-in phase})
    r = math.sqrt(r2)
    cn = 1.0
    sn = 0.0
    if r > 0.0:
        c1 = u / r
        s1 = v / r
        for _ in range(int(d[4])):
            cn, sn = cn * c1 - sn * s1, cn * s1 + sn * c1
    ang = cn * d[8] + sn * d[9]
    scale = 1.0 + d[3] * q + d[5] * q * ang
    tw = d[7] * q
    ct = math.cos(tw)
    st = math.sin(tw)
    # rotate (u, v) by the twist, then scale radially
    return d[0] + d[2] * scale * (u * ct - v * st), d[1] + d[2] * scale * (u * st + v * ct)


@njit(cache=True)
def _distort_many(d, x, y, xd, yd):
    xf, yf, xdf, ydf = x.ravel(), y.ravel(), xd.ravel(), yd.ravel()
    for i in range(xf.size):
        xdf[i], ydf[i] = _distort1(d, xf[i], yf[i])


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)


@njit(cache=True, inline="always")
def _mix(z):
    z = (z ^ (z >> _S30)) * _M2
    z = (z ^ (z >> _S27)) * _M3
    return z ^ (z >> _S31)


@njit(cache=True, inline="always")
def _uniform(state):
    """splitmix64: advance the state, return (state, uniform in (0, 1))."""
    state = state + _M1
    return state, ((_mix(state) >> _S11) + 0.5) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _normal(state):
    state, u1 = _uniform(state)
    state, u2 = _uniform(state)
    return state, math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)


@njit(cache=True, inline="always")
def _normal_pair(state):
    """Two independent standard normals from one Box-Muller draw."""
    state, u1 = _uniform(state)
    state, u2 = _uniform(state)
    r = math.sqrt(-2.0 * math.log(u1))
    a = 6.283185307179586 * u2
    return state, r * math.cos(a), r * math.sin(a)


@njit(cache=True, parallel=True)
def _generate(seed, first_block, n_blocks, block, m, d, s, X, Y, T, A, truth, want_truth):
    hw, kt, sig_e, sig_k, e_lo, e_hi, kmax, p_bg = s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]
    d_lo, d_hi, amp, rise, decay, kth, vw, e_ref = s[8], s[9], s[10], s[11], s[12], s[13], \
        s[14], s[15]
    ppk, pmax, dist, t0, bw, e0, a_lo, a_hi = s[16], s[17], s[18], s[19], s[20], s[21], s[22], \
        s[23]
    n_occ = int(s[24])
    cb = int(s[25])
    kk = s[26]
    t_lo = (t0 + dist * math.sqrt(2.84281e-12 / (e_hi - e0))) / bw
    t_hi = (t0 + dist * math.sqrt(2.84281e-12 / (e_lo - e0))) / bw
    r_det = d[2] * (1.0 + abs(d[3]) + abs(d[5]))
    for jb in prange(n_blocks):
        state = _mix(np.uint64(seed) * _M1 + _mix(np.uint64(first_block + jb) + _M3))
        for j in range(jb * block, (jb + 1) * block):
            state, u = _uniform(state)
            if u < p_bg:  # flat background over the detector disk and the TOF window
                state, u = _uniform(state)
                state, w = _uniform(state)
                rr = r_det * math.sqrt(u)
                xd = d[0] + rr * math.cos(6.283185307179586 * w)
                yd = d[1] + rr * math.sin(6.283185307179586 * w)
                state, u = _uniform(state)
                tt = t_lo + (t_hi - t_lo) * u
                state, u = _uniform(state)
                tau = d_lo + (d_hi - d_lo) * u
                ex = np.nan
                ey = np.nan
                en = np.nan
            else:
                state, u = _uniform(state)
                tau = d_lo + (d_hi - d_lo) * u
                pex = 0.0
                if amp > 0.0:
                    pex = amp * 0.5 * (1.0 + math.erf(tau / (1.4142135623730951 * rise)))
                    pex *= math.exp(-max(tau, 0.0) / decay)
                state, u = _uniform(state)
                excited = u < pex
                while True:
                    if excited:  # hot carriers in the valleys (K, K') of the excited band
                        state, u = _uniform(state)
                        ang = 1.0471975511965976 * math.floor(6.0 * u)
                        state, g1, g2 = _normal_pair(state)
                        ex = kk * math.cos(ang) + vw * g1
                        ey = kk * math.sin(ang) + vw * g2
                        b = cb
                    else:  # uniform in k over the field of view, one occupied band
                        state, u = _uniform(state)
                        state, w = _uniform(state)
                        rr = kmax * math.sqrt(u)
                        ex = rr * math.cos(6.283185307179586 * w)
                        ey = rr * math.sin(6.283185307179586 * w)
                        state, u = _uniform(state)
                        b = min(int(u * n_occ), n_occ - 1)
                    if ex * ex + ey * ey > kmax * kmax:
                        continue
                    state, u = _uniform(state)
                    en = _band(m, b, ex, ey) + hw * math.tan(3.141592653589793 * (u - 0.5))
                    if en < e_lo - 0.3 or en > e_hi + 0.3:
                        continue
                    state, u = _uniform(state)
                    if excited:
                        if en > e_ref and u > math.exp(-(en - e_ref) / kth):
                            continue
                    elif u * (1.0 + math.exp(min(en / kt, 700.0))) > 1.0:
                        continue
                    state, g1 = _normal(state)
                    en_m = en + sig_e * g1
                    if en_m < e_lo or en_m > e_hi:
                        continue
                    break
                state, g1, g2 = _normal_pair(state)
                xu = d[0] + (ex + sig_k * g1) * ppk
                yu = d[1] + (ey + sig_k * g2) * ppk
                xd, yd = _distort1(d, xu, yu)
                tt = (t0 + dist * math.sqrt(2.84281e-12 / (en_m - e0))) / bw
            X[j] = np.uint16(min(max(round(xd), 0.0), pmax))
            Y[j] = np.uint16(min(max(round(yd), 0.0), pmax))
            T[j] = np.uint32(round(tt))
            A[j] = np.uint16(round(a_lo + (tau - d_lo) * (a_hi - a_lo) / (d_hi - d_lo)))
            if want_truth:
                truth[0, j] = ex
                truth[1, j] = ey
                truth[2, j] = en
                truth[3, j] = tau


def _is_int(value, lo: int, hi: int) -> bool:
    try:
        return float(value).is_integer() and lo <= int(value) < hi
    except (TypeError, ValueError, OverflowError):
        return False


def _check(n_events: int, chunk_events: int, seed: int) -> None:
    if not _is_int(n_events, 0, 2**62):
        raise SyntheticError(f"n_events: must be a non-negative integer, got {n_events!r}")
    if not _is_int(chunk_events, 1, 2**62):
        raise SyntheticError(f"chunk_events: must be a positive integer, got {chunk_events!r}")
    if not _is_int(seed, 0, 2**63):
        raise SyntheticError(f"seed: must be an integer in [0, 2^63), got {seed!r}")


def iter_synthetic(
    n_events: int,
    *,
    seed: int = 0,
    material: Material | SyntheticTruth = "graphene",
    chunk_events: int = 1 << 22,
    truth_columns: bool = False,
) -> Iterator[dict[str, np.ndarray]]:
    """Yield the events in chunks of at most ``chunk_events`` (rounded to whole blocks).

    Concatenated, the chunks equal ``synthetic_events(n_events, seed=seed, ...)`` whatever
    ``chunk_events`` is; memory stays at one chunk.
    """
    _check(n_events, chunk_events, seed)
    n_events = int(n_events)
    truth = material if isinstance(material, SyntheticTruth) else truth_for(material)
    m, d, s = _material_array(truth), _detector_array(truth), _sampling_array(truth)
    per_chunk = max(1, int(chunk_events) // BLOCK) * BLOCK
    done = 0
    while done < n_events:
        n = min(per_chunk, n_events - done)
        n_blocks = -(-n // BLOCK)
        cols = {
            "X": np.empty(n_blocks * BLOCK, np.uint16),
            "Y": np.empty(n_blocks * BLOCK, np.uint16),
            "t": np.empty(n_blocks * BLOCK, np.uint32),
            "ADC": np.empty(n_blocks * BLOCK, np.uint16),
        }
        tr = np.empty((4, n_blocks * BLOCK if truth_columns else 1), np.float64)
        _generate(int(seed), done // BLOCK, n_blocks, BLOCK, m, d, s, cols["X"], cols["Y"],
                  cols["t"], cols["ADC"], tr, truth_columns)
        out = {k: v[:n] for k, v in cols.items()}
        if truth_columns:
            for i, name in enumerate(TRUTH_COLUMNS):
                out[name] = tr[i, :n].astype(np.float32)
        yield out
        done += n


def synthetic_events(
    n_events: int,
    *,
    seed: int = 0,
    material: Material | SyntheticTruth = "graphene",
    chunk_events: int = 1 << 22,
    truth_columns: bool = False,
) -> tuple[dict[str, np.ndarray], SyntheticTruth]:
    """Events in memory as native-dtype columns ``X, Y, t, ADC``, and their ground truth.

    ``truth_columns=True`` adds float32 ``kx_true, ky_true, E_true, delay_true`` (NaN for
    background events) for per-event checks of a calibration. ``material`` may be a
    :class:`SyntheticTruth` (e.g. ``truth_for("WSe2", distortion_radial=0.1)``).
    """
    truth = material if isinstance(material, SyntheticTruth) else truth_for(material)
    chunks = list(iter_synthetic(n_events, seed=seed, material=truth,
                                 chunk_events=chunk_events, truth_columns=truth_columns))
    names = COLUMNS + (TRUTH_COLUMNS if truth_columns else ())
    dtypes = {"X": np.uint16, "Y": np.uint16, "t": np.uint32, "ADC": np.uint16}
    if not chunks:
        return {k: np.empty(0, dtypes.get(k, np.float32)) for k in names}, truth
    if len(chunks) == 1:
        return chunks[0], truth
    return {k: np.concatenate([c[k] for c in chunks]) for k in names}, truth


def write_synthetic(
    path: str | Path,
    n_events: int,
    *,
    format: Literal["parquet", "metis-h5"] = "parquet",
    seed: int = 0,
    material: Material | SyntheticTruth = "graphene",
    chunk_events: int = 1 << 22,
    progress: bool = False,
) -> SyntheticTruth:
    """Stream synthetic events to a Parquet event store or a METIS-style HDF5 file.

    Memory is one chunk whatever ``n_events``. The ground truth goes into the file (Parquet
    schema metadata / HDF5 root attribute ``bigmax_synthetic_truth``) so a benchmark can
    reload it with :func:`read_truth`.
    """
    _check(n_events, chunk_events, seed)
    n_events = int(n_events)
    if format not in ("parquet", "metis-h5"):
        raise SyntheticError(f"format: must be 'parquet' or 'metis-h5', got {format!r}")
    truth = material if isinstance(material, SyntheticTruth) else truth_for(material)
    path = Path(path)
    chunks = iter_synthetic(n_events, seed=seed, material=truth, chunk_events=chunk_events)
    bar = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task(f"writing {path.name}", total=n_events)
    try:
        if format == "parquet":
            _write_parquet(path, chunks, truth, bar)
        else:
            _write_metis(path, chunks, truth, n_events, bar)
    finally:
        if bar is not None:
            bar.update(task, completed=n_events)
            bar.stop()
    return truth


def _write_parquet(path: Path, chunks, truth: SyntheticTruth, bar) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [("X", pa.uint16()), ("Y", pa.uint16()), ("t", pa.uint32()), ("ADC", pa.uint16())],
        metadata={"bigmax_synthetic_truth": truth.to_json()},
    )
    with pq.ParquetWriter(path, schema, compression="none") as writer:
        for c in chunks:
            writer.write_table(pa.table(c, schema=schema), row_group_size=len(c["X"]))
            if bar is not None:
                bar.advance(bar.task_ids[0], len(c["X"]))


def _write_metis(path: Path, chunks, truth: SyntheticTruth, n_events: int, bar) -> None:
    """Stream_0..3 = X, Y, t, ADC like the FHI METIS files; msMarkers every 1000 events."""
    import h5py

    names = [("X", "dif1", 11), ("Y", "dif2", 11), ("t", "sum", 26), ("ADC", "adc", 13)]
    dtypes = [np.uint16, np.uint16, np.uint32, np.uint16]
    with h5py.File(path, "w") as f:
        f.attrs["bigmax_synthetic_truth"] = truth.to_json()
        f.attrs["FirstEventTimeStamp"] = np.bytes_(b"2026-01-01T00:00:00.000+0000")
        dsets = []
        for i, ((name, member, bits), dt) in enumerate(zip(names, dtypes, strict=True)):
            ds = f.create_dataset(f"Stream_{i}", shape=(n_events,), dtype=dt,
                                  chunks=(min(max(n_events, 1), 50000),))
            ds.attrs["Name"] = np.bytes_(name.encode())
            ds.attrs["Member"] = np.bytes_(member.encode())
            ds.attrs["BitLength"] = np.uint32(bits)
            dsets.append(ds)
        # a synthetic acquisition at 74k events/s (the sample file's rate): one marker per ms
        f.create_dataset("msMarkers", data=np.arange(74, n_events + 1, 74, dtype=np.uint64))
        start = 0
        for c in chunks:
            n = len(c["X"])
            for ds, (name, _, _) in zip(dsets, names, strict=True):
                ds[start:start + n] = c[name]
            start += n
            if bar is not None:
                bar.advance(bar.task_ids[0], n)


def read_truth(path: str | Path) -> SyntheticTruth:
    """The ground truth stored by :func:`write_synthetic` in a Parquet or HDF5 file."""
    path = Path(path)
    if path.suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            text = f.attrs.get("bigmax_synthetic_truth")
    else:
        import pyarrow.parquet as pq

        meta = pq.read_schema(path).metadata or {}
        text = meta.get(b"bigmax_synthetic_truth")
    if text is None:
        raise SyntheticError(f"{path}: no bigmax_synthetic_truth metadata (not synthetic?)")
    return SyntheticTruth.from_json(text.decode() if isinstance(text, bytes) else str(text))
