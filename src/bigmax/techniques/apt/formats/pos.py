"""POS: headerless 16-byte big-endian records (x, y, z in nm; m/q in Da)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

import numpy as np

from bigmax.techniques.apt.formats._common import (
    be_columns,
    be_xyz_mq,
    record_memmap,
    stream_xyz_mq,
)
from bigmax.techniques.apt.ions import IonData, LazyColumns

RECORD = 16


def read_pos(path: str | os.PathLike) -> IonData:
    """Map a .pos file; xyz and m/q are byte-swapped to native float32 on first access."""
    words, n = record_memmap(path, 0, RECORD)
    core = LazyColumns(xyz_mq_loaders(words, path), n)
    return IonData(n, str(path), "pos", {}, core, LazyColumns({}, n))


def xyz_mq_loaders(words: np.ndarray, path: str | os.PathLike | None = None) -> dict:
    """Loaders for xyz and m/q: asking for xyz converts m/q in the same pass and keeps it, so a
    cold read touches the file once (streamed from ``path`` when given, else from the map)."""
    spare: dict = {}

    def xyz(sl: slice) -> np.ndarray:
        if path is not None:
            start, stop, _ = sl.indices(len(words))
            out, mq = stream_xyz_mq(path, 0, words.shape[1], start, stop)
        else:
            out, mq = be_xyz_mq(words[sl])
        spare.clear()  # keep at most one spare m/q (the one most likely asked for next)
        spare[(sl.start, sl.stop)] = mq
        return out

    def mq(sl: slice) -> np.ndarray:
        got = spare.pop((sl.start, sl.stop), None)
        return got if got is not None else be_columns(words[sl], 3, 1, "<f4").reshape(-1)

    return {"xyz": xyz, "mq": mq}


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
