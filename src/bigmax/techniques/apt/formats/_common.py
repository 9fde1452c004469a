"""Shared pieces of the binary readers: byte-swapping kernels and size checks."""

from __future__ import annotations

import os
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
        _bswap_cols(words[start:stop], c0, view[start:stop])
    return out


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
    return np.memmap(Path(path), dtype=dtype, mode="r", offset=offset, shape=(n, width)), n
