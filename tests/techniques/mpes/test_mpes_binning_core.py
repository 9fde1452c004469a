"""Binning engine: agreement with numpy.histogramdd, range semantics, edges, weights, dtypes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.techniques.mpes import binning
from bigmax.techniques.mpes.binning import Accumulator, Axis, BinningError, bin_events

METIS = Path(__file__).parents[2] / "data/mpes/sed/tests/data/loader/mpes/Scan0030_2.h5"


def _events(n=20000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 2048, n).astype(np.uint16)  # integers: many values sit on edges
    y = rng.uniform(-1.0, 1.0, n)
    t = rng.normal(1.0e5, 2.0e4, n).astype(np.float32)
    y[:50] = 1.0  # exactly on the last edge
    y[50:60] = -1.0
    y[60:70] = np.nan
    return {"X": x, "Y": y, "t": t}


def _ref(d, names, bins, ranges=None, weights=None):
    sample = np.stack([np.asarray(d[c], dtype=np.float64) for c in names], axis=1)
    return np.histogramdd(sample, bins=bins, range=ranges, weights=weights)[0]


def test_sed_compatible_equals_histogramdd_exactly():
    d = _events()
    axes = [Axis("X", 256, (0, 2048)), Axis("Y", 37, (-1, 1)), Axis("t", 50, (6e4, 1.3e5))]
    got = bin_events(d, axes, sed_compatible=True, chunk_events=3001, n_threads=2)
    ref = _ref(d, ["X", "Y", "t"], [256, 37, 50], [(0, 2048), (-1, 1), (6e4, 1.3e5)])
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got.values, ref)
    assert got.attrs["range_semantics"].startswith("numpy.histogramdd")


def test_default_mode_excludes_the_last_edge():
    d = _events()
    axes = [Axis("Y", 40, (-1, 1))]
    got = bin_events(d, axes).values
    ref = _ref(d, ["Y"], [40], [(-1, 1)])
    on_edge = int(np.sum(d["Y"] == 1.0))
    assert on_edge == 50
    assert got[-1] == ref[-1] - on_edge  # values == hi are out in the default mode
    np.testing.assert_array_equal(got[:-1], ref[:-1])


def test_awkward_ranges_match_numpy_edges():
    # ranges whose bin width is not a binary fraction: floor((v-lo)/w) alone disagrees
    # with numpy's linspace edges for values within rounding of an edge
    lo, hi, nb = 0.1, 0.7, 3
    e = np.linspace(lo, hi, nb + 1)
    vals = np.concatenate([e, np.nextafter(e, -np.inf), np.nextafter(e, np.inf),
                           np.random.default_rng(1).uniform(0, 1, 1000)])
    d = {"v": vals}
    got = bin_events(d, [Axis("v", nb, (lo, hi))], sed_compatible=True).values
    np.testing.assert_array_equal(got, np.histogram(vals, nb, (lo, hi))[0])
    # the default mode has the same edges, with the last one excluded
    got = bin_events(d, [Axis("v", nb, (lo, hi))]).values
    np.testing.assert_array_equal(got, np.histogram(vals[vals < hi], nb, (lo, hi))[0])


def test_integers_on_edges_of_inexact_width():
    # X = 49 k sits on an edge of (0, 4900) / 100 bins; floor(X * (100 / 4900)) alone puts
    # 52 of those 100 integers one bin low (49 * (1 / 49) < 1 in binary)
    x = np.arange(0, 4900, dtype=np.uint16)
    assert (np.floor(x[::49] * (100 / 4900)) != np.arange(100)).sum() == 52
    got = bin_events({"X": x}, [Axis("X", 100, (0, 4900))]).values
    assert (got == 49).all()


def test_arbitrary_edges():
    d = _events()
    ex = np.array([0, 3, 100, 101, 900, 2047, 2048.0])
    et = np.geomspace(5e4, 1.6e5, 17)
    axes = [Axis("X", edges=ex), Axis("t", edges=et)]
    got = bin_events(d, axes, sed_compatible=True, n_threads=3)
    np.testing.assert_array_equal(got.values, _ref(d, ["X", "t"], [ex, et]))
    np.testing.assert_allclose(got["X"].values, 0.5 * (ex[:-1] + ex[1:]))
    assert json.loads(got.attrs["axes"])[0]["edges"] == ex.tolist()


def test_weights_float64():
    d = _events()
    w = np.random.default_rng(3).uniform(0, 2, len(d["X"]))
    axes = [Axis("X", 64, (0, 2048)), Axis("t", 30, (6e4, 1.3e5))]
    got = bin_events({**d, "gmd": w}, axes, weights="gmd", sed_compatible=True, chunk_events=999)
    assert got.dtype == np.float64 and got.name == "weights"
    ref = _ref(d, ["X", "t"], [64, 30], [(0, 2048), (6e4, 1.3e5)], weights=w)
    np.testing.assert_allclose(got.values, ref, rtol=1e-12)
    arr = bin_events(d, axes, weights=w, sed_compatible=True)
    np.testing.assert_allclose(arr.values, ref, rtol=1e-12)


def test_overflow_promotion(monkeypatch):
    n = 5000
    d = {"x": np.full(n, 0.5)}
    monkeypatch.setattr(binning, "COUNT_LIMIT", 2000)
    got = bin_events(d, [Axis("x", 4, (0, 1))], chunk_events=700, n_threads=2)
    assert got.dtype == np.uint64
    assert got.values.tolist() == [0, 0, n, 0]
    monkeypatch.setattr(binning, "COUNT_LIMIT", 2**32)
    assert bin_events(d, [Axis("x", 4, (0, 1))]).dtype == np.uint32


def test_accumulator_promotes_only_when_needed():
    acc = Accumulator(4, 2, weighted=False, count_limit=100)
    acc.reserve(40)
    acc.hist[0, 1] = 40
    acc.added(40, 80)
    acc.reserve(40)  # bound 80: real max 40 -> stays uint32
    assert acc.hist.dtype == np.uint32 and acc.bound == 40
    acc.hist[0, 1] = 80
    acc.added(40, 80)
    acc.reserve(40)  # real max 80 + 40 >= 100 -> promote before the chunk
    assert acc.hist.dtype == np.uint64 and acc.promoted


def test_result_carries_coords_and_provenance():
    d = _events(1000)
    got = bin_events(d, ["X:0:2048:8", {"name": "t", "bins": 4, "range": (6e4, 1.3e5)}])
    assert got.dims == ("X", "t") and got.shape == (8, 4)
    np.testing.assert_allclose(got["X"].values, np.arange(128, 2048, 256))
    prov = json.loads(got.attrs["provenance"])
    assert prov["n_events_read"] == 1000 and prov["engine"] == "local"
    assert json.loads(got.attrs["pipeline"]) == {"steps": []}


def test_axis_parse_and_sed_convention():
    ax = Axis.parse("kx:-2:2:100")
    assert (ax.name, ax.bins, ax.range) == ("kx", 100, (-2.0, 2.0))
    sed = Axis.from_sed("t", 10, (0.0, 1.0))
    np.testing.assert_allclose(sed.range, (-0.05, 0.95))
    np.testing.assert_allclose(sed.centres()[[0, -1]], (0.0, 0.9))


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"bins": 10, "range": (1.0, 1.0)}, "lo < hi"),
        ({"bins": 10, "range": (2.0, 1.0)}, "lo < hi"),
        ({"bins": 0, "range": (0, 1)}, "bins must be > 0"),
        ({"bins": -3, "range": (0, 1)}, "bins must be > 0"),
        ({"bins": 10, "range": (0, np.inf)}, "finite"),
        ({"bins": 10}, "give bins and range"),
        ({"edges": (0, 2, 1)}, "increase strictly"),
        ({"edges": (1,)}, "at least 2 edges"),
        ({"bins": 2.5, "range": (0, 1)}, "integer"),
        ({"bins": 10, "range": (1e300, 1e300 * (1 + 1e-15))}, "precision"),
    ],
)
def test_bad_axes_name_the_axis(kwargs, words):
    with pytest.raises(BinningError, match=words) as err:
        Axis("energy", **kwargs)
    assert "'energy'" in str(err.value)


def test_missing_column_and_bad_spec():
    d = _events(100)
    with pytest.raises(BinningError, match=r"axis 'kx'.*available: X, Y, t"):
        bin_events(d, [Axis("kx", 10, (0, 1))])
    with pytest.raises(BinningError, match="NAME:LO:HI:BINS"):
        bin_events(d, ["X:0:10"])
    with pytest.raises(BinningError, match="axis 'X' is given twice"):
        bin_events(d, ["X:0:10:2", "X:0:5:2"])
    with pytest.raises(BinningError, match="weights column 'gmd'"):
        bin_events(d, ["X:0:10:2"], weights="gmd")
    with pytest.raises(BinningError, match="scheduler 'bogus'"):
        bin_events(d, ["X:0:10:2"], scheduler="bogus")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    lo=st.floats(-1e6, 1e6, allow_nan=False),
    width=st.floats(-10.0, 1e5, allow_nan=False),
    bins=st.integers(-5, 300),
)
def test_axis_validation_hypothesis(lo, width, bins):
    hi = lo + width
    valid = bins > 0 and lo < hi and np.all(np.diff(np.linspace(lo, hi, max(bins, 1) + 1)) > 0)
    if not valid:
        with pytest.raises(BinningError, match="'a'"):
            Axis("a", bins, (lo, hi))
        return
    ax = Axis("a", bins, (lo, hi))
    v = np.random.default_rng(bins).uniform(lo - width, hi + width, 500)
    got = bin_events({"a": v}, [ax], sed_compatible=True).values
    np.testing.assert_array_equal(got, np.histogram(v, bins, (lo, hi))[0])


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 3000),
    chunk=st.integers(1, 5000),
    threads=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_random_data_hypothesis(n, chunk, threads, seed):
    rng = np.random.default_rng(seed)
    d = {"a": rng.normal(0, 1, n), "b": rng.integers(-3, 9, n).astype(np.int8)}
    got = bin_events(d, ["a:-2:2:13", "b:0:6:6"], sed_compatible=True, chunk_events=chunk,
                     n_threads=threads)
    np.testing.assert_array_equal(got.values, _ref(d, ["a", "b"], [13, 6], [(-2, 2), (0, 6)]))


def test_real_metis_file_bins():
    from bigmax.techniques.mpes.events import open_events

    src = open_events(METIS)
    axes = [Axis("X", 100, (0, 1500)), Axis("Y", 100, (0, 1500)), Axis("t", 64, (1.3e5, 2.8e5))]
    got = bin_events(src, axes, sed_compatible=True, chunk_events=50000)
    d = src.read(["X", "Y", "t"])
    np.testing.assert_array_equal(
        got.values, _ref(d, ["X", "Y", "t"], [100, 100, 64], [(0, 1500)] * 2 + [(1.3e5, 2.8e5)])
    )
    assert int(got.sum()) == 297398
    assert json.loads(got.attrs["provenance"])["files"] == [str(METIS)]
    assert got["t"].attrs["units"] == "step"
