"""GUI routes: one HTML shell per page, and the static files under /static.

The shells are small and the same for every visitor (no user data in them), so they can be
cached and the page's module fetches what the viewer may see through /api/v1 with the viewer's
token. Static URLs carry a version (``?v=``, a hash of the asset files) and are cached for a
year; a changed asset gets a new URL.
"""

from __future__ import annotations

import hashlib
import html
import json
import mimetypes
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse

import bigmax

HERE = Path(__file__).parent
STATIC = HERE / "static"
TEMPLATES = HERE / "templates"

#: The third-party files ``make web`` copies from npm; pages name the ones they need.
VENDOR = {
    "3dmol": "vendor/3dmol/3Dmol-min.js",
    "plotly": "vendor/plotly/plotly-basic.min.js",
}

#: Nothing leaves the origin: no CDN, no inline script. Plotly writes inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    vendor: tuple[str, ...] = ()


PAGES = {
    "search": Page("search", "Search"),
    "entry": Page("entry", "Entry", ("3dmol",)),
    "material": Page("material", "Material"),
    "plot": Page("plot", "Plot explorer", ("plotly",)),
    "uploads": Page("uploads", "Uploads"),
    "upload": Page("upload", "Upload"),
    "datasets": Page("datasets", "Datasets"),
    "dataset": Page("dataset", "Dataset"),
    "login": Page("login", "Log in"),
    "account": Page("account", "Account and tokens"),
}


@lru_cache(maxsize=1)
def asset_version() -> str:
    """A short hash of every static file's name, size and mtime: the cache-busting ``?v=``."""
    digest = hashlib.sha1(bigmax.__version__.encode())
    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            st = path.stat()
            digest.update(f"{path.relative_to(STATIC)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()[:12]


@lru_cache(maxsize=1)
def fields_json() -> str:
    """The searchable quantities (name, kind, SI unit, description) for the page's scripts."""
    from bigmax.search import FIELDS

    table = [
        {"name": f.name, "kind": f.kind, "unit": f.unit, "description": f.description}
        for f in FIELDS
    ]
    return json.dumps(table, separators=(",", ":")).replace("</", "<\\/")


@cache
def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def render(page: Page) -> str:
    """The page's shell: the layout with the page's body and its scripts."""
    v = asset_version()
    scripts = [f'<script defer src="/static/{VENDOR[k]}?v={v}"></script>' for k in page.vendor]
    scripts.append(f'<script type="module" src="/static/js/{page.name}.js?v={v}"></script>')
    out = _template("base.html")
    for key, value in (
        ("{{body}}", _template(f"{page.name}.html")),
        ("{{scripts}}", "\n".join(scripts)),
        ("{{fields}}", fields_json()),
        ("{{title}}", html.escape(page.title)),
        ("{{page}}", page.name),
        ("{{v}}", v),
        ("{{version}}", html.escape(bigmax.__version__)),
    ):
        out = out.replace(key, value)
    return out


def _html(name: str) -> HTMLResponse:
    return HTMLResponse(
        render(PAGES[name]),
        headers={
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-cache",
        },
    )


@router.get("/", response_class=HTMLResponse)
def search_page() -> HTMLResponse:
    return _html("search")


@router.get("/entry/{entry_id}", response_class=HTMLResponse)
def entry_page(entry_id: str) -> HTMLResponse:
    return _html("entry")


@router.get("/material", response_class=HTMLResponse)
def material_page() -> HTMLResponse:
    return _html("material")


@router.get("/plot", response_class=HTMLResponse)
def plot_page() -> HTMLResponse:
    return _html("plot")


@router.get("/uploads", response_class=HTMLResponse)
def uploads_page() -> HTMLResponse:
    return _html("uploads")


@router.get("/uploads/{upload_id}", response_class=HTMLResponse)
def upload_page(upload_id: str) -> HTMLResponse:
    return _html("upload")


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page() -> HTMLResponse:
    return _html("datasets")


@router.get("/datasets/{dataset_id}", response_class=HTMLResponse)
def dataset_page(dataset_id: str) -> HTMLResponse:
    return _html("dataset")


@router.get("/login", response_class=HTMLResponse)
def login_page() -> HTMLResponse:
    return _html("login")


@router.get("/account", response_class=HTMLResponse)
def account_page() -> HTMLResponse:
    return _html("account")


_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


@router.get("/static/{path:path}")
def static(path: str, request: Request) -> FileResponse:
    """A file under static/; versioned URLs are cached for a year."""
    target = (STATIC / path).resolve()
    if not target.is_relative_to(STATIC.resolve()) or not target.is_file():
        hint = " (run `make web` to install the GUI's libraries)" if "vendor/" in path else ""
        raise HTTPException(status_code=404, detail=f"no static file {path!r}{hint}")
    if target.name.startswith("."):
        raise HTTPException(status_code=404, detail=f"no static file {path!r}")
    media = _TYPES.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    cache = "public, max-age=31536000, immutable" if "v" in request.query_params else "no-cache"
    return FileResponse(
        target,
        media_type=media or "application/octet-stream",
        headers={"Cache-Control": cache, "X-Content-Type-Options": "nosniff"},
    )
