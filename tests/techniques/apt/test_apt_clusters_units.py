"""Unit checks of linkage, envelope/erosion, statistics and bad input (by hand and hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from bigmax.techniques.apt.cluster_stats import analysed_volume, cluster_table, number_density
from bigmax.techniques.apt.clusters import (
    ClusterInputError,
    MaxSeparation,
    choose_n_min,
    envelope_erode,
    link,
)
from bigmax.techniques.apt.spatial_stats import knn_distribution, rdf


def reference_groups(p: np.ndarray, d: float) -> np.ndarray:
    pairs = cKDTree(p.astype(np.float64)).query_pairs(d, output_type="ndarray")
    g = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(p), len(p)))
    return connected_components(g, directed=False)[1]


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    pairs = np.unique(np.stack([a, b], axis=1), axis=0)
    return len(pairs) == len(np.unique(a)) == len(np.unique(b))


@pytest.mark.parametrize("d", [0.3, 0.55, 1.1])
def test_link_matches_kdtree_connected_components(d):
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 12, (4000, 3)).astype(np.float32)
    assert same_partition(link(p, d), reference_groups(p, d))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 300),
    d=st.floats(0.05, 3.0),
    span=st.floats(0.1, 50.0),
    seed=st.integers(0, 2**16),
)
def test_link_any_cloud(n, d, span, seed):
    p = np.random.default_rng(seed).uniform(-span, span, (n, 3)).astype(np.float32)
    assert same_partition(link(p, d), reference_groups(p, d))


def test_envelope_and_erosion_by_hand():
    # three solutes 0.4 nm apart on x; matrix ions inside, at the rim and far away
    xyz = np.array(
        [[0, 0, 0], [0.4, 0, 0], [0.8, 0, 0],  # cluster solutes
         [0.4, 0.3, 0],                          # inside: within L, far from free ions
         [0.4, 0, 0.45],                         # rim: within L, 0.5 from the free ion above
         [0.4, 0, 0.95],                         # free: beyond L, within L + d_e
         [5, 5, 5]],                             # far away
        np.float32,
    )
    labels = np.array([0, 0, 0, -1, -1, -1, -1], np.int32)
    core = np.array([0, 1, 2])
    envelope_erode(xyz, labels, core, envelope=0.5, erosion=0.5)
    assert labels.tolist() == [0, 0, 0, 0, -1, -1, -1]
    labels = np.array([0, 0, 0, -1, -1, -1, -1], np.int32)
    envelope_erode(xyz, labels, core, envelope=0.5, erosion=0.0)
    assert labels.tolist() == [0, 0, 0, 0, 0, -1, -1]


def test_choose_n_min_is_a_false_discovery_bound():
    real = np.array([1] * 500 + [2] * 60 + [3] * 20 + [30] * 10)
    rand = [np.array([1] * 600 + [2] * 40 + [3] * 3), np.array([1] * 600 + [2] * 44 + [3] * 1)]
    # >= 2: 42 random vs 90 real; >= 3: 2 random vs 30 real <= 0.05 * 30 is false (1.5) ...
    # >= 4: 0 random vs 10 real -> 4
    assert choose_n_min(real, rand, 0.05) == 4
    assert choose_n_min(real, rand, 0.10) == 3


def test_cluster_table_by_hand():
    xyz = np.array([[0, 0, 0], [2, 0, 0], [1, 0, 0], [10, 10, 10], [10, 10, 12]], np.float32)
    species = np.array([1, 1, 0, 2, 2])
    labels = np.array([0, 0, 0, 1, 1])
    sol = species > 0
    tab = cluster_table(xyz, species, labels, sol, names=["Fe", "Cu", "Ni"], matrix=[0])
    assert tab["n_ions"].tolist() == [3, 2] and tab["n_solute"].tolist() == [2, 2]
    np.testing.assert_allclose(tab[["x", "y", "z"]].to_numpy(), [[1, 0, 0], [10, 10, 11]])
    np.testing.assert_allclose(tab["r_gyration"], [1, 1])
    np.testing.assert_allclose(tab["r_guinier"], np.sqrt(5 / 3))
    np.testing.assert_allclose(tab["incl_Fe"], [1 / 3, 0])
    np.testing.assert_allclose(tab["excl_Cu"], [1, 0])
    assert "excl_Fe" not in tab


def test_volumes_of_a_filled_box():
    rng = np.random.default_rng(0)
    xyz = rng.uniform(0, [20, 30, 40], (400_000, 3)).astype(np.float32)
    assert abs(analysed_volume(xyz, "hull") / 24000 - 1) < 0.01
    assert abs(analysed_volume(xyz, "voxel", voxel=2.0) / 24000 - 1) < 0.02
    assert number_density(24, 24000) == pytest.approx(1e24)


def test_knn_and_rdf_see_clustering_and_not_randomness():
    rng = np.random.default_rng(2)
    xyz = rng.uniform(0, 25, (500_000, 3)).astype(np.float32)
    random_sol = rng.random(len(xyz)) < 0.01
    clustered = random_sol.copy()
    for c in rng.uniform(3, 22, (30, 3)):
        clustered |= (np.linalg.norm(xyz - c, axis=1) < 1.2) & (rng.random(len(xyz)) < 0.5)
    knn_c = knn_distribution(xyz, clustered, k=3, n_permutations=2)
    knn_r = knn_distribution(xyz, random_sol, k=3, n_permutations=2)
    d_c, gap_c = knn_c.separation(3)
    _, gap_r = knn_r.separation(3)
    assert gap_c > 0.3 and gap_r < 0.05 and 0.3 < d_c < 1.2
    hist = knn_c.histogram(bins=40)
    assert np.isclose((hist["k1_measured"] * (hist["r_hi"] - hist["r_lo"])).sum(), 1, atol=0.02)
    r_c = rdf(xyz, clustered, centres=[True], r_max=2.0, dr=0.2, max_centres=500)
    r_r = rdf(xyz, random_sol, centres=[True], r_max=2.0, dr=0.2, max_centres=500)
    assert r_c.table["ratio"].iloc[2] > 3
    inside = (r_r.table["ratio"] >= r_r.table["random_lo"]) & (
        r_r.table["ratio"] <= r_r.table["random_hi"]
    )
    assert inside.mean() >= 0.7


# ---------------------------------------------------------------- bad input


def test_bad_inputs_name_the_argument():
    xyz = np.zeros((10, 3), np.float32)
    sol = np.ones(10, bool)
    cases = [
        (lambda: MaxSeparation(d_max=0.5, n_min=2).fit(np.zeros((10, 2)), sol), "X must have"),
        (lambda: MaxSeparation(d_max=0.5, n_min=2).fit(xyz.astype(int), sol), "dtype"),
        (lambda: MaxSeparation(d_max=0.5, n_min=2).fit(xyz, sol[:5]), "species"),
        (lambda: MaxSeparation(d_max=0.5, n_min=2).fit(xyz, np.arange(10)), "solutes="),
        (lambda: MaxSeparation(d_max=-1).fit(xyz, sol), "'d_max'"),
        (lambda: MaxSeparation(n_min=0).fit(xyz, sol), "'n_min'"),
        (lambda: MaxSeparation(method="kmeans").fit(xyz, sol), "'method'"),
        (lambda: MaxSeparation(solutes=[99], d_max=1, n_min=2).fit(xyz, np.arange(10)), "99"),
        (lambda: MaxSeparation(n_min=2).fit(xyz, np.zeros(10, bool) | (np.arange(10) < 2)),
         "d_max"),
    ]
    for call, match in cases:
        with pytest.raises(ClusterInputError, match=match):
            call()
    bad = xyz.copy()
    bad[7, 1] = np.nan
    with pytest.raises(ClusterInputError, match="row 7"):
        MaxSeparation(d_max=0.5, n_min=2).fit(bad, sol)


@pytest.mark.filterwarnings("ignore:the solute kNN distances")
@settings(max_examples=60, deadline=None)
@given(
    d_max=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3)),
    n_min=st.one_of(st.none(), st.integers(-5, 5), st.floats(-1, 5)),
    envelope=st.one_of(st.none(), st.floats(-2, 2)),
    method=st.sampled_from(["maxsep", "dbscan", "hdbscan", "", "MAXSEP"]),
)
def test_any_parameters_fit_or_raise_one_clear_error(d_max, n_min, envelope, method):
    rng = np.random.default_rng(0)
    xyz = rng.uniform(0, 5, (300, 3)).astype(np.float32)
    sol = rng.random(300) < 0.3
    try:
        model = MaxSeparation(d_max=d_max, n_min=n_min, envelope=envelope, method=method)
        model.fit(xyz, sol)
    except ClusterInputError as err:
        assert "MaxSeparation" in str(err) or "d_max" in str(err)
    else:
        assert model.labels_.shape == (300,) and model.labels_.dtype == np.int32


@settings(max_examples=40, deadline=None)
@given(
    shape=st.sampled_from([(0, 3), (5,), (5, 4), (5, 3, 1)]),
    dtype=st.sampled_from([np.float32, np.int64, np.complex64]),
)
def test_bad_arrays_raise_cluster_input_error(shape, dtype):
    xyz = np.zeros(shape, dtype)
    with pytest.raises(ClusterInputError):
        MaxSeparation(d_max=0.5, n_min=2).fit(xyz, np.ones(shape[0], bool))


def test_big_endian_input_and_estimator_api():
    from sklearn.base import clone

    rng = np.random.default_rng(4)
    xyz = rng.uniform(0, 10, (20_000, 3)).astype(np.float32)
    sol = rng.random(20_000) < 0.02
    sol |= np.linalg.norm(xyz - 5, axis=1) < 1.5
    model = MaxSeparation(d_max=0.6, n_min=8)
    native = model.fit(xyz, sol).labels_.copy()
    swapped = clone(model).fit(xyz.astype(">f4"), sol).labels_
    assert np.array_equal(native, swapped) and native.max() >= 0
    assert clone(model).get_params() == model.get_params()
    assert model.get_params()["d_max"] == 0.6 and not hasattr(clone(model), "labels_")
    assert np.array_equal(MaxSeparation(d_max=0.6, n_min=8).fit_predict(xyz, sol), native)
