"""Entries: search, single entries, their processed archives, raw files, zips and exports.

Every read goes through ``bigmax.archive.access``: a search may include embargoed entries only
when everything it touches (query, filter, sort, output fields, aggregations) is one of the
fields they let anyone see; every other read (archives, raw files, exports) is limited to the
entries the viewer may fully read. Hidden things answer 404, like things that do not exist.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from sqlalchemy import select
from sqlalchemy.engine import Engine

from bigmax.api.deps import EngineDep, StoreDep, ViewerDep
from bigmax.api.types import json_response
from bigmax.archive.access import (
    EMBARGO_FINDABLE,
    Viewer,
    entry_scope,
    findable_entry_scope,
    search_scope,
)
from bigmax.archive.catalog import archives_for
from bigmax.archive.db import ArchiveRow, EntryRow, RawFileRow, archive_generation
from bigmax.archive.export import DrainBuffer, iter_export
from bigmax.archive.store import CHUNK, FileStore
from bigmax.search import (
    FIELDS,
    SearchRequest,
    Selection,
    get_field,
    iter_entry_pks,
    search,
    search_request,
)
from bigmax.search.cache import CountCache, WouldBlock
from bigmax.search.query import DEFAULT_FIELDS

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api/v1", tags=["entries"], responses={404: {"description": "Not found"}}
)

#: Stands for a field we cannot name (an OPTIMADE filter string): never embargo-findable.
_OPAQUE = "<filter>"
_FINDABLE = frozenset(f.name for n in EMBARGO_FINDABLE if (f := get_field(n)) is not None)
SUMMARY_FIELDS = tuple(f.name for f in FIELDS)
FINDABLE_SUMMARY_FIELDS = tuple(n for n in SUMMARY_FIELDS if n in _FINDABLE)

# -- response models ---------------------------------------------------------------------------

_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "datetime": datetime,
    "elements": list[str],
}


def _describe(f) -> str:
    unit = f" Unit: {f.unit} (SI)." if f.unit else ""
    return f"{f.description}.{unit} Path: {f.path}."


EntryData = create_model(
    "EntryData",
    __config__=ConfigDict(extra="allow"),
    __doc__="The searchable quantities of one entry, SI units. Only the fields asked for in "
    "`required` are present; a name given as a path comes back under that path.",
    **{f.name: (_TYPES[f.kind] | None, Field(None, description=_describe(f))) for f in FIELDS},
)


class EntriesResponse(BaseModel):
    """One page of a search, with the total and the aggregations over all matches."""

    total: int | None = Field(description="Matching entries the viewer may see (None if not asked)")
    data: list[EntryData]  # type: ignore[valid-type]
    next_page_after_value: str | None = Field(
        description="Pass back as pagination.page_after_value for the next page; None at the end"
    )
    aggregations: dict[str, dict[str, Any]] = Field(default_factory=dict)


# -- access ------------------------------------------------------------------------------------


def query_fields(query: Any) -> set[str]:
    """The field names a JSON query touches: keys without ``:op``, through and/or/not."""
    found: set[str] = set()

    def walk(q: Any) -> None:
        if not isinstance(q, Mapping):
            return
        for key, value in q.items():
            if key in ("and", "or"):
                for sub in value if isinstance(value, list | tuple) else []:
                    walk(sub)
            elif key == "not":
                walk(value)
            elif key == "optimade_filter":
                found.add(_OPAQUE)
            else:
                found.add(str(key).partition(":")[0])

    walk(query)
    return found


def _canonical(name: str) -> str:
    f = get_field(name)
    return f.name if f is not None else name


def request_fields(request: SearchRequest) -> set[str]:
    """Every field a search request touches, by canonical name; ``_OPAQUE`` for a filter."""
    names = query_fields(request.query)
    if request.filter and request.filter.strip():
        names.add(_OPAQUE)
    names.add(request.pagination.order_by)
    names.update(DEFAULT_FIELDS if request.required is None else request.required)
    for agg in request.aggregations.values():
        for kind in ("terms", "histogram", "min_max", "statistics"):
            if (spec := getattr(agg, kind)) is not None:
                names.add(spec.quantity)
    return {_canonical(n) for n in names}


def request_scope(viewer: Viewer, request: SearchRequest):
    return search_scope(viewer, request_fields(request))


# -- search ------------------------------------------------------------------------------------


def _counts(request: Request) -> CountCache:
    state = request.app.state
    cache = getattr(state, "counts", None)
    if cache is None:
        cache = state.counts = CountCache()
    return cache


def _run(
    request: Request, engine: Engine, viewer: Viewer, body: SearchRequest, cheap_only: bool = False
) -> Response:
    """The search as a JSON response. Rows come from SQL as plain values already shaped like
    ``EntriesResponse``, so they are written straight to JSON, not through pydantic models.
    The total is cached per archive generation, viewer, scope and selection."""
    fields = request_fields(body)
    findable = fields <= _FINDABLE
    selection = json.dumps([body.query, body.filter], sort_keys=True, default=str)
    scope = search_scope(viewer, fields)
    counts = _counts(request)
    if cheap_only:  # one connection for all (aggregations, which want the engine, are not cheap)
        with engine.connect() as conn:
            key = (archive_generation(conn), viewer.user_id, viewer.is_admin, findable, selection)
            result = search_request(conn, body, scope, counts, key, cheap_only=True)
    else:
        with engine.connect() as conn:
            generation = archive_generation(conn)
        key = (generation, viewer.user_id, viewer.is_admin, findable, selection)
        result = search_request(engine, body, scope, counts=counts, count_key=key)
    return json_response(
        {
            "total": result.total,
            "data": result.data,
            "next_page_after_value": result.next_page_after_value,
            "aggregations": result.aggregations,
        }
    )


@router.post(
    "/entries/query",
    response_model=EntriesResponse,
    response_model_exclude_unset=True,
    responses={400: {"description": "A query, field or aggregation the API cannot run"}},
)
async def query_entries(
    request: Request, body: SearchRequest, engine: EngineDep, viewer: ViewerDep
) -> EntriesResponse:
    """Search entries: one page of `data`, the `total` and `aggregations` over all matches.

    Values are in SI units. Embargoed entries take part only when the query, sort, `required`
    and aggregations use nothing but formula, elements and space group fields."""
    return await _answer(request, engine, viewer, body)


async def _answer(request: Request, engine: Engine, viewer: Viewer, body: SearchRequest):
    """Cheap searches (a cached total, a page off an index) run right here in the event loop:
    a hop to a worker thread costs more than they do. Anything slower runs in a thread."""
    try:
        return _run(request, engine, viewer, body, cheap_only=True)
    except WouldBlock:
        return await run_in_threadpool(_run, request, engine, viewer, body)


_PARAMS = ("page_size", "order_by", "order", "page_after_value", "required")


def _param_value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


@router.get(
    "/entries",
    response_model=EntriesResponse,
    response_model_exclude_unset=True,
    responses={400: {"description": "A query the API cannot run"}},
)
async def list_entries(
    request: Request,
    engine: EngineDep,
    viewer: ViewerDep,
    page_size: int = 10,
    order_by: str = "entry_id",
    order: Literal["asc", "desc"] = "asc",
    page_after_value: str | None = None,
    required: Annotated[list[str] | None, Query()] = None,
) -> EntriesResponse:
    """Search by query parameters: `?elements=Ga&elements=O&band_gap:gt=1 eV&page_size=5`.

    Every other parameter is a condition, `field` or `field:op`; repeating one means all of its
    values (like a list in the JSON query)."""
    query: dict[str, Any] = {}
    for key, text in request.query_params.multi_items():
        if key in _PARAMS:
            continue
        value = _param_value(text)
        if key in query:
            prev = query[key]
            query[key] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            query[key] = value
    try:
        body = SearchRequest(
            query=query or None,
            pagination={
                "page_size": page_size,
                "order_by": order_by,
                "order": order,
                "page_after_value": page_after_value,
            },
            required=required,
        )
    except ValidationError as err:  # FastAPI's 422 document, as the OpenAPI schema says
        errors = [
            {**e, "loc": ("query", *e["loc"][1:])} if e["loc"][:1] == ("pagination",) else e
            for e in err.errors(include_url=False)
        ]
        raise RequestValidationError(errors) from None
    return await _answer(request, engine, viewer, body)


def _one(engine: Engine, entry_id: str, scope, fields: tuple[str, ...]) -> dict | None:
    result = search(
        engine, {"entry_id": entry_id}, scope=scope, required=fields, page_size=1, total=False
    )
    return result.data[0] if result.data else None


@router.get("/entries/{entry_id}", response_model=EntryData, response_model_exclude_unset=True)
def get_entry(entry_id: str, engine: EngineDep, viewer: ViewerDep) -> EntryData:  # type: ignore[valid-type]
    """The entry's searchable quantities (SI). For an embargoed entry the viewer may not read,
    only its formula, elements and space group."""
    row = _one(engine, entry_id, entry_scope(viewer), SUMMARY_FIELDS)
    if row is None:
        row = _one(engine, entry_id, findable_entry_scope(viewer), FINDABLE_SUMMARY_FIELDS)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no entry {entry_id!r}")
    return EntryData(**row)


@router.get("/entries/{entry_id}/archive", response_model=dict[str, Any])
def get_archive(entry_id: str, engine: EngineDep, viewer: ViewerDep) -> Response:
    """The whole processed entry (metadata, results, provenance) as stored, in SI units."""
    stmt = (
        select(ArchiveRow.data)
        .join(EntryRow, EntryRow.pk == ArchiveRow.entry_pk)
        .where(EntryRow.entry_id == entry_id, entry_scope(viewer))
    )
    with engine.connect() as conn:
        data = conn.execute(stmt).scalar()
    if data is None:
        raise HTTPException(status_code=404, detail=f"no entry {entry_id!r}")
    # stored as JSON at ingest: served as it is, with no decode and encode per request
    return Response(data, media_type="application/json")


# -- raw files ---------------------------------------------------------------------------------


def _disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _file_chunks(store: FileStore, upload_id: str, path: str) -> Iterator[bytes]:
    with store.open(upload_id, path) as fh:
        while block := fh.read(CHUNK):
            yield block


def _stream_file(store: FileStore, upload_id: str, path: str, size: int | None):
    if not store.exists(upload_id, path):
        log.error("raw file %s/%s is recorded but missing from the store", upload_id, path)
        raise HTTPException(status_code=404, detail=f"raw file {path!r} is missing")
    headers = {"Content-Disposition": _disposition(path.rsplit("/", 1)[-1])}
    if size is not None:
        headers["Content-Length"] = str(size)
    return StreamingResponse(
        _file_chunks(store, upload_id, path),
        media_type="application/octet-stream",
        headers=headers,
    )


_FILE = {200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes"}}


@router.get("/entries/{entry_id}/raw", response_class=StreamingResponse, responses=_FILE)
def get_entry_raw(entry_id: str, engine: EngineDep, store: StoreDep, viewer: ViewerDep):
    """The entry's mainfile, byte for byte, as a download."""
    stmt = (
        select(EntryRow.upload_id, EntryRow.mainfile, RawFileRow.size)
        .outerjoin(
            RawFileRow,
            (RawFileRow.upload_id == EntryRow.upload_id) & (RawFileRow.path == EntryRow.mainfile),
        )
        .where(EntryRow.entry_id == entry_id, entry_scope(viewer))
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        raise HTTPException(status_code=404, detail=f"no entry {entry_id!r}")
    return _stream_file(store, row.upload_id, row.mainfile, row.size)


_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so the same selection always gives the same zip


def _mainfiles(engine: Engine, body: Selection, viewer: Viewer) -> Iterator[tuple[str, str, int]]:
    """(upload id, mainfile, size) of the readable matches, each file once."""
    seen: set[tuple[str, str]] = set()
    scope = entry_scope(viewer)
    for pks in iter_entry_pks(engine, body.query, body.filter, scope, chunk=1000):
        stmt = (
            select(EntryRow.upload_id, EntryRow.mainfile, RawFileRow.size)
            .join(
                RawFileRow,
                (RawFileRow.upload_id == EntryRow.upload_id)
                & (RawFileRow.path == EntryRow.mainfile),
            )
            .where(EntryRow.pk.in_(pks))
            .distinct()
        )
        with engine.connect() as conn:
            rows = sorted(tuple(r) for r in conn.execute(stmt))
        for upload_id, mainfile, size in rows:
            if (upload_id, mainfile) not in seen:
                seen.add((upload_id, mainfile))
                yield upload_id, mainfile, size


def zip_stream(store: FileStore, files: Iterable[tuple[str, str, int]]) -> Iterator[bytes]:
    """A zip of ``files`` as ``<upload_id>/<path>``, written into a small buffer that is
    drained after every block, so memory stays flat whatever the size."""
    sink = DrainBuffer()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for upload_id, path, size in files:
            try:
                src = store.open(upload_id, path)
            except FileNotFoundError:
                log.error("raw file %s/%s is recorded but missing; left out", upload_id, path)
                continue
            info = zipfile.ZipInfo(f"{upload_id}/{path}", date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.file_size = size
            with src, zf.open(info, "w") as dst:
                while block := src.read(CHUNK):
                    dst.write(block)
                    if out := sink.drain():
                        yield out
            if out := sink.drain():
                yield out
    yield sink.drain()


@router.post(
    "/entries/raw/query",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "A zip of mainfiles"}},
)
def query_raw(body: Selection, engine: EngineDep, store: StoreDep, viewer: ViewerDep):
    """A zip of the mainfiles of every matching entry the viewer may read, streamed; each
    file is `<upload_id>/<path>` and appears once however many entries it holds."""
    return StreamingResponse(
        zip_stream(store, _mainfiles(engine, body, viewer)),
        media_type="application/zip",
        headers={"Content-Disposition": _disposition("entries.zip")},
    )


