"""The MPES run config: hierarchy, errors naming file and field, sed's layout both ways."""

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.mpes.config import (
    ConfigError,
    MpesConfig,
    dump_config,
    from_sed,
    load_config,
    to_sed,
)
from bigmax.techniques.mpes.transforms import ME_OVER_2E

# A sed config written from sed's documented keys (dataframe/energy/momentum/delay/histogram).
SED_YAML = """
core:
  loader: mpes
dataframe:
  columns:
    x: X
    y: Y
    tof: t
    adc: ADC
    corrected_x: Xm
    corrected_y: Ym
    kx: kx
    ky: ky
    energy: energy
    delay: delay
  tof_binwidth: 4.125e-12
  tof_binning: 4
  jitter_cols: ["@x", "@y", "@tof"]
  jitter_amps: 0.5
energy:
  calibration:
    d: 1.058
    t0: 7.684e-07
    E0: -30.44
    energy_scale: kinetic
momentum:
  axes: ["@x", "@y", "@tof"]
  bins: [512, 512, 300]
  ranges: [[-256, 1792], [-256, 1792], [264000, 272000]]
  calibration:
    kx_scale: 0.0107
    ky_scale: 0.0107
    x_center: 256.0
    y_center: 256.0
    rstart: -256.0
    cstart: -256.0
    rstep: 4.0
    cstep: 4.0
  correction:
    feature_points: [[203.2, 341.96], [299.16, 345.32], [350.25, 243.70], [304.38, 149.88],
                     [199.52, 152.48], [154.28, 242.27], [248.29, 248.62]]
    rotation_symmetry: 6
    include_center: true
    use_center: true
delay:
  adc_range: [1900, 25600]
  flip_time_axis: false
histogram:
  axes: ["@x", "@y", "@tof"]
  bins: [80, 80, 80]
  ranges: [[0, 1800], [0, 1800], [256000, 276000]]
"""


@pytest.fixture
def sed_file(tmp_path):
    p = tmp_path / "sed_config.yaml"
    p.write_text(SED_YAML)
    return p


def test_package_defaults_validate(tmp_path):
    cfg = load_config(folder=tmp_path, use_user=False)
    assert cfg.columns.tof == "t" and cfg.jitter.amplitude == 0.5
    assert cfg.energy.calibration is None


def test_hierarchy_package_user_folder_call(tmp_path):
    user = tmp_path / "user.yaml"
    user.write_text("jitter: {seed: 5}\ncolumns: {tof: tof_user}\n")
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "bigmax_mpes.yaml").write_text("jitter: {seed: 7}\n")
    cfg = load_config(folder=folder, user_file=user)
    assert cfg.jitter.seed == 7 and cfg.columns.tof == "tof_user"  # folder over user
    cfg = load_config(folder=folder, user_file=user, overrides={"jitter": {"seed": 9}})
    assert cfg.jitter.seed == 9 and cfg.columns.x == "X"  # call over folder, defaults kept
    cfg = load_config(folder=folder, user_file=user, use_folder=False)
    assert cfg.jitter.seed == 5


def test_user_file_from_xdg(tmp_path, monkeypatch):
    (tmp_path / "bigmax").mkdir()
    (tmp_path / "bigmax" / "mpes.yaml").write_text("jitter: {seed: 11}\n")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert load_config(folder=tmp_path / "nowhere").jitter.seed == 11


