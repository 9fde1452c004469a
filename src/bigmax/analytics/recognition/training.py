"""Train the prototype classifier from the shipped ideal prototypes, and cache it on disk.

No model file ships with BigMax: the 108-class model is rebuilt from the prototypes and a
seed (a few minutes on two cores) the first time it is needed, then loaded from the cache. The
cache key holds every training parameter and the library versions, so a change retrains.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from bigmax.analytics.recognition.augment import augment
from bigmax.analytics.recognition.classifier import StructureClassifier
from bigmax.analytics.recognition.descriptor import ScaledSOAP
from bigmax.analytics.recognition.prototypes import load_prototypes

#: Training recipe of the default (108-class) model.
DEFAULT_TRAINING = {
    "n_per_class": 40,
    "displacement": (0.0, 0.08),
    "vacancies": (0.0, 0.30),
    "max_strain": 0.02,
    "min_atoms": 100,
    "random_state": 0,
    # A second, larger augmented set (other seed) on which the thresholds are calibrated:
    # the 20 % held out of the training copies leave only 8 samples per class.
    "calibration_per_class": 20,
}


def training_set(
    labels: list[str] | None = None,
    n_per_class: int = 40,
    displacement: tuple[float, float] = (0.0, 0.08),
    vacancies: tuple[float, float] = (0.0, 0.30),
    max_strain: float = 0.02,
    min_atoms: int = 100,
    random_state: int = 0,
):
    """Augmented copies of the ideal prototypes (all 108, or ``labels``), with their labels.

    One copy per class is the ideal supercell itself.
    """
    structures, y = [], []
    rng = np.random.default_rng(random_state)
    for proto in load_prototypes(labels):
        copies = augment(
            proto.atoms, n_per_class - 1, proto.periodic_dims, displacement, vacancies,
            max_strain, min_atoms, rng,
        )
        ideal = augment(proto.atoms, 1, proto.periodic_dims, (0, 0), (0, 0), 0.0, min_atoms, 0)
        structures += ideal + copies
        y += [proto.label] * n_per_class
    return structures, np.asarray(y)


def train_prototype_classifier(
    labels: list[str] | None = None,
    featurizer: ScaledSOAP | None = None,
    n_jobs: int = 1,
    classifier_params: dict | None = None,
    **training,
) -> StructureClassifier:
    """A StructureClassifier trained on augmented prototypes (see ``training_set``).

    ``calibration_per_class`` fresh augmented copies per class (another seed) then set its
    "unknown" thresholds; 0 keeps the thresholds from the held-out training copies.
    """
    params = {**DEFAULT_TRAINING, **training}
    n_cal = params.pop("calibration_per_class")
    X, y = training_set(labels, **params)
    featurizer = featurizer if featurizer is not None else ScaledSOAP(n_jobs=n_jobs)
    F = featurizer.fit().transform(X)
    model = StructureClassifier(
        featurizer=featurizer, n_jobs=n_jobs, random_state=params["random_state"],
        **(classifier_params or {}),
    )
    model.fit(F, y)
    if n_cal:
        X_cal, y_cal = training_set(
            labels, **{**params, "n_per_class": n_cal, "random_state": params["random_state"] + 1}
        )
        model.calibrate(featurizer.transform(X_cal), y_cal)
    return model


def _cache_key(labels, training: dict, featurizer: ScaledSOAP, classifier_params: dict) -> str:
    import sklearn

    import bigmax

    blob = json.dumps(
        {
            "labels": labels,
            "training": {k: training[k] for k in sorted(training)},
            "featurizer": {k: v for k, v in featurizer.get_params().items() if k != "n_jobs"},
            "classifier": classifier_params,
            "versions": [bigmax.__version__ if hasattr(bigmax, "__version__") else "0",
                         sklearn.__version__, np.__version__],
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_or_train(
    cache_dir: str | Path,
    labels: list[str] | None = None,
    n_jobs: int = 1,
    classifier_params: dict | None = None,
    **training,
) -> StructureClassifier:
    """The classifier for ``labels`` from ``cache_dir``, trained and saved there if missing."""
    import joblib

    params = {**DEFAULT_TRAINING, **training}
    featurizer = ScaledSOAP(n_jobs=n_jobs)
    key = _cache_key(labels, params, featurizer, classifier_params or {})
    path = Path(cache_dir).expanduser() / f"recognition-{key}.joblib"
    if path.exists():
        model = joblib.load(path)
        model._featurizer().n_jobs = n_jobs
        return model
    model = train_prototype_classifier(labels, featurizer, n_jobs, classifier_params, **params)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump(model, tmp)
    tmp.replace(path)
    return model
