"""Cross-validation to choose the descriptor dimension.

Training error always falls with the dimension; the validation error stops falling where the
extra descriptor starts fitting noise. One fit gives the models of every dimension, so a split
costs one fit, not one per dimension. Randomness enters only through the splits
(``random_state``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier
from sklearn.model_selection import KFold, RepeatedKFold, ShuffleSplit, StratifiedKFold

__all__ = ["cross_validate_dimension", "summarize_cv", "choose_dimension"]


def _take(X: Any, rows: np.ndarray) -> Any:
    return X.iloc[rows] if hasattr(X, "iloc") else np.asarray(X)[rows]


def cross_validate_dimension(
    estimator: Any,
    X: Any,
    y: Any,
    *,
    units: Any = None,
    tasks: Any = None,
    cv: int | str = 5,
    leave_out: float = 0.1,
    n_repeats: int = 1,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Validation error of every dimension over repeated splits.

    Parameters
    ----------
    estimator : SissoRegressor or SissoClassifier (cloned per split)
    X, y : the data; ``units`` and ``tasks`` are passed to ``fit``
    cv : int or "leave-out", default=5
        k-fold with this many folds (stratified by class for a classifier), or random
        leave-out splits holding out ``leave_out`` of the samples (SISSO++'s scheme).
    n_repeats : int, default=1
        Repetitions of the k-fold (reshuffled) or number of leave-out splits.
    random_state : int, default=0

    Returns
    -------
    DataFrame
        One row per (split, dimension): ``split``, ``dimension``, ``train_rmse``,
        ``validation_rmse``, ``validation_maxae`` for a regressor, or ``train_accuracy``,
        ``validation_accuracy`` and ``n_overlap`` for a classifier, and ``descriptor``.
    """
    y_arr = np.asarray(y)
    n = len(y_arr)
    classify = is_classifier(estimator)
    if cv == "leave-out":
        if not 0 < leave_out < 1:
            raise ValueError(f"leave_out: expected a fraction in (0, 1), got {leave_out!r}")
        splitter: Any = ShuffleSplit(n_splits=n_repeats, test_size=leave_out,
                                     random_state=random_state)
    elif isinstance(cv, int | np.integer) and cv >= 2:
        if classify:
            if n_repeats != 1:
                raise ValueError("n_repeats > 1 with a classifier: use cv='leave-out'")
            splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state)
        elif n_repeats == 1:
            splitter = KFold(n_splits=cv, shuffle=True, random_state=random_state)
        else:
            splitter = RepeatedKFold(n_splits=cv, n_repeats=n_repeats,
                                     random_state=random_state)
    else:
        raise ValueError(f"cv: expected an integer >= 2 or 'leave-out', got {cv!r}")
    task_arr = None if tasks is None else np.asarray(tasks)
    rows = []
    for split, (train, test) in enumerate(splitter.split(np.zeros(n), y_arr if classify
                                                         else None)):
        est = clone(estimator)
        fit_kw: dict[str, Any] = {"units": units}
        if task_arr is not None:
            fit_kw["tasks"] = task_arr[train]
        est.fit(_take(X, train), _take(y, train), **fit_kw)
        for dim, models in enumerate(est.models_, start=1):
            model = models[0]
            Xte = _take(X, test)
            row = {"split": split, "dimension": dim, "descriptor": str(model)}
            if classify:
                pred = est.predict(Xte, n_dim=dim)
                row["train_accuracy"] = model.accuracy
                row["validation_accuracy"] = float(np.mean(pred == y_arr[test]))
                row["n_overlap"] = model.n_overlap
            else:
                kw = {} if task_arr is None else {"tasks": task_arr[test]}
                err = est.predict(Xte, n_dim=dim, **kw) - y_arr[test].astype(np.float64)
                row["train_rmse"] = model.rmse
                row["validation_rmse"] = float(np.sqrt(np.mean(err**2)))
                row["validation_maxae"] = float(np.abs(err).max())
            rows.append(row)
    return pd.DataFrame(rows)


def summarize_cv(results: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard error of the validation score per dimension."""
    col = "validation_rmse" if "validation_rmse" in results else "validation_accuracy"
    g = results.groupby("dimension")[col]
    out = pd.DataFrame({"mean": g.mean(), "std": g.std(ddof=1), "n_splits": g.count()})
    out["sem"] = out["std"] / np.sqrt(out["n_splits"])
    return out


def choose_dimension(results: pd.DataFrame, rule: str = "min") -> int:
    """The dimension to use: the best mean validation score (``"min"``), or the smallest
    dimension within one standard error of it (``"1se"``, the parsimonious choice)."""
    s = summarize_cv(results)
    higher_better = "validation_accuracy" in results
    best = s["mean"].idxmax() if higher_better else s["mean"].idxmin()
    if rule == "min":
        return int(best)
    if rule != "1se":
        raise ValueError(f"rule: expected 'min' or '1se', got {rule!r}")
    sem = 0.0 if np.isnan(s.loc[best, "sem"]) else s.loc[best, "sem"]
    if higher_better:
        ok = s.index[s["mean"] >= s.loc[best, "mean"] - sem]
    else:
        ok = s.index[s["mean"] <= s.loc[best, "mean"] + sem]
    return int(min(ok))
