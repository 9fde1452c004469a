"""``bigmax mpes calibrate momentum|energy|delay`` end to end on the real sample files."""

from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.techniques.mpes.calibrate.momentum import MomentumCorrector
from bigmax.techniques.mpes.config import load_config

DATA = Path(__file__).parents[2] / "data" / "mpes"
CAL = DATA / "sed" / "tests" / "data" / "calibrator"
SCAN = DATA / "sed" / "tests" / "data" / "loader" / "mpes" / "Scan0030_2.h5"
runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["mpes", "calibrate", *map(str, args)])


def test_three_calibrations_into_one_config(tmp_path):
    out = tmp_path / "run.yaml"
    pic = tmp_path / "mom.png"
    r = _run("momentum", CAL / "momentum_map.csv", "--sigma", "3", "--out", out,
             "--lattice-constant", "3.297", "--plot", pic)
    assert r.exit_code == 0, r.output
    assert "7 landmarks" in r.output and pic.stat().st_size > 10_000
    r = _run("energy", CAL / "traces.csv", "--tof", CAL / "tof.csv", "--biases",
             CAL / "biases.csv", "--ranges", "66100,67000", "--ref-id", "5",
             "--ref-energy", "-0.5", "--binning", "4", "--out", out,
             "--plot", tmp_path / "e.png")
    assert r.exit_code == 0, r.output
    assert "largest residual" in r.output
    r = _run("delay", SCAN, "--adc-range", "1900,25600", "--out", out)
    assert r.exit_code == 0, r.output
    cfg = load_config(files=[out], use_user=False, use_folder=False)
    assert len(cfg.momentum.correction.landmarks) == 7
    # after distortion correction and k calibration, every K point sits |Gamma-K| from Gamma
    gk = 4 * np.pi / (3 * 3.297)
    mc = cfg.momentum.correction
    fitted = MomentumCorrector(landmarks=mc.landmarks).fit_grid(mc.grid_shape)
    kc = cfg.momentum.calibration
    k = (fitted.correct_points(fitted.landmarks_) - [kc.x_center, kc.y_center]) * kc.kx_scale
    radii = np.sort(np.hypot(*k.T))
    assert radii[0] < 1e-3 and np.allclose(radii[1:], gk, rtol=1e-3)
    assert cfg.energy.calibration.d > 0 and cfg.delay.delay_range[1] < 0
    steps = [s.op for s in cfg.to_pipeline().steps]
    assert steps == ["jitter", "distortion", "momentum", "energy", "delay"]


def test_sed_layout_output(tmp_path):
    out = tmp_path / "sed.yaml"
    out.write_text("core:\n  loader: mpes\nmetadata:\n  archiver_url: x\n")
    r = _run("momentum", DATA / "mpes" / "resources" / "data" / "MomentumCalib.mat",
             "--sigma", "1.5", "--out", out, "--sed-config")
    assert r.exit_code == 0, r.output
    raw = yaml.safe_load(out.read_text())
    assert raw["core"] == {"loader": "mpes"} and raw["metadata"]["archiver_url"] == "x"
    assert len(raw["momentum"]["correction"]["feature_points"]) == 7
    assert raw["momentum"]["correction"]["rotation_symmetry"] == 6


def test_polynomial_energy_from_mat_needs_biases(tmp_path):
    r = _run("energy", DATA / "mpes" / "resources" / "data" / "ECalib_EDCs.mat",
             "--biases", "1,2", "--ranges", "69000,71000", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1
    assert "biases must have one value per trace (4)" in r.output


def test_clear_errors(tmp_path):
    r = _run("delay", CAL / "tof.csv", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1 and "tof.csv: cannot be read as HDF5" in r.output
    assert "Traceback" not in r.output
    r = _run("momentum", tmp_path / "missing.csv", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1 and "missing.csv: no such file" in r.output
    img = tmp_path / "three.npy"
    a = np.zeros((64, 64))
    a[10, 10] = a[30, 40] = a[50, 20] = 100
    np.save(img, a)
    r = _run("momentum", img, "--out", tmp_path / "x.yaml", "--sigma", "1")
    assert r.exit_code == 1 and "found only 3 landmarks" in r.output
    r = _run("energy", CAL / "traces.csv", "--tof", CAL / "tof.csv", "--biases", "a,b",
             "--ranges", "1,2", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1 and "--biases must be comma-separated numbers" in r.output
    # the energy-integrated METIS image is a featureless disc: no pattern to calibrate on
    r = _run("momentum", SCAN, "--bins", "256", "--sigma", "4", "--out", tmp_path / "x.yaml")
    assert r.exit_code == 1 and "do not form a 6-fold pattern" in r.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("jitter: {seeed: 3}\n")
    r = _run("delay", SCAN, "--adc-range", "1900,25600", "--out", bad)
    assert r.exit_code == 1 and "bad.yaml: jitter.seeed" in r.output


@pytest.mark.slow
def test_synthetic_file_calibrate_then_bin(tmp_path):
    """Synthetic WSe2 METIS file -> calibrate momentum (K pockets) -> bigmax mpes bin in k:
    the six K pockets land |Gamma-K| from Gamma, within one k bin."""
    from bigmax.techniques.mpes.calibrate.momentum import find_landmarks
    from bigmax.techniques.mpes.synthetic import write_synthetic

    src = tmp_path / "syn.h5"
    truth = write_synthetic(src, 1_000_000, format="metis-h5", seed=2, material="WSe2")
    t_lo, t_hi = sorted(truth.energy_to_tof(np.array([-0.9, -0.78])))
    out = tmp_path / "syn.yaml"
    r = _run("momentum", src, "--bins", "256", "--tof-range", f"{t_lo},{t_hi}", "--sigma", "6",
             "--no-center", "--lattice-constant", truth.lattice_constant, "--out", out)
    assert r.exit_code == 0, r.output
    cube = tmp_path / "cube.nc"
    r = runner.invoke(app, ["mpes", "bin", str(src), "--config", str(out), "--no-jitter",
                            "-a", "kx:-1.6:1.6:128", "-a", "ky:-1.6:1.6:128",
                            "-a", f"t:{t_lo}:{t_hi}:1", "--out", str(cube)])
    assert r.exit_code == 0, r.output
    import xarray as xr

    img = xr.open_dataarray(cube).values[:, :, 0]
    centres = -1.6 + 3.2 / 128 * (np.arange(128) + 0.5)
    spots = find_landmarks(img, 6, sigma=3.0)
    k = np.interp(spots, np.arange(128), centres)
    gk = 4 * np.pi / (3 * truth.lattice_constant)
    assert np.abs(np.hypot(*k.T) - gk).max() < 3.2 / 128
