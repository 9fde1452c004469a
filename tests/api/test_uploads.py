"""/api/v1/uploads: streamed uploads, background processing, lifecycle, and who may do what."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.demo import nomad2018_frames

GOOD = nomad2018_frames(40, 2)  # two NOMAD 2018 structures not in the world's uploads
BROKEN = "3\nthis is not an extxyz header\nAl 0 0\n"


def wait(world, upload_id, headers=None, timeout=60.0) -> dict:
    """Poll the upload's status until its processing has finished."""
    headers = world.alice if headers is None else headers
    deadline = time.monotonic() + timeout
    while True:
        r = world.client.get(f"/api/v1/uploads/{upload_id}", headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["processing"]["status"] in ("success", "failed"):
            return body
        assert time.monotonic() < deadline, f"still {body['processing']} after {timeout} s"
        time.sleep(0.05)


def post(world, files=None, headers=None, **params):
    return world.client.post(
        "/api/v1/uploads",
        params=params,
        files=files,
        headers=world.alice if headers is None else headers,
    )


def zip_bytes(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes], mode="w:gz") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def files_by_path(status: dict) -> dict[str, dict]:
    return {f["path"]: f for f in status["file_list"]}


def staging_is_empty(world) -> bool:
    root = world.settings.home / "staging"
    return not root.exists() or not any(root.iterdir())


# --- the happy paths ----------------------------------------------------------------------------


def test_multipart_upload_is_processed_with_per_file_errors(world):
    r = post(
        world,
        files=[
            ("file", ("good.extxyz", GOOD.encode())),
            ("file", ("sub/broken.extxyz", BROKEN.encode())),
            ("file", ("notes.txt", b"raw only")),
        ],
        name="mixed",
    )
    assert r.status_code == 202, r.text
    created = r.json()
    assert created["name"] == "mixed" and created["owner"] == "alice"
    status = wait(world, created["upload_id"])
    assert status["processing"]["status"] == "success", status
    assert status["processing"]["done"] == status["processing"]["total"] == 3
    assert status["visibility"] == "private" and status["owner"] == "alice"
    files = files_by_path(status)
    assert set(files) == {"good.extxyz", "sub/broken.extxyz", "notes.txt"}
    assert files["good.extxyz"]["entries"] == 2 and files["good.extxyz"]["failed"] == 0
    assert files["notes.txt"]["reader"] is None and files["notes.txt"]["entries"] == 0
    broken = files["sub/broken.extxyz"]
    assert broken["failed"] == 1
    assert broken["errors"] and "broken.extxyz" in broken["errors"][0]
    assert "expected 3" in broken["errors"][0]
    assert (status["files"], status["entries"], status["failed"]) == (3, 3, 1)
    assert staging_is_empty(world)
    listed = world.client.get("/api/v1/uploads", headers=world.alice).json()["data"]
    assert created["upload_id"] in {u["upload_id"] for u in listed}
    raw = world.client.get(
        f"/api/v1/uploads/{created['upload_id']}/raw/notes.txt", headers=world.alice
    )
    assert raw.status_code == 200 and raw.content == b"raw only"


@pytest.mark.parametrize(
    "filename,payload",
    [
        ("data.zip", lambda m: zip_bytes(m)),
        ("data.tar.gz", lambda m: tar_bytes(m, "w:gz")),
        ("data.tar", lambda m: tar_bytes(m, "w")),
    ],
)
def test_archive_upload_is_unpacked(world, filename, payload):
    body = payload({"run1/a.extxyz": GOOD.encode(), "run2/readme.md": b"# notes"})
    r = post(world, files={"file": (filename, body)}, name=f"archive {filename}")
    assert r.status_code == 202, r.text
    status = wait(world, r.json()["upload_id"])
    assert status["processing"]["status"] == "success"
    assert set(files_by_path(status)) == {"run1/a.extxyz", "run2/readme.md"}
    assert status["entries"] == 2


