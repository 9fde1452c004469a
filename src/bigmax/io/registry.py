"""The reader registry: which reader, if any, turns a file into entries.

Built-in readers and plugins share one path, the ``bigmax.readers`` entry-point group (our own
pyproject declares the built-ins there too). A plugin that fails to import or does not fulfil
the ``Reader`` protocol is skipped with a ``RuntimeWarning``: one broken package must never stop
ingest. If the package metadata is missing (a source checkout that was never installed), the
built-ins are still registered directly.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from functools import lru_cache
from importlib.metadata import entry_points

from bigmax.io.base import Reader

GROUP = "bigmax.readers"


def _builtin() -> list[Reader]:
    from bigmax.io.structures import ASEReader
    from bigmax.io.tables import PropertyTableReader

    return [ASEReader(), PropertyTableReader()]


def _instantiate(name: str, obj: object) -> Reader:
    reader = obj() if isinstance(obj, type) else obj
    if not isinstance(reader, Reader):
        raise TypeError(f"{obj!r} does not implement the Reader protocol (name, version, ...)")
    for attr, kind in (("name", str), ("version", str), ("priority", int)):
        if not isinstance(getattr(reader, attr, None), kind):
            raise TypeError(f"{attr!r} must be a {kind.__name__}")
    return reader


class ReaderRegistry:
    """Readers ordered by descending ``priority``; ties keep registration order."""

    def __init__(self, readers: Iterable[Reader] = ()) -> None:
        self._readers: list[Reader] = []
        for reader in readers:
            self.add(reader)

    @property
    def readers(self) -> list[Reader]:
        """The registered readers, highest priority first (a copy)."""
        return list(self._readers)

    def add(self, reader: Reader) -> None:
        """Register ``reader``; a second reader with the same name replaces the first."""
        self._readers = [r for r in self._readers if r.name != reader.name]
        self._readers.append(reader)
        self._readers.sort(key=lambda r: -r.priority)

    def get(self, name: str) -> Reader:
        """The reader called ``name``; ``KeyError`` lists the known names."""
        for reader in self._readers:
            if reader.name == name:
                return reader
        known = ", ".join(r.name for r in self._readers) or "none"
        raise KeyError(f"no reader named {name!r}; known readers: {known}")

    def match(self, path: str, head: bytes) -> Reader | None:
        """The first reader (by priority) whose ``matches`` accepts the file, else None.

        A reader whose ``matches`` raises is treated as not matching, with a warning.
        """
        for reader in self._readers:
            try:
                if reader.matches(path, head):
                    return reader
            except Exception as err:  # a plugin's bug must not stop matching
                warnings.warn(
                    f"reader {reader.name!r} failed to match {path!r}: {err}",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return None


def load_registry(group: str = GROUP) -> ReaderRegistry:
    """A fresh registry of the built-ins plus every loadable plugin in entry-point ``group``."""
    registry = ReaderRegistry()
    try:
        builtin = _builtin()
    except ImportError as err:  # pragma: no cover - only in a broken install
        warnings.warn(f"built-in readers unavailable: {err}", RuntimeWarning, stacklevel=2)
        builtin = []
    for reader in builtin:
        registry.add(reader)
    builtin_names = {r.name: type(r) for r in builtin}
    for ep in entry_points(group=group):
        try:
            reader = _instantiate(ep.name, ep.load())
        except Exception as err:
            warnings.warn(
                f"reader plugin {ep.name!r} ({ep.value}) failed to load and is skipped: {err}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        if builtin_names.get(reader.name) is type(reader):
            continue  # our own pyproject entry for a built-in
        registry.add(reader)
    return registry


@lru_cache(maxsize=1)
def get_registry() -> ReaderRegistry:
    """The process-wide registry, built once (``get_registry.cache_clear()`` to reload)."""
    return load_registry()
