"""MPES binning: bigmax's fused engine side by side with sed-processor, same events, same box.

    python benchmarks/mpes_binning.py --peer-python /work/peer-venvs/sed/bin/python \
        [--events 1e8] [--cases 3d,4d,workflow,parquet,big] [--big-events 1e9]

Events come from bigmax's synthetic generator (graphene bands, detector distortion, TOF law):
``--base`` of them are generated once, then resampled (with replacement) to ``--events``; the
in-RAM cases add U(-0.5, 0.5) jitter and store float32 columns, so both engines bin the very
same float values. Each measurement runs in its own subprocess (ours in this venv, sed's in
``--peer-python``) and reports wall time, process CPU time, and the peak RSS above the RSS
just before binning (sampled every 5 ms). Headline: events per CPU-second, and the ratio.

Cases: ``3d`` X, Y, t at 256^3 in RAM; ``4d`` X, Y, t, ADC at 100^4 in RAM; ``workflow`` raw
integer columns through jitter, distortion, momentum, energy and delay, then 4D 100^4 (ours;
sed's own workflow figure on this box is quoted from the reference notes); ``parquet`` 3D
256^3 from Parquet files on disk, page cache of those files dropped first (posix_fadvise);
``big`` 3D from ``--big-events`` events on disk (ours only). Big files go under ``--data``
and are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve()


# ---------------------------------------------------------------------------------------------
# helpers usable by both interpreters (numpy only)


class PeakRSS:
    """Samples this process's RSS in a thread; ``extra`` is the peak above the start."""

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        return self

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _run(self):
        while not self._stop:
            self.peak = max(self.peak, self._rss())
            time.sleep(0.005)

    def __exit__(self, *exc):
        self._stop = True
        self._t.join()
        self.peak = max(self.peak, self._rss())
        self.extra = self.peak - self.base


def _drop_cache(paths):
    for p in paths:
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _load_ram(folder: Path, names):
    import numpy as np

    return {c: np.load(folder / f"{c}.npy") for c in names}


def _measure(fn):
    with PeakRSS() as mem:
        w0, c0 = time.perf_counter(), time.process_time()
        total = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return {"wall_s": wall, "cpu_s": cpu, "base_rss": mem.base, "peak_extra": mem.extra,
            "sum": float(total)}


# ---------------------------------------------------------------------------------------------
# workers (run in subprocesses)


def worker_ours(spec: dict) -> dict:
    import numpy as np

    from bigmax.techniques.mpes.binning import Axis, bin_events
    from bigmax.techniques.mpes.transforms import Pipeline

    axes = [Axis(n, b, tuple(r)) for n, b, r in spec["axes"]]
    pipe = Pipeline.model_validate(spec["pipeline"]) if spec.get("pipeline") else None
    threads = spec.get("threads")
    if spec["source"] == "ram":
        data = _load_ram(Path(spec["folder"]), spec["columns"])
        small = {c: v[:20000] for c, v in data.items()}
        bin_events(small, axes, pipe, n_threads=threads)  # compile outside the timing
        res = _measure(lambda: int(bin_events(data, axes, pipe, n_threads=threads).sum()))
    else:
        from bigmax.techniques.mpes.events import open_events

        files = spec["files"]
        src0 = open_events(files[:1])
        small = {c: v[:20000] for c, v in src0.read(spec["columns"]).items()}
        bin_events(small, axes, pipe, n_threads=threads)
        _drop_cache(files)
        src = open_events(files, columns=spec["columns"])
        res = _measure(lambda: int(bin_events(src, axes, pipe, n_threads=threads).sum()))
    hist = int(np.prod([a.n_bins for a in axes])) * 4
    res.update(events=spec["events"], hist_bytes=hist, threads=threads or os.cpu_count())
    return res


