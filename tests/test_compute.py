"""Where dask work runs: the argument, then BIGMAX_DASK_SCHEDULER, then the caller's own."""

from __future__ import annotations

import pytest

from bigmax.compute import SchedulerError, resolve_scheduler


def test_argument_then_environment_then_local(monkeypatch):
    monkeypatch.delenv("BIGMAX_DASK_SCHEDULER", raising=False)
    assert resolve_scheduler() is None
    monkeypatch.setenv("BIGMAX_DASK_SCHEDULER", "processes")
    assert resolve_scheduler() == "processes"
    assert resolve_scheduler("threads") == "threads"
    client = object()
    assert resolve_scheduler(client) is client


def test_bad_name_is_one_clear_error(monkeypatch):
    monkeypatch.setenv("BIGMAX_DASK_SCHEDULER", "cluster-please")
    with pytest.raises(SchedulerError, match="'cluster-please'.*tcp://host:8786"):
        resolve_scheduler()
