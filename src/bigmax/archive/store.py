"""The raw-file store: a local folder by default, any fsspec URL otherwise.

Files are written under ``<url>/<upload_id>/raw/<path>``. Local writes go to a temporary name and
are renamed into place, so a killed process never leaves a half-written file under a real name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import fsspec

from bigmax.archive.paths import safe_relpath

CHUNK = 1 << 20


class FileStore:
    def __init__(self, url: str):
        self.url = url
        self.fs, self.root = fsspec.core.url_to_fs(url)
        self.local = "file" in (
            self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        )

    def _path(self, upload_id: str, relpath: str) -> str:
        return f"{self.root.rstrip('/')}/{upload_id}/raw/{safe_relpath(relpath)}"

    def put(self, upload_id: str, relpath: str, source: Path) -> tuple[str, int]:
        """Copy ``source`` in; returns its (sha256, size)."""
        target = self._path(upload_id, relpath)
        digest = hashlib.sha256()
        size = 0
        if self.local:
            Path(target).parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=Path(target).parent, prefix=".part-")
            try:
                with open(source, "rb") as src, os.fdopen(fd, "wb") as dst:
                    while block := src.read(CHUNK):
                        digest.update(block)
                        size += len(block)
                        dst.write(block)
                os.replace(tmp, target)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        else:
            with open(source, "rb") as src:
                while block := src.read(CHUNK):
                    digest.update(block)
                    size += len(block)
            self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
            self.fs.put_file(str(source), target)
        return digest.hexdigest(), size

    def open(self, upload_id: str, relpath: str) -> BinaryIO:
        return self.fs.open(self._path(upload_id, relpath), "rb")

    def exists(self, upload_id: str, relpath: str) -> bool:
        return self.fs.exists(self._path(upload_id, relpath))

    def clean_partial(self, upload_id: str) -> None:
        """Remove temporary files a killed run left behind."""
        if self.local:
            for tmp in Path(self.root, upload_id).rglob(".part-*"):
                tmp.unlink(missing_ok=True)

    def remove_upload(self, upload_id: str) -> None:
        path = f"{self.root.rstrip('/')}/{upload_id}"
        if self.local:
            shutil.rmtree(path, ignore_errors=True)
        elif self.fs.exists(path):
            self.fs.rm(path, recursive=True)


def sha256_of(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
            size += len(block)
    return digest.hexdigest(), size
