"""Every page: served offline (no CDN), labelled controls, keyboard reachable; and the static
file route (versioned caching, no way out of the static folder)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.api.app import create_app
from bigmax.config import Settings
from bigmax.web.routes import CSP, PAGES, STATIC, asset_version

# Every control's accessible name: label, aria-label, aria-labelledby, title or its own text.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button, a[href]')]
  .filter((el) => el.offsetParent !== null && el.type !== 'hidden')
  .filter((el) => !((el.labels && el.labels.length) || el.getAttribute('aria-label') ||
    el.getAttribute('aria-labelledby') || el.title || el.textContent.trim() ||
    el.querySelector('img[alt]')))
  .map((el) => el.outerHTML.slice(0, 120))"""


def test_every_page_works_offline_with_labelled_controls(gui, live):
    upload = live.uploads["demo-structures"]
    entry = live.api("GET", f"/entries?upload_id={upload}&page_size=1").json()["data"][0]
    paths = [
        "/",
        f"/entry/{entry['entry_id']}",
        f"/material?formula={entry['formula_reduced']}",
        "/plot",
        "/uploads",
        f"/uploads/{upload}",
        "/datasets",
        "/login",
        "/account",
    ]
    page = gui.page
    for path in paths:
        gui.open(path)
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate("document.documentElement.lang") == "en"
        assert page.locator("h1").count() >= 1, path
        if path == "/login":
            continue  # the username field has the focus already
        # the first Tab lands on the skip link, which moves the focus to the content
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip", path
    gui.open(f"/uploads/{upload}")
    gui.screenshot("upload_public")


def test_periodic_table_works_from_the_keyboard(gui, live):
    page = gui.open("/")
    page.focus('.ptable [data-el="H"]')
    for key in ("ArrowDown", "ArrowDown", "ArrowRight"):  # H -> Li -> Na -> Mg
        page.keyboard.press(key)
    assert page.evaluate("document.activeElement.dataset.el") == "Mg"
    page.keyboard.press("Enter")
    page.wait_for_selector('.ptable [data-el="Mg"][aria-pressed="true"]')
    assert "el=Mg" in page.url


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    home = tmp_path_factory.mktemp("web-static")
    app = create_app(Settings(home=home, database_url=f"sqlite:///{home / 'db.sqlite'}"))
    with TestClient(app) as c:
        yield c


def test_pages_are_shells_with_a_strict_policy(client):
    for name, page in PAGES.items():
        path = {"entry": "/entry/x", "upload": "/uploads/x", "dataset": "/datasets/x"}.get(
            name, "/" if name == "search" else f"/{name}"
        )
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-security-policy"] == CSP
        assert f"/static/js/{page.name}.js?v={asset_version()}" in r.text
        assert "http://" not in r.text.replace("http://www.w3.org", "")
        assert "https://" not in r.text
    assert "default-src 'self'" in CSP and "script-src 'self';" in CSP


def test_gui_routes_stay_out_of_the_api_description(client):
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith(("/api/", "/optimade"))]


def test_static_files_are_cached_by_version(client):
    v = asset_version()
    r = client.get(f"/static/js/lib.js?v={v}")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "immutable" in r.headers["cache-control"]
    assert client.get("/static/js/lib.js").headers["cache-control"] == "no-cache"
    assert client.get("/static/css/bigmax.css").headers["content-type"].startswith("text/css")
    r = client.get("/static/vendor/nothing-here.js")
    assert r.status_code == 404 and "make web" in r.json()["detail"]


@pytest.mark.parametrize(
    "path",
    ["../routes.py", "..%2Froutes.py", "js/../../routes.py", "vendor/.gitignore", "/etc/passwd"],
)
def test_static_route_never_leaves_the_static_folder(client, path):
    r = client.get(f"/static/{path}")
    assert r.status_code == 404  # the client may have folded "..": then no route matches at all
    assert "import" not in r.text and "root:" not in r.text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40))
def test_static_route_answers_any_path_with_a_file_or_404(client, path):
    from urllib.parse import quote

    r = client.get("/static/" + quote(path, safe="/"))
    if "\x00" in path:  # refused app-wide before any route
        assert r.status_code == 400
        return
    assert r.status_code in (200, 404)
    if r.status_code == 200:
        target = (STATIC / path).resolve()
        assert target.is_relative_to(STATIC.resolve()) and target.is_file()
        assert r.content == target.read_bytes()
    else:
        assert "import" not in r.text
