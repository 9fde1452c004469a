"""Local accounts and bearer API tokens, with no external service.

Passwords are hashed with argon2id (argon2-cffi). API tokens are random 256-bit secrets; only
their sha256 is stored (a fast hash is right for high-entropy secrets), so a leaked database
gives no usable token. Tokens expire, and a revoked token is refused at once.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine

from bigmax.archive.access import Viewer, utcnow
from bigmax.archive.db import TokenRow, UserRow

_hasher = PasswordHasher()
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD = 8
MAX_TOKEN_DAYS = 365
TOKEN_PREFIX = "bmx_"


class AuthError(ValueError):
    """Bad credentials or an unusable token; the message never says which part was wrong."""


@dataclass(frozen=True)
class User:
    user_id: str
    username: str
    is_admin: bool
    created_at: datetime

    @property
    def viewer(self) -> Viewer:
        return Viewer(user_id=self.user_id, is_admin=self.is_admin)


def _user(row) -> User:
    return User(row.user_id, row.username, row.is_admin, row.created_at)


def create_user(engine: Engine, username: str, password: str, *, is_admin: bool = False) -> User:
    if not _USERNAME.match(username):
        raise ValueError(
            f"username {username!r}: use 1-64 letters, digits or the characters _ . @ -"
        )
    if len(password) < MIN_PASSWORD:
        raise ValueError(f"password: at least {MIN_PASSWORD} characters")
    with engine.begin() as conn:
        if conn.execute(select(UserRow.user_id).where(UserRow.username == username)).first():
            raise ValueError(f"username {username!r} is taken")
        row = {
            "user_id": secrets.token_hex(16),
            "username": username,
            "password_hash": _hasher.hash(password),
            "created_at": utcnow(),
            "is_admin": is_admin,
        }
        conn.execute(insert(UserRow).values(**row))
    return User(row["user_id"], username, is_admin, row["created_at"])


def get_user(engine: Engine, username: str) -> User:
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.username == username)).first()
    if row is None:
        raise LookupError(f"no user {username!r}")
    return _user(row)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        return [_user(r) for r in conn.execute(select(UserRow).order_by(UserRow.username))]


def authenticate(engine: Engine, username: str, password: str) -> User:
    """The user, if the password is right; AuthError otherwise (same message either way)."""
    with engine.connect() as conn:
        row = conn.execute(select(UserRow).where(UserRow.username == username)).first()
    try:
        if row is None:
            _hasher.hash(password)  # same work, so timing does not tell who exists
            raise VerificationError
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise AuthError("wrong username or password") from None
    if _hasher.check_needs_rehash(row.password_hash):
        with engine.begin() as conn:
            conn.execute(
                update(UserRow)
                .where(UserRow.user_id == row.user_id)
                .values(password_hash=_hasher.hash(password))
            )
    return _user(row)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Token:
    token_id: str
    name: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    secret: str | None = None  # only when just created


def create_token(engine: Engine, user: User, *, name: str = "", days: int = 30) -> Token:
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValueError(f"token lifetime: 1 to {MAX_TOKEN_DAYS} days, not {days}")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = Token(secrets.token_hex(8), name, now, now + timedelta(days=days), None, secret)
    with engine.begin() as conn:
        conn.execute(
            insert(TokenRow).values(
                token_id=token.token_id,
                user_id=user.user_id,
                token_hash=_digest(secret),
                name=name,
                created_at=now,
                expires_at=token.expires_at,
            )
        )
    return token


def list_tokens(engine: Engine, user: User) -> list[Token]:
    stmt = select(TokenRow).where(TokenRow.user_id == user.user_id).order_by(TokenRow.created_at)
    with engine.connect() as conn:
        return [
            Token(r.token_id, r.name, r.created_at, r.expires_at, r.revoked_at)
            for r in conn.execute(stmt)
        ]


def revoke_token(engine: Engine, user: User, token_id: str) -> None:
    with engine.begin() as conn:
        done = conn.execute(
            update(TokenRow)
            .where(
                TokenRow.token_id == token_id,
                TokenRow.user_id == user.user_id,
                TokenRow.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        ).rowcount
    if not done:
        raise LookupError(f"no active token {token_id!r} for {user.username}")


def user_for_token(engine: Engine, secret: str) -> User:
    """The owner of a valid token. Checked against the database on every call, so revocation
    takes effect at once."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise AuthError("invalid token")
    stmt = (
        select(
            UserRow.user_id,
            UserRow.username,
            UserRow.is_admin,
            UserRow.created_at,
            TokenRow.expires_at,
            TokenRow.revoked_at,
        )
        .join(TokenRow, TokenRow.user_id == UserRow.user_id)
        .where(TokenRow.token_hash == _digest(secret))
    )
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise AuthError("invalid, expired or revoked token")
    return _user(row)
