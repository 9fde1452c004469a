"""Voxelisation with Gaussian delocalization: bigmax vs plain numpy, and vs APAV's RangedGrid.

    flock /tmp/bigmax-bench.lock .venv/bin/python benchmarks/apt_voxels.py \
        --n 100000000 --data /work/bench-data/apt3 --apav-python /work/peer-venvs/apav/bin/python

1. A synthetic Fe-Cu specimen of ``--n`` ions (bigmax.techniques.apt.synthetic) is generated
   once and cached as .npy in ``--data``.
2. bigmax ``voxelize`` (1 nm voxels, 3-sigma delocalization 3/3/1.5 nm, cloud-in-cell and
   nearest-voxel assignment) is timed on all ions, after a numba warm-up on 10^5 ions; wall and
   CPU seconds and the process's peak RSS are printed.
3. Baseline: plain numpy, ``np.histogramdd`` per species on the same grid, then
   ``scipy.ndimage.gaussian_filter`` (what one writes without a kernel), same result.
4. APAV 1.2.2 ``RangedGrid`` (``first_pass`` False: histogramdd + gaussian_filter per range in
   float64; True: a per-ion Gaussian first pass) on the first ``--apav-n`` ions, run in the
   peer's own venv in a subprocess, against bigmax on the same ions. Its first pass is run on
   ``--apav-first-n`` ions only (it is a per-ion Python-level numba loop, minutes at 10^6).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

APAV_SCRIPT = r"""
import json, sys, time
import numpy as np
import apav
from apav.analysis.spatial import RangedGrid
pos, rrng, first = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
roi = apav.Roi.from_pos(pos)
rc = apav.RangeCollection.from_rrng(rrng)
t = time.perf_counter(); c = time.process_time()
g = RangedGrid(roi, rc, bin_width=1, first_pass=first, delocalization=[3, 3, 1.5])
wall, cpu = time.perf_counter() - t, time.process_time() - c
total = float(sum(v.sum() for v in g.all_ionic_counts.values()))
print(json.dumps({"wall": wall, "cpu": cpu, "total": total, "n": int(roi.counts)}))
"""


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def load_or_make(n: int, folder: Path):
    from bigmax.techniques.apt.synthetic import synthetic_specimen, write_rrng

    folder.mkdir(parents=True, exist_ok=True)
    fx, fs = folder / f"xyz_{n}.npy", folder / f"species_{n}.npy"
    fm, meta = folder / f"mq_{n}.npy", folder / f"meta_{n}.json"
    if not (fx.exists() and fs.exists() and fm.exists() and meta.exists()):
        t = time.perf_counter()
        s = synthetic_specimen(n, seed=0)
        np.save(fx, s.xyz)
        np.save(fs, s.species)
        np.save(fm, s.mq)
        write_rrng(folder / "ranges.rrng", s.ranges)
        meta.write_text(json.dumps({"names": list(s.species_names)}))
        print(f"generated {s.n_ions:,} ions in {time.perf_counter() - t:.1f} s")
        del s
    names = json.loads(meta.read_text())["names"]
    return np.load(fx, mmap_mode="r"), np.load(fs, mmap_mode="r"), np.load(fm, mmap_mode="r"), \
        names, folder / "ranges.rrng"


def timed(fn, *args, **kw):
    t = time.perf_counter()
    c = time.process_time()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t, time.process_time() - c


def numpy_baseline(xyz, species, names, grid):
    """histogramdd per species on the same voxel edges (10^7 ions at a time, so its float64
    copies stay bounded), then gaussian_filter (float64)."""
    from scipy import ndimage

    edges = [np.append(grid[c].values - 0.5, grid[c].values[-1] + 0.5) for c in "xyz"]
    sigma = np.array([3, 3, 1.5]) / 3.0
    hist = np.zeros((len(names), *(len(e) - 1 for e in edges)))
    for a in range(0, len(species), 10_000_000):
        x, s = xyz[a:a + 10_000_000], species[a:a + 10_000_000]
        for k in range(len(names)):
            hist[k] += np.histogramdd(x[s == k], bins=edges)[0]
    return np.stack([ndimage.gaussian_filter(h, sigma, mode="constant", truncate=3.0)
                     for h in hist])


def run_apav(python: str, xyz, mq, rrng: Path, first: bool, timeout: int):
    from bigmax.techniques.apt.formats.pos import write_pos

    with tempfile.TemporaryDirectory(dir=rrng.parent) as tmp:
        pos = Path(tmp) / "sub.pos"
        write_pos(pos, np.asarray(xyz), np.asarray(mq))
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
        try:
            res = subprocess.run([python, "-c", APAV_SCRIPT, str(pos), str(rrng),
                                  "1" if first else "0"], capture_output=True, text=True,
                                 timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s"}
    if res.returncode != 0:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000_000)
    ap.add_argument("--data", type=Path, default=Path("/work/bench-data/apt3"))
    ap.add_argument("--apav-python", default="/work/peer-venvs/apav/bin/python")
    ap.add_argument("--apav-n", type=int, default=10_000_000)
    ap.add_argument("--apav-first-n", type=int, default=1_000_000)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--timeout", type=int, default=900)
    args = ap.parse_args(argv)

    from bigmax.techniques.apt.voxels import voxelize

    load = open("/proc/loadavg").read().split()[:3]
    print(f"machine: {os.cpu_count()} cores, load average {load}")
    xyz, species, mq, names, rrng = load_or_make(args.n, args.data)
    n = len(species)
    voxelize(np.asarray(xyz[:100_000]), np.asarray(species[:100_000]), names)  # numba warm-up
    xyz_mem = np.array(xyz)  # read into memory once: the timings are warm, not disk-bound
    sp_mem = np.array(species)
    rss0 = peak_rss_gb()
    rows = []
    for assignment in ("cic", "ngp"):
        field, wall, cpu = timed(voxelize, xyz_mem, sp_mem, names, voxel=1.0,
                                 delocalization=(3, 3, 1.5), assignment=assignment)
        rows.append((f"bigmax voxelize {assignment}", n, wall, cpu))
        print(f"bigmax voxelize ({assignment}, 1 nm, deloc 3/3/1.5) on {n:,} ions: "
              f"{wall:.2f} s wall, {cpu:.2f} s CPU; grid {field.shape}; "
              f"sum {float(field.sum()):.6g}")
    print(f"peak RSS {peak_rss_gb():.2f} GB (data in memory {rss0:.2f} GB before voxelising)")
    if not args.no_baseline:
        ngp = field
        base, bwall, bcpu = timed(numpy_baseline, xyz_mem, sp_mem, names, ngp)
        diff = np.abs(base - ngp.values).sum() / base.sum()
        rows.append(("numpy histogramdd + gaussian_filter", n, bwall, bcpu))
        print(f"numpy baseline on {n:,} ions: {bwall:.2f} s wall, {bcpu:.2f} s CPU "
              f"(sum |bigmax ngp - numpy| / sum = {diff:.1e}: float32 vs float64 binning at voxel "
              f"edges); ratio numpy/bigmax "
              f"{bwall / rows[1][2]:.1f}x wall")
        del base
    if args.apav_python and Path(args.apav_python).exists():
        for first, m in ((False, args.apav_n), (True, args.apav_first_n)):
            m = min(m, n)
            sub_x, sub_s = xyz_mem[:m], sp_mem[:m]
            assignment = "cic" if first else "ngp"
            _, wall, cpu = timed(voxelize, sub_x, sub_s, names, voxel=1.0,
                                 delocalization=(3, 3, 1.5), assignment=assignment)
            peer = run_apav(args.apav_python, sub_x, mq[:m], rrng, first, args.timeout)
            if "error" in peer:
                print(f"APAV RangedGrid first_pass={first} on {m:,} ions: {peer['error']}")
                continue
            print(f"APAV RangedGrid(first_pass={first}) on {m:,} ions: {peer['wall']:.2f} s wall,"
                  f" {peer['cpu']:.2f} s CPU; bigmax {assignment}: {wall:.2f} s wall, "
                  f"{cpu:.2f} s CPU; ratio APAV/bigmax {peer['wall'] / wall:.0f}x wall")
    print(f"load average after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    sys.exit(main())
