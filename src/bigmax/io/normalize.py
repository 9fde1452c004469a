"""Normalization: from an ``ase.Atoms`` to the searchable ``Material`` and ``Properties``, in SI.

Ingest runs this once per entry, so it is written for speed: composition with ``np.unique``,
symmetry with one spglib call, and dimensionality with a KD-tree neighbour search plus a
vectorized rank computation instead of ASE's much slower interval scan (see
``dimensionality``).
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import numpy as np
import spglib
from ase import Atoms
from ase.data import chemical_symbols, covalent_radii
from scipy.spatial import cKDTree

from bigmax.schema import BandGap, Material, Properties, ScalarQuantity, Structure, Symmetry

# Raise spglib errors instead of returning None with a DeprecationWarning on every call
# (spglib >= 2.5 asks callers to opt in to this).
spglib.error.OLD_ERROR_HANDLING = False

#: Metres per angstrom (exact).
ANGSTROM = 1e-10
#: Joules per electronvolt (exact, SI 2019). Constants are literals so that importing this
#: module does not build pint's registry; ``tests/io/test_normalize.py`` checks them with pint.
EV = 1.602176634e-19
#: Newtons per eV/angstrom.
EV_PER_ANGSTROM = EV / ANGSTROM
#: Pascals per eV/angstrom**3.
EV_PER_ANGSTROM3 = EV / ANGSTROM**3
#: A*m**2 per Bohr magneton.
BOHR_MAGNETON = 9.274010065738068e-24

#: Two atoms are bonded when closer than this factor times the sum of their covalent radii.
#: 1.3 joins ionic, covalent and metallic neighbours but not van der Waals gaps (graphite,
#: MoS2, noble-gas and molecular crystals), which sit at >= 1.5 times the sum.
BOND_SCALE = 1.3

_CRYSTAL_SYSTEMS = (
    (2, "triclinic", "a"),
    (15, "monoclinic", "m"),
    (74, "orthorhombic", "o"),
    (142, "tetragonal", "t"),
    (167, "trigonal", "h"),
    (194, "hexagonal", "h"),
    (230, "cubic", "c"),
)
_CENTERING = {"P": "P", "A": "S", "B": "S", "C": "S", "I": "I", "F": "F", "R": "R"}


# --------------------------------------------------------------------------------------------
# composition


def _format(symbols: list[str], counts: list[int]) -> str:
    return "".join(s if c == 1 else f"{s}{c}" for s, c in zip(symbols, counts, strict=True))


def _anonymous_label(i: int) -> str:
    """OPTIMADE anonymous labels: A..Z, then Aa..Az, Ba.. (as in the OPTIMADE specification)."""
    upper, lower = string.ascii_uppercase, string.ascii_lowercase
    if i < 26:
        return upper[i]
    i -= 26
    return upper[i // 26 % 26] + lower[i % 26]


def formulas(symbols: list[str], counts: list[int]) -> dict[str, Any]:
    """Hill, reduced and anonymous formulas plus element lists for a composition."""
    order = sorted(range(len(symbols)), key=lambda k: symbols[k])
    elements = [symbols[k] for k in order]
    element_counts = [int(counts[k]) for k in order]
    if "C" in elements:
        head = [e for e in ("C", "H") if e in elements]
        hill_order = head + [e for e in elements if e not in head]
    else:
        hill_order = elements
    count_of = dict(zip(elements, element_counts, strict=True))
    divisor = math.gcd(*element_counts) if element_counts else 1
    reduced = [c // divisor for c in element_counts]
    anonymous = sorted(reduced, reverse=True)
    return {
        "chemical_formula_hill": _format(hill_order, [count_of[e] for e in hill_order]),
        "chemical_formula_reduced": _format(elements, reduced),
        "chemical_formula_anonymous": _format(
            [_anonymous_label(i) for i in range(len(anonymous))], anonymous
        ),
        "elements": elements,
        "element_counts": count_of,
        "n_elements": len(elements),
    }


def composition_material(counts: Mapping[str, int | float]) -> Material:
    """A composition-only ``Material`` (no structure) from element counts, e.g. a table formula."""
    symbols = list(counts)
    values = [float(counts[s]) for s in symbols]
    if any(v <= 0 for v in values):
        raise ValueError(f"element counts must be positive, got {dict(counts)}")
    if any(abs(v - round(v)) > 1e-6 for v in values):
        raise ValueError(f"non-integer element counts are not supported: {dict(counts)}")
    ints = [round(v) for v in values]
    return Material(n_sites=sum(ints), **formulas(symbols, ints))


# --------------------------------------------------------------------------------------------
# symmetry


def bravais_lattice(space_group_number: int, international: str) -> tuple[str, str]:
    """Crystal system and Pearson-style Bravais lattice (one of the 14, A/B/C centring -> S)."""
    system, letter = next((s, c) for last, s, c in _CRYSTAL_SYSTEMS if space_group_number <= last)
    centering = _CENTERING[international[0]]
    if system == "trigonal":
        return system, "hR" if centering == "R" else "hP"
    return system, letter + centering


def symmetry(atoms: Atoms, symprec: float, angle_tolerance: float = -1.0) -> Symmetry | None:
    """spglib symmetry of a fully periodic cell; ``symprec`` in angstrom. None if spglib fails."""
    cell = (
        np.asarray(atoms.cell.array, dtype=float),
        atoms.get_scaled_positions(wrap=True),
        np.asarray(atoms.numbers, dtype=np.intc),
    )
    try:
        data = spglib.get_symmetry_dataset(cell, symprec=symprec, angle_tolerance=angle_tolerance)
    except spglib.error.SpglibError:
        return None
    if data is None:
        return None
    system, lattice = bravais_lattice(int(data.number), data.international)
    return Symmetry(
        space_group_number=int(data.number),
        space_group_symbol=data.international,
        hall_symbol=data.hall,
        crystal_system=system,
        bravais_lattice=lattice,
        point_group=data.pointgroup,
        wyckoff_letters=list(data.wyckoffs),
        equivalent_atoms=[int(x) for x in data.equivalent_atoms],
        symprec=symprec * ANGSTROM,
    )


# --------------------------------------------------------------------------------------------
# dimensionality


@lru_cache(maxsize=64)
def _shifts(ra: int, rb: int, rc: int) -> np.ndarray:
    """All integer image shifts within the given reach per axis, the zero shift in the middle."""
    axes = [np.arange(-r, r + 1) for r in (ra, rb, rc)]
    shifts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    shifts.setflags(write=False)
    return shifts


def _bonds(atoms: Atoms, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bonded pairs (i, j, image of j) from covalent radii, with a KD-tree over nearby images."""
    n = len(atoms)
    # An axis marked periodic but without a lattice vector cannot repeat: treat it as open.
    pbc = np.asarray(atoms.pbc, dtype=bool) & (np.linalg.norm(atoms.cell.array, axis=1) > 1e-8)
    cell = np.asarray(atoms.cell.complete(), dtype=float)
    radii = covalent_radii[atoms.numbers] * scale
    rmax = 2.0 * float(radii.max())
    inverse = np.linalg.inv(cell)
    frac = np.asarray(atoms.positions, dtype=float) @ inverse
    frac[:, pbc] %= 1.0
    positions = frac @ cell
    # Enough images along each periodic axis to reach every neighbour within rmax.
    # Plane spacings are 1/|columns of the inverse cell|.
    heights = 1.0 / np.linalg.norm(inverse, axis=0)
    reach = np.where(pbc, np.ceil(rmax / heights), 0).astype(int)
    shifts = _shifts(*reach.tolist())
    # Keep only images within rmax of the home cell: a slab of width rmax/height per axis.
    margin = np.where(pbc, rmax / heights, 0.0)
    image_frac = (frac[None, :, :] + shifts[:, None, :]).reshape(-1, 3)
    near = np.all(((image_frac > -margin) & (image_frac < 1.0 + margin)) | ~pbc, axis=1)
    near[len(shifts) // 2 * n : len(shifts) // 2 * n + n] = True  # the home cell itself
    index = np.flatnonzero(near)
    # Unbalanced, uncompacted trees build faster, and these point sets are small.
    home = cKDTree(positions, balanced_tree=False, compact_nodes=False)
    near_images = cKDTree(image_frac[index] @ cell, balanced_tree=False, compact_nodes=False)
    pairs = home.sparse_distance_matrix(near_images, rmax, output_type="ndarray")
    i = pairs["i"].astype(np.intp)
    k = index[pairs["j"]]
    j = k % n
    image = shifts[k // n]
    keep = (pairs["v"] < radii[i] + radii[j]) & ((i != j) | image.any(axis=1))
    return i[keep], j[keep], image[keep]


def _rank3(vectors: np.ndarray) -> int:
    """Rank of a set of 3-vectors, from their 3x3 Gram matrix (small, exact enough here)."""
    if len(vectors) == 0:
        return 0
    gram = vectors.T @ vectors
    w = np.linalg.eigvalsh(gram)
    return int(np.count_nonzero(w > 1e-8 * max(1.0, float(w[-1]))))


def dimensionality(atoms: Atoms, scale: float = BOND_SCALE) -> int:
    """Number of periodic directions spanned by the bonded network (max over its components).

    Bonds join atoms closer than ``scale`` times their summed covalent radii. Each connected
    component of the bond graph is unfolded along a spanning tree; every bond that closes a
    loop through a periodic image contributes its lattice translation, and the rank of those
    translations is the component's dimensionality (the rank-determination idea of Mounet et
    al., Nat. Nanotechnol. 13, 246 (2018), at one fixed bond scale). The search is vectorized
    over bonds, so this takes well under a millisecond for 100 atoms, where
    ``ase.geometry.dimensionality`` takes tens.
    """
    if not any(atoms.pbc) or len(atoms) == 0:
        return 0
    n = len(atoms)
    i, j, image = _bonds(atoms, scale)
    if len(i) == 0:
        return 0
    return _dimensionality_by_component(n, i, j, image)


def _dimensionality_by_component(n: int, i: np.ndarray, j: np.ndarray, image: np.ndarray) -> int:
    """Max over components of the rank of their loop translations, via spanning trees.

    Components come from min-label propagation, the trees from one breadth-first search
    started at every component's root at once: a few numpy passes over the bond list per
    level of the graph, which beats building scipy sparse matrices for these small graphs.
    """
    label = np.arange(n)
    while True:
        new = label.copy()
        np.minimum.at(new, i, label[j])
        if np.array_equal(new, label):
            break
        label = new
    offset = np.zeros((n, 3), dtype=np.int64)
    visited = label == np.arange(n)
    frontier = visited.copy()
    while True:
        step = frontier[i] & ~visited[j]
        if not step.any():
            break
        nodes, first = np.unique(j[step], return_index=True)
        offset[nodes] = offset[i[step][first]] + image[step][first]
        visited[nodes] = True
        frontier = np.zeros(n, dtype=bool)
        frontier[nodes] = True
    cycles = offset[i] + image - offset[j]
    loops = cycles.any(axis=1)
    comp = label[i[loops]]
    vectors = cycles[loops].astype(float)
    best = 0
    for c in np.unique(comp):
        best = max(best, _rank3(vectors[comp == c]))
        if best == 3:
            break
    return best


# --------------------------------------------------------------------------------------------
# material and properties


def material(atoms: Atoms, symprec: float | None = None, angle_tolerance: float = -1.0) -> Material:
    """The ``Material`` of ``atoms``: formulas, structure in metres, symmetry, dimensionality.

    Symmetry is only computed for fully periodic 3D cells and when ``symprec`` (angstrom) is given.
    """
    numbers = np.asarray(atoms.numbers)
    if len(numbers) == 0:
        raise ValueError("structure has no atoms")
    if (numbers <= 0).any():
        raise ValueError("structure has atoms without a chemical element (atomic number 0)")
    z, counts = np.unique(numbers, return_counts=True)
    symbols = [chemical_symbols[int(x)] for x in z]
    pbc = [bool(p) for p in atoms.pbc]
    cell = None
    if any(pbc):
        if abs(atoms.cell.volume) < 1e-12 and all(pbc):
            raise ValueError("periodic structure has a singular (zero-volume) cell")
        cell = (np.asarray(atoms.cell.array) * ANGSTROM).tolist()
    positions = np.asarray(atoms.positions, dtype=float)
    if not np.isfinite(positions).all():
        raise ValueError("structure has non-finite atomic positions")
    structure = Structure(
        species=[chemical_symbols[int(x)] for x in numbers],
        positions=(positions * ANGSTROM).tolist(),
        cell=cell,
        pbc=pbc,
    )
    sym = None
    if all(pbc) and symprec is not None:
        sym = symmetry(atoms, symprec, angle_tolerance)
    return Material(
        n_sites=len(numbers),
        structure=structure,
        symmetry=sym,
        dimensionality=dimensionality(atoms),
        **formulas(symbols, [int(c) for c in counts]),
    )


def is_finite(value: Any) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(value, dtype=float))))
    except (TypeError, ValueError):
        return False


