"""Agreement of our spglib space groups with the NOMAD 2018 Kaggle labels (3000 structures).

Usage: python benchmarks/nomad2018_spacegroups.py [--data DIR] [--symprec A ...] [--angle DEG]

Prints, for each tolerance, the fraction of structures whose space group number equals the
``spacegroup`` column of train.csv/test.csv, three ways: with the real species (what ingest
stores), with every cation (Al, Ga, In) made one species (the label is the space group of the
parent lattice before the alloy was decorated and relaxed), and the latter without the Fd-3m
(227) entries, whose geometries are not Fd-3m even as a lattice. See docs/symmetry.md.
The data are read from ../shared at benchmark time only (Sutton et al., npj Comput Mater 5,
111 (2019)).
"""

from __future__ import annotations

import argparse
import csv
import time
import warnings
from pathlib import Path

import spglib
from ase.io import read

from bigmax.config import DEFAULT_SYMPREC

spglib.error.OLD_ERROR_HANDLING = False

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/structures/nomad2018"


def load(data: Path, merge_cations: bool) -> list[tuple[str, int, tuple]]:
    """(id, reference space group, spglib cell) for every structure in train and test."""
    cells = []
    for split in ("train", "test"):
        with open(data / f"{split}.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    atoms = read(data / split / row["id"] / "geometry.xyz", format="aims")
                numbers = atoms.numbers.copy()
                if merge_cations:
                    numbers[numbers != 8] = 13
                cell = (atoms.cell.array, atoms.get_scaled_positions(), numbers)
                cells.append((f"{split}/{row['id']}", int(row["spacegroup"]), cell))
    return cells


def agreement(cells: list, symprec: float, angle: float) -> tuple[float, list[str]]:
    """Fraction of agreeing space groups and the ids that disagree."""
    wrong = []
    for key, ref, cell in cells:
        try:
            data = spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=angle)
            number = data.number
        except spglib.error.SpglibError:
            number = None
        if number != ref:
            wrong.append(f"{key}: {number} != {ref}")
    return 1.0 - len(wrong) / len(cells), wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--symprec", type=float, nargs="*", default=[DEFAULT_SYMPREC])
    parser.add_argument("--angle", type=float, default=-1.0, help="degrees; -1: spglib default")
    parser.add_argument("--show", type=int, default=0, help="list this many disagreements")
    args = parser.parse_args()
    species = load(args.data, merge_cations=False)
    lattice = load(args.data, merge_cations=True)
    not_227 = [c for c in lattice if c[1] != 227]
    print(f"{len(species)} structures from {args.data} ({len(not_227)} not labelled 227)")
    sets = (("real species", species), ("cation lattice", lattice), ("lattice, no 227", not_227))
    for symprec in args.symprec:
        for label, cells in sets:
            start = time.perf_counter()
            frac, wrong = agreement(cells, symprec, args.angle)
            ms = (time.perf_counter() - start) / len(cells) * 1e3
            print(
                f"symprec={symprec:g} A angle_tolerance={args.angle:g} {label:>16}: "
                f"agreement {frac:.4f} ({len(cells) - len(wrong)}/{len(cells)}), "
                f"{ms:.2f} ms/structure"
            )
            for line in wrong[: args.show]:
                print("  ", line)


if __name__ == "__main__":
    main()
