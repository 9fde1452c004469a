"""Spectrum, composition and auto-ranging on APAV's real Si set (945,211 ions)."""

from __future__ import annotations

import numpy as np
import pytest

from bigmax.techniques.apt.autorange import autorange
from bigmax.techniques.apt.composition import composition
from bigmax.techniques.apt.formats import read_ions
from bigmax.techniques.apt.ranges import read_ranges
from bigmax.techniques.apt.roi import Sphere
from bigmax.techniques.apt.spectrum import background, mass_spectrum


@pytest.fixture(scope="module")
def si(apt_si_dir):
    ions = read_ions(apt_si_dir / "Si.pos")
    return np.asarray(ions.mq), np.asarray(ions.xyz)


def test_spectrum_equals_numpy(si):
    mq, _ = si
    for width in (0.01, 0.05, 1.0):
        spec = mass_spectrum(mq, width, (0.0, 200.0))
        ref, _ = np.histogram(mq, bins=spec.edges)
        np.testing.assert_array_equal(spec.counts, ref)
    spec = mass_spectrum(mq, 0.05)
    assert spec.counts.sum() == len(mq)  # default range covers every ion, the max included
    assert spec.normalised().sum() * spec.bin_width == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["Si.RRNG", "Si.RNG"])
def test_composition_equals_apav(si, apt_si_dir, name):
    mq, _ = si
    table = composition(mq, read_ranges(apt_si_dir / name))
    pct = dict(zip(table["species"], table["percent"].round(1), strict=True))
    assert table.attrs["ranged_fraction"] == pytest.approx(0.928, abs=5e-4)
    assert (pct["Si"], pct["Cr"], pct["O"]) == (74.7, 16.6, 8.6)
    assert table["fraction"].sum() == pytest.approx(1.0)

    # the propagated Poisson error equals the spread of fractions over Poisson redraws
    ranges = read_ranges(apt_si_dir / name)
    counts = np.array([((mq >= a) & (mq < b)).sum() for a, b in zip(ranges.lo, ranges.hi,
                                                                    strict=True)])  # fmt: skip
    mat = np.array([[c.get(s, 0) for s in table["species"]] for c in ranges.composition])
    draws = np.random.default_rng(0).poisson(counts, size=(4000, len(counts))) @ mat
    spread = (draws / draws.sum(axis=1, keepdims=True)).std(axis=0)
    np.testing.assert_allclose(table["error_poisson"], spread, rtol=0.1)


def test_ionic_error_is_binomial(si, apt_si_dir):
    mq, _ = si
    table = composition(mq, read_ranges(apt_si_dir / "Si.RRNG"), decompose=False)
    f, n = table["fraction"].to_numpy(), table["counts"].sum()
    np.testing.assert_allclose(table["error_poisson"], np.sqrt(f * (1 - f) / n), rtol=1e-9)


def test_ionic_composition_and_background(si, apt_si_dir):
    mq, _ = si
    ranges = read_ranges(apt_si_dir / "Si.RRNG")
    ionic = composition(mq, ranges, decompose=False)
    assert set(ionic["species"]) == {"Si", "Cr", "Cu", "C", "O", "CrO", "CrO2", "Cr2O"}
    assert ionic.loc[ionic["species"] == "Cr2O", "counts"].item() == 85660
    plain = composition(mq, ranges)
    for model in ("constant", "linear", "tof"):
        sub = composition(mq, ranges, background_model=model)
        assert (sub["counts"] <= plain["counts"] + 1e-9).all()
        assert (sub["error_total"] >= sub["error_poisson"]).all()
        # the Cr ranges at 50-54 Da hold only noise: subtracting background empties them
        spec = mass_spectrum(mq, 0.01, (0, 100))
        bkg = background(spec, ranges.lo[6:8], ranges.hi[6:8], model)
        gross = [((mq >= a) & (mq < b)).sum() for a, b in zip(ranges.lo[6:8], ranges.hi[6:8],
                                                              strict=True)]  # fmt: skip
        assert bkg.counts == pytest.approx(gross, rel=0.35)


def test_roi_composition(si, apt_si_dir):
    mq, xyz = si
    ranges = read_ranges(apt_si_dir / "Si.RRNG")
    center = xyz.mean(axis=0)
    mask = Sphere(tuple(center), 10.0).mask(xyz)
    assert 0 < mask.sum() < len(mq)
    table = composition(mq, ranges, mask=mask)
    assert table.attrs["n_ions"] == mask.sum()


def test_autorange_finds_the_ions(si):
    mq, _ = si
    result = autorange(mq)
    ions = dict(zip(result.ions["ion"], result.ions["confidence"], strict=True))
    # Si as 2+ (14, 14.5, 15 Da) and 1+ (28 Da), O+ at 16 Da
    assert ions["Si2+"] > 0.99 and "Si+" in ions and "O+" in ions
    # The RRNG calls the 58-62 Da group Cr2O2+, but its isotope pattern (58:60:61:62:64 =
    # 68:26:1.1:3.6:0.9) is Ni+; the half masses (29, 30, ...) are Ni2+.
    assert ions["Ni+"] > 0.99 and ions["Ni2+"] > 0.99
    table = result.to_range_table()
    assert {"Si", "Ni", "O"} <= set(table.elements)
    si_ranges = [(lo, hi) for lo, hi, n in zip(table.lo, table.hi, table.name, strict=True)
                 if n == "Si"]  # fmt: skip
    assert any(lo < 28.0 < hi for lo, hi in si_ranges)
    assert any(lo < 14.03 < hi for lo, hi in si_ranges)
    # auto ranges catch about as many ions as the hand-made file
    frac = composition(mq, table).attrs["ranged_fraction"]
    assert 0.9 < frac < 1.0


def test_check_ranges_flags_the_cr2o_range(si, apt_si_dir):
    from bigmax.techniques.apt.autorange import check_ranges

    mq, _ = si
    check = check_ranges(mq, read_ranges(apt_si_dir / "Si.RRNG"))
    by = {(r.ion, r.charge, round(r.low, 2)): r for r in check.itertuples()}
    assert by[("Si", 2, 13.87)].explained > 0.95  # 28Si2+ at 14 Da
    assert by[("C", 1, 11.87)].explained > 0.95
    assert by[("O", 1, 15.86)].explained > 0.95
    # 57.8-61.2 Da "Cr2O2+" holds 84,000 peak counts that a Cr2O2+ pattern cannot explain
    cr2o = by[("Cr2O", 2, 57.82)]
    assert cr2o.peak_counts > 80_000 and cr2o.explained < 0.05
    assert np.isnan(by[("Cr", 1, 51.7)].explained)  # no peak above background at 52 Da
