"""Request dependencies: the archive's engine and store, and who is asking.

Authentication goes through a list of ``Authenticator``s on ``app.state``. Bearer API tokens are
the built-in one; an OIDC authenticator can be appended later without touching the routes.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine

from bigmax.archive.access import ANONYMOUS, Viewer
from bigmax.archive.store import FileStore
from bigmax.archive.users import AuthError, User, user_for_token
from bigmax.config import Settings


class Authenticator(Protocol):
    """Turns a request into a user, None when the request carries no credentials of its kind,
    or raises AuthError when it carries bad ones. Credentials come in the Authorization header
    or a cookie: requests with neither are anonymous without asking any authenticator."""

    def authenticate(self, request: Request, engine: Engine) -> User | None: ...


class BearerTokenAuthenticator:
    """``Authorization: Bearer bmx_...`` API tokens, checked against the database each time."""

    def authenticate(self, request: Request, engine: Engine) -> User | None:
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise AuthError("use 'Authorization: Bearer <token>'")
        return user_for_token(engine, secret.strip())


# Dependencies that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in a
# worker thread, and each such hop costs more than the dependency itself.


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_store(request: Request) -> FileStore:
    return request.app.state.store


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def has_credentials(request: Request) -> bool:
    headers = request.headers
    return "authorization" in headers or "cookie" in headers


def authenticate(request: Request) -> User | None:
    """The authenticated user, or None for anonymous requests (blocking: it may ask the
    database); 401 for bad credentials."""
    engine = request.app.state.engine
    for auth in request.app.state.authenticators:
        try:
            user = auth.authenticate(request, engine)
        except AuthError as err:
            raise HTTPException(
                status_code=401, detail=str(err), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        if user is not None:
            return user
    return None


async def get_user(request: Request) -> User | None:
    """The authenticated user, or None for anonymous requests. Anonymous requests never
    leave the event loop; token checks (a database lookup) run in a worker thread."""
    if not has_credentials(request):
        return None
    return await run_in_threadpool(authenticate, request)


async def get_viewer(user: Annotated[User | None, Depends(get_user)]) -> Viewer:
    return user.viewer if user is not None else ANONYMOUS


async def require_user(user: Annotated[User | None, Depends(get_user)]) -> User:
    if user is None:
        raise HTTPException(
            status_code=401, detail="log in first", headers={"WWW-Authenticate": "Bearer"}
        )
    return user


EngineDep = Annotated[Engine, Depends(get_engine)]
StoreDep = Annotated[FileStore, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ViewerDep = Annotated[Viewer, Depends(get_viewer)]
UserDep = Annotated[User, Depends(require_user)]
