"""MPES event I/O: read rate (events/s) of our Parquet event store vs sed-processor's loaders.

Data: the real METIS sample (tests/data/.../Scan0030_2.h5, 297 398 events) bootstrapped
(events drawn with replacement, native dtypes, 12 B/event) to ``--events`` events in
``--files`` METIS HDF5 files (Stream_0..5, 50 000-event chunks as the instrument writes them,
msMarkers every 74 events = the sample's 74 kHz). The files are converted once to our Parquet
store (``convert_to_parquet``, uncompressed, 2^20-event row groups); the conversion rate is
printed too.

Reads, each after one warm-up pass (page cache warm; the box cannot drop caches for us):

- ours, Parquet store: ``open_events(store).iter_chunks(columns)``, all 6 columns (default
  read-ahead of one chunk, and ``prefetch=2``: two reader threads), and X/Y/t/ADC;
- ours, METIS HDF5 directly, all 6 columns;
- sed (peer, in its own venv, in a subprocess): the ``mpes`` loader on the same HDF5 files
  (``read_dataframe`` -> dask DataFrame, then every partition materialised with
  ``map_partitions(len).compute()``; sed reads every Stream_N as float32), and sed's
  ``generic`` loader on our Parquet store (dask ``read_parquet``).

Each figure is events / wall second and events / CPU second of the reading process (all its
threads). The headline ratio is ours-Parquet vs sed-mpes-HDF5 (sed's path for METIS data).

    .venv/bin/python benchmarks/mpes_io.py --events 1e7
    flock /tmp/bigmax-bench.lock .venv/bin/python benchmarks/mpes_io.py --events 1e8 \\
        --files 10 --data-dir /work/bench-data/mpes_io --cleanup
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "tests/data/mpes/sed/tests/data/loader/mpes/Scan0030_2.h5"
ALL = ["X", "Y", "t", "MasterRstCtr", "ADC", "StateInput"]
FOUR = ["X", "Y", "t", "ADC"]

PEER = r"""
import json, os, sys, time, warnings
warnings.filterwarnings("ignore")
import logging
logging.disable(logging.WARNING)
from sed.core.config import parse_config
from sed.loader.loader_interface import get_loader
kind, files = sys.argv[1], sys.argv[2:]
cfg = parse_config(config={"core": {"loader": kind}}, folder_config={}, user_config={},
                   system_config={}, verify_config=True)
loader = get_loader(kind, config=cfg)
def once():
    w, c = time.perf_counter(), time.process_time()
    if kind == "mpes":
        df = loader.read_dataframe(files=files, collect_metadata=False)[0]
    else:
        df = loader.read_dataframe(files=files, ftype="parquet", collect_metadata=False)[0]
    n = int(df.map_partitions(len).compute().sum())
    return n, time.perf_counter() - w, time.process_time() - c, list(df.columns)
