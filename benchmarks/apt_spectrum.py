"""APT mass spectrum and composition at 10^8 ions; APAV's MassSpectrum/RangedMassSpectrum beside.

    flock /tmp/bigmax-bench.lock .venv/bin/python benchmarks/apt_spectrum.py \
        --n 100000000 --dir /work/bench-data/apt2 --peer-python /work/peer-venvs/apav/bin/python

A .pos file of ``--n`` ions is generated once into ``--dir`` (m/q resampled from the real Si set,
so the Si.RRNG ranges hold 92.8 % of the ions; xyz uniform) and deleted at the end unless
``--keep``. Each step runs in a fresh subprocess with the m/q column already in memory (read
before the clock starts) and reports its wall time and peak RSS:

* spectrum: counts in 0.01 Da bins from 0 to 400 Da (40,000 bins). Ours: ``mass_spectrum``;
  APAV: ``Roi.mass_histogram`` (the histogram behind its ``MassSpectrum`` classes).
* composition: the Si.RRNG composition with molecular ions split into atoms. Ours:
  ``label_ions`` + ``count_ranges`` + ``composition_table`` (with Poisson errors); APAV:
  ``RangedMassSpectrum(roi, ranges, decompose=True)`` (which also builds its histogram).
* autorange (ours only): peak finding and isotope-pattern identification on the full set.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

SI = Path(os.environ.get("BIGMAX_SI_DIR", "/work/shared/data/apt/si"))


def generate(n: int, folder: Path, seed: int = 0) -> Path:
    import numpy as np

    from bigmax.techniques.apt.formats import read_ions

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"spectrum_{n}.pos"
    if path.exists() and path.stat().st_size == 16 * n:
        return path
    si_mq = np.asarray(read_ions(SI / "Si.pos").mq)
    rng = np.random.default_rng(seed)
    chunk = 1 << 22
    t0 = time.perf_counter()
    with open(path, "wb") as fh:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            rec = np.empty((m, 4), ">f4")
            rec[:, :3] = rng.uniform(-50, 50, (m, 3))
            rec[:, 3] = si_mq[rng.integers(0, len(si_mq), m)]
            fh.write(rec.tobytes())
    print(f"generated {n:,} ions in {time.perf_counter() - t0:.1f} s: {path}", flush=True)
    return path


OURS = textwrap.dedent(
    """
    import json, resource, sys, time
    import numpy as np
    step, path, ranges = sys.argv[1], sys.argv[2], sys.argv[3]
    from bigmax.techniques.apt.formats import read_ions
    from bigmax.techniques.apt.ranges import label_ions, read_ranges
    from bigmax.techniques.apt.spectrum import mass_spectrum
    from bigmax.techniques.apt.composition import composition_table, count_ranges
    mq = np.ascontiguousarray(read_ions(path).mq)
    table = read_ranges(ranges)
    mass_spectrum(mq[:1000], 0.01, (0, 400)); label_ions(mq[:1000], table)  # JIT warm-up
    if step == "spectrum":
        t = time.perf_counter()
        spec = mass_spectrum(mq, 0.01, (0.0, 400.0))
        dt = time.perf_counter() - t
        check = int(spec.counts.sum())
    elif step == "composition":
        t = time.perf_counter()
        comp = composition_table(count_ranges(label_ions(mq, table), table), table)
        dt = time.perf_counter() - t
        check = {s: round(float(p), 3) for s, p in zip(comp["species"], comp["percent"])}
    elif step == "autorange":
        from bigmax.techniques.apt.autorange import autorange
        t = time.perf_counter()
        res = autorange(mq)
        dt = time.perf_counter() - t
        check = ", ".join(res.ions["ion"][:6])
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": dt, "peak_rss_gb": rss, "check": check}))
    """
)

APAV = textwrap.dedent(
    """
    import json, os, resource, sys, time
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    from apav import Roi, RangeCollection
    from apav.analysis.massspectrum import RangedMassSpectrum
    step, path, ranges = sys.argv[1], sys.argv[2], sys.argv[3]
    roi = Roi.from_pos(path)
    roi.mass[:10].sum()
    if step == "spectrum":
        t = time.perf_counter()
        centers, counts = roi.mass_histogram(0.01, 0.0, 400.0)
        dt = time.perf_counter() - t
        check = int(np.asarray(counts).sum())
    elif step == "composition":
        rc = RangeCollection.from_rrng(ranges)
        t = time.perf_counter()
        ms = RangedMassSpectrum(roi, rc, decompose=True, percent=True)
        quant = ms.quant_dict
        dt = time.perf_counter() - t
        check = {k: round(float(v[0]), 3) for k, v in quant.items()}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": dt, "peak_rss_gb": rss, "check": check}))
    """
)


def run_step(python: str, code: str, step: str, path: Path, ranges: Path) -> dict:
    res = subprocess.run(
        [python, "-c", code, step, str(path), str(ranges)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if res.returncode:
        return {"error": res.stderr.strip().splitlines()[-1] if res.stderr else "failed"}
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10**6)
    ap.add_argument("--dir", type=Path, default=Path("/work/bench-data/apt2"))
    ap.add_argument("--ranges", type=Path, default=SI / "Si.RRNG")
    ap.add_argument("--peer-python", default=None, help="python of a venv with apav==1.2.2")
    ap.add_argument("--keep", action="store_true", help="keep the generated file")
    args = ap.parse_args()
    path = generate(args.n, args.dir)
    steps = [("spectrum", "mass spectrum (40k bins)", 1.0),
             ("composition", "composition (25 ranges, atoms)", None),
             ("autorange", "auto-ranging (spectrum + ids)", None)]  # fmt: skip
    print(f"n = {args.n:,} ions; nproc {os.cpu_count()}; load {os.getloadavg()}")
    print(f"{'step':32s} {'ours s':>8s} {'RSS GB':>7s} {'APAV s':>8s} {'RSS GB':>7s} "
          f"{'APAV/ours':>9s} target")  # fmt: skip
    try:
        for step, label, target in steps:
            ours = run_step(sys.executable, OURS, step, path, args.ranges)
            peer = {}
            if args.peer_python and step != "autorange":
                peer = run_step(args.peer_python, APAV, step, path, args.ranges)
            o, p = ours.get("seconds"), peer.get("seconds")
            ratio = f"{p / o:9.1f}" if o and p else f"{'-':>9s}"
            ps = f"{p:8.2f} {peer['peak_rss_gb']:7.2f}" if p else f"{'-':>8s} {'-':>7s}"
            os_ = f"{o:8.2f} {ours['peak_rss_gb']:7.2f}" if o else f"{'-':>8s} {'-':>7s}"
            goal = f"<= {target} s" if target else ""
            missed = "  (MISSED)" if target and o and o > target else ""
            print(f"{label:32s} {os_} {ps} {ratio} {goal}{missed}")
            for who, r in (("ours", ours), ("apav", peer)):
                if "error" in r:
                    print(f"  {who} error: {r['error']}")
                elif "check" in r:
                    print(f"  {who}: {r['check']}")
    finally:
        print(f"load after: {os.getloadavg()}")
        if not args.keep:
            path.unlink()


if __name__ == "__main__":
    main()
