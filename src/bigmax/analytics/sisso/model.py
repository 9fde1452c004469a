"""Fitted SISSO models: descriptors as expressions, coefficients, errors and a JSON form.

A model is self-contained: its JSON file holds the descriptors as canonical RPN over named
primary features with their units, the per-task coefficients, the training errors, the library
version, the operator set, the unit mode and every setting of the search, so it can be
reloaded and evaluated on new data without the training data or the estimator.
"""

from __future__ import annotations

import json
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from bigmax.analytics.sisso.expression import Expression

__all__ = ["SissoModel", "SissoClassificationModel", "load_model", "ModelInputError"]

FORMAT = "bigmax-sisso-model"
FORMAT_VERSION = 1


class ModelInputError(ValueError):
    """Data given to a model does not have the model's primary features."""


def library_version() -> str:
    try:
        from importlib.metadata import version

        return version("bigmax")
    except Exception:  # not installed as a distribution (e.g. a source checkout)
        import bigmax

        return bigmax.__version__


_HEADER = re.compile(r"^\s*(.*?)\s*\(([^()]*)\)\s*$")


def header_name(column: Any) -> str:
    """The feature name of a ``name (unit)`` column header (the unit is not checked here)."""
    m = _HEADER.match(str(column))
    return m.group(1).strip() if m else str(column).strip()


def primary_matrix(X: Any, names: Sequence[str]) -> np.ndarray:
    """The primary features of X in the model's order.

    A DataFrame is matched by column name (``name (unit)`` headers are reduced to ``name``,
    other columns are ignored); an array must have exactly the model's columns, in order.
    """
    if hasattr(X, "columns") and hasattr(X, "iloc"):
        by_name: dict[str, Any] = {}
        for col in X.columns:
            by_name.setdefault(header_name(col), col)
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ModelInputError(f"the data have no column {missing[0]!r} (the model needs "
                                  f"{', '.join(names)})")
        cols = []
        for n in names:
            col = X[by_name[n]]
            try:
                cols.append(np.asarray(col, dtype=np.float64))
            except (TypeError, ValueError):
                raise ModelInputError(f"column {n!r} is not numeric") from None
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2 or A.shape[1] != len(names):
        raise ModelInputError(
            f"expected a matrix with {len(names)} columns ({', '.join(names)}), got shape "
            f"{A.shape}"
        )
    return A


def _task_rows(tasks, labels: list, n: int) -> np.ndarray:
    """Index of each sample's task in ``labels``."""
    if labels == [None]:
        if tasks is not None and len(set(np.asarray(tasks).tolist())) > 1:
            raise ModelInputError("this model was fitted without tasks; do not pass tasks")
        return np.zeros(n, dtype=np.int64)
    if tasks is None:
        raise ModelInputError(f"this is a multi-task model: pass tasks (one of {labels})")
    tasks = np.asarray(tasks)
    if tasks.shape != (n,):
        raise ModelInputError(f"tasks: expected one label per sample ({n}), got {tasks.shape}")
    lookup = {lab: i for i, lab in enumerate(labels)}
    out = np.empty(n, dtype=np.int64)
    for i, t in enumerate(tasks.tolist()):
        if t not in lookup:
            raise ModelInputError(f"unknown task {t!r}; the model knows {labels}")
        out[i] = lookup[t]
    return out


def _plain(x):
    return x.item() if isinstance(x, np.generic) else x


def _fmt(x: float) -> str:
    return f"{x:.8g}"


