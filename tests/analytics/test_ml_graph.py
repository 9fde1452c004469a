"""Crystal-graph n-grams: exact bonds over periodic images, known counts, supercell invariance."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.data import covalent_radii
from ase.neighborlist import neighbor_list
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.descriptors import StructureError
from bigmax.analytics.descriptors.graph import CrystalGraphNgrams, bond_graph


def test_rocksalt_counts_by_hand():
    """Rocksalt: 6 bonds per atom; per cell 12 directed bonds, 2 x 6 x 5 angles and
    12 x 5 x 5 dihedral paths (no triangles)."""
    nacl = bulk("NaCl", "rocksalt", a=5.64)
    g = CrystalGraphNgrams(normalize=None).fit([nacl])
    counts = dict(zip(g.get_feature_names_out(), g.transform([nacl])[0], strict=True))
    assert counts == {
        "Na6": 1,
        "Cl6": 1,
        "Na6-Cl6": 12,
        "Na6-Cl6-Na6": 30,
        "Cl6-Na6-Cl6": 30,
        "Na6-Cl6-Na6-Cl6": 300,
    }


@pytest.mark.parametrize(
    "atoms",
    [bulk("NaCl", "rocksalt", a=5.64), bulk("Si", "diamond", a=5.43), bulk("Fe", "bcc", a=2.87)],
    ids=["rocksalt", "diamond", "bcc"],
)
def test_per_atom_counts_do_not_depend_on_the_cell(atoms):
    g = CrystalGraphNgrams()
    big = atoms.repeat((2, 2, 3))
    big.rattle(1e-4, seed=0)
    x = g.fit_transform([atoms, big])
    np.testing.assert_allclose(x[0], x[1])
    shuffled = big[np.random.default_rng(0).permutation(len(big))]
    np.testing.assert_allclose(g.transform([shuffled])[0], x[0])


def test_pairs_restrict_bonds_and_unseen_ngrams_are_dropped():
    magnesia = bulk("MgO", "rocksalt", a=4.21)
    only = CrystalGraphNgrams(max_n=2, pairs=[("Mg", "O")]).fit([magnesia])
    assert only.get_feature_names_out().tolist() == ["O6", "Mg6", "O6-Mg6"]
    none = CrystalGraphNgrams(max_n=2, pairs=[("O", "O")]).fit([magnesia])
    assert none.get_feature_names_out().tolist() == ["O0", "Mg0"]
    x = only.transform([bulk("Cu", "fcc", a=3.6)])
    assert x.shape == (1, 3) and not x.any()
    with pytest.raises(StructureError, match="'Qq' is not an element symbol"):
        CrystalGraphNgrams(pairs=[("Qq", "O")]).fit([magnesia])
    with pytest.raises(ValueError, match="max_n must be 1 to 4"):
        CrystalGraphNgrams(max_n=6).fit([magnesia])


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 6),
    pbc=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    seed=st.integers(0, 2**31 - 1),
    tolerance=st.floats(0.8, 2.0),
)
def test_bonds_agree_with_ase_neighbour_list(n, pbc, seed, tolerance):
    rng = np.random.default_rng(seed)
    cell = np.eye(3) * rng.uniform(2.0, 6.0) + rng.normal(0, 1.0, (3, 3))
    if abs(np.linalg.det(cell)) < 2.0:
        return
    symbols = rng.choice(["H", "O", "Na", "Cl"], size=n).tolist()
    atoms = Atoms(symbols, scaled_positions=rng.uniform(size=(n, 3)), cell=cell, pbc=pbc)
    i, j, shift = bond_graph(atoms, tolerance)
    r = covalent_radii[atoms.numbers] * tolerance
    ai, aj, ad, ashift = neighbor_list("ijdS", atoms, 2 * r.max())
    keep = ad < r[ai] + r[aj]
    ours = set(zip(i.tolist(), j.tolist(), map(tuple, shift.tolist()), strict=True))
    theirs = set(zip(ai[keep].tolist(), aj[keep].tolist(), map(tuple, ashift[keep].tolist()),
                     strict=True))
    assert ours == theirs
