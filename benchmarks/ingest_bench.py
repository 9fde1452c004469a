"""Ingest rate for extxyz frames of 10 to 100 atoms, with symmetry analysis (issue 2).

Goal: at least 2,000 entries/s on 2 cores. Side by side, the bare floor of the same work: ASE
reading the frames plus spglib on each, with nothing stored, so the ratio shows what the archive
costs.

    python benchmarks/ingest_bench.py [--frames 20000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import io
import lzma
import os
import tempfile
import time
from importlib import resources
from pathlib import Path

import ase.io
import numpy as np
import spglib

from bigmax.archive.ingest import ingest
from bigmax.config import DEFAULT_SYMPREC, Settings

GOAL = 2000.0


def make_frames(n_frames: int, files: int, folder: Path) -> int:
    """Real NOMAD 2018 frames (10-80 atoms), rattled a little so every frame is its own entry."""
    demo = resources.files("bigmax") / "data" / "demo" / "nomad2018.extxyz.xz"
    with lzma.open(demo, "rt") as fh:
        text = fh.read()  # ASE seeks back per frame: on an LZMA stream that re-decompresses
    base = ase.io.read(io.StringIO(text), index=":", format="extxyz")
    base = [a for a in base if 10 <= len(a) <= 100]
    rng = np.random.default_rng(0)
    per_file = n_frames // files
    sizes = []
    for f in range(files):
        frames = []
        for i in range(per_file):
            atoms = base[(f * per_file + i) % len(base)].copy()
            atoms.positions += rng.normal(0, 1e-5, atoms.positions.shape)
            frames.append(atoms)
            sizes.append(len(atoms))
        ase.io.write(folder / f"frames{f:04d}.extxyz", frames, format="extxyz")
    return int(np.mean(sizes))


def floor_rate(folder: Path) -> float:
    """ASE read + spglib only, on one core."""
    start = time.perf_counter()
    n = 0
    for path in sorted(folder.glob("*.extxyz"))[:4]:
        for atoms in ase.io.iread(path, format="extxyz"):
            cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
            spglib.get_symmetry_dataset(cell, symprec=DEFAULT_SYMPREC)
            n += 1
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bigmax-bench-") as tmp:
        tmp = Path(tmp)
        data = tmp / "data"
        data.mkdir()
        mean_atoms = make_frames(args.frames, args.files, data)
        settings = Settings(home=tmp / "home", database_url=f"sqlite:///{tmp}/bench.sqlite")
        report = ingest([data], upload="bench", settings=settings, jobs=args.jobs)
        floor = floor_rate(data)
    rate = report.entries_per_second
    print(f"machine: {os.cpu_count()} cores; {report.entries} entries, mean {mean_atoms} atoms")
    print(f"bigmax ingest (jobs={args.jobs}, SQLite): {rate:8.0f} entries/s  goal >= {GOAL:.0f}")
    print(f"ASE read + spglib only (1 core):    {floor:8.0f} frames/s")
    print(f"ratio bigmax / floor: {rate / floor:.2f}; goal met: {rate >= GOAL}")


if __name__ == "__main__":
    main()
