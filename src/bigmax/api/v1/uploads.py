"""/api/v1/uploads: send raw files, follow their processing, then publish, share or delete.

Bodies are streamed to a staging folder chunk by chunk (multipart is parsed as it arrives), so a
32 GiB upload costs disk, not memory, and an oversized one is cut off with 413 as soon as it
passes the limit. Zip and tar files are unpacked with the checks in ``archive.unpack`` before
anything is processed. Processing runs in the background (``archive.processing``); poll
``GET /api/v1/uploads/{upload_id}`` for its state.

An upload the viewer may not read does not exist for them (404); one they may read but do not own
cannot be changed by them (403).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator, BaseModel, Field
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import case, func, or_, select
from sqlalchemy.engine import Engine

from bigmax.api.deps import EngineDep, StoreDep, UserDep, ViewerDep
from bigmax.api.types import DbText, UtcDatetime, db_text
from bigmax.archive import lifecycle
from bigmax.archive.access import Viewer, readable_uploads_clause, utcnow, visibility
from bigmax.archive.db import ArchiveRow, EntryRow, RawFileRow, UploadMemberRow, UploadRow, UserRow
from bigmax.archive.paths import UnsafePathError, safe_relpath
from bigmax.archive.processing import (
    Job,
    Processor,
    Status,
    active_jobs,
    forget_job,
    upload_id_for,
)
from bigmax.archive.unpack import UnsafeArchiveError, unpack_tar, unpack_zip
from bigmax.archive.users import get_user

log = logging.getLogger(__name__)

#: The largest request body accepted (NOMAD's limit); BIGMAX_MAX_UPLOAD_BYTES overrides it.
MAX_UPLOAD_BYTES = 32 * 1024**3
MAX_UPLOAD_ENV = "BIGMAX_MAX_UPLOAD_BYTES"
#: Errors listed per file in an upload's status; the rest are counted.
MAX_ERRORS_PER_FILE = 10

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")

router = APIRouter(prefix="/api/v1/uploads", tags=["uploads"])


# --- models -------------------------------------------------------------------------------------


class Processing(BaseModel):
    status: Status = Field(description="pending, processing, success or failed")
    done: int = Field(0, description="files processed so far")
    total: int = Field(0, description="files in this run")
    error: str | None = Field(None, description="why the run failed, or files it skipped")
    started_at: UtcDatetime | None = None
    finished_at: UtcDatetime | None = None


class FileStatus(BaseModel):
    path: str
    size: int
    sha256: str
    reader: str | None = Field(description="the reader that matched; null for raw-only files")
    entries: int
    failed: int
    errors: list[str]


class UploadSummary(BaseModel):
    upload_id: str
    name: str
    owner: str | None = Field(description="the owner's username")
    created_at: UtcDatetime | None
    visibility: Literal["private", "embargoed", "public"]
    published: bool
    published_at: UtcDatetime | None = None
    embargo_until: UtcDatetime | None = None
    processing: Processing
    files: int
    entries: int
    failed: int


class UploadStatus(UploadSummary):
    members: list[str] = Field(description="usernames the upload is shared with")
    file_list: list[FileStatus] = Field(description="one page of files, by path")
    page: int
    page_size: int


class UploadList(BaseModel):
    data: list[UploadSummary]


class PublishRequest(BaseModel):
    embargo_months: int = Field(
        0, ge=0, le=lifecycle.MAX_EMBARGO_MONTHS, description="0 publishes openly at once"
    )


class ShareRequest(BaseModel):
    username: DbText = Field(min_length=1, max_length=64)


def _upload_name(value: str | None) -> str | None:
    if value is None:
        return None
    db_text(value)
    if any(ord(c) < 32 for c in value) or not value.strip():
        raise ValueError("must be printable text, not blank")
    return value


UploadName = Annotated[
    str | None,
    Query(min_length=1, max_length=256, description="a name for the new upload"),
    AfterValidator(_upload_name),
]
FileName = Annotated[
    str | None,
    Query(
        max_length=1024,
        description="for a body that is not multipart: the file's name in the upload. Names "
        "ending in .zip, .tar, .tar.gz, .tgz, .tar.bz2 or .tar.xz are unpacked.",
    ),
    AfterValidator(_upload_name),
]
UploadId = Annotated[
    str, Path(max_length=64, pattern=r"^[A-Za-z0-9_-]+$", description="the upload's id")
]
Page = Annotated[int, Query(ge=1, le=1_000_000, description="page of the file list")]
PageSize = Annotated[int, Query(ge=1, le=10_000, description="files per page")]

_NOT_FOUND = {404: {"description": "No such upload, or you may not read it"}}
_UPLOAD_BODY = {
    "requestBody": {
        "description": "multipart/form-data with one or more files (any field name), or the "
        "bytes of one file (a zip or tar file is unpacked; name others with ?file_name=)",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "array", "items": {"type": "string", "format": "binary"}}
                    },
                }
            },
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_BODY_ERRORS = {
    400: {"description": "A bad file name, archive or multipart body"},
    413: {"description": "The body is larger than the server's limit"},
}


# --- app state ----------------------------------------------------------------------------------


def _processor(request: Request) -> Processor:
    """The app's processor, made on first use."""
    state = request.app.state
    proc = getattr(state, "processor", None)
    if proc is None:
        proc = state.processor = Processor(state.settings, state.engine, state.store)
    return proc