class _Base(ABC):
    kind = "base"

    def __init__(
        self,
        expressions: Sequence[Expression],
        *,
        feature_names: Sequence[str],
        feature_units: Sequence[Any] | None = None,
        settings: dict | None = None,
        target: str | None = None,
        library: str | None = None,
    ) -> None:
        self.expressions = list(expressions)
        self.feature_names = list(feature_names)
        self.feature_units = (
            [str(u) for u in feature_units] if feature_units is not None
            else [""] * len(self.feature_names)
        )
        self.settings = dict(settings or {})
        self.target = target
        self.library = library or library_version()

    @property
    def n_dim(self) -> int:
        return len(self.expressions)

    @property
    def descriptor_strings(self) -> list[str]:
        return [str(e) for e in self.expressions]

    def descriptors(self, X: Any) -> np.ndarray:
        """The descriptor values (n_samples, n_dim) of new data."""
        A = primary_matrix(X, self.feature_names)
        if not self.expressions:
            return np.zeros((len(A), 0))
        return np.column_stack([np.asarray(e.evaluate(A), dtype=np.float64)
                                for e in self.expressions])

    def _base_dict(self) -> dict:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "kind": self.kind,
            "library": {"name": "bigmax", "version": self.library},
            "features": [
                {"name": n, "unit": u}
                for n, u in zip(self.feature_names, self.feature_units, strict=True)
            ],
            "target": self.target,
            "descriptors": [
                {
                    "rpn": e.rpn,
                    "expression": str(e),
                    "latex": e.latex(),
                    "unit": str(e.unit),
                    "complexity": int(e.complexity),
                    "rung": int(e.rung),
                }
                for e in self.expressions
            ],
            "settings": self.settings,
        }

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **({"indent": 1} | kwargs))

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @staticmethod
    def _expressions_from(d: dict) -> tuple[list, list[str], list[str]]:
        from bigmax.analytics.sisso.expression import Expression
        from bigmax.analytics.sisso.units import parse_unit

        names = [f["name"] for f in d["features"]]
        unit_strs = [f.get("unit", "") for f in d["features"]]
        units = [parse_unit(u) for u in unit_strs]
        exprs = [Expression.from_rpn(x["rpn"], names, units) for x in d["descriptors"]]
        return exprs, names, unit_strs

    @abstractmethod
    def to_dict(self) -> dict:
        """The model as plain JSON data (``load_model`` reads it back)."""

    def __reduce__(self):
        # pickle through the JSON form: expressions travel as RPN and are rebuilt on load
        return (load_model, (self.to_dict(),))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self})"


