"""Delay calibration (ADC / stage mm to ps), sector alignment and normalisation."""

from pathlib import Path

import h5py
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.mpes.calibrate import CalibrationError
from bigmax.techniques.mpes.calibrate.delay import (
    delay_from_adc,
    delay_from_file,
    delay_from_stage,
    mm_to_ps,
    stage_delay_range,
)
from bigmax.techniques.mpes.calibrate.normalise import (
    acquisition_time_histogram,
    event_weights,
    normalise,
    pulse_count_histogram,
    timed_values,
)
from bigmax.techniques.mpes.calibrate.sectors import align_sectors, apply_sector_offsets
from bigmax.techniques.mpes.transforms import Pipeline

METIS = Path(__file__).parents[2] / "data" / "mpes" / "sed" / "tests" / "data" / "loader" / "mpes"
SCAN = METIS / "Scan0030_2.h5"


def test_stage_mm_to_ps():
    assert mm_to_ps(1.0) == pytest.approx(2 / 0.299792458)  # 6.671 ps per mm of stage
    assert stage_delay_range(15.0, 1.0, 15.0) == pytest.approx((0.0, -14 * 2 / 0.299792458))
    step = delay_from_stage(10.0, column="pos")
    out = Pipeline(steps=(step,)).apply({"pos": np.array([10.0, 10.3])})
    assert np.allclose(out["delay"], [0.0, 0.3 * 2 / 0.299792458])
    flipped = Pipeline(steps=(delay_from_stage(10.0, column="pos", flip=True),))
    assert np.allclose(flipped.apply({"pos": np.array([10.3])})["delay"], -out["delay"][1])


def test_adc_range_maps_onto_delay_range():
    step = delay_from_adc((1900, 25600), (-5.0, 95.0))
    out = Pipeline(steps=(step,)).apply({"ADC": np.array([1900.0, 25600.0, 13750.0])})
    assert np.allclose(out["delay"], [-5.0, 95.0, 45.0])
    out = Pipeline(steps=(delay_from_adc((1900, 25600), (-5.0, 95.0), flip=True),)).apply(
        {"ADC": np.array([1900.0, 25600.0])}
    )
    assert np.allclose(out["delay"], [5.0, -95.0])


def test_metis_file_attributes():
    step, info = delay_from_file(SCAN, adc_range=(1900, 25600))
    # Scan0030_2: stage p1 = 15 mm, p2 = 1 mm, time zero 15 mm
    assert info["delay_range_ps"] == pytest.approx([0.0, -14 * 2 / 0.299792458])
    out = Pipeline(steps=(step,)).apply({"ADC": np.array([1900.0, 25600.0])})
    assert np.allclose(out["delay"], info["delay_range_ps"])
    with pytest.warns(UserWarning, match="narrow"):
        _, own = delay_from_file(SCAN)  # the file's own ADC readings: 643..655
    assert own["adc_range"] == [643.0, 655.0]


def test_delay_file_errors(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(CalibrationError, match="x.h5: cannot be read as HDF5"):
        delay_from_file(bad)
    f = tmp_path / "noattr.h5"
    with h5py.File(f, "w") as h:
        h["Stream_4"] = np.arange(10, dtype=np.uint16)
        h.attrs["trARPES:DelayStage:p1"] = 1.0
    with pytest.raises(CalibrationError, match="'trARPES:DelayStage:p2' is missing"):
        delay_from_file(f)
    with pytest.raises(CalibrationError, match="equal ends"):
        delay_from_adc((5, 5), (0, 1))


@settings(max_examples=40, deadline=None)
@given(st.tuples(st.floats(allow_nan=True), st.floats(allow_nan=True)),
       st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)))
def test_bad_ranges_raise(adc, delay):
    with np.errstate(all="ignore"):
        scale = (delay[1] - delay[0]) / (np.float64(adc[1]) - adc[0]) if adc[0] != adc[1] else 0
        ok = (all(np.isfinite(adc)) and delay[0] != delay[1] and np.isfinite(scale)
              and scale != 0 and np.isfinite(delay[0] / scale))
    if ok:
        step = delay_from_adc(adc, delay)
        assert np.isfinite(step.scale)
    else:
        with pytest.raises(CalibrationError):
            delay_from_adc(adc, delay)


