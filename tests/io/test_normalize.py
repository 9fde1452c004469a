"""Normalization: formulas, symmetry, dimensionality and SI conversion of ASE data."""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms, units
from ase.build import bulk, graphene, molecule
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import read

from bigmax.io import normalize

pytestmark = pytest.mark.filterwarnings("ignore:FHI-aims IO is moving:FutureWarning")

EV = 1.602176634e-19  # exact since 2019; ase.units._e is the same number


def test_energy_constants_match_ase():
    assert normalize.EV == pytest.approx(units._e, rel=1e-15)
    assert normalize.EV_PER_ANGSTROM == pytest.approx(EV * 1e10, rel=1e-15)
    assert normalize.EV_PER_ANGSTROM3 == pytest.approx(EV * 1e30, rel=1e-15)
    assert normalize.BOHR_MAGNETON == pytest.approx(9.2740100783e-24, rel=1e-9)


@pytest.mark.parametrize(
    ("symbols", "counts", "hill", "reduced", "anonymous"),
    [
        (["O", "Al", "Ga"], [48, 20, 12], "Al20Ga12O48", "Al5Ga3O12", "A12B5C3"),
        (["H", "C", "O"], [6, 2, 1], "C2H6O", "C2H6O", "A6B2C"),
        (["Na", "Cl"], [4, 4], "Cl4Na4", "ClNa", "AB"),
        (["Cu"], [3], "Cu3", "Cu", "A"),
        (["Si", "H"], [1, 4], "H4Si", "H4Si", "A4B"),
    ],
)
def test_formulas(symbols, counts, hill, reduced, anonymous):
    f = normalize.formulas(symbols, counts)
    assert f["chemical_formula_hill"] == hill
    assert f["chemical_formula_reduced"] == reduced
    assert f["chemical_formula_anonymous"] == anonymous
    assert f["elements"] == sorted(symbols)
    assert f["element_counts"] == dict(zip(symbols, counts, strict=True))


def test_anonymous_labels_beyond_z():
    assert normalize._anonymous_label(25) == "Z"
    assert normalize._anonymous_label(26) == "Aa"
    assert normalize._anonymous_label(27) == "Ab"


@pytest.mark.parametrize(
    ("number", "symbol", "system", "lattice"),
    [
        (2, "P-1", "triclinic", "aP"),
        (12, "C2/m", "monoclinic", "mS"),
        (14, "P2_1/c", "monoclinic", "mP"),
        (63, "Cmcm", "orthorhombic", "oS"),
        (38, "Amm2", "orthorhombic", "oS"),
        (70, "Fddd", "orthorhombic", "oF"),
        (71, "Immm", "orthorhombic", "oI"),
        (139, "I4/mmm", "tetragonal", "tI"),
        (166, "R-3m", "trigonal", "hR"),
        (164, "P-3m1", "trigonal", "hP"),
        (186, "P6_3mc", "hexagonal", "hP"),
        (225, "Fm-3m", "cubic", "cF"),
        (229, "Im-3m", "cubic", "cI"),
        (221, "Pm-3m", "cubic", "cP"),
    ],
)
def test_bravais_lattice(number, symbol, system, lattice):
    assert normalize.bravais_lattice(number, symbol) == (system, lattice)


@pytest.mark.parametrize(
    ("name", "number", "symbol", "lattice", "point_group"),
    [
        ("RockSalt_NaCl.in", 225, "Fm-3m", "cF", "m-3m"),
        ("Zincblende_ZnS.in", 216, "F-43m", "cF", "-43m"),
        ("Wurtzite_ZnS.in", 186, "P6_3mc", "hP", "6mm"),
    ],
)
def test_symmetry_of_prototypes(data, name, number, symbol, lattice, point_group):
    atoms = read(data / "arise" / name, format="aims")
    m = normalize.material(atoms, symprec=0.01)
    assert m.symmetry.space_group_number == number
    assert m.symmetry.space_group_symbol == symbol
    assert m.symmetry.bravais_lattice == lattice
    assert m.symmetry.point_group == point_group
    assert m.symmetry.symprec == pytest.approx(0.01e-10)
    assert len(m.symmetry.wyckoff_letters) == len(atoms)
    assert m.dimensionality == 3


def test_wurtzite_wyckoff_and_equivalent_atoms(data):
    atoms = read(data / "arise" / "Wurtzite_ZnS.in", format="aims")
    sym = normalize.material(atoms, symprec=0.01).symmetry
    assert sym.wyckoff_letters == ["b"] * 4
    # S sites are equivalent to each other, Zn sites likewise, not across species.
    assert sym.equivalent_atoms == [0, 0, 2, 2]
    assert sym.hall_symbol == "P 6c -2c"


