"""Events to a dense histogram: the MPES binning engine.

``bin_events(source, axes, pipeline)`` streams chunks of events through one compiled numba pass
per chunk (transforms and bin update fused, see :mod:`._kernels`) into one accumulator per
worker thread. The accumulators live for the whole call and are summed once at the end, so the
extra memory is (threads + 1) histograms plus two chunk buffers, whatever the event count.

Range semantics
---------------
An :class:`Axis` has ``bins`` regular bins over ``range=(lo, hi)`` (edges
``numpy.linspace(lo, hi, bins + 1)``) or explicit, strictly increasing ``edges``. A value ``v``
falls in bin ``b`` when ``edges[b] <= v < edges[b + 1]``: every bin is half-open and the last
edge is excluded, so adjacent cubes tile without double counting. NaN never counts.

Regular bins are found by ``floor((v - lo) * bins / (hi - lo))``, and a value within rounding
distance of an edge is compared with the linspace edge itself, so every value lands where
``numpy.searchsorted`` on the edges puts it (sed's kernel uses the formula alone and can put
values that sit exactly on an edge one bin low). ``sed_compatible=True`` also closes the last
bin (``v == edges[-1]`` counts in it): ``numpy.histogramdd``'s rule, and sed's
``hist_mode="numpy"``; the result then equals ``numpy.histogramdd`` bit for bit. sed's own
``bin_dataframe`` also reads its ``ranges`` as the centres of the first and last bins:
:meth:`Axis.from_sed` makes the same axis.

Counts are uint32 and promoted to uint64 before any bin could overflow (a chunk adds at most its
length to any bin); weighted binning accumulates float64.

Scale-out: ``scheduler`` (or the ``BIGMAX_DASK_SCHEDULER`` environment variable) names a dask
scheduler: "threads", "processes", "synchronous", or a dask.distributed address. Each partition
then becomes one task returning its histogram, and the histograms are summed in a tree.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bigmax.techniques.mpes import _kernels
from bigmax.techniques.mpes.transforms import (
    DelayCalibration,
    EnergyCalibration,
    MomentumCalibration,
    Pipeline,
)

__all__ = [
    "Axis",
    "BinningError",
    "bin_events",
    "DEFAULT_CHUNK_EVENTS",
]

DEFAULT_CHUNK_EVENTS = 2**22
#: uint32 counts are promoted to uint64 before a bin could reach this (a test hook).
COUNT_LIMIT = 2**32
_SPLIT_EVERY = 8


class BinningError(ValueError):
    """Bad axes, columns or engine settings (the message names the axis or column)."""


# ---------------------------------------------------------------------------------------------
# axes


@dataclass(frozen=True)
class Axis:
    """One histogram axis over the column ``name``: regular ``bins`` over ``range`` or
    explicit ``edges`` (see the module docstring for the range semantics)."""

    name: str
    bins: int | None = None
    range: tuple[float, float] | None = None
    edges: tuple[float, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise BinningError(f"axis name must be a non-empty string, got {self.name!r}")
        who = f"axis {self.name!r}"
        if self.edges is not None:
            if self.bins is not None or self.range is not None:
                raise BinningError(f"{who}: give either edges or bins and range, not both")
            try:
                e = np.asarray(self.edges, dtype=np.float64)
            except (TypeError, ValueError):
                raise BinningError(f"{who}: edges must be numbers, got {self.edges!r}") from None
            if e.ndim != 1 or e.size < 2:
                raise BinningError(f"{who}: needs at least 2 edges, got {e.size}")
            if not np.isfinite(e).all():
                raise BinningError(f"{who}: edges must be finite")
            if not (np.diff(e) > 0).all():
                raise BinningError(f"{who}: edges must increase strictly")
            object.__setattr__(self, "edges", tuple(float(x) for x in e))
            return
        if self.bins is None or self.range is None:
            raise BinningError(f"{who}: give bins and range (lo, hi), or edges")
        if isinstance(self.bins, bool) or not isinstance(self.bins, (int, np.integer)):
            raise BinningError(f"{who}: bins must be an integer, got {self.bins!r}")
        if self.bins <= 0:
            raise BinningError(f"{who}: bins must be > 0, got {self.bins}")
        try:
            lo, hi = (float(v) for v in self.range)
        except (TypeError, ValueError):
            raise BinningError(f"{who}: range must be (lo, hi), got {self.range!r}") from None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise BinningError(f"{who}: range ({lo}, {hi}) must be finite")
        if not lo < hi:
            raise BinningError(f"{who}: range needs lo < hi, got ({lo}, {hi})")
        if (hi - lo) / self.bins <= 0 or not math.isfinite((hi - lo) / self.bins):
            raise BinningError(f"{who}: {self.bins} bins over ({lo}, {hi}) is impossible")
        e = np.linspace(lo, hi, int(self.bins) + 1)
        if not (np.diff(e) > 0).all():
            raise BinningError(f"{who}: {self.bins} bins over ({lo}, {hi}) are below precision")
        object.__setattr__(self, "bins", int(self.bins))
        object.__setattr__(self, "range", (lo, hi))

    @property
    def regular(self) -> bool:
        return self.edges is None

    @property
    def n_bins(self) -> int:
        return int(self.bins) if self.edges is None else len(self.edges) - 1

    def edges_array(self) -> np.ndarray:
        """Bin edges (numpy.linspace for regular axes, exactly as numpy.histogramdd)."""
        if self.edges is not None:
            return np.asarray(self.edges, dtype=np.float64)
        return np.linspace(self.range[0], self.range[1], self.bins + 1)

    def centres(self) -> np.ndarray:
        e = self.edges_array()
        return 0.5 * (e[:-1] + e[1:])

    @classmethod
    def parse(cls, spec: str) -> Axis:
        """``NAME:LO:HI:BINS`` (the CLI's --axis)."""
        parts = spec.split(":")
        if len(parts) != 4:
            raise BinningError(f"axis {spec!r}: expected NAME:LO:HI:BINS, e.g. X:0:2048:256")
        name, lo, hi, bins = parts
        try:
            return cls(name, int(bins), (float(lo), float(hi)))
        except ValueError as err:
            if isinstance(err, BinningError):
                raise
            raise BinningError(f"axis {spec!r}: LO and HI must be numbers, BINS an integer") \
                from None

    @classmethod
    def from_sed(cls, name: str, bins: int, range: tuple[float, float]) -> Axis:
        """sed's convention: ``range`` gives the centres of the first and last bins' lower
        half, i.e. sed shifts both ends down by half a bin before binning."""
        half = (float(range[1]) - float(range[0])) / int(bins) / 2.0
        return cls(name, int(bins), (float(range[0]) - half, float(range[1]) - half))

    def to_dict(self) -> dict[str, Any]:
        if self.edges is not None:
            return {"name": self.name, "edges": list(self.edges)}
        return {"name": self.name, "bins": self.bins, "range": list(self.range)}


def _as_axes(axes: Sequence[Axis | str | dict]) -> list[Axis]:
    out: list[Axis] = []
    for ax in axes:
        if isinstance(ax, Axis):
            out.append(ax)
        elif isinstance(ax, str):
            out.append(Axis.parse(ax))
        elif isinstance(ax, dict):
            try:
                out.append(Axis(**ax))
            except TypeError as err:
                raise BinningError(f"axis {ax!r}: {err}") from None
        else:
            raise BinningError(f"axis must be an Axis, 'NAME:LO:HI:BINS' or a dict, got {ax!r}")
    if not out:
        raise BinningError("give at least one axis")
    names = [a.name for a in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BinningError(f"axis {dup[0]!r} is given twice")
    return out


# ---------------------------------------------------------------------------------------------
# sources


@dataclass
class _MemChunk:
    data: dict[str, np.ndarray]
    file_index: int
    event_offset: int

    def __len__(self) -> int:
        return len(next(iter(self.data.values()))) if self.data else 0


class MemorySource:
    """Columns already in memory (a dict of equal-length arrays, or a DataFrame) as a source:
    one "file" (index 0), chunks and partitions are views."""

    def __init__(self, columns: dict[str, np.ndarray]):
        cols = {str(k): np.asarray(v) for k, v in columns.items()}
        lengths = {k: v.shape for k, v in cols.items()}
        n = {v.shape[0] if v.ndim == 1 else -1 for v in cols.values()}
        if len(n) > 1 or -1 in n:
            raise BinningError(f"event columns must be 1D and of equal length, got {lengths}")
        self.data = cols
        self.columns = {k: v.dtype for k, v in cols.items()}
        self.n_events = n.pop() if n else 0
        self.units: dict[str, str] = {}

    def iter_chunks(self, columns: Sequence[str], chunk_events: int) -> Iterator[_MemChunk]:
        for a in range(0, self.n_events, chunk_events):
            b = min(a + chunk_events, self.n_events)
            yield _MemChunk({c: self.data[c][a:b] for c in columns}, 0, a)

    def partitions(self, chunk_events: int) -> list[tuple[int, int]]:
        return [(a, min(a + chunk_events, self.n_events))
                for a in range(0, self.n_events, chunk_events)]

    def read_partition(self, desc: tuple[int, int], columns: Sequence[str]) -> _MemChunk:
        a, b = desc
        return _MemChunk({c: self.data[c][a:b] for c in columns}, 0, a)


def _as_source(source: Any) -> Any:
    if hasattr(source, "iter_chunks") and hasattr(source, "columns"):
        return source
    if isinstance(source, dict):
        return MemorySource(source)
    if hasattr(source, "to_dict") and hasattr(source, "columns"):  # a pandas DataFrame
        return MemorySource({c: source[c].to_numpy() for c in source.columns})
    raise BinningError(
        f"events must be an EventSource (bigmax.techniques.mpes.events.open_events), a dict of "
        f"arrays or a DataFrame, got {type(source).__name__}"
    )


# ---------------------------------------------------------------------------------------------
# accumulator


class Accumulator:
    """One flat histogram per thread. uint32 counts are promoted to uint64 before a chunk could
    overflow one; ``bound`` is a cheap upper bound of every bin (events given to one thread)."""

    def __init__(self, size: int, n_threads: int, weighted: bool, count_limit: int | None = None):
        self.limit = COUNT_LIMIT if count_limit is None else int(count_limit)
        dtype = np.float64 if weighted else np.uint32
        self.hist = np.zeros((n_threads, size), dtype=dtype)
        self.weighted = weighted
        self.bound = 0
        self.total = 0
        self.promoted = False

    def reserve(self, per_thread: int) -> None:
        """Make room for ``per_thread`` more events in every thread's histogram."""
        if self.weighted or self.hist.dtype == np.uint64:
            return
        if self.bound + per_thread >= self.limit:
            self.bound = int(self.hist.max()) if self.hist.size else 0
            if self.bound + per_thread >= self.limit:
                self.hist = self.hist.astype(np.uint64)
                self.promoted = True

    def added(self, per_thread: int, n_events: int) -> None:
        self.bound += per_thread
        self.total += n_events

    def result(self) -> np.ndarray:
        """The summed histogram; the per-thread ones are released."""
        if self.weighted:
            out = self.hist.sum(axis=0)
        elif self.hist.dtype == np.uint32 and self.total < self.limit:
            out = self.hist.sum(axis=0, dtype=np.uint32)
        else:
            out = self.hist.sum(axis=0, dtype=np.uint64)
        self.hist = None
        return out


# ---------------------------------------------------------------------------------------------
# the engine


def _n_threads(n_threads: int | None) -> int:
    if n_threads is None:
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # pragma: no cover - not Linux
            return max(1, os.cpu_count() or 1)
    if int(n_threads) < 1:
        raise BinningError(f"n_threads must be >= 1, got {n_threads}")
    return int(n_threads)


def _split(n: int, parts: int) -> list[tuple[int, int]]:
    step = -(-n // parts) if n else 0
    return [(a, min(a + step, n)) for a in range(0, n, step)] if n else []


def _stream(src, plan, weights_col, shape_size, n_threads, chunk_events, weighted, progress):
    kernel = _kernels.compile_plan(plan)
    acc = Accumulator(shape_size, n_threads, weighted)
    columns = list(plan.columns) + ([weights_col] if weights_col else [])
    columns = list(dict.fromkeys(columns))
    pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
    pending: list = []
    n_read = 0

    def submit(chunk) -> list:
        n = len(chunk)
        slices = _split(n, n_threads)
        per = max((b - a for a, b in slices), default=0)
        acc.reserve(per)
        keys = plan.jitter_keys(int(chunk.file_index))
        w = chunk.data[weights_col] if weights_col else None
        args = [(kernel, plan, chunk.data, w, a, b, int(chunk.event_offset), keys, acc.hist[t])
                for t, (a, b) in enumerate(slices)]
        acc.added(per, n)
        if pool is None:
            for arg in args:
                _kernels.run_kernel(*arg)
            return []
        return [pool.submit(_kernels.run_kernel, *arg) for arg in args]

    try:
        for chunk in src.iter_chunks(columns, chunk_events):
            for f in pending:  # the previous chunk was binned while this one was read
                f.result()
            pending = submit(chunk)
            n_read += len(chunk)
            if progress is not None:
                progress(len(chunk))
        for f in pending:
            f.result()
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return acc.result(), n_read, acc.promoted


def _partition_hist(reader, src, desc, columns, plan, weights_col, size, weighted, limit):
    """One dask task: the histogram of one partition, and an upper bound of its counts."""
    chunk = reader(desc, columns) if src is None else src.read_partition(desc, columns)
    kernel = _kernels.compile_plan(plan)
    n = len(chunk)
    dtype = np.float64 if weighted else (np.uint32 if n < limit else np.uint64)
    hist = np.zeros(size, dtype=dtype)
    w = chunk.data[weights_col] if weights_col else None
    _kernels.run_kernel(kernel, plan, chunk.data, w, 0, n, int(chunk.event_offset),
                        plan.jitter_keys(int(chunk.file_index)), hist)
    return hist, n, limit


def _sum_hists(*parts):
    """Tree-reduction node: sum (histogram, event bound) pairs, promoting uint32 in time."""
    limit = parts[0][2]
    total = sum(p[1] for p in parts)
    hists = [p[0] for p in parts]
    if hists[0].dtype.kind == "f":
        out = hists[0].copy()
    elif total >= limit or any(h.dtype == np.uint64 for h in hists):
        out = hists[0].astype(np.uint64)
    else:
        out = hists[0].copy()
    for h in hists[1:]:
        out += h.astype(out.dtype, copy=False)
    return out, total, limit


def _resolve_scheduler(scheduler: Any) -> Any:
    from bigmax.compute import SchedulerError, resolve_scheduler

    try:
        return resolve_scheduler(scheduler)
    except SchedulerError as err:
        raise BinningError(str(err)) from None


def _dask_bin(src, plan, weights_col, size, weighted, chunk_events, scheduler, progress):
    import dask

    columns = list(dict.fromkeys(list(plan.columns) + ([weights_col] if weights_col else [])))
    parts = src.partitions(chunk_events)
    if isinstance(src, MemorySource):
        reader, src_arg = None, dask.delayed(src, pure=True)
    else:
        from bigmax.techniques.mpes.events import read_partition

        reader, src_arg = read_partition, None
    limit = COUNT_LIMIT
    plan_d = dask.delayed(plan, pure=True)
    nodes = [
        dask.delayed(_partition_hist, pure=True)(reader, src_arg, desc, columns, plan_d,
                                                 weights_col, size, weighted, limit)
        for desc in parts
    ]
    if not nodes:
        dtype = np.float64 if weighted else np.uint32
        return np.zeros(size, dtype=dtype), 0
    while len(nodes) > 1:
        nodes = [dask.delayed(_sum_hists, pure=True)(*nodes[i:i + _SPLIT_EVERY])
                 for i in range(0, len(nodes), _SPLIT_EVERY)]
    final = nodes[0]
    if hasattr(scheduler, "compute") and hasattr(scheduler, "submit"):  # distributed Client
        result = scheduler.compute(final, sync=True)
    else:
        (result,) = dask.compute(final, scheduler=scheduler)
    hist, n = result[0], result[1]
    if not weighted and hist.dtype == np.uint64 and n < limit:
        hist = hist.astype(np.uint32)
    if progress is not None:
        progress(n)
    return hist, n


def _axis_units(pipeline: Pipeline | None, source_units: dict[str, str]) -> dict[str, str]:
    units = dict(source_units or {})
    for step in (pipeline.steps if pipeline is not None else ()):
        if isinstance(step, MomentumCalibration):
            units[step.kx_out] = units[step.ky_out] = "1/angstrom"
        elif isinstance(step, EnergyCalibration):
            units[step.out] = "eV"
        elif isinstance(step, DelayCalibration):
            units[step.out] = "ps"
    return units


def bin_events(
    source: Any,
    axes: Sequence[Axis | str | dict],
    pipeline: Pipeline | None = None,
    weights: str | np.ndarray | None = None,
    n_threads: int | None = None,
    scheduler: Any = None,
    *,
    sed_compatible: bool = False,
    chunk_events: int = DEFAULT_CHUNK_EVENTS,
    progress: Callable[[int], None] | None = None,
):
    """Histogram events over ``axes`` after the pipeline's transforms.

    Parameters
    ----------
    source : EventSource, dict of arrays or DataFrame
        The events; an EventSource streams from disk chunk by chunk.
    axes : sequence of Axis, "NAME:LO:HI:BINS" or dict
        One per histogram dimension, over raw or pipeline-made columns.
    pipeline : Pipeline, optional
        Transforms applied to every event before binning (fused into the kernel).
    weights : str or array, optional
        A column name (or, for in-memory events, an array) of per-event weights; the result is
        then float64 (normalisation histograms).
    n_threads : int, optional
        Worker threads of the local engine (default: all cores the process may use).
    scheduler : str or dask.distributed.Client, optional
        Use dask instead of the local engine (default: ``$BIGMAX_DASK_SCHEDULER``).
    sed_compatible : bool, default False
        Close the last bin, as numpy.histogramdd and sed do.
    chunk_events : int, default 2**22
        Events per chunk (and per dask partition).
    progress : callable, optional
        Called with the number of events of every chunk once it is read.

    Returns
    -------
    xarray.DataArray
        Counts (uint32, or uint64 when needed) or float64 sums of weights, with bin centres as
        coordinates and the pipeline JSON, axes and provenance in ``attrs``.
    """
    import xarray as xr

    axes_ = _as_axes(axes)
    if pipeline is not None and not isinstance(pipeline, Pipeline):
        raise BinningError(f"pipeline must be a Pipeline, got {type(pipeline).__name__}")
    if int(chunk_events) < 1:
        raise BinningError(f"chunk_events must be >= 1, got {chunk_events}")
    if isinstance(weights, np.ndarray) or (weights is not None and not isinstance(weights, str)):
        if not isinstance(source, dict):
            raise BinningError("weights as an array need in-memory events (a dict of arrays)")
        source = {**source, "__weights__": np.asarray(weights)}
        weights = "__weights__"
    src = _as_source(source)
    available = set(src.columns)
    produced = set()
    for step in (pipeline.steps if pipeline is not None else ()):
        produced.update(step.outputs())
    for ax in axes_:
        if ax.name not in available and ax.name not in produced:
            raise BinningError(
                f"axis {ax.name!r}: no column {ax.name!r} in the events "
                f"(available: {', '.join(sorted(available)) or 'none'}) and no pipeline step "
                "makes it"
            )
    if weights is not None and weights not in available:
        raise BinningError(
            f"weights column {weights!r} is not in the events "
            f"(available: {', '.join(sorted(available))})"
        )
    names = tuple(ax.name for ax in axes_)
    if pipeline is not None:
        pipeline.check_columns(available, names)
        raw = pipeline.required_columns(names)
    else:
        raw = names
    weighted = weights is not None
    plan = _kernels.make_plan(pipeline, axes_, sed_compatible, weighted, tuple(raw))
    shape = tuple(ax.n_bins for ax in axes_)
    size = int(np.prod(shape, dtype=np.int64))
    threads = _n_threads(n_threads)
    sched = _resolve_scheduler(scheduler)
    if sched is None:
        hist, n_read, _ = _stream(src, plan, weights, size, threads, int(chunk_events), weighted,
                                  progress)
    else:
        try:
            hist, n_read = _dask_bin(src, plan, weights, size, weighted, int(chunk_events),
                                     sched, progress)
        finally:
            if getattr(sched, "_bigmax_owned", False):
                sched.close()
    units = _axis_units(pipeline, getattr(src, "units", {}))
    coords = {}
    for ax in axes_:
        attrs = {"units": units[ax.name]} if ax.name in units else {}
        coords[ax.name] = xr.Variable((ax.name,), ax.centres(), attrs=attrs)
    from bigmax import __version__

    provenance = {
        "program": "bigmax.techniques.mpes.binning",
        "version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "n_events_read": int(n_read),
        "engine": "local" if sched is None else f"dask:{_sched_name(sched)}",
        "n_threads": threads if sched is None else None,
        "chunk_events": int(chunk_events),
        "files": [str(p) for p in getattr(src, "paths", [])],
    }
    attrs = {
        "long_name": "weighted counts" if weighted else "counts",
        "range_semantics": "numpy.histogramdd: [lo, hi) bins, last bin closed"
        if sed_compatible else "half-open [lo, hi) bins, last edge excluded",
        "axes": json.dumps([ax.to_dict() for ax in axes_]),
        "pipeline": (pipeline or Pipeline()).model_dump_json(),
        "weights": weights or "",
        "provenance": json.dumps(provenance),
    }
    return xr.DataArray(hist.reshape(shape), dims=names, coords=coords,
                        name="weights" if weighted else "counts", attrs=attrs)


def _sched_name(sched: Any) -> str:
    if isinstance(sched, str):
        return sched
    return type(sched).__name__
