"""The 108 ideal prototypes of ARISE (Leitherer et al. 2021), shipped as package data.

A classifier trained on them alone must recognise noisy, defective and polycrystalline data, so
each prototype also records which directions are periodic: supercells and strain must not grow a
2D sheet into its vacuum or a nanotube sideways.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
from ase import Atoms

#: ARISE's folders and the number of periodic directions of their members.
CATEGORY_PERIODIC_DIMS = {
    "Elemental_solids": 3,
    "Binaries": 3,
    "Ternaries": 3,
    "Quaternaries": 3,
    "2D_materials": 2,
    "Nanotubes": 1,
}

#: Short names for the eight bulk prototypes of the issue's acceptance test.
COMMON_PROTOTYPES = {
    "fcc": "fcc_Cu_A_cF4_225_a",
    "bcc": "bcc_W_A_cI2_229_a",
    "hcp": "hcp_Mg_A_hP2_194_c",
    "diamond": "diam_C_A_cF8_227_a",
    "rocksalt": "RockSalt_NaCl",
    "zincblende": "Zincblende_ZnS",
    "wurtzite": "Wurtzite_ZnS",
    "perovskite": "3_cubic",
}


@dataclass(frozen=True)
class Prototype:
    """One ideal training structure: its ARISE label, category and periodic directions."""

    label: str
    category: str
    atoms: Atoms
    periodic_dims: int


def _data_dir() -> Path:
    return Path(str(resources.files("bigmax") / "data" / "prototypes" / "arise"))


def _read_aims(path: Path) -> Atoms:
    from ase.io import read

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return read(path, format="aims")


def _tube_cell(atoms: Atoms) -> Atoms:
    """One axial period of a finite nanotube segment, as a periodic cell along z.

    The files hold finite segments. The period is the shortest shift along z that maps nearly
    every atom onto an atom (the segment's ends are ragged), or, when the segment is a single
    period, its span plus the gap that closes it; either must leave every atom with its three
    graphitic neighbours.
    """
    from scipy.spatial import cKDTree

    pos = atoms.positions - [0, 0, atoms.positions[:, 2].min()]
    z = pos[:, 2]
    side = np.ptp(pos[:, :2], axis=0).max() + 15.0
    pos[:, :2] += side / 2 - pos[:, :2].mean(axis=0)
    bond = _bond_length(pos)
    tree = cKDTree(pos)
    levels = np.unique(np.round(z, 3))
    for shift in levels[levels > 0.5]:
        inside = z <= z.max() - shift + 0.01
        d, _ = tree.query(pos[inside] + [0, 0, shift])
        if np.mean(d < 0.02) > 0.9:
            wrapped = pos.copy()
            wrapped[:, 2] -= shift * np.floor(z / shift + 1e-3)
            first = np.ones(len(pos), bool)
            for i, j in cKDTree(wrapped).query_pairs(0.05):
                first[max(i, j)] = False
            cell = _closed_tube(atoms[first], wrapped[first], side, shift, bond)
            if cell is not None:
                return cell
    for gap in sorted(set(np.round(np.diff(levels), 3)) | {round(bond, 3)}):
        cell = _closed_tube(atoms, pos, side, np.ptp(z) + gap, bond)
        if cell is not None and gap > 0.05:
            return cell
    raise ValueError("no axial period found in nanotube segment")


def _closed_tube(atoms: Atoms, pos: np.ndarray, side: float, length: float, bond: float):
    from ase.neighborlist import neighbor_list

    cell = atoms.copy()
    cell.positions = pos
    cell.cell = [side, side, length]
    cell.pbc = True
    i, d = neighbor_list("id", cell, 1.25 * bond)
    if len(cell) and np.all(np.bincount(i, minlength=len(cell)) == 3) and d.min() > 0.85 * bond:
        return cell
    return None


def _bond_length(positions: np.ndarray) -> float:
    from scipy.spatial import cKDTree

    d, _ = cKDTree(positions).query(positions, k=2)
    return float(np.median(d[:, 1]))


def _periodise(atoms: Atoms, periodic_dims: int) -> Atoms:
    if periodic_dims == 1:
        atoms = _tube_cell(atoms)
    atoms.pbc = True
    return atoms


@lru_cache(maxsize=1)
def _all() -> tuple[Prototype, ...]:
    root = _data_dir()
    out = []
    for category, dims in CATEGORY_PERIODIC_DIMS.items():
        for folder in sorted((root / category).iterdir()):
            (path,) = sorted(folder.glob("*.in"))
            atoms = _periodise(_read_aims(path), dims)
            out.append(Prototype(folder.name, category, atoms, dims))
    return tuple(out)


def load_prototypes(labels: list[str] | None = None) -> list[Prototype]:
    """The ARISE prototypes as periodic ASE Atoms (nanotubes get their axial period).

    ``labels`` selects a subset by ARISE label or by the short names in COMMON_PROTOTYPES;
    an unknown label raises a KeyError naming it.
    """
    protos = _all()
    if labels is None:
        return [Prototype(p.label, p.category, p.atoms.copy(), p.periodic_dims) for p in protos]
    by_label = {p.label: p for p in protos}
    chosen = []
    for name in labels:
        key = COMMON_PROTOTYPES.get(name, name)
        if key not in by_label:
            raise KeyError(f"unknown prototype label {name!r}")
        p = by_label[key]
        chosen.append(Prototype(p.label, p.category, p.atoms.copy(), p.periodic_dims))
    return chosen


def arise_label_order() -> list[str]:
    """ARISE's output-neuron order (index -> label), for comparing with the published model."""
    mapping = json.loads((_data_dir() / "labels.json").read_text())
    return [mapping[str(i)] for i in range(len(mapping))]
