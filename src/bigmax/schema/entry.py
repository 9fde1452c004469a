"""Uploads and entries: the units of storage, ownership and processing."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from bigmax.schema.base import Section
from bigmax.schema.provenance import Provenance
from bigmax.schema.results import Results


class EntryState(StrEnum):
    PROCESSING = "processing"
    SUCCESS = "success"
    FAILED = "failed"


class Author(Section):
    name: str
    affiliation: str | None = None
    orcid: str | None = None


class Upload(Section):
    upload_id: str
    name: str
    created_at: datetime
    authors: list[Author] = Field(default_factory=list)
    license: str = "CC-BY-4.0"
    comment: str | None = None
    references: list[str] = Field(default_factory=list, description="DOIs or URLs")
    published: bool = False


class Entry(Section):
    entry_id: str = Field(description="Stable hash of (upload id, mainfile, child key)")
    upload_id: str
    mainfile: str = Field(description="Path of the parsed file inside the upload")
    child_key: str | None = Field(default=None, description="Frame or row inside the mainfile")
    parser: str
    state: EntryState
    errors: list[str] = Field(default_factory=list)
    created_at: datetime
    processed_at: datetime | None = None
    authors: list[Author] = Field(default_factory=list)
    license: str = "CC-BY-4.0"
    comment: str | None = None
    references: list[str] = Field(default_factory=list)
    results: Results | None = None
    provenance: Provenance | None = None
