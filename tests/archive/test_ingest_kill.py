"""A run killed with SIGKILL and run again ends exactly as an uninterrupted run would."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bigmax.archive.db import ArchiveRow, EntryRow, RawFileRow, make_engine
from bigmax.archive.ingest import ingest
from bigmax.config import Settings

N_FILES, FRAMES = 60, 10

CHILD = """
import sys
from pathlib import Path
from bigmax.archive.ingest import ingest
from bigmax.config import Settings
ingest([Path(sys.argv[1])], upload="kill", batch_entries=20,
       settings=Settings(home=Path(sys.argv[2]), database_url=sys.argv[3]))
"""

VOLATILE = {"created_at", "processed_at"}


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in VOLATILE}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _state(settings: Settings) -> dict:
    engine = make_engine(settings.database_url)
    cols = [c for c in EntryRow.__table__.columns if c.name not in VOLATILE | {"pk"}]
    with engine.connect() as conn:
        entries = sorted(tuple(r) for r in conn.execute(select(*cols)))
        archives = sorted(
            json.dumps(_strip(json.loads(d)), sort_keys=True)
            for (d,) in conn.execute(select(ArchiveRow.data))
        )
        raw = sorted(tuple(r) for r in conn.execute(select(RawFileRow.path, RawFileRow.sha256)))
    engine.dispose()
    files = sorted(
        p.relative_to(settings.files_url).as_posix()
        for p in Path(settings.files_url).rglob("*")
        if p.is_file()
    )
    return {"entries": entries, "archives": archives, "raw": raw, "files": files}


def _count(url: str) -> int:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count(EntryRow.pk))).scalar_one()
    except Exception:  # tables not created yet
        return 0
    finally:
        engine.dispose()


@pytest.mark.slow
def test_sigkill_mid_ingest_then_rerun(tmp_path, database_url, nomad_frames):
    folder = tmp_path / "data"
    folder.mkdir()
    text = nomad_frames(N_FILES * FRAMES).splitlines(keepends=True)
    pos = 0
    for i in range(N_FILES):
        lines = []
        for _ in range(FRAMES):
            n = int(text[pos])
            lines += text[pos : pos + n + 2]
            pos += n + 2
        (folder / f"part{i:03d}.extxyz").write_text("".join(lines))
    (folder / "garbage.cif").write_bytes(os.urandom(3000))

    killed = Settings(home=tmp_path / "killed", database_url=database_url)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(killed.home), database_url],
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while _count(database_url) < 60 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    interrupted_at = _count(database_url)
    assert 0 < interrupted_at < N_FILES * FRAMES + 1, proc.stderr.read().decode()

    ingest([folder], upload="kill", settings=killed)

    reference = Settings(home=tmp_path / "reference", database_url=f"sqlite:///{tmp_path}/r.db")
    ingest([folder], upload="kill", settings=reference)
    assert _state(killed) == _state(reference)
