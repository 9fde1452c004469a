"""Momentum calibration: landmarks, thin-plate-spline symmetrisation, scale from two points."""

from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bigmax.techniques.mpes.calibrate import CalibrationError
from bigmax.techniques.mpes.calibrate.momentum import (
    MomentumCorrector,
    find_landmarks,
    gamma_k_distance,
    momentum_scale,
    symmetric_target,
)
from bigmax.techniques.mpes.transforms import Pipeline

DATA = Path(__file__).parents[2] / "data" / "mpes"
MOMENTUM_MAP = DATA / "sed" / "tests" / "data" / "calibrator" / "momentum_map.csv"
KPTS = DATA / "mpes" / "resources" / "data" / "MomentumCalib.mat"

# sed's mpes example config lists the feature points of this image as (row, column) of sed's
# image; momentum_map.csv stores that image transposed (sed's own test transposes it on load).
SED_FEATURES = [[203.2, 341.96], [299.16, 345.32], [350.25, 243.70], [304.38, 149.88],
                [199.52, 152.48], [154.28, 242.27], [248.29, 248.62]]


def _similarity_residual(a, b):
    """RMS distance of b to a after the best similarity transform of a onto b."""
    ma, mb = a.mean(0), b.mean(0)
    u, s, vt = np.linalg.svd((b - mb).T @ (a - ma))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = (s * np.diag(d)).sum() / ((a - ma) ** 2).sum()
    fit = scale * (a - ma) @ rot.T + mb
    return np.sqrt(((fit - b) ** 2).sum(1)).max()


def _distortion(p, centre):
    """A lens-like distortion: shear, anisotropic scale and a quadratic term."""
    u = p - centre
    a = np.array([[1.07, 0.09], [-0.04, 0.94]])
    v = u @ a.T
    v = v + 6e-4 * np.column_stack([v[:, 0] ** 2 - v[:, 1] ** 2, v[:, 0] * v[:, 1]])
    return v + centre + np.array([3.0, -2.0])


def _render(points, shape, sigma=2.0, amps=None, seed=0, counts=400.0):
    rng = np.random.default_rng(seed)
    ii, jj = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    img = np.full(shape, 2.0)
    amps = np.ones(len(points)) if amps is None else amps
    for (x, y), a in zip(points, amps, strict=True):
        img += counts * a * np.exp(-((ii - x) ** 2 + (jj - y) ** 2) / (2 * sigma**2))
    return rng.poisson(img).astype(float)


def _hexagon(centre, radius, angle, with_centre=True):
    phi = angle + np.arange(6) * np.pi / 3
    pts = centre + radius * np.column_stack([np.cos(phi), np.sin(phi)])
    return np.vstack([pts, centre]) if with_centre else pts


@pytest.fixture(scope="module")
def synthetic():
    centre = np.array([70.3, 66.8])
    truth = _hexagon(centre, 38.0, 0.31)
    planted = _distortion(truth, centre)
    amps = np.array([1.0, 0.6, 0.9, 0.5, 0.8, 0.7, 1.2])
    img = _render(planted, (144, 136), amps=amps)
    return truth, planted, img, centre


def test_landmarks_found_to_sub_pixel(synthetic):
    _, planted, img, _ = synthetic
    found = find_landmarks(img, 7, sigma=1.5)
    dist = np.sqrt(((found[:, None, :] - planted[None]) ** 2).sum(-1)).min(axis=1)
    assert dist.max() < 0.3


def test_symmetrised_landmarks_recover_the_planted_lattice(synthetic):
    truth, planted, img, centre = synthetic
    mc = MomentumCorrector(sigma=1.5).fit(img)
    # the corrected landmarks form a regular hexagon ...
    moved = mc.correct_points(mc.landmarks_)
    assert np.abs(moved - mc.target_).max() < 0.05
    # ... which is the planted, undistorted lattice up to a similarity (< 0.5 px)
    order = [int(np.argmin(((planted - p) ** 2).sum(1))) for p in mc.landmarks_]
    assert _similarity_residual(truth[order], mc.target_) < 0.5
    # points that were not landmarks (the M points) come out right as well
    m_true = centre + 0.5 * (truth[:6] - centre + np.roll(truth[:6] - centre, 1, axis=0))
    m_corrected = mc.correct_points(_distortion(m_true, centre))
    s_res = _similarity_residual(np.vstack([truth[order], m_true]),
                                 np.vstack([mc.target_, m_corrected]))
    assert s_res < 0.5


