"""A species-agnostic, scale-invariant SOAP fingerprint of local atomic environments.

Following ARISE (Leitherer et al. 2021), each structure is first rescaled so that its
nearest-neighbour distance is one unit, and every element is treated alike: the fingerprint of an
atom is the SOAP power spectrum of all its neighbours (one pseudo-species) next to that of its
same-element neighbours only. Averaged over atoms (a structure, or a window of a large one) it
is a fixed-length vector whatever the elements and their number, so one classifier serves a
single prototype made of any elements, and a window of a polycrystal looks like a bulk crystal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from sklearn.base import BaseEstimator, TransformerMixin

#: Atoms closer than this (angstrom) are taken as an error in the input (a duplicated atom, an
#: image listed twice), not as physics: the shortest bond, H2's, is 0.74 angstrom.
OVERLAP_DISTANCE = 0.3

#: The nearest-neighbour distance (in dscribe's angstrom) that every structure is scaled to;
#: dscribe needs r_cut > 1 angstrom, so one unit cannot be one angstrom.
_UNIT = 2.0


class StructureError(ValueError):
    """A structure that cannot be fingerprinted; the message names the structure."""


def structure_name(atoms: Atoms, index: int | None = None) -> str:
    """How an error message names a structure: its info name, else its index and formula."""
    for key in ("name", "label", "filename", "source"):
        if atoms.info.get(key):
            return str(atoms.info[key])
    where = "structure" if index is None else f"structure #{index}"
    try:
        formula = atoms.get_chemical_formula()
    except Exception:  # formula of invalid numbers; the checks below name the problem
        formula = "?"
    return f"{where} ({formula or 'empty'})"


def check_structure(atoms: object, index: int | None = None) -> Atoms:
    """Raise StructureError for empty structures, unknown elements, bad or overlapping atoms."""
    if not isinstance(atoms, Atoms):
        where = "structure" if index is None else f"structure #{index}"
        raise StructureError(f"{where}: expected an ase.Atoms, got {type(atoms).__name__}")
    name = structure_name(atoms, index)
    if len(atoms) == 0:
        raise StructureError(f"{name}: the structure has no atoms")
    numbers = atoms.numbers
    bad = (numbers < 1) | (numbers > 118)
    if bad.any():
        i = int(np.argmax(bad))
        raise StructureError(
            f"{name}: unknown element at atom {i} (atomic number {numbers[i]}); "
            "expected a chemical element H..Og"
        )
    if not np.all(np.isfinite(atoms.positions)):
        raise StructureError(f"{name}: atom positions contain NaN or infinity")
    if np.any(atoms.pbc) and abs(atoms.cell.volume) < 1e-9:
        raise StructureError(f"{name}: periodic structure with a singular (zero-volume) cell")
    if len(atoms) > 1:
        d1 = nearest_neighbour_distances(atoms)
        i = int(np.argmin(d1))
        if d1[i] < OVERLAP_DISTANCE:
            raise StructureError(
                f"{name}: overlapping atoms: atom {i} has a neighbour {d1[i]:.3f} angstrom "
                f"away (less than {OVERLAP_DISTANCE} angstrom)"
            )
    return atoms


def nearest_neighbour_distances(atoms: Atoms) -> np.ndarray:
    """Distance from every atom to its nearest neighbour (periodic images included).

    An atom with no neighbour (one atom in a huge box) gets infinity.
    """
    from scipy.spatial import cKDTree

    n = len(atoms)
    if not np.any(atoms.pbc):
        if n < 2:
            return np.full(n, np.inf)
        d, _ = cKDTree(atoms.positions).query(atoms.positions, k=2)
        return d[:, 1]
    from ase.neighborlist import neighbor_list

    volume = abs(atoms.cell.volume)
    cutoff = max(1.0, 1.3 * (volume / n) ** (1 / 3)) if volume > 0 else 3.0
    d1 = np.full(n, np.inf)
    for _ in range(4):
        i, d = neighbor_list("id", atoms, cutoff, self_interaction=False)
        np.minimum.at(d1, i, d)
        if np.all(np.isfinite(d1)):
            break
        cutoff *= 2
    return d1


#: The first coordination shell: pair distances below this many times the median
#: nearest-neighbour distance (between fcc's first and second shells, 1 and 1.41).
_SHELL = 1.3


def nn_scale(atoms: Atoms) -> float:
    """A noise-robust nearest-neighbour distance: the median first-shell pair distance.

    The plain median of each atom's closest-neighbour distance shrinks with thermal noise
    (14 % at 8 % displacements in fcc) and so would blow the structure up after scaling; the
    median of all pair distances within 1.3 times it stays within about 3 %.
    """
    d1 = nearest_neighbour_distances(atoms)
    s0 = float(np.median(d1[np.isfinite(d1)])) if np.isfinite(d1).any() else float("inf")
    if not np.isfinite(s0):
        return s0
    if np.any(atoms.pbc):
        from ase.neighborlist import neighbor_list

        d = neighbor_list("d", atoms, _SHELL * s0, self_interaction=False)
    else:
        from scipy.spatial import cKDTree

        tree = cKDTree(atoms.positions)
        d = tree.sparse_distance_matrix(tree, _SHELL * s0, output_type="ndarray")["v"]
        d = d[d > 0]
    return float(np.median(d)) if len(d) else s0


def local_scales(atoms: Atoms, k: int = 24) -> np.ndarray:
    """Per-atom length scale: ``nn_scale`` over each atom's k nearest atoms.

    Grains of different lattices in one polycrystal have different bond lengths; a median
    over a neighbourhood ignores the odd short contact at a boundary and one atom's noise.
    Periodic structures (one crystal) get one scale.
    """
    from scipy.spatial import cKDTree

    if np.any(atoms.pbc) or len(atoms) <= k:
        return np.full(len(atoms), nn_scale(atoms))
    tree = cKDTree(atoms.positions)
    dist, _ = tree.query(atoms.positions, k=17)
    d1 = dist[:, 1]
    _, idx = tree.query(atoms.positions, k=k)
    s0 = np.median(d1[idx], axis=1)
    inside = dist[:, 1:] < _SHELL * s0[:, None]
    shell = np.where(inside, dist[:, 1:], np.nan)
    first = d1.copy()  # an atom with no first-shell neighbour (at a boundary) keeps its own
    has = inside.any(axis=1)
    first[has] = np.nanmedian(shell[has], axis=1)
    return np.median(first[idx], axis=1)


#: An atom is "buried" when the centroid of its neighbours within the cutoff is closer to it
#: than this many nearest-neighbour distances (bulk: ~0; an atom on a free surface: ~0.9).
BURIED_OFFSET = 0.35


def buried_atoms(atoms: Atoms, scales: np.ndarray | float, r_cut: float) -> np.ndarray:
    """Atoms whose neighbourhood within ``r_cut`` nearest-neighbour distances is complete.

    The classifier learns bulk environments; in a slab, a cluster or a nanoparticle the atoms
    near a free surface see half a neighbourhood and would blur a window's fingerprint.
    """
    if np.all(atoms.pbc):
        return np.ones(len(atoms), bool)
    from scipy.spatial import cKDTree

    scales = np.broadcast_to(np.asarray(scales, float), (len(atoms),))
    tree = cKDTree(atoms.positions)
    radius = np.round(r_cut * scales, 2)
    offset = np.zeros(len(atoms))
    for r in np.unique(radius):  # one query radius per group of atoms of one length scale
        idx = np.flatnonzero(radius == r)
        neigh = tree.query_ball_point(atoms.positions[idx], r)
        counts = np.array([len(n) for n in neigh])
        flat = np.concatenate(neigh).astype(int)
        sums = np.zeros((len(idx), 3))
        np.add.at(sums, np.repeat(np.arange(len(idx)), counts), atoms.positions[flat])
        centroid = sums / np.maximum(counts, 1)[:, None]
        offset[idx] = np.linalg.norm(centroid - atoms.positions[idx], axis=1)
    return offset < BURIED_OFFSET * scales


class ScaledSOAP(TransformerMixin, BaseEstimator):
    """Averaged species-agnostic SOAP in units of the nearest-neighbour distance.

    Parameters
    ----------
    r_cut : float, default=2.6
        Cutoff radius in nearest-neighbour distances (2.6 reaches the fourth fcc shell).
    n_max, l_max : int, default=6, 6
        Radial and angular resolution of the SOAP expansion.
    sigma : float, default=0.12
        Gaussian width of the atomic densities, in nearest-neighbour distances.
    n_jobs : int, default=1
        Processes for dscribe over structures.

    Notes
    -----
    ``transform`` returns ``2 * n_max (n_max + 1) / 2 * (l_max + 1)`` features per structure:
    the all-atom block and the same-element block, each averaged over atoms and L2-normalised.
    Cost is linear in the number of atoms (about 10^3-10^4 atoms/s on one core).

    References
    ----------
    Bartok, Kondor, Csanyi, PRB 87, 184115 (2013); Leitherer, Ziletti, Ghiringhelli, Nat.
    Commun. 12, 6234 (2021).
    """

    def __init__(
        self,
        r_cut: float = 2.6,
        n_max: int = 6,
        l_max: int = 6,
        sigma: float = 0.12,
        n_jobs: int = 1,
    ) -> None:
        self.r_cut = r_cut
        self.n_max = n_max
        self.l_max = l_max
        self.sigma = sigma
        self.n_jobs = n_jobs

    def _soap(self, periodic: bool):
        from dscribe.descriptors import SOAP

        return SOAP(
            species=["H"],
            r_cut=self.r_cut * _UNIT,
            n_max=self.n_max,
            l_max=self.l_max,
            sigma=self.sigma * _UNIT,
            periodic=periodic,
            dtype="float64",
        )

    @property
    def n_block_(self) -> int:
        return self.n_max * (self.n_max + 1) // 2 * (self.l_max + 1)

    def fit(self, X: Sequence[Atoms] | None = None, y=None) -> ScaledSOAP:
        """Nothing to learn; checks the parameters and ``X``, for pipelines."""
        if not (self.r_cut > 1.0 and self.sigma > 0 and self.n_max >= 2 and self.l_max >= 0):
            raise ValueError(
                "ScaledSOAP needs r_cut > 1, sigma > 0, n_max >= 2 and l_max >= 0; got "
                f"r_cut={self.r_cut!r}, sigma={self.sigma!r}, n_max={self.n_max!r}, "
                f"l_max={self.l_max!r}"
            )
        if X is not None:
            for i, atoms in enumerate(X):
                check_structure(atoms, i)
        self.n_features_out_ = 2 * self.n_block_
        return self

    def per_atom(self, atoms: Atoms, scales: np.ndarray | float | None = None) -> np.ndarray:
        """Unnormalised per-atom fingerprints, shape (n_atoms, 2 * n_block).

        ``scales`` is the nearest-neighbour distance used for each atom (default: the
        structure's median); atoms are grouped by scale on a 1 % logarithmic grid so a
        polycrystal of a few lattices costs a few dscribe calls.
        """
        check_structure(atoms)
        if scales is None:
            scales = nn_scale(atoms)
        scales = np.broadcast_to(np.asarray(scales, float), (len(atoms),))
        if not np.all(np.isfinite(scales)):
            raise StructureError(
                f"{structure_name(atoms)}: an atom has no neighbour, so there is no "
                "nearest-neighbour distance to scale by"
            )
        groups = np.round(np.log(scales) / 0.01).astype(int)
        out = np.zeros((len(atoms), 2 * self.n_block_))
        periodic = bool(np.any(atoms.pbc))
        soap = self._soap(periodic)
        for g in np.unique(groups):
            centers = np.flatnonzero(groups == g)
            scaled = _scaled(atoms, _UNIT / float(np.mean(scales[centers])))
            out[centers, : self.n_block_] = _create(soap, _as_one_species(scaled), centers)
            for z in np.unique(atoms.numbers[centers]):
                same = np.flatnonzero(atoms.numbers == z)
                sub = _as_one_species(scaled[same])
                mine = centers[atoms.numbers[centers] == z]
                local = np.searchsorted(same, mine)
                out[mine, self.n_block_ :] = _create(soap, sub, local)
        return out

    def transform(self, X: Sequence[Atoms]) -> np.ndarray:
        """Fingerprints of whole structures, shape (n_structures, n_features_out_)."""
        if not hasattr(self, "n_features_out_"):
            self.fit()
        X = list(X)
        for i, atoms in enumerate(X):
            check_structure(atoms, i)
        if self.n_jobs == 1 or len(X) < 8:
            rows = [_mean_per_atom(self, a) for a in X]
        else:
            from joblib import Parallel, delayed

            rows = Parallel(n_jobs=self.n_jobs)(
                delayed(_mean_per_atom)(self, a) for a in X
            )
        return self.normalise(np.asarray(rows).reshape(len(X), -1))

    def normalise(self, sums: np.ndarray) -> np.ndarray:
        """L2-normalise each block of averaged (or summed) per-atom fingerprints."""
        out = np.array(sums, dtype=float, copy=True)
        for sl in (slice(0, self.n_block_), slice(self.n_block_, None)):
            norm = np.linalg.norm(out[:, sl], axis=1, keepdims=True)
            out[:, sl] /= np.where(norm > 0, norm, 1.0)
        return out


def _mean_per_atom(featurizer: ScaledSOAP, atoms: Atoms) -> np.ndarray:
    """Mean fingerprint over the atoms with a complete neighbourhood (all, if none has)."""
    if np.all(atoms.pbc):
        return featurizer.per_atom(atoms).mean(axis=0)
    scale = nn_scale(atoms)
    fp = featurizer.per_atom(atoms, scale)
    inner = buried_atoms(atoms, scale, featurizer.r_cut)
    return fp[inner].mean(axis=0) if inner.any() else fp.mean(axis=0)


def _scaled(atoms: Atoms, factor: float) -> Atoms:
    out = atoms.copy()
    out.set_cell(atoms.cell * factor, scale_atoms=False)
    out.positions = atoms.positions * factor
    return out


def _as_one_species(atoms: Atoms) -> Atoms:
    out = Atoms(
        numbers=np.ones(len(atoms), int),
        positions=atoms.positions,
        cell=atoms.cell,
        pbc=atoms.pbc,
    )
    return out


def _create(soap, atoms: Atoms, centers: np.ndarray) -> np.ndarray:
    if not np.any(atoms.pbc):
        atoms = atoms.copy()
        atoms.cell = None
    elif not np.all(atoms.pbc):
        atoms = atoms.copy()
        atoms.pbc = True
    return np.asarray(soap.create(atoms, centers=[int(c) for c in centers]), float).reshape(
        len(centers), -1
    )