def worker_sed(spec: dict) -> dict:
    import dask
    import dask.dataframe as dd
    import numpy as np
    import pandas as pd
    from sed.binning import bin_dataframe

    names = [n for n, _, _ in spec["axes"]]
    bins = [b for _, b, _ in spec["axes"]]
    # sed reads ranges as the centres of the first and last bins (it shifts them down by half
    # a bin): shift up by half a bin so that its edges are ours
    ranges = [(r[0] + (r[1] - r[0]) / b / 2, r[1] + (r[1] - r[0]) / b / 2)
              for _, b, r in spec["axes"]]
    cores = spec.get("threads") or os.cpu_count()
    if spec["source"] == "ram":
        data = _load_ram(Path(spec["folder"]), spec["columns"])
        parts = max(1, spec["events"] // 10**6)  # 100 partitions at 1e8, as measured before
        df = dd.from_pandas(pd.DataFrame(data, copy=False), npartitions=parts)
        df = df.persist(scheduler="threads")
        files = []
    else:
        files = spec["files"]
        df = dd.read_parquet(files)[spec["columns"]]
    small = dd.from_pandas(pd.DataFrame({c: np.arange(10.0) for c in names}), npartitions=1)
    bin_dataframe(small, bins=bins, axes=names, ranges=ranges, pbar=False, n_cores=cores)
    _drop_cache(files)
    res = _measure(lambda: float(bin_dataframe(df, bins=bins, axes=names, ranges=ranges,
                                               pbar=False, n_cores=cores).sum()))
    res.update(events=spec["events"], hist_bytes=int(np.prod(bins)) * 4, threads=cores,
               dask=dask.__version__)
    return res


# ---------------------------------------------------------------------------------------------
# data preparation (bigmax venv)


def prepare(args) -> dict:
    import numpy as np

    from bigmax.techniques.mpes.synthetic import synthetic_events

    data = Path(args.data)
    data.mkdir(parents=True, exist_ok=True)
    base_f = data / f"base_{args.base}.npz"
    if not base_f.exists():
        print(f"generating {args.base:.3g} synthetic events ...", flush=True)
        base, _ = synthetic_events(int(args.base), seed=1)
        np.savez(base_f, **base)
    base = dict(np.load(base_f))
    n = int(args.events)
    rng = np.random.default_rng(2)
    out = {"base": base_f}
    ram = data / f"ram_{n}"
    raw = data / f"raw_{n}"
    if not (ram / "ADC.npy").exists() or not (raw / "ADC.npy").exists():
        ram.mkdir(exist_ok=True)
        raw.mkdir(exist_ok=True)
        print(f"resampling to {n:.3g} events ...", flush=True)
        idx = rng.integers(0, len(base["X"]), n)
        for c in ("X", "Y", "t", "ADC"):
            v = base[c][idx]
            np.save(raw / f"{c}.npy", v)
            f = v.astype(np.float32)
            f += rng.uniform(-0.5, 0.5, n).astype(np.float32)
            np.save(ram / f"{c}.npy", f)
            del v, f
        del idx
    out.update(ram=ram, raw=raw)
    return out


def write_parquet(base_f: Path, folder: Path, n_events: int, per_file: int) -> list[str]:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    files = [folder / f"part_{i:04d}.parquet" for i in range(-(-n_events // per_file))]
    if all(f.exists() for f in files):
        return [str(f) for f in files]
    base = dict(np.load(base_f))
    rng = np.random.default_rng(3)
    for i, f in enumerate(files):
        m = min(per_file, n_events - i * per_file)
        idx = rng.integers(0, len(base["X"]), m)
        table = pa.table({c: base[c][idx] for c in ("X", "Y", "t")})
        pq.write_table(table, f, compression="none", row_group_size=1 << 20)
        print(f"\r  wrote {i + 1}/{len(files)} Parquet files", end="", flush=True)
    print()
    return [str(f) for f in files]


# ---------------------------------------------------------------------------------------------
# orchestration


def run_worker(python: str | None, who: str, spec: dict) -> dict | None:
    if python is None:  # --skip-peer
        return None
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(spec, fh)
    cmd = [python, str(HERE), "--worker", who, "--spec", fh.name]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    finally:
        os.unlink(fh.name)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        print(f"  {who} failed (rc {proc.returncode}): {proc.stderr.strip()[-1500:]}")
        return None
    return json.loads(lines[-1])


def fmt(r: dict | None) -> str:
    if r is None:
        return "n/a"
    return (f"{r['events'] / r['cpu_s']:.3g} ev/CPU-s, {r['events'] / r['wall_s']:.3g} ev/s wall "
            f"({r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} CPU-s), peak extra "
            f"{r['peak_extra'] / 1e6:.0f} MB (budget (T+1)*H+256 MB = "
            f"{((r['threads'] + 1) * r['hist_bytes'] + 256e6) / 1e6:.0f} MB)")


def _binned(r: dict | None) -> str:
    return "n/a" if r is None else f"{r['sum']:.0f}"


def _ratio(a, b, key):
    if not a or not b:
        return "n/a"
    if key == "cpu":
        return f"{(a['events'] / a['cpu_s']) / (b['events'] / b['cpu_s']):.2f}x per CPU-s"
    return f"{(a['events'] / a['wall_s']) / (b['events'] / b['wall_s']):.2f}x per wall-s"


def workflow_pipeline(raw_folder: Path):
    """Jitter, distortion, k, E, delay, with axes covering 99 % of the transformed events."""
    import numpy as np

    from bigmax.techniques.mpes.transforms import (
        DelayCalibration,
        DistortionCorrection,
        EnergyCalibration,
        Jitter,
        MomentumCalibration,
        Pipeline,
    )

    gx, gy = np.meshgrid(np.linspace(-1, 1, 64), np.linspace(-1, 1, 64), indexing="ij")
    pipe = Pipeline(steps=[
        Jitter(columns={"X": 0.5, "Y": 0.5, "t": 0.5, "ADC": 0.5}, seed=1),
        DistortionCorrection.from_arrays(8 * gx * (gx**2 + gy**2), 8 * gy * (gx**2 + gy**2),
                                         x0=0, y0=0, step=1500 / 63),
        MomentumCalibration(x_center=700, y_center=720, kx_scale=0.004, ky_scale=0.004,
                            rotation=3.0, x_column="Xm", y_column="Ym"),
        EnergyCalibration(d=1.0, t0=0.0, e0=-5.0,
                          binwidth=4.125e-12),
        DelayCalibration.from_adc_range((500, 7500), (-1.0, 2.0)),
    ])
    sample = {c: np.load(raw_folder / f"{c}.npy", mmap_mode="r")[:200000] for c in
              ("X", "Y", "t", "ADC")}
    out = pipe.apply({c: np.asarray(v) for c, v in sample.items()})
    axes = []
    for c in ("kx", "ky", "energy", "delay"):
        lo, hi = np.percentile(out[c], [0.5, 99.5])
        axes.append((c, 100, (float(lo), float(hi))))
    return pipe, axes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--worker", choices=["ours", "sed"])
    ap.add_argument("--spec", help="(worker) JSON file describing the measurement")
    ap.add_argument("--peer-python", default="/work/peer-venvs/sed/bin/python")
    ap.add_argument("--events", type=float, default=1e8)
    ap.add_argument("--base", type=float, default=1e7, help="synthetic events before resampling")
    ap.add_argument("--big-events", type=float, default=1e9)
    ap.add_argument("--cases", default="3d,4d,workflow,parquet")
    ap.add_argument("--data", default="/work/bench-data/mpes")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("--skip-peer", action="store_true", help="time bigmax only")
    args = ap.parse_args()
    if args.worker:
        with open(args.spec) as fh:
            spec = json.load(fh)
        res = worker_ours(spec) if args.worker == "ours" else worker_sed(spec)
        print(json.dumps(res), flush=True)
        return

    cases = args.cases.split(",")
    if args.skip_peer:
        args.peer_python = None
    print(f"machine: {os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[:3]}")
    paths = prepare(args)
    n = int(args.events)
    ranges3 = [("X", 256, (0, 1500)), ("Y", 256, (0, 1500)), ("t", 256, (1.25e5, 1.56e5))]
    results = {}
    if "3d" in cases:
        spec = {"source": "ram", "folder": str(paths["ram"]), "columns": ["X", "Y", "t"],
                "axes": ranges3, "events": n, "threads": args.threads}
        ours, peer = run_worker(sys.executable, "ours", spec), run_worker(args.peer_python,
                                                                          "sed", spec)
        results["3d"] = (ours, peer)
        print(f"3D 256^3, {n:.3g} events in RAM\n  bigmax: {fmt(ours)}\n  sed:    {fmt(peer)}\n"
              f"  ratio:  {_ratio(ours, peer, 'cpu')}, {_ratio(ours, peer, 'wall')}; "
              f"binned {_binned(ours)} vs {_binned(peer)}", flush=True)
    if "4d" in cases:
        axes4 = [("X", 100, (0, 1500)), ("Y", 100, (0, 1500)), ("t", 100, (1.25e5, 1.56e5)),
                 ("ADC", 100, (500, 7500))]
        spec = {"source": "ram", "folder": str(paths["ram"]), "columns": ["X", "Y", "t", "ADC"],
                "axes": axes4, "events": n, "threads": args.threads}
        ours, peer = run_worker(sys.executable, "ours", spec), run_worker(args.peer_python,
                                                                          "sed", spec)
        results["4d"] = (ours, peer)
        print(f"4D 100^4, {n:.3g} events in RAM\n  bigmax: {fmt(ours)}\n  sed:    {fmt(peer)}\n"
              f"  ratio:  {_ratio(ours, peer, 'cpu')}, {_ratio(ours, peer, 'wall')}; "
              f"binned {_binned(ours)} vs {_binned(peer)}", flush=True)
    if "workflow" in cases:
        pipe, axes = workflow_pipeline(paths["raw"])
        spec = {"source": "ram", "folder": str(paths["raw"]), "columns": ["X", "Y", "t", "ADC"],
                "axes": axes, "events": n, "threads": args.threads,
                "pipeline": json.loads(pipe.model_dump_json())}
        ours = run_worker(sys.executable, "ours", spec)
        results["workflow"] = (ours, None)
        print(f"full workflow (jitter, distortion, k, E, delay, 4D 100^4), {n:.3g} raw events\n"
              f"  bigmax: {fmt(ours)}\n  sed (reference notes, this box, its CI workflow_4d): "
              f"1.3-1.4e6 ev/CPU-s", flush=True)
    if "parquet" in cases:
        files = write_parquet(paths["base"], Path(args.data) / f"parquet_{n}", n, 10**7)
        spec = {"source": "files", "files": files, "columns": ["X", "Y", "t"], "axes": ranges3,
                "events": n, "threads": args.threads}
        ours, peer = run_worker(sys.executable, "ours", spec), run_worker(args.peer_python,
                                                                          "sed", spec)
        results["parquet"] = (ours, peer)
        print(f"3D 256^3 from {len(files)} Parquet files ({n:.3g} events, page cache dropped)\n"
              f"  bigmax: {fmt(ours)}\n  sed:    {fmt(peer)}\n"
              f"  ratio:  {_ratio(ours, peer, 'wall')}, {_ratio(ours, peer, 'cpu')}", flush=True)
    if "big" in cases:
        nb = int(args.big_events)
        files = write_parquet(paths["base"], Path(args.data) / f"parquet_{nb}", nb, 10**7)
        spec = {"source": "files", "files": files, "columns": ["X", "Y", "t"], "axes": ranges3,
                "events": nb, "threads": args.threads}
        ours = run_worker(sys.executable, "ours", spec)
        results["big"] = (ours, None)
        rss = "n/a" if not ours else f"{(ours['base_rss'] + ours['peak_extra']) / 1e9:.2f}"
        print(f"3D 256^3 from {len(files)} Parquet files ({nb:.3g} events, page cache dropped)\n"
              f"  bigmax: {fmt(ours)}; peak RSS {rss} GB", flush=True)
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}")
    if not args.keep:
        import shutil

        shutil.rmtree(args.data, ignore_errors=True)


if __name__ == "__main__":
    main()