class SissoModel(_Base):
    """A SISSO regression model ``y = c_t + Σ_i a_{t,i}·d_i(x)`` (one line per task t).

    Attributes
    ----------
    expressions : list of Expression, the descriptors d_i
    coefs : ndarray of shape (n_tasks, n_dim)
    intercepts : ndarray of shape (n_tasks,)
    tasks : list, the task labels (``[None]`` for single-task)
    rmse, maxae : float, training errors (task-averaged RMSE for multi-task)
    task_rmse : ndarray of shape (n_tasks,)
    """

    kind = "regression"

    def __init__(
        self,
        expressions: Sequence[Expression],
        coefs: Any,
        intercepts: Any,
        *,
        feature_names: Sequence[str],
        feature_units: Sequence[Any] | None = None,
        tasks: Sequence | None = None,
        rmse: float = math.nan,
        maxae: float = math.nan,
        task_rmse: Any = None,
        settings: dict | None = None,
        target: str | None = None,
        library: str | None = None,
    ) -> None:
        super().__init__(expressions, feature_names=feature_names, feature_units=feature_units,
                         settings=settings, target=target, library=library)
        self.coefs = np.atleast_2d(np.asarray(coefs, dtype=np.float64))
        self.intercepts = np.atleast_1d(np.asarray(intercepts, dtype=np.float64))
        self.tasks = [None] if tasks is None else [_plain(t) for t in tasks]
        if self.coefs.shape != (len(self.tasks), len(self.expressions)):
            raise ValueError(
                f"coefs: expected shape {(len(self.tasks), len(self.expressions))}, "
                f"got {self.coefs.shape}"
            )
        self.rmse = float(rmse)
        self.maxae = float(maxae)
        self.task_rmse = (
            np.full(len(self.tasks), self.rmse) if task_rmse is None
            else np.asarray(task_rmse, dtype=np.float64)
        )

    def predict(self, X: Any, tasks: Sequence | None = None) -> np.ndarray:
        """Predictions for new data (a DataFrame matched by column name, or an array)."""
        Dv = self.descriptors(X)
        rows = _task_rows(tasks, self.tasks, len(Dv))
        return self.intercepts[rows] + np.einsum("ij,ij->i", Dv, self.coefs[rows])

    def _task_index(self, task) -> int:
        if task is None:
            if len(self.tasks) > 1:
                raise ModelInputError(f"multi-task model: name the task (one of {self.tasks})")
            return 0
        if task not in self.tasks:
            raise ModelInputError(f"unknown task {task!r}; the model knows {self.tasks}")
        return self.tasks.index(task)

    def to_sympy(self, task=None):
        """The whole model as a sympy expression in the primary features."""
        import sympy

        t = self._task_index(task)
        out = sympy.Float(self.intercepts[t], 15)
        for a, e in zip(self.coefs[t], self.expressions, strict=True):
            out = out + sympy.Float(a, 15) * e.to_sympy()
        return out

    def latex(self, task=None, digits: int = 6) -> str:
        """LaTeX of the model, coefficients to ``digits`` significant digits."""
        t = self._task_index(task)
        parts = [f"{self.intercepts[t]:.{digits}g}"]
        for a, e in zip(self.coefs[t], self.expressions, strict=True):
            sign = "-" if a < 0 else "+"
            parts.append(f"{sign} {abs(a):.{digits}g}\\,\\left({e.latex()}\\right)")
        return " ".join(parts)

    def formula(self, task=None, digits: int = 8) -> str:
        """Readable text: ``c0 + a1*(d1) + a2*(d2)``."""
        t = self._task_index(task)
        parts = [f"{self.intercepts[t]:.{digits}g}"]
        for a, e in zip(self.coefs[t], self.expressions, strict=True):
            parts.append(f"{'-' if a < 0 else '+'} {abs(a):.{digits}g}*({e})")
        return " ".join(parts)

    def __str__(self) -> str:
        if len(self.tasks) == 1:
            return self.formula()
        return "; ".join(f"[{t}] {self.formula(t)}" for t in self.tasks)

    def to_dict(self) -> dict:
        d = self._base_dict()
        d["tasks"] = self.tasks
        d["coefficients"] = self.coefs.tolist()
        d["intercepts"] = self.intercepts.tolist()
        d["train"] = {"rmse": self.rmse, "maxae": self.maxae,
                      "task_rmse": self.task_rmse.tolist()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SissoModel:
        _check_format(d, cls.kind)
        exprs, names, units = cls._expressions_from(d)
        tasks = d.get("tasks", [None])
        return cls(
            exprs, d["coefficients"], d["intercepts"], feature_names=names,
            feature_units=units, tasks=None if tasks == [None] else tasks,
            rmse=d["train"]["rmse"], maxae=d["train"]["maxae"],
            task_rmse=d["train"].get("task_rmse"), settings=d.get("settings"),
            target=d.get("target"), library=d["library"]["version"],
        )


class SissoClassificationModel(_Base):
    """A SISSO classification model: descriptors with minimal convex-domain overlap, then a
    linear SVM (C=1000, as SISSO++) on the standardised descriptor values.

    Attributes
    ----------
    classes : list, the class labels
    n_overlap : int, training samples inside another class's convex hull
    omega : float, the normalised overlap (negative: separation)
    svm_coef, svm_intercept : one-vs-one linear decision functions
    mean, scale : the standardisation of the descriptors
    """

    kind = "classification"

    def __init__(
        self,
        expressions: Sequence[Expression],
        classes: Sequence,
        *,
        n_overlap: int,
        omega: float,
        svm_coef: Any,
        svm_intercept: Any,
        mean: Any,
        scale: Any,
        feature_names: Sequence[str],
        feature_units: Sequence[Any] | None = None,
        accuracy: float = math.nan,
        settings: dict | None = None,
        target: str | None = None,
        library: str | None = None,
    ) -> None:
        super().__init__(expressions, feature_names=feature_names, feature_units=feature_units,
                         settings=settings, target=target, library=library)
        self.classes = [_plain(c) for c in classes]
        self.n_overlap = int(n_overlap)
        self.omega = float(omega)
        self.svm_coef = np.atleast_2d(np.asarray(svm_coef, dtype=np.float64))
        self.svm_intercept = np.atleast_1d(np.asarray(svm_intercept, dtype=np.float64))
        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        self.accuracy = float(accuracy)

    def decision_function(self, X: Any) -> np.ndarray:
        """One-vs-one decision values (n_samples,) for two classes, else (n_samples, n_pairs);
        positive favours the first class of a pair (scikit-learn's SVC convention)."""
        Z = (self.descriptors(X) - self.mean) / self.scale
        dec = Z @ self.svm_coef.T + self.svm_intercept
        return dec[:, 0] if len(self.classes) == 2 else dec

    def predict(self, X: Any) -> np.ndarray:
        """Class labels by one-vs-one voting (ties: the first class), like libsvm."""
        dec = self.decision_function(X)
        classes = np.asarray(self.classes, dtype=object)
        if len(self.classes) == 1:
            return np.full(len(dec), classes[0])
        if len(self.classes) == 2:
            # scikit-learn's binary SVC: positive decision -> the second class
            return classes[(dec > 0).astype(int)]
        n_c = len(self.classes)
        votes = np.zeros((len(dec), n_c), dtype=np.int64)
        p = 0
        for i in range(n_c):
            for j in range(i + 1, n_c):
                win_i = dec[:, p] > 0
                votes[win_i, i] += 1
                votes[~win_i, j] += 1
                p += 1
        return classes[np.argmax(votes, axis=1)]

    def __str__(self) -> str:
        return f"[{', '.join(self.descriptor_strings)}] ({self.n_overlap} in overlap)"

    def to_dict(self) -> dict:
        d = self._base_dict()
        d["classes"] = self.classes
        d["train"] = {"n_overlap": self.n_overlap, "omega": self.omega,
                      "accuracy": self.accuracy}
        d["svm"] = {"C": 1000.0, "coef": self.svm_coef.tolist(),
                    "intercept": self.svm_intercept.tolist(),
                    "mean": self.mean.tolist(), "scale": self.scale.tolist()}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SissoClassificationModel:
        _check_format(d, cls.kind)
        exprs, names, units = cls._expressions_from(d)
        svm = d["svm"]
        return cls(
            exprs, d["classes"], n_overlap=d["train"]["n_overlap"],
            omega=d["train"]["omega"], svm_coef=svm["coef"], svm_intercept=svm["intercept"],
            mean=svm["mean"], scale=svm["scale"], feature_names=names, feature_units=units,
            accuracy=d["train"].get("accuracy", math.nan), settings=d.get("settings"),
            target=d.get("target"), library=d["library"]["version"],
        )


def _check_format(d: dict, kind: str) -> None:
    if not isinstance(d, dict) or d.get("format") != FORMAT:
        raise ModelInputError(f"not a {FORMAT} file (format field: {d.get('format')!r})"
                              if isinstance(d, dict) else f"not a {FORMAT} document")
    if d.get("format_version", 0) > FORMAT_VERSION:
        raise ModelInputError(
            f"model format version {d['format_version']} is newer than this library reads "
            f"({FORMAT_VERSION}); upgrade bigmax"
        )
    if d.get("kind") != kind:
        raise ModelInputError(f"expected a {kind} model, got {d.get('kind')!r}")


def load_model(source: str | Path | dict) -> SissoModel | SissoClassificationModel:
    """A model from its JSON file, JSON text or dict (either kind)."""
    if isinstance(source, dict):
        d = source
    else:
        text = str(source)
        if not text.lstrip().startswith("{"):
            path = Path(source)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as err:
                raise ModelInputError(f"{path}: {err.strerror or err}") from None
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise ModelInputError(f"not valid JSON ({err.msg} at line {err.lineno})") from None
    kind = d.get("kind") if isinstance(d, dict) else None
    if kind == "classification":
        return SissoClassificationModel.from_dict(d)
    return SissoModel.from_dict(d)
