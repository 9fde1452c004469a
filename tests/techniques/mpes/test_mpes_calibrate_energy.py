"""Energy calibration from a bias series: real sed/mpes curves and planted ground truth."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.mpes.calibrate import CalibrationError
from bigmax.techniques.mpes.calibrate.energy import EnergyCalibrator, find_bias_peaks
from bigmax.techniques.mpes.transforms import ME_OVER_2E, Pipeline

DATA = Path(__file__).parents[2] / "data" / "mpes"
CAL = DATA / "sed" / "tests" / "data" / "calibrator"


@pytest.fixture(scope="module")
def sed_series():
    traces = np.loadtxt(CAL / "traces.csv", delimiter=",").T  # one column per bias in the file
    tof = np.loadtxt(CAL / "tof.csv", delimiter=",")
    biases = np.loadtxt(CAL / "biases.csv", delimiter=",")
    return traces, tof, biases


def _planted(d=1.1, t0=7.5e-7, binwidth=4.125e-12, binning=4, n_tof=1500, seed=1):
    """Spectra with a sharp peak at 2 eV and a Fermi-like edge, at biases 12..22 V, in TOF."""
    rng = np.random.default_rng(seed)
    tof = np.linspace(63000, 76000, n_tof)
    ts = tof * binwidth * binning
    biases = np.arange(12.0, 23.0)
    traces = []
    for b in biases:
        e = ME_OVER_2E * (d / (ts - t0)) ** 2 - 28.0 + (22.0 - b)  # state energy at bias b
        peak = 3000 * np.exp(-((e - 2.0) ** 2) / (2 * 0.05**2))
        spec = peak + 800 / (1 + np.exp((e - 2.6) / 0.05))
        jac = 2 * ME_OVER_2E * d**2 / (ts - t0) ** 3  # dE/dt: counts per TOF bin
        traces.append(rng.poisson(spec * jac / jac.mean() + 5))
    return np.array(traces, float), tof, biases, dict(d=d, t0=t0)


def test_real_sed_series_fits_within_one_tof_bin(sed_series):
    traces, tof, biases = sed_series
    ec = EnergyCalibrator(ref_id=5, ranges=(66100, 67000), ref_energy=-0.5, binning=4)
    ec.fit(traces, tof, biases)
    step = tof[1] - tof[0]
    assert np.abs(ec.residuals_tof_).max() < step
    assert ec.predict(ec.peaks_[5:6])[0] == pytest.approx(-0.5, abs=1e-9)
    # each 1 V step moves the feature by 1 eV
    assert np.allclose(np.diff(ec.predict(ec.peaks_)), -1.0, atol=0.03)
    # sed's mpes example config (binning 4) holds d = 1.058 m, t0 = 7.684e-7 s, E0 = -30.44 eV
    assert ec.d_ == pytest.approx(1.058, rel=0.05)
    assert ec.t0_ == pytest.approx(7.684e-7, rel=0.05)
    assert ec.e0_ == pytest.approx(-30.44, abs=1.0)


def test_real_sed_series_polynomial(sed_series):
    traces, tof, biases = sed_series
    ec = EnergyCalibrator(kind="polynomial", order=3, ref_id=5, ranges=(66100, 67000),
                          ref_energy=-0.5).fit(traces, tof, biases)
    assert np.abs(ec.residuals_tof_).max() < tof[1] - tof[0]
    step = ec.to_transform()
    out = Pipeline(steps=(step,)).apply({"t": ec.peaks_})
    assert np.allclose(out["energy"], ec.predict(ec.peaks_))
    assert np.allclose(out["energy"], ec.target_energies_, atol=0.05)


def test_binding_scale_mirrors_kinetic(sed_series):
    traces, tof, biases = sed_series
    kw = dict(ref_id=5, ranges=(66100, 67000), ref_energy=-0.5, binning=4)
    kin = EnergyCalibrator(**kw).fit(traces, tof, biases)
    bind = EnergyCalibrator(energy_scale="binding", **kw).fit(traces, tof, biases)
    t = np.linspace(65000, 69000, 7)
    assert np.allclose(kin.predict(t) + 0.5, -(bind.predict(t) + 0.5))


def test_planted_calibration_is_recovered():
    traces, tof, biases, true = _planted()
    ec = EnergyCalibrator(ref_id=0, ranges=(70000, 71200), ref_energy=2.0, binning=4)
    ec.fit(traces, tof, biases)
    assert ec.bias_sign_ == 1  # the drift energy rises with the bias here
    assert ec.d_ == pytest.approx(true["d"], rel=0.02)
    assert ec.t0_ == pytest.approx(true["t0"], rel=0.02)
    # the planted energy scale: E(t) = K(t) - 28 + (22 - b_ref) with b_ref = 12
    t = np.linspace(65000, 72000, 9)
    want = ME_OVER_2E * (true["d"] / (t * 4.125e-12 * 4 - true["t0"])) ** 2 - 28.0 + 10.0
    assert np.abs(ec.predict(t) - want).max() < 0.02
    step = ec.to_transform()
    out = Pipeline(steps=(step,)).apply({"t": t})
    assert np.allclose(out["energy"], ec.predict(t))


def test_feature_search_follows_a_real_shifted_curve():
    mat = sio.loadmat(DATA / "mpes" / "resources" / "data" / "ECalib_EDCs.mat")
    edc, tof = mat["EDCs"][0], mat["ToF"].ravel()
    shifts = [0, 7, 15, 24]
    traces = np.array([np.concatenate([np.zeros(s), edc[: edc.size - s]]) for s in shifts])
    peaks = find_bias_peaks(traces, tof, 0, (69000, 71000))
    step = tof[1] - tof[0]
    assert np.allclose(np.diff(peaks) / step, np.diff(shifts), atol=0.05)


def test_bias_series_errors(sed_series):
    traces, tof, biases = sed_series
    ec = EnergyCalibrator(ref_id=5, ranges=(66100, 67000))
    with pytest.raises(CalibrationError, match="strictly increasing"):
        ec.fit(traces, tof[::-1], biases)
    empty = traces.copy()
    empty[3] = 0
    with pytest.raises(CalibrationError, match="trace 3 is empty"):
        ec.fit(empty, tof, biases)
    with pytest.raises(CalibrationError, match="one value per trace"):
        ec.fit(traces, tof, biases[:-1])
    with pytest.raises(CalibrationError, match="not monotonic"):
        ec.fit_peaks([1.0, 3.0, 2.0, 4.0], [1.0, 2.0, 3.0, 4.0])
    with pytest.raises(CalibrationError, match="not fitted"):
        EnergyCalibrator().predict([1.0])
    with pytest.raises(CalibrationError, match="ranges"):
        EnergyCalibrator().fit(traces, tof, biases)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=5, max_size=40), st.data())
def test_non_monotonic_tof_is_rejected(tof, data):
    tof = np.asarray(tof)
    if np.all(np.diff(tof) > 0):
        i = data.draw(st.integers(1, tof.size - 1))
        tof[i] = tof[i - 1]
    traces = np.ones((3, tof.size))
    with pytest.raises(CalibrationError, match="tof must be finite and strictly increasing"):
        find_bias_peaks(traces, tof, 0, (tof.min(), tof.max()))


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 6), st.integers(0, 5), st.sampled_from([0.0, -1.0, np.nan]))
def test_empty_or_bad_traces_are_rejected(n, which, fill):
    tof = np.linspace(0, 100, 50)
    traces = np.abs(np.random.default_rng(0).normal(size=(n, 50))) + 0.1
    traces[which % n] = fill
    with pytest.raises(CalibrationError, match=f"trace {which % n} is empty|NaN"):
        EnergyCalibrator(ranges=(10, 20)).fit(traces, tof, np.arange(n, dtype=float))


@pytest.fixture(scope="module")
def synthetic_bias_files(tmp_path_factory):
    """Five synthetic WSe2 METIS files; each bias volt adds 1 eV of drift energy."""
    from dataclasses import replace

    import h5py

    from bigmax.techniques.mpes.synthetic import truth_for, write_synthetic

    base = truth_for("WSe2")
    folder = tmp_path_factory.mktemp("bias")
    paths = []
    for b in range(5):
        truth = replace(base, tof_energy_offset=base.tof_energy_offset - b)
        p = folder / f"bias_{b}.h5"
        write_synthetic(p, 200_000, format="metis-h5", seed=b, material=truth)
        with h5py.File(p, "r+") as f:
            f.attrs["KTOF:Lens:Sample:V"] = float(b)
        paths.append(p)
    return paths, base


def test_event_files_recover_the_planted_energy_scale(synthetic_bias_files):
    from bigmax.techniques.mpes.calibrate.energy import bias_series_from_files

    paths, base = synthetic_bias_files
    traces, tof, biases = bias_series_from_files(paths, bins=1000)
    assert biases.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0] and traces.shape == (5, 1000)
    ec = EnergyCalibrator(ref_id=2, ranges=(127500, 130500), smooth=3).fit(traces, tof, biases)
    assert ec.bias_sign_ == 1
    assert np.abs(ec.residuals_tof_).max() < tof[1] - tof[0]
    # the planted scale at bias 2, up to the constant a bias series cannot fix
    t = np.linspace(118000, 150000, 9)
    planted = ME_OVER_2E * (base.tof_distance / (t * base.tof_binwidth - base.tof_time_offset)) ** 2
    diff = ec.predict(t) - planted
    assert np.ptp(diff) < 0.03  # eV over 2.4-11 eV of drift energy


def test_event_files_through_the_cli(synthetic_bias_files, tmp_path):
    from typer.testing import CliRunner

    from bigmax.cli import app
    from bigmax.techniques.mpes.config import load_config

    paths, _ = synthetic_bias_files
    out = tmp_path / "e.yaml"
    r = CliRunner().invoke(app, ["mpes", "calibrate", "energy", *map(str, paths), "--ranges",
                                 "127500,130500", "--ref-id", "2", "--smooth", "3",
                                 "--out", str(out)])
    assert r.exit_code == 0, r.output
    cfg = load_config(files=[out], use_user=False, use_folder=False)
    assert cfg.energy.calibration.kind == "tof_quadratic" and cfg.energy.calibration.d > 0


def test_event_file_errors(synthetic_bias_files, tmp_path):
    import h5py

    from bigmax.techniques.mpes.calibrate.energy import bias_series_from_files

    paths, _ = synthetic_bias_files
    bare = tmp_path / "bare.h5"
    with h5py.File(bare, "w") as f:
        f["Stream_2"] = np.arange(10, dtype=np.uint32)
    with pytest.raises(CalibrationError, match="bare.h5: attribute 'KTOF:Lens:Sample:V'"):
        bias_series_from_files([*paths[:2], bare])
    with pytest.raises(CalibrationError, match="at least 3 files"):
        bias_series_from_files(paths[:2])
    with pytest.raises(CalibrationError, match="smooth"):
        find_bias_peaks(np.ones((3, 10)), np.arange(10.0), 0, (2, 6), smooth=-1)
