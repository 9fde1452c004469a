"""OPTIMADE response envelopes: meta, errors and fast JSON rendering.

Responses are plain dicts shaped like the ``optimade`` package's models (the tests validate them
against those models); building pydantic objects per request would cost more than the query.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import Response

import bigmax
from bigmax.search.optimade_properties import API_VERSION

MEDIA_TYPE = "application/vnd.api+json"
#: The OpenAPI schema our responses follow (a reference only; nothing is fetched).
SCHEMA_URL = "https://schemas.optimade.org/openapi/v1.2/optimade.json"
HEADERS = {"Access-Control-Allow-Origin": "*"}

PROVIDER = {
    "name": "BigMax",
    "description": "A FAIR archive for materials-science data",
    "prefix": "bigmax",
    "homepage": None,
}
IMPLEMENTATION = {
    "name": "bigmax",
    "version": bigmax.__version__,
    "source_url": None,
    "maintainer": None,
}

_TITLES = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    500: "Internal Server Error",
    501: "Not Implemented",
    553: "Version Not Supported",
}


class OptimadeError(Exception):
    """An error the client should see, with its HTTP status and a message naming the cause."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def base_url(request: Request) -> str:
    """The unversioned OPTIMADE base URL of this server, e.g. ``http://host:8000/optimade``."""
    return str(request.base_url).rstrip("/") + "/optimade"


def representation(request: Request) -> str:
    """The request as OPTIMADE's ``meta.query.representation``: path after the base, and query."""
    path = request.url.path
    marker = path.find("/optimade/")
    rest = path[marker + len("/optimade") :] if marker >= 0 else path
    parts = rest.split("/", 2)  # "", "v1", "structures..."
    rest = "/" + parts[2] if len(parts) > 2 else "/"
    query = request.url.query
    return f"{rest}?{query}" if query else rest


def meta(
    request: Request,
    *,
    more_data_available: bool = False,
    data_returned: int | None = None,
    data_available: int | None = None,
    warnings: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "query": {"representation": representation(request)},
        "api_version": API_VERSION,
        "more_data_available": more_data_available,
        "time_stamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "provider": PROVIDER,
        "implementation": IMPLEMENTATION,
        "schema": SCHEMA_URL,
    }
    if data_returned is not None:
        out["data_returned"] = data_returned
    if data_available is not None:
        out["data_available"] = data_available
    if warnings:
        out["warnings"] = warnings
    return out


def render(content: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return Response(body, status_code=status, media_type=MEDIA_TYPE, headers=HEADERS)


def render_page(data: str, links: dict[str, Any], meta: dict[str, Any]) -> Response:
    """A response whose ``data`` is JSON text already (resources serialized at ingest)."""
    tail = json.dumps(
        {"links": links, "meta": meta}, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return Response(
        '{"data":' + data + "," + tail[1:], media_type=MEDIA_TYPE, headers=HEADERS
    )


def error_response(request: Request, status: int, detail: str) -> Response:
    title = _TITLES.get(status, "Error")
    error = {"status": str(status), "title": title, "detail": detail}
    return render({"errors": [error], "meta": meta(request)}, status)
