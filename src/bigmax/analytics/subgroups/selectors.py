"""Selectors (thresholds, intervals, equalities) and rules (their conjunctions).

A selector is one condition on one feature. Cut points sit halfway between two neighbouring
distinct data values, so ``x <= c`` and ``x >= c`` split the data in two and no sample sits on a
cut: the rule's printed value is a boundary, not a data point.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "Rule",
    "Selector",
    "SubgroupInputError",
    "cut_points",
    "make_selectors",
    "split_unit",
]


class SubgroupInputError(ValueError):
    """Bad input to subgroup discovery; the message names the column or parameter."""


_UNIT = re.compile(r"^\s*(.*?)\s*\(([^()]*)\)\s*$")


def split_unit(label: object) -> tuple[str, str | None]:
    """``"r_p_A (AA)"`` -> ``("r_p_A", "AA")``; a label without ``(unit)`` has no unit."""
    text = str(label).strip()
    match = _UNIT.match(text)
    if match and match.group(1):
        unit = match.group(2).strip()
        return match.group(1), unit or None
    return text, None


def _fmt(value: float, digits: int = 3) -> str:
    text = f"{value:.{digits}g}"
    return "0" if text == "-0" else text


@dataclass(frozen=True)
class Selector:
    """One condition: ``name <= value``, ``name >= value``, ``lo <= name <= hi`` or ``name == v``.

    ``column`` is the label in the data the rule was fitted on and ``index`` its position, so a
    rule evaluates on a DataFrame (by label) or an ndarray (by position).
    """

    name: str
    op: str
    value: float | str | tuple[float, float]
    column: object = None
    index: int = -1
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.op not in ("<=", ">=", "==", "in"):
            raise SubgroupInputError(f"selector on {self.name!r}: unknown operator {self.op!r}")

    def covers(self, values: np.ndarray) -> np.ndarray:
        """Which samples the condition holds for (NaN never does)."""
        if self.op == "==":
            return np.asarray(pd.Series(values).astype(object) == self.value, dtype=bool)
        v = np.asarray(values, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            if self.op == "<=":
                return v <= self.value
            if self.op == ">=":
                return v >= self.value
            lo, hi = self.value  # type: ignore[misc]
            return (v >= lo) & (v <= hi)

    def __str__(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.op == "==":
            return f"{self.name} == {self.value!r}"
        if self.op == "in":
            lo, hi = self.value  # type: ignore[misc]
            return f"{_fmt(lo)}{unit} <= {self.name} <= {_fmt(hi)}{unit}"
        return f"{self.name} {self.op} {_fmt(float(self.value))}{unit}"  # type: ignore[arg-type]

    def to_dict(self) -> dict:
        value = list(self.value) if isinstance(self.value, tuple) else self.value
        if isinstance(value, np.generic):
            value = value.item()
        return {"feature": self.name, "column": str(self.column), "op": self.op, "value": value,
                "unit": self.unit}


@dataclass(frozen=True)
class Rule:
    """A conjunction of selectors; ``str(rule)`` reads ``r_p_A <= 0.9 AA AND EA_B >= -3 eV``."""

    selectors: tuple[Selector, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.selectors)

    def __iter__(self):
        return iter(self.selectors)

    def __str__(self) -> str:
        return " AND ".join(str(s) for s in self.selectors) if self.selectors else "(all)"

    def covers(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Membership of each row of ``X`` (a DataFrame by label, an ndarray by position)."""
        n = len(X)
        mask = np.ones(n, dtype=bool)
        for sel in self.selectors:
            if isinstance(X, pd.DataFrame):
                col = sel.column if sel.column in X.columns else _find_column(X, sel)
                values = X[col].to_numpy()
            else:
                arr = np.asarray(X)
                if arr.ndim != 2 or sel.index >= arr.shape[1]:
                    raise SubgroupInputError(
                        f"X has {arr.shape[1] if arr.ndim == 2 else 0} columns; the rule needs "
                        f"column {sel.index} ({sel.name!r})"
                    )
                values = arr[:, sel.index]
            mask &= sel.covers(values)
        return mask

    def to_dict(self) -> dict:
        return {"rule": str(self), "selectors": [s.to_dict() for s in self.selectors]}


def _find_column(X: pd.DataFrame, sel: Selector) -> object:
    for col in X.columns:
        if split_unit(col)[0] == sel.name:
            return col
    raise SubgroupInputError(f"X has no column {sel.name!r} (the rule needs it)")


