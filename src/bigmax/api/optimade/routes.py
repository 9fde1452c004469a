"""OPTIMADE API v1.2 at /optimade (and the same under /optimade/v1.2).

Endpoints: /versions, /v1/info, /v1/info/{structures,references}, /v1/structures[/{id}],
/v1/references[/{id}], /v1/links; any other /optimade/vN gives 553. Errors use OPTIMADE's
error document. Access control is the REST API's: anonymous requests see public entries only,
a bearer token adds the user's own and shared uploads. See docs/optimade.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse, Response
from lark import Tree
from optimade.models import ReferenceResourceAttributes

from bigmax.api.deps import authenticate, has_credentials
from bigmax.api.optimade import query as q
from bigmax.api.optimade.responses import (
    OptimadeError,
    base_url,
    error_response,
    meta,
    render,
    render_page,
)
from bigmax.archive.access import ANONYMOUS, Viewer
from bigmax.search.cache import CountCache, WouldBlock
from bigmax.search.errors import FilterError
from bigmax.search.optimade_filter import parse_filter
from bigmax.search.optimade_properties import API_VERSION, structure_properties

#: Versioned prefixes served; /optimade/v1 is the canonical one.
VERSION_PREFIXES = ("/optimade/v1", "/optimade/v1.2")
ENTRY_TYPES = ("structures", "references")
_VERSION = re.compile(r"^v\d+(\.\d+){0,2}$")

router = APIRouter(tags=["optimade"])
versioned = APIRouter()


def _viewer(request: Request) -> Viewer:
    if not has_credentials(request):
        return ANONYMOUS
    try:
        user = authenticate(request)
    except HTTPException as err:
        raise OptimadeError(err.status_code, str(err.detail)) from None
    return user.viewer if user is not None else ANONYMOUS


def _cache(request: Request) -> CountCache:
    state = request.app.state
    cache = getattr(state, "counts", None)
    if cache is None:
        cache = state.counts = CountCache()
    return cache


def _guard(request: Request, handler: Callable[[], Response]) -> Response:
    """Runs ``handler``; OPTIMADE errors (and unexpected ones) become OPTIMADE error documents."""
    try:
        return handler()
    except OptimadeError as err:
        return error_response(request, err.status, err.detail)


def _versioned_base(request: Request) -> str:
    path = request.url.path
    for prefix in sorted(VERSION_PREFIXES, key=len, reverse=True):
        if path.startswith(prefix + "/") or path == prefix:
            return str(request.base_url).rstrip("/") + prefix
    return base_url(request) + "/v1"


# -- unversioned ------------------------------------------------------------------------------


@router.get("/optimade/versions", response_class=PlainTextResponse)
def versions() -> Response:
    """The major API versions served, as CSV."""
    return Response(
        "version\n1\n",
        media_type="text/csv; header=present",
        headers={"Access-Control-Allow-Origin": "*"},
    )


# -- info -------------------------------------------------------------------------------------


@versioned.get("/info")
def info(request: Request) -> Response:
    def run() -> Response:
        root = base_url(request)
        attributes = {
            "api_version": API_VERSION,
            "available_api_versions": [{"url": f"{root}/v1/", "version": API_VERSION}],
            "formats": ["json"],
            "available_endpoints": ["info", "links", *ENTRY_TYPES],
            "entry_types_by_format": {"json": list(ENTRY_TYPES)},
            "is_index": False,
        }
        data = {"type": "info", "id": "/", "attributes": attributes}
        return render({"data": data, "meta": meta(request)})

    return _guard(request, run)


def _reference_properties() -> dict[str, dict[str, Any]]:
    fields = ReferenceResourceAttributes.model_fields
    props: dict[str, dict[str, Any]] = {
        "id": {"description": "The reference's id.", "type": "string", "sortable": True},
        "type": {"description": "Always 'references'.", "type": "string", "sortable": True},
    }
    for name, f in fields.items():
        kind = "list" if name in ("authors", "editors") else "string"
        if name == "last_modified":
            kind = "timestamp"
        text = (f.description or name).strip().split("\n\n", 1)[0]
        props[name] = {"description": text, "type": kind, "sortable": False}
    return props


@versioned.get("/info/{entry_type}")
def entry_info(request: Request, entry_type: str) -> Response:
    def run() -> Response:
        if entry_type == "structures":
            props = structure_properties()
            description = "Atomic structures of the archive's entries, with BigMax properties."
        elif entry_type == "references":
            props = _reference_properties()
            description = "Bibliographic references (none are served yet)."
        else:
            raise OptimadeError(
                404, f"unknown entry type {entry_type!r}; known: structures, references"
            )
        data = {
            "id": entry_type,
            "type": "info",
            "description": description,
            "properties": props,
            "formats": ["json"],
            "output_fields_by_format": {"json": list(props)},
        }
        return render({"data": data, "meta": meta(request)})

    return _guard(request, run)


# -- structures -------------------------------------------------------------------------------


async def _cheap_or_threaded(request: Request, run: Callable[[bool], Response]) -> Response:
    """``run(True)`` right in the event loop when it is cheap (cached counts, a page off an
    index: the hop to a worker thread would cost more); otherwise ``run(False)`` in a thread.
    Requests with credentials check them against the database: always in a thread."""
    if not has_credentials(request):
        try:
            return _guard(request, lambda: run(True))
        except WouldBlock:
            pass
    return await run_in_threadpool(_guard, request, lambda: run(False))


@versioned.get("/structures")
async def structures(request: Request) -> Response:
    def run(cheap_only: bool) -> Response:
        params = dict(request.query_params)
        page = q.list_structures(
            request.app.state.engine, _viewer(request), params, _cache(request), cheap_only
        )
        links: dict[str, Any] = {"next": None}
        if page.next_params is not None:
            links["next"] = f"{_versioned_base(request)}/structures?{urlencode(page.next_params)}"
        m = meta(
            request,
            more_data_available=page.more,
            data_returned=page.data_returned,
            data_available=page.data_available,
            warnings=page.warnings,
        )
        return render_page("[" + ",".join(page.data) + "]", links, m)

    return await _cheap_or_threaded(request, run)


@versioned.get("/structures/{entry_id}")
async def structure(request: Request, entry_id: str) -> Response:
    def run(cheap_only: bool) -> Response:
        params = dict(request.query_params)
        engine = request.app.state.engine
        resource, available = q.get_structure(
            engine, _viewer(request), entry_id, params, _cache(request), cheap_only
        )
        m = meta(request, data_returned=1, data_available=available)
        return render_page(resource, {"next": None}, m)

    return await _cheap_or_threaded(request, run)


# -- references -------------------------------------------------------------------------------


def _check_reference_filter(text: str | None) -> None:
    """Validates a filter on references: syntax, and that its properties exist."""
    if not text or not text.strip():
        return
    try:
        tree = parse_filter(text)
    except FilterError as err:
        raise OptimadeError(400, str(err)) from None
    known = set(_reference_properties())
    for node in tree.iter_subtrees():
        if isinstance(node, Tree) and node.data == "property":
            name = ".".join(str(t) for t in node.children)
            if name.startswith("_") or name in known:
                continue
            raise OptimadeError(400, f"filter: unknown property {name!r} of references")


@versioned.get("/references")
def references(request: Request) -> Response:
    def run() -> Response:
        params = dict(request.query_params)
        q.check_params(params, q.LIST_PARAMS)
        _check_reference_filter(params.get("filter"))
        m = meta(request, data_returned=0, data_available=0)
        return render({"data": [], "links": {"next": None}, "meta": m})

    return _guard(request, run)


@versioned.get("/references/{ref_id}")
def reference(request: Request, ref_id: str) -> Response:
    def run() -> Response:
        raise OptimadeError(404, f"no reference with id {ref_id!r}")

    return _guard(request, run)


# -- links ------------------------------------------------------------------------------------


@versioned.get("/links")
def links(request: Request) -> Response:
    def run() -> Response:
        q.check_params(dict(request.query_params), q.LIST_PARAMS)
        root = {
            "type": "links",
            "id": "bigmax",
            "attributes": {
                "name": "BigMax",
                "description": "This BigMax archive (a standalone OPTIMADE implementation)",
                "base_url": base_url(request),
                "homepage": None,
                "link_type": "root",
            },
        }
        m = meta(request, data_returned=1, data_available=1)
        return render({"data": [root], "links": {"next": None}, "meta": m})

    return _guard(request, run)


for _prefix in VERSION_PREFIXES:
    router.include_router(versioned, prefix=_prefix)


@router.get("/optimade/{version}/{rest:path}", include_in_schema=False)
def unknown(request: Request, version: str, rest: str) -> Response:
    """553 for API versions we do not serve; 404 for unknown paths under served ones."""
    if f"/optimade/{version}" in VERSION_PREFIXES:
        return error_response(request, 404, f"no OPTIMADE endpoint {request.url.path!r}")
    if _VERSION.match(version):
        return error_response(
            request, 553, f"OPTIMADE API version {version!r} is not served; use /optimade/v1"
        )
    return error_response(request, 404, f"no OPTIMADE endpoint {request.url.path!r}")
