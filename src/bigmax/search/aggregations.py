"""Aggregations over the entries a search matches: terms, histogram, min_max and statistics.

They drive the GUI's facets. Each runs one GROUP BY (or one aggregate) under the same WHERE as
the search, scope included, so private entries never show up in a count.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Connection, Engine, Integer, cast, desc, func, select
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.elements import True_

from bigmax.archive.db import EntryElementRow, EntryRow
from bigmax.schema.units import UnitError, convert, parse_quantity
from bigmax.search.errors import QueryError
from bigmax.search.fields import SearchField, get_field

_MAX_BUCKETS = 10_000


class _Agg(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: str


class TermsAggregation(_Agg):
    """The ``size`` most frequent values with their counts (ties by value)."""

    size: int = Field(10, ge=1, le=1000)


class HistogramAggregation(_Agg):
    """Counts in equal bins: a fixed ``interval`` (number in ``unit``, or '0.5 eV') or
    a number of ``buckets`` spanning min to max."""

    interval: float | str | None = None
    buckets: int | None = Field(None, ge=1, le=_MAX_BUCKETS)
    unit: str | None = None

    @model_validator(mode="after")
    def _one_of(self) -> HistogramAggregation:
        if (self.interval is None) == (self.buckets is None):
            raise ValueError("give exactly one of 'interval' and 'buckets'")
        return self


class MinMaxAggregation(_Agg):
    unit: str | None = None


class StatisticsAggregation(_Agg):
    unit: str | None = None


class AggregationRequest(BaseModel):
    """One named aggregation: exactly one of its kinds is set."""

    model_config = ConfigDict(extra="forbid")

    terms: TermsAggregation | None = None
    histogram: HistogramAggregation | None = None
    min_max: MinMaxAggregation | None = None
    statistics: StatisticsAggregation | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AggregationRequest:
        kinds = [k for k in ("terms", "histogram", "min_max", "statistics") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of terms, histogram, min_max, statistics")
        return self


def _field(name: str, where: str, numeric: bool = False) -> SearchField:
    f = get_field(name)
    if f is None:
        raise QueryError(f"{where}.quantity: unknown quantity {name!r}")
    if numeric and not f.numeric:
        raise QueryError(f"{where}.quantity: {name!r} is not numeric")
    return f


def _out_unit(f: SearchField, unit: str | None, where: str) -> tuple[str | None, float]:
    """(unit shown, factor from SI to it)."""
    if unit is None:
        return f.unit, 1.0
    if f.unit is None:
        raise QueryError(f"{where}.unit: {f.name!r} has no unit, so 'unit' cannot be given")
    try:
        return unit, convert(1.0, f.unit, unit)
    except UnitError as err:
        raise QueryError(f"{where}.unit: {err}") from None


def _where(stmt, where: ColumnElement[bool]):
    return stmt if isinstance(where, True_) else stmt.where(where)


def terms(conn: Connection, where: ColumnElement[bool], req: TermsAggregation, name: str):
    """Top values; elements are counted from the entry_elements index."""
    f = _field(req.quantity, name)
    if f.kind == "float" or f.kind == "datetime":
        raise QueryError(f"{name}.quantity: terms of {f.name!r} make no sense; use a histogram")
    n = func.count().label("n")
    if f.kind == "elements":
        value = EntryElementRow.element
        stmt = select(value, n)
        if not isinstance(where, True_):
            stmt = stmt.where(EntryElementRow.entry_pk.in_(select(EntryRow.pk).where(where)))
    else:
        value = f.column
        stmt = _where(select(value, n), where).where(value.is_not(None))
    stmt = stmt.group_by(value).order_by(desc("n"), value).limit(req.size)
    return {"data": [{"value": v, "count": c} for v, c in conn.execute(stmt)]}


def _min_max(conn: Connection, where: ColumnElement[bool], f: SearchField):
    """Two statements on purpose: SQLite reads min() or max() alone from the end of an index,
    but scans the whole table for both in one SELECT."""
    col = f.column
    lo = conn.execute(_where(select(func.min(col)), where)).scalar()
    hi = conn.execute(_where(select(func.max(col)), where)).scalar()
    return lo, hi


def histogram(conn: Connection, where: ColumnElement[bool], req: HistogramAggregation, name: str):
    """Counts per bin, empty bins included; bin values are lower edges in the output unit."""
    f = _field(req.quantity, name, numeric=True)
    unit, factor = _out_unit(f, req.unit, name)
    lo, hi = _min_max(conn, where, f)
    if req.interval is not None:
        if isinstance(req.interval, str):
            try:
                interval = parse_quantity(req.interval, f.unit or "dimensionless")
            except UnitError as err:
                raise QueryError(f"{name}.interval: {err}") from None
        else:
            interval = req.interval / factor
        if not math.isfinite(interval) or interval <= 0:
            raise QueryError(f"{name}.interval: expected a positive interval")
    result: dict[str, Any] = {"unit": unit, "data": []}
    if lo is None:
        result["interval"] = req.interval if req.interval is not None else None
        return result
    if req.interval is not None:
        base = math.floor(lo / interval) * interval
        n_bins = int(math.floor((hi - base) / interval)) + 1
        if n_bins > _MAX_BUCKETS:
            raise QueryError(
                f"{name}.interval: would make {n_bins} bins (at most {_MAX_BUCKETS}); "
                "give a larger interval"
            )
    else:
        n_bins = req.buckets
        base = lo
        interval = (hi - lo) / n_bins if hi > lo else 1.0
    counts = _bin_counts(conn, where, f.column, base, interval, n_bins)
    result["interval"] = interval * factor
    result["data"] = [
        {"value": (base + k * interval) * factor, "count": c} for k, c in enumerate(counts)
    ]
    return result


#: Up to this many bins are counted as index ranges, one scalar subquery per bin.
_RANGE_BINS = 200


def _bin_counts(conn, where, col, base: float, interval: float, n_bins: int) -> list[int]:
    """Count per bin k = [base + k*interval, base + (k+1)*interval); the last bin is closed.

    With few bins each count is an index range count (no per-row arithmetic and no sort),
    several times faster than GROUP BY floor(...) over a million rows.
    """
    if n_bins <= _RANGE_BINS:
        edges = [base + k * interval for k in range(n_bins + 1)]
        subs = []
        for k in range(n_bins):
            cond = col >= edges[k] if k else col.is_not(None)
            if k < n_bins - 1:
                cond = cond & (col < edges[k + 1])
            subs.append(_where(select(func.count()).where(cond), where).scalar_subquery())
        return [int(c) for c in conn.execute(select(*subs)).one()]
    shifted = (col - base) / interval
    if conn.dialect.name == "sqlite":  # values are >= base, so truncation is floor
        index = cast(shifted, Integer)
    else:
        index = func.floor(shifted)
    bucket = index.label("bucket")
    stmt = _where(select(bucket, func.count()), where).where(col.is_not(None)).group_by(bucket)
    counts = [0] * n_bins
    for k, c in conn.execute(stmt):
        counts[min(max(int(k), 0), n_bins - 1)] += c  # the max value lands in the last bin
    return counts


def min_max(conn: Connection, where: ColumnElement[bool], req: MinMaxAggregation, name: str):
    f = _field(req.quantity, name)
    if f.kind == "elements":
        raise QueryError(f"{name}.quantity: min_max of 'elements' makes no sense")
    unit, factor = _out_unit(f, req.unit, name)
    lo, hi = _min_max(conn, where, f)
    if f.numeric:
        lo = None if lo is None else lo * factor if f.unit else lo
        hi = None if hi is None else hi * factor if f.unit else hi
    elif f.kind == "datetime":
        lo = lo.isoformat() if lo is not None else None
        hi = hi.isoformat() if hi is not None else None
    return {"min": lo, "max": hi, "unit": unit}


def statistics(conn: Connection, where: ColumnElement[bool], req: StatisticsAggregation, name: str):
    f = _field(req.quantity, name, numeric=True)
    unit, factor = _out_unit(f, req.unit, name)
    col = f.column
    stmt = _where(select(func.min(col), func.max(col), func.avg(col), func.count(col)), where)
    lo, hi, mean, count = conn.execute(stmt).one()

    def scaled(v):
        return None if v is None else float(v) * factor if f.unit else v

    return {
        "min": scaled(lo),
        "max": scaled(hi),
        "mean": None if mean is None else float(mean) * factor,
        "count": count,
        "unit": unit,
    }


_RUNNERS = {
    "terms": terms,
    "histogram": histogram,
    "min_max": min_max,
    "statistics": statistics,
}


def run_aggregations(
    conn: Connection,
    where: ColumnElement[bool],
    aggregations: dict[str, AggregationRequest],
    *,
    engine: Engine | None = None,
) -> dict[str, dict[str, Any]]:
    """Every requested aggregation, keyed by its name.

    Given an ``engine``, the aggregations run side by side on their own connections (the
    drivers release the GIL while a query runs), so a facet panel costs about its slowest
    aggregation rather than their sum.
    """
    jobs = []
    for name, req in aggregations.items():
        for kind, runner in _RUNNERS.items():
            spec = getattr(req, kind)
            if spec is not None:
                jobs.append((name, kind, runner, spec))
    workers = min(len(jobs), os.cpu_count() or 1)
    if engine is None or workers < 2:
        return {
            name: {kind: runner(conn, where, spec, f"aggregations.{name}.{kind}")}
            for name, kind, runner, spec in jobs
        }

    def run(job):
        name, kind, runner, spec = job
        with engine.connect() as own:
            return runner(own, where, spec, f"aggregations.{name}.{kind}")

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(run, jobs))
    return {name: {kind: res} for (name, kind, _, _), res in zip(jobs, results, strict=True)}
