"""Crystal-structure recognition: an ensemble of neural networks on scaled SOAP fingerprints.

ARISE (Leitherer et al. 2021) showed that a classifier trained on ideal prototypes recognises
noisy, defective and polycrystalline data when its input is a smooth, averaged local-environment
fingerprint, and that the spread of a Bayesian ensemble says when it does not know. Here the
ensemble is a handful of scikit-learn MLPs with different initialisations (a deep ensemble);
its mutual information, calibrated on held-out augmented data, turns into an "unknown" answer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from ase import Atoms
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from bigmax.analytics.recognition.descriptor import ScaledSOAP

#: What ``recognize`` answers when the uncertainty is above the calibrated threshold.
UNKNOWN = "unknown"

_UNCERTAINTIES = ("mutual_information", "entropy")


def _is_features(X) -> bool:
    return isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind == "f"


def _entropy(p: np.ndarray) -> np.ndarray:
    return -np.sum(np.where(p > 0, p * np.log(np.clip(p, 1e-300, None)), 0.0), axis=-1)


class StructureClassifier(ClassifierMixin, BaseEstimator):
    """Recognise the prototype of a structure, with a calibrated uncertainty.

    Parameters
    ----------
    featurizer : ScaledSOAP or None, default=None
        Turns ASE Atoms into fingerprints; None means ``ScaledSOAP()``. Every method also
        accepts a precomputed float array of fingerprints instead of structures.
    n_estimators : int, default=5
        Members of the ensemble; more give a smoother uncertainty at linear cost.
    hidden_layer_sizes : tuple of int, default=(256,)
        Hidden layers of each member MLP.
    alpha : float, default=1e-4
        L2 penalty of each member.
    max_iter : int, default=300
        Epochs of each member.
    uncertainty : {"mutual_information", "entropy"}, default="mutual_information"
        Mutual information (disagreement between members, ARISE's choice) or the entropy of
        the mean prediction (also counts classes the members agree to confuse).
    calibration_size : float, default=0.2
        Fraction of the training fingerprints held out to calibrate ``threshold_``.
    coverage : float, default=0.99
        ``threshold_`` is the ``coverage`` quantile of the uncertainty of the correctly
        classified held-out samples, so about 1 % of known structures are called unknown.
    class_conditional : bool, default=True
        Also take that quantile per class (Mondrian calibration) and use the larger of the
        two: a class that is inherently close to another (fcc and ARISE's bct In differ by a
        4 % tetragonal strain) keeps its known structures instead of losing them all to
        "unknown", while every other class keeps the global threshold.
    random_state : int, default=0
        Seeds the split and the members.
    n_jobs : int, default=1
        Members trained in parallel.

    Attributes
    ----------
    classes_ : ndarray of str
        Labels in output order.
    estimators_ : list of MLPClassifier
    scaler_ : StandardScaler
    threshold_ : float
        Uncertainty above which ``recognize`` answers "unknown" (the global one).
    class_thresholds_ : ndarray of float
        The threshold for each class in ``classes_`` (``threshold_`` where not class-conditional).
    calibration_ : dict
        Held-out accuracy, accuracy of the accepted predictions and fraction called unknown.

    References
    ----------
    Leitherer, Ziletti, Ghiringhelli, Nat. Commun. 12, 6234 (2021); Lakshminarayanan, Pritzel,
    Blundell, NeurIPS (2017).
    """

    def __init__(
        self,
        featurizer: ScaledSOAP | None = None,
        n_estimators: int = 5,
        hidden_layer_sizes: tuple[int, ...] = (256,),
        alpha: float = 1e-4,
        max_iter: int = 300,
        uncertainty: str = "mutual_information",
        calibration_size: float = 0.2,
        coverage: float = 0.99,
        class_conditional: bool = True,
        random_state: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.featurizer = featurizer
        self.n_estimators = n_estimators
        self.hidden_layer_sizes = hidden_layer_sizes
        self.alpha = alpha
        self.max_iter = max_iter
        self.uncertainty = uncertainty
        self.calibration_size = calibration_size
        self.coverage = coverage
        self.class_conditional = class_conditional
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fingerprints -------------------------------------------------------------------
    def _featurizer(self) -> ScaledSOAP:
        if not hasattr(self, "featurizer_"):
            f = self.featurizer if self.featurizer is not None else ScaledSOAP()
            self.featurizer_ = f.fit() if not hasattr(f, "n_features_out_") else f
        return self.featurizer_

    def features(self, X: Sequence[Atoms] | np.ndarray) -> np.ndarray:
        """Fingerprints of structures (or ``X`` itself when it already is a float array)."""
        if _is_features(X):
            return X
        if isinstance(X, Atoms):
            X = [X]
        return self._featurizer().transform(list(X))

    # -- fit ----------------------------------------------------------------------------
    def fit(self, X: Sequence[Atoms] | np.ndarray, y: Sequence[str]) -> StructureClassifier:
        """Train the members on fingerprints of (augmented) prototypes and calibrate."""
        from joblib import Parallel, delayed
        from sklearn.model_selection import train_test_split

        if self.uncertainty not in _UNCERTAINTIES:
            raise ValueError(
                f"uncertainty must be one of {_UNCERTAINTIES}, got {self.uncertainty!r}"
            )
        if not (isinstance(self.n_estimators, int) and self.n_estimators >= 1):
            raise ValueError(f"n_estimators must be a positive int, got {self.n_estimators!r}")
        if not (0.0 <= self.calibration_size < 1.0 and 0.0 < self.coverage <= 1.0):
            raise ValueError(
                "calibration_size must be in [0, 1) and coverage in (0, 1]; got "
                f"{self.calibration_size!r} and {self.coverage!r}"
            )
        self.__dict__.pop("featurizer_", None)  # a refit uses the current featurizer
        self._featurizer()  # fitted featurizer_ even when X holds fingerprints already
        F = self.features(X)
        y = np.asarray(y).astype(str)
        if len(y) != len(F):
            raise ValueError(f"X has {len(F)} structures but y has {len(y)} labels")
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("y needs at least two classes")
        self.n_features_in_ = F.shape[1]
        if self.calibration_size > 0:
            F_fit, F_cal, c_fit, c_cal = train_test_split(
                F, codes, test_size=self.calibration_size, stratify=codes,
                random_state=self.random_state,
            )
        else:
            F_fit, F_cal, c_fit, c_cal = F, F, codes, codes
        self.scaler_ = StandardScaler().fit(F_fit)
        Z = self.scaler_.transform(F_fit)
        seeds = np.random.default_rng(self.random_state).integers(0, 2**31 - 1, self.n_estimators)
        self.estimators_ = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(Z, c_fit, self.hidden_layer_sizes, self.alpha, self.max_iter, s)
            for s in seeds
        )
        self._calibrate(F_cal, c_cal)
        return self

    def calibrate(self, X: Sequence[Atoms] | np.ndarray, y: Sequence[str]) -> StructureClassifier:
        """Recompute the thresholds on other labelled data (e.g. a larger augmented set).

        The members stay as they are; only ``threshold_``, ``class_thresholds_`` and
        ``calibration_`` change. Labels must be known classes.
        """
        check_is_fitted(self, "estimators_")
        y = np.asarray(y).astype(str)
        F = self.features(X)
        if len(y) != len(F):
            raise ValueError(f"X has {len(F)} structures but y has {len(y)} labels")
        unknown = sorted(set(y) - set(self.classes_))
        if unknown:
            raise ValueError(f"y has labels the model does not know: {unknown[:5]}")
        self._calibrate(F, np.searchsorted(self.classes_, y))
        return self

    def _calibrate(self, F: np.ndarray, codes: np.ndarray) -> None:
        proba, u = self._proba_uncertainty(F)
        correct = proba.argmax(axis=1) == codes
        accepted_u = u[correct] if correct.any() else u
        self.threshold_ = _upper(accepted_u, self.coverage)
        self.class_thresholds_ = np.full(len(self.classes_), self.threshold_)
        if self.class_conditional:
            for c in np.unique(codes[correct]):
                own = u[correct & (codes == c)]
                self.class_thresholds_[c] = max(self.threshold_, _upper(own, self.coverage))
        accept = ~self._unknown(proba.argmax(axis=1), u)
        self.calibration_ = {
            "n_samples": int(len(codes)),
            "accuracy": float(correct.mean()),
            "accuracy_accepted": float(correct[accept].mean()) if accept.any() else float("nan"),
            "unknown_fraction": float(1 - accept.mean()),
            "threshold": self.threshold_,
            "classes_above_threshold": int((self.class_thresholds_ > self.threshold_).sum()),
        }

    def _unknown(self, codes: np.ndarray, u: np.ndarray) -> np.ndarray:
        """True where the uncertainty is above the threshold of the predicted class."""
        return u > self.class_thresholds_[codes]

    # -- predict ------------------------------------------------------------------------
    def _member_proba(self, F: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        if F.shape[1] != self.n_features_in_:
            raise ValueError(
                f"fingerprints have {F.shape[1]} features, the model expects {self.n_features_in_}"
            )
        Z = self.scaler_.transform(F)
        return np.stack([m.predict_proba(Z) for m in self.estimators_])

    def _proba_uncertainty(self, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        members = self._member_proba(F)
        mean = members.mean(axis=0)
        total = _entropy(mean)
        if self.uncertainty == "entropy":
            return mean, total
        return mean, np.clip(total - _entropy(members).mean(axis=0), 0.0, None)

    def predict_proba(self, X: Sequence[Atoms] | np.ndarray) -> np.ndarray:
        """Mean class probabilities of the members, shape (n_structures, n_classes)."""
        return self._member_proba(self.features(X)).mean(axis=0)

    def predict(self, X: Sequence[Atoms] | np.ndarray) -> np.ndarray:
        """The most probable prototype label of each structure (never "unknown")."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]

    def predict_uncertainty(self, X: Sequence[Atoms] | np.ndarray) -> np.ndarray:
        """The uncertainty (nats) of each prediction: mutual information or entropy."""
        return self._proba_uncertainty(self.features(X))[1]

    def recognize(self, X: Sequence[Atoms] | np.ndarray) -> pd.DataFrame:
        """Label, probability and uncertainty per structure, "unknown" above the class threshold.

        Columns: ``label`` (most probable class), ``probability``, ``uncertainty``,
        ``unknown`` (bool) and ``answer`` (``label`` or "unknown").
        """
        proba, u = self._proba_uncertainty(self.features(X))
        codes = proba.argmax(axis=1)
        label = self.classes_[codes]
        unknown = self._unknown(codes, u)
        return pd.DataFrame(
            {
                "label": label,
                "probability": proba.max(axis=1),
                "uncertainty": u,
                "unknown": unknown,
                "answer": np.where(unknown, UNKNOWN, label),
            }
        )


def _upper(u: np.ndarray, coverage: float) -> float:
    """The ``coverage`` quantile, nudged up so the calibration samples at it are accepted."""
    return float(np.quantile(u, coverage)) * 1.0001 + 1e-12


def _fit_member(Z, codes, hidden, alpha, max_iter, seed):
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    model = MLPClassifier(
        hidden_layer_sizes=tuple(hidden),
        alpha=alpha,
        max_iter=max_iter,
        random_state=int(seed),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(Z, codes)
