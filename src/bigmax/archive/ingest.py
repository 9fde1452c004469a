"""Ingest: raw files in, entries out. Transactional and idempotent.

Each file's raw-file row, entries, element rows and archives are committed in one transaction, after
the raw file is safely in the store. A re-run skips files whose sha256 is already recorded, so it
adds nothing; a run killed at any point and run again ends as an uninterrupted run would.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine

import bigmax
from bigmax.archive import ids
from bigmax.archive.db import (
    ArchiveRow,
    EntryElementRow,
    EntryRow,
    OptimadeRow,
    RawFileRow,
    UploadRow,
    bump_generation,
    init_db,
    make_engine,
)
from bigmax.archive.indexing import entry_elements, index_row
from bigmax.archive.paths import UnsafePathError, safe_relpath
from bigmax.archive.store import FileStore, sha256_of
from bigmax.archive.unpack import unpack_zip
from bigmax.config import Settings, get_settings
from bigmax.io.base import HEAD_BYTES, Parsed, ReaderError
from bigmax.io.registry import get_registry
from bigmax.schema import Author, Entry, EntryState, Provenance, SourceFile
from bigmax.search.optimade_properties import structure_attributes_json

#: Commit after this many entries (or one file, whichever is larger) to keep transactions short.
BATCH_ENTRIES = 2000

Progress = Callable[[int, int], None]


@dataclass
class IngestReport:
    upload_id: str
    upload_name: str
    files: int = 0
    files_skipped: int = 0
    raw_only: int = 0
    entries: int = 0
    failed: int = 0
    rejected: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def entries_per_second(self) -> float:
        return self.entries / self.seconds if self.seconds else 0.0


@dataclass
class _Source:
    relpath: str
    path: Path
    root: Path


@dataclass
class _Task:
    upload_id: str
    relpath: str
    path: Path
    root: Path
    sha256: str
    size: int
    reader: str | None
    symprec: float


#: (index row, elements, archive JSON, OPTIMADE attributes JSON or None)
_Row = tuple[dict, list[str], str, str | None]


@dataclass
class _FileResult:
    task: _Task
    rows: list[_Row]


def ingest(
    paths: Iterable[str | Path],
    *,
    upload: str | None = None,
    settings: Settings | None = None,
    engine: Engine | None = None,
    jobs: int = 1,
    progress: Progress | None = None,
    authors: list[Author] | None = None,
    license: str = "CC-BY-4.0",
    comment: str | None = None,
    references: list[str] | None = None,
    batch_entries: int = BATCH_ENTRIES,
    owner_id: str | None = None,
) -> IngestReport:
    """Ingest files, folders and zip files into one upload named ``upload``."""
    started = time.perf_counter()
    settings = settings or get_settings()
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("nothing to ingest: give at least one file or folder")
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such file or folder")
    name = upload or paths[0].resolve().name
    report = IngestReport(upload_id=ids.upload_id(name, owner_id), upload_name=name)
    own_engine = engine is None
    engine = engine or make_engine(settings.database_url)
    try:
        init_db(engine)
        store = FileStore(settings.files_url)
        store.clean_partial(report.upload_id)
        _ensure_upload(engine, report, owner_id, authors or [], license, comment, references or [])
        with ExitStack() as stack:
            sources = _collect(paths, report, stack)
            tasks = list(_plan(engine, store, report, sources, settings.symprec))
            _run(engine, tasks, report, jobs, progress, len(sources), batch_entries)
    finally:
        if own_engine:
            engine.dispose()
    report.seconds = time.perf_counter() - started
    return report


def _ensure_upload(engine, report, owner_id, authors, license, comment, references) -> None:
    """Create the upload on first ingest; a published upload is immutable."""
    with engine.begin() as conn:
        exists = conn.execute(
            select(UploadRow.published).where(UploadRow.upload_id == report.upload_id)
        ).first()
        if exists and exists.published:
            raise ValueError(f"upload {report.upload_name!r} is published and cannot change")
        if not exists:
            conn.execute(
                insert(UploadRow).values(
                    upload_id=report.upload_id,
                    name=report.upload_name,
                    owner_id=owner_id,
                    created_at=_now(),
                    authors=[a.model_dump() for a in authors],
                    license=license,
                    comment=comment,
                    references=references,
                    published=False,
                )
            )


def _collect(paths: list[Path], report: IngestReport, stack: ExitStack) -> list[_Source]:
    """Every file to ingest with its upload-relative path; zip files are unpacked safely first."""
    found: dict[str, _Source] = {}

    def add(rel: str, path: Path, root: Path) -> None:
        try:
            rel = safe_relpath(rel)
        except UnsafePathError as err:
            report.rejected.append(str(err))
            return
        if rel in found:
            raise ValueError(
                f"two inputs give the same upload path {rel!r}: {found[rel].path}, {path}"
            )
        found[rel] = _Source(rel, path, root)

    for p in paths:
        if p.is_dir():
            _walk(p, add, report)
        elif p.suffix.lower() == ".zip":
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bigmax-zip-")))
            for rel in unpack_zip(p, tmp):
                add(rel, tmp / rel, tmp)
        else:
            add(p.name, p, p.parent)
    return [found[k] for k in sorted(found)]


def _walk(root: Path, add, report: IngestReport) -> None:
    base = root.resolve()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in sorted(filenames):
            path = Path(dirpath) / fname
            if path.is_symlink() and not path.resolve().is_relative_to(base):
                report.rejected.append(f"{path}: symlink points outside {root}; skipped")
                continue
            if not path.is_file():
                continue
            add(path.relative_to(root).as_posix(), path, root)


def _plan(engine, store: FileStore, report: IngestReport, sources, symprec) -> Iterator[_Task]:
    """Store new or changed files and pick their readers; skip files recorded already."""
    with engine.connect() as conn:
        known = dict(
            conn.execute(
                select(RawFileRow.path, RawFileRow.sha256).where(
                    RawFileRow.upload_id == report.upload_id
                )
            ).all()
        )
    registry = get_registry()
    for src in sources:
        report.files += 1
        sha, size = sha256_of(src.path)
        if known.get(src.relpath) == sha:
            report.files_skipped += 1
            continue
        store.put(report.upload_id, src.relpath, src.path)
        with open(src.path, "rb") as fh:
            head = fh.read(HEAD_BYTES)
        reader = registry.match(str(src.path), head)
        yield _Task(
            report.upload_id,
            src.relpath,
            src.path,
            src.root,
            sha,
            size,
            reader.name if reader else None,
            symprec,
        )


def _run(engine, tasks: list[_Task], report, jobs: int, progress, total: int, batch: int) -> None:
    done = report.files_skipped
    if progress:
        progress(done, total)
    batch_size, batch = batch, []
    pending = 0
    with ExitStack() as stack:
        if jobs > 1 and len(tasks) > 1:
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=jobs))
            results = pool.map(_process, tasks, chunksize=max(1, min(16, len(tasks) // (4 * jobs))))
        else:
            results = map(_process, tasks)
        for result in results:
            batch.append(result)
            pending += len(result.rows)
            if pending >= batch_size:
                _write(engine, batch, report)
                done += len(batch)
                batch, pending = [], 0
                if progress:
                    progress(done, total)
        if batch:
            _write(engine, batch, report)
            done += len(batch)
    if progress:
        progress(done, total)


def _process(task: _Task) -> _FileResult:
    """Parse one file into index rows and archive JSON (runs in a worker process)."""
    if task.reader is None:
        return _FileResult(task, [])
    reader = get_registry().get(task.reader)
    now = _now()
    rows = []
    try:
        for parsed in reader.parse(task.path, task.root, task.symprec):
            rows.append(_entry_row(task, reader, parsed, now))
    except ReaderError as err:
        rows = [_entry_row(task, reader, Parsed(None, error=_named(task, str(err))), now)]
    except Exception as err:  # a reader bug must not abort the upload
        msg = f"{task.relpath}: reader {task.reader!r} failed: {type(err).__name__}: {err}"
        rows = [_entry_row(task, reader, Parsed(None, error=msg), now)]
    return _FileResult(task, rows)


def _named(task: _Task, msg: str) -> str:
    """The message with the file's path in the upload (readers know only its base name)."""
    if task.relpath in msg:
        return msg
    name = task.path.name
    if msg.startswith(name):
        return task.relpath + msg[len(name) :]
    return f"{task.relpath}: {msg}"


