"""Maps of materials space: embeddings keep clusters apart, data and picture out."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
from ase.io import read

from bigmax.analytics.descriptors.cell import CellDescriptor
from bigmax.analytics.descriptors.composition import CompositionDescriptor
from bigmax.analytics.maps import MaterialsMap, umap_available
from bigmax.demo import nomad2018_frames


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0] * 6, [6.0] * 6, [0.0, 6.0] * 3])
    X = np.vstack([c + rng.normal(size=(30, 6)) for c in centres])
    return X, np.repeat([0, 1, 2], 30)


def _pure(labels, truth):
    """Every true group falls in one cluster, and different groups in different ones."""
    mapping = {t: set(labels[truth == t]) for t in np.unique(truth)}
    return all(len(v) == 1 for v in mapping.values()) and len(
        set.union(*mapping.values())
    ) == len(mapping)


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_kmeans_recovers_separated_groups(blobs, method):
    X, truth = blobs
    m = MaterialsMap(method=method, clustering="kmeans", n_clusters=3, perplexity=15).fit(X)
    assert m.embedding_.shape == (90, 2) and np.isfinite(m.embedding_).all()
    assert _pure(m.labels_, truth)
    # the map itself keeps the groups apart: each point is nearer its own centroid
    cents = np.array([m.embedding_[truth == t].mean(axis=0) for t in range(3)])
    nearest = np.argmin(((m.embedding_[:, None, :] - cents[None]) ** 2).sum(-1), axis=1)
    assert (nearest == truth).mean() > 0.95


def test_dbscan_on_the_map_and_the_data_frame(blobs, tmp_path):
    X, truth = blobs
    m = MaterialsMap(method="tsne", clustering="dbscan", perplexity=15).fit(X)
    found = m.labels_[m.labels_ >= 0]
    assert len(set(found)) >= 3
    frame = m.to_frame(group=truth)
    assert list(frame.columns) == ["x", "y", "cluster", "group"] and len(frame) == 90
    ax = m.plot()
    ax.figure.savefig(tmp_path / "map.png")
    ax = m.plot(color=X[:, 0], label="x0")
    assert (tmp_path / "map.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="column 'group' has 2 values for 90 points"):
        m.to_frame(group=[1, 2])


def test_real_oxides_cluster_by_indium_content(tmp_path):
    """40 NOMAD 2018 sesquioxides, composition + cell features: the map is data, not noise."""
    frames = read(io.StringIO(nomad2018_frames(0, 40)), index=":", format="extxyz")
    X = np.hstack(
        [
            CompositionDescriptor().fit_transform(frames),
            CellDescriptor().fit_transform(frames),
        ]
    )
    indium = np.array([np.mean(np.array(a.get_chemical_symbols()) == "In") for a in frames])
    m = MaterialsMap(method="pca", clustering="kmeans", n_clusters=3).fit(X)
    # clusters differ in indium content (the main driver of the lattice constant)
    means = [indium[m.labels_ == k].mean() for k in range(3)]
    assert max(means) - min(means) > 0.15


def test_bad_parameters_and_umap():
    X = np.random.default_rng(0).normal(size=(20, 3))
    with pytest.raises(ValueError, match="method must be one of"):
        MaterialsMap(method="isomap").fit(X)
    with pytest.raises(ValueError, match="needs n_clusters >= 1"):
        MaterialsMap(method="pca", clustering="kmeans").fit(X)
    if umap_available():
        assert MaterialsMap(method="umap", perplexity=5).fit(X).embedding_.shape == (20, 2)
    else:
        with pytest.raises(ImportError, match="umap-learn"):
            MaterialsMap(method="umap").fit(X)
