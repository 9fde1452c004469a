"""Feature tables for SISSO: CSV/Parquet files with ``name (unit)`` headers, and search results.

A feature table is what :class:`SissoRegressor` and :class:`SissoClassifier` take: one row per
sample, one column per primary feature, the unit in the header (``r_s_A (AA)``), plus a target
column and optionally a task column and a column of sample labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bigmax.analytics.sisso.model import header_name

__all__ = ["FeatureTable", "TableError", "read_feature_table", "search_results_to_table"]


class TableError(ValueError):
    """A feature table that cannot be used; the message names the file and column."""


@dataclass
class FeatureTable:
    """Primary features (with their ``name (unit)`` headers), target, tasks and labels.

    Attributes
    ----------
    X : DataFrame of shape (n_samples, n_features), numeric, original headers
    y : Series or None, the target
    names : list of str, feature names without units
    units : list of Unit
    tasks : ndarray or None
    labels : list of str, one per sample (the first text column, or the row number)
    target : str or None, the target's name
    target_unit : str, the target's unit as written in its header ('' if none)
    """

    X: pd.DataFrame
    y: pd.Series | None
    names: list[str]
    units: list[Any]
    tasks: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)
    target: str | None = None
    target_unit: str = ""

    def as_arrays(self) -> tuple[np.ndarray, list[str], list[Any], np.ndarray | None]:
        """(X, names, units, y) as float arrays."""
        y = None if self.y is None else self.y.to_numpy(dtype=np.float64)
        return self.X.to_numpy(dtype=np.float64), self.names, self.units, y


def _find_column(frame: pd.DataFrame, name: str, what: str, source: str) -> Any:
    name = name.strip()
    for col in frame.columns:
        if str(col).strip() == name:
            return col
    matches = [c for c in frame.columns if header_name(c) == header_name(name)]
    if len(matches) == 1:
        return matches[0]
    choices = ", ".join(repr(header_name(c)) for c in frame.columns)
    raise TableError(f"{source}: no {what} column {name!r}; the columns are {choices}")


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise TableError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        frame = pd.read_csv(path, sep=None, engine="python", skipinitialspace=True)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise TableError(f"{path}: cannot read the table ({err})") from None
    if frame.empty:
        raise TableError(f"{path}: the table has no rows")
    return frame


def read_feature_table(
    source: str | Path | pd.DataFrame,
    target: str | None = None,
    *,
    tasks: str | None = None,
    exclude: Sequence[str] = (),
    classify: bool = False,
) -> FeatureTable:
    """Read a CSV/Parquet file (or a DataFrame) with ``name (unit)`` headers.

    Parameters
    ----------
    source : path or DataFrame
    target : str, optional
        The target column, by its full header or just its name (``"E_RS - E_ZB"``).
    tasks : str, optional
        A column of task labels for multi-task SISSO.
    exclude : list of str
        Columns to leave out.
    classify : bool, default=False
        Keep the target as labels instead of converting it to float.

    A first column of text (material names) becomes the sample labels; any other
    non-numeric column, a missing value or a non-finite number is an error naming the column.
    """
    if isinstance(source, pd.DataFrame):
        frame, where = source.copy(), "the table"
    else:
        path = Path(source)
        frame, where = _read(path), str(path)
    frame.columns = [str(c).strip() for c in frame.columns]
    labels = [str(i) for i in range(len(frame))]
    first = frame.columns[0]
    text = not pd.api.types.is_numeric_dtype(frame[first])
    if text and not pd.to_numeric(frame[first], errors="coerce").notna().all():
        labels = frame[first].astype(str).tolist()
        frame = frame.drop(columns=[first])
    y = None
    tgt_name = None
    tgt_unit = ""
    if target is not None:
        col = _find_column(frame, target, "target", where)
        y = frame.pop(col)
        tgt_name = header_name(col)
        tgt_unit = str(col)[len(tgt_name):].strip().removeprefix("(").removesuffix(")").strip()
        if y.isna().any():
            i = int(np.flatnonzero(y.isna().to_numpy())[0])
            raise TableError(f"{where}: target {tgt_name!r} has a missing value (row {labels[i]})")
        if not classify:
            y = _numeric(y, tgt_name, where, labels)
        y.name = tgt_name
    task_arr = None
    if tasks is not None:
        col = _find_column(frame, tasks, "task", where)
        task_arr = frame.pop(col).astype(str).to_numpy()
    for name in exclude:
        frame = frame.drop(columns=[_find_column(frame, name, "excluded", where)])
    if frame.shape[1] == 0:
        raise TableError(f"{where}: no feature columns left")
    for col in frame.columns:
        frame[col] = _numeric(frame[col], header_name(col), where, labels)
    from bigmax.analytics.sisso.units import parse_header

    names, units = [], []
    for col in frame.columns:
        try:
            n, u = parse_header(col)
        except ValueError as err:
            raise TableError(f"{where}: {err}") from None
        names.append(n)
        units.append(u)
    return FeatureTable(frame, y, names, units, task_arr, labels, tgt_name, tgt_unit)


def _numeric(col: pd.Series, name: str, where: str, labels: list[str]) -> pd.Series:
    vals = pd.to_numeric(col, errors="coerce")
    bad = vals.isna() & col.notna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise TableError(
            f"{where}: column {name!r} is not numeric (row {labels[i]}: {col.iloc[i]!r})"
        )
    missing = vals.isna().to_numpy() | ~np.isfinite(vals.to_numpy(dtype=np.float64))
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise TableError(f"{where}: column {name!r} has a missing or non-finite value "
                         f"(row {labels[i]})")
    return vals.astype(np.float64)


def search_results_to_table(
    rows: Iterable[Mapping[str, Any]],
    features: Sequence[str],
    target: str | None = None,
    *,
    units: Mapping[str, str | None] | None = None,
    label: str = "formula_reduced",
    missing: str = "drop",
) -> pd.DataFrame:
    """Turn archive search results into a SISSO feature table.

    Parameters
    ----------
    rows : iterable of dict
        Entries as ``bigmax.search.search(...).data`` returns them: one flat dict of field
        name to value per entry (values in SI units). Nested fields may be given with dots
        (``"results.band_gap"``).
    features : list of str
        The fields to use as primary features.
    target : str, optional
        The field to predict.
    units : dict, optional
        ``{field: unit}``; fields without one are dimensionless. The archive stores SI, so the
        unit of a search field is ``bigmax.search.fields`` ``FIELDS[name].unit`` (e.g. ``"J"``);
        the caller passes it, this module does not import the archive.
    label : str, default="formula_reduced"
        The field that names each row (the index of the table); the row number if absent.
    missing : {"drop", "error"}, default="drop"
        What to do with an entry that lacks a feature or the target.

    Returns
    -------
    DataFrame
        Columns ``"name (unit)"`` for the features, then the target; ready for
        ``SissoRegressor().fit(table.drop(columns=[target_header]), table[target_header])``
        or for ``read_feature_table(table, target)``.

    Examples
    --------
    >>> rows = [{"formula_reduced": "NaCl", "band_gap": 8.0e-19, "volume": 4.5e-29},
    ...         {"formula_reduced": "KCl", "band_gap": 7.5e-19, "volume": 6.2e-29}]
    >>> search_results_to_table(rows, ["volume"], "band_gap",
    ...                         units={"volume": "m^3", "band_gap": "J"}).columns.tolist()
    ['volume (m^3)', 'band_gap (J)']
    """
    if missing not in ("drop", "error"):
        raise TableError(f"missing: expected 'drop' or 'error', got {missing!r}")
    units = dict(units or {})
    fields = list(features) + ([target] if target else [])
    if len(set(fields)) != len(fields):
        raise TableError("a field is listed twice among the features and the target")
    records, index = [], []
    for i, row in enumerate(rows):
        values = []
        for f in fields:
            v = _get(row, f)
            if v is None or (isinstance(v, float) and not np.isfinite(v)):
                if missing == "error":
                    raise TableError(f"entry {i} has no value for {f!r}")
                break
            if isinstance(v, bool) or not isinstance(v, int | float | np.number):
                raise TableError(f"field {f!r} is not numeric (entry {i}: {v!r})")
            values.append(float(v))
        else:
            records.append(values)
            lab = _get(row, label)
            index.append(str(lab) if lab is not None else str(i))
    headers = [_header(f, units.get(f)) for f in fields]
    table = pd.DataFrame(records, columns=headers, index=pd.Index(index, name=label))
    if table.empty:
        raise TableError("no entry has a value for every feature"
                         + (" and the target" if target else ""))
    return table


def _get(row: Mapping[str, Any], dotted: str) -> Any:
    if dotted in row:
        return row[dotted]
    cur: Any = row
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _header(name: str, unit: str | None) -> str:
    if not unit:
        return name
    return f"{name} ({str(unit).replace('**', '^')})"