def _entry_row(task: _Task, reader, parsed: Parsed, now: datetime) -> _Row:
    files = [SourceFile(path=task.relpath, sha256=task.sha256, size=task.size)]
    for rel in parsed.related_files:
        sha, size = sha256_of(task.root / rel)
        files.append(SourceFile(path=rel, sha256=sha, size=size))
    failed = parsed.error is not None or parsed.results is None
    entry = Entry(
        entry_id=ids.entry_id(task.upload_id, task.relpath, parsed.child_key),
        upload_id=task.upload_id,
        mainfile=task.relpath,
        child_key=parsed.child_key,
        parser=reader.name,
        state=EntryState.FAILED if failed else EntryState.SUCCESS,
        errors=[_named(task, parsed.error or "the reader returned no data")] if failed else [],
        created_at=now,
        processed_at=now,
        results=None if failed else parsed.results,
        provenance=Provenance(
            files=files,
            reader=reader.name,
            reader_version=reader.version,
            bigmax_version=bigmax.__version__,
            processed_at=now,
        ),
    )
    data = entry.model_dump_json(exclude_none=True)
    row = index_row(entry)
    # what OPTIMADE serves (entries with a composition), converted once here, not per request
    served = structure_attributes_json(json.loads(data)) if row["formula_reduced"] else None
    return row, entry_elements(entry), data, served


