"""Where dask work runs: the local engine by default, or a dask scheduler named by the caller.

``BIGMAX_DASK_SCHEDULER`` points the same code at a dask.distributed cluster without a change
to it; a pipeline's ``scheduler`` argument overrides it.
"""

from __future__ import annotations

import os
from typing import Any

ENV = "BIGMAX_DASK_SCHEDULER"
LOCAL = ("threads", "processes", "synchronous", "sync", "single-threaded")


class SchedulerError(ValueError):
    """A scheduler name that is neither a local dask scheduler nor an address."""


def resolve_scheduler(scheduler: Any = None) -> Any:
    """None (use the caller's own engine), a local dask scheduler name, or a Client.

    A Client made here from an address carries ``_bigmax_owned = True``: the caller closes it
    after the computation. A Client passed in is returned as it is.
    """
    if scheduler is None:
        scheduler = os.environ.get(ENV) or None
    if scheduler is None or scheduler == "":
        return None
    if not isinstance(scheduler, str):
        return scheduler  # a dask.distributed Client
    if scheduler in LOCAL:
        return scheduler
    if ":" in scheduler:
        from distributed import Client

        client = Client(scheduler, set_as_default=False)
        client._bigmax_owned = True
        return client
    raise SchedulerError(
        f"scheduler {scheduler!r}: expected 'threads', 'processes', 'synchronous' or a "
        "dask.distributed address such as tcp://host:8786"
    )
