"""What the command groups in their own modules share with ``bigmax.cli``."""

from __future__ import annotations

import functools
from pathlib import Path


def friendly(func):
    """bigmax.cli's error handling, looked up at call time (cli imports the group modules)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from bigmax.cli import _friendly

        return _friendly(func)(*args, **kwargs)

    return wrapper


def write_table(frame, out: Path, option: str = "--out") -> None:
    """A pandas table as CSV or Parquet, by the file name's suffix."""
    suffix = out.suffix.lower()
    if suffix in (".csv", ".txt"):
        frame.to_csv(out, index=False)
    elif suffix in (".parquet", ".pq"):
        frame.to_parquet(out, index=False)
    else:
        raise ValueError(f"{option} {out}: use a .csv or .parquet file name")
