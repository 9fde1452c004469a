"""SissoRegressor: SISSO regression (and multi-task SISSO) as a scikit-learn estimator."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from bigmax.analytics.sisso.l0 import fit_subset, l0_search
from bigmax.analytics.sisso.model import SissoModel, library_version

__all__ = ["SissoRegressor", "SissoInputError"]


class SissoInputError(ValueError):
    """Bad data for a SISSO fit; the message names the column."""


# -- input handling shared with the classifier ------------------------------------------------


def _column_label(col: Any) -> str:
    return str(col).strip()


def feature_names_units(
    X: Any, units: Any, n_columns: int | None = None
) -> tuple[list[str], list[Any], list[str]]:
    """Primary feature names and units from ``name (unit)`` headers and/or ``units``.

    ``X`` is a DataFrame (names from its headers) or None (``n_columns`` features named
    ``x0, x1, ...``). ``units`` is a list (one entry per column) or a mapping ``{name: unit}``;
    a unit given both in a header and in ``units`` must agree. Returns (names, Unit objects,
    column labels).
    """
    from bigmax.analytics.sisso.units import Unit, parse_header, parse_unit

    if hasattr(X, "columns") and hasattr(X, "iloc"):
        labels = [_column_label(c) for c in X.columns]
        parsed = []
        for lab in labels:
            try:
                parsed.append(parse_header(lab))
            except ValueError as err:
                raise SissoInputError(f"column {lab!r}: bad unit in the header: {err}") from None
        names = [p[0] for p in parsed]
        header_units: list[Any] = [p[1] for p in parsed]
        has_header_unit = ["(" in lab and lab.endswith(")") for lab in labels]
    else:
        n_cols = int(n_columns or 0)
        names = [f"x{j}" for j in range(n_cols)]
        labels = list(names)
        header_units = [Unit.dimensionless() for _ in names]
        has_header_unit = [False] * n_cols
    seen: dict[str, int] = {}
    for j, name in enumerate(names):
        if not name:
            raise SissoInputError(f"column {j} has an empty name")
        if name in seen:
            raise SissoInputError(f"column {name!r} appears twice (columns {seen[name]} and {j})")
        seen[name] = j
    if units is None:
        return names, header_units, labels
    if isinstance(units, Mapping):
        unknown = [k for k in units if k not in seen]
        if unknown:
            raise SissoInputError(f"units: no column named {unknown[0]!r}")
        given = {seen[k]: v for k, v in units.items()}
    else:
        units = list(units)
        if len(units) != len(names):
            raise SissoInputError(
                f"units: expected {len(names)} entries (one per column), got {len(units)}"
            )
        given = dict(enumerate(units))
    out = list(header_units)
    for j, u in given.items():
        try:
            unit = u if isinstance(u, Unit) else parse_unit("" if u is None else str(u))
        except ValueError as err:
            raise SissoInputError(f"column {names[j]!r}: bad unit {u!r}: {err}") from None
        if has_header_unit[j] and unit != header_units[j]:
            raise SissoInputError(
                f"column {names[j]!r}: unit mismatch, the header says "
                f"'{header_units[j]}' but units gives '{unit}'"
            )
        out[j] = unit
    return names, out, labels


def check_table(A: np.ndarray, names: Sequence[str], min_samples: int, what: str) -> None:
    """NaN/inf, constant columns and the sample count, each with the column named."""
    n = A.shape[0]
    if n < min_samples:
        raise SissoInputError(
            f"too few samples: {n} sample(s), {what} needs at least {min_samples}"
        )
    bad = ~np.isfinite(A)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        i = int(np.argmax(bad[:, j]))
        raise SissoInputError(f"column {names[j]!r} contains NaN or inf (row {i})")
    const = np.all(A == A[:1], axis=0)
    if const.any():
        j = int(np.argmax(const))
        raise SissoInputError(
            f"column {names[j]!r} is constant ({A[0, j]:g}); it cannot be a feature, drop it"
        )


def check_target(y: np.ndarray, name: str = "the target") -> None:
    bad = ~np.isfinite(y)
    if bad.any():
        raise SissoInputError(f"{name} contains NaN or inf (row {int(np.argmax(bad))})")


_COMMON_CONSTRAINTS: dict = {
    "n_dim": [Interval(Integral, 1, None, closed="left")],
    "max_rung": [Interval(Integral, 0, 3, closed="both")],
    "operators": [list, tuple, None],
    "unit_mode": [StrOptions({"strict", "fortran"})],
    "n_sis_select": [Interval(Integral, 1, None, closed="left")],
    "n_residual": [Interval(Integral, 1, None, closed="left")],
    "n_models": [Interval(Integral, 1, None, closed="left")],
    "max_complexity": [Interval(Integral, 0, None, closed="left"), None],
    "min_abs": [Interval(Real, 0, None, closed="left"), None],
    "max_abs": [Interval(Real, 0, None, closed="neither"), None],
    "n_jobs": [Interval(Integral, 1, None, closed="left")],
    "progress": [callable, None],
}


class _SissoBase(BaseEstimator):
    """Shared parameters, input handling and the feature space."""

    def _settings(self) -> dict:
        from bigmax.analytics.sisso.operators import ALL_OPERATORS

        params = self.get_params(deep=False)
        params.pop("progress", None)
        params["operators"] = list(ALL_OPERATORS if self.operators is None else self.operators)
        params["estimator"] = type(self).__name__
        return params

    def _report(self, stage: str, fraction: float) -> None:
        if self.progress is not None:
            self.progress(stage, float(fraction))

    def _prepare(self, X, y, units, *, classify: bool):
        frame = X if hasattr(X, "columns") and hasattr(X, "iloc") else None
        if frame is not None:
            import pandas as pd

            for col in frame.columns:
                if not pd.api.types.is_numeric_dtype(frame[col]) and (
                    pd.to_numeric(frame[col], errors="coerce").isna() & frame[col].notna()
                ).any():
                    raise SissoInputError(f"column {_column_label(col)!r} is not numeric")
        if not classify and y is not None:
            try:
                y_pre = np.asarray(y, dtype=np.float64)
            except (TypeError, ValueError):
                y_pre = None
            if y_pre is not None and y_pre.ndim == 1:
                check_target(y_pre)
        X_arr, y_arr = validate_data(
            self, X, y, y_numeric=not classify, ensure_all_finite=False, dtype=np.float64,
            ensure_min_samples=1,
        )
        names, unit_list, _ = feature_names_units(frame, units, X_arr.shape[1])
        self.primary_names_ = names
        self.primary_units_ = [str(u) for u in unit_list]
        return X_arr, y_arr, names, unit_list

    def _feature_space(self, X_arr, names, unit_list):
        from bigmax.analytics.sisso.feature_space import FeatureSpace
        from bigmax.analytics.sisso.operators import ALL_OPERATORS

        kwargs: dict[str, Any] = {}
        if self.min_abs is not None:
            kwargs["min_abs"] = self.min_abs
        if self.max_abs is not None:
            kwargs["max_abs"] = self.max_abs
        fs = FeatureSpace(
            X_arr, list(names), list(unit_list),
            operators=list(ALL_OPERATORS) if self.operators is None else self.operators,
            max_rung=self.max_rung, unit_mode=self.unit_mode,
            max_complexity=self.max_complexity, n_jobs=self.n_jobs, **kwargs,
        )
        self._report("features", 0.0)
        fs.fit()
        self._report("features", 1.0)
        self.feature_space_size_ = int(fs.n_features)
        return fs


class SissoRegressor(RegressorMixin, _SissoBase):
    """SISSO regression: sure-independence screening plus an exhaustive l0 search.

    Dimension 1 screens the feature space against y; dimension k screens it against the
    residuals of the ``n_residual`` best (k-1)-D models (SISSO++'s refinement) and adds
    ``n_sis_select`` new features to the union; the l0 search then fits every k-subset of the
    union by least squares. Multi-task SISSO: pass ``tasks`` to ``fit``; all tasks share the
    descriptor, each has its own coefficients.

    Parameters
    ----------
    n_dim : int, default=2
        Largest descriptor dimension; models of every dimension up to it are kept.
    max_rung : int, default=1
        Rungs of the feature space (0: the primary features themselves).
    operators : list of str, default=None
        Operator names (``"add"``, ``"sub"``, ``"mult"``, ``"div"``, ``"exp"``, ...) or a list
        of lists, one per rung; None means all 17.
    unit_mode : {"strict", "fortran"}, default="strict"
        ``strict``: transcendental functions on dimensionless input only; ``fortran``: the
        rules of the reference Fortran code v3.5.
    n_sis_select : int, default=20
        Features added to the union per dimension.
    n_residual : int, default=10
        Residuals of this many best models drive the next screening.
    n_models : int, default=10
        Models kept per dimension in ``models_``.
    max_complexity : int, default=None
        Largest number of operators in a feature (Fortran's ``fcomplexity``).
    metric : {"rmse", "maxae"}, default="rmse"
        The l0 ranking error.
    task_weighting : {"equal", "size"}, default="equal"
        Multi-task loss: mean of per-task MSE, or pooled squared errors.
    min_abs, max_abs : float, default=None
        Drop features whose largest absolute value is below/above these.
    n_jobs : int, default=1
        Threads for the feature space and the l0 search; results do not depend on it.
    progress : callable, default=None
        ``progress(stage, fraction)`` is called as the fit goes on (the CLI's progress bar).

    Attributes
    ----------
    models_ : list of list of SissoModel
        ``models_[k-1]`` holds the best ``n_models`` k-D models, best first.
    model_ : SissoModel
        The best ``n_dim``-D model, used by ``predict``.
    coef_ : ndarray of shape (n_dim,) or (n_tasks, n_dim)
    intercept_ : float or ndarray of shape (n_tasks,)
    sis_subspaces_ : list of list of str
        The features each screening added.
    feature_space_size_ : int
        Candidates in the feature space.
    tasks_ : list or None
        Task labels of a multi-task fit.
    n_features_in_ : int
    feature_names_in_ : ndarray of str (DataFrame input only)

    References
    ----------
    R. Ouyang et al., Phys. Rev. Mater. 2, 083802 (2018); multi-task: R. Ouyang et al.,
    J. Phys.: Mater. 2, 024002 (2019); SISSO++: T. A. R. Purcell et al., JOSS 7, 3960 (2022).

    Examples
    --------
    >>> import numpy as np
    >>> from bigmax.analytics.sisso import SissoRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.uniform(1, 2, size=(40, 3))
    >>> y = 2 * X[:, 0] * X[:, 1] - 1
    >>> est = SissoRegressor(n_dim=1, max_rung=1).fit(X, y)
    >>> str(est.model_)
    '-1 + 2*(x1 * x0)'
    """

    _parameter_constraints: dict = {
        **_COMMON_CONSTRAINTS,
        "metric": [StrOptions({"rmse", "maxae"})],
        "task_weighting": [StrOptions({"equal", "size"})],
    }

    def __init__(
        self,
        n_dim: int = 2,
        max_rung: int = 1,
        operators: Sequence[str] | Sequence[Sequence[str]] | None = None,
        unit_mode: str = "strict",
        n_sis_select: int = 20,
        n_residual: int = 10,
        n_models: int = 10,
        max_complexity: int | None = None,
        metric: str = "rmse",
        task_weighting: str = "equal",
        min_abs: float | None = None,
        max_abs: float | None = None,
        n_jobs: int = 1,
        progress: Callable[[str, float], None] | None = None,
    ) -> None:
        self.n_dim = n_dim
        self.max_rung = max_rung
        self.operators = operators
        self.unit_mode = unit_mode
        self.n_sis_select = n_sis_select
        self.n_residual = n_residual
        self.n_models = n_models
        self.max_complexity = max_complexity
        self.metric = metric
        self.task_weighting = task_weighting
        self.min_abs = min_abs
        self.max_abs = max_abs
        self.n_jobs = n_jobs
        self.progress = progress

    def fit(self, X: Any, y: Any, units: Any = None, tasks: Any = None) -> SissoRegressor:
        """Fit models of dimension 1 to ``n_dim``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Primary features. DataFrame headers ``name (unit)`` give names and units; array
            columns are named ``x0, x1, ...`` and dimensionless.
        y : array-like of shape (n_samples,)
        units : list or dict, optional
            Units per column (overrides the dimensionless default; must agree with headers).
        tasks : array-like of shape (n_samples,), optional
            Task labels for multi-task SISSO.
        """
        from bigmax.analytics.sisso.screening import pearson_score

        self._validate_params()
        target_name = getattr(y, "name", None)
        X_arr, y_arr, names, unit_list = self._prepare(X, y, units, classify=False)
        check_target(y_arr)
        codes, labels = _codes(tasks, len(y_arr))
        n_min = min(np.bincount(codes)) if len(y_arr) else 0
        if n_min < self.n_dim + 2:
            raise SissoInputError(
                f"too few samples: {n_min} sample(s)"
                + ("" if labels == [None] else " in a task")
                + f", a {self.n_dim}-D model needs at least {self.n_dim + 2}"
            )
        check_table(X_arr, names, self.n_dim + 2, f"a {self.n_dim}-D model")
        if np.all(y_arr == y_arr[0]):
            raise SissoInputError("the target is constant; there is nothing to fit")

        fs = self._feature_space(X_arr, names, unit_list)
        settings = self._settings()
        task_arg = None if labels == [None] else tasks
        union_vals: list[np.ndarray] = []
        union_exprs: list = []
        self.models_ = []
        self.sis_subspaces_ = []
        residuals = y_arr[:, None]
        for dim in range(1, self.n_dim + 1):
            self._report(f"SIS {dim}D", 0.0)
            res = fs.screen(pearson_score(residuals, tasks=task_arg), self.n_sis_select,
                            exclude=tuple(union_exprs))
            self._report(f"SIS {dim}D", 1.0)
            new = list(res.expressions)
            self.sis_subspaces_.append([str(e) for e in new])
            if new:
                union_vals.append(np.asarray(res.values, dtype=np.float64))
                union_exprs.extend(new)
            if len(union_exprs) < dim:
                break
            D = np.hstack(union_vals)
            l0 = l0_search(
                D, y_arr, dim, n_models=max(self.n_models, self.n_residual),
                tasks=task_arg, metric=self.metric,
                complexity=[e.complexity for e in union_exprs],
                keys=[e.rpn for e in union_exprs], task_weighting=self.task_weighting,
                n_jobs=self.n_jobs,
                progress=lambda f, dim=dim: self._report(f"L0 {dim}D", f),
            )
            models = [
                SissoModel(
                    [union_exprs[j] for j in sub], l0.coefs[r], l0.intercepts[r],
                    feature_names=names, feature_units=unit_list,
                    tasks=None if labels == [None] else labels, rmse=l0.rmse[r],
                    maxae=l0.maxae[r], task_rmse=l0.task_rmse[r], settings=settings,
                    target=target_name, library=library_version(),
                )
                for r, sub in enumerate(l0.subsets)
            ]
            self.models_.append(models[: self.n_models])
            resid = np.column_stack([
                fit_subset(D[:, sub], y_arr, codes, len(labels))[2]
                for sub in l0.subsets[: self.n_residual]
            ])
            # an exact fit leaves nothing to screen against: higher dimensions cannot improve
            exact = np.sqrt((resid**2).mean(axis=0)) <= 1e-10 * np.std(y_arr)
            if exact.all():
                break
            residuals = resid[:, ~exact]
        if not self.models_:
            raise SissoInputError("the feature space is empty: no valid feature to screen")
        self.model_ = self.models_[-1][0]
        self.tasks_ = None if labels == [None] else labels
        if self.tasks_ is None:
            self.coef_ = self.model_.coefs[0].copy()
            self.intercept_ = float(self.model_.intercepts[0])
        else:
            self.coef_ = self.model_.coefs.copy()
            self.intercept_ = self.model_.intercepts.copy()
        return self

    def _model(self, n_dim: int | None) -> SissoModel:
        check_is_fitted(self, "model_")
        if n_dim is None:
            return self.model_
        if not 1 <= n_dim <= len(self.models_):
            raise ValueError(f"n_dim: expected 1..{len(self.models_)}, got {n_dim!r}")
        return self.models_[n_dim - 1][0]

    def predict(self, X: Any, tasks: Any = None, n_dim: int | None = None) -> np.ndarray:
        """Predictions of the best model (or the best ``n_dim``-D one)."""
        model = self._model(n_dim)
        X_arr = validate_data(self, X, reset=False, dtype=np.float64)
        return model.predict(X_arr, tasks=tasks)

    def score(self, X: Any, y: Any, sample_weight: Any = None, tasks: Any = None) -> float:
        """R² of ``predict(X, tasks)``."""
        return float(r2_score(y, self.predict(X, tasks=tasks), sample_weight=sample_weight))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


def _codes(tasks, n: int) -> tuple[np.ndarray, list]:
    if tasks is None:
        return np.zeros(n, dtype=np.int64), [None]
    arr = np.asarray(tasks)
    if arr.shape != (n,):
        raise SissoInputError(f"tasks: expected one label per sample ({n}), got {arr.shape}")
    labels, codes = np.unique(arr, return_inverse=True)
    return codes.astype(np.int64), [x.item() if isinstance(x, np.generic) else x for x in labels]
