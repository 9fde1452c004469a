"""API load: wrk over loopback against a live BigMax server and the optimade reference server.

    .venv/bin/python benchmarks/api_load.py [--entries 100000] [--duration 60] [--connections 64]
        [--reference-python VENV/bin/python] [--reference-entries 1000]

Builds a synthetic archive of realistic entries (search_bench's composition model plus an
archive JSON with a structure per entry), serves it with uvicorn (``--workers``, default 2 for
two cores), and runs ``wrk`` for each query (install with ``apt-get install -y wrk``).

The reference is the ``optimade[server]`` server (``--reference-python`` names a venv with it)
with its default backend, mongomock: no MongoDB or Elasticsearch server can be installed
offline here. mongomock evaluates every filter in Python over every document, so at 10^4
structures one request takes ~2 s and a 64-connection run times out; the reference is loaded
with ``--reference-entries`` structures instead, and BigMax is measured on an archive of those
same entries too, so the ratio compares equal archives. Both get ``--workers`` processes.

Prints req/s, p50, p99 and errors side by side (ratio BigMax / reference), with the load
average around each run, and writes a JSON summary (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from search_bench import build_sqlite  # noqa: E402

from bigmax.search.optimade_properties import structure_attributes_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

OPTIMADE_QUERIES = {
    "elements HAS O": 'elements HAS "O"',
    "HAS ALL Si,O + nelements": 'elements HAS ALL "Si","O" AND nelements<=3',
    "nelements=3 AND nsites<=20": "nelements=3 AND nsites<=20",
    "formula = (common)": None,  # filled with a formula that exists
}
NATIVE = "POST /api/v1/entries/query"
NATIVE_BODY = {
    "query": {"elements": ["O"], "band_gap:gt": "1 eV"},
    "pagination": {"page_size": 20},
}


def _formula_counts(formula: str) -> list[tuple[str, int]]:
    return [(s, int(c) if c else 1) for s, c in re.findall(r"([A-Z][a-z]?)(\d*)", formula)]


def add_archives(path: Path, seed: int = 3) -> None:
    """One archive row per entry, with a structure consistent with the entry's formula."""
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    rows = con.execute(
        "SELECT pk, entry_id, upload_id, formula_reduced, n_sites, space_group_number, "
        "crystal_system, band_gap, band_gap_type, formation_energy_per_atom, created_at "
        "FROM entries ORDER BY pk"
    ).fetchall()
    archives, served, updates = [], [], []
    for pk, eid, up, formula, n_sites, sg, cs, gap, gap_type, ef, created in rows:
        counts = _formula_counts(formula)
        unit = sum(c for _, c in counts)
        mult = max(1, min(n_sites // unit, max(1, 120 // unit)))
        species = [s for s, c in counts for _ in range(c * mult)]
        n = len(species)
        a = (n * 14.0) ** (1 / 3) * 1e-10
        pos = (rng.random((n, 3)) * a).round(22).tolist()
        reduced_counts = {s: c for s, c in counts}
        hill = "".join(f"{s}{c * mult if c * mult > 1 else ''}" for s, c in counts)
        anon = "".join(
            f"{chr(65 + i)}{c if c > 1 else ''}"
            for i, c in enumerate(sorted(reduced_counts.values(), reverse=True))
        )
        stamp = created.replace(" ", "T")
        props = {"formation_energy_per_atom": ef}
        if gap is not None:
            props["band_gap"] = {"value": gap, "type": gap_type}
        entry = {
            "entry_id": eid,
            "upload_id": up,
            "mainfile": f"calc/{pk}/vasprun.xml",
            "child_key": None,
            "parser": "vasp",
            "state": "success",
            "created_at": stamp,
            "processed_at": stamp,
            "results": {
                "material": {
                    "chemical_formula_hill": hill,
                    "chemical_formula_reduced": formula,
                    "chemical_formula_anonymous": anon,
                    "elements": sorted(reduced_counts),
                    "element_counts": {s: c * mult for s, c in counts},
                    "n_elements": len(counts),
                    "n_sites": n,
                    "structure": {
                        "species": species,
                        "positions": pos,
                        "cell": [[a, 0, 0], [0, a, 0], [0, 0, a]],
                        "pbc": [True, True, True],
                    },
                    "symmetry": {"space_group_number": sg, "crystal_system": cs},
                },
                "method": {"program_name": "VASP", "method_type": "DFT", "xc_functional": "PBE"},
                "properties": props,
            },
        }
        archives.append((pk, json.dumps(entry, separators=(",", ":"))))
        served.append((pk, structure_attributes_json(entry)))  # what ingest stores
        updates.append((n, hill, anon, pk))
        if len(archives) >= 20_000:
            _insert_archives(con, archives, served)
    _insert_archives(con, archives, served)
    con.executemany(
        "UPDATE entries SET n_sites=?, formula_hill=?, formula_anonymous=? WHERE pk=?", updates
    )
    con.execute("COMMIT")
    con.execute("ANALYZE")
    con.close()


def _insert_archives(con, archives: list, served: list) -> None:
    con.executemany("INSERT INTO archives (entry_pk, data) VALUES (?, ?)", archives)
    con.executemany(
        "INSERT INTO optimade_structures (entry_pk, attributes) VALUES (?, ?)", served
    )
    archives.clear()
    served.clear()


def fill_optimade(path: Path) -> None:
    """Serialize OPTIMADE attributes for an archive built before ingest stored them."""
    con = sqlite3.connect(path, isolation_level=None)
    con.execute(
        "CREATE TABLE IF NOT EXISTS optimade_structures (entry_pk INTEGER NOT NULL PRIMARY KEY "
        "REFERENCES entries (pk) ON DELETE CASCADE, attributes TEXT NOT NULL)"
    )
    if con.execute("SELECT count(*) FROM optimade_structures").fetchone()[0] == 0:
        con.execute("BEGIN")
        rows = con.execute("SELECT entry_pk, data FROM archives").fetchall()
        con.executemany(
            "INSERT INTO optimade_structures (entry_pk, attributes) VALUES (?, ?)",
            [(pk, structure_attributes_json(json.loads(data))) for pk, data in rows],
        )
        con.execute("COMMIT")
    con.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 600) -> None:
    t0 = time.time()
    while time.time() - t0 < timeout:
        try:
            urllib.request.urlopen(url, timeout=5).read()
            return
        except Exception:
            time.sleep(0.5)
    raise RuntimeError(f"server at {url} did not come up in {timeout} s")


LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"p50\\":%%d,\\"p99\\":%%d}\\n",
    latency:percentile(50), latency:percentile(99)))
