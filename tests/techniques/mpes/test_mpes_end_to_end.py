"""Acceptance for issue 8: events -> fitted calibrations -> binning -> bands, and the real file.

Synthetic WSe2-like events (known bands, detector distortion, TOF law) are calibrated from the
data alone: the momentum correction from the six K-point landmarks of an energy slice (thin-plate
spline registration, scale from Gamma-K), the energy calibration from a simulated bias series of
the K-valley spectrum (sed's TOF law fitted by ``EnergyCalibrator``; the energy zero is the
literature VBM at K, as a user would set it). Binned with that pipeline, the fitted EDC peaks
must sit within one energy bin of the planted bands wherever the bands are resolved.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from bigmax.techniques.mpes.bands import fit_edcs, path_cut
from bigmax.techniques.mpes.binning import Axis, bin_events
from bigmax.techniques.mpes.calibrate.energy import EnergyCalibrator
from bigmax.techniques.mpes.calibrate.momentum import (
    MomentumCorrector,
    find_landmarks,
    gamma_k_distance,
    momentum_scale,
)
from bigmax.techniques.mpes.events import open_events
from bigmax.techniques.mpes.output import read_nxmpes, write_nxmpes
from bigmax.techniques.mpes.synthetic import synthetic_events, truth_for
from bigmax.techniques.mpes.transforms import DelayCalibration, Jitter, Pipeline

METIS = Path(__file__).parents[2] / "data/mpes/sed/tests/data/loader/mpes/Scan0030_2.h5"
E_BIN = 0.05


def _landmarks(image: xr.DataArray, n: int) -> np.ndarray:
    """Brightest spots, refined by an iterated centroid (a spot's top is a noisy plateau)."""
    a = image.values.astype(float)
    ii, jj = np.meshgrid(np.arange(a.shape[0]), np.arange(a.shape[1]), indexing="ij")
    out = []
    for p in find_landmarks(a, n, sigma=3.0):
        for _ in range(20):
            w = a * (np.hypot(ii - p[0], jj - p[1]) < 12)
            p = np.array([(w * ii).sum(), (w * jj).sum()]) / w.sum()
        out.append(p)
    out = np.array(out)
    x, y = image[image.dims[0]].values, image[image.dims[1]].values
    return np.column_stack([np.interp(out[:, 0], np.arange(x.size), x),
                            np.interp(out[:, 1], np.arange(y.size), y)])


@pytest.fixture(scope="module")
def calibrated():
    truth = truth_for("WSe2")
    cols, _ = synthetic_events(2_000_000, seed=11, material=truth)
    jit = Jitter(columns={"X": 0.5, "Y": 0.5, "t": 0.5, "ADC": 0.5})
    # 1. the TOF spectrum; the valence-band top is where it first reaches 30 % of its maximum
    tlo, thi = truth.tof_range
    spec = bin_events(cols, [Axis("t", 400, (tlo, thi))], Pipeline(steps=(jit,)))
    onset = float(spec.t[np.argmax(spec.values > 0.3 * spec.values.max())])
    # 2. momentum: K-point landmarks in a slice at the band top, TPS registration, scale
    img = bin_events(cols, [Axis("X", 256, (0, 2048)), Axis("Y", 256, (0, 2048)),
                            Axis("t", 1, (onset - 250, onset + 150))], Pipeline(steps=(jit,)))
    lms = _landmarks(img[..., 0], 6)
    mc = MomentumCorrector(symmetry=6, include_center=False, align=True, landmarks=lms)
    mc.fit(img[..., 0].values.astype(float), coords=(img.X.values, img.Y.values))
    dist = mc.to_transform(x_out="Xm", y_out="Ym")
    rel = mc.target_ - mc.center_
    vertex = mc.target_[np.argmin(np.abs(np.arctan2(rel[:, 1], rel[:, 0])))]
    scale = momentum_scale(mc.center_, vertex, gamma_k_distance(truth.lattice_constant))
    mom = scale.to_transform(x_column="Xm", y_column="Ym")
    # 3. energy: a bias series of the K-valley spectrum
    biases = [-3.0, -1.5, 0.0, 1.5, 3.0]
    kpipe = Pipeline(steps=(jit, dist, mom))
    traces = []
    for j, bias in enumerate(biases):
        tb = replace(truth, tof_energy_offset=truth.tof_energy_offset - bias,
                     excitation_amplitude=0.0)
        ev, _ = synthetic_events(300_000, seed=100 + j, material=tb)
        h = bin_events(ev, [Axis("kx", 64, (-1.6, 1.6)), Axis("ky", 64, (-1.6, 1.6)),
                            Axis("t", 2000, (tlo - 12000, thi + 12000))], kpipe)
        kx, ky = np.meshgrid(h.kx.values, h.ky.values, indexing="ij")
        ang = np.arctan2(ky, kx)
        near = np.abs(np.hypot(kx, ky) - gamma_k_distance(truth.lattice_constant)) < 0.1
        near &= np.abs(((ang + np.pi / 6) % (np.pi / 3)) - np.pi / 6) < 0.08
        traces.append(h.values[near].sum(axis=0))
    traces = np.array(traces, float)
    tof = h.t.values
    ref = biases.index(0.0)
    first = tof[np.argmax(traces[ref] > 0.3 * traces[ref].max())]
    k0 = np.argmax(traces[ref] * (tof < first + 400))
    ec = EnergyCalibrator(ref_id=ref, ranges=(tof[k0] - 150, tof[k0] + 150),
                          ref_energy=truth.band_params["vbm_K"])
    ec.fit(traces, tof, biases)
    delay = DelayCalibration.from_adc_range(truth.adc_range, truth.delay_range)
    pipe = Pipeline(steps=(jit, dist, mom, ec.to_transform(), delay))
    return cols, truth, pipe


def _band_errors(cube, truth) -> np.ndarray:
    """|fitted - planted| for every planted band at resolved k points along G-K-M-G."""
    cut = path_cut(cube, "G-K-M-G", points=truth.high_symmetry_points)
    ds = fit_edcs(cut, 3, energy_range=(-3.5, 0.0))
    s = cut.attrs["label_positions"]
    pts = [truth.high_symmetry_points[p] for p in ("G", "K", "M", "G")]
    kx = np.interp(cut.k.values, s, [p[0] for p in pts])
    ky = np.interp(cut.k.values, s, [p[1] for p in pts])
    planted = np.sort(truth.band_energies(kx, ky)[list(truth.occupied_bands)], axis=0)[::-1].T
    err = []
    for i, bands in enumerate(planted):
        window = bands[(bands > -3.5) & (bands < 0.0)]
        if len(window) > 1 and np.min(-np.diff(window)) < 0.35:
            continue  # bands closer than ~2.5 line widths are not resolved: no single peak
        got = ds.position.values[i][np.isfinite(ds.position.values[i])]
        for e in bands[(bands > -3.2) & (bands < -0.2)]:
            err.append(np.min(np.abs(got - e)) if got.size else np.inf)
    return np.array(err)


def _k_point_errors(cube, truth) -> np.ndarray:
    """Distance (1/Angstrom) of each K valley in the cube's band-top slice from the planted K."""
    top = truth.band_params["vbm_K"]
    img = cube.sel(energy=slice(top - 0.1, top + 0.05)).sum("energy")
    found = _landmarks(img, 6)
    kk = truth.high_symmetry_points["K"][0]
    planted = kk * np.column_stack([np.cos(np.arange(6) * np.pi / 3),
                                    np.sin(np.arange(6) * np.pi / 3)])
    return np.array([np.min(np.hypot(*(planted - p).T)) for p in found])


def test_calibrated_cube_recovers_the_planted_bands(calibrated, tmp_path):
    cols, truth, pipe = calibrated
    axes = [Axis("kx", 80, (-1.6, 1.6)), Axis("ky", 80, (-1.6, 1.6)),
            Axis("energy", int(round(5.0 / E_BIN)), (-3.5, 1.5))]
    cube = bin_events(cols, axes, pipe)
    err = _band_errors(cube, truth)
    assert err.size >= 40
    assert err.max() < E_BIN, f"band errors (eV): median {np.median(err):.3f}, max {err.max():.3f}"
    assert _k_point_errors(cube, truth).max() < 0.04  # one kx bin
    # the cube and its calibrations survive NXmpes
    back = read_nxmpes(write_nxmpes(cube, tmp_path / "wse2.nxs"))
    xr.testing.assert_identical(back, cube)


def test_uncalibrated_pipeline_misses_the_bands(calibrated):
    """The check has teeth: without the distortion correction the K valleys are off by more
    than a k bin (the bands along the path move less, as they are flat near K)."""
    cols, truth, pipe = calibrated
    steps = [s for s in pipe.steps if s.op != "distortion"]
    mom = next(s for s in steps if s.op == "momentum")
    steps[steps.index(mom)] = mom.model_copy(update={"x_column": "X", "y_column": "Y"})
    cube = bin_events(cols, [Axis("kx", 80, (-1.6, 1.6)), Axis("ky", 80, (-1.6, 1.6)),
                             Axis("energy", 100, (-3.5, 1.5))], Pipeline(steps=tuple(steps)))
    assert _k_point_errors(cube, truth).max() > 0.04  # one kx bin


def test_metis_sample_loads_bins_and_round_trips(tmp_path):
    src = open_events(METIS)
    assert src.n_events == 297398
    pipe = Pipeline(steps=(Jitter(columns={"X": 0.5, "Y": 0.5, "t": 0.5}),))
    cube = bin_events(src, [Axis("X", 64, (0, 1500)), Axis("Y", 64, (0, 1500)),
                            Axis("t", 100, (130000, 280000))], pipe)
    assert int(cube.sum()) > 0.95 * src.n_events
    path = write_nxmpes(cube, tmp_path / "scan0030.nxs", source_files=[METIS])
    back = read_nxmpes(path)
    xr.testing.assert_identical(back, cube)
