"""What the material is: composition, structure and symmetry."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from bigmax.schema.base import Section, quantity

CrystalSystem = Literal[
    "triclinic", "monoclinic", "orthorhombic", "tetragonal", "trigonal", "hexagonal", "cubic"
]


class Structure(Section):
    """Atomic positions and cell. Lengths are in metres, as all storage is SI."""

    species: list[str] = Field(description="Chemical symbol of each site")
    positions: list[list[float]] = quantity("m", "Cartesian position of each site")
    cell: list[list[float]] | None = quantity("m", "Lattice vectors as rows")
    pbc: list[bool] = Field(default=[False, False, False], description="Periodicity per axis")


class Symmetry(Section):
    """Symmetry found by spglib at tolerance ``symprec``."""

    space_group_number: int = Field(ge=1, le=230)
    space_group_symbol: str = Field(description="International (Hermann-Mauguin) short symbol")
    hall_symbol: str | None = None
    crystal_system: CrystalSystem
    bravais_lattice: str = Field(description="Pearson-style Bravais lattice, e.g. 'cF', 'hP'")
    point_group: str = Field(description="Point group in Hermann-Mauguin notation")
    wyckoff_letters: list[str] = Field(description="Wyckoff letter of each site")
    equivalent_atoms: list[int] | None = None
    symprec: float = quantity("m", "Distance tolerance used by spglib")


class Material(Section):
    """Composition, structure, symmetry and dimensionality of one system."""

    chemical_formula_hill: str
    chemical_formula_reduced: str = Field(description="Reduced formula, elements alphabetical")
    chemical_formula_anonymous: str = Field(description="OPTIMADE anonymous formula, e.g. A2B3")
    chemical_formula_descriptive: str | None = None
    elements: list[str] = Field(description="Distinct elements, alphabetical")
    element_counts: dict[str, int] = Field(description="Number of sites of each element")
    n_elements: int
    n_sites: int
    structure: Structure | None = None
    symmetry: Symmetry | None = None
    dimensionality: Literal[0, 1, 2, 3] | None = Field(
        default=None, description="Number of periodic directions of the bonded network"
    )
