"""Both SISSO estimators pass scikit-learn's common estimator checks.

Skipped or relaxed checks, declared through ``__sklearn_tags__``:

- ``SissoClassifier`` sets ``classifier_tags.poor_score``: classification SISSO minimises the
  number of samples inside another class's convex hull, not the training error. On the 3-blob
  data of ``check_classifiers_train``, rung-1 descriptors such as (exp(x0), exp(-x0)) place all
  samples in convex position, so the overlap count is zero (correctly, by its definition)
  while the linear SVM on them reaches about 0.74 accuracy, below the check's 0.83. On the
  2-class problem of the same check it reaches 0.96.
- ``check_array_api_input`` skips itself (scipy's array API mode is off); SISSO is numpy only.
"""

import warnings

from sklearn.utils.estimator_checks import parametrize_with_checks

from bigmax.analytics.sisso import SissoClassifier, SissoRegressor

SMALL = dict(n_dim=2, max_rung=1, n_sis_select=5, n_residual=2, n_models=2)


@parametrize_with_checks([SissoRegressor(**SMALL), SissoClassifier(**SMALL)])
def test_sisso_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        check(estimator)
