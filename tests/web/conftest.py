"""A live BigMax server with the GUI over a small real archive, and a headless Debian chromium.

The archive: 40 NOMAD 2018 structures and the 82 octet binaries, published; alice's private
upload of 4 more structures; bob has nothing. Each xdist worker starts its own server (uvicorn
in a thread on a free port) and browser; pages get a fresh browser context, so no login leaks
from one test to the next. Requests that leave the server's origin fail the test: the GUI must
work offline. Screenshots go to docs/img/gui_*.png.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx
import pytest
from playwright.sync_api import expect

from bigmax.archive.access import SYSTEM
from bigmax.archive.ingest import ingest
from bigmax.archive.lifecycle import publish
from bigmax.archive.users import create_user
from bigmax.config import Settings
from bigmax.demo import nomad2018_frames, octet_binaries_csv

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
VENDOR = Path(__file__).resolve().parents[2] / "src/bigmax/web/static/vendor"
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-1"}


@dataclass
class Live:
    url: str
    settings: Settings
    uploads: dict[str, str]  # name -> upload id
    private_entries: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, user: str | None = None, **kw) -> httpx.Response:
        headers = kw.pop("headers", {})
        if user:
            headers["Authorization"] = f"Bearer {self.token(user)}"
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kw)

    def token(self, user: str) -> str:
        r = httpx.post(
            f"{self.url}/api/v1/auth/token",
            json={"username": user, "password": PASSWORDS[user], "name": "test"},
        )
        r.raise_for_status()
        return r.json()["token"]

    def count(self, query: dict | None, user: str | None = None) -> int:
        body = {"query": query, "pagination": {"page_size": 0}}
        r = self.api("POST", "/entries/query", user, json=body)
        r.raise_for_status()
        return r.json()["total"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def live(tmp_path_factory) -> Live:
    import uvicorn

    from bigmax.api.app import create_app

    if not (VENDOR / "3dmol" / "3Dmol-min.js").exists():
        pytest.fail("the GUI's libraries are missing: run `make web`")
    tmp = tmp_path_factory.mktemp("gui")
    settings = Settings(home=tmp / "home", database_url=f"sqlite:///{tmp / 'bigmax.sqlite'}")
    app = create_app(settings)
    engine = app.state.engine
    alice = create_user(engine, "alice", PASSWORDS["alice"])
    create_user(engine, "bob", PASSWORDS["bob"])
    inputs = {
        "demo-structures": ("structures.extxyz", nomad2018_frames(0, 40), None),
        "demo-octet": ("octet_binaries_82.csv", octet_binaries_csv().decode(), None),
        "alice-private": ("alice.extxyz", nomad2018_frames(100, 4), alice.user_id),
    }
    uploads = {}
    for name, (fname, text, owner) in inputs.items():
        folder = tmp / "inputs" / name
        folder.mkdir(parents=True)
        (folder / fname).write_text(text)
        report = ingest([folder], upload=name, owner_id=owner, settings=settings, engine=engine)
        uploads[name] = report.upload_id
        if owner is None:
            publish(engine, report.upload_id, SYSTEM)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    live = Live(f"http://127.0.0.1:{port}", settings, uploads)
    r = live.api(
        "POST",
        "/entries/query",
        "alice",
        json={"query": {"upload_id": uploads["alice-private"]}, "required": ["entry_id"]},
    )
    live.private_entries = [row["entry_id"] for row in r.json()["data"]]
    yield live
    server.should_exit = True
    thread.join(timeout=30)
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class PageProblems(list):
    """Console errors, uncaught exceptions and off-origin requests seen by a page."""


@pytest.fixture
def page(browser, live):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    problems = PageProblems()
    origin = urlparse(live.url).netloc

    def guard(route):
        url = urlparse(route.request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != origin:
            problems.append(f"request outside the server: {route.request.url}")
            route.abort()
        else:
            route.continue_()

    context.route("**/*", guard)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    # assertions wait as long as actions: CI machines are shared and sometimes loaded
    expect.set_options(timeout=15_000)

    def console(msg):
        # 4xx answers the GUI handles show as console errors too; those tests check the page
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            problems.append(f"console: {msg.text}")

    pg.on("console", console)
    pg.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    pg.problems = problems
    yield pg
    context.close()
    assert not problems, problems


class Gui:
    """What a test does with a page: open, log in, take screenshots."""

    def __init__(self, page, live: Live):
        self.page = page
        self.live = live

    def open(self, path: str):
        """Go to ``path`` and wait until the page's module marks it interactive."""
        self.page.goto(self.live.url + path)
        self.page.wait_for_selector("body[data-ready]:not([data-pending])")
        return self.page

    def login(self, user: str = "alice", then: str = "/"):
        self.open(f"/login?next={then}")
        self.page.fill("#username", user)
        self.page.fill("#password", PASSWORDS[user])
        self.page.click("#login-button")
        self.page.wait_for_url(f"**{then}")
        self.page.wait_for_selector("body[data-ready]")
        return self.page

    def screenshot(self, name: str, full_page: bool = True) -> Path:
        """Save docs/img/gui_<name>.png for the user guide."""
        IMG.mkdir(parents=True, exist_ok=True)
        path = IMG / f"gui_{name}.png"
        self.page.evaluate("window.scrollTo(0, 0)")  # the sticky header stays on top
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def total(self) -> int:
        """The result count the search page shows."""
        text = self.page.inner_text("#total")
        return int(text.split()[0].replace(",", ""))


@pytest.fixture
def gui(page, live) -> Gui:
    return Gui(page, live)
