"""Range files: the Si RRNG/RNG pair, every real file in tests/data/apt/ranges, labelling."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.apt.formats import read_ions
from bigmax.techniques.apt.ranges import (
    RangeFileError,
    RangeFileWarning,
    RangeTable,
    infer_charge,
    label_ions,
    parse_formula,
    read_ranges,
    write_rrng,
)

RANGES = Path(__file__).parents[2] / "data" / "apt" / "ranges"
ALL = sorted(p for p in RANGES.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def si_mq(apt_si_dir):
    return read_ions(apt_si_dir / "Si.pos").mq


def test_si_rrng_and_rng_label_every_ion_alike(apt_si_dir, si_mq):
    rrng = read_ranges(apt_si_dir / "Si.RRNG")
    rng = read_ranges(apt_si_dir / "Si.RNG")
    assert len(rrng) == len(rng) == 25
    assert set(rrng.ions) == set(rng.ions) == {"Si", "Cr", "Cu", "C", "O", "CrO", "CrO2", "Cr2O"}
    a, b = label_ions(si_mq, rrng), label_ions(si_mq, rng)
    fa = np.array(rrng.formula + ["-"])[a]
    fb = np.array(rng.formula + ["-"])[b]
    assert np.array_equal(fa, fb)
    assert np.array_equal(np.array(rrng.charge)[a], np.array(rng.charge)[b])
    assert round(float((a >= 0).mean()), 3) == 0.928  # APAV's ranged fraction
    assert rrng.volume[0] == pytest.approx(0.02003)
    assert rrng.color[0] == "CCCCCC" and rng.color[0] == "CCCCCC"


def test_si_charge_states(apt_si_dir):
    t = read_ranges(apt_si_dir / "Si.RRNG")
    charge = {(n, round(lo)): int(z) for n, lo, z in zip(t.name, t.lo, t.charge, strict=True)}
    assert charge[("Si", 14)] == 2 and charge[("Si", 28)] == 1
    assert charge[("Cr", 26)] == 2 and charge[("Cr", 52)] == 1
    assert charge[("CrO", 68)] == 1 and charge[("CrO", 34)] == 2
    assert charge[("CrO2", 42)] == 2 and charge[("Cr2O", 58)] == 2
    assert charge[("O", 16)] == 1  # 16O+ (not O2 2+: the composition says one O)


def test_label_by_ion_and_brute_force(apt_si_dir, si_mq):
    t = read_ranges(apt_si_dir / "Si.RRNG")
    ref = np.full(len(si_mq), -1)
    for i in range(len(t) - 1, -1, -1):
        ref[(si_mq >= t.lo[i]) & (si_mq < t.hi[i])] = i
    assert np.array_equal(label_ions(si_mq, t), ref)
    by_ion = label_ions(si_mq, t, by="ion")
    assert np.array_equal(by_ion, np.where(ref >= 0, t.ion_index[ref], -1))
    with pytest.raises(ValueError, match="by must be"):
        label_ions(si_mq, t, by="element")


@pytest.mark.parametrize("path", ALL, ids=[str(p.relative_to(RANGES)) for p in ALL])
def test_every_real_range_file_parses(path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # anything but a RangeFileWarning is a bug
        warnings.simplefilter("ignore", RangeFileWarning)
        t = read_ranges(path)
    assert len(t) >= 1
    assert np.all(t.lo < t.hi)
    assert len(t.name) == len(t.composition) == len(t)


QUIRKS = {
    "ifes/ger_aachen_saelker/VAlN_film_plan-view_700C.rrng": "1392 duplicate range",
    "paraprobe/PARAPROBE.Paper14.RangingTest.rrng": "range keys repeat",
    "ifes/ger_duesseldorf_kuehbach/Mo_range.rrng": "comma decimal",
    "3depict/test4.rng": "overlapping range pair",
    "3depict/test1.rng": "lack the leading '.'",
    "3depict/test8.rng": "starts with '3' instead of '.'",
    "3depict/test7.rng": "negative m/q",
    "3depict/test1.env": "trailing line",
    "ifes/ger_duesseldorf_kuehbach/all02.rng": "column labels",
}


@pytest.mark.parametrize("rel,expect", sorted(QUIRKS.items()))
def test_quirks_warn_not_fail(rel, expect):
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        read_ranges(RANGES / rel)
    assert rec and all(issubclass(w.category, RangeFileWarning) for w in rec)
    assert any(expect in str(w.message) for w in rec)
    assert all(str(RANGES / rel) in str(w.message) for w in rec)


def test_valn_1440_ranges_deduplicate_fast():
    import time

    path = RANGES / "ifes/ger_aachen_saelker/VAlN_film_plan-view_700C.rrng"
    t0 = time.perf_counter()
    with pytest.warns(RangeFileWarning):
        t = read_ranges(path)
    assert time.perf_counter() - t0 < 2.0  # target 0.2 s; generous for a loaded CI box
    raw = read_ranges(path, normalise=False, infer_charges=False)
    assert len(raw) == 1440 and len(t) == 48
    assert t.overlaps and all(t.lo[j] < t.hi[i] for i, j in t.overlaps)


def test_env_reads_instrument_block():
    with pytest.warns(RangeFileWarning, match="overlapping"):
        t = read_ranges(RANGES / "ifes/gpm_rouen/ErMnO.env")
    assert len(t) == 26 and t.metadata["version"] == "Rev_2.0"
    inst = t.metadata["instrument"]
    assert inst["Flight length (m)"] == pytest.approx(0.1005)
    assert inst["Efficiency of the detection system"] == pytest.approx(0.55)
    assert t.composition[t.name.index("Mn2O")] == {"Mn": 2, "O": 1}
    assert t.is_user[t.name.index("X23")]


def test_xml_range_files():
    with pytest.warns(RangeFileWarning, match="no charge state"):
        t = read_ranges(RANGES / "ifes/apsuite/ZX21-T4.analysisset")
    assert len(t) == 39 and t.ions[:4] == ["Zn", "Li", "Mg", "Ca"]
    assert (t.lo[0], t.hi[0]) == (63.834, 64.14) and t.color[0] == "008000"
    assert t.volume[0] == pytest.approx(0.01521)
    with pytest.warns(RangeFileWarning, match="no charge state"):
        t = read_ranges(RANGES / "ifes/imago/default.analysis")
    assert set(t.ions) >= {"Bi", "Ag", "Pb", "Se", "BiSe", "PbSe"}
    assert t.composition[t.name.index("PbSe")] == {"Pb": 1, "Se": 1}
    assert t.color[0] == "3333FF"


def test_rng_polyatomic_names_and_fig_charges():
    t = read_ranges(RANGES / "ifes/ger_duesseldorf_kuehbach/R18_55377-v02.rng")
    assert "AlH" in t.ions
    assert t.composition[t.name.index("AlH")] == {"Al": 1, "H": 1}
    fig = read_ranges(RANGES / "ifes/ger_erlangen_felfer/R56_01769.rng.fig.txt")
    # the .fig.txt states charges; they agree with the isotope-mass inference
    for i in range(len(fig)):
        z, _ = infer_charge(fig.lo[i], fig.hi[i], fig.composition[i])
        assert z == fig.charge[i], fig.name[i]


def test_write_rrng_round_trip(tmp_path, apt_si_dir, si_mq):
    t = read_ranges(apt_si_dir / "Si.RRNG")
    write_rrng(tmp_path / "out.rrng", t)
    back = read_ranges(tmp_path / "out.rrng")
    assert np.array_equal(back.lo, t.lo) and np.array_equal(back.hi, t.hi)
    assert back.name == t.name and back.composition == t.composition
    assert np.array_equal(back.volume, t.volume) and back.color == t.color
    assert np.array_equal(label_ions(si_mq, back), label_ions(si_mq, t))
    user = RangeTable([1.0, 5.0], [2.0, 6.0], [{}, {"Fe": 1}], ["Noise", ""])
    write_rrng(tmp_path / "u.rrng", user)
    back = read_ranges(tmp_path / "u.rrng", infer_charges=False)
    assert back.name == ["Noise", "Fe"] and back.composition == [{}, {"Fe": 1}]


def test_more_than_255_ranges():
    lo = np.arange(1000) * 0.5 + 1.0
    t = RangeTable(lo, lo + 0.25, [{"Fe": 1}] * 1000, [f"p{i}" for i in range(1000)])
    mq = np.float32(lo + 0.1)
    labels = label_ions(mq, t)
    assert labels.dtype == np.int32 and np.array_equal(labels, np.arange(1000))
    assert np.all(label_ions(np.float32(lo + 0.3), t) == -1)
    assert label_ions(mq, t, by="ion").max() == 999


def test_label_edges_nan_and_float32_exactness():
    t = RangeTable([10.0, 10.0 + 1e-7], [10.0 + 1e-7, 11.0], [{"A": 1}, {"B": 1}])
    lo32 = np.float32(10.0)
    mq = np.array([lo32, np.nextafter(lo32, np.float32(0)), np.float32(11.0), np.nan,
                   np.float32(10.5), -np.inf, np.inf], np.float32)  # fmt: skip
    got = label_ions(mq, t)
    # float32 10.0 is >= 10.0 and < 10.0000001 (both compared exactly); 11.0 is excluded
    assert list(got) == [0, -1, -1, -1, 1, -1, -1]
    assert np.array_equal(label_ions(mq.astype(np.float64), t), got)
    assert label_ions(mq, RangeTable([], [], [])).tolist() == [-1] * 7


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(0, 100, allow_nan=False), st.floats(0.001, 5, allow_nan=False)),
        min_size=1,
        max_size=30,
    ),
    st.lists(st.floats(-1, 110, allow_nan=False, width=32), min_size=1, max_size=300),
)
def test_label_matches_first_listed_wins(ranges, mq):
    lo = np.array([r[0] for r in ranges])
    hi = lo + np.array([r[1] for r in ranges])
    t = RangeTable(lo, hi, [{"X": 1}] * len(lo), [f"r{i}" for i in range(len(lo))])
    m = np.array(mq, np.float32)
    ref = np.full(len(m), -1)
    for i in range(len(t) - 1, -1, -1):
        ref[(m >= lo[i]) & (m < hi[i])] = i
    assert np.array_equal(label_ions(m, t), ref)


def test_normalise_swaps_drops_and_flags():
    t = RangeTable([5.0, 1.0, 1.0, 3.0, 3.0], [4.0, 2.0, 2.0, 3.0, 3.5], [{"Fe": 1}] * 5,
                   ["", "", "", "", "Ni"])  # fmt: skip
    with pytest.warns(RangeFileWarning) as rec:
        n = t.normalise()
    text = " ".join(str(w.message) for w in rec)
    assert "swapped" in text and "duplicate" in text and "empty" in text
    assert list(zip(n.lo, n.hi, strict=True)) == [(4.0, 5.0), (1.0, 2.0), (3.0, 3.5)]


def test_infer_charge_rules():
    assert infer_charge(27.8, 28.2, {"Si": 1}) == (1, 1.0)
    assert infer_charge(13.9, 14.1, {"Si": 1})[0] == 2
    assert infer_charge(1.0, 2.0, {"Noise": 1}) == (0, 0.0)
    assert infer_charge(1.0, 2.0, {}) == (0, 0.0)
    assert infer_charge(500.0, 501.0, {"H": 1}) == (0, 0.0)
    z, share = infer_charge(16.9, 17.1, {"O": 1, "H": 1})
    assert z == 1 and share == 1.0
    assert parse_formula("Cr2O") == {"Cr": 2, "O": 1}
    assert parse_formula("Hyd") is None and parse_formula("X23") is None


GARBAGE = {
    "g1.rrng": ("[Ions]\nNumber=1\nIon1=Fe\n[Ranges]\nNumber=1\nRange1=abc 2.0 Fe:1\n", 6),
    "g2.rrng": ("just some text\n", 1),
    "g3.rrng": ("[Ranges]\nRange1=1.0 2.0 Fe:1.5\n", 2),
    "g4.rng": ("2 1\nFe\nFe 1 0 0\n", 3),
    "g5.rng": ("1 1\nFe\nFe 1 0 0\n-----\n. 1.0 2.0 1 0 0 0\n", 5),
    "g6.env": ("2 1\nFe 1 0 0\n", 2),
    "g7.rng": ("hello world\n", 1),
    "g8.rrng": ("[Ranges]\nRange1=1.0 2.0 Fe\n", 2),
    "g9.fig.txt": ("12C+ 1.0\n", 1),
    "g10.analysisset": ("<a><Content>not xml &lt;</Content></a>", 1),
    "g11.analysis": ("<java><object class='x'/></java>\n", 1),
    "g12.analysisset": ("<a>\n<b>\n</a>", 3),
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_names_file_and_line(tmp_path, name):
    text, line = GARBAGE[name]
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(RangeFileError) as err:
        read_ranges(path)
    assert err.value.line == line
    assert str(path) in str(err.value) and f"line {line}" in str(err.value)
