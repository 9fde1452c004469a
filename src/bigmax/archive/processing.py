"""Background processing of uploads: ingest runs in a worker thread while the API answers.

One worker per app, so two jobs never write the same upload (or fight over SQLite's single
writer) at once. Job state (status, progress, error) lives in memory for the life of the process;
what each file gave (reader, entries, errors) is always read back from the database, so it
survives restarts and is the same whichever process did the work.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from bigmax.archive import ids
from bigmax.archive.access import utcnow
from bigmax.archive.db import RawFileRow, UploadRow
from bigmax.archive.ingest import ingest
from bigmax.archive.store import FileStore
from bigmax.config import Settings

log = logging.getLogger(__name__)

Status = Literal["pending", "processing", "success", "failed"]


def upload_id_for(owner_id: str | None, name: str) -> str:
    """The id ingest gives the upload ``name`` of ``owner_id``."""
    return ids.upload_id(name, owner_id)


@dataclass
class Job:
    """One run of ingest over an upload's new or changed files."""

    upload_id: str
    name: str
    owner_id: str | None
    kind: Literal["upload", "add", "reprocess"]
    status: Status = "pending"
    done: int = 0
    total: int = 0
    error: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    entries: int = 0
    failed: int = 0

    @property
    def active(self) -> bool:
        return self.status in ("pending", "processing")


class Processor:
    """The app's processing queue: a one-worker thread pool, created on first use."""

    def __init__(self, settings: Settings, engine: Engine, store: FileStore):
        self.settings = settings
        self.engine = engine
        self.store = store
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bigmax-job")
            return self._executor

    def get(self, upload_id: str) -> Job | None:
        return self.jobs.get(upload_id)

    def busy(self, upload_id: str) -> bool:
        job = self.jobs.get(upload_id)
        return job is not None and job.active

    def submit(
        self,
        job: Job,
        paths: list[Path],
        *,
        cleanup: Path | None = None,
        before: Callable[[], None] | None = None,
    ) -> Future:
        """Queue ``job``: ingest ``paths``, then remove the ``cleanup`` folder (the staging
        copy). ``before`` runs first in the worker (reprocessing uses it to forget checksums).
        Raises RuntimeError when the upload already has a job waiting or running."""
        with self._lock:
            current = self.jobs.get(job.upload_id)
            if current is not None and current.active:
                raise RuntimeError(f"upload {job.upload_id!r} is already being processed")
            self.jobs[job.upload_id] = job
        return self._pool().submit(self._run, job, paths, cleanup, before)

    def _run(self, job: Job, paths: list[Path], cleanup: Path | None, before) -> None:
        job.status, job.started_at = "processing", utcnow()

        def progress(done: int, total: int) -> None:
            job.done, job.total = done, total

        try:
            if job.kind == "upload" and self._exists(job.upload_id):
                # another request made it while this body was streaming: never mix the two
                raise FileExistsError(f"an upload named {job.name!r} exists already")
            if before is not None:
                before()
            report = ingest(
                paths,
                upload=job.name,
                owner_id=job.owner_id,
                settings=self.settings,
                engine=self.engine,
                progress=progress,
            )
            if report.upload_id != job.upload_id:
                raise RuntimeError(
                    f"ingest wrote upload {report.upload_id!r}, expected {job.upload_id!r}"
                )
            job.entries, job.failed = report.entries, report.failed
            if report.rejected:
                job.error = "; ".join(report.rejected[:20])
            job.status = "success"
        except Exception as err:  # the job reports it; the worker lives on
            log.exception("processing upload %s failed", job.upload_id)
            job.status, job.error = "failed", f"{type(err).__name__}: {err}"
        finally:
            job.finished_at = utcnow()
            if cleanup is not None:
                shutil.rmtree(cleanup, ignore_errors=True)

    def _exists(self, upload_id: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(UploadRow.upload_id).where(UploadRow.upload_id == upload_id)
            ).first()
        return found is not None

    def forget_checksums(self, upload_id: str) -> None:
        """Drop the upload's raw-file rows so ingest reads every file again (its entries are
        replaced file by file as each is written)."""
        with self.engine.begin() as conn:
            conn.execute(delete(RawFileRow).where(RawFileRow.upload_id == upload_id))

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=wait)