def voigt_to_matrix(stress: np.ndarray) -> np.ndarray:
    """ASE's Voigt stress (xx, yy, zz, yz, xz, xy) or a 3x3 array as a 3x3 matrix."""
    s = np.asarray(stress, dtype=float)
    if s.shape == (3, 3):
        return s
    if s.shape != (6,):
        raise ValueError(f"stress must have 6 Voigt components or be 3x3, got shape {s.shape}")
    xx, yy, zz, yz, xz, xy = s
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def properties(
    atoms: Atoms,
    energy: float | None = None,
    forces: np.ndarray | None = None,
    stress: np.ndarray | None = None,
    magmom: float | None = None,
) -> Properties:
    """Properties in SI from ASE units: energy (eV), forces (eV/A), stress (eV/A^3), magmom (muB).

    Arguments left as None are taken from ``atoms.calc`` when it has them.
    """
    calc = atoms.calc
    results: Mapping[str, Any] = getattr(calc, "results", None) or {}
    if energy is None:
        energy = results.get("energy", results.get("free_energy"))
    if forces is None:
        forces = results.get("forces")
    if stress is None:
        stress = results.get("stress")
    if magmom is None:
        magmom = results.get("magmom")
    props = Properties()
    n = len(atoms)
    if energy is not None and is_finite(energy):
        props.total_energy = float(energy) * EV
        if n:
            props.energy_per_atom = props.total_energy / n
    if forces is not None and is_finite(forces):
        f = np.asarray(forces, dtype=float).reshape(-1, 3) * EV_PER_ANGSTROM
        if len(f) == n:
            props.forces = f.tolist()
            props.max_force = float(np.sqrt((f * f).sum(axis=1)).max()) if n else 0.0
    if stress is not None and is_finite(stress) and all(atoms.pbc):
        props.stress = (voigt_to_matrix(stress) * EV_PER_ANGSTROM3).tolist()
    if magmom is not None and is_finite(magmom) and np.ndim(magmom) == 0:
        props.magnetic_moment = float(magmom) * BOHR_MAGNETON
    return props


def band_gap(value_ev: float, gap_type: str | None = None) -> BandGap:
    """A ``BandGap`` from a value in eV and an optional 'direct'/'indirect' label."""
    kind = (gap_type or "unknown").strip().lower()
    if kind not in ("direct", "indirect"):
        kind = "unknown"
    return BandGap(value=float(value_ev) * EV, type=kind)


def extra_scalar(value: Any) -> ScalarQuantity | None:
    """A unitless ``ScalarQuantity`` for a scalar info value; None for arrays and objects."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | str):
        return ScalarQuantity(value=value)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            return ScalarQuantity(value=None)
        return ScalarQuantity(value=value)
    return None
