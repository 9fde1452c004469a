"""Search benchmark: 10^6 synthetic entries, filtered pages and facet aggregations.

Run:  .venv/bin/python benchmarks/search_bench.py [--n 1000000] [--postgres URL] [--rebuild]

Builds a realistic synthetic ``entries`` / ``entry_elements`` table set (1-5 elements drawn from
a weighted periodic table, skewed space groups, ~40 % metals at zero gap) once, caches the
SQLite file under benchmarks/.cache/, and measures through ``bigmax.search.search``:

(a) element + band-gap range page of 20 with its total, over 200 random queries: p50/p95 ms;
(b) element terms + space-group terms + band-gap histogram over all entries: ms.

Archives are not built: the search never reads them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers, chemical_symbols
from sqlalchemy import text

from bigmax.archive.db import EntryElementRow, EntryRow, init_db, make_engine
from bigmax.search import search

EV = 1.602176634e-19
GOAL_PAGE_P95_MS = 50.0
GOAL_AGGS_MS = 300.0
CACHE = Path(__file__).parent / ".cache"

# Rough frequency of elements in computed-materials databases (relative weights).
_COMMON = {
    "O": 40,
    "Li": 10,
    "F": 8,
    "N": 7,
    "S": 7,
    "Mn": 7,
    "Fe": 7,
    "Co": 6,
    "Ni": 6,
    "Cu": 6,
    "Mg": 6,
    "Si": 6,
    "P": 6,
    "Se": 5,
    "Na": 5,
    "V": 5,
    "Cr": 5,
    "Ti": 5,
    "Zn": 5,
    "Al": 5,
    "Cl": 5,
    "Ba": 4,
    "Sr": 4,
    "Ca": 4,
    "K": 4,
    "Sb": 4,
    "Te": 4,
    "Ge": 4,
    "Ga": 4,
    "Sn": 4,
    "C": 4,
    "H": 4,
    "B": 4,
    "Bi": 3,
    "Mo": 3,
    "W": 3,
    "Nb": 3,
    "Y": 3,
    "La": 3,
    "Zr": 3,
    "In": 3,
    "Pd": 3,
    "Ag": 3,
    "Br": 3,
    "I": 3,
    "Rb": 2,
    "Cs": 2,
    "Pt": 2,
    "Au": 2,
    "Hg": 2,
    "Cd": 2,
    "Pb": 2,
    "Tl": 2,
    "As": 3,
    "Ru": 2,
    "Rh": 2,
    "Ir": 2,
    "Os": 1.5,
    "Re": 1.5,
    "Hf": 1.5,
    "Ta": 1.5,
    "Sc": 1.5,
    "Be": 1.5,
}
SYMBOLS = [s for s in chemical_symbols[1:95]]
WEIGHTS = np.array([_COMMON.get(s, 0.6) for s in SYMBOLS])
# Space groups in the order of how often they occur in real crystal databases.
_TOP_SG = [
    225,
    221,
    62,
    14,
    194,
    166,
    12,
    139,
    2,
    227,
    15,
    216,
    1,
    191,
    63,
    8,
    4,
    167,
    38,
    229,
    136,
    123,
    164,
    19,
    11,
    71,
    65,
    148,
    140,
    186,
    161,
    176,
    59,
    33,
    141,
    187,
    60,
]
SPACE_GROUPS = _TOP_SG + [g for g in range(1, 231) if g not in _TOP_SG]
CRYSTAL = [
    (2, "triclinic"),
    (15, "monoclinic"),
    (74, "orthorhombic"),
    (142, "tetragonal"),
    (167, "trigonal"),
    (194, "hexagonal"),
    (230, "cubic"),
]


def generate(n: int, seed: int = 1):
    """Yield chunks of (entry tuples, element tuples) for ``n`` entries."""
    rng = np.random.default_rng(seed)
    logw = np.log(WEIGHTS / WEIGHTS.sum())
    sg_p = 1.0 / np.arange(1, len(SPACE_GROUPS) + 1) ** 1.1
    sg_p /= sg_p.sum()
    sg_arr = np.array(SPACE_GROUPS)
    base = datetime(2020, 1, 1)
    chunk = 100_000
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        n_el = rng.choice([1, 2, 3, 4, 5], size=m, p=[0.05, 0.25, 0.4, 0.22, 0.08])
        keys = logw + rng.gumbel(size=(m, len(SYMBOLS)))  # Gumbel top-k: weighted sampling
        order = np.argsort(-keys, axis=1)[:, :5]
        sg = rng.choice(sg_arr, size=m, p=sg_p)
        metal = rng.random(m) < 0.4
        gap = np.where(metal, 0.0, np.clip(rng.gamma(2.0, 1.1, m), 0.01, 8.0)) * EV
        gap_null = rng.random(m) < 0.08
        ef = np.clip(rng.normal(-1.2, 0.9, m), -5, 3) * EV
        n_sites = np.clip(rng.lognormal(2.3, 0.8, m).astype(int), 1, 400)
        created = rng.integers(0, 5 * 365 * 24, m)
        counts = rng.integers(1, 5, size=(m, 5))
        entries, els = [], []
        for i in range(m):
            pk = start + i + 1
            k = int(n_el[i])
            syms = sorted(SYMBOLS[j] for j in order[i, :k])
            lo = hi = 0
            for s in syms:
                z = atomic_numbers[s]
                if z <= 63:
                    lo |= 1 << (z - 1)
                else:
                    hi |= 1 << (z - 64)
            formula = "".join(
                f"{s}{c if c > 1 else ''}" for s, c in zip(syms, counts[i], strict=False)
            )
            anon = "".join(
                f"{chr(65 + j)}{c if c > 1 else ''}"
                for j, c in enumerate(sorted(counts[i, :k], reverse=True))
            )
            g = int(sg[i])
            cs = next(name for top, name in CRYSTAL if g <= top)
            t = base + timedelta(hours=int(created[i]))
            entries.append(
                (
                    pk,
                    f"{pk * 2654435761 % 2**61:016x}{pk:012d}",
                    f"up{pk % 1000:05d}",
                    f"calc/{pk}/vasprun.xml",
                    "vasp",
                    "success",
                    t,
                    t,
                    formula,
                    formula,
                    anon,
                    ",".join(syms),
                    lo,
                    hi,
                    k,
                    int(n_sites[i]),
                    g,
                    f"SG{g}",
                    cs,
                    "VASP",
                    "DFT",
                    "PBE",
                    None if gap_null[i] else float(gap[i]),
                    None if gap_null[i] else ("direct" if i % 2 else "indirect"),
                    float(ef[i]),
                )
            )
            els.extend((s, pk) for s in syms)
        yield entries, els


COLUMNS = (
    "pk entry_id upload_id mainfile parser state created_at processed_at formula_hill "
    "formula_reduced formula_anonymous elements el_lo el_hi n_elements n_sites space_group_number "
    "space_group_symbol crystal_system program_name method_type xc_functional band_gap "
    "band_gap_type formation_energy_per_atom"
).split()


def _secondary_indexes():
    return [*EntryRow.__table__.indexes, *EntryElementRow.__table__.indexes]


def build_sqlite(path: Path, n: int) -> None:
    """Create the schema with SQLAlchemy, bulk-load with raw sqlite3, then index and ANALYZE."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    init_db(engine)
    with engine.begin() as conn:
        for idx in _secondary_indexes():
            conn.execute(text(f"DROP INDEX IF EXISTS {idx.name}"))
    engine.dispose()
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("BEGIN")
    con.executemany(
        'INSERT INTO uploads (upload_id, name, created_at, authors, license, "references", '
        "published) VALUES (?, ?, '2020-01-01 00:00:00', '[]', 'CC-BY-4.0', '[]', 1)",
        [(f"up{i:05d}", f"upload {i}") for i in range(1000)],
    )
    ins = f"INSERT INTO entries ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
    t0 = time.perf_counter()
    for entries, els in generate(n):
        con.executemany(ins, [_sqlite_row(r) for r in entries])
        con.executemany("INSERT INTO entry_elements (element, entry_pk) VALUES (?, ?)", els)
        print(f"  {entries[-1][0]:>9} rows  {time.perf_counter() - t0:6.1f} s", file=sys.stderr)
    con.execute("COMMIT")
    con.close()
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for idx in _secondary_indexes():
            idx.create(conn)
        conn.execute(text("ANALYZE"))
    engine.dispose()


