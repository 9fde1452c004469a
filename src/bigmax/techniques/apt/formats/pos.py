"""POS: headerless 16-byte big-endian records (x, y, z in nm; m/q in Da)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from bigmax.techniques.apt.formats._common import be_columns, record_memmap
from bigmax.techniques.apt.ions import IonData, LazyColumns

RECORD = 16


def read_pos(path: str | os.PathLike) -> IonData:
    """Map a .pos file; xyz and m/q are byte-swapped to native float32 on first access."""
    words, n = record_memmap(path, 0, RECORD)
    core = LazyColumns(
        {
            "xyz": lambda sl: be_columns(words[sl], 0, 3, "<f4"),
            "mq": lambda sl: be_columns(words[sl], 3, 1, "<f4").reshape(-1),
        },
        n,
    )
    return IonData(n, str(path), "pos", {}, core, LazyColumns({}, n))


def write_pos(
    path: str | os.PathLike,
    xyz: np.ndarray,
    mq: np.ndarray,
    chunk: int = 1 << 22,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Write ions as .pos, a few million records at a time (no full-size temporary)."""
    xyz = np.asarray(xyz)
    mq = np.asarray(mq)
    if xyz.ndim != 2 or xyz.shape[1] != 3 or mq.shape != (len(xyz),):
        raise ValueError(f"write_pos: need xyz (n, 3) and mq (n,), got {xyz.shape}, {mq.shape}")
    with open(path, "wb") as fh:
        for start in range(0, len(xyz), chunk):
            stop = min(start + chunk, len(xyz))
            append_pos(fh, xyz[start:stop], mq[start:stop])
            if progress is not None:
                progress(stop)


def append_pos(fh: BinaryIO, xyz: np.ndarray, mq: np.ndarray) -> None:
    """Append one chunk of ions to an open .pos file."""
    b = np.empty((len(xyz), 4), dtype=">f4")
    b[:, :3] = xyz
    b[:, 3] = mq
    b.tofile(fh)
