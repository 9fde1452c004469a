"""Synthetic defects for training and testing: displacements, vacancies, strain, supercells.

ARISE's noise model (ai4materials ``random_displace_atoms`` and ``create_vacancies``): Gaussian
displacements with standard deviation ``delta`` times the nearest-neighbour distance on every
Cartesian component, and vacancies by removing a random fraction of the atoms. Every function
takes ``random_state`` (an int or a numpy Generator) so a data set is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms

from bigmax.analytics.recognition.descriptor import OVERLAP_DISTANCE, nearest_neighbour_distances


def _rng(random_state: int | np.random.Generator | None) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def _check_fraction(name: str, value: float, upper: float = 1.0) -> None:
    if not (0.0 <= value < upper):
        raise ValueError(f"{name} must be in [0, {upper}), got {value!r}")


def supercell(atoms: Atoms, min_atoms: int = 100, periodic_dims: int = 3) -> Atoms:
    """Repeat a cell along its first ``periodic_dims`` directions until it has >= min_atoms.

    The repeats keep the supercell about as long in every periodic direction, so noise and
    vacancies average the same way along each. 2D sheets (``periodic_dims=2``, vacuum along the
    third vector) and nanotubes (1, along the third vector) keep their vacuum.
    """
    if len(atoms) == 0:
        raise ValueError("supercell: the structure has no atoms")
    lengths = atoms.cell.lengths()
    dims = [0, 1, 2] if periodic_dims == 3 else ([0, 1] if periodic_dims == 2 else [2])
    reps = np.ones(3, int)
    while len(atoms) * reps.prod() < min_atoms:
        sizes = [lengths[d] * reps[d] for d in dims]
        reps[dims[int(np.argmin(sizes))]] += 1
    return atoms.repeat(tuple(int(r) for r in reps))


def displace(
    atoms: Atoms,
    delta: float,
    random_state: int | np.random.Generator | None = None,
    d_nn: float | None = None,
) -> Atoms:
    """Gaussian displacements with sigma = ``delta`` x the nearest-neighbour distance.

    ``d_nn`` defaults to the median nearest-neighbour distance of the undisplaced structure.
    """
    _check_fraction("delta", delta)
    out = atoms.copy()
    if delta == 0:
        return out
    if d_nn is None:
        d_nn = float(np.median(nearest_neighbour_distances(atoms)))
    out.positions = atoms.positions + _rng(random_state).normal(0.0, delta * d_nn, (len(atoms), 3))
    return out


def remove_atoms(
    atoms: Atoms, fraction: float, random_state: int | np.random.Generator | None = None
) -> Atoms:
    """Vacancies: remove round(fraction x N) randomly chosen atoms (keeping at least two)."""
    _check_fraction("fraction", fraction)
    n_remove = min(int(round(fraction * len(atoms))), max(len(atoms) - 2, 0))
    if n_remove == 0:
        return atoms.copy()
    drop = _rng(random_state).choice(len(atoms), n_remove, replace=False)
    keep = np.ones(len(atoms), bool)
    keep[drop] = False
    return atoms[keep]


def strain(
    atoms: Atoms,
    magnitude: float,
    random_state: int | np.random.Generator | None = None,
    periodic_dims: int = 3,
) -> Atoms:
    """Random homogeneous strain: a symmetric tensor with entries uniform in +-magnitude.

    For 2D sheets and nanotubes only the periodic directions are strained, so vacuum and tube
    radius stay as they are.
    """
    _check_fraction("magnitude", magnitude, 0.5)
    rng = _rng(random_state)
    eps = rng.uniform(-magnitude, magnitude, (3, 3))
    eps = (eps + eps.T) / 2
    if periodic_dims == 2:
        eps[2, :] = eps[:, 2] = 0.0
    elif periodic_dims == 1:
        keep = eps[2, 2]
        eps[:] = 0.0
        eps[2, 2] = keep
    out = atoms.copy()
    out.set_cell(atoms.cell @ (np.eye(3) + eps), scale_atoms=True)
    return out


def augment(
    atoms: Atoms,
    n_samples: int,
    periodic_dims: int = 3,
    displacement: tuple[float, float] = (0.0, 0.06),
    vacancies: tuple[float, float] = (0.0, 0.25),
    max_strain: float = 0.02,
    min_atoms: int = 100,
    random_state: int | np.random.Generator | None = None,
) -> list[Atoms]:
    """``n_samples`` defective copies of an ideal structure, for training or testing.

    Each copy is a supercell of >= ``min_atoms`` atoms with a random strain up to
    ``max_strain``, a vacancy fraction drawn uniformly from ``vacancies`` and a displacement
    ``delta`` drawn uniformly from ``displacement`` (in nearest-neighbour distances).
    """
    rng = _rng(random_state)
    base = supercell(atoms, min_atoms, periodic_dims)
    d_nn = float(np.median(nearest_neighbour_distances(atoms)))
    out = []
    for _ in range(n_samples):
        s = strain(base, max_strain, rng, periodic_dims) if max_strain > 0 else base.copy()
        s = remove_atoms(s, rng.uniform(*vacancies), rng)
        delta = rng.uniform(*displacement)
        for _ in range(20):  # redraw the rare copy whose noise pushes two atoms onto each other
            noisy = displace(s, delta, rng, d_nn=d_nn)
            if len(noisy) < 2 or nearest_neighbour_distances(noisy).min() > OVERLAP_DISTANCE:
                break
        out.append(noisy)
    return out


def noisy_copies(
    structures: Sequence[Atoms],
    delta: float = 0.0,
    vacancies: float = 0.0,
    random_state: int | np.random.Generator | None = None,
) -> list[Atoms]:
    """One copy of each structure with fixed displacement and vacancy levels (test sets)."""
    rng = _rng(random_state)
    out = []
    for a in structures:
        d_nn = float(np.median(nearest_neighbour_distances(a))) if delta > 0 else None
        out.append(displace(remove_atoms(a, vacancies, rng), delta, rng, d_nn=d_nn))
    return out
