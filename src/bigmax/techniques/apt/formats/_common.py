"""Shared pieces of the binary readers: byte-swapping kernels and size checks."""

from __future__ import annotations

import mmap
import os
import sys
from pathlib import Path

import numba
import numpy as np

from bigmax.techniques.apt.ions import APTFormatError


@numba.njit(parallel=True, cache=True)
def _bswap_cols(src, c0, out):  # pragma: no cover - compiled
    n, k = out.shape
    for i in numba.prange(n):
        for j in range(k):
            v = np.uint32(src[i, c0 + j])
            out[i, j] = (
                ((v >> np.uint32(24)) & np.uint32(0xFF))
                | ((v >> np.uint32(8)) & np.uint32(0xFF00))
                | ((v << np.uint32(8)) & np.uint32(0xFF0000))
                | ((v << np.uint32(24)) & np.uint32(0xFF000000))
            )


@numba.njit(parallel=True, cache=True, nogil=True)
def _bswap_split(src, xyz, mq):  # pragma: no cover - compiled
    n = mq.shape[0]
    for i in numba.prange(n):
        for j in range(4):
            v = np.uint32(src[i, j])
            w = (
                ((v >> np.uint32(24)) & np.uint32(0xFF))
                | ((v >> np.uint32(8)) & np.uint32(0xFF00))
                | ((v << np.uint32(8)) & np.uint32(0xFF0000))
                | ((v << np.uint32(24)) & np.uint32(0xFF000000))
            )
            if j < 3:
                xyz[i, j] = w
            else:
                mq[i] = w


def be_xyz_mq(words: np.ndarray, chunk: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """xyz (n, 3) and m/q (n,) from big-endian (x, y, z, m/q, ...) records in one pass."""
    n = words.shape[0]
    xyz = np.empty((n, 3), np.float32)
    mq = np.empty(n, np.float32)
    xv, mv = xyz.view(np.uint32), mq.view(np.uint32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        _bswap_split(words[start:stop], xv[start:stop], mv[start:stop])
    return xyz, mq


def stream_xyz_mq(
    path: str | os.PathLike, offset: int, width: int, start: int, stop: int,
    chunk: int = 1 << 20,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """xyz and m/q of records start..stop, read with large sequential reads.

    A reader thread fills one buffer while numba (without the GIL) swaps the other, so a cold
    read overlaps the disk with the conversion; large ``readinto`` calls stream faster than
    page faults on a memory map.
    """
    from concurrent.futures import ThreadPoolExecutor

    n = max(stop - start, 0)
    xyz = np.empty((n, 3), np.float32)
    mq = np.empty(n, np.float32)
    if n == 0:
        return xyz, mq
    xv, mv = xyz.view(np.uint32), mq.view(np.uint32)
    bufs = [np.empty((min(chunk, n), width), np.uint32) for _ in range(2)]
    with open(path, "rb", buffering=0) as fh, ThreadPoolExecutor(1) as pool:
        fh.seek(offset + start * width * 4)

        def fill(buf: np.ndarray, m: int) -> int:
            view = memoryview(buf[:m]).cast("B")
            got = 0
            while got < len(view):
                k = fh.readinto(view[got:])
                if not k:
                    raise APTFormatError(path, offset + (start * width * 4) + got,
                                         "file ended while reading")  # fmt: skip
                got += k
            return m

        todo = list(range(0, n, chunk))
        pending = pool.submit(fill, bufs[0], min(chunk, n))
        for i, a in enumerate(todo):
            m = pending.result()
            if i + 1 < len(todo):
                nxt = todo[i + 1]
                pending = pool.submit(fill, bufs[(i + 1) % 2], min(chunk, n - nxt))
            _bswap_split(bufs[i % 2][:m], xv[a : a + m], mv[a : a + m])
    return xyz, mq


def be_columns(words: np.ndarray, c0: int, k: int, dtype: str, chunk: int = 1 << 22) -> np.ndarray:
    """Columns c0..c0+k of a big-endian uint32 record array as a native (n, k) array.

    ``words`` is the record array viewed as native uint32 (usually a memmap); the swap runs in
    parallel numba, a few million records at a time so page faults overlap with work.
    """
    n = words.shape[0]
    out = np.empty((n, k), dtype=dtype)
    view = out.view(np.uint32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        populate(words[start:stop])
        _bswap_cols(words[start:stop], c0, view[start:stop])
        populate(words[start:stop], mmap.MADV_DONTNEED)  # unmap again: RSS stays one chunk
    return out


MADV_POPULATE_READ = getattr(mmap, "MADV_POPULATE_READ", 22)  # Linux >= 5.14


def populate(rows: np.ndarray, advice: int = MADV_POPULATE_READ) -> None:
    """Map the pages under ``rows`` (a slice of a file map) in one kernel call.

    A strided column touches every page of the records anyway; populating them in bulk costs
    far less than one page fault per 4 KB. Best effort: older kernels just fault as usual.
    With ``MADV_DONTNEED`` it unmaps them instead (the page cache keeps the data).
    """
    base = rows
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None) if not isinstance(base, memoryview) else base.obj
    if base is None or rows.size == 0 or sys.platform != "linux":
        return
    start = rows.ctypes.data - np.frombuffer(base, np.uint8, count=1).ctypes.data
    end = start + rows.shape[0] * rows.strides[0]
    page = mmap.PAGESIZE
    lo = start - start % page
    if advice == mmap.MADV_DONTNEED:  # only whole pages inside the rows
        lo = lo + page if lo < start else lo
        end -= end % page
        if end <= lo:
            return
    try:
        base.madvise(advice, lo, min(end, len(base)) - lo)
    except (OSError, ValueError):
        pass


def file_size(path: str | os.PathLike) -> int:
    try:
        return os.path.getsize(path)
    except OSError as err:
        raise APTFormatError(path, 0, f"cannot read file: {err.strerror}") from None


def record_memmap(
    path: str | os.PathLike, offset: int, record: int, dtype: str = "<u4"
) -> tuple[np.ndarray, int]:
    """Map fixed-size records after ``offset`` bytes as (n, record/itemsize); check the size."""
    size = file_size(path)
    if size < offset:
        raise APTFormatError(path, size, f"file ends inside the {offset}-byte header")
    body = size - offset
    if body % record:
        good = offset + body - body % record
        raise APTFormatError(
            path,
            good,
            f"file size {size} leaves {body % record} trailing bytes after whole {record}-byte "
            "records (truncated file or wrong format)",
        )
    n = body // record
    width = record // np.dtype(dtype).itemsize
    if n == 0:
        return np.zeros((0, width), dtype=dtype), 0
    return map_readonly(path, offset, n * record, dtype).reshape(n, width), n


def map_readonly(path: str | os.PathLike, offset: int, nbytes: int, dtype: str) -> np.ndarray:
    """A read-only memory map with sequential read-ahead advised (cold reads stream faster)."""
    with open(Path(path), "rb") as fh:
        mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
    if hasattr(mm, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
        mm.madvise(mmap.MADV_SEQUENTIAL)
    return np.frombuffer(mm, dtype=dtype, count=nbytes // np.dtype(dtype).itemsize, offset=offset)
