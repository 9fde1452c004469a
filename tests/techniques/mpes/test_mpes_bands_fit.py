"""EDC fitting and E-k cuts: planted peaks come back within their errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.mpes.bands import (
    BandFitError,
    fit_edcs,
    hexagonal_points,
    parse_path,
    path_cut,
)


def _edcs(profile="lorentzian", nk=300, seed=0):
    """Poisson EDCs with two peaks whose positions vary with k, on a sloped background."""
    rng = np.random.default_rng(seed)
    e = np.linspace(-3.0, 0.0, 121)
    k = np.linspace(-1, 1, nk)
    p1 = -0.6 - 0.5 * k**2
    p2 = -2.0 + 0.3 * k
    w1, w2 = 0.15, 0.25

    def peak(x0, w):
        d = e[None, :] - x0[:, None]
        if profile == "lorentzian":
            return (w / 2) ** 2 / (d * d + (w / 2) ** 2)
        return np.exp(-4 * math.log(2) * d * d / w**2)

    lam = 400 * peak(p1, w1) + 250 * peak(p2, w2) + 20 + 5 * (e[None, :] + 1.5)
    counts = rng.poisson(lam)
    cube = xr.DataArray(counts, dims=["k", "energy"], coords={"k": k, "energy": e})
    return cube, np.stack([p1, p2], axis=1), np.array([w1, w2])


@pytest.mark.parametrize("profile", ["lorentzian", "gaussian"])
def test_planted_peaks_recovered_within_errors(profile):
    cube, truth, widths = _edcs(profile)
    ds = fit_edcs(cube, 2, profile=profile)
    assert (ds.n_found == 2).all()
    pos, err = ds.position.values, ds.position_err.values
    pull = (pos - truth) / err
    assert np.abs(np.median(pull)) < 0.3
    assert 0.7 < np.std(pull) < 1.4  # errors are honest
    np.testing.assert_allclose(np.median(ds.width.values, axis=0), widths, rtol=0.05)
    assert 0.8 < float(ds.chi2_reduced.median()) < 1.2
    assert ds.position.attrs["units"] == "eV" or ds.position.dims == ("k", "peak")


def test_more_peaks_requested_than_present():
    cube, truth, _ = _edcs(nk=20)
    ds = fit_edcs(cube, 4)
    assert (ds.n_found == 2).all()
    assert np.isnan(ds.position.values[:, 2:]).all()
    np.testing.assert_allclose(ds.position.values[:, :2], truth, atol=0.02)


def test_low_count_edcs_are_skipped_and_energy_window():
    cube, truth, _ = _edcs(nk=10)
    cube = cube.copy()
    cube[0] = 0
    ds = fit_edcs(cube, 1, energy_range=(-1.5, 0.0))
    assert np.isnan(ds.position.values[0]).all()
    np.testing.assert_allclose(ds.position.values[1:, 0], truth[1:, 0], atol=0.02)


def test_path_cut_interpolates_linearly():
    kx = np.linspace(-2, 2, 41)
    ky = np.linspace(-2, 2, 41)
    e = np.linspace(-1, 0, 5)
    vals = 3 * kx[:, None, None] + 2 * ky[None, :, None] + 0 * e
    cube = xr.DataArray(vals, dims=["kx", "ky", "energy"],
                        coords={"kx": kx, "ky": ky, "energy": e})
    pts = hexagonal_points(3.0)
    cut = path_cut(cube, "G-K-M-G", points=pts)
    assert cut.dims == ("k", "energy")
    assert cut.attrs["labels"] == ["Γ", "K", "M", "Γ"]
    s = np.asarray(cut.attrs["label_positions"])
    assert s[1] == pytest.approx(4 * math.pi / 9)
    mx, my = pts["M"]
    at_m = cut.sel(k=s[2], method="nearest").values
    np.testing.assert_allclose(at_m, 3 * mx + 2 * my, atol=0.05)


def test_hexagonal_points():
    p = hexagonal_points(2.46)
    assert math.hypot(*p["K"]) == pytest.approx(4 * math.pi / (3 * 2.46))
    assert math.hypot(*p["M"]) == pytest.approx(2 * math.pi / (math.sqrt(3) * 2.46))
    with pytest.raises(BandFitError, match="lattice constant"):
        hexagonal_points(-1)


def test_bad_arguments_name_what_is_wrong():
    cube, _, _ = _edcs(nk=5)
    with pytest.raises(BandFitError, match="no dimension 'E'"):
        fit_edcs(cube, 1, energy="E")
    with pytest.raises(BandFitError, match="n_peaks"):
        fit_edcs(cube, 0)
    with pytest.raises(BandFitError, match="profile"):
        fit_edcs(cube, 1, profile="voigt")
    with pytest.raises(BandFitError, match="non-negative"):
        fit_edcs(-cube, 1)
    with pytest.raises(BandFitError, match="unknown point"):
        parse_path("G-X", hexagonal_points(3.0))
    with pytest.raises(BandFitError, match="no dimension 'kx'"):
        path_cut(cube, [(0, 0), (1, 0)])


@settings(max_examples=40, deadline=None)
@given(lo=st.floats(allow_nan=True), hi=st.floats(allow_nan=True))
def test_bad_energy_ranges(lo, hi):
    cube, _, _ = _edcs(nk=3)
    if lo < hi and hi > -2.9 and lo < -0.1:
        return  # a usable window
    with pytest.raises(BandFitError, match="energy_range|too few"):
        fit_edcs(cube, 1, energy_range=(lo, hi))


@settings(max_examples=30, deadline=None)
@given(points=st.lists(st.tuples(st.floats(), st.floats()), max_size=4))
def test_bad_paths(points):
    arr = np.asarray(points, float).reshape(-1, 2)
    if len(arr) >= 2 and np.isfinite(arr).all():
        return
    with pytest.raises(BandFitError, match="path"):
        parse_path(points)


def test_batched_solver_agrees_with_scipy_least_squares():
    """Each EDC's optimum and error equal an independent scipy.optimize.least_squares fit."""
    from scipy.optimize import least_squares

    cube, _, _ = _edcs(nk=8, seed=3)
    ds = fit_edcs(cube, 2)
    e = cube.energy.values
    ec = 0.5 * (e[0] + e[-1])
    for i in range(cube.sizes["k"]):
        y = cube.values[i].astype(float)
        sig = np.sqrt(np.maximum(y, 1.0))

        def resid(p, y=y, sig=sig):
            model = p[0] + p[1] * (e - ec)
            for a, x0, w in p[2:].reshape(-1, 3):
                model = model + a * (w / 2) ** 2 / ((e - x0) ** 2 + (w / 2) ** 2)
            return (model - y) / sig

        start = [float(ds.background[i]), float(ds.background_slope[i])]
        for j in range(2):  # start away from our optimum
            start += [float(ds.amplitude[i, j]) * 0.8, float(ds.position[i, j]) + 0.03,
                      float(ds.width[i, j]) * 1.3]
        fit = least_squares(resid, np.array(start), method="lm", xtol=1e-12, ftol=1e-12)
        ref = fit.x[2:].reshape(-1, 3)
        order = np.argsort(-ref[:, 1])
        np.testing.assert_allclose(ref[order, 1], ds.position.values[i], atol=2e-4)
        np.testing.assert_allclose(ref[order, 2], ds.width.values[i], rtol=2e-3)
        chi2 = 2 * fit.cost / (e.size - fit.x.size)
        cov = np.linalg.inv(fit.jac.T @ fit.jac) * chi2
        err = np.sqrt(np.diag(cov))[2:].reshape(-1, 3)[order, 1]
        np.testing.assert_allclose(err, ds.position_err.values[i], rtol=0.02)
