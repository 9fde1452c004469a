"""Spectrum, backgrounds, composition, ROIs, multiplicity and auto-ranging on known inputs."""

from __future__ import annotations

import numpy as np
import pytest

from bigmax.techniques.apt.autorange import autorange, isotope_pattern
from bigmax.techniques.apt.composition import composition, composition_table, count_ranges
from bigmax.techniques.apt.multiplicity import (
    events,
    from_delta_pulse,
    multiples,
    multiplicity_counts,
    n_hits,
    singles,
)
from bigmax.techniques.apt.ranges import RangeTable
from bigmax.techniques.apt.roi import Box, Cylinder, Sphere, parse_roi
from bigmax.techniques.apt.spectrum import background, mass_spectrum, tof_background_fit
from bigmax.techniques.apt.synthetic import synthetic_specimen


def test_spectrum_bins_and_density():
    mq = np.array([0.0, 0.5, 0.99, 1.0, 2.5, 3.0], dtype=np.float32)
    spec = mass_spectrum(mq, 1.0, (0.0, 3.0))
    assert spec.counts.tolist() == [3, 1, 2]  # 3.0 sits on the last edge: last bin, as numpy
    assert spec.density().tolist() == [3.0, 1.0, 2.0]
    half = mass_spectrum(mq, 0.5, (0.0, 3.0))
    assert half.density().sum() * 0.5 == 6
    assert half.rebinned(3).counts.tolist() == [3, 1, 2]


def test_backgrounds_recover_a_known_level():
    rng = np.random.default_rng(3)
    flat = rng.uniform(0, 100, 2_000_000).astype(np.float32)  # 20000 per Da
    peak = rng.normal(50.0, 0.05, 100_000).astype(np.float32)
    spec = mass_spectrum(np.concatenate([flat, peak]), 0.01, (0, 100))
    for model in ("constant", "linear"):
        bkg = background(spec, np.array([49.8]), np.array([50.2]), model, window=2.0)
        assert bkg.counts[0] == pytest.approx(0.4 * 20000, rel=0.03)
        assert bkg.variance[0] == pytest.approx(bkg.counts[0] * 0.2, rel=0.05)
    # noise flat in TOF: m = t^2, density 1/sqrt(m)
    t = rng.uniform(1.0, 10.0, 2_000_000)
    tof = (t**2).astype(np.float32)
    spec = mass_spectrum(tof, 0.01, (0, 100))
    lo, hi = np.array([20.0, 60.0]), np.array([21.0, 61.0])
    truth = [((tof >= a) & (tof < b)).sum() for a, b in zip(lo, hi, strict=True)]
    assert background(spec, lo, hi, "tof", window=5.0).counts == pytest.approx(truth, rel=0.05)
    amp = tof_background_fit(spec, lo, hi, m_min=2.0)
    assert amp == pytest.approx(2_000_000 / 9 / 2, rel=0.02)  # A = N / (T range) / 2


def test_window_skips_neighbouring_ranges():
    spec = mass_spectrum(np.linspace(0, 100, 10_000, dtype=np.float32), 0.1)
    bkg = background(spec, np.array([10.0, 11.0]), np.array([10.5, 11.5]), window=1.0, gap=0.2)
    a, b = bkg.windows[1]
    assert b <= 10.0 - 0.2 + 1e-9  # not inside the range at 10-10.5


def test_composition_decomposes_molecular_ions():
    ranges = RangeTable([10, 20, 30], [11, 21, 31], [{"Cr": 1}, {"O": 1}, {"Cr": 1, "O": 2}])
    labels = np.array([0] * 50 + [1] * 20 + [2] * 10 + [-1] * 20, dtype=np.int32)
    atomic = composition_table(count_ranges(labels, ranges), ranges)
    assert dict(zip(atomic["species"], atomic["counts"], strict=True)) == {"Cr": 60, "O": 40}
    assert atomic.attrs["ranged_fraction"] == 0.8
    ionic = composition_table(count_ranges(labels, ranges), ranges, decompose=False)
    assert ionic["fraction"].tolist() == pytest.approx([50 / 80, 20 / 80, 10 / 80])


def test_rois():
    xyz = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3], [3, 3, 3]], dtype=np.float32)
    assert Sphere((0, 0, 0), 1.5).mask(xyz).tolist() == [True, True, False, False, False]
    cyl = Cylinder((0, 0, 0), (0, 0, 5), 0.5, 6.2)
    assert cyl.mask(xyz).tolist() == [True, False, False, True, False]
    diag = Cylinder((0, 0, 0), (1, 1, 1), 0.1, 20.0)
    assert diag.mask(xyz).tolist() == [True, False, False, False, True]
    assert Box((-1, -1, -1), (1.5, 2.5, 0.5)).mask(xyz).tolist() == [True, True, True, False,
                                                                        False]  # fmt: skip
    assert parse_roi("sphere:0,0,0,1.5") == Sphere((0, 0, 0), 1.5)
    assert parse_roi("box:0,0,0,1,1,1").volume == 1.0
    rng = np.random.default_rng(0)
    cloud = rng.uniform(-10, 10, (200_000, 3)).astype(np.float32)
    ball = Sphere((0, 0, 0), 5.0)
    assert ball.mask(cloud).mean() == pytest.approx(ball.volume / 8000, rel=0.03)


