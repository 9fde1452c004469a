"""Upload-relative paths: one normal form, and no way out of the upload."""

from __future__ import annotations

import posixpath


class UnsafePathError(ValueError):
    """A file name that is absolute, climbs out of its upload, or holds control characters."""


def safe_relpath(name: str) -> str:
    """Normalize an upload-relative path written with '/' or '\\'; reject any that could escape."""
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        raise UnsafePathError(f"file name {name!r} is empty or holds control characters")
    unified = name.replace("\\", "/")
    if unified.startswith("/") or (len(unified) > 1 and unified[1] == ":"):
        raise UnsafePathError(f"file name {name!r} is absolute; upload paths must be relative")
    parts = [p for p in unified.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise UnsafePathError(f"file name {name!r} leaves the upload folder")
    return posixpath.join(*parts)
