"""Input checks shared by every descriptor: one clear error naming the bad structure.

dscribe (and most descriptor codes) fail on bad input with a C++ assertion, a NaN feature
vector or, worst, a silently wrong one. Empty structures, atoms on top of each other and
symbols outside the periodic table are caught here instead, before any work starts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numba
import numpy as np
from ase import Atoms
from ase.data import chemical_symbols

#: Two atoms closer than this (in angstrom) are taken as a broken structure.
MIN_DISTANCE = 0.5

#: Highest atomic number we accept (Og).
MAX_Z = 118


class StructureError(ValueError):
    """A structure cannot be described: empty, overlapping atoms, unknown element, bad cell."""


def structure_name(atoms: Atoms, index: int) -> str:
    """``structure 3`` or ``structure 3 (train/4/geometry.xyz)`` when the source is known."""
    source = atoms.info.get("source") if isinstance(atoms, Atoms) else None
    return f"structure {index} ({source})" if source else f"structure {index}"


def as_structure_list(X: object) -> list[Atoms]:
    """A list of Atoms from a list, tuple or object array of Atoms; one clear error otherwise."""
    if isinstance(X, Atoms):
        raise StructureError("expected a list of ase.Atoms, got a single Atoms: wrap it in a list")
    if isinstance(X, np.ndarray) and X.dtype != object:
        raise StructureError(
            f"expected a list of ase.Atoms, got a numeric array of shape {X.shape}; "
            "structure descriptors take structures, not feature matrices"
        )
    if not isinstance(X, Iterable) or isinstance(X, str | bytes | dict):
        raise StructureError(f"expected a list of ase.Atoms, got {type(X).__name__}")
    out = list(X.ravel() if isinstance(X, np.ndarray) else X)
    for i, atoms in enumerate(out):
        if not isinstance(atoms, Atoms):
            raise StructureError(f"structure {i}: expected ase.Atoms, got {type(atoms).__name__}")
    if not out:
        raise StructureError("no structures given (an empty list)")
    return out


def check_structures(
    X: object,
    *,
    species: Sequence[str] | None = None,
    min_distance: float | None = MIN_DISTANCE,
    need_cell: bool = False,
) -> list[Atoms]:
    """Validate structures; raise ``StructureError`` naming the first bad one.

    Parameters
    ----------
    X : list of ase.Atoms
    species : list of str, optional
        The elements a fitted descriptor knows; any other element is an error.
    min_distance : float or None, default=0.5
        Atoms (or periodic images) closer than this, in angstrom, are an error; None skips
        the distance check (composition features do not look at positions).
    need_cell : bool, default=False
        Require a periodic, non-singular cell (sine and Ewald matrices).

    Returns
    -------
    list of ase.Atoms, the same objects.
    """
    structures = as_structure_list(X)
    for i, atoms in enumerate(structures):
        name = structure_name(atoms, i)
        if len(atoms) == 0:
            raise StructureError(f"{name}: empty, it has no atoms")
        numbers = atoms.numbers
        bad = (numbers < 1) | (numbers > MAX_Z)
        if bad.any():
            k = int(np.argmax(bad))
            raise StructureError(
                f"{name}: atom {k} has an unknown element (atomic number {int(numbers[k])}, "
                f"symbol {atoms.get_chemical_symbols()[k]!r})"
            )
        if not np.isfinite(atoms.positions).all():
            raise StructureError(f"{name}: positions contain NaN or infinity")
        pbc = np.asarray(atoms.pbc, dtype=bool)
        if need_cell and not pbc.all():
            raise StructureError(f"{name}: needs a periodic cell (pbc is {pbc.tolist()})")
        if pbc.any():
            cell = atoms.cell.array
            # a non-periodic axis may have no vector (a slab): complete() fills it in
            if not np.isfinite(cell).all() or abs(np.linalg.det(atoms.cell.complete())) < 1e-6:
                raise StructureError(
                    f"{name}: periodic (pbc {pbc.tolist()}) but its cell is singular: "
                    f"{np.round(cell, 4).tolist()}"
                )
    if species is not None:
        check_species(structures, species)
    if min_distance:
        _check_distances(structures, min_distance)
    return structures


def check_species(structures: list[Atoms], species: Sequence[str]) -> None:
    """Every element of every structure is in ``species`` (what a descriptor was fitted on)."""
    known = set(species)
    for i, atoms in enumerate(structures):
        extra = set(atoms.get_chemical_symbols()) - known
        if extra:
            raise StructureError(
                f"{structure_name(atoms, i)}: element(s) {', '.join(sorted(extra))} not among "
                f"the species the descriptor was fitted on ({', '.join(sorted(known))})"
            )


def _check_distances(structures: list[Atoms], min_distance: float) -> None:
    """All structures at once in one compiled loop (a per-structure neighbour list costs
    about 6 ms each, more than a SOAP vector)."""
    counts = np.fromiter((len(a) for a in structures), dtype=np.int64, count=len(structures))
    offsets = np.zeros(len(structures) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    positions = np.concatenate([a.positions for a in structures]).astype(np.float64)
    cells = np.stack([a.cell.complete() for a in structures]).astype(np.float64)
    pbc = np.stack([np.asarray(a.pbc, dtype=bool) for a in structures])
    first, pair_i, pair_j, dist = _first_overlap(positions, offsets, cells, pbc, min_distance)
    if first >= 0:
        name = structure_name(structures[first], first)
        if pair_i == pair_j:
            raise StructureError(
                f"{name}: atom {pair_i} is {dist:.3f} Å from its own periodic image "
                f"(< {min_distance} Å): the cell is too small"
            )
        raise StructureError(
            f"{name}: atoms {pair_i} and {pair_j} are {dist:.3f} Å apart (< {min_distance} Å): "
            "overlapping atoms"
        )


@numba.njit(cache=True)
def _first_overlap(positions, offsets, cells, pbc, cutoff):  # pragma: no cover - compiled
    """(structure, i, j, distance) of the first pair closer than ``cutoff``, or (-1, ...).

    Periodic images are searched exactly: along a periodic axis with reciprocal vector b the
    shifts run over |n| <= ceil(cutoff * |b| + 0.5), enough for any skew of the cell.
    """
    cut2 = cutoff * cutoff
    for s in range(offsets.size - 1):
        start = offsets[s]
        stop = offsets[s + 1]
        cell = cells[s]
        periodic = pbc[s, 0] or pbc[s, 1] or pbc[s, 2]
        nmax = np.zeros(3, dtype=np.int64)
        inv = np.zeros((3, 3))
        if periodic:
            inv = np.linalg.inv(cell)
            for k in range(3):
                if pbc[s, k]:
                    norm = np.sqrt(inv[0, k] ** 2 + inv[1, k] ** 2 + inv[2, k] ** 2)
                    nmax[k] = int(np.ceil(cutoff * norm + 0.5))
        d = np.zeros(3)
        f = np.zeros(3)
        for i in range(start, stop):
            for j in range(i, stop):
                for k in range(3):
                    d[k] = positions[j, k] - positions[i, k]
                if periodic:
                    for k in range(3):
                        f[k] = d[0] * inv[0, k] + d[1] * inv[1, k] + d[2] * inv[2, k]
                        if pbc[s, k]:
                            f[k] -= np.floor(f[k] + 0.5)
                    for k in range(3):
                        d[k] = f[0] * cell[0, k] + f[1] * cell[1, k] + f[2] * cell[2, k]
                for n0 in range(-nmax[0], nmax[0] + 1):
                    for n1 in range(-nmax[1], nmax[1] + 1):
                        for n2 in range(-nmax[2], nmax[2] + 1):
                            if i == j and n0 == 0 and n1 == 0 and n2 == 0:
                                continue
                            r2 = 0.0
                            for k in range(3):
                                e = d[k] + n0 * cell[0, k] + n1 * cell[1, k] + n2 * cell[2, k]
                                r2 += e * e
                            if r2 < cut2:
                                return s, i - start, j - start, np.sqrt(r2)
    return -1, -1, -1, 0.0


def known_symbols(symbols: Iterable[str], what: str = "species") -> list[str]:
    """Sorted unique element symbols; an unknown one is a ``StructureError`` naming it."""
    out = set(symbols)
    for s in sorted(map(str, out)):
        if s not in chemical_symbols[1 : MAX_Z + 1]:
            raise StructureError(f"{what}: {s!r} is not an element symbol")
    return sorted(out, key=chemical_symbols.index)
