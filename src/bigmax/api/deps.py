"""Request dependencies: the archive's engine and store, and who is asking.

Authentication goes through a list of ``Authenticator``s on ``app.state``. Bearer API tokens are
the built-in one; an OIDC authenticator can be appended later without touching the routes.
"""

from __future__ import annotations

from typing import Annotated, Protocol

from fastapi import Depends, HTTPException, Request
from sqlalchemy.engine import Engine

from bigmax.archive.access import ANONYMOUS, Viewer
from bigmax.archive.store import FileStore
from bigmax.archive.users import AuthError, User, user_for_token
from bigmax.config import Settings


class Authenticator(Protocol):
    """Turns a request into a user, None when the request carries no credentials of its kind,
    or raises AuthError when it carries bad ones."""

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


def get_engine(request: Request) -> Engine:
    return request.app.state.engine


def get_store(request: Request) -> FileStore:
    return request.app.state.store


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_user(request: Request) -> User | None:
    """The authenticated user, or None for anonymous requests."""
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


def get_viewer(user: Annotated[User | None, Depends(get_user)]) -> Viewer:
    return user.viewer if user is not None else ANONYMOUS


def require_user(user: Annotated[User | None, Depends(get_user)]) -> User:
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