def _sqlite_row(r):
    r = list(r)
    r[6] = r[6].isoformat(sep=" ")
    r[7] = r[7].isoformat(sep=" ")
    return r


def build_postgres(url: str, n: int) -> None:
    """Fresh tables, COPY the rows in, then index and ANALYZE."""
    import psycopg

    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "DROP TABLE IF EXISTS archives, entry_elements, entries, raw_files, uploads CASCADE"
            )
        )
    init_db(engine)
    with engine.begin() as conn:
        for idx in _secondary_indexes():
            conn.execute(text(f"DROP INDEX IF EXISTS {idx.name}"))
    engine.dispose()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    t0 = time.perf_counter()
    with psycopg.connect(dsn) as con, con.cursor() as cur:
        with cur.copy(
            "COPY uploads (upload_id, name, created_at, authors, license, "
            '"references", published) FROM STDIN'
        ) as cp:
            for i in range(1000):
                cp.write_row(
                    (
                        f"up{i:05d}",
                        f"upload {i}",
                        datetime(2020, 1, 1),
                        "[]",
                        "CC-BY-4.0",
                        "[]",
                        True,
                    )
                )
        for entries, els in generate(n):
            with cur.copy(f"COPY entries ({', '.join(COLUMNS)}) FROM STDIN") as cp:
                for r in entries:
                    cp.write_row(r)
            with cur.copy("COPY entry_elements (element, entry_pk) FROM STDIN") as cp:
                for r in els:
                    cp.write_row(r)
            print(f"  {entries[-1][0]:>9} rows  {time.perf_counter() - t0:6.1f} s", file=sys.stderr)
        cur.execute("SELECT setval(pg_get_serial_sequence('entries', 'pk'), %s)", (n,))
        con.commit()
    engine = make_engine(url)
    with engine.begin() as conn:
        for idx in _secondary_indexes():
            idx.create(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    engine.dispose()


def _count(engine) -> int:
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT count(*) FROM entries")).scalar()
    except Exception:
        return -1


def random_page_queries(k: int, seed: int = 2):
    """Element + band-gap range queries, elements drawn like the data (common ones often)."""
    rng = np.random.default_rng(seed)
    p = WEIGHTS / WEIGHTS.sum()
    out = []
    for _ in range(k):
        el = SYMBOLS[rng.choice(len(SYMBOLS), p=p)]
        lo = round(float(rng.uniform(0.2, 5.0)), 2)
        hi = round(lo + float(rng.uniform(0.3, 2.0)), 2)
        out.append({"elements": el, "band_gap": {"gte": f"{lo} eV", "lte": f"{hi} eV"}})
    return out


AGGS = {
    "elements": {"terms": {"quantity": "elements", "size": 100}},
    "space_groups": {"terms": {"quantity": "space_group_number", "size": 230}},
    "band_gap": {"histogram": {"quantity": "band_gap", "interval": 0.25, "unit": "eV"}},
}


def measure(engine, label: str) -> dict[str, float]:
    queries = random_page_queries(200)
    for q in queries[:10]:  # warm caches
        search(engine, q, page_size=20)
    times, totals = [], []
    for q in queries:
        t0 = time.perf_counter()
        res = search(engine, q, page_size=20)
        times.append((time.perf_counter() - t0) * 1000)
        totals.append(res.total)
    times.sort()
    p50 = statistics.median(times)
    p95 = times[int(0.95 * len(times)) - 1]
    search(engine, None, page_size=0, aggregations=AGGS)
    agg_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        search(engine, None, page_size=0, aggregations=AGGS)
        agg_times.append((time.perf_counter() - t0) * 1000)
    agg = statistics.median(agg_times)
    print(f"\n{label}")
    print(
        f"  (a) element + band-gap page of 20 with total, 200 queries "
        f"(median total {int(statistics.median(totals))} hits)"
    )
    print(
        f"      p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   goal p95 <= {GOAL_PAGE_P95_MS:.0f} ms"
        f"   {'met' if p95 <= GOAL_PAGE_P95_MS else 'MISSED'}"
    )
    print("  (b) element terms + space-group terms + band-gap histogram, all entries (median of 5)")
    print(
        f"      {agg:7.1f} ms                   goal <= {GOAL_AGGS_MS:.0f} ms"
        f"        {'met' if agg <= GOAL_AGGS_MS else 'MISSED'}"
    )
    return {"p50": p50, "p95": p95, "aggs": agg}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="number of entries")
    ap.add_argument("--postgres", metavar="URL", help="also build and measure PostgreSQL")
    ap.add_argument("--rebuild", action="store_true", help="rebuild even if cached")
    ap.add_argument("--skip-sqlite", action="store_true")
    args = ap.parse_args(argv)

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in open("/proc/cpuinfo")
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(
        f"machine: nproc={os.cpu_count()}  cpu={cpu}  python={platform.python_version()}  "
        f"sqlite={sqlite3.sqlite_version}"
    )
    if not args.skip_sqlite:
        path = CACHE / f"search_{args.n}.sqlite"
        engine = make_engine(f"sqlite:///{path}")
        if args.rebuild or _count(engine) != args.n:
            engine.dispose()
            t0 = time.perf_counter()
            build_sqlite(path, args.n)
            print(f"built SQLite with {args.n} entries in {time.perf_counter() - t0:.0f} s")
            engine = make_engine(f"sqlite:///{path}")
        measure(engine, f"SQLite {sqlite3.sqlite_version}, {args.n} entries")
        engine.dispose()
    if args.postgres:
        engine = make_engine(args.postgres)
        if args.rebuild or _count(engine) != args.n:
            engine.dispose()
            t0 = time.perf_counter()
            build_postgres(args.postgres, args.n)
            print(f"built PostgreSQL with {args.n} entries in {time.perf_counter() - t0:.0f} s")
            engine = make_engine(args.postgres)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        measure(engine, f"PostgreSQL {version}, {args.n} entries")
        engine.dispose()


if __name__ == "__main__":
    main()
