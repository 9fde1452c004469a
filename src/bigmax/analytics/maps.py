"""Maps of materials space: a 2D embedding of descriptors with clusters, as data and a picture.

t-SNE (scikit-learn) by default; UMAP when ``umap-learn`` is installed (it is optional and
not a BigMax dependency); PCA as the fast, linear baseline. Clusters are found in the
descriptor space (k-means) or on the map itself (DBSCAN), so they can be compared.

References
----------
L. van der Maaten, G. Hinton, J. Mach. Learn. Res. 9, 2579 (2008) (t-SNE).
L. McInnes, J. Healy, J. Melville, arXiv:1802.03426 (2018) (UMAP).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["MaterialsMap", "umap_available"]

METHODS = ("tsne", "umap", "pca")
CLUSTERINGS = (None, "kmeans", "dbscan")


def umap_available() -> bool:
    """True when the optional ``umap-learn`` package can be imported."""
    try:
        import umap  # noqa: F401
    except ImportError:
        return False
    return True


class MaterialsMap(BaseEstimator):
    """2D embedding of a descriptor matrix, with cluster labels.

    Parameters
    ----------
    method : {"tsne", "umap", "pca"}, default="tsne"
        "umap" needs the optional ``umap-learn`` package (a clear error says so otherwise).
    n_clusters : int, default=0
        With ``clustering="kmeans"``: the number of clusters.
    clustering : {None, "kmeans", "dbscan"}, default=None
        ``"kmeans"`` clusters the standardised descriptors; ``"dbscan"`` clusters the 2D
        map with ``eps`` in map units (label -1 = noise).
    eps : float, default=None
        DBSCAN radius; default 5 % of the map's larger extent.
    perplexity : float, default=30.0
        t-SNE perplexity (capped at (n_samples - 1) / 3); for UMAP, ``n_neighbors``.
    standardize : bool, default=True
        Scale each descriptor column to zero mean and unit variance first.
    n_pca : int, default=50
        Reduce to this many principal components before t-SNE/UMAP (0 keeps all).
    random_state : int, default=0

    Attributes
    ----------
    embedding_ : ndarray of shape (n_samples, 2)
    labels_ : ndarray of shape (n_samples,)
        Cluster labels (all 0 without clustering).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (40, 5)), rng.normal(8, 1, (40, 5))])
    >>> m = MaterialsMap(method="pca", clustering="kmeans", n_clusters=2).fit(X)
    >>> m.embedding_.shape, len(set(m.labels_[:40])), len(set(m.labels_[40:]))
    ((80, 2), 1, 1)
    """

    def __init__(
        self,
        method: str = "tsne",
        n_clusters: int = 0,
        clustering: str | None = None,
        eps: float | None = None,
        perplexity: float = 30.0,
        standardize: bool = True,
        n_pca: int = 50,
        random_state: int | None = 0,
    ) -> None:
        self.method = method
        self.n_clusters = n_clusters
        self.clustering = clustering
        self.eps = eps
        self.perplexity = perplexity
        self.standardize = standardize
        self.n_pca = n_pca
        self.random_state = random_state

    def _prepare(self, X: Any) -> np.ndarray:
        from sklearn.decomposition import PCA, TruncatedSVD
        from sklearn.preprocessing import StandardScaler

        if self.standardize:
            X = StandardScaler(with_mean=not sp.issparse(X)).fit_transform(X)
        n_comp = min(self.n_pca, X.shape[1], X.shape[0]) if self.n_pca else 0
        if sp.issparse(X):
            n_comp = n_comp or min(50, X.shape[1] - 1)
            return TruncatedSVD(n_comp, random_state=self.random_state).fit_transform(X)
        if n_comp and n_comp < X.shape[1]:
            return PCA(n_comp, random_state=self.random_state).fit_transform(X)
        return np.asarray(X)

    def fit(self, X: Any, y: object = None) -> MaterialsMap:
        """Embed ``X`` in 2D and cluster."""
        if self.method not in METHODS:
            raise ValueError(f"MaterialsMap.method must be one of {METHODS}, got {self.method!r}")
        if self.clustering not in CLUSTERINGS:
            raise ValueError(
                f"MaterialsMap.clustering must be one of {CLUSTERINGS}, got {self.clustering!r}"
            )
        if self.clustering == "kmeans" and not (
            isinstance(self.n_clusters, int) and self.n_clusters >= 1
        ):
            raise ValueError(
                f"MaterialsMap: clustering='kmeans' needs n_clusters >= 1, got {self.n_clusters!r}"
            )
        X = validate_data(self, X, accept_sparse="csr", dtype=np.float64, ensure_min_samples=3)
        reduced = self._prepare(X)
        if self.method == "pca":
            from sklearn.decomposition import PCA

            emb = PCA(2, random_state=self.random_state).fit_transform(
                reduced if reduced.shape[1] >= 2 else np.hstack([reduced, reduced])
            )
        elif self.method == "tsne":
            from sklearn.manifold import TSNE

            perplexity = min(self.perplexity, (X.shape[0] - 1) / 3)
            emb = TSNE(
                2, perplexity=perplexity, init="pca", random_state=self.random_state
            ).fit_transform(reduced)
        else:
            if not umap_available():
                raise ImportError(
                    "MaterialsMap(method='umap') needs the optional package umap-learn "
                    "(pip install umap-learn); method='tsne' needs nothing extra"
                )
            import umap

            emb = umap.UMAP(
                n_neighbors=int(min(self.perplexity, X.shape[0] - 1)),
                random_state=self.random_state,
            ).fit_transform(reduced)
        self.embedding_ = np.asarray(emb, dtype=float)
        self.labels_ = self._cluster(reduced)
        return self

    def _cluster(self, reduced: np.ndarray) -> np.ndarray:
        n = self.embedding_.shape[0]
        if self.clustering is None:
            return np.zeros(n, dtype=int)
        if self.clustering == "kmeans":
            from sklearn.cluster import KMeans

            km = KMeans(self.n_clusters, n_init=10, random_state=self.random_state)
            return km.fit_predict(reduced)
        from sklearn.cluster import DBSCAN

        extent = float(np.ptp(self.embedding_, axis=0).max()) or 1.0
        eps = self.eps if self.eps is not None else 0.05 * extent
        return DBSCAN(eps=eps, min_samples=5).fit_predict(self.embedding_)

    def fit_transform(self, X: Any, y: object = None) -> np.ndarray:
        """The 2D embedding of ``X`` (t-SNE and UMAP maps cannot place new points)."""
        return self.fit(X).embedding_

    def to_frame(self, **columns: Sequence[Any]) -> Any:
        """The map as a pandas DataFrame: x, y, cluster and any extra named columns."""
        import pandas as pd

        check_is_fitted(self, "embedding_")
        frame = pd.DataFrame(
            {"x": self.embedding_[:, 0], "y": self.embedding_[:, 1], "cluster": self.labels_}
        )
        for name, values in columns.items():
            if len(values) != len(frame):
                raise ValueError(
                    f"to_frame: column {name!r} has {len(values)} values for {len(frame)} points"
                )
            frame[name] = list(values)
        return frame

    def plot(
        self,
        color: Sequence[float] | None = None,
        *,
        ax: Any = None,
        label: str = "",
        title: str | None = None,
    ) -> Any:
        """Scatter of the map coloured by ``color`` (a property) or else by cluster, with
        cluster numbers at their centres. Returns the matplotlib Axes."""
        import matplotlib.pyplot as plt

        check_is_fitted(self, "embedding_")
        if ax is None:
            _, ax = plt.subplots(figsize=(5.0, 4.2))
        e = self.embedding_
        if color is not None:
            sc = ax.scatter(e[:, 0], e[:, 1], c=np.asarray(color), s=5, cmap="viridis", lw=0)
            plt.colorbar(sc, ax=ax, label=label)
        else:
            ax.scatter(e[:, 0], e[:, 1], c=self.labels_, s=5, cmap="tab10", lw=0)
        if self.clustering is not None:
            for lab in np.unique(self.labels_):
                if lab < 0:
                    continue
                cx, cy = np.median(e[self.labels_ == lab], axis=0)
                ax.text(cx, cy, str(lab), ha="center", va="center", fontsize=9, weight="bold")
        name = {"tsne": "t-SNE", "umap": "UMAP", "pca": "PCA"}[self.method]
        ax.set_xlabel(f"{name} 1")
        ax.set_ylabel(f"{name} 2")
        ax.set_xticks([])
        ax.set_yticks([])
        if title:
            ax.set_title(title)
        return ax
