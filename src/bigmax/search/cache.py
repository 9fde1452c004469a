"""Counts cached between requests.

A count over 10^5 entries costs 10-150 ms; the page beside it costs about one. Clients page
through one query, and servers see the same popular queries again and again, so a count is
kept per (archive generation, who asks, what they ask). The generation (``archive_state``) goes
up with every ingest, publish, embargo change, share and delete, in the same transaction, so a
cached count is never served after a change any server process has committed. Embargoes that
end by the clock change no row: ``ttl`` bounds how long a count can lag behind one.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Hashable

#: Seconds a count is kept; BIGMAX_COUNT_CACHE_TTL overrides it, 0 turns the cache off.
DEFAULT_TTL = 60.0
TTL_ENV = "BIGMAX_COUNT_CACHE_TTL"


def ttl_from_env() -> float:
    raw = os.environ.get(TTL_ENV, "").strip()
    if not raw:
        return DEFAULT_TTL
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{TTL_ENV}: expected seconds (a number), got {raw!r}") from None
    if value < 0:
        raise ValueError(f"{TTL_ENV}: expected 0 or more seconds, got {raw!r}")
    return value


class CountCache:
    """Counts by key, each kept ``ttl`` seconds; bounded to ``size`` keys; thread-safe.

    Keys must hold the archive generation (see module docstring): the cache itself never
    checks the database.
    """

    def __init__(self, ttl: float | None = None, size: int = 8192) -> None:
        self.ttl = ttl_from_env() if ttl is None else ttl
        self.size = size
        self._data: dict[Hashable, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._pending: dict[Hashable, threading.Event] = {}

    def get(self, key: Hashable) -> int | None:
        if self.ttl <= 0:
            return None
        hit = self._data.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def compute(self, key: Hashable, count: Callable[[], int]) -> int:
        """The count for ``key``: cached, or ``count()``. Requests that miss the same key at
        once wait for the first one's count instead of each running it (a server that starts
        under load would otherwise run one count per waiting request)."""
        hit = self.get(key)
        if hit is not None:
            return hit
        with self._lock:
            running = self._pending.get(key)
            if running is None:
                running = self._pending[key] = threading.Event()
                mine = True
            else:
                mine = False
        if not mine:
            running.wait(timeout=120)
            hit = self.get(key)
            return hit if hit is not None else count()
        try:
            value = count()
            self.put(key, value)
            return value
        finally:
            with self._lock:
                self._pending.pop(key, None)
            running.set()

    def put(self, key: Hashable, value: int) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._data) >= self.size:
                now = time.monotonic()
                self._data = {k: v for k, v in self._data.items() if v[0] >= now}
                if len(self._data) >= self.size:
                    self._data.clear()
            self._data[key] = (time.monotonic() + self.ttl, value)


class WouldBlock(Exception):  # noqa: N818 (a signal, not an error)
    """Raised, before any slow statement runs, by a search asked for ``cheap_only``: it needs
    an uncached count, a sort of many rows, or aggregations. A server answers cheap requests
    in its event loop (no thread hop) and moves the others to a worker thread."""


#: A page is cheap when it walks an index, or sorts at most this many matches.
CHEAP_MATCHES = 2_000
