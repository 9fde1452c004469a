"""Domain of applicability: where a fitted model's error is low (Sutton et al., Nat. Commun.
11, 4428 (2020)).

Subgroup discovery on the model's absolute (or squared) error with the impact quality looking
for *low* values: coverage x (mean error overall - mean error in the subgroup). The rule found
is a region of feature space, described in the features, where the model can be trusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bigmax.analytics.subgroups.estimator import SubgroupDiscovery
from bigmax.analytics.subgroups.quality import MeanShift
from bigmax.analytics.subgroups.selectors import Rule, SubgroupInputError

__all__ = ["ApplicabilityDomain", "domain_of_applicability"]


@dataclass
class ApplicabilityDomain:
    """The best rule for low error, and the error inside and outside of it."""

    rule: Rule
    count: int
    coverage: float
    error_inside: float
    error_outside: float
    error_all: float
    loss: str
    sgd: SubgroupDiscovery

    def covers(self, X) -> np.ndarray:
        """Which rows of ``X`` fall in the domain."""
        return self.rule.covers(X)

    def __str__(self) -> str:
        return (
            f"{self.rule}: {self.count} samples ({self.coverage:.0%}), mean {self.loss} error "
            f"{self.error_inside:.4g} inside vs {self.error_outside:.4g} outside "
            f"({self.error_all:.4g} overall)"
        )


def domain_of_applicability(
    model_or_predictions,
    X,
    y,
    *,
    loss: str = "absolute",
    depth: int = 2,
    top_k: int = 5,
    n_cuts: int = 9,
    min_coverage: float = 0.05,
    search: str = "bnb",
    n_jobs: int = 1,
) -> ApplicabilityDomain:
    """Find where a regressor is reliable.

    ``model_or_predictions`` is a fitted estimator (its ``predict(X)`` is used) or the
    predictions themselves; ``loss`` is "absolute" or "squared". The search is exhaustive by
    default (exact best rule); ``min_coverage`` keeps trivially small domains out.
    """
    if loss not in ("absolute", "squared"):
        raise SubgroupInputError(f"loss must be 'absolute' or 'squared', not {loss!r}")
    if hasattr(model_or_predictions, "predict"):
        pred = np.asarray(model_or_predictions.predict(X), dtype=np.float64)
    else:
        pred = np.asarray(model_or_predictions, dtype=np.float64)
    target = np.asarray(y, dtype=np.float64)
    if pred.shape != target.shape:
        raise SubgroupInputError(
            f"predictions have shape {pred.shape} but y has shape {target.shape}"
        )
    if not np.isfinite(pred).all():
        raise SubgroupInputError("the predictions contain NaN or infinite values")
    err = np.abs(target - pred) if loss == "absolute" else (target - pred) ** 2
    sgd = SubgroupDiscovery(
        quality=MeanShift(a=1.0, direction="lower"), search=search, depth=depth, top_k=top_k,
        n_cuts=n_cuts, min_coverage=min_coverage, n_permutations=0, n_jobs=n_jobs,
    )
    sgd.fit(X, pd.Series(err, name=f"{loss} error"))
    if not sgd.rules_:
        raise SubgroupInputError("no subgroup satisfies the minimum coverage")
    rule = sgd.rules_[0]
    errors = sgd.target_values_[sgd.targets_[0]]
    inside = sgd.membership_[:, 0]
    outside = errors[~inside]
    return ApplicabilityDomain(
        rule=rule,
        count=int(inside.sum()),
        coverage=float(inside.mean()),
        error_inside=float(errors[inside].mean()),
        error_outside=float(outside.mean()) if len(outside) else float("nan"),
        error_all=float(errors.mean()),
        loss=loss,
        sgd=sgd,
    )
