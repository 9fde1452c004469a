"""GMM phase segmentation of voxel compositions finds the planted precipitate phase."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial import cKDTree

from bigmax.techniques.apt.segmentation import (
    PhaseSegmentation,
    SegmentationError,
    segment_field,
)
from bigmax.techniques.apt.synthetic import synthetic_specimen
from bigmax.techniques.apt.voxels import voxelize


@pytest.fixture(scope="module")
def segmented():
    s = synthetic_specimen(400_000, seed=2, number_density=8e23, radius=(3.0, 4.0),
                           aspect=(1, 1, 1), interface=False)
    field = voxelize(s.xyz, s.species, s.species_names, voxel=2.0, delocalization=None,
                     assignment="ngp")
    est = PhaseSegmentation(max_phases=4, max_fit_samples=20_000)
    labels, est = segment_field(field, min_counts=10, estimator=est)
    return s, field, labels, est


def test_finds_two_phases_with_their_compositions(segmented):
    s, _, _, est = segmented
    assert est.n_phases_ == 2
    cu = s.species_index("Cu")
    assert est.phase_composition_[0, cu] < 0.01  # matrix (most voxels) first
    assert est.phase_composition_[1, cu] > 0.15
    assert est.bic_[2] < est.bic_[1]


def test_voxel_labels_match_the_planted_precipitates(segmented):
    s, field, labels, _ = segmented
    grid = np.stack(np.meshgrid(field.x, field.y, field.z, indexing="ij"), -1).reshape(-1, 3)
    dist, k = cKDTree(s.centres).query(grid)
    lab = labels.values.reshape(-1)
    core = dist < s.radii[k] - 1.0
    far = dist > s.radii[k] + 2.0
    assert np.mean(lab[core] == 1) > 0.9
    assert np.mean(lab[far & (lab >= 0)] == 0) > 0.98


def test_estimator_api(segmented):
    _, field, _, est = segmented
    params = est.get_params()
    assert params["max_phases"] == 4 and PhaseSegmentation(**params).get_params() == params
    x = np.array([est.phase_composition_[0], est.phase_composition_[1]])
    assert list(est.predict(x)) == [0, 1]
    assert np.allclose(est.predict_proba(x).sum(axis=1), 1)
    assert np.isfinite(est.score(x))


@settings(max_examples=20, deadline=None)
@given(k=st.integers(-3, 0), sel=st.text(min_size=1, max_size=5).filter(
    lambda t: t not in ("bic", "elbow")))
def test_bad_parameters(k, sel):
    x = np.random.default_rng(0).random((20, 3))
    with pytest.raises(SegmentationError, match="n_phases"):
        PhaseSegmentation(n_phases=k).fit(x)
    with pytest.raises(SegmentationError, match="selection"):
        PhaseSegmentation(selection=sel).fit(x)


def test_bad_field():
    with pytest.raises(SegmentationError, match="species"):
        segment_field(np.zeros((3, 3, 3)))