once()
n, wall, cpu, cols = once()
print(json.dumps({"n": n, "wall": wall, "cpu": cpu, "columns": cols}))
"""


def make_metis(n: int, n_files: int, folder: Path) -> list[Path]:
    """Bootstrap the METIS sample into ``n_files`` files of n/n_files events (cached)."""
    import h5py
    import numpy as np

    per = n // n_files
    paths = [folder / f"metis_{n}_{i:03d}.h5" for i in range(n_files)]
    if all(p.exists() for p in paths):
        return paths
    with h5py.File(SAMPLE) as src:
        streams = [src[f"Stream_{i}"][()] for i in range(6)]
        attrs = {f"Stream_{i}": dict(src[f"Stream_{i}"].attrs) for i in range(6)}
        root = dict(src.attrs)
    rng = np.random.default_rng(20261122)
    step = 2**22
    for k, p in enumerate(paths):
        tmp = p.with_suffix(".tmp")
        with h5py.File(tmp, "w") as out:
            for key, v in root.items():
                out.attrs[key] = v
            ds = [
                out.create_dataset(f"Stream_{i}", shape=(per,), dtype=s.dtype, chunks=(50_000,))
                for i, s in enumerate(streams)
            ]
            for i, d in enumerate(ds):
                for key, v in attrs[f"Stream_{i}"].items():
                    d.attrs[key] = v
            for a in range(0, per, step):
                b = min(a + step, per)
                idx = rng.integers(0, len(streams[0]), b - a)
                for d, s in zip(ds, streams, strict=True):
                    d[a:b] = s[idx]
            out["msMarkers"] = np.arange(0, per, 74, dtype=np.uint64)
        os.replace(tmp, p)
        print(f"  wrote {p.name} ({k + 1}/{n_files})", file=sys.stderr)
    return paths


def ours(path, columns, chunk_events=2**22, prefetch=1) -> dict:
    from bigmax.techniques.mpes.events import open_events

    def once():
        w, c = time.perf_counter(), time.process_time()
        src = open_events(path)
        n = 0
        for chunk in src.iter_chunks(columns, chunk_events=chunk_events, prefetch=prefetch):
            n += len(chunk)
        return n, time.perf_counter() - w, time.process_time() - c

    once()
    n, wall, cpu = once()
    return {"n": n, "wall": wall, "cpu": cpu}


def peer(python: str, kind: str, files: list[Path]) -> dict | None:
    proc = subprocess.run(
        [python, "-c", PEER, kind, *map(str, files)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        print(f"sed ({kind}) failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--events", type=float, default=1e7)
    ap.add_argument("--files", type=int, default=4)
    ap.add_argument("--data-dir", type=Path, default=Path("/work/bench-data/mpes_io"))
    ap.add_argument("--peer-python", default="/work/peer-venvs/sed/bin/python")
    ap.add_argument("--cleanup", action="store_true", help="delete the generated files after")
    args = ap.parse_args()
    n = int(args.events)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(f"nproc {os.cpu_count()}, load average {os.getloadavg()}", file=sys.stderr)
    h5 = make_metis(n, args.files, args.data_dir)
    store = args.data_dir / f"store_{n}"
    from bigmax.techniques.mpes.store import convert_to_parquet

    if not store.exists():
        w = time.perf_counter()
        convert_to_parquet(h5, store, columns=ALL)
        conv = time.perf_counter() - w
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"convert {n:.3g} events HDF5 -> Parquet: {conv:.2f} s ({n / conv:.3g} ev/s), "
            f"peak RSS so far {rss:.0f} MB"
        )
    rows = {
        "ours Parquet, 6 columns": ours(store, ALL),
        "ours Parquet, 6 columns, 2 reader threads": ours(store, ALL, prefetch=2),
        "ours Parquet, X/Y/t/ADC": ours(store, FOUR),
        "ours METIS HDF5, 6 columns": ours(h5, ALL),
    }
    have_peer = Path(args.peer_python).exists()
    if have_peer:
        rows["sed mpes loader, HDF5 (6 columns)"] = peer(args.peer_python, "mpes", h5)
        rows["sed generic loader, our Parquet (6 columns)"] = peer(
            args.peer_python, "generic", sorted(store.glob("*.parquet"))
        )
    else:
        print(f"peer python {args.peer_python} not found: sed figures skipped", file=sys.stderr)
    print(f"\n{n:.3g} events in {args.files} files, warm page cache")
    print(f"{'reader':48s} {'events':>12s} {'wall s':>8s} {'ev/s':>10s} {'ev/CPU-s':>10s}")
    for name, r in rows.items():
        if r is None:
            print(f"{name:48s} failed")
            continue
        print(
            f"{name:48s} {r['n']:12d} {r['wall']:8.3f} {r['n'] / r['wall']:10.3g} "
            f"{r['n'] / max(r['cpu'], 1e-9):10.3g}"
        )
    sed_h5 = rows.get("sed mpes loader, HDF5 (6 columns)")
    sed_pq = rows.get("sed generic loader, our Parquet (6 columns)")
    ours_pq = rows["ours Parquet, 6 columns"]
    if sed_h5:
        print(
            f"ratio ours Parquet / sed mpes HDF5 (events/s): "
            f"{(ours_pq['n'] / ours_pq['wall']) / (sed_h5['n'] / sed_h5['wall']):.2f}"
        )
        o = rows["ours METIS HDF5, 6 columns"]
        print(
            f"ratio ours HDF5 / sed mpes HDF5 (events/s): "
            f"{(o['n'] / o['wall']) / (sed_h5['n'] / sed_h5['wall']):.2f}"
        )
    if sed_pq:
        print(
            f"ratio ours Parquet / sed generic Parquet (events/s): "
            f"{(ours_pq['n'] / ours_pq['wall']) / (sed_pq['n'] / sed_pq['wall']):.2f}"
        )
    print(f"load average after: {os.getloadavg()}", file=sys.stderr)
    if args.cleanup:
        shutil.rmtree(store, ignore_errors=True)
        for p in h5:
            p.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