def test_errors_name_the_file_and_field(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    bad = folder / "bigmax_mpes.yaml"
    bad.write_text("energy:\n  calibration: {d: far, t0: 1e-7}\n")
    with pytest.raises(ConfigError, match=r"bigmax_mpes.yaml: energy.calibration.d: Input"):
        load_config(folder=folder, use_user=False)
    bad.write_text("jitter: {seeed: 1}\n")
    with pytest.raises(ConfigError, match=r"bigmax_mpes.yaml: jitter.seeed: Extra inputs"):
        load_config(folder=folder, use_user=False)
    bad.write_text("jitter: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bigmax_mpes.yaml: not valid YAML at line"):
        load_config(folder=folder, use_user=False)
    bad.write_text("- just a list\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(folder=folder, use_user=False)
    with pytest.raises(ConfigError, match="call arguments: binning.axes.0: Value error"):
        load_config(folder=tmp_path, use_user=False,
                    overrides={"binning": {"axes": [{"column": "t", "bins": 10,
                                                     "range": [5, 1]}]}})


def test_sed_config_reads_into_ours(sed_file):
    cfg = load_config(files=[sed_file], use_user=False, use_folder=False)
    assert cfg.energy.tof_binning == 4
    assert cfg.energy.calibration.d == 1.058 and cfg.energy.calibration.e0 == -30.44
    assert cfg.jitter.columns == ["X", "Y", "t"]
    lm = np.array(cfg.momentum.correction.landmarks)
    # feature point (row 248.29, column 248.62) of a 4-pixel binned image starting at -256
    assert np.allclose(lm[-1], [-256 + 4 * 248.29, -256 + 4 * 248.62])
    kc = cfg.momentum.calibration
    assert kc.x_center == pytest.approx(768.0) and kc.kx_scale == pytest.approx(0.0107 / 4)
    assert cfg.binning.range_mode == "sed"
    assert [a.column for a in cfg.binning.axes] == ["X", "Y", "t"]


def test_sed_round_trip(sed_file):
    cfg = load_config(files=[sed_file], use_user=False, use_folder=False)
    back = to_sed(cfg)
    raw = yaml.safe_load(SED_YAML)
    assert np.allclose(back["momentum"]["correction"]["feature_points"],
                       raw["momentum"]["correction"]["feature_points"])
    for key in ("kx_scale", "x_center", "rstart", "rstep"):
        assert back["momentum"]["calibration"][key] == pytest.approx(
            raw["momentum"]["calibration"][key])
    assert back["energy"]["calibration"] == {"energy_scale": "kinetic", "E0": -30.44,
                                             "d": 1.058, "t0": 7.684e-07}
    assert MpesConfig.model_validate(from_sed(back)) == cfg


def test_our_yaml_round_trip(tmp_path, sed_file):
    cfg = load_config(files=[sed_file], use_user=False, use_folder=False)
    out = tmp_path / "ours.yaml"
    dump_config(cfg, out)
    assert load_config(files=[out], use_user=False, use_folder=False) == cfg
    sed_out = tmp_path / "sed_again.yaml"
    dump_config(cfg, sed_out, sed=True)
    assert "dataframe" in yaml.safe_load(sed_out.read_text())
    assert load_config(files=[sed_out], use_user=False, use_folder=False) == cfg


def test_config_builds_the_event_pipeline(sed_file):
    cfg = load_config(files=[sed_file], use_user=False, use_folder=False,
                      overrides={"jitter": None,
                                 "delay": {"delay_range": [0.0, -93.4]}})
    pipe = cfg.to_pipeline()
    assert [s.op for s in pipe.steps] == ["distortion", "momentum", "energy", "delay"]
    events = {"X": np.array([738.5, 1111.8]), "Y": np.array([737.2, 556.8]),
              "t": np.array([65000.0, 66000.0]), "ADC": np.array([1900.0, 25600.0])}
    out = pipe.apply(events)
    t = events["t"] * 4.125e-12 * 4
    assert np.allclose(out["energy"], ME_OVER_2E * (1.058 / (t - 7.684e-7)) ** 2 - 30.44)
    assert np.allclose(out["delay"], [0.0, -93.4])
    assert np.all(np.isfinite(out["kx"]))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["d", "t0", "e0", "energy_scale", "kind"]),
       st.one_of(st.text(max_size=5), st.lists(st.integers(), max_size=2), st.none()))
def test_bad_values_name_the_field(key, value):
    over = {"energy": {"calibration": {"d": 1.0, "t0": 1e-7, key: value}}}
    try:
        load_config(overrides=over, use_user=False, use_folder=False)
    except ConfigError as err:
        assert str(err).startswith("call arguments: energy.calibration")


def test_bad_sed_files_name_the_file(tmp_path):
    p = tmp_path / "sed_bad.yaml"
    p.write_text("dataframe: {}\nmomentum:\n  correction:\n    feature_points: [[a, b]]\n")
    with pytest.raises(ConfigError, match="sed_bad.yaml: momentum.correction.feature_points"):
        load_config(files=[p], use_user=False, use_folder=False)
    p.write_text("dataframe: {}\nhistogram: {axes: [X, Y], bins: [10], ranges: [[0, 1]]}\n")
    with pytest.raises(ConfigError, match="sed_bad.yaml: histogram axes, bins and ranges"):
        load_config(files=[p], use_user=False, use_folder=False)
    p.write_text("dataframe: {}\nenergy:\n  calibration: {d: 1.0, E0: 0}\n")
    with pytest.raises(ConfigError, match="sed_bad.yaml: energy.calibration: Value error"):
        load_config(files=[p], use_user=False, use_folder=False)


def test_landmark_shells_round_trip_and_refuse_sed(tmp_path):
    pts = [[float(100 + 50 * np.cos(a)), float(100 + 50 * np.sin(a))]
           for a in np.arange(6) * np.pi / 3]
    pts += [[float(100 + 43.3 * np.cos(a)), float(100 + 43.3 * np.sin(a))]
            for a in np.arange(6) * np.pi / 3 + np.pi / 6]
    over = {"momentum": {"correction": {"landmarks": pts, "include_center": False,
                                        "rings": [[0.866, 30.0]], "grid_shape": [200, 200]}}}
    cfg = load_config(overrides=over, use_user=False, use_folder=False)
    out = tmp_path / "rings.yaml"
    dump_config(cfg, out)
    assert load_config(files=[out], use_user=False, use_folder=False) == cfg
    assert [s.op for s in cfg.to_pipeline().steps] == ["jitter", "distortion"]
    with pytest.raises(ConfigError, match="second shell"):
        to_sed(cfg)
    over["momentum"]["correction"]["landmarks"] = pts[:6]
    with pytest.raises(ConfigError, match="needs 12 landmarks, got 6"):
        load_config(overrides=over, use_user=False, use_folder=False)