def test_corrected_image_has_the_spots_on_the_target(synthetic):
    _, _, img, _ = synthetic
    mc = MomentumCorrector(sigma=1.5).fit(img)
    corrected = mc.transform(img)
    again = find_landmarks(corrected, 7, sigma=1.5)
    dist = np.sqrt(((again[:, None, :] - mc.target_[None]) ** 2).sum(-1)).min(axis=1)
    assert dist.max() < 0.5
    assert -0.05 < mc.score() <= 0


def test_field_matches_the_binning_engine_reference(synthetic):
    _, planted, img, _ = synthetic
    mc = MomentumCorrector(sigma=1.5).fit(img)
    step = mc.to_transform()
    out = Pipeline(steps=(step,)).apply({"X": planted[:, 0], "Y": planted[:, 1]})
    ours = mc.correct_points(planted)
    assert np.allclose(np.column_stack([out["Xm"], out["Ym"]]), ours, atol=1e-9)


def test_pose_adjustment_rotates_and_scales_the_target(synthetic):
    _, _, img, _ = synthetic
    plain = MomentumCorrector(sigma=1.5).fit(img)
    posed = MomentumCorrector(sigma=1.5, rotation=30.0, scale=1.1, translation=(2.0, -1.0)).fit(
        img
    )
    c = plain.symmetric_.center
    r = np.deg2rad(30.0)
    rot = 1.1 * np.array([[np.cos(r), -np.sin(r)], [np.sin(r), np.cos(r)]])
    want = (plain.target_ - c) @ rot.T + c + np.array([2.0, -1.0])
    assert np.allclose(posed.target_, want, atol=1e-9)
    aligned = MomentumCorrector(sigma=1.5, align=True).fit(img)
    vertex = aligned.target_[0] - aligned.center_
    ang = np.degrees(np.arctan2(vertex[1], vertex[0]))
    assert min(abs(((ang + 30) % 60) - 30), 60) < 1e-6  # a vertex on the x axis


def test_field_rebuilds_from_stored_landmarks(synthetic):
    _, _, img, _ = synthetic
    mc = MomentumCorrector(sigma=1.5).fit(img)
    d = mc.to_dict()
    again = MomentumCorrector(landmarks=d["landmarks"]).fit_grid(
        d["grid_shape"], d["grid_origin"], d["grid_step"]
    )
    assert np.allclose(again.dx_, mc.dx_) and np.allclose(again.dy_, mc.dy_)


def test_detector_coordinates():
    centre = np.array([700.0, 650.0])
    truth = _hexagon(centre, 300.0, 0.1)
    coords = (-256 + 8.0 * np.arange(256), -256 + 8.0 * np.arange(256))
    pix = np.column_stack([(truth[:, 0] + 256) / 8.0, (truth[:, 1] + 256) / 8.0])
    img = _render(pix, (256, 256), sigma=2.0)
    mc = MomentumCorrector().fit(img, coords)
    dist = np.sqrt(((mc.landmarks_[:, None, :] - truth[None]) ** 2).sum(-1)).min(axis=1)
    assert dist.max() < 2.0  # 0.25 binned pixel
    assert mc.to_transform().step == 8.0


def test_real_momentum_map_matches_seds_feature_points():
    img = np.loadtxt(MOMENTUM_MAP, delimiter=",")
    mc = MomentumCorrector(sigma=3.0).fit(img)
    sed = np.array(SED_FEATURES)[:, ::-1]  # (row, column) of the transposed file
    dist = np.sqrt(((mc.landmarks_[:, None, :] - sed[None]) ** 2).sum(-1)).min(axis=1)
    assert dist.max() < 2.0
    corrected = mc.transform(img)
    again = find_landmarks(corrected, 7, sigma=3.0)
    dist = np.sqrt(((again[:, None, :] - mc.target_[None]) ** 2).sum(-1)).min(axis=1)
    assert dist.max() < 0.5


def test_real_mpes_kpoints_image():
    img = sio.loadmat(KPTS)["Kpts"]
    mc = MomentumCorrector(sigma=1.5).fit(img)
    assert mc.symmetric_.center_index is not None
    centre = mc.landmarks_[mc.symmetric_.center_index]
    assert np.hypot(*(centre - np.array([40.0, 49.0]))) < 3  # Gamma, the broad central spot
    again = find_landmarks(mc.transform(img), 7, sigma=1.5)
    dist = np.sqrt(((again[:, None, :] - mc.target_[None]) ** 2).sum(-1)).min(axis=1)
    assert dist.max() < 0.5