def max_upload_bytes(request: Request) -> int:
    """The body limit, read from BIGMAX_MAX_UPLOAD_BYTES once per app."""
    state = request.app.state
    limit = getattr(state, "max_upload_bytes", None)
    if limit is None:
        raw = os.environ.get(MAX_UPLOAD_ENV, "").strip()
        limit = MAX_UPLOAD_BYTES
        if raw:
            try:
                limit = int(raw)
                if limit <= 0:
                    raise ValueError
            except ValueError:
                log.error("%s=%r is not a positive integer; using %d", MAX_UPLOAD_ENV, raw, limit)
                limit = MAX_UPLOAD_BYTES
        state.max_upload_bytes = limit
    return limit


# --- receiving bodies ---------------------------------------------------------------------------


def _archive_kind(name: str) -> Literal["zip", "tar"] | None:
    lower = name.lower()
    if lower.endswith(ZIP_SUFFIXES):
        return "zip"
    if lower.endswith(TAR_SUFFIXES):
        return "tar"
    return None


def _sniff(path: FsPath) -> Literal["zip", "tar"] | None:
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")) or head[257:262] == b"ustar":
        return "tar"
    return None


class _Staging:
    """A private folder for one request: ``files/`` is the upload tree handed to ingest,
    ``incoming/`` holds archives until they are unpacked."""

    def __init__(self, home: FsPath):
        self.root = home / "staging" / secrets.token_hex(12)
        self.files = self.root / "files"
        self.incoming = self.root / "incoming"
        self.files.mkdir(parents=True)
        self.incoming.mkdir()
        self.plain: set[str] = set()
        self.archives: list[tuple[str, FsPath, Literal["zip", "tar"]]] = []

    def claim(self, name: str) -> FsPath:
        """The checked place of the upload file ``name`` in ``files/``, its folder made."""
        try:
            rel = safe_relpath(name)
        except UnsafePathError as err:
            raise HTTPException(400, str(err)) from None
        if rel in self.plain:
            raise HTTPException(400, f"file {rel!r} is given twice")
        dest = self.files / rel
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError:
            raise HTTPException(400, f"file {rel!r} clashes with another file's name") from None
        if dest.exists():
            raise HTTPException(400, f"file {rel!r} clashes with another file's folder")
        self.plain.add(rel)
        return dest

    def open(self, name: str, *, unpack: bool = True):
        """A file object for the incoming file ``name`` (checked, archives set aside)."""
        kind = _archive_kind(name) if unpack else None
        if kind is not None:
            path = self.incoming / f"{len(self.archives)}{_suffix(name)}"
            self.archives.append((name, path, kind))
            return open(path, "wb")
        return open(self.claim(name), "xb")

    def unpack(self) -> None:
        """Unpack the archives into ``files/``; a path given twice is an error (in a thread)."""
        for i, (name, path, kind) in enumerate(self.archives):
            out = self.incoming / f"unpacked-{i}"
            out.mkdir()
            try:
                if kind == "zip":
                    written = unpack_zip(path, out)
                else:
                    written = unpack_tar(path, out)
            except UnsafeArchiveError as err:
                raise HTTPException(400, str(err).replace(path.name, name, 1)) from None
            path.unlink()
            for rel in dict.fromkeys(written):
                dest = self.files / rel
                if rel in self.plain or dest.exists():
                    raise HTTPException(400, f"file {rel!r} is given twice (again in {name})")
                try:
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(out / rel, dest)
                except OSError:
                    raise HTTPException(
                        400, f"file {rel!r} in {name} clashes with another file's folder"
                    ) from None
                self.plain.add(rel)
            shutil.rmtree(out, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _suffix(name: str) -> str:
    lower = name.lower()
    for suffix in (*TAR_SUFFIXES[1:], *TAR_SUFFIXES[:1], *ZIP_SUFFIXES):
        if lower.endswith(suffix):
            return suffix
    return ""


def _too_large(limit: int) -> HTTPException:
    return HTTPException(413, f"the upload is larger than this server's limit of {limit} bytes")


async def _receive(
    request: Request, staging: _Staging, limit: int, file_name: str | None, *, unpack: bool = True
) -> None:
    """Stream the request body into ``staging``: multipart files, or the body as one file."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype == b"multipart/form-data":
        await _receive_multipart(request, staging, limit, params.get(b"boundary"), unpack)
    else:
        await _receive_body(request, staging, limit, file_name, unpack)
    if unpack and staging.archives:
        await run_in_threadpool(staging.unpack)
    if not staging.plain:
        raise HTTPException(400, "the upload holds no files")


async def _receive_body(
    request: Request, staging: _Staging, limit: int, file_name: str | None, unpack: bool
) -> None:
    target = staging.incoming / "body"
    size = 0
    with open(target, "wb") as fh:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            fh.write(chunk)
    if file_name is None:
        kind = _sniff(target)
        if kind is None:
            raise HTTPException(
                400,
                "the body is neither a zip nor a tar file: send files as multipart/form-data, "
                "or name the file with ?file_name=",
            )
        suffix = ".zip" if kind == "zip" else ".tar"
        staging.archives.append(
            (f"request body ({kind})", target.rename(target.with_suffix(suffix)), kind)
        )
        return
    kind = _archive_kind(file_name) if unpack else None
    if kind is not None:
        staging.archives.append((file_name, target, kind))
        return
    os.replace(target, staging.claim(file_name))


async def _receive_multipart(
    request: Request, staging: _Staging, limit: int, boundary: bytes | None, unpack: bool
) -> None:
    if not boundary:
        raise HTTPException(400, "multipart/form-data body without a boundary parameter")
    header_field, header_value = bytearray(), bytearray()
    headers: dict[bytes, bytes] = {}
    current = None

    def on_part_begin() -> None:
        headers.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_field.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        headers[bytes(header_field).lower()] = bytes(header_value)
        header_field.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        nonlocal current
        _, options = parse_options_header(headers.get(b"content-disposition", b""))
        raw = options.get(b"filename")
        if not raw:  # a plain form field: not a file, ignored
            return
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, f"file name {raw!r} is not UTF-8") from None
        current = staging.open(name, unpack=unpack)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if current is not None:
            current.write(data[start:end])

    def on_part_end() -> None:
        nonlocal current
        if current is not None:
            current.close()
            current = None

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as err:
        raise HTTPException(400, f"malformed multipart/form-data body: {err}") from None
    finally:
        if current is not None:
            current.close()


# --- reading state ------------------------------------------------------------------------------


def _row(engine: Engine, upload_id: str):
    with engine.connect() as conn:
        return conn.execute(select(UploadRow).where(UploadRow.upload_id == upload_id)).first()


def _find(engine: Engine, proc: Processor, upload_id: str, viewer: Viewer):
    """(row or None, job or None) for an upload the viewer may read; 404 otherwise, so an
    upload one may not read is indistinguishable from one that does not exist."""
    row = _row(engine, upload_id)
    job = proc.get(upload_id)
    if row is not None:
        with engine.connect() as conn:
            readable = conn.execute(
                select(UploadRow.upload_id).where(
                    UploadRow.upload_id == upload_id, readable_uploads_clause(viewer)
                )
            ).first()
        if readable:
            return row, job
        # the owner's own upload before processing has recorded its owner
        if row.owner_id is None and job is not None and _owns(viewer, job.owner_id):
            return row, job
    elif job is not None and _owns(viewer, job.owner_id):
        return None, job
    raise HTTPException(404, f"no upload {upload_id!r}")


def _owns(viewer: Viewer, owner_id: str | None) -> bool:
    return viewer.is_admin or (viewer.user_id is not None and owner_id == viewer.user_id)


def _owned(engine: Engine, proc: Processor, upload_id: str, viewer: Viewer, action: str):
    """Like _find, but the viewer must own the upload (403 when they may only read it)."""
    row, job = _find(engine, proc, upload_id, viewer)
    owner = row.owner_id if row is not None and row.owner_id is not None else job and job.owner_id
    if not _owns(viewer, owner):
        raise HTTPException(403, f"only the owner of upload {upload_id!r} may {action} it")
    return row, job


def _processing(row, job: Job | None) -> Processing:
    if job is None:  # processed before this server process started
        return Processing(status="success" if row is not None else "pending")
    return Processing(
        status=job.status,
        done=job.done,
        total=job.total,
        error=job.error,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def _counts(engine: Engine, upload_ids: list[str]) -> dict[str, tuple[int, int, int]]:
    """(files, entries, failed) per upload id."""
    if not upload_ids:
        return {}
    out = dict.fromkeys(upload_ids, (0, 0, 0))
    with engine.connect() as conn:
        files = dict(
            conn.execute(
                select(RawFileRow.upload_id, func.count())
                .where(RawFileRow.upload_id.in_(upload_ids))
                .group_by(RawFileRow.upload_id)
            ).all()
        )
        entries = {
            uid: (n, int(bad or 0))
            for uid, n, bad in conn.execute(
                select(
                    EntryRow.upload_id,
                    func.count(),
                    func.sum(case((EntryRow.state == "failed", 1), else_=0)),
                )
                .where(EntryRow.upload_id.in_(upload_ids))
                .group_by(EntryRow.upload_id)
            )
        }
    for uid in upload_ids:
        n, bad = entries.get(uid, (0, 0))
        out[uid] = (files.get(uid, 0), n, bad)
    return out


def _usernames(engine: Engine, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(UserRow.user_id, UserRow.username).where(UserRow.user_id.in_(user_ids))
            ).all()
        )


def _summary(
    row, job: Job | None, counts, owners: dict[str, str], processing: Processing
) -> UploadSummary:
    if row is None:  # queued, not yet recorded by ingest
        assert job is not None
        return UploadSummary(
            upload_id=job.upload_id,
            name=job.name,
            owner=owners.get(job.owner_id or ""),
            created_at=job.created_at,
            visibility="private",
            published=False,
            processing=processing,
            files=0,
            entries=0,
            failed=0,
        )
    files, entries, failed = counts
    owner_id = row.owner_id or (job.owner_id if job else None)
    return UploadSummary(
        upload_id=row.upload_id,
        name=row.name,
        owner=owners.get(owner_id or ""),
        created_at=row.created_at,
        visibility=visibility(row),
        published=row.published,
        published_at=row.published_at,
        embargo_until=row.embargo_until,
        processing=processing,
        files=files,
        entries=entries,
        failed=failed,
    )


def _file_list(engine: Engine, upload_id: str, page: int, page_size: int) -> list[FileStatus]:
    """One page of the upload's files with what each gave, from the database."""
    with engine.connect() as conn:
        files = conn.execute(
            select(RawFileRow)
            .where(RawFileRow.upload_id == upload_id)
            .order_by(RawFileRow.path)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
        paths = [f.path for f in files]
        counts: dict[str, tuple[int, int]] = {}
        errors: dict[str, list[str]] = {}
        for start in range(0, len(paths), 500):
            part = paths[start : start + 500]
            for mainfile, n, bad in conn.execute(
                select(
                    EntryRow.mainfile,
                    func.count(),
                    func.sum(case((EntryRow.state == "failed", 1), else_=0)),
                )
                .where(EntryRow.upload_id == upload_id, EntryRow.mainfile.in_(part))
                .group_by(EntryRow.mainfile)
            ):
                counts[mainfile] = (n, int(bad or 0))
            failed = conn.execute(
                select(EntryRow.mainfile, ArchiveRow.data)
                .join(ArchiveRow, ArchiveRow.entry_pk == EntryRow.pk)
                .where(
                    EntryRow.upload_id == upload_id,
                    EntryRow.mainfile.in_(part),
                    EntryRow.state == "failed",
                )
                .order_by(EntryRow.mainfile, EntryRow.pk)
            )
            for mainfile, data in failed:
                found = errors.setdefault(mainfile, [])
                if len(found) < MAX_ERRORS_PER_FILE:
                    found.extend(json.loads(data).get("errors") or ["processing failed"])
    return [
        FileStatus(
            path=f.path,
            size=f.size,
            sha256=f.sha256,
            reader=f.reader,
            entries=counts.get(f.path, (0, 0))[0],
            failed=counts.get(f.path, (0, 0))[1],
            errors=errors.get(f.path, [])[:MAX_ERRORS_PER_FILE],
        )
        for f in files
    ]


def _status(
    engine: Engine, row, job: Job | None, page: int = 1, page_size: int = 1000
) -> UploadStatus:
    # the job's state first: when it says done, everything read below is committed already
    processing = _processing(row, job)
    upload_id = row.upload_id if row is not None else job.upload_id
    members: list[str] = []
    if row is not None:
        with engine.connect() as conn:
            members = list(
                conn.execute(
                    select(UserRow.username)
                    .join(UploadMemberRow, UploadMemberRow.user_id == UserRow.user_id)
                    .where(UploadMemberRow.upload_id == upload_id)
                    .order_by(UserRow.username)
                ).scalars()
            )
    owner_ids = {i for i in (row.owner_id if row else None, job.owner_id if job else None) if i}
    counts = _counts(engine, [upload_id]).get(upload_id)
    summary = _summary(row, job, counts, _usernames(engine, owner_ids), processing)
    return UploadStatus(
        **summary.model_dump(),
        members=members,
        file_list=_file_list(engine, upload_id, page, page_size) if row is not None else [],
        page=page,
        page_size=page_size,
    )


# --- routes -------------------------------------------------------------------------------------


def _check_changeable(row, proc: Processor, upload_id: str) -> None:
    if row is not None and row.published:
        raise HTTPException(409, f"upload {upload_id!r} is published and cannot be changed")
    if proc.busy(upload_id):
        raise HTTPException(409, f"upload {upload_id!r} is being processed; try again when done")


async def _stage_and_submit(
    request: Request, job: Job, file_name: str | None, *, raw_path: str | None = None
) -> None:
    """Receive the body into a fresh staging folder and queue ``job`` over it."""
    settings = request.app.state.settings
    proc = _processor(request)
    staging = await run_in_threadpool(_Staging, settings.home)
    try:
        if raw_path is not None:
            await _receive(request, staging, max_upload_bytes(request), raw_path, unpack=False)
        else:
            await _receive(request, staging, max_upload_bytes(request), file_name)
        proc.submit(job, [staging.files], cleanup=staging.root)
    except RuntimeError as err:  # a job for this upload was queued meanwhile
        await run_in_threadpool(staging.remove)
        raise HTTPException(409, str(err)) from None
    except BaseException:
        await run_in_threadpool(staging.remove)
        raise


@router.post(
    "",
    response_model=UploadStatus,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_UPLOAD_BODY,
    responses={**_BODY_ERRORS, 409: {"description": "You have an upload of this name"}},
)
async def create_upload(
    request: Request, user: UserDep, name: UploadName = None, file_name: FileName = None
) -> UploadStatus:
    """Create an upload from multipart files or one zip/tar body, and start processing it."""
    name = name or f"upload-{utcnow():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    upload_id = upload_id_for(user.user_id, name)
    engine: Engine = request.app.state.engine
    row = await run_in_threadpool(_row, engine, upload_id)
    proc = _processor(request)
    if row is not None or proc.busy(upload_id):
        hint = ""
        if row is not None and row.owner_id == user.user_id:
            hint = f" (id {upload_id}); add files with POST /api/v1/uploads/{upload_id}/files"
        raise HTTPException(409, f"an upload named {name!r} exists already{hint}")
    job = Job(upload_id=upload_id, name=name, owner_id=user.user_id, kind="upload")
    await _stage_and_submit(request, job, file_name)
    return await run_in_threadpool(_status, engine, None, job)


@router.get("", response_model=UploadList, responses={401: {"description": "Log in first"}})
def list_uploads(request: Request, user: UserDep, engine: EngineDep) -> UploadList:
    """Your uploads and those shared with you, newest first."""
    proc = _processor(request)
    shared = select(UploadMemberRow.upload_id).where(UploadMemberRow.user_id == user.user_id)
    with engine.connect() as conn:
        rows = conn.execute(
            select(UploadRow)
            .where(or_(UploadRow.owner_id == user.user_id, UploadRow.upload_id.in_(shared)))
            .order_by(UploadRow.created_at.desc(), UploadRow.upload_id)
        ).all()
    jobs = {r.upload_id: proc.get(r.upload_id) for r in rows}
    states = {r.upload_id: _processing(r, jobs[r.upload_id]) for r in rows}
    known = set(states)
    pending = [j for j in active_jobs(engine, user.user_id) if j.upload_id not in known]
    counts = _counts(engine, list(known))
    owners = _usernames(engine, {r.owner_id for r in rows if r.owner_id} | {user.user_id})
    data = [_summary(None, j, None, owners, _processing(None, j)) for j in pending]
    data += [
        _summary(r, jobs[r.upload_id], counts[r.upload_id], owners, states[r.upload_id])
        for r in rows
    ]
    return UploadList(data=data)


@router.get("/{upload_id}", response_model=UploadStatus, responses=_NOT_FOUND)
def upload_status(
    request: Request,
    upload_id: UploadId,
    viewer: ViewerDep,
    engine: EngineDep,
    page: Page = 1,
    page_size: PageSize = 1000,
) -> UploadStatus:
    """Visibility, processing state and progress, and one page of files with their entries and
    errors."""
    row, job = _find(engine, _processor(request), upload_id, viewer)
    return _status(engine, row, job, page, page_size)


@router.get(
    "/{upload_id}/raw/{path:path}",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"},
        **_NOT_FOUND,
    },
)
def get_raw_file(
    request: Request, upload_id: UploadId, path: str, viewer: ViewerDep, engine: EngineDep
) -> StreamingResponse:
    """One raw file of an upload you may read."""
    row, _ = _find(engine, _processor(request), upload_id, viewer)
    try:
        rel = safe_relpath(path)
    except UnsafePathError as err:
        raise HTTPException(400, str(err)) from None
    with engine.connect() as conn:
        known = conn.execute(
            select(RawFileRow.size).where(RawFileRow.upload_id == upload_id, RawFileRow.path == rel)
        ).first()
    if row is None or known is None:
        raise HTTPException(404, f"upload {upload_id!r} has no file {rel!r}")
    try:
        handle = request.app.state.store.open(upload_id, rel)
    except FileNotFoundError:
        log.error("raw file %s/%s is recorded but missing from the store", upload_id, rel)
        raise HTTPException(404, f"upload {upload_id!r} has no file {rel!r}") from None

    def chunks():
        with handle:
            while block := handle.read(1 << 20):
                yield block

    return StreamingResponse(
        chunks(),
        media_type="application/octet-stream",
        headers={"Content-Length": str(known.size)},
    )


@router.post(
    "/{upload_id}/files",
    response_model=UploadStatus,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra=_UPLOAD_BODY,
    responses={
        **_BODY_ERRORS,
        **_NOT_FOUND,
        403: {"description": "Not your upload"},
        409: {"description": "Published or being processed"},
    },
)
async def add_files(
    request: Request, upload_id: UploadId, viewer: ViewerDep, file_name: FileName = None
) -> UploadStatus:
    """Add files (multipart, or one zip/tar body) to an unpublished upload and process them."""
    engine: Engine = request.app.state.engine
    proc = _processor(request)
    row, job = await run_in_threadpool(_owned, engine, proc, upload_id, viewer, "change")
    _check_changeable(row, proc, upload_id)
    if row is None:
        raise HTTPException(409, f"upload {upload_id!r} has not been processed; upload it again")
    new = Job(upload_id=upload_id, name=row.name, owner_id=row.owner_id, kind="add")
    await _stage_and_submit(request, new, file_name)
    return await run_in_threadpool(_status, engine, row, new)


@router.put(
    "/{upload_id}/raw/{path:path}",
    response_model=UploadStatus,
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "description": "the file's bytes, stored as they are (archives are not unpacked)",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
    responses={
        **_BODY_ERRORS,
        **_NOT_FOUND,
        403: {"description": "Not your upload"},
        409: {"description": "Published or being processed"},
    },
)
async def put_raw_file(
    request: Request, upload_id: UploadId, path: str, viewer: ViewerDep
) -> UploadStatus:
    """Write one file (the request body) at ``path`` in an unpublished upload and process it."""
    try:
        rel = safe_relpath(db_text(path))
    except ValueError as err:
        raise HTTPException(400, str(err)) from None
    engine: Engine = request.app.state.engine
    proc = _processor(request)
    row, _ = await run_in_threadpool(_owned, engine, proc, upload_id, viewer, "change")
    _check_changeable(row, proc, upload_id)
    if row is None:
        raise HTTPException(409, f"upload {upload_id!r} is being processed; try again when done")
    new = Job(upload_id=upload_id, name=row.name, owner_id=row.owner_id, kind="add")
    await _stage_and_submit(request, new, None, raw_path=rel)
    return await run_in_threadpool(_status, engine, row, new)


@router.post(
    "/{upload_id}/action/process",
    response_model=UploadStatus,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **_NOT_FOUND,
        403: {"description": "Not your upload"},
        409: {"description": "Published, being processed, or without files"},
    },
)
def process_upload(
    request: Request, upload_id: UploadId, viewer: ViewerDep, engine: EngineDep, store: StoreDep
) -> UploadStatus:
    """Process every file of the upload again (after a reader was added or improved)."""
    proc = _processor(request)
    row, _ = _owned(engine, proc, upload_id, viewer, "process")
    _check_changeable(row, proc, upload_id)
    if row is None:
        raise HTTPException(409, f"upload {upload_id!r} is being processed; try again when done")
    staging = None
    source = FsPath(store.root) / upload_id / "raw"
    if not store.local:  # work on a local copy of the stored files
        staging = _Staging(request.app.state.settings.home)
        remote = f"{store.root.rstrip('/')}/{upload_id}/raw"
        if store.fs.exists(remote):
            store.fs.get(remote + "/", str(staging.files), recursive=True)
        source = staging.files
    if not source.is_dir() or not any(source.iterdir()):
        if staging is not None:
            staging.remove()
        raise HTTPException(409, f"upload {upload_id!r} has no files to process")
    job = Job(upload_id=upload_id, name=row.name, owner_id=row.owner_id, kind="reprocess")
    try:
        proc.submit(
            job,
            [source],
            cleanup=staging.root if staging is not None else None,
            before=lambda: proc.forget_checksums(upload_id),
        )
    except RuntimeError as err:
        if staging is not None:
            staging.remove()
        raise HTTPException(409, str(err)) from None
    return _status(engine, row, job)


