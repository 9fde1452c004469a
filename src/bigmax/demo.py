"""The demo data shipped with BigMax (see data/demo/README.md for sources and citations)."""

from __future__ import annotations

import lzma
import shutil
from importlib import resources
from pathlib import Path

#: Upload name of each demo data set.
DEMO_UPLOADS = {"nomad2018": "demo-nomad2018", "octet": "demo-octet-binaries"}

_DEMO = resources.files("bigmax") / "data" / "demo"


def nomad2018_frames(start: int = 0, n: int | None = None) -> str:
    """Frames ``start`` to ``start + n`` of the NOMAD 2018 set, as extended XYZ text."""
    out: list[str] = []
    with lzma.open(_DEMO / "nomad2018.extxyz.xz", "rt") as fh:
        i = 0
        while n is None or i < start + n:
            count = fh.readline()
            if not count:
                break
            block = [count, *(fh.readline() for _ in range(int(count) + 1))]
            if i >= start:
                out += block
            i += 1
    return "".join(out)


def octet_binaries_csv() -> bytes:
    """The 82 octet binaries table, with `name (unit)` headers."""
    return (_DEMO / "octet_binaries_82.csv").read_bytes()


def demo_files(workdir: Path) -> dict[str, Path]:
    """Unpack the demo data into ``workdir``; returns the folder of each demo upload."""
    folders = {key: workdir / name for key, name in DEMO_UPLOADS.items()}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    with (
        lzma.open(_DEMO / "nomad2018.extxyz.xz") as src,
        open(folders["nomad2018"] / "nomad2018.extxyz", "wb") as dst,
    ):
        shutil.copyfileobj(src, dst)
    (folders["octet"] / "octet_binaries_82.csv").write_bytes(octet_binaries_csv())
    return folders