def test_momentum_scale_from_gamma_and_k():
    a = 3.297  # WSe2
    kd = gamma_k_distance(a)
    assert kd == pytest.approx(4 * np.pi / (3 * a))
    sc = momentum_scale((100.0, 100.0), (160.0, 180.0), kd)
    k = sc([[160.0, 180.0], [100.0, 100.0]])
    assert np.hypot(*k[0]) == pytest.approx(kd)
    assert np.allclose(k[1], 0)
    step = sc.to_transform()
    out = Pipeline(steps=(step,)).apply({"X": np.array([160.0]), "Y": np.array([180.0])})
    assert np.hypot(out["kx"][0], out["ky"][0]) == pytest.approx(kd)


def test_too_few_landmarks_is_a_clear_error():
    img = _render(np.array([[20.0, 20.0], [40.0, 30.0], [30.0, 45.0]]), (64, 64))
    with pytest.raises(CalibrationError, match="found only 3 landmarks"):
        find_landmarks(img, 7)
    with pytest.raises(CalibrationError, match="needs 7 landmarks, got 3"):
        symmetric_target(np.array([[1.0, 2.0], [3.0, 1.0], [2.0, 4.0]]), 6)
    with pytest.raises(CalibrationError, match="constant"):
        MomentumCorrector().fit(np.zeros((32, 32)))
    with pytest.raises(CalibrationError, match="not fitted"):
        MomentumCorrector().transform(np.ones((32, 32)))
    with pytest.raises(CalibrationError, match="coincide"):
        momentum_scale((1.0, 1.0), (1.0, 1.0), 1.0)


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 9), st.integers(1, 3)),
              elements=st.floats(-1e3, 1e3) | st.just(np.nan)),
       st.integers(2, 8), st.booleans())
def test_bad_landmarks_raise_calibration_error(points, symmetry, centre):
    try:
        tgt = symmetric_target(points, symmetry, centre)
    except CalibrationError:
        return
    assert tgt.points.shape == points.shape and np.all(np.isfinite(tgt.points))


@settings(max_examples=25, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(0, 12), st.integers(0, 12)),
              elements=st.floats(0, 10) | st.just(np.inf)))
def test_bad_images_raise_calibration_error(img):
    with pytest.raises(CalibrationError):
        # too small, empty, constant or non-finite images never reach the fit
        if img.ndim == 2 and min(img.shape) >= 8 and np.all(np.isfinite(img)) and np.ptp(img):
            raise CalibrationError("a real image: allowed to fail only for want of landmarks")
        MomentumCorrector().fit(img)


def test_synthetic_wse2_events_k_points_land_on_the_planted_momenta():
    """Events from the synthetic generator (planted radial + 3-fold detector distortion):
    bin the valence-band-maximum slice, take the six K pockets as landmarks, calibrate, and
    find the planted K points and Gamma within a third of a typical k bin (0.032 1/A)."""
    from bigmax.techniques.mpes.synthetic import synthetic_events

    ev, truth = synthetic_events(1_000_000, seed=1, material="WSe2")
    energy = truth.tof_to_energy(ev["t"].astype(float))
    sel = (energy > -0.9) & (energy < -0.78)
    edges = np.arange(0, 2049, 8.0)
    centres = 0.5 * (edges[1:] + edges[:-1])
    img, _, _ = np.histogram2d(ev["X"][sel].astype(float), ev["Y"][sel].astype(float),
                               bins=[edges, edges])
    mc = MomentumCorrector(sigma=6.0, include_center=False).fit(img, (centres, centres))
    gk = gamma_k_distance(truth.lattice_constant)
    scale = momentum_scale(mc.center_, mc.target_[0], gk)
    ang = np.arange(6) * np.pi / 3
    k_true = gk * np.column_stack([np.cos(ang), np.sin(ang)])
    pts = np.vstack([k_true, [0.0, 0.0]])
    measured = np.column_stack(truth.distort(*truth.k_to_pixel(pts[:, 0], pts[:, 1])))
    k = scale(mc.correct_points(measured))
    k_uncorrected = scale(measured)
    # the k axes are free up to a rotation: take the mean angle of the six K points
    rot = np.mean(np.angle((k[:6, 0] + 1j * k[:6, 1]) / (k_true[:, 0] + 1j * k_true[:, 1])))
    r = np.array([[np.cos(rot), -np.sin(rot)], [np.sin(rot), np.cos(rot)]])
    err = np.abs(k - pts @ r.T).max()
    before = np.abs(k_uncorrected - pts @ r.T).max()
    assert err < 0.011 < before


