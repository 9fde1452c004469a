"""The reader contract: how a file format plugs into ingest."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from bigmax.schema import Results

#: How many leading bytes the registry reads to match a file.
HEAD_BYTES = 4096


class ReaderError(ValueError):
    """Bad input. The message names the file (and line or field where known) and what was wanted."""


@dataclass
class Parsed:
    """One entry parsed from a mainfile; ``child_key`` tells frames or rows of one file apart."""

    child_key: str | None
    results: Results | None = None
    error: str | None = None
    #: Other files of the upload this entry was built from (paths relative to the upload root).
    related_files: list[str] = field(default_factory=list)


@runtime_checkable
class Reader(Protocol):
    """A reader turns one mainfile into entries.

    ``matches`` must be cheap: it gets the file's readable path and its first ``HEAD_BYTES``
    bytes. Most readers decide on the name and those bytes; a container format whose magic says
    little (HDF5, Parquet) may peek at its structure through the path.
    ``parse`` yields one ``Parsed`` per entry; a bad child may carry ``error`` instead of results,
    and a file that cannot be read at all raises ``ReaderError``.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    priority: ClassVar[int]  # higher is tried first

    def matches(self, path: str, head: bytes) -> bool: ...

    def parse(self, path: Path, root: Path, symprec: float) -> Iterator[Parsed]: ...
