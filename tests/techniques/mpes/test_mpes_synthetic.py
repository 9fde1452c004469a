"""The synthetic event generator: native dtypes, reproducibility, and exact inverse maps."""

from __future__ import annotations

import h5py
import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.mpes.synthetic import (
    BLOCK,
    SyntheticError,
    SyntheticTruth,
    iter_synthetic,
    read_truth,
    synthetic_events,
    truth_for,
    write_synthetic,
)


@pytest.fixture(scope="module", params=["graphene", "WSe2"])
def events(request):
    return synthetic_events(200_000, seed=3, material=request.param, truth_columns=True)


def test_native_dtypes_and_ranges(events):
    cols, truth = events
    assert cols["X"].dtype == np.uint16 and cols["Y"].dtype == np.uint16
    assert cols["t"].dtype == np.uint32 and cols["ADC"].dtype == np.uint16
    assert all(len(v) == 200_000 for v in cols.values())
    lo, hi = truth.tof_range
    assert cols["t"].min() >= np.floor(lo) and cols["t"].max() <= np.ceil(hi)
    assert cols["X"].max() < 2**truth.detector_bits


def test_reproducible_whatever_the_chunks():
    a, _ = synthetic_events(3 * BLOCK + 17, seed=5, material="WSe2")
    b = list(iter_synthetic(3 * BLOCK + 17, seed=5, material="WSe2", chunk_events=BLOCK))
    assert len(b) == 4
    for k in a:
        np.testing.assert_array_equal(a[k], np.concatenate([c[k] for c in b]))
    c, _ = synthetic_events(1000, seed=6, material="WSe2")
    assert not np.array_equal(a["t"][:1000], c["t"])


def test_instrument_maps_invert_to_the_planted_values(events):
    cols, truth = events
    signal = np.isfinite(cols["E_true"])
    assert 0.95 < signal.mean() < 0.995  # 2 % flat background
    e = truth.tof_to_energy(cols["t"][signal])
    err = e - cols["E_true"][signal]
    assert abs(np.median(err)) < 0.01 and np.std(err) < 0.045  # 30 meV resolution
    x, y = truth.undistort(cols["X"][signal].astype(float), cols["Y"][signal].astype(float))
    kx, ky = truth.pixel_to_k(x, y)
    dk = np.hypot(kx - cols["kx_true"][signal], ky - cols["ky_true"][signal])
    assert np.median(dk) < 0.02
    tau = truth.adc_to_delay(cols["ADC"][signal])
    assert np.max(np.abs(tau - cols["delay_true"][signal])) < 1e-3
    # without the correction the distortion is visible
    kx0, ky0 = truth.pixel_to_k(cols["X"][signal], cols["Y"][signal])
    dk0 = np.hypot(kx0 - cols["kx_true"][signal], ky0 - cols["ky_true"][signal])
    assert np.median(dk0) > 2 * np.median(dk)


def test_distortion_inverse_and_field():
    truth = truth_for("graphene")
    rng = np.random.default_rng(0)
    x, y = rng.uniform(100, 1300, (2, 1000))
    xd, yd = truth.distort(x, y)
    assert np.max(np.hypot(xd - x, yd - y)) > 5
    xu, yu = truth.undistort(xd, yd)
    np.testing.assert_allclose(xu, x, atol=1e-6)
    np.testing.assert_allclose(yu, y, atol=1e-6)
    fld = truth.correction_field((65, 33))
    assert fld.shape == (2, 65, 33)


def test_events_follow_the_bands():
    """Near K, graphene's occupied pi-band events are Lorentzians centred on the planted band."""
    cols, truth = synthetic_events(400_000, seed=1, material="graphene", truth_columns=True)
    kk = truth.high_symmetry_points["K"][0]
    dk = np.hypot(cols["kx_true"] - kk, cols["ky_true"])
    sel = (dk > 0.15) & (dk < 0.3)  # the pi* band lies above the Fermi level here
    kx, ky, e = cols["kx_true"][sel], cols["ky_true"][sel], cols["E_true"][sel]
    resid = e - truth.band_energies(kx, ky)[0]
    core = resid[np.abs(resid) < 0.5]
    assert core.size > 2000
    assert abs(np.median(core)) < 0.01
    q1, q3 = np.percentile(core, [25, 75])
    assert 0.07 < q3 - q1 < 0.11  # a Cauchy of HWHM 0.05 eV has an interquartile range of 0.1


def test_pump_probe_population_decays():
    cols, truth = synthetic_events(300_000, seed=2, material="WSe2", truth_columns=True)
    hot = cols["E_true"] > 0.5
    tau = cols["delay_true"]
    before = hot[tau < -0.2].mean()
    peak = hot[(tau > 0.0) & (tau < 0.2)].mean()
    late = hot[tau > 1.5].mean()
    assert peak > 5 * before and peak > 3 * late


def test_truth_json_round_trip():
    t = truth_for("WSe2", distortion_radial=0.1)
    assert SyntheticTruth.from_json(t.to_json()) == t
    kpath = t.path("G-K-M-G", n=50)
    assert kpath.shape == (2, 50)
    with pytest.raises(SyntheticError, match="unknown point"):
        t.path("G-X")


@pytest.mark.parametrize("fmt,suffix", [("parquet", ".parquet"), ("metis-h5", ".h5")])
def test_write_synthetic_streams_the_same_events(tmp_path, fmt, suffix):
    path = tmp_path / f"ev{suffix}"
    truth = write_synthetic(path, 2 * BLOCK + 5, format=fmt, seed=4, chunk_events=BLOCK)
    cols, _ = synthetic_events(2 * BLOCK + 5, seed=4)
    assert read_truth(path) == truth
    if fmt == "parquet":
        table = pq.read_table(path)
        assert table.num_rows == 2 * BLOCK + 5 and pq.ParquetFile(path).num_row_groups == 3
        for k in cols:
            np.testing.assert_array_equal(table[k].to_numpy(), cols[k])
    else:
        with h5py.File(path) as f:
            for i, k in enumerate(["X", "Y", "t", "ADC"]):
                np.testing.assert_array_equal(f[f"Stream_{i}"][()], cols[k])
                assert f[f"Stream_{i}"].attrs["Name"] == k.encode()
            assert f["msMarkers"][-1] <= 2 * BLOCK + 5


def test_bad_arguments_name_the_argument(tmp_path):
    with pytest.raises(SyntheticError, match="material"):
        synthetic_events(10, material="graphite")
    with pytest.raises(SyntheticError, match="format"):
        write_synthetic(tmp_path / "x", 10, format="csv")
    with pytest.raises(SyntheticError, match="no bigmax_synthetic_truth"):
        with h5py.File(tmp_path / "plain.h5", "w"):
            pass
        read_truth(tmp_path / "plain.h5")


@settings(max_examples=30, deadline=None)
@given(
    n=st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True)),
    chunk=st.integers(max_value=0),
)
def test_bad_counts_rejected(n, chunk):
    with pytest.raises(SyntheticError, match="n_events|chunk_events"):
        synthetic_events(n, chunk_events=chunk)
    with pytest.raises(SyntheticError, match="chunk_events"):
        synthetic_events(10, chunk_events=chunk)


def test_write_with_progress_and_custom_truth(tmp_path):
    truth = truth_for("graphene", background_fraction=0.0, excitation_amplitude=0.0)
    path = tmp_path / "g.parquet"
    assert write_synthetic(path, 1000, material=truth, progress=True) == truth
    cols, _ = synthetic_events(1000, material=truth, truth_columns=True)
    assert np.isfinite(cols["E_true"]).all()  # no background events
    assert pq.read_table(path).num_rows == 1000
