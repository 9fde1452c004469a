"""Phase segmentation from voxel compositions with a Gaussian mixture (after Saxena et al.).

Saxena et al. (Microsc. Microanal. 29, 1658 (2023), CompositionSpace) voxelise the specimen,
take each voxel's composition, and cluster the voxels in composition space with a Gaussian
mixture whose number of components is chosen by the Bayesian information criterion; each
component is a phase. :class:`PhaseSegmentation` is that step as a scikit-learn estimator:
``fit(X)`` on voxel compositions (n_voxels, n_species), ``predict`` gives phase labels.
:func:`segment_field` runs it on a voxel field and returns the labels on the grid.

Compositions sum to one, so the full covariance is singular; ``reg_covar`` keeps the fit
stable. Voxels with few ions are noisy (binomial); ``min_counts`` in :func:`segment_field`
leaves them out of the fit (labelled -1).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["PhaseSegmentation", "SegmentationError", "segment_field"]


class SegmentationError(ValueError):
    """Bad segmentation input (names the argument)."""


class PhaseSegmentation(ClusterMixin, BaseEstimator):
    """Gaussian-mixture phases in composition space, the number of phases chosen by BIC.

    Parameters
    ----------
    n_phases : int or None, default=None
        Fixed number of phases; None chooses it from the BIC of 1..``max_phases`` components.
    max_phases : int, default=6
    selection : {"elbow", "bic"}, default="elbow"
        "bic": the minimum BIC. "elbow": the fewest components that achieve ``elbow`` of the
        whole BIC drop (as one reads the BIC curve in Saxena et al.). Voxels on phase
        boundaries and the discreteness of small counts make the minimum keep adding
        components that are not phases; the elbow does not.
    elbow : float, default=0.9
    covariance_type : str, default="full"
    reg_covar : float, default=1e-5
    n_init : int, default=1
    max_fit_samples : int, default=50_000
        At most this many voxels (a random subset) are used to fit; all are labelled.
    random_state : int or None, default=0

    Attributes
    ----------
    n_phases_ : chosen number of phases.
    bic_ : dict {k: BIC} for each tried k.
    mixture_ : the fitted sklearn GaussianMixture.
    phase_composition_ : (n_phases_, n_features) mean composition of each phase (sorted so that
        phase 0 is the most populated).
    phase_fraction_ : (n_phases_,) fraction of the fitted voxels in each phase.
    labels_ : phase of each training voxel.
    """

    def __init__(self, n_phases=None, max_phases=6, selection="elbow", elbow=0.9,
                 covariance_type="full", reg_covar=1e-5, n_init=1, max_fit_samples=50_000,
                 random_state=0):
        self.n_phases = n_phases
        self.max_phases = max_phases
        self.selection = selection
        self.elbow = elbow
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.n_init = n_init
        self.max_fit_samples = max_fit_samples
        self.random_state = random_state

    def _check_params(self, n_samples):
        if self.n_phases is not None and not (isinstance(self.n_phases, int | np.integer)
                                              and self.n_phases >= 1):
            raise SegmentationError(f"n_phases must be None or an int >= 1, got {self.n_phases!r}")
        if not (isinstance(self.max_phases, int | np.integer) and self.max_phases >= 1):
            raise SegmentationError(f"max_phases must be an int >= 1, got {self.max_phases!r}")
        if self.covariance_type not in ("full", "tied", "diag", "spherical"):
            raise SegmentationError(f"covariance_type must be full, tied, diag or spherical, "
                                    f"got {self.covariance_type!r}")
        if self.selection not in ("elbow", "bic"):
            raise SegmentationError(f"selection must be 'elbow' or 'bic', got {self.selection!r}")
        if not 0 < self.elbow <= 1:
            raise SegmentationError(f"elbow must be in (0, 1], got {self.elbow!r}")
        if n_samples < 2:
            raise SegmentationError(f"need at least 2 voxels to fit, got {n_samples}")

    def fit(self, X, y=None):
        from sklearn.mixture import GaussianMixture

        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        self._check_params(len(X))
        rng = np.random.default_rng(self.random_state)
        fit_x = X
        if len(X) > self.max_fit_samples:
            fit_x = X[rng.choice(len(X), self.max_fit_samples, replace=False)]
        ks = ([self.n_phases] if self.n_phases is not None
              else range(1, min(self.max_phases, len(fit_x)) + 1))
        self.bic_ = {}
        models = {}
        for k in ks:
            models[k] = GaussianMixture(k, covariance_type=self.covariance_type,
                                        reg_covar=self.reg_covar, n_init=self.n_init,
                                        random_state=self.random_state).fit(fit_x)
            self.bic_[k] = float(models[k].bic(fit_x))
        best = min(self.bic_, key=self.bic_.get)
        if self.selection == "elbow" and len(ks) > 1:
            first = self.bic_[min(self.bic_)]
            drop = first - self.bic_[best]
            best = min(k for k, b in self.bic_.items() if first - b >= self.elbow * drop)
        self.n_phases_, self.mixture_ = best, models[best]
        raw = self.mixture_.predict(X)
        counts = np.bincount(raw, minlength=self.n_phases_)
        order = np.argsort(-counts, kind="stable")
        self._relabel = np.argsort(order)
        self.labels_ = self._relabel[raw]
        self.phase_composition_ = self.mixture_.means_[order]
        self.phase_fraction_ = counts[order] / counts.sum()
        return self

    def predict(self, X):
        check_is_fitted(self, "mixture_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._relabel[self.mixture_.predict(X)]

    def predict_proba(self, X):
        check_is_fitted(self, "mixture_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self.mixture_.predict_proba(X)[:, np.argsort(self._relabel)]

    def score(self, X, y=None):
        """Mean log-likelihood per voxel under the fitted mixture."""
        check_is_fitted(self, "mixture_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return float(self.mixture_.score(X))


def segment_field(field, *, min_counts: float = 10.0, estimator: PhaseSegmentation | None = None):
    """Segment a voxel count field (species, x, y, z) into phases.

    Returns (labels, estimator): labels is an int16 DataArray (x, y, z), -1 for voxels with
    fewer than ``min_counts`` ions; ``estimator.phase_composition_`` columns follow the
    field's species order.
    """
    import xarray as xr

    if "species" not in getattr(field, "dims", ()) or field.ndim != 4:
        raise SegmentationError("field must be a count field with dims (species, x, y, z)")
    counts = np.asarray(field.transpose("species", "x", "y", "z").values, dtype=np.float64)
    total = counts.sum(axis=0)
    ok = total >= min_counts
    if ok.sum() < 2:
        raise SegmentationError(f"fewer than 2 voxels hold >= {min_counts} ions; "
                                "use larger voxels or a lower min_counts")
    comp = (counts[:, ok] / total[ok]).T
    est = PhaseSegmentation() if estimator is None else estimator
    est.fit(comp)
    labels = np.full(total.shape, -1, dtype=np.int16)
    labels[ok] = est.labels_
    out = xr.DataArray(labels, dims=("x", "y", "z"),
                       coords={c: field.coords[c] for c in ("x", "y", "z")}, name="phase")
    out.attrs["species"] = ",".join(str(s) for s in field.coords["species"].values)
    return out, est