def test_multiplicity():
    ipp = np.array([1, 2, 0, 1, 3, 0, 0, 1], dtype=np.uint32)
    event, mult = events(ipp)
    assert event.tolist() == [0, 1, 1, 2, 3, 3, 3, 4]
    assert mult.tolist() == [1, 2, 2, 1, 3, 3, 3, 1]
    assert singles(ipp).sum() == 3 and multiples(ipp).sum() == 5 and n_hits(ipp, 2).sum() == 2
    assert multiplicity_counts(ipp) == {1: 3, 2: 1, 3: 1}
    assert from_delta_pulse(np.array([5, 0, 2, 1, 0, 0])).tolist() == [0, 0, 1, 2, 2, 2]


def test_multiplicity_of_real_epos(apt_si_dir):
    from bigmax.techniques.apt.formats import read_ions

    ipp = read_ions(apt_si_dir / "Si.epos").columns["multiplicity"]
    counts = multiplicity_counts(ipp)
    assert counts[1] == 906_554 and singles(ipp).sum() == 906_554
    assert sum(k * v for k, v in counts.items()) == 945_211
    assert int((np.asarray(ipp) == 0).sum()) == 20_366  # continuation records, as documented


def test_isotope_pattern():
    m, w = isotope_pattern({"Si": 1}, 2)
    assert m == pytest.approx([13.988, 14.488, 14.987], abs=1e-3)
    assert w == pytest.approx([0.9223, 0.0468, 0.0309], abs=1e-3)
    m, w = isotope_pattern({"Cr": 1, "O": 2})
    assert m[np.argmax(w)] == pytest.approx(51.94 + 2 * 15.995, abs=0.01)


def test_autorange_synthetic_specimen():
    spec = synthetic_specimen(300_000, seed=1, interface=False)
    result = autorange(spec.mq)
    found = dict(zip(result.ions["ion"], result.ions["confidence"], strict=True))
    truth = {"Fe2+", "Fe+", "Ni2+", "Cu2+", "Cu+", "Mn2+", "P2+"}  # P+ hides under 62Ni2+
    assert truth <= set(found)
    assert all(found[i] > 0.9 for i in truth)
    false = {i for i, c in found.items() if c > 0.5} - truth - {"P+"}
    assert not false
    # ranging with the found ranges gives the planted composition
    table = composition(spec.mq, result.to_range_table())
    pct = dict(zip(table["species"], table["fraction"], strict=True))
    truth = {s: (spec.species == spec.species_index(s)).mean() for s in ("Fe", "Ni", "Mn")}
    assert pct["Fe"] == pytest.approx(truth["Fe"], rel=0.02)
    assert pct["Mn"] == pytest.approx(truth["Mn"], rel=0.1)
    # 58Fe2+ sits under 58Ni2+ at 29 Da: ranges over-count Ni, the fitted amplitudes do not
    assert pct["Ni"] > truth["Ni"]
    ions = result.ions
    ni = ions.loc[ions["ion"] == "Ni2+", "counts"].item() / ions["counts"].sum()
    assert ni == pytest.approx(truth["Ni"], rel=0.1)


def test_autorange_hand_made_spectrum():
    """Mo3+ (7 isotopes), Al+ (one), W3+ and O2+ from exact patterns plus flat noise."""
    rng = np.random.default_rng(7)
    parts = [rng.uniform(1, 120, 20_000)]
    for formula, z, n in (({"Mo": 1}, 3, 40_000), ({"Al": 1}, 1, 30_000),
                          ({"W": 1}, 3, 20_000), ({"O": 2}, 1, 5_000)):  # fmt: skip
        m, w = isotope_pattern(formula, z)
        k = rng.choice(m.size, size=n, p=w)
        parts.append(m[k] + rng.normal(0, 0.01, n) + rng.exponential(0.02, n))
    mq = np.concatenate(parts).astype(np.float32)
    result = autorange(mq)
    found = dict(zip(result.ions["ion"], result.ions["confidence"], strict=True))
    assert {"Mo3+", "Al+", "W3+", "O2+"} <= set(found)
    assert found["Mo3+"] > 0.99 and found["W3+"] > 0.99
    # 32 Da could be S+, but 34S (4.2 %) would put ~200 ions at 34 Da where there are none
    assert found["O2+"] > 0.9 and found.get("S+", 0.0) < 0.1
    ranged = result.ranged()
    assert set(ranged["ion"]) >= {"Mo3+", "Al+", "W3+"}
    # 96Mo3+ (16.7 % of 40000) and O2+ (5000) share the 32 Da peak: Mo3+ owns it, at its share
    row = ranged[(ranged["low"] < 32.0) & (ranged["high"] > 32.0)].iloc[0]
    assert row["ion"] == "Mo3+" and row["share"] == pytest.approx(6680 / 11680, abs=0.06)
    mo = ranged[ranged["ion"] == "Mo3+"]
    assert len(mo) == 7  # one range per Mo isotope at m/3


def test_check_ranges_on_planted_ions():
    from bigmax.techniques.apt.autorange import check_ranges

    rng = np.random.default_rng(11)
    m, w = isotope_pattern({"Cu": 1}, 1)
    mq = (m[rng.choice(m.size, 20_000, p=w)] + rng.normal(0, 0.01, 20_000)).astype(np.float32)
    right = RangeTable([62.7, 64.7], [63.3, 65.3], [{"Cu": 1}, {"Cu": 1}], charge=[1, 1])
    assert (check_ranges(mq, right)["explained"] > 0.95).all()
    # the same peaks called Zn+ (64, 66, 68 Da): its pattern has no line at 63 Da
    wrong = RangeTable([62.7, 64.7], [63.3, 65.3], [{"Zn": 1}, {"Zn": 1}], charge=[1, 1])
    assert check_ranges(mq, wrong)["explained"].iloc[0] < 0.05