@router.post(
    "/{upload_id}/action/publish",
    response_model=UploadStatus,
    responses={
        **_NOT_FOUND,
        403: {"description": "Not your upload"},
        409: {"description": "Published already, being processed, or empty"},
    },
)
def publish_upload(
    request: Request,
    upload_id: UploadId,
    viewer: ViewerDep,
    engine: EngineDep,
    body: PublishRequest | None = None,
) -> UploadStatus:
    """Publish: the upload becomes immutable, and public at once or when its embargo ends."""
    body = body or PublishRequest()
    proc = _processor(request)
    row, job = _owned(engine, proc, upload_id, viewer, "publish")
    _check_changeable(row, proc, upload_id)
    if row is None or not _counts(engine, [upload_id])[upload_id][0]:
        raise HTTPException(409, f"upload {upload_id!r} has no files to publish")
    lifecycle.publish(engine, upload_id, viewer, embargo_months=body.embargo_months)
    return _status(engine, _row(engine, upload_id), job)


@router.post(
    "/{upload_id}/action/lift-embargo",
    response_model=UploadStatus,
    responses={
        **_NOT_FOUND,
        403: {"description": "Not your upload"},
        409: {"description": "Not published under an embargo"},
    },
)
def lift_embargo(upload_id: UploadId, request: Request, viewer: ViewerDep, engine: EngineDep):
    """End an upload's embargo now: it becomes public at once."""
    proc = _processor(request)
    row, job = _owned(engine, proc, upload_id, viewer, "lift the embargo of")
    if row is None or not row.published or row.embargo_until is None:
        raise HTTPException(409, f"upload {upload_id!r} is not published under an embargo")
    lifecycle.lift_embargo(engine, upload_id, viewer)
    return _status(engine, _row(engine, upload_id), job)


