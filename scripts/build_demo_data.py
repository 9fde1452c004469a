"""Build the demo files shipped in src/bigmax/data/demo from ../shared/data (run once by a developer).

NOMAD 2018 Kaggle: 3000 FHI-aims geometries (2400 train with formation energy and band gap, 600 test
without) become one multi-frame extended XYZ file, compressed with xz. The 82 octet binaries table is
copied as it is.
"""

from __future__ import annotations

import csv
import lzma
import shutil
import sys
from pathlib import Path

import ase.io

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "bigmax" / "data" / "demo"


def build_nomad2018(source: Path) -> int:
    frames = []
    for split in ("train", "test"):
        with open(source / f"{split}.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                atoms = ase.io.read(source / split / row["id"] / "geometry.xyz", format="aims")
                atoms.info = {
                    "kaggle_id": f"{split}-{row['id']}",
                    "dataset_spacegroup": int(row["spacegroup"]),
                    "program_name": "FHI-aims",
                    "method_type": "DFT",
                    "xc_functional": "PBE",
                    "basis_set": "numeric atom-centered orbitals",
                }
                if split == "train":  # the test labels were not part of the published training set
                    atoms.info["formation_energy_per_atom"] = float(row["formation_energy_ev_natom"])
                    atoms.info["band_gap"] = float(row["bandgap_energy_ev"])
                frames.append(atoms)
    with lzma.open(OUT / "nomad2018.extxyz.xz", "wt", preset=9) as fh:
        ase.io.write(fh, frames, format="extxyz")
    return len(frames)


def main(shared: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    n = build_nomad2018(shared / "structures" / "nomad2018")
    shutil.copy(shared / "sisso" / "octet_binaries_82.csv", OUT / "octet_binaries_82.csv")
    print(f"wrote {n} NOMAD 2018 frames and the octet binaries table to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
