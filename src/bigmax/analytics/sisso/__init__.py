"""SISSO: interpretable descriptors by sure-independence screening and an l0 sparsifying operator.

Ouyang et al., Phys. Rev. Mater. 2, 083802 (2018); Ghiringhelli et al., PRL 114, 105503 (2015).

>>> from bigmax.analytics.sisso import SissoRegressor, read_feature_table  # doctest: +SKIP
>>> table = read_feature_table("octet_binaries_82.csv", "E_RS - E_ZB")  # doctest: +SKIP
>>> SissoRegressor(n_dim=2, max_rung=2).fit(table.X, table.y).model_  # doctest: +SKIP

Names are imported on first use, so ``import bigmax.analytics.sisso`` stays cheap (numba and
sympy load only when a search runs).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    # estimators and models
    "SissoRegressor": "regressor",
    "SissoClassifier": "classifier",
    "SissoInputError": "regressor",
    "SissoModel": "model",
    "SissoClassificationModel": "model",
    "load_model": "model",
    # building blocks
    "l0_search": "l0",
    "L0Result": "l0",
    "overlap_count": "overlap",
    "overlap_volume": "overlap",
    "cross_validate_dimension": "cv",
    "summarize_cv": "cv",
    "choose_dimension": "cv",
    "FeatureTable": "table",
    "read_feature_table": "table",
    "search_results_to_table": "table",
    # the feature space
    "FeatureSpace": "feature_space",
    "Expression": "expression",
    "Unit": "units",
    "UnitError": "units",
    "parse_unit": "units",
    "parse_header": "units",
    "OPERATORS": "operators",
    "ALL_OPERATORS": "operators",
    "pearson_score": "screening",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