end
"""
LUA_GET = """
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"p50\\":%d,\\"p99\\":%d}\\n",
    latency:percentile(50), latency:percentile(99)))
end
"""


def run_wrk(
    url: str,
    duration: int,
    connections: int,
    workdir: Path,
    body: dict | None = None,
    timeout: int = 30,
):
    script = workdir / ("post.lua" if body else "get.lua")
    script.write_text(LUA % json.dumps(body) if body else LUA_GET)
    threads = min(2, connections)
    cmd = [*CLIENT, os.environ.get("WRK", "wrk"), f"-t{threads}", f"-c{connections}"]
    cmd += [f"-d{duration}s", "--timeout", f"{timeout}s"]
    out = subprocess.run(
        [*cmd, "-s", str(script), url], capture_output=True, text=True, check=True
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = json.loads(re.search(r"JSON (\{.*\})", out).group(1))
    errors = 0
    if m := re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out):
        errors += int(m.group(1))
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(x) for x in m.groups())
    return {"rps": rps, "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000, "errors": errors}


#: ``taskset -c CPUS`` prefixes for the servers and for wrk (``--server-cpus``, ``--client-cpus``).
SERVER: list[str] = []
CLIENT: list[str] = []


def start(cmd: list[str], env: dict, log: Path) -> subprocess.Popen:
    cmd = [*SERVER, *cmd]
    return subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def loadavg() -> float:
    return os.getloadavg()[0]


def build_archive(workdir: Path, n: int) -> Path:
    """The SQLite archive of ``n`` synthetic entries in ``workdir`` (built once, then kept)."""
    db = workdir / "home" / "bigmax.sqlite"
    if not db.exists():
        t0 = time.perf_counter()
        build_sqlite(db, n)
        add_archives(db)
        print(f"built {n} entries in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    fill_optimade(db)
    return db


def queries_for(db: Path) -> tuple[dict[str, str], str]:
    """The OPTIMADE filters (the formula filter uses the archive's most common formula) and
    the id of one entry."""
    con = sqlite3.connect(db)
    formula = con.execute(
        "SELECT formula_reduced FROM entries GROUP BY formula_reduced ORDER BY count(*) DESC"
    ).fetchone()[0]
    n = con.execute("SELECT count(*) FROM entries").fetchone()[0]
    one_id = con.execute(
        "SELECT entry_id FROM entries ORDER BY pk LIMIT 1 OFFSET ?", (min(776, n // 2),)
    ).fetchone()[0]
    con.close()
    queries = dict(OPTIMADE_QUERIES)
    queries["formula = (common)"] = f'chemical_formula_reduced="{formula}"'
    return queries, one_id


def measured(url: str, args, workdir: Path, body: dict | None = None) -> dict:
    """A wrk run after ``--warmup`` unmeasured seconds (every server process meets the query
    once and fills its caches; a server that just started pays that once per query)."""
    if args.warmup:
        run_wrk(url, args.warmup, args.connections, workdir, body, args.timeout)
    before = loadavg()
    out = run_wrk(url, args.duration, args.connections, workdir, body, args.timeout)
    out["load_before"], out["load_after"] = round(before, 2), round(loadavg(), 2)
    return out


def run_bigmax(db: Path, workdir: Path, args, label: str) -> dict:
    """Every query against a BigMax server over ``db``."""
    queries, one_id = queries_for(db)
    env = {**os.environ, "BIGMAX_HOME": str(db.parent)}
    env["BIGMAX_DATABASE_URL"] = f"sqlite:///{db}"
    port = free_port()
    server = start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bigmax.api.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
        workdir / "bigmax.log",
    )
    base = f"http://127.0.0.1:{port}"
    out: dict = {}
    try:
        wait_for(f"{base}/optimade/v1/info")
        for name, flt in queries.items():
            url = f"{base}/optimade/v1/structures?" + urllib.parse.urlencode({"filter": flt})
            urllib.request.urlopen(url).read()
            out[name] = measured(url, args, workdir)
            print(label, name, out[name], file=sys.stderr)
        out["single structure"] = measured(f"{base}/optimade/v1/structures/{one_id}", args, workdir)
        print(label, "single", out["single structure"], file=sys.stderr)
        req = urllib.request.Request(
            f"{base}/api/v1/entries/query",
            json.dumps(NATIVE_BODY).encode(),
            {"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req).read()
        out[NATIVE] = measured(f"{base}/api/v1/entries/query", args, workdir, NATIVE_BODY)
        print(label, NATIVE, out[NATIVE], file=sys.stderr)
    finally:
        stop(server)
    return out


def export_jsonl(db: Path, path: Path) -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from bigmax.archive.catalog import archives_for
    from bigmax.archive.db import make_engine
    from bigmax.search.optimade_jsonl import write_optimade_jsonl

    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        pks = [r[0] for r in conn.exec_driver_sql("SELECT pk FROM entries ORDER BY pk")]
    entries = (
        e for s in range(0, len(pks), 5000) for e in archives_for(engine, pks[s : s + 5000])
    )
    write_optimade_jsonl(entries, path)
    engine.dispose()


def run_reference(db: Path, workdir: Path, args) -> dict:
    """The OPTIMADE queries against the optimade[server] reference loaded with ``db``'s
    structures (exported as OPTIMADE JSONL)."""
    queries, one_id = queries_for(db)
    jsonl = workdir / "structures.jsonl"
    if not jsonl.exists():
        export_jsonl(db, jsonl)
    port = free_port()
    env = {
        **os.environ,
        "OPTIMADE_INSERT_TEST_DATA": "false",
        "OPTIMADE_INSERT_FROM_JSONL": str(jsonl),
        "OPTIMADE_DATABASE_BACKEND": "mongomock",
        "OPTIMADE_BASE_URL": f"http://127.0.0.1:{port}",
    }
    t0 = time.perf_counter()
    ref = start(
        [
            args.reference_python,
            "-m",
            "uvicorn",
            "optimade.server.main:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env,
        workdir / "reference.log",
    )
    out: dict = {}
    try:
        base = f"http://127.0.0.1:{port}"
        wait_for(f"{base}/v1/info", timeout=1800)
        out["load_s"] = round(time.perf_counter() - t0, 1)
        for name, flt in queries.items():
            url = f"{base}/v1/structures?" + urllib.parse.urlencode({"filter": flt})
            t1 = time.perf_counter()
            urllib.request.urlopen(url, timeout=600).read()
            out[f"{name} (one request alone, s)"] = round(time.perf_counter() - t1, 2)
            out[name] = measured(url, args, workdir)
            print("reference", name, out[name], file=sys.stderr)
        out["single structure"] = measured(f"{base}/v1/structures/{one_id}", args, workdir)
        print("reference single", out["single structure"], file=sys.stderr)
    finally:
        ref.kill()  # a reference still working through queued requests would hold us up
        ref.wait()
    return out


def table(results: dict) -> str:
    """The side-by-side table (markdown)."""
    big, small, ref = (results.get(k, {}) for k in ("bigmax", "bigmax_small", "reference"))
    n, m = results["entries"], results["reference_entries"]

    def cell(r: dict | None) -> str:
        if not r or "rps" not in r:
            return "- | - | - | -"
        return f"{r['rps']:.0f} | {r['p50_ms']:.0f} | {r['p99_ms']:.0f} | {r['errors']}"

    lines = [
        f"| query | BigMax {n}: req/s | p50 ms | p99 ms | errors | BigMax {m}: req/s | p50 ms "
        f"| p99 ms | errors | reference {m}: req/s | p50 ms | p99 ms | errors | ratio |",
        "|---" * 14 + "|",
    ]
    for name in big:
        r_ref, r_small = ref.get(name), small.get(name)
        ratio = "n/a"
        if r_ref and r_small and "rps" in r_ref:
            ratio = f"{r_small['rps'] / r_ref['rps']:.0f}x" if r_ref["rps"] else "inf (0 req/s)"
        lines.append(
            f"| {name} | {cell(big.get(name))} | {cell(r_small)} | {cell(r_ref)} | {ratio} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--reference-entries", type=int, default=1000)
    ap.add_argument("--duration", type=int, default=60, help="seconds per query")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--timeout", type=int, default=30, help="wrk: seconds before a timeout")
    ap.add_argument("--warmup", type=int, default=5, help="unmeasured seconds before each run")
    ap.add_argument("--workers", type=int, default=2, help="server processes (both servers)")
    ap.add_argument("--workdir", type=Path, default=None, help="keep the archives here")
    ap.add_argument(
        "--reference-python", default=None, help="python of a venv with optimade[server]"
    )
    ap.add_argument("--skip-bigmax", action="store_true", help="only the equal-size runs")
    ap.add_argument("--build-only", action="store_true", help="build the archives and stop")
    ap.add_argument("--out", type=Path, default=None, help="write the summary JSON here")
    ap.add_argument("--server-cpus", default=None, help="taskset CPU list for the servers")
    ap.add_argument("--client-cpus", default=None, help="taskset CPU list for wrk")
    args = ap.parse_args(argv)
    if args.server_cpus:
        SERVER[:] = ["taskset", "-c", args.server_cpus]
    if args.client_cpus:
        CLIENT[:] = ["taskset", "-c", args.client_cpus]

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bigmax-load-"))
    results: dict = {
        "entries": args.entries,
        "reference_entries": args.reference_entries,
        "duration_s": args.duration,
        "connections": args.connections,
        "workers": args.workers,
        "warmup_s": args.warmup,
        "nproc": os.cpu_count(),
        "server_cpus": args.server_cpus,
        "client_cpus": args.client_cpus,
    }
    big_dir = workdir / f"n{args.entries}"
    big_dir.mkdir(parents=True, exist_ok=True)
    if args.build_only:
        build_archive(big_dir, args.entries)
        small_dir = workdir / f"n{args.reference_entries}"
        small_dir.mkdir(parents=True, exist_ok=True)
        small = build_archive(small_dir, args.reference_entries)
        export_jsonl(small, small_dir / "structures.jsonl")
        return
    if not args.skip_bigmax:
        results["bigmax"] = run_bigmax(build_archive(big_dir, args.entries), big_dir, args, "big")
    if args.reference_python:
        small_dir = workdir / f"n{args.reference_entries}"
        small_dir.mkdir(parents=True, exist_ok=True)
        small = build_archive(small_dir, args.reference_entries)
        results["bigmax_small"] = run_bigmax(small, small_dir, args, "small")
        results["reference"] = run_reference(small, small_dir, args)
    print(json.dumps(results, indent=2))
    if "bigmax" in results:
        print(table(results))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
