"""Background processing of uploads: ingest runs in a worker thread while the API answers.

One worker thread per server process. A job's state (status, progress, error) is kept in the
``jobs`` table, so every server process (``bigmax serve --workers N``) and a restarted server
report it; what each file gave (reader, entries, errors) is read from the entries themselves.
A job is claimed in the database before it runs, so two processes never run jobs on the same
upload at once.

A running job names its process (``worker``) and beats a heartbeat (``updated_at``). A job
whose process is gone (it crashed, or the server was killed) is marked failed, with a message
saying so, when a server starts (``recover_interrupted``) or when the upload is next touched.
Ingest commits file by file, so the files processed before the crash are kept; processing the
upload again (``POST .../action/process``) reads the rest.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from bigmax.archive import ids
from bigmax.archive.access import utcnow
from bigmax.archive.db import JobRow, RawFileRow, UploadRow
from bigmax.archive.ingest import ingest
from bigmax.archive.store import FileStore
from bigmax.config import Settings

log = logging.getLogger(__name__)

Status = Literal["pending", "processing", "success", "failed"]
ACTIVE = ("pending", "processing")

#: A running job writes its heartbeat this often (seconds) ...
HEARTBEAT_S = 15.0
#: ... and one silent for this long belongs to a process that is gone.
STALE_AFTER_S = 120.0
#: Progress is written at most this often (seconds).
PROGRESS_EVERY_S = 0.5

#: This process, as job rows name it: host, pid and a token (a restarted server may get the
#: same pid in a container; the token tells it from its predecessor).
WORKER = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

INTERRUPTED = (
    "interrupted: the server stopped while this upload was being processed. Files processed "
    "before that are kept; process the upload again (POST /api/v1/uploads/{id}/action/process) "
    "to read the rest, or send the missing files again."
)


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
        return self.status in ACTIVE

    @classmethod
    def from_row(cls, row) -> Job:
        return cls(
            upload_id=row.upload_id,
            name=row.name,
            owner_id=row.owner_id,
            kind=row.kind,
            status=row.status,
            done=row.done,
            total=row.total,
            error=row.error,
            created_at=row.created_at,
            started_at=row.started_at,
            finished_at=row.finished_at,
            entries=row.entries,
            failed=row.failed,
        )


def _alive(worker: str | None, updated_at: datetime | None, now: datetime) -> bool:
    """Whether the process that runs a job is still there (see module docstring)."""
    if worker is None or updated_at is None:
        return False
    host, _, rest = worker.partition(":")
    pid_text, _, token = rest.partition(":")
    if worker == WORKER:
        return True
    if host == socket.gethostname() and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():  # our pid, another token: a server that ran before this one
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:  # someone else's process: it exists
            pass
    return (now - updated_at).total_seconds() < STALE_AFTER_S


def recover_interrupted(engine: Engine) -> list[str]:
    """Mark failed the active jobs whose process is gone; returns their upload ids. A server
    runs this when it starts."""
    now = utcnow()
    with engine.connect() as conn:
        rows = conn.execute(
            select(JobRow.upload_id, JobRow.worker, JobRow.updated_at, JobRow.status).where(
                JobRow.status.in_(ACTIVE)
            )
        ).all()
    failed = []
    for row in rows:
        if _alive(row.worker, row.updated_at, now):
            continue
        with engine.begin() as conn:
            done = conn.execute(
                update(JobRow)
                .where(
                    JobRow.upload_id == row.upload_id,
                    JobRow.status == row.status,
                    JobRow.worker.is_(None) if row.worker is None else JobRow.worker == row.worker,
                )
                .values(
                    status="failed",
                    error=INTERRUPTED.replace("{id}", row.upload_id),
                    finished_at=now,
                    updated_at=now,
                )
            ).rowcount
        if done:
            log.warning("upload %s: its processing was interrupted; marked failed", row.upload_id)
            failed.append(row.upload_id)
    return failed


def load_job(engine: Engine, upload_id: str) -> Job | None:
    """The upload's latest job from the database (an interrupted one is marked failed)."""
    with engine.connect() as conn:
        row = conn.execute(select(JobRow).where(JobRow.upload_id == upload_id)).first()
    if row is None:
        return None
    if row.status in ACTIVE and not _alive(row.worker, row.updated_at, utcnow()):
        recover_interrupted(engine)
        return load_job(engine, upload_id)
    return Job.from_row(row)


