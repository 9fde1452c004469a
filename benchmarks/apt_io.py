"""APT I/O at 10^8 ions: read .pos cold, one .epos column warm, range labelling; APAV beside.

    flock /tmp/bigmax-bench.lock .venv/bin/python benchmarks/apt_io.py \
        --n 100000000 --dir /work/bench-data/apt --peer-python /work/peer-venvs/apav/bin/python

Files are generated once into ``--dir`` (m/q resampled from the real Si set, so the ranges of
Si.RRNG hit 92.8 % of the ions; xyz uniform). Each measurement runs in a fresh subprocess so its
peak RSS is its own. "Cold" cannot drop the page cache without root: the file is written fresh,
fsynced, and ``os.posix_fadvise(POSIX_FADV_DONTNEED)`` evicts its pages before the read. "Warm"
reads the file once before timing. Ours reads to native little-endian float32 arrays; APAV's
``Roi.from_pos`` stops at big-endian arrays (any later arithmetic pays the swap), so its figure
is a lower bound of the same work.
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

SI = Path("/work/shared/data/apt/si")


def _evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _warm(path: Path) -> None:
    with open(path, "rb") as fh:
        while fh.read(1 << 26):
            pass


def generate(n: int, folder: Path, seed: int = 0) -> tuple[Path, Path]:
    import numpy as np

    from bigmax.techniques.apt.formats import read_ions
    from bigmax.techniques.apt.formats.epos import append_epos
    from bigmax.techniques.apt.formats.pos import append_pos

    folder.mkdir(parents=True, exist_ok=True)
    pos, epos = folder / f"bench_{n}.pos", folder / f"bench_{n}.epos"
    if pos.exists() and epos.exists() and pos.stat().st_size == 16 * n:
        return pos, epos
    si_mq = read_ions(SI / "Si.pos").mq
    rng = np.random.default_rng(seed)
    chunk = 1 << 22
    t0 = time.perf_counter()
    with open(pos, "wb") as fp, open(epos, "wb") as fe:
        for start in range(0, n, chunk):
            m = min(chunk, n - start)
            xyz = rng.uniform(-50, 50, (m, 3)).astype(np.float32)
            mq = si_mq[rng.integers(0, len(si_mq), m)]
            mult = rng.integers(0, 3, m).astype(np.uint32)
            tof = rng.uniform(100, 1000, m).astype(np.float32)
            append_pos(fp, xyz, mq)
            append_epos(fe, xyz, mq, {"multiplicity": mult, "tof": tof})
        for fh in (fp, fe):
            fh.flush()
            os.fsync(fh.fileno())
    print(f"generated {n:,} ions in {time.perf_counter() - t0:.1f} s: {pos}, {epos}", flush=True)
    return pos, epos


OURS = textwrap.dedent(
    """
    import json, os, resource, sys, time
    import numpy as np
    step, path, ranges = sys.argv[1], sys.argv[2], sys.argv[3]
    from bigmax.techniques.apt.formats import read_ions
    from bigmax.techniques.apt.ranges import label_ions, read_ranges
    small = np.zeros((8, 11), ">u4").tobytes()
    open(path + ".warm.epos", "wb").write(small)
    w = read_ions(path + ".warm.epos"); w.xyz; w.mq; w.columns["tof"]  # JIT warm-up
    os.remove(path + ".warm.epos")
    if step == "pos_cold":
        t, c = time.perf_counter(), time.process_time()
        ions = read_ions(path)
        xyz, mq = ions.xyz, ions.mq
        dt, dc = time.perf_counter() - t, time.process_time() - c
        check = float(mq[:1000].sum())
    elif step == "epos_col":
        t, c = time.perf_counter(), time.process_time()
        mq = read_ions(path).mq
        dt, dc = time.perf_counter() - t, time.process_time() - c
        check = float(mq[:1000].sum())
    elif step == "label":
        mq = read_ions(path).mq
        table = read_ranges(ranges)
        label_ions(mq[:1000], table)
        t, c = time.perf_counter(), time.process_time()
        lab = label_ions(mq, table)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        check = float((lab >= 0).mean())
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": dt, "cpu": dc, "peak_rss_gb": rss, "check": check}))
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
    if step == "pos_cold":
        t, c = time.perf_counter(), time.process_time()
        roi = Roi.from_pos(path)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        check = float(roi.mass[:1000].astype(np.float32).sum())
    elif step == "epos_col":
        t, c = time.perf_counter(), time.process_time()
        mq = Roi.from_epos(path).mass
        dt, dc = time.perf_counter() - t, time.process_time() - c
        check = float(mq[:1000].astype(np.float32).sum())
    elif step == "label":
        roi = Roi.from_pos(path)
        rc = RangeCollection.from_rrng(ranges)
        ms = RangedMassSpectrum(roi, rc, upper=400)
        t, c = time.perf_counter(), time.process_time()
        ranged = sum(ms.counts_in_range(r) for r in rc.ranges)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        check = ranged / len(roi.mass)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(json.dumps({"seconds": dt, "cpu": dc, "peak_rss_gb": rss, "check": check}))
    """
)


def run_step(python: str, code: str, step: str, path: Path, ranges: Path) -> dict:
    if step == "pos_cold":
        _evict(path)
    elif step == "epos_col":
        _warm(path)
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
    ap.add_argument("--dir", type=Path, default=Path("/work/bench-data/apt"))
    ap.add_argument("--ranges", type=Path, default=SI / "Si.RRNG")
    ap.add_argument("--peer-python", default=None, help="python of a venv with apav==1.2.2")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    pos, epos = generate(args.n, args.dir)
    steps = [("pos_cold", pos, "read .pos cold (xyz + m/q)", 3.0),
             ("epos_col", epos, "one .epos column warm (m/q)", 1.0),
             ("label", pos, "range labelling (25 Si ranges)", 1.5)]  # fmt: skip
    print(f"n = {args.n:,} ions; nproc {os.cpu_count()}; load {os.getloadavg()}")
    print(f"{'step':32s} {'ours wall':>9s} {'cpu':>6s} {'RSS GB':>6s} | {'APAV wall':>9s} "
          f"{'cpu':>6s} {'RSS GB':>6s} | {'APAV/ours':>9s} target (wall)")  # fmt: skip

    def cols(r: dict) -> str:
        if "seconds" not in r:
            return f"{'-':>9s} {'-':>6s} {'-':>6s}"
        return f"{r['seconds']:9.2f} {r['cpu']:6.2f} {r['peak_rss_gb']:6.2f}"

    for step, path, label, target in steps:
        ours = run_step(sys.executable, OURS, step, path, args.ranges)
        peer = (
            run_step(args.peer_python, APAV, step, path, args.ranges) if args.peer_python else {}
        )
        o, p = ours.get("seconds"), peer.get("seconds")
        ratio = f"{p / o:9.1f}" if o and p else f"{'-':>9s}"
        miss = "" if o is not None and o <= target else "  (missed)"
        print(f"{label:32s} {cols(ours)} | {cols(peer)} | {ratio} <= {target} s{miss}")
        for who, r in (("ours", ours), ("apav", peer)):
            if "error" in r:
                print(f"  {who} error: {r['error']}")
        if o and p and step == "label":
            print(f"  ranged fraction: ours {ours['check']:.4f}, APAV {peer['check']:.4f}")
    print(f"load after: {os.getloadavg()}")
    if not args.keep:
        pos.unlink()
        epos.unlink()


if __name__ == "__main__":
    main()
