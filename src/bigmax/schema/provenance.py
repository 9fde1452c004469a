"""Where an entry came from: its source files and the reader that parsed them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from bigmax.schema.base import Section


class SourceFile(Section):
    path: str = Field(description="Path inside the upload")
    sha256: str
    size: int = Field(ge=0, description="Bytes")


class Provenance(Section):
    files: list[SourceFile] = Field(default_factory=list)
    reader: str
    reader_version: str
    bigmax_version: str
    processed_at: datetime