def active_jobs(engine: Engine, owner_id: str) -> list[Job]:
    """The owner's jobs still waiting or running (uploads not recorded yet among them)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(JobRow).where(JobRow.owner_id == owner_id, JobRow.status.in_(ACTIVE))
        ).all()
    now = utcnow()
    return [Job.from_row(r) for r in rows if _alive(r.worker, r.updated_at, now)]


def forget_job(engine: Engine, upload_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(JobRow).where(JobRow.upload_id == upload_id))


class Processor:
    """The app's processing queue: a one-worker thread pool, created on first use. ``jobs``
    holds the Job objects this process submitted (their progress is fresher than the
    database's, which is written at most every PROGRESS_EVERY_S)."""

    def __init__(self, settings: Settings, engine: Engine, store: FileStore):
        self.settings = settings
        self.engine = engine
        self.store = store
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._running: Job | None = None
        self._stop = threading.Event()
        self._heart: threading.Thread | None = None

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bigmax-job")
            return self._executor

    def get(self, upload_id: str) -> Job | None:
        """The upload's latest job: this process's own while it is active, else the
        database's (whichever process ran it)."""
        mine = self.jobs.get(upload_id)
        if mine is not None and mine.active:
            return mine
        return load_job(self.engine, upload_id)

    def busy(self, upload_id: str) -> bool:
        job = self.get(upload_id)
        return job is not None and job.active

    # -- the jobs table ---------------------------------------------------------------------

    def _claim(self, job: Job) -> None:
        """Record ``job`` as pending, unless the upload has an active job of a live process."""
        now = utcnow()
        values = {
            "name": job.name,
            "owner_id": job.owner_id,
            "kind": job.kind,
            "status": "pending",
            "done": 0,
            "total": 0,
            "error": None,
            "entries": 0,
            "failed": 0,
            "created_at": job.created_at,
            "started_at": None,
            "finished_at": None,
            "updated_at": now,
            "worker": WORKER,
        }
        busy = RuntimeError(f"upload {job.upload_id!r} is already being processed")
        with self.engine.begin() as conn:
            row = conn.execute(
                select(JobRow.status, JobRow.worker, JobRow.updated_at).where(
                    JobRow.upload_id == job.upload_id
                )
            ).first()
            if row is None:
                try:
                    conn.execute(insert(JobRow).values(upload_id=job.upload_id, **values))
                except IntegrityError:  # another process claimed it this instant
                    raise busy from None
                return
            if row.status in ACTIVE and _alive(row.worker, row.updated_at, now):
                raise busy
            claimed = conn.execute(
                update(JobRow)
                .where(
                    JobRow.upload_id == job.upload_id,
                    JobRow.status == row.status,
                    JobRow.updated_at == row.updated_at,
                )
                .values(**values)
            ).rowcount
            if not claimed:
                raise busy

    def _save(self, job: Job, **extra) -> None:
        values = {
            "status": job.status,
            "done": job.done,
            "total": job.total,
            "error": job.error,
            "entries": job.entries,
            "failed": job.failed,
            "started_at": job.started_at,
            "finished_at": job.finished_at,
            "updated_at": utcnow(),
            **extra,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(JobRow)
                    .where(JobRow.upload_id == job.upload_id, JobRow.worker == WORKER)
                    .values(**values)
                )
        except Exception:  # the job goes on; its state is written again at the next step
            log.exception("could not record the state of the job on upload %s", job.upload_id)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            job = self._running
            if job is not None and job.active:
                self._save(job)

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
            self._claim(job)
            self.jobs[job.upload_id] = job
            if self._heart is None:
                self._heart = threading.Thread(
                    target=self._beat, name="bigmax-job-heartbeat", daemon=True
                )
                self._heart.start()
        return self._pool().submit(self._run, job, paths, cleanup, before)

    def _run(self, job: Job, paths: list[Path], cleanup: Path | None, before) -> None:
        job.status, job.started_at = "processing", utcnow()
        self._running = job
        self._save(job)
        last = time.monotonic()

        def progress(done: int, total: int) -> None:
            nonlocal last
            job.done, job.total = done, total
            if time.monotonic() - last >= PROGRESS_EVERY_S:
                last = time.monotonic()
                self._save(job)

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
            self._running = None
            self._save(job)
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
        self._stop.set()
