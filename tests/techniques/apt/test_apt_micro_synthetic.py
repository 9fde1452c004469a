"""The synthetic specimen generator: its planted truth is what the other APT tests rely on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.techniques.apt.synthetic import (
    SyntheticError,
    synthetic_specimen,
    write_synthetic,
)


@pytest.fixture(scope="module")
def spec():
    return synthetic_specimen(300_000, seed=3, number_density=1e24)


def test_same_seed_same_specimen():
    a = synthetic_specimen(5_000, seed=7)
    b = synthetic_specimen(5_000, seed=7)
    c = synthetic_specimen(5_000, seed=8)
    assert np.array_equal(a.xyz, b.xyz) and np.array_equal(a.mq, b.mq)
    assert not np.array_equal(a.xyz[:100], c.xyz[:100])


def test_dtypes_counts_and_density(spec):
    assert spec.xyz.dtype == np.float32 and spec.xyz.shape == (spec.n_ions, 3)
    assert spec.mq.dtype == np.float32 and spec.species.dtype == np.int16
    assert spec.cluster_id.dtype == np.int32
    assert abs(spec.n_ions - 300_000) < 5 * np.sqrt(300_000)
    # detected density = atomic density x efficiency
    assert spec.n_ions / np.prod(spec.box) == pytest.approx(spec.ion_density, rel=0.01)
    expected = 1e24 * 1e-27 * np.prod(spec.box)
    assert len(spec.radii) == round(expected)
    assert np.all((spec.radii >= 1.0) & (spec.radii <= 3.0))


def test_precipitates_hold_their_ions_and_composition(spec):
    cu = spec.species_index("Cu")
    inside = spec.cluster_id >= 0
    dist = np.linalg.norm(spec.xyz[inside] - spec.centres[spec.cluster_id[inside]], axis=1)
    assert np.all(dist < spec.radii[spec.cluster_id[inside]] + 1.2)
    assert np.mean(spec.species[inside] == cu) == pytest.approx(0.45, abs=0.03)
    assert np.mean(spec.species[~inside] == cu) < 0.01
    # expected ions per precipitate: volume x detected density
    counts = np.bincount(spec.cluster_id[inside], minlength=len(spec.radii))
    expect = 4 / 3 * np.pi * spec.radii**3 * spec.ion_density
    assert np.sum(counts) == pytest.approx(np.sum(expect), rel=0.05)


def test_mass_peaks_fall_in_ranges(spec):
    lo = np.array([r[0] for r in spec.ranges])
    hi = np.array([r[1] for r in spec.ranges])
    assert np.all(lo[1:] > hi[:-1])  # sorted, disjoint
    i = np.searchsorted(lo, spec.mq, side="right") - 1
    ranged = (i >= 0) & (spec.mq <= hi[i.clip(0)])
    assert 0.95 < ranged.mean() < 0.999  # background and far tails stay unranged
    names = np.array([r[2] for r in spec.ranges])
    label = names[i[ranged]]
    truth = np.array(spec.species_names)[spec.species[ranged]]
    assert np.mean(label == truth) > 0.98  # only isotope overlaps (58Fe/58Ni) mislabel


def test_interface_layer_holds_the_planted_excess():
    s = synthetic_specimen(400_000, seed=5, aspect=(2, 2, 1), excess=3.0, background=0.0)
    d = (s.xyz - s.interface_point) @ s.interface_normal
    p = s.species == s.species_index("P")
    near = np.abs(d) < 1.0
    extra = p[near].sum() - near.sum() * s.matrix_composition["P"]
    measured = extra / (s.box[0] * s.box[1]) / s.detection_efficiency
    assert measured == pytest.approx(3.0, rel=0.12)
    assert np.all(np.abs((s.centres - s.interface_point) @ s.interface_normal) > s.radii)


def test_write_synthetic_pos_and_rrng(tmp_path):
    s = synthetic_specimen(2_000, seed=1)
    pos, rrng = write_synthetic(tmp_path / "s.pos", s)
    raw = np.fromfile(pos, dtype=">f4").reshape(-1, 4)
    assert np.array_equal(raw[:, :3], s.xyz) and np.array_equal(raw[:, 3], s.mq)
    text = rrng.read_text()
    assert f"Number={len(s.ranges)}" in text and "Ion1=" in text


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(-10, 99),
    eff=st.floats(-1, 0) | st.just(float("nan")) | st.floats(1.01, 5),
)
def test_bad_parameters_name_themselves(n, eff):
    with pytest.raises(SyntheticError, match="n_ions"):
        synthetic_specimen(n, seed=0)
    with pytest.raises(SyntheticError, match="detection_efficiency"):
        synthetic_specimen(1000, seed=0, detection_efficiency=eff)


def test_bad_composition_and_segregant():
    with pytest.raises(SyntheticError, match="matrix"):
        synthetic_specimen(1000, matrix={"Xx": 1.0})
    with pytest.raises(SyntheticError, match="segregant"):
        synthetic_specimen(1000, segregant="Au")
    with pytest.raises(SyntheticError, match="precipitates"):
        synthetic_specimen(2000, number_density=1e27, radius=(3, 3))
