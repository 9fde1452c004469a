"""Prototypes, augmentation, the scaled SOAP fingerprint and its bad-input errors."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.neighborlist import neighbor_list
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.analytics.recognition import (
    COMMON_PROTOTYPES,
    ScaledSOAP,
    StructureError,
    augment,
    displace,
    load_prototypes,
    remove_atoms,
    strain,
    supercell,
)
from bigmax.analytics.recognition.descriptor import nearest_neighbour_distances
from bigmax.analytics.recognition.prototypes import arise_label_order


def test_all_108_prototypes_load_with_arise_labels():
    protos = load_prototypes()
    assert len(protos) == 108
    assert sorted(p.label for p in protos) == sorted(arise_label_order())
    counts = {}
    for p in protos:
        counts[p.category] = counts.get(p.category, 0) + 1
        assert p.atoms.pbc.all() and p.atoms.cell.volume > 0
    assert counts == {"Elemental_solids": 27, "Binaries": 11, "Ternaries": 6,
                      "Quaternaries": 6, "2D_materials": 46, "Nanotubes": 12}


def test_nanotubes_become_periodic_with_three_neighbours_per_atom():
    for p in load_prototypes():
        if p.category == "Nanotubes":
            i = neighbor_list("i", p.atoms, 1.6)
            assert np.all(np.bincount(i, minlength=len(p.atoms)) == 3), p.label


def test_common_names_and_unknown_label():
    assert [p.label for p in load_prototypes(["fcc", "rocksalt"])] == [
        COMMON_PROTOTYPES["fcc"], "RockSalt_NaCl"]
    with pytest.raises(KeyError, match="nosuch"):
        load_prototypes(["nosuch"])


def test_augmentation_is_reproducible_and_does_what_it_says():
    fcc = bulk("Cu", "fcc", a=3.6, cubic=True)
    a = augment(fcc, 3, displacement=(0.02, 0.05), vacancies=(0.1, 0.2), random_state=7)
    b = augment(fcc, 3, displacement=(0.02, 0.05), vacancies=(0.1, 0.2), random_state=7)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.positions, y.positions)
    assert all(80 <= len(x) <= 98 for x in a)  # 108-atom supercell less 10-20 %

    big = supercell(fcc, 500)
    assert len(big) >= 500
    d_nn = 3.6 / np.sqrt(2)
    moved = displace(big, 0.04, random_state=1)
    assert np.std(moved.positions - big.positions) == pytest.approx(0.04 * d_nn, rel=0.1)
    assert len(remove_atoms(big, 0.3, random_state=1)) == len(big) - round(0.3 * len(big))


def test_strain_keeps_the_vacuum_of_a_sheet():
    sheet = next(p for p in load_prototypes() if p.label == "MoS2")
    strained = strain(sheet.atoms, 0.05, random_state=3, periodic_dims=2)
    assert np.allclose(strained.cell[2], sheet.atoms.cell[2])
    assert not np.allclose(strained.cell[0], sheet.atoms.cell[0])
    assert len(supercell(sheet.atoms, 60, periodic_dims=2)) >= 60
    assert supercell(sheet.atoms, 60, periodic_dims=2).cell.lengths()[2] == pytest.approx(
        sheet.atoms.cell.lengths()[2])


@given(st.floats(-1.0, 2.0).filter(lambda v: not 0 <= v < 1))
def test_bad_fractions_are_refused(value):
    fcc = bulk("Cu")
    with pytest.raises(ValueError, match="must be in"):
        displace(fcc, value)
    with pytest.raises(ValueError, match="must be in"):
        remove_atoms(fcc, value)


@pytest.fixture(scope="module")
def soap():
    return ScaledSOAP().fit()


def test_fingerprint_is_scale_species_and_supercell_invariant(soap):
    cu = bulk("Cu", "fcc", a=3.61)
    al = bulk("Al", "fcc", a=4.05).repeat((2, 2, 3))
    X = soap.transform([cu, al, bulk("Fe", "bcc", a=2.87)])
    assert X.shape == (3, soap.n_features_out_)
    assert np.allclose(X[0], X[1], atol=1e-6)
    assert np.linalg.norm(X[0] - X[2]) > 0.05
    # rocksalt is not simple cubic: the same-element block sees the fcc sublattice
    rs, sc = soap.transform([bulk("NaCl", "rocksalt", a=5.64), bulk("Po", "sc", a=3.3)])
    assert np.linalg.norm(rs - sc) > 0.05


def test_bad_structures_give_one_clear_error_naming_the_structure(soap):
    with pytest.raises(StructureError, match=r"structure #0 \(empty\): .*no atoms"):
        soap.transform([Atoms()])
    dup = bulk("Cu", cubic=True)
    dup += Atoms("Cu", positions=[dup.positions[1] + 0.05])
    dup.info["name"] = "dup.xyz"
    with pytest.raises(StructureError, match=r"dup.xyz: overlapping atoms"):
        soap.transform([dup])
    ghost = bulk("Cu", cubic=True)
    ghost.numbers[2] = 0
    with pytest.raises(StructureError, match=r"structure #1 .*unknown element at atom 2"):
        soap.transform([bulk("Fe"), ghost])
    with pytest.raises(StructureError, match="expected an ase.Atoms"):
        soap.transform(["Cu"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 12),
    seed=st.integers(0, 2**16),
    gap=st.floats(0.0, 0.29),
)
def test_any_structure_with_a_near_duplicate_atom_is_refused(n, seed, gap):
    rng = np.random.default_rng(seed)
    pos = rng.uniform(0, 10, (n, 3)) * np.arange(1, n + 1)[:, None]  # spread: no accidental pair
    pos = np.vstack([pos, pos[-1] + [gap, 0, 0]])
    atoms = Atoms(f"Si{n + 1}", positions=pos)
    atoms.info["name"] = f"random-{seed}"
    assert nearest_neighbour_distances(atoms).min() <= 0.29 + 1e-9
    with pytest.raises(StructureError, match=f"random-{seed}: overlapping atoms"):
        ScaledSOAP().fit([atoms])
