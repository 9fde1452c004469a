"""Per-frame cost of parsing and normalizing a multi-frame extxyz with the ASE reader.

Usage: python benchmarks/reader_parse_cost.py [--frames N] [--atoms-repeat 5 5 1]

Writes N frames of a rattled rocksalt NaCl supercell (2 x 5 x 5 x 1 = 50 atoms by default) with
energy, forces and stress to a temporary extxyz file, then times ``ASEReader.parse`` over it
(read + formulas + spglib + dimensionality + properties + schema validation), and each
normalization step alone. Single process, wall-clock; run it on an idle machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import iread, write

from bigmax.config import DEFAULT_SYMPREC
from bigmax.io import normalize
from bigmax.io.structures import ASEReader


def frames(n: int, repeat: tuple[int, int, int]) -> list:
    rng = np.random.default_rng(0)
    out = []
    for k in range(n):
        atoms = bulk("NaCl", "rocksalt", a=5.64).repeat(repeat)
        atoms.rattle(0.02, seed=k)
        f = rng.normal(scale=0.1, size=(len(atoms), 3))
        atoms.calc = SinglePointCalculator(
            atoms, energy=-3.3 * len(atoms) + rng.normal(), forces=f, stress=rng.normal(size=6)
        )
        out.append(atoms)
    return out


def per_call_ms(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / len(items) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--atoms-repeat", type=int, nargs=3, default=[5, 5, 1])
    parser.add_argument("--repeats", type=int, default=3, help="report the best of this many")
    args = parser.parse_args()
    images = frames(args.frames, tuple(args.atoms_repeat))
    reader = ASEReader()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "frames.extxyz"
        write(path, images)
        rows = {
            "parse + normalize (total)": lambda: list(
                reader.parse(path, path.parent, DEFAULT_SYMPREC)
            ),
            "ase.io.iread alone": lambda: list(iread(path, index=":")),
        }
        print(f"{args.frames} frames of {len(images[0])} atoms, symprec {DEFAULT_SYMPREC} A")
        for label, fn in rows.items():
            best = min(per_call_ms(lambda _, f=fn: f(), [None]) for _ in range(args.repeats))
            print(f"{label:>28}: {best / args.frames:.3f} ms/frame")
    steps = {
        "material()": lambda a: normalize.material(a, DEFAULT_SYMPREC),
        "symmetry()": lambda a: normalize.symmetry(a, DEFAULT_SYMPREC),
        "dimensionality()": normalize.dimensionality,
        "properties()": normalize.properties,
    }
    for label, fn in steps.items():
        best = min(per_call_ms(fn, images) for _ in range(args.repeats))
        print(f"{label:>28}: {best:.3f} ms/frame")


if __name__ == "__main__":
    main()
