"""/api/v1/auth: trade a username and password for a bearer token, and manage your tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request, status
from pydantic import BaseModel, Field

from bigmax.api.deps import EngineDep, UserDep
from bigmax.api.throttle import LoginThrottle
from bigmax.api.types import DbText, UtcDatetime
from bigmax.archive.access import utcnow
from bigmax.archive.users import MAX_TOKEN_DAYS, AuthError, authenticate, create_token, list_tokens
from bigmax.archive.users import revoke_token as revoke

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])


class TokenRequest(BaseModel):
    username: DbText = Field(min_length=1, max_length=64)
    password: DbText = Field(min_length=1, max_length=1024)
    name: DbText = Field("", max_length=128, description="A label to tell your tokens apart.")
    days: int = Field(30, ge=1, le=MAX_TOKEN_DAYS, description="Lifetime in days.")


class NewToken(BaseModel):
    token: str = Field(description="The secret: send it as 'Authorization: Bearer <token>'.")
    token_id: str
    name: str
    expires_at: UtcDatetime


class TokenInfo(BaseModel):
    token_id: str
    name: str
    created_at: UtcDatetime
    expires_at: UtcDatetime
    revoked_at: UtcDatetime | None
    active: bool


class Me(BaseModel):
    user_id: str
    username: str
    is_admin: bool
    created_at: UtcDatetime


_UNAUTHORIZED = {401: {"description": "No, wrong, expired or revoked credentials"}}


@router.post(
    "/token",
    response_model=NewToken,
    status_code=status.HTTP_201_CREATED,
    responses={**_UNAUTHORIZED, 429: {"description": "Too many failed logins; see Retry-After"}},
)
def new_token(body: TokenRequest, engine: EngineDep, request: Request) -> NewToken:
    """A new API token. The secret is shown once; only its hash is stored. After
    repeated wrong passwords for a username, answers 429 for a minute."""
    throttle: LoginThrottle = request.app.state.login_throttle
    wait = throttle.retry_after(body.username)
    if wait:
        raise HTTPException(
            429,
            f"too many failed logins; try again in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    try:
        user = authenticate(engine, body.username, body.password)
    except AuthError as err:
        throttle.failed(body.username)
        raise HTTPException(401, str(err), headers={"WWW-Authenticate": "Bearer"}) from None
    throttle.succeeded(body.username)
    token = create_token(engine, user, name=body.name, days=body.days)
    return NewToken(
        token=token.secret or "",
        token_id=token.token_id,
        name=token.name,
        expires_at=token.expires_at,
    )


@router.get("/me", response_model=Me, responses=_UNAUTHORIZED)
def me(user: UserDep) -> Me:
    """Who the token belongs to."""
    return Me(
        user_id=user.user_id,
        username=user.username,
        is_admin=user.is_admin,
        created_at=user.created_at,
    )


@router.get("/tokens", response_model=list[TokenInfo], responses=_UNAUTHORIZED)
def tokens(user: UserDep, engine: EngineDep) -> list[TokenInfo]:
    """Your tokens, oldest first, without their secrets."""
    now = utcnow()
    return [
        TokenInfo(
            token_id=t.token_id,
            name=t.name,
            created_at=t.created_at,
            expires_at=t.expires_at,
            revoked_at=t.revoked_at,
            active=t.revoked_at is None and t.expires_at > now,
        )
        for t in list_tokens(engine, user)
    ]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_UNAUTHORIZED, 404: {"description": "No active token with this id is yours"}},
)
def revoke_token(
    token_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9A-Za-z_-]+$")],
    user: UserDep,
    engine: EngineDep,
) -> None:
    """Revoke one of your tokens; it is refused from the next request on."""
    try:
        revoke(engine, user, token_id)
    except LookupError as err:
        raise HTTPException(404, str(err)) from None
