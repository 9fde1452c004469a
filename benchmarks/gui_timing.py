"""GUI timing: time to interactive per page and facet change to updated results, in the browser.

    .venv/bin/python benchmarks/gui_timing.py [--entries 100000] [--repeat 7] [--workdir DIR]

Builds the synthetic archive of search_bench/api_load (realistic compositions, an archive JSON
with a structure per entry; kept in --workdir for re-runs), serves it with uvicorn and drives
Debian's chromium (headless, software WebGL) with Playwright. Every figure is read from the
page's own performance marks:

- time to interactive: navigation start to ``bmx:interactive``, which each page sets once its
  content is drawn and its controls work (search: the results table, with the periodic table,
  sorting, paging and downloads working; entry: every section and the 3D structure drawn; plot:
  the scatter, with hover and click-through). "warm" is a repeat visit (static files cached, as
  they are for a year; the search page's slider ends kept for ten minutes); "cold" is a fresh
  browser profile.
- complete (search and plot): navigation start to ``bmx:complete``: every element count, term
  facet and slider histogram, or the histogram under the scatter, drawn as well.
- facet change: the input event to the results table redrawn (``bmx:facet-to-results``) and to
  every facet count redrawn (``bmx:facet-to-facets``).

Goals (issue 4): each page interactive within 1 s, results within 300 ms of a facet change.
NOMAD's GUI, the peer, cannot run here: it needs Elasticsearch, MongoDB and its React build, and
this machine has no network to fetch them; its figures are not given.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from api_load import add_archives, free_port, stop, wait_for  # noqa: E402
from search_bench import build_sqlite  # noqa: E402

BIN = Path(sys.executable).parent
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
TTI_GOAL_MS = 1000.0
FACET_GOAL_MS = 300.0
PASSWORD = "bench-password-1"


def _tti(page, url: str, complete: list | None = None) -> float:
    """Navigation start to ``bmx:interactive``; appends the time to ``bmx:complete`` (every
    count and histogram drawn, search page only) to ``complete``."""
    page.goto(url)
    page.wait_for_selector("body[data-ready]:not([data-pending])", timeout=60_000)
    done = page.evaluate("performance.getEntriesByName('bmx:complete')[0]?.startTime ?? null")
    if complete is not None and done is not None:
        complete.append(done)
    return page.evaluate("performance.getEntriesByName('bmx:interactive')[0].startTime")


def _measure(page, action, name: str) -> float:
    page.evaluate("performance.clearMeasures()")
    action()
    # bmx:facet-to-facets is measured last, once every count of this change is drawn
    deadline = time.monotonic() + 60
    while not page.evaluate("performance.getEntriesByName('bmx:facet-to-facets').length"):
        if time.monotonic() > deadline:
            raise TimeoutError("the search page did not finish the change within 60 s")
        time.sleep(0.01)
    return page.evaluate(f"performance.getEntriesByName('{name}').at(-1).duration")


def _stats(values: list[float]) -> dict:
    values = sorted(values)
    return {
        "median_ms": round(statistics.median(values), 1),
        "min_ms": round(values[0], 1),
        "max_ms": round(values[-1], 1),
        "n": len(values),
    }


def _login(page, base: str) -> None:
    page.goto(f"{base}/login?next=/uploads")
    page.fill("#username", "bench")
    page.fill("#password", PASSWORD)
    page.click("#login-button")
    page.wait_for_url("**/uploads")
    page.wait_for_selector("body[data-ready]")


def facet_changes(page, base: str, repeat: int) -> dict[str, dict]:
    """Each facet action on the search page, on and off, ``repeat`` times."""
    out: dict[str, dict] = {}
    page.goto(base + "/")
    page.wait_for_selector("body[data-ready]", timeout=60_000)
    actions = {
        "periodic table (O)": lambda: page.click('.ptable [data-el="O"]'),
        "crystal system": lambda: page.locator('[data-field="crystal_system"] input').first.click(),
        "elements count": lambda: page.locator('[data-field="n_elements"] input').first.click(),
        "band gap slider": None,
    }
    for name, act in actions.items():
        res, fac = [], []
        for i in range(repeat * 2):
            if act is None:  # type a bound, then clear it: each is one change

                def act_slider(i=i):
                    box = page.locator("#r-band_gap-lo-n")
                    box.fill("1.5" if i % 2 == 0 else "")
                    box.press("Enter")

                run = act_slider
            else:
                run = act
            res.append(_measure(page, run, "bmx:facet-to-results"))
            fac.append(page.evaluate("performance.getEntriesByName('bmx:facet-to-facets')[0]"
                                     ".duration"))
        out[name] = {"results": _stats(res), "facets": _stats(fac)}
        print(f"  facet {name:<22} results {out[name]['results']['median_ms']:7.1f} ms  "
              f"all counts {out[name]['facets']['median_ms']:7.1f} ms", file=sys.stderr)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=7, help="visits per page and changes per facet")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the archive here")
    ap.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    args = ap.parse_args(argv)

    from playwright.sync_api import sync_playwright

    from bigmax.archive.db import make_engine
    from bigmax.archive.users import create_user

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bigmax-gui-"))
    db = workdir / "home" / "bigmax.sqlite"
    if not db.exists():
        t0 = time.perf_counter()
        build_sqlite(db, args.entries)
        add_archives(db)
        engine = make_engine(f"sqlite:///{db}")
        create_user(engine, "bench", PASSWORD)
        engine.dispose()
        print(f"built {args.entries} entries in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    con = sqlite3.connect(db)
    n = con.execute("SELECT count(*) FROM entries").fetchone()[0]
    formula = con.execute(
        "SELECT formula_reduced FROM entries GROUP BY formula_reduced ORDER BY count(*) DESC"
    ).fetchone()[0]
    entry_id = con.execute("SELECT entry_id FROM entries WHERE pk = 777").fetchone()[0]
    upload_id = con.execute("SELECT upload_id FROM entries WHERE pk = 777").fetchone()[0]
    con.close()

    env = {**os.environ, "BIGMAX_HOME": str(workdir / "home")}
    env["BIGMAX_DATABASE_URL"] = f"sqlite:///{db}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            str(BIN / "uvicorn"), "--factory", "bigmax.api.app:create_app", "--host",
            "127.0.0.1", "--port", str(port), "--workers", str(args.workers), "--log-level",
            "warning", "--no-access-log",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "bigmax.log", "wb"),  # noqa: SIM115
    )
    pages = {
        "search": "/",
        "entry": f"/entry/{entry_id}",
        "material": f"/material?formula={formula}",
        "plot explorer": "/plot",
        "upload (public)": f"/uploads/{upload_id}",
        "datasets": "/datasets",
        "login": "/login",
    }
    result: dict = {"entries": n, "repeat": args.repeat, "load_before": os.getloadavg()}
    try:
        wait_for(f"{base}/api/v1/info")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            tti: dict[str, dict] = {}
            warm_ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            warm = warm_ctx.new_page()
            for name, path in pages.items():
                _tti(warm, base + path)  # fills the cache and the server's
                complete: list[float] = []
                hot = [_tti(warm, base + path, complete) for _ in range(args.repeat)]
                cold = []
                for _ in range(max(3, args.repeat // 2)):
                    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                    cold.append(_tti(ctx.new_page(), base + path))
                    ctx.close()
                tti[name] = {"warm": _stats(hot), "cold": _stats(cold)}
                if complete:
                    tti[name]["complete"] = _stats(complete)
                print(f"  {name:<18} warm {tti[name]['warm']['median_ms']:7.1f} ms  "
                      f"cold {tti[name]['cold']['median_ms']:7.1f} ms", file=sys.stderr)
            _login(warm, base)
            for name, path in {"uploads (logged in)": "/uploads", "account": "/account"}.items():
                _tti(warm, base + path)
                hot = [_tti(warm, base + path) for _ in range(args.repeat)]
                tti[name] = {"warm": _stats(hot)}
                print(f"  {name:<18} warm {tti[name]['warm']['median_ms']:7.1f} ms",
                      file=sys.stderr)
            warm.evaluate("localStorage.clear()")
            result["tti"] = tti
            result["facets"] = facet_changes(warm, base, args.repeat)
            browser.close()
    finally:
        stop(server)
    result["load_after"] = os.getloadavg()
    result["nproc"] = os.cpu_count()

    print(f"\nGUI timing, {n:,} entries, {args.repeat} visits per page; chromium headless "
          f"(software WebGL); load average {result['load_before'][0]:.2f} before, "
          f"{result['load_after'][0]:.2f} after, {result['nproc']} cores")
    print(f"{'page (interactive)':<22}{'warm median':>12}{'cold median':>12}{'goal':>8}"
          f"{'warm/goal':>11}{'NOMAD GUI':>11}")
    for name, t in result["tti"].items():
        cold = f"{t['cold']['median_ms']:.0f} ms" if "cold" in t else "–"
        print(f"{name:<22}{t['warm']['median_ms']:>9.0f} ms{cold:>12}{TTI_GOAL_MS:>5.0f} ms"
              f"{t['warm']['median_ms'] / TTI_GOAL_MS:>11.2f}{'n/a':>11}")
    for name, t in result["tti"].items():
        if "complete" in t:
            print(f"{name}: complete (every count, histogram and plot drawn) after "
                  f"{t['complete']['median_ms']:.0f} ms (median, warm)")
    print(f"\n{'facet change':<22}{'results':>12}{'all counts':>12}{'goal':>8}{'res/goal':>11}"
          f"{'NOMAD GUI':>11}")
    for name, f in result["facets"].items():
        print(f"{name:<22}{f['results']['median_ms']:>9.0f} ms{f['facets']['median_ms']:>9.0f} ms"
              f"{FACET_GOAL_MS:>5.0f} ms{f['results']['median_ms'] / FACET_GOAL_MS:>11.2f}"
              f"{'n/a':>11}")
    print("NOMAD's GUI cannot run on this machine (Elasticsearch, MongoDB and its React build, "
          "no network): no side-by-side figure.")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
