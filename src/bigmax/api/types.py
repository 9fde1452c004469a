"""Field types and error handling shared by every router.

Strings that reach the database may hold no NUL (PostgreSQL refuses them) and must be valid
Unicode; date-times go out with their zone (the database keeps naive UTC). Bad input is always
a 4xx with the field named, never a 500.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import AfterValidator


def db_text(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


DbText = Annotated[str, AfterValidator(db_text)]
UtcDatetime = Annotated[datetime, AfterValidator(as_utc)]


def encodable(value: Any) -> Any:
    """``value`` with strings UTF-8 cannot encode (lone surrogates) escaped."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {k: encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encodable(v) for v in value]
    if isinstance(value, Exception):
        return encodable(str(value))
    return value


async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's 422, but always writable: it echoes the input, which may hold a lone surrogate."""
    errors = jsonable_encoder(encodable(list(exc.errors())))
    return JSONResponse(status_code=422, content={"detail": errors})


class RejectNul:
    """A NUL in the path or query string is never a valid id or value (and PostgreSQL refuses
    it): answer 400 before any route sees it. Plain ASGI, so it costs nothing on the way out
    (an ``@app.middleware("http")`` function wraps every response body in a task)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path", b"") + b"?" + scope.get("query_string", b"")
            if b"%00" in raw or b"\x00" in raw:
                response = JSONResponse(
                    status_code=400, content={"detail": "NUL characters are not allowed"}
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _plain(value: Any) -> Any:
    """JSON for what ``json`` cannot write: date-times (ISO 8601) and numpy scalars."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_bytes(content: Any) -> bytes:
    """Compact JSON as UTF-8, like pydantic writes it (NaN and infinities as null), for
    responses built without a pydantic model on hot paths."""
    try:
        text = json.dumps(
            content, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_plain
        )
    except ValueError:
        text = json.dumps(
            _finite(content), separators=(",", ":"), ensure_ascii=False, default=_plain
        )
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escape it, as JSON allows
        return text.encode("utf-8", "backslashreplace")


def json_response(content: Any, status_code: int = 200) -> Response:
    """A JSON response whose content matches the route's declared model already (the route
    keeps ``response_model`` for the OpenAPI document; FastAPI validates nothing again)."""
    return Response(json_bytes(content), status_code=status_code, media_type="application/json")