def cut_points(
    values: np.ndarray, n_cuts: int, method: str = "quantiles", max_iter: int = 100
) -> np.ndarray:
    """Up to ``n_cuts`` cut points between distinct values, from quantiles or 1-D k-means.

    Quantile cuts sit below the value at sorted position ``i * n // (n_cuts + 1)``, as in the
    equal-frequency bins of pysubgroup; k-means cuts sit in the gap between neighbouring
    clusters (Lloyd's algorithm from quantile starts, so it needs no random state).
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    v = v[np.isfinite(v)]
    uniq = np.unique(v)
    if len(uniq) < 2 or n_cuts < 1:
        return np.empty(0)
    mids = (uniq[1:] + uniq[:-1]) / 2
    if len(uniq) <= n_cuts + 1:
        return mids
    if method == "quantiles":
        pos = np.arange(1, n_cuts + 1) * len(v) // (n_cuts + 1)
        upper = np.searchsorted(uniq, v[pos])  # index of the value in uniq
        upper = upper[upper > 0]
        return mids[np.unique(upper) - 1]
    if method == "kmeans":
        return mids[_kmeans_gaps(v, uniq, n_cuts + 1, max_iter)]
    raise SubgroupInputError(f"cut_points must be 'quantiles' or 'kmeans', not {method!r}")


def _kmeans_gaps(v: np.ndarray, uniq: np.ndarray, k: int, max_iter: int) -> np.ndarray:
    """Indices into the gaps between ``uniq`` values where 1-D k-means puts its boundaries."""
    csum = np.concatenate([[0.0], np.cumsum(v)])
    centres = np.array([np.mean(part) for part in np.array_split(v, k)])
    bounds = np.empty(0, dtype=np.int64)
    for _ in range(max_iter):
        centres = np.unique(centres)
        edges = (centres[1:] + centres[:-1]) / 2
        new_bounds = np.searchsorted(v, edges, side="right")
        if np.array_equal(new_bounds, bounds):
            break
        bounds = new_bounds
        starts = np.concatenate([[0], bounds])
        stops = np.concatenate([bounds, [len(v)]])
        keep = stops > starts
        centres = (csum[stops[keep]] - csum[starts[keep]]) / (stops[keep] - starts[keep])
    gaps = np.searchsorted(uniq, v[np.clip(bounds, 1, len(v) - 1)]) - 1
    return np.unique(gaps[(gaps >= 0) & (bounds > 0) & (bounds < len(v))])


def make_selectors(
    X: pd.DataFrame,
    n_cuts: int = 9,
    method: str = "quantiles",
    intervals: bool = False,
    max_categories: int = 50,
) -> tuple[list[Selector], np.ndarray]:
    """All selectors on ``X`` and their covers (bool, n_samples x n_selectors).

    Numeric columns give ``<=`` and ``>=`` at each cut point (and, with ``intervals``, the
    intervals between neighbouring cuts); other columns give one ``==`` per category. Constant
    columns, and text columns with a distinct value on (nearly) every row, are skipped with a
    warning that names them.
    """
    sels: list[Selector] = []
    covers: list[np.ndarray] = []
    skipped_const: list[str] = []
    skipped_id: list[str] = []
    for j, col in enumerate(X.columns):
        name, unit = split_unit(col)
        s = X[col]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            cats = pd.unique(s.astype(object))
            if len(cats) < 2:
                skipped_const.append(name)
                continue
            if len(cats) > max_categories and len(cats) > 0.5 * len(s):
                skipped_id.append(name)
                continue
            for cat in sorted(cats, key=str):
                value = cat.item() if isinstance(cat, np.generic) else cat
                sel = Selector(name, "==", value, column=col, index=j)
                sels.append(sel)
                covers.append(sel.covers(s.to_numpy()))
            continue
        values = s.to_numpy(dtype=np.float64)
        cuts = cut_points(values, n_cuts, method)
        if len(cuts) == 0:
            skipped_const.append(name)
            continue
        for c in cuts:
            for op in ("<=", ">="):
                sel = Selector(name, op, float(c), column=col, index=j, unit=unit)
                sels.append(sel)
                covers.append(sel.covers(values))
        if intervals:
            for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
                sel = Selector(name, "in", (float(lo), float(hi)), column=col, index=j, unit=unit)
                sels.append(sel)
                covers.append(sel.covers(values))
    if skipped_const:
        warnings.warn(
            f"skipped constant feature(s): {', '.join(skipped_const)}", UserWarning, stacklevel=3
        )
    if skipped_id:
        warnings.warn(
            f"skipped identifier-like feature(s) with a distinct value per row: "
            f"{', '.join(skipped_id)}",
            UserWarning,
            stacklevel=3,
        )
    if not sels:
        raise SubgroupInputError("no usable feature: every column is constant or an identifier")
    return sels, np.array(covers, dtype=bool).T.reshape(len(X), len(sels))