@router.post(
    "/{upload_id}/action/share",
    response_model=UploadStatus,
    responses={
        **_NOT_FOUND,
        403: {"description": "Not your upload"},
        409: {"description": "Being processed"},
    },
)
def share_upload(
    request: Request, upload_id: UploadId, body: ShareRequest, viewer: ViewerDep, engine: EngineDep
) -> UploadStatus:
    """Give another user read access to the upload (private or embargoed data included)."""
    proc = _processor(request)
    row, job = _owned(engine, proc, upload_id, viewer, "share")
    if row is None:
        raise HTTPException(409, f"upload {upload_id!r} is being processed; try again when done")
    try:
        member = get_user(engine, body.username)
    except LookupError:
        raise HTTPException(404, f"no user {body.username!r}") from None
    lifecycle.share(engine, upload_id, viewer, member.user_id)
    return _status(engine, row, job)


@router.delete(
    "/{upload_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={
        **_NOT_FOUND,
        403: {"description": "Not your upload"},
        409: {"description": "Published or being processed"},
    },
)
def delete_upload(
    request: Request, upload_id: UploadId, viewer: ViewerDep, engine: EngineDep, store: StoreDep
) -> Response:
    """Delete an unpublished upload with its entries and raw files."""
    proc = _processor(request)
    row, _ = _owned(engine, proc, upload_id, viewer, "delete")
    _check_changeable(row, proc, upload_id)
    if row is not None:
        if row.owner_id is None:  # processed without an owner: only admins reach here
            lifecycle.delete_upload(engine, store, upload_id, Viewer(is_admin=True))
        else:
            lifecycle.delete_upload(engine, store, upload_id, viewer)
    proc.jobs.pop(upload_id, None)
    forget_job(engine, upload_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
