"""Field types and error handling shared by every router.

Strings that reach the database may hold no NUL (PostgreSQL refuses them) and must be valid
Unicode; date-times go out with their zone (the database keeps naive UTC). Bad input is always
a 4xx with the field named, never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
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


async def reject_nul(request: Request, call_next):
    """A NUL in the path or query string is never a valid id or value (and PostgreSQL refuses
    it): answer 400 before any route sees it."""
    raw = request.scope.get("raw_path", b"") + b"?" + request.scope.get("query_string", b"")
    if b"%00" in raw or b"\x00" in raw:
        return JSONResponse(status_code=400, content={"detail": "NUL characters are not allowed"})
    return await call_next(request)