def test_thin_plate_spline_equals_scipy():
    from scipy.interpolate import RBFInterpolator

    from bigmax.techniques.mpes.calibrate.momentum import ThinPlateSpline

    rng = np.random.default_rng(5)
    src = rng.uniform(0, 2000, (7, 2))
    dst = src + rng.normal(0, 20, (7, 2))
    ours = ThinPlateSpline(src, dst)
    ref = RBFInterpolator(src, dst, kernel="thin_plate_spline", degree=1)
    q = rng.uniform(-100, 2100, (500, 2))
    assert np.abs(ours(q) - ref(q)).max() < 1e-8
    xs, ys = np.arange(0, 2048.0, 37), np.arange(5, 2048.0, 53)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    want = ref(np.column_stack([gx.ravel(), gy.ravel()]))
    got = ours.grid(xs, ys, block=64)
    assert np.abs(got[0].ravel() - want[:, 0]).max() < 1e-8
    assert np.abs(got[1].ravel() - want[:, 1]).max() < 1e-8
    assert np.allclose(ours(src), dst, atol=1e-8)
    with pytest.raises(CalibrationError, match="collinear or repeated"):
        ThinPlateSpline(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]]), np.zeros((3, 2)))


def _barrel(p, centre, radius):
    u = p - centre
    r2 = (u**2).sum(1, keepdims=True) / radius**2
    v = u * (1 + 0.08 * r2) @ np.array([[1.03, 0.04], [0.0, 0.98]]).T
    return v + centre


def test_a_second_shell_fixes_the_radial_profile():
    centre, radius = np.array([128.0, 120.0]), 80.0
    k_pts = _hexagon(centre, radius, 0.2, with_centre=False)
    m_pts = _hexagon(centre, radius * np.sqrt(3) / 2, 0.2 + np.pi / 6, with_centre=False)
    truth = np.vstack([k_pts, m_pts, centre])
    # points between the shells and Gamma, not used as landmarks
    probe = np.vstack([_hexagon(centre, 0.45 * radius, 0.2 + np.pi / 6, with_centre=False),
                       _hexagon(centre, 0.6 * radius, 0.2, with_centre=False)])
    seen = _barrel(truth, centre, radius)
    one = MomentumCorrector(landmarks=np.vstack([seen[:6], seen[-1:]])).fit_grid((256, 240))
    two = MomentumCorrector(landmarks=seen, rings=[(np.sqrt(3) / 2, 30.0)]).fit_grid((256, 240))
    err = {}
    for name, mc in (("one", one), ("two", two)):
        got = mc.correct_points(_barrel(probe, centre, radius))
        lm_truth = truth if name == "two" else np.vstack([truth[:6], truth[-1:]])
        err[name] = _similarity_residual(np.vstack([lm_truth, probe]),
                                         np.vstack([mc.target_, got]))
    before = _similarity_residual(np.vstack([truth, probe]),
                                  np.vstack([seen, _barrel(probe, centre, radius)]))
    # a barrel distortion (8 % at the K radius): the inner points come out about 1.9 px off
    # with the K shell alone, and about 1.2 px with the M shell added (3.9 px uncorrected)
    assert err["two"] < 0.7 * err["one"] < 0.5 * before
    # found in an image, the 13 spots go to the right shells
    img = _render(seen, (256, 240), sigma=2.0)
    mc = MomentumCorrector(rings=[(np.sqrt(3) / 2, 30.0)]).fit(img)
    assert mc.landmarks_.shape == (13, 2)
    assert _similarity_residual(truth[[int(np.argmin(((seen - p) ** 2).sum(1)))
                                       for p in mc.landmarks_]], mc.target_) < 0.05
    with pytest.raises(CalibrationError, match="needs 13 landmarks"):
        symmetric_target(seen[:7], 6, rings=[(0.866, 30.0)])
    with pytest.raises(CalibrationError, match="radius ratio"):
        symmetric_target(seen, 6, rings=[(-1.0, 30.0)])