def _write(engine: Engine, batch: list[_FileResult], report: IngestReport) -> None:
    """One transaction for a batch of whole files: old entries out, raw-file rows and entries in."""
    upload_id = report.upload_id
    paths = [r.task.relpath for r in batch]
    rows = [row for r in batch for row in r.rows]
    with engine.begin() as conn:
        for i in range(0, len(paths), 500):
            chunk = paths[i : i + 500]
            conn.execute(
                delete(EntryRow).where(
                    EntryRow.upload_id == upload_id, EntryRow.mainfile.in_(chunk)
                )
            )
            conn.execute(
                delete(RawFileRow).where(
                    RawFileRow.upload_id == upload_id, RawFileRow.path.in_(chunk)
                )
            )
        conn.execute(
            insert(RawFileRow),
            [
                {
                    "upload_id": upload_id,
                    "path": r.task.relpath,
                    "sha256": r.task.sha256,
                    "size": r.task.size,
                    "reader": r.task.reader,
                }
                for r in batch
            ],
        )
        if rows:
            pks = (
                conn.execute(
                    insert(EntryRow).returning(EntryRow.pk, sort_by_parameter_order=True),
                    [r[0] for r in rows],
                )
                .scalars()
                .all()
            )
            elements = [
                {"entry_pk": pk, "element": el}
                for pk, r in zip(pks, rows, strict=True)
                for el in r[1]
            ]
            if elements:
                conn.execute(insert(EntryElementRow), elements)
            conn.execute(
                insert(ArchiveRow),
                [{"entry_pk": pk, "data": r[2]} for pk, r in zip(pks, rows, strict=True)],
            )
            served = [
                {"entry_pk": pk, "attributes": r[3]}
                for pk, r in zip(pks, rows, strict=True)
                if r[3] is not None
            ]
            if served:
                conn.execute(insert(OptimadeRow), served)
        bump_generation(conn)
    report.raw_only += sum(1 for r in batch if r.task.reader is None)
    report.entries += len(rows)
    report.failed += sum(1 for r in rows if r[0]["state"] == EntryState.FAILED.value)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