def test_material_structure_in_metres():
    atoms = bulk("NaCl", "rocksalt", a=5.64)
    m = normalize.material(atoms, symprec=1e-3)
    assert m.structure.species == ["Na", "Cl"]
    assert np.allclose(m.structure.cell, atoms.cell.array * 1e-10)
    assert np.allclose(m.structure.positions, atoms.positions * 1e-10)
    assert m.structure.pbc == [True, True, True]
    assert m.n_sites == 2 and m.n_elements == 2
    assert m.chemical_formula_reduced == "ClNa"


def test_no_symmetry_without_full_periodicity():
    slab = graphene(vacuum=5.0)  # periodic in x and y only
    m = normalize.material(slab, symprec=0.01)
    assert m.symmetry is None
    assert m.dimensionality == 2
    mol = normalize.material(molecule("CH4"), symprec=0.01)
    assert mol.symmetry is None and mol.structure.cell is None
    assert mol.dimensionality == 0
    assert mol.chemical_formula_hill == "CH4"


def test_dimensionality():
    assert normalize.dimensionality(bulk("Cu")) == 3
    assert normalize.dimensionality(bulk("Si")) == 3
    graphite = graphene(vacuum=None)
    graphite.cell[2, 2] = 3.35  # AA-stacked layers, 3.35 A apart: van der Waals gap
    graphite.pbc = True
    assert normalize.dimensionality(graphite) == 2
    chain = Atoms("H2", positions=[[0, 0, 0], [0.74, 0, 0]], cell=[1.5, 10, 10], pbc=True)
    assert normalize.dimensionality(chain) == 1
    water = molecule("H2O")
    water.cell = [10, 10, 10]
    water.pbc = True
    assert normalize.dimensionality(water) == 0


def test_dimensionality_agrees_with_ase(data):
    from ase.geometry.dimensionality import analyze_dimensionality

    for path in [*sorted((data / "arise").glob("*.in")), data / "cif" / "cod_9007661.cif"]:
        fmt = "cif" if path.suffix == ".cif" else "aims"
        atoms = read(path, format=fmt)
        ref = analyze_dimensionality(atoms, method="RDA")[0].dimtype
        assert normalize.dimensionality(atoms) == max(int(c) for c in ref if c.isdigit())


def test_properties_in_si():
    atoms = bulk("Fe", cubic=True)
    forces = np.array([[0.1, -0.2, 0.3], [0.0, 0.0, 0.5]])
    voigt = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) * 1e-3  # xx yy zz yz xz xy
    atoms.calc = SinglePointCalculator(atoms, energy=-16.5, forces=forces, stress=voigt, magmom=4.4)
    p = normalize.properties(atoms)
    assert p.total_energy == pytest.approx(-16.5 * EV)
    assert p.energy_per_atom == pytest.approx(-16.5 * EV / 2)
    assert np.allclose(p.forces, forces * EV * 1e10)
    assert p.max_force == pytest.approx(0.5 * EV * 1e10)
    s = np.array(p.stress) / (EV * 1e30 * 1e-3)
    assert np.allclose(s, [[1, 6, 5], [6, 2, 4], [5, 4, 3]])
    assert p.magnetic_moment == pytest.approx(4.4 * 9.2740100783e-24)


def test_bad_structures_raise_value_error():
    with pytest.raises(ValueError, match="no atoms"):
        normalize.material(Atoms(), symprec=0.01)
    with pytest.raises(ValueError, match="atomic number 0"):
        normalize.material(Atoms("X", cell=[3, 3, 3], pbc=True), symprec=0.01)
    with pytest.raises(ValueError, match="zero-volume"):
        normalize.material(Atoms("H", cell=[0, 0, 0], pbc=True), symprec=0.01)


def test_composition_material():
    m = normalize.composition_material({"Ga": 2, "O": 3})
    assert m.chemical_formula_reduced == "Ga2O3"
    assert m.chemical_formula_anonymous == "A3B2"
    assert m.structure is None and m.n_sites == 5
    with pytest.raises(ValueError, match="non-integer"):
        normalize.composition_material({"Fe": 0.5, "O": 1})


def test_unit_constants_agree_with_pint():
    from bigmax.schema.units import convert

    assert normalize.EV == convert(1.0, "eV", "J")
    assert normalize.BOHR_MAGNETON == convert(1.0, "bohr_magneton", "A*m**2")
