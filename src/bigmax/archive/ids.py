"""Stable ids: the same inputs always give the same id, so re-runs are idempotent."""

from __future__ import annotations

import base64
import hashlib


def _hash(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return base64.b32encode(digest[:20]).decode().lower()  # 32 characters, URL safe


def upload_id(name: str, owner_id: str | None = None) -> str:
    """Hashed from owner and name, so two users' uploads of the same name never collide."""
    return _hash("upload", owner_id or "", name)


def entry_id(upload: str, mainfile: str, child_key: str | None = None) -> str:
    return _hash("entry", upload, mainfile, child_key or "")
