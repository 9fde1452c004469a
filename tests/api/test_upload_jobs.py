"""Processing state lives in the database: a restarted server (or another worker process)
reports it, a job cut off by a crash is marked failed with a message saying so, and two
processors never run jobs on one upload at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select, update

from bigmax.api.app import create_app
from bigmax.archive import processing
from bigmax.archive.access import utcnow
from bigmax.archive.db import JobRow
from bigmax.archive.processing import Job, Processor
from bigmax.demo import nomad2018_frames

GOOD = nomad2018_frames(44, 2)
BROKEN = "3\nthis is not an extxyz header\nAl 0 0\n"


def wait(client, upload_id, headers, timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/api/v1/uploads/{upload_id}", headers=headers).json()
        if body["processing"]["status"] in ("success", "failed"):
            return body
        assert time.monotonic() < deadline, body["processing"]
        time.sleep(0.05)


def dead_pid() -> int:
    """The pid of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def job_row(upload_id: str, worker: str, status: str = "processing", age_s: float = 0.0):
    now = utcnow()
    return {
        "upload_id": upload_id,
        "name": "n",
        "owner_id": None,
        "kind": "upload",
        "status": status,
        "done": 1,
        "total": 3,
        "error": None,
        "entries": 0,
        "failed": 0,
        "created_at": now,
        "started_at": now,
        "finished_at": None,
        "updated_at": now - timedelta(seconds=age_s),
        "worker": worker,
    }


def test_state_survives_a_restart(world):
    files = [
        ("file", ("good.extxyz", GOOD.encode())),
        ("file", ("broken.extxyz", BROKEN.encode())),
    ]
    r = world.client.post(
        "/api/v1/uploads", params={"name": "kept"}, files=files, headers=world.alice
    )
    assert r.status_code == 202, r.text
    upload_id = r.json()["upload_id"]
    before = wait(world.client, upload_id, world.alice)
    assert before["processing"]["status"] == "success"
    assert before["processing"]["done"] == before["processing"]["total"] == 2

    # a second server process over the same archive (or this one, restarted)
    with TestClient(create_app(world.settings)) as other:
        after = other.get(f"/api/v1/uploads/{upload_id}", headers=world.alice).json()
        listed = other.get("/api/v1/uploads", headers=world.alice).json()["data"]
    assert after["processing"] == before["processing"]
    assert {f["path"]: f["errors"] for f in after["file_list"]} == {
        f["path"]: f["errors"] for f in before["file_list"]
    }
    assert any("broken.extxyz" in e for f in after["file_list"] for e in f["errors"])
    mine = next(u for u in listed if u["upload_id"] == upload_id)
    assert mine["processing"]["status"] == "success"


def test_a_failed_job_reports_its_error_after_a_restart(world, tmp_path):
    app = world.client.app
    proc = Processor(app.state.settings, app.state.engine, app.state.store)
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "x.txt").write_text("x")
    upload_id = world.uploads["alice-private"]
    job = Job(upload_id=upload_id, name="alice-private", owner_id=None, kind="upload")
    proc.submit(job, [folder]).result(timeout=60)
    proc.shutdown()
    assert job.status == "failed"
    with TestClient(create_app(world.settings)) as other:
        state = other.get(f"/api/v1/uploads/{upload_id}", headers=world.alice).json()
    assert state["processing"]["status"] == "failed"
    assert "exists already" in state["processing"]["error"]


@pytest.mark.parametrize("how", ["dead pid", "silent too long", "same pid, old token"])
def test_an_interrupted_job_is_marked_failed(world, how):
    engine = world.client.app.state.engine
    host = socket.gethostname()
    worker, age = {
        "dead pid": (f"{host}:{dead_pid()}:0000", 0.0),
        "silent too long": ("elsewhere:1:0000", processing.STALE_AFTER_S + 5),
        "same pid, old token": (f"{host}:{os.getpid()}:0000", 0.0),
    }[how]
    upload_id = world.uploads["alice-private"]
    with engine.begin() as conn:
        conn.execute(insert(JobRow).values(**job_row(upload_id, worker, age_s=age)))
    # the next server start marks it failed
    with TestClient(create_app(world.settings)) as other:
        state = other.get(f"/api/v1/uploads/{upload_id}", headers=world.alice).json()
    assert state["processing"]["status"] == "failed"
    assert state["processing"]["error"].startswith("interrupted: the server stopped")
    assert f"/api/v1/uploads/{upload_id}/action/process" in state["processing"]["error"]
    # and the upload can be processed again at once
    r = world.client.post(f"/api/v1/uploads/{upload_id}/action/process", headers=world.alice)
    assert r.status_code == 202, r.text
    assert wait(world.client, upload_id, world.alice)["processing"]["status"] == "success"


def test_a_running_job_of_a_live_process_is_left_alone(world):
    """Another live server process (here: pid 1, with a fresh heartbeat) is running it."""
    engine = world.client.app.state.engine
    upload_id = world.uploads["alice-private"]
    with engine.begin() as conn:
        conn.execute(
            insert(JobRow).values(**job_row(upload_id, f"{socket.gethostname()}:1:0000"))
        )
    assert processing.recover_interrupted(engine) == []
    state = world.client.get(f"/api/v1/uploads/{upload_id}", headers=world.alice).json()
    assert state["processing"]["status"] == "processing"
    assert state["processing"]["done"] == 1 and state["processing"]["total"] == 3
    # and nobody else may process it meanwhile
    r = world.client.post(f"/api/v1/uploads/{upload_id}/action/process", headers=world.alice)
    assert r.status_code == 409, r.text


def test_two_processors_never_run_one_upload(world, tmp_path):
    """Jobs are claimed in the database, not only in the claiming processor's memory."""
    app = world.client.app
    first = Processor(app.state.settings, app.state.engine, app.state.store)
    second = Processor(app.state.settings, app.state.engine, app.state.store)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "a.extxyz").write_text(GOOD)
    upload_id = world.uploads["alice-private"]
    alice_id = world.client.get("/api/v1/auth/me", headers=world.alice).json()["user_id"]
    job = Job(upload_id=upload_id, name="alice-private", owner_id=alice_id, kind="add")
    with app.state.engine.begin() as conn:  # first claims it, as if its worker were busy
        conn.execute(insert(JobRow).values(**job_row(upload_id, processing.WORKER, "pending")))
    with pytest.raises(RuntimeError, match="already being processed"):
        second.submit(job, [folder])
    with app.state.engine.begin() as conn:
        conn.execute(update(JobRow).values(status="success"))
    second.submit(job, [folder]).result(timeout=60)
    with app.state.engine.connect() as conn:
        row = conn.execute(select(JobRow).where(JobRow.upload_id == upload_id)).one()
    assert row.status == "success" and row.worker == processing.WORKER
    first.shutdown()
    second.shutdown()