def test_sector_offsets_are_recovered():
    rng = np.random.default_rng(3)
    n = 400_000
    sector = rng.integers(0, 8, n)
    true = rng.uniform(-12, 12, 8)
    true -= true[0]
    tof = np.concatenate([rng.normal(5000, 4, n // 2), rng.normal(5150, 2, n // 2)]) + true[sector]
    off = align_sectors(tof, sector, bins=800)
    assert np.abs(np.array(off.offsets) - true).max() < 0.15
    fixed = apply_sector_offsets(tof, sector, off)
    before = np.std(tof[(tof > 5130) & (tof < 5170)])
    after = np.std(fixed[(fixed > 5130) & (fixed < 5170)])
    assert after < 0.5 * before
    mean = align_sectors(tof, sector, bins=800, reference="mean")
    assert abs(sum(mean.offsets)) < 1e-9


def test_sector_errors():
    with pytest.raises(CalibrationError, match="sector ids must lie in 0..7"):
        align_sectors(np.ones(5), np.array([0, 1, 2, 3, 9]))
    with pytest.raises(CalibrationError, match="integer"):
        align_sectors(np.ones(3), np.ones(3))
    with pytest.raises(CalibrationError, match=r"sector\(s\) \[2\] have no events"):
        align_sectors(np.arange(30.0), np.arange(30) % 2, n_sectors=3, bins=10)
    with pytest.raises(CalibrationError, match="empty"):
        align_sectors(np.array([]), np.array([], dtype=int))


def test_acquisition_time_from_ms_markers():
    with h5py.File(SCAN, "r") as f:
        adc = f["Stream_4"][...]
        markers = f["msMarkers"][...]
    ticks = timed_values(adc, markers)
    edges = np.arange(640.0, 660.0, 1.0)
    seconds = acquisition_time_histogram(ticks, edges)
    assert seconds.sum() == pytest.approx(markers.size * 1e-3)  # 4.007 s of acquisition
    counts, _ = np.histogram(adc, bins=edges)
    rate = normalise(counts, seconds)
    w = event_weights(adc, edges, seconds)
    weighted, _ = np.histogram(adc, bins=edges, weights=w)
    good = seconds > 0
    assert np.allclose(weighted[good], rate[good])
    assert np.all(np.isnan(rate[~good]) | (counts[~good] == 0))
    # the count rate of the file: about 74 k events per second
    assert 6e4 < counts.sum() / seconds.sum() < 9e4


def test_pulse_counts_and_shapes():
    pulses = np.array([0.5, 1.5, 1.5, 2.5, 2.5, 2.5])
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    assert pulse_count_histogram(pulses, edges).tolist() == [1, 2, 3]
    gmd = np.array([1.0, 2.0, 2.0, 1.0, 1.0, 1.0])
    assert pulse_count_histogram(pulses, edges, gmd).tolist() == [1, 4, 3]
    cube = np.ones((2, 3))
    assert np.allclose(normalise(cube, np.array([1.0, 2.0, 4.0]), axis=1)[0], [1, 0.5, 0.25])
    with pytest.raises(CalibrationError, match="axis 0"):
        normalise(cube, np.ones(3), axis=0)
    with pytest.raises(CalibrationError, match="non-decreasing"):
        timed_values(np.arange(5), np.array([3, 1]))
    with pytest.raises(CalibrationError, match="strictly increasing"):
        acquisition_time_histogram([1.0], [1.0, 1.0])


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 40), st.integers(1, 9), st.sampled_from(["int", "float", "neg", "big"]))
def test_bad_sector_input_raises(n, n_sectors, kind):
    rng = np.random.default_rng(n)
    tof = rng.normal(100, 5, n)
    sector = rng.integers(0, n_sectors, n)
    if kind == "float":
        sector = sector.astype(float)
    elif kind == "neg" and n:
        sector[0] = -1
    elif kind == "big" and n:
        sector[0] = n_sectors
    try:
        off = align_sectors(tof, sector, n_sectors, bins=16)
    except CalibrationError:
        return
    # only clean input gets through, with one finite offset per sector
    assert kind == "int" and n > 0 and len(off.offsets) == n_sectors
    assert np.all(np.isfinite(off.offsets))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=6),
       st.lists(st.integers(-5, 50), max_size=8))
def test_bad_normalisation_input_raises(edges, markers):
    edges = np.asarray(edges, dtype=float)
    good_edges = edges.size >= 2 and np.all(np.isfinite(edges)) and np.all(np.diff(edges) > 0)
    try:
        acquisition_time_histogram(np.arange(5.0), edges)
    except CalibrationError:
        assert not good_edges
    else:
        assert good_edges
    m = np.asarray(markers, dtype=np.int64)
    try:
        v = timed_values(np.arange(10.0), m)
    except CalibrationError:
        assert m.size == 0 or np.any(np.diff(m) < 0)
    else:
        assert v.size == m.size and np.all((v >= 0) & (v <= 9))
