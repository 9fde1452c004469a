"""Cluster finding on synthetic Fe-Cu specimens with planted precipitates (known truth)."""

from __future__ import annotations

import numpy as np
import pytest

from bigmax.techniques.apt.cluster_stats import analysed_volume, cluster_table, number_density
from bigmax.techniques.apt.clusters import MaxSeparation
from bigmax.techniques.apt.synthetic import synthetic_specimen


def assignment_scores(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Ion precision and recall after mapping each found cluster to its majority precipitate."""
    found = labels >= 0
    k = int(labels.max()) + 1
    best = np.full(max(k, 1), -2)
    for c in range(k):
        t = truth[labels == c]
        t = t[t >= 0]
        if len(t):
            best[c] = np.bincount(t).argmax()
    tp = int((found & (best[labels.clip(0)] == truth) & (truth >= 0)).sum())
    return tp / max(int(found.sum()), 1), tp / max(int((truth >= 0).sum()), 1)


@pytest.fixture(scope="module")
def specimen():
    # 1e6 ions at 84.9 atoms/nm^3 and 50 % detection: 5e23 m^-3 precipitates, radii 1-3 nm
    return synthetic_specimen(1_000_000, seed=3, number_density=5e23)


@pytest.fixture(scope="module")
def fitted(specimen):
    cu = specimen.species_index("Cu")
    return MaxSeparation(solutes=[cu]).fit(specimen.xyz, specimen.species)


def test_automatic_parameters_recover_the_planted_clusters(specimen, fitted):
    cu = specimen.species_index("Cu")
    sol = specimen.species == cu
    precision, recall = assignment_scores(fitted.labels_[sol], specimen.cluster_id[sol])
    assert precision >= 0.95 and recall >= 0.95, (precision, recall)
    assert fitted.n_clusters_ == len(specimen.radii)
    assert 0.3 < fitted.d_max_ < 1.0 and 2 <= fitted.n_min_ <= 40


def test_every_planted_precipitate_is_one_cluster(specimen, fitted):
    cu = specimen.species_index("Cu")
    sol = specimen.species == cu
    lab, truth = fitted.labels_[sol], specimen.cluster_id[sol]
    for j in range(len(specimen.radii)):
        mine = lab[truth == j]
        assert np.bincount(mine[mine >= 0]).max() >= 0.95 * len(mine)


def test_guinier_radius_and_number_density(specimen, fitted):
    from scipy.spatial import cKDTree

    cu = specimen.species_index("Cu")
    tab = cluster_table(
        specimen.xyz, specimen.species, fitted.labels_, specimen.species == cu,
        names=specimen.species_names,
    )
    d, j = cKDTree(specimen.centres).query(tab[["x", "y", "z"]].to_numpy())
    assert d.max() < 0.3
    rel = tab["r_guinier"].to_numpy() / specimen.radii[j]
    assert np.all(np.abs(rel - 1) < 0.12), rel
    # matrix excluded: Cu/(Cu+Ni+Mn+P) of the planted precipitate is 0.45/0.55
    assert abs(np.average(tab["excl_Cu"], weights=tab["n_ions"]) - 0.45 / 0.55) < 0.04
    vol = analysed_volume(specimen.xyz)
    assert abs(vol / np.prod(specimen.box) - 1) < 0.15
    truth = len(specimen.radii) / (np.prod(specimen.box) * 1e-27)
    assert abs(number_density(fitted.n_clusters_, vol) / truth - 1) < 0.15


def test_envelope_pulls_in_matrix_ions_and_erosion_strips_the_shell(specimen, fitted):
    cu = specimen.species_index("Cu")
    sol = specimen.species == cu
    core_only = MaxSeparation(
        solutes=[cu], d_max=fitted.d_max_, n_min=fitted.n_min_, envelope=0
    ).fit(specimen.xyz, specimen.species)
    no_erosion = MaxSeparation(
        solutes=[cu], d_max=fitted.d_max_, n_min=fitted.n_min_, erosion=0
    ).fit(specimen.xyz, specimen.species)
    n_core = (core_only.labels_ >= 0).sum()
    n_env = (no_erosion.labels_ >= 0).sum()
    n_full = (fitted.labels_ >= 0).sum()
    assert n_core == (core_only.labels_[sol] >= 0).sum()  # envelope 0: solutes only
    assert n_core < n_full < n_env
    p_all, r_all = assignment_scores(fitted.labels_, specimen.cluster_id)
    p_env, _ = assignment_scores(no_erosion.labels_, specimen.cluster_id)
    assert p_all > p_env and p_all > 0.85 and r_all > 0.85


@pytest.mark.parametrize(("method", "floor"), [("dbscan", 0.95), ("hdbscan", 0.85)])
def test_dbscan_and_hdbscan_in_the_same_api(specimen, fitted, method, floor):
    cu = specimen.species_index("Cu")
    sol = specimen.species == cu
    model = MaxSeparation(
        solutes=[cu], method=method, d_max=fitted.d_max_, n_min=fitted.n_min_
    ).fit(specimen.xyz, specimen.species)
    precision, recall = assignment_scores(model.labels_[sol], specimen.cluster_id[sol])
    # HDBSCAN has no distance cut: it keeps matrix solutes at the cluster rims (lower precision)
    assert precision >= floor and recall >= 0.95, (method, precision, recall)


def test_random_solid_solution_gives_few_clusters():
    spec = synthetic_specimen(400_000, seed=5, number_density=0.0, interface=False)
    cu = spec.species_index("Cu")
    with pytest.warns(UserWarning, match="random"):
        model = MaxSeparation(solutes=[cu]).fit(spec.xyz, spec.species)
    assert model.n_clusters_ <= 3
