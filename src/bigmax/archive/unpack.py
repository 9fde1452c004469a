"""Unpack zip and tar uploads safely: no path traversal, no links, no archive bombs."""

from __future__ import annotations

import tarfile
import zipfile
from pathlib import Path

from bigmax.archive.paths import UnsafePathError, safe_relpath

MAX_TOTAL_BYTES = 32 * 1024**3  # NOMAD's upload limit
MAX_RATIO = 200  # uncompressed / compressed, per member and overall
MAX_MEMBERS = 1_000_000
CHUNK_SLACK = 1 << 20  # small archives may legitimately compress very well


class UnsafeArchiveError(ValueError):
    """An archive that would write outside its folder, or expand far beyond its size."""


def unpack_zip(archive: Path, target: Path, max_total: int = MAX_TOTAL_BYTES) -> list[str]:
    """Extract ``archive`` into ``target`` after checking every member; returns paths written."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise UnsafeArchiveError(f"{archive.name}: not a readable zip file ({err})") from err
    with zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        if len(infos) > MAX_MEMBERS:
            raise UnsafeArchiveError(f"{archive.name}: {len(infos)} members, limit {MAX_MEMBERS}")
        total = sum(i.file_size for i in infos)
        packed = max(1, sum(i.compress_size for i in infos))
        if total > max_total or total > MAX_RATIO * packed + CHUNK_SLACK:
            raise UnsafeArchiveError(
                f"{archive.name}: would expand to {total} bytes from {packed}; refusing a zip bomb"
            )
        names = []
        for info in infos:
            try:
                rel = safe_relpath(info.filename)
            except UnsafePathError as err:
                raise UnsafeArchiveError(f"{archive.name}: {err}") from err
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise UnsafeArchiveError(f"{archive.name}: member {info.filename!r} is a symlink")
            names.append((info, rel))
        written = []
        for info, rel in names:
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            budget = info.file_size
            with zf.open(info) as src, open(dest, "wb") as dst:
                while block := src.read(1 << 20):
                    budget -= len(block)
                    if budget < 0:  # the header lied about the size
                        raise UnsafeArchiveError(
                            f"{archive.name}: member {info.filename!r} is larger than declared"
                        )
                    dst.write(block)
            written.append(rel)
        return written


def unpack_tar(archive: Path, target: Path, max_total: int = MAX_TOTAL_BYTES) -> list[str]:
    """Extract a tar file (plain, gzip, bzip2 or xz) into ``target``; returns paths written.

    The archive is read in one streaming pass, and every member is checked before any of its
    bytes are written: only regular files and folders, no absolute or climbing names, and the
    running total must stay under ``max_total`` and ``MAX_RATIO`` times the archive's size, so a
    tar bomb stops after writing at most that much (the caller removes ``target``).
    """
    packed = max(1, archive.stat().st_size)
    budget = min(max_total, MAX_RATIO * packed + CHUNK_SLACK)
    try:
        tf = tarfile.open(archive, mode="r|*")
    except (tarfile.TarError, OSError) as err:
        raise UnsafeArchiveError(f"{archive.name}: not a readable tar file ({err})") from err
    written: list[str] = []
    total = 0
    try:
        with tf:
            for member in tf:
                if member.isdir():
                    continue
                if not member.isfile():
                    kind = "link" if member.issym() or member.islnk() else "special file"
                    raise UnsafeArchiveError(
                        f"{archive.name}: member {member.name!r} is a {kind}; only regular "
                        "files and folders are accepted"
                    )
                try:
                    rel = safe_relpath(member.name)
                except UnsafePathError as err:
                    raise UnsafeArchiveError(f"{archive.name}: {err}") from err
                if len(written) >= MAX_MEMBERS:
                    raise UnsafeArchiveError(f"{archive.name}: more than {MAX_MEMBERS} members")
                total += member.size
                if total > budget:
                    raise UnsafeArchiveError(
                        f"{archive.name}: would expand to more than {budget} bytes from "
                        f"{packed}; refusing a tar bomb"
                    )
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                src = tf.extractfile(member)
                with open(dest, "wb") as dst:
                    while block := src.read(1 << 20):
                        dst.write(block)
                written.append(rel)
    except (tarfile.TarError, EOFError) as err:
        raise UnsafeArchiveError(f"{archive.name}: broken tar file ({err})") from err
    except OSError as err:
        raise UnsafeArchiveError(f"{archive.name}: cannot unpack ({err.strerror or err})") from err
    return written
