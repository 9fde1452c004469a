"""Bad input gives one clear ValueError that names the array, parameter or field."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from bigmax.techniques.apt.autorange import AutoRangeError, autorange
from bigmax.techniques.apt.composition import CompositionError, composition, count_ranges
from bigmax.techniques.apt.multiplicity import MultiplicityError, events
from bigmax.techniques.apt.ranges import RangeTable
from bigmax.techniques.apt.roi import ROIError, Sphere, parse_roi
from bigmax.techniques.apt.spectrum import SpectrumError, background, mass_spectrum

RANGES = RangeTable([10.0, 20.0], [11.0, 21.0], [{"Fe": 1}, {"O": 1}])


def test_by_hand():
    with pytest.raises(SpectrumError, match="m/q: 1 NaN"):
        mass_spectrum(np.array([1.0, np.nan, 3.0], np.float32), 0.1, (0, 5))
    with pytest.raises(SpectrumError, match="m/q: the array is empty"):
        mass_spectrum(np.zeros(0, np.float32))
    with pytest.raises(SpectrumError, match="bin_width"):
        mass_spectrum(np.ones(3, np.float32), 0.0)
    with pytest.raises(SpectrumError, match="mq_range"):
        mass_spectrum(np.ones(3, np.float32), 0.1, (5, 1))
    with pytest.raises(SpectrumError, match="range 0 has bounds"):
        background(mass_spectrum(np.ones(3, np.float32), 0.1, (0, 5)), [3.0], [2.0])
    with pytest.raises(CompositionError, match="no ion falls in any range"):
        composition(np.full(100, 50.0, np.float32), RANGES)
    with pytest.raises(CompositionError, match="labels from another range table"):
        count_ranges(np.array([0, 1, 5], np.int32), RANGES)
    with pytest.raises(CompositionError, match="mq: 1 NaN"):
        composition(np.array([10.5, np.nan], np.float32), RANGES)
    with pytest.raises(CompositionError, match="mask"):
        composition(np.array([10.5, 20.5], np.float32), RANGES, mask=np.array([1, 0]))
    with pytest.raises(ROIError, match="sphere needs 4 numbers"):
        parse_roi("sphere:1,2,3")
    with pytest.raises(ROIError, match="xyz"):
        Sphere((0, 0, 0), 1.0).mask(np.zeros((3, 2)))
    with pytest.raises(MultiplicityError, match="record 3 breaks"):
        events(np.array([1, 2, 0, 0, 1]))
    with pytest.raises(AutoRangeError, match="elements"):
        autorange(np.ones(10, np.float32), elements=["Xx"])
    with pytest.raises(AutoRangeError, match="mq"):
        autorange(np.zeros(0, np.float32))


@settings(max_examples=60, deadline=None)
@given(arrays(np.float32, st.integers(0, 50), elements=st.floats(width=32, allow_nan=True,
                                                                allow_infinity=True)))  # fmt: skip
def test_spectrum_fuzz(values):
    """Any float32 array: a spectrum whose counts add up, or a SpectrumError; never a crash."""
    try:
        spec = mass_spectrum(values, 0.5, (0.0, 100.0))
    except SpectrumError as err:
        assert "m/q" in str(err)
        assert values.size == 0 or np.isnan(values).any()
        return
    inside = (values >= 0) & (values <= 100)
    assert spec.counts.sum() == inside.sum()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-3, 4), min_size=1, max_size=30))
def test_labels_fuzz(labels):
    lab = np.array(labels, np.int32)
    try:
        counts = count_ranges(lab, RANGES)
    except CompositionError as err:
        assert "labels" in str(err)
        assert lab.min() < -1 or lab.max() >= len(RANGES)
        return
    assert counts.counts.sum() == (lab >= 0).sum()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=30))
def test_multiplicity_fuzz(column):
    ipp = np.array(column)
    try:
        event, mult = events(ipp)
    except MultiplicityError as err:
        assert "record" in str(err)
        return
    assert np.bincount(event).tolist() == [k for k in column if k > 0]
    assert (mult >= 1).all()


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=40))
def test_roi_text_fuzz(text):
    try:
        roi = parse_roi(text)
    except ROIError as err:
        assert "roi" in str(err)
        return
    assert text.split(":")[0].strip().lower() in ("sphere", "cylinder", "box")
    assert roi is not None
