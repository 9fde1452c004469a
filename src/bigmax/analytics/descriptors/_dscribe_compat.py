"""A compatibility shim for dscribe 2.1.2 with ASE >= 3.27 (SINGROUP/dscribe#165).

dscribe's ``System`` (an ``ase.Atoms`` subclass that MBTR, LMBTR and the sine matrix build
from every structure) passes its 15 constructor arguments to ``ase.Atoms.__init__`` by
position, ending ``..., constraint, calculator, info``. ASE 3.27 moved ``calculator`` to a
keyword and added ``velocities`` after ``info``, so dscribe's calculator lands in ``info`` and
its ``info`` dict in ``velocities``; together with the momenta that ``System.from_atoms``
always passes, ASE raises ``TypeError: Use only one of "momenta" and "velocities"``.

The shim, applied only when a probe shows the failure, replaces two methods of
``dscribe.core.system.System``:

- ``__init__``: the same signature, but every argument is forwarded to ``ase.Atoms`` *by
  keyword*, which both old and new ASE accept;
- ``from_atoms``: the same copy of symbols, positions, tags, momenta, masses, magnetic
  moments, charges, cell, pbc, cell displacement, constraints and info, by keyword, with
  ``atoms.calc`` instead of the deprecated ``atoms.get_calculator()``.

Nothing else changes: features are identical to dscribe with ASE 3.26. It runs in every
worker process too (see ``structure._create_chunk``), since loky workers import dscribe
afresh. Remove it when a dscribe release with the fix is required.
"""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms

_PATCHED = False


def dscribe_system_needs_shim() -> bool:
    """True when ``dscribe.core.System.from_atoms`` fails on a plain periodic Atoms."""
    from dscribe.core.system import System

    if getattr(System.__init__, "_bigmax_shim", False):
        return False
    probe = Atoms("H", positions=[[0.0, 0.0, 0.0]], cell=np.eye(3) * 2.0, pbc=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            System.from_atoms(probe)
    except TypeError:
        return True
    return False


def _system_init(
    self,
    symbols=None,
    positions=None,
    numbers=None,
    tags=None,
    momenta=None,
    masses=None,
    magmoms=None,
    charges=None,
    scaled_positions=None,
    cell=None,
    pbc=None,
    celldisp=None,
    constraint=None,
    calculator=None,
    info=None,
    wyckoff_positions=None,
    equivalent_atoms=None,
):
    Atoms.__init__(
        self,
        symbols=symbols,
        positions=positions,
        numbers=numbers,
        tags=tags,
        momenta=momenta,
        masses=masses,
        magmoms=magmoms,
        charges=charges,
        scaled_positions=scaled_positions,
        cell=cell,
        pbc=pbc,
        celldisp=celldisp,
        constraint=constraint,
        calculator=calculator,
        info=info,
    )
    self.wyckoff_positions = wyckoff_positions
    self.equivalent_atoms = equivalent_atoms
    self._cell_inverse = None
    self._displacement_tensor = None
    self._distance_matrix = None
    self._inverse_distance_matrix = None


_system_init._bigmax_shim = True  # type: ignore[attr-defined]


def _system_from_atoms(atoms):
    from dscribe.core.system import System

    return System(
        symbols=atoms.get_chemical_symbols(),
        positions=atoms.get_positions(),
        tags=atoms.get_tags(),
        momenta=atoms.get_momenta(),
        masses=atoms.get_masses(),
        magmoms=atoms.get_initial_magnetic_moments(),
        charges=atoms.get_initial_charges(),
        cell=atoms.get_cell(),
        pbc=atoms.get_pbc(),
        celldisp=atoms.get_celldisp(),
        constraint=atoms.constraints,
        calculator=atoms.calc,
        info=atoms.info,
    )


def ensure_dscribe_compat() -> bool:
    """Apply the shim if (and only if) this dscribe/ASE pair needs it; True when applied."""
    global _PATCHED
    if _PATCHED:
        return True
    if not dscribe_system_needs_shim():
        return False
    from dscribe.core.system import System

    System.__init__ = _system_init
    System.from_atoms = staticmethod(_system_from_atoms)
    _PATCHED = True
    return True