# -- exports -----------------------------------------------------------------------------------

ExportFormat = Literal["parquet", "jsonl", "csv", "extxyz"]
_MEDIA = {
    "parquet": "application/vnd.apache.parquet",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "extxyz": "text/plain; charset=utf-8",
}


def _archives(engine: Engine, body: Selection, viewer: Viewer) -> Iterator[dict[str, Any]]:
    for pks in iter_entry_pks(engine, body.query, body.filter, entry_scope(viewer), chunk=500):
        yield from archives_for(engine, pks)


@router.post(
    "/entries/export",
    response_class=StreamingResponse,
    responses={200: {"content": {m: {} for m in _MEDIA.values()}, "description": "The export"}},
)
def export_entries(
    body: Selection,
    engine: EngineDep,
    viewer: ViewerDep,
    fmt: Annotated[ExportFormat, Query(alias="format")] = "jsonl",
):
    """The matching entries the viewer may read, streamed as Parquet, CSV (columns named
    `name (unit)`, eV and angstrom), JSON lines (whole archives, SI) or extended XYZ."""
    return StreamingResponse(
        iter_export(_archives(engine, body, viewer), fmt),
        media_type=_MEDIA[fmt],
        headers={"Content-Disposition": _disposition(f"entries.{fmt}")},
    )