def test_raw_zip_body_and_named_raw_body(world):
    body = zip_bytes({"a.extxyz": GOOD.encode()})
    r = world.client.post(
        "/api/v1/uploads",
        params={"name": "raw-zip"},
        content=body,
        headers={**world.alice, "Content-Type": "application/zip"},
    )
    assert r.status_code == 202, r.text
    assert set(files_by_path(wait(world, r.json()["upload_id"]))) == {"a.extxyz"}
    r = world.client.post(
        "/api/v1/uploads",
        params={"name": "raw-file", "file_name": "x/one.extxyz"},
        content=GOOD.encode(),
        headers={**world.alice, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 202, r.text
    assert set(files_by_path(wait(world, r.json()["upload_id"]))) == {"x/one.extxyz"}
    r = world.client.post(
        "/api/v1/uploads",
        params={"name": "anon-body"},
        content=b"just bytes",
        headers={**world.alice, "Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 400 and "file_name" in r.json()["detail"]


def test_add_files_reprocess_publish_with_embargo(world):
    r = post(world, files={"file": ("a.extxyz", GOOD.encode())}, name="growing")
    upload_id = r.json()["upload_id"]
    wait(world, upload_id)
    # add one by multipart, one by PUT
    r = world.client.post(
        f"/api/v1/uploads/{upload_id}/files",
        files={"file": ("b/broken.extxyz", BROKEN.encode())},
        headers=world.alice,
    )
    assert r.status_code == 202, r.text
    wait(world, upload_id)
    r = world.client.put(
        f"/api/v1/uploads/{upload_id}/raw/c/notes.txt", content=b"hello", headers=world.alice
    )
    assert r.status_code == 202, r.text
    status = wait(world, upload_id)
    assert set(files_by_path(status)) == {"a.extxyz", "b/broken.extxyz", "c/notes.txt"}
    # reprocessing gives the same entries
    before = (status["files"], status["entries"], status["failed"])
    r = world.client.post(f"/api/v1/uploads/{upload_id}/action/process", headers=world.alice)
    assert r.status_code == 202, r.text
    status = wait(world, upload_id)
    assert status["processing"]["status"] == "success"
    assert (status["files"], status["entries"], status["failed"]) == before
    # publish under a 6-month embargo: bob still cannot see it, and it is immutable
    r = world.client.post(
        f"/api/v1/uploads/{upload_id}/action/publish",
        json={"embargo_months": 6},
        headers=world.alice,
    )
    assert r.status_code == 200, r.text
    assert r.json()["visibility"] == "embargoed" and r.json()["embargo_until"]
    assert world.client.get(f"/api/v1/uploads/{upload_id}", headers=world.bob).status_code == 404
    for call in (
        lambda: world.client.post(
            f"/api/v1/uploads/{upload_id}/files",
            files={"file": ("d.txt", b"x")},
            headers=world.alice,
        ),
        lambda: world.client.put(
            f"/api/v1/uploads/{upload_id}/raw/d.txt", content=b"x", headers=world.alice
        ),
        lambda: world.client.post(
            f"/api/v1/uploads/{upload_id}/action/process", headers=world.alice
        ),
        lambda: world.client.post(
            f"/api/v1/uploads/{upload_id}/action/publish", json={}, headers=world.alice
        ),
        lambda: world.client.delete(f"/api/v1/uploads/{upload_id}", headers=world.alice),
    ):
        r = call()
        assert r.status_code == 409, r.text
        assert "published" in r.json()["detail"]


def test_lift_embargo(world):
    upload_id = world.uploads["alice-embargoed"]
    entry = world.entries["alice-embargoed"][0]
    archive = f"/api/v1/entries/{entry}/archive"
    assert world.client.get(archive).status_code == 404
    lift = f"/api/v1/uploads/{upload_id}/action/lift-embargo"
    assert world.client.post(lift, headers=world.bob).status_code == 404
    r = world.client.post(lift, headers=world.alice)
    assert r.status_code == 200 and r.json()["visibility"] == "public"
    assert world.client.get(archive).status_code == 200  # public at once
    assert world.client.post(lift, headers=world.alice).status_code == 409
    private = world.uploads["alice-private"]
    r = world.client.post(f"/api/v1/uploads/{private}/action/lift-embargo", headers=world.alice)
    assert r.status_code == 409


def test_publish_validation(world):
    upload_id = world.uploads["alice-private"]
    for months in (-1, 37, "six"):
        r = world.client.post(
            f"/api/v1/uploads/{upload_id}/action/publish",
            json={"embargo_months": months},
            headers=world.alice,
        )
        assert r.status_code == 422 and "embargo_months" in r.text


def test_share_then_member_reads_but_cannot_change(world):
    upload_id = world.uploads["alice-private"]
    assert world.client.get(f"/api/v1/uploads/{upload_id}", headers=world.bob).status_code == 404
    r = world.client.post(
        f"/api/v1/uploads/{upload_id}/action/share", json={"username": "bob"}, headers=world.alice
    )
    assert r.status_code == 200 and r.json()["members"] == ["bob"]
    r = world.client.get(f"/api/v1/uploads/{upload_id}", headers=world.bob)
    assert r.status_code == 200 and r.json()["owner"] == "alice"
    assert upload_id in {
        u["upload_id"]
        for u in world.client.get("/api/v1/uploads", headers=world.bob).json()["data"]
    }
    r = world.client.delete(f"/api/v1/uploads/{upload_id}", headers=world.bob)
    assert r.status_code == 403
    r = world.client.post(
        f"/api/v1/uploads/{upload_id}/action/share",
        json={"username": "nobody"},
        headers=world.alice,
    )
    assert r.status_code == 404 and "nobody" in r.json()["detail"]


def test_delete_unpublished_upload(world):
    r = post(world, files={"file": ("a.extxyz", GOOD.encode())}, name="doomed")
    upload_id = r.json()["upload_id"]
    wait(world, upload_id)
    r = world.client.delete(f"/api/v1/uploads/{upload_id}", headers=world.alice)
    assert r.status_code == 204
    assert world.client.get(f"/api/v1/uploads/{upload_id}", headers=world.alice).status_code == 404
    assert not (world.settings.home / "files" / upload_id).exists()


def test_same_name_twice_is_a_conflict(world):
    r = post(world, files={"file": ("a.txt", b"1")}, name="twice")
    wait(world, r.json()["upload_id"])
    again = post(world, files={"file": ("b.txt", b"2")}, name="twice")
    assert again.status_code == 409 and "/files" in again.json()["detail"]
    # upload ids are hashed from (owner, name): bob's "twice" is his own, and tells him nothing
    theirs = post(world, files={"file": ("b.txt", b"2")}, name="twice", headers=world.bob)
    assert theirs.status_code == 202
    assert theirs.json()["upload_id"] != r.json()["upload_id"]


# --- who may see and change what ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["bob", None])
def test_others_cannot_see_or_change_alices_private_uploads(world, who):
    headers = world.headers(who)
    for name in ("alice-private", "alice-embargoed"):
        upload_id = world.uploads[name]
        base = f"/api/v1/uploads/{upload_id}"
        calls = [
            world.client.get(base, headers=headers),
            world.client.get(f"{base}/raw/{name}.extxyz", headers=headers),
            world.client.post(f"{base}/files", files={"file": ("x.txt", b"x")}, headers=headers),
            world.client.put(f"{base}/raw/x.txt", content=b"x", headers=headers),
            world.client.post(f"{base}/action/process", headers=headers),
            world.client.post(f"{base}/action/publish", json={}, headers=headers),
            world.client.post(f"{base}/action/share", json={"username": "bob"}, headers=headers),
            world.client.delete(base, headers=headers),
        ]
        for r in calls:
            assert r.status_code == 404, (r.request.method, r.request.url, r.text)
            assert r.json()["detail"] == f"no upload {upload_id!r}"
    # and nothing changed
    status = world.client.get(
        f"/api/v1/uploads/{world.uploads['alice-private']}", headers=world.alice
    )
    assert status.json()["files"] == 1 and status.json()["members"] == []


def test_public_upload_is_readable_but_not_changeable(world):
    upload_id = world.uploads["alice-public"]
    r = world.client.get(f"/api/v1/uploads/{upload_id}")
    assert r.status_code == 200 and r.json()["visibility"] == "public"
    r = world.client.delete(f"/api/v1/uploads/{upload_id}", headers=world.bob)
    assert r.status_code == 403


def test_anonymous_cannot_list_or_upload(world):
    assert world.client.get("/api/v1/uploads").status_code == 401
    r = world.client.post("/api/v1/uploads", files={"file": ("a.txt", b"x")})
    assert r.status_code == 401
    assert staging_is_empty(world)


def test_revoked_token_cannot_upload(world):
    new = world.client.post(
        "/api/v1/auth/token", json={"username": "alice", "password": "alice-password"}
    ).json()
    auth = {"Authorization": f"Bearer {new['token']}"}
    world.client.delete(f"/api/v1/auth/tokens/{new['token_id']}", headers=world.alice)
    r = post(world, files={"file": ("a.txt", b"x")}, headers=auth)
    assert r.status_code == 401


# --- hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../evil.txt", "a/../../evil.txt", "/etc/evil.txt", "..\\evil.txt"]
)
def test_multipart_traversal_names_are_rejected(world, name):
    r = post(world, files={"file": (name, b"evil")}, name="traversal")
    assert r.status_code == 400, r.text
    assert "file name" in r.json()["detail"]
    assert not (world.settings.home / "evil.txt").exists()
    assert not (world.settings.home.parent / "evil.txt").exists()
    assert staging_is_empty(world)


def test_zip_slip_is_rejected_and_nothing_written_outside(world, tmp_path):
    body = zip_bytes({"ok.txt": b"fine", "../../../../escaped.txt": b"evil"})
    r = post(world, files={"file": ("slip.zip", body)}, name="slip")
    assert r.status_code == 400, r.text
    assert "slip.zip" in r.json()["detail"] and "leaves the upload folder" in r.json()["detail"]
    assert not list(tmp_path.rglob("escaped.txt"))
    assert staging_is_empty(world)


def test_tar_slip_and_links_are_rejected(world, tmp_path):
    r = post(world, files={"file": ("slip.tgz", tar_bytes({"../escaped.txt": b"x"}))})
    assert r.status_code == 400 and "slip.tgz" in r.json()["detail"]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(link)
    r = post(world, files={"file": ("link.tar", buf.getvalue())})
    assert r.status_code == 400 and "link" in r.json()["detail"]
    assert not list(tmp_path.rglob("escaped.txt")) and not list(tmp_path.rglob("passwd"))
    assert staging_is_empty(world)


def test_zip_and_tar_bombs_are_rejected(world):
    zeros = b"\0" * (64 << 20)  # 64 MiB of zeros packs to about 64 KiB
    bomb = zip_bytes({"zeros.bin": zeros})
    r = post(world, files={"file": ("bomb.zip", bomb)}, name="bomb")
    assert r.status_code == 400 and "zip bomb" in r.json()["detail"]
    r = post(world, files={"file": ("bomb.tar.gz", tar_bytes({"zeros.bin": zeros}))})
    assert r.status_code == 400 and "tar bomb" in r.json()["detail"]
    assert staging_is_empty(world)


def test_broken_archives_name_the_file(world):
    r = post(world, files={"file": ("bad.zip", b"not a zip")})
    assert r.status_code == 400 and "bad.zip" in r.json()["detail"]
    r = post(world, files={"file": ("bad.tar.gz", b"\x1f\x8b not a tar")})
    assert r.status_code == 400 and "bad.tar.gz" in r.json()["detail"]


def test_oversized_upload_is_413(world, monkeypatch):
    monkeypatch.setenv("BIGMAX_MAX_UPLOAD_BYTES", "1000")
    world.client.app.state.__dict__.pop("max_upload_bytes", None)  # re-read, as at app start
    r = post(world, files={"file": ("big.bin", b"x" * 5000)}, name="big")
    assert r.status_code == 413 and "1000 bytes" in r.json()["detail"]

    def chunked():  # no Content-Length: cut off while streaming
        for _ in range(10):
            yield b"y" * 500

    r = world.client.post(
        "/api/v1/uploads",
        params={"name": "big2", "file_name": "big.bin"},
        content=chunked(),
        headers=world.alice,
    )
    assert r.status_code == 413
    small = post(world, files={"file": ("small.txt", b"ok")}, name="small")
    assert small.status_code == 202
    wait(world, small.json()["upload_id"])
    assert staging_is_empty(world)


def test_bad_multipart_and_empty_uploads(world):
    r = world.client.post(
        "/api/v1/uploads",
        content=b"--x\r\ngarbage",
        headers={**world.alice, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 400
    r = world.client.post(
        "/api/v1/uploads",
        content=b"",
        headers={**world.alice, "Content-Type": "multipart/form-data"},
    )
    assert r.status_code == 400 and "boundary" in r.json()["detail"]
    r = post(world, files={"file": ("a.txt", b"1"), "other": ("a.txt", b"2")})
    assert r.status_code == 400 and "twice" in r.json()["detail"]
    field_only = b'--x\r\nContent-Disposition: form-data; name="just"\r\n\r\nfield\r\n--x--\r\n'
    r = world.client.post(
        "/api/v1/uploads",
        content=field_only,
        headers={**world.alice, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 400 and "no files" in r.json()["detail"]
    control = field_only.replace(b'name="just"', b'name="f"; filename="a\x01b"')
    r = world.client.post(
        "/api/v1/uploads",
        content=control,
        headers={**world.alice, "Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code == 400 and "control characters" in r.json()["detail"]
    assert staging_is_empty(world)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.text(min_size=1, max_size=40))
def test_any_multipart_file_name_is_stored_safely_or_rejected(world, name):
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return  # cannot be sent in a header at all
    r = world.client.post(
        "/api/v1/uploads/" + world.uploads["alice-private"] + "/files",
        files={"file": (name, b"data")},
        headers=world.alice,
    )
    assert r.status_code in (202, 400, 409), r.text
    if r.status_code == 202:
        wait(world, world.uploads["alice-private"])
    home = world.settings.home.resolve()
    for path in (world.settings.home / "files").rglob("*"):
        assert path.resolve().is_relative_to(home)


# --- memory stays flat for big uploads ------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_one_gigabyte_upload_keeps_rss_flat(tmp_path):
    from bigmax.archive.db import make_engine
    from bigmax.archive.users import create_token, create_user
    from bigmax.config import Settings

    home = tmp_path / "home"
    settings = Settings(home=home)
    engine = make_engine(settings.database_url)
    from bigmax.archive.db import init_db

    init_db(engine)
    token = create_token(engine, create_user(engine, "carol", "carol-password")).secret
    engine.dispose()
    port = _free_port()
    env = {**os.environ, "BIGMAX_HOME": str(home)}
    env.pop("BIGMAX_DATABASE_URL", None)
    env.pop("BIGMAX_FILES_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bigmax.api.app:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                httpx.get(f"{url}/api/v1/info", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        baseline = _rss_mb(server.pid)
        peak = baseline
        done = threading.Event()

        def sample():
            nonlocal peak
            while not done.is_set():
                peak = max(peak, _rss_mb(server.pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        size, block = 1 << 30, os.urandom(1 << 20)
        boundary = "bigmaxboundary7d2f"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="data.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()

        def body():
            yield head
            for _ in range(size // len(block)):
                yield block
            yield tail

        started = time.monotonic()
        try:
            r = httpx.post(
                f"{url}/api/v1/uploads",
                params={"name": "big"},
                content=body(),
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": f"multipart/form-data; boundary={boundary}",
                    "Content-Length": str(len(head) + size + len(tail)),
                },
                timeout=120,
            )
        finally:
            done.set()
            sampler.join()
        seconds = time.monotonic() - started
        assert r.status_code == 202, r.text
        growth = peak - baseline
        print(f"1 GiB upload: {seconds:.1f} s, RSS {baseline:.0f} MB -> peak {peak:.0f} MB")
        assert growth < 300, f"server RSS grew by {growth:.0f} MB during a 1 GiB upload"
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_unencodable_json_is_422_not_500(world):
    upload_id = world.uploads["alice-private"]
    for path, body in (
        ("action/share", b'{"username": "\\ud800"}'),
        ("action/publish", b'{"embargo_months": "\\udfff"}'),
    ):
        r = world.client.post(
            f"/api/v1/uploads/{upload_id}/{path}",
            content=body,
            headers={**world.alice, "Content-Type": "application/json"},
        )
        assert r.status_code == 422, r.text


def test_nul_in_ids_and_paths_is_a_client_error(world):
    """PostgreSQL refuses NUL characters; they must be turned away before any query."""
    upload_id = world.uploads["alice-private"]
    for method, path in (
        ("GET", "/api/v1/uploads/%00"),
        ("DELETE", "/api/v1/uploads/a%00b"),
        ("GET", f"/api/v1/uploads/{upload_id}/raw/a%00b"),
        ("PUT", f"/api/v1/uploads/{upload_id}/raw/a%00b"),
        ("DELETE", "/api/v1/auth/tokens/%00"),
    ):
        r = world.client.request(method, path, headers=world.alice, content=b"x")
        assert r.status_code in (400, 404, 422), (method, path, r.text)


def test_a_new_upload_never_lands_in_an_existing_one(world, tmp_path):
    """Two requests for one name race past the handler's check: the later job must fail."""
    from bigmax.archive.processing import Job, Processor

    app = world.client.app
    proc = Processor(app.state.settings, app.state.engine, app.state.store)
    bob_id = world.client.get("/api/v1/auth/me", headers=world.bob).json()["user_id"]
    folder = tmp_path / "late"
    folder.mkdir()
    (folder / "intruder.txt").write_text("x")
    upload_id = world.uploads["alice-private"]
    job = Job(upload_id=upload_id, name="alice-private", owner_id=bob_id, kind="upload")
    proc.submit(job, [folder]).result(timeout=60)
    proc.shutdown()
    assert job.status == "failed" and "exists already" in job.error
    status = world.client.get(f"/api/v1/uploads/{upload_id}", headers=world.alice).json()
    assert {f["path"] for f in status["file_list"]} == {"alice-private.extxyz"}
