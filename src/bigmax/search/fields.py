"""The searchable quantities: one table from public names to ``entries`` columns.

Every name a user may type (NOMAD-style dotted path, short alias or OPTIMADE property) resolves
here, so the JSON query, the OPTIMADE filter, sorting and aggregations agree on what a name
means, its type and its SI storage unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import Integer
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.functions import FunctionElement

from bigmax.archive.db import EntryRow

Kind = Literal["str", "int", "float", "datetime", "elements"]

#: Prefix of our own OPTIMADE provider-specific properties.
OPTIMADE_PREFIX = "_bigmax_"


@dataclass(frozen=True)
class SearchField:
    """One searchable quantity.

    ``unit`` is the SI unit the column stores (None for dimensionless or non-numeric), so that
    '1.5 eV' in a query can be converted before it reaches SQL.
    """

    name: str
    column: InstrumentedAttribute
    kind: Kind
    path: str | None = None
    unit: str | None = None
    optimade: str | None = None
    unique: bool = False
    nullable: bool = True
    description: str = ""
    aliases: tuple[str, ...] = field(default=())

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


E = EntryRow
_MAT = "results.material"
_SYM = "results.material.symmetry"
_MET = "results.method"
_PROP = "results.properties"

#: All searchable quantities, in the order used for documentation.
FIELDS: tuple[SearchField, ...] = (
    SearchField(
        "entry_id",
        E.entry_id,
        "str",
        "entry_id",
        optimade="id",
        unique=True,
        nullable=False,
        description="Persistent entry id",
        aliases=("immutable_id",),
    ),
    SearchField(
        "upload_id",
        E.upload_id,
        "str",
        "upload_id",
        nullable=False,
        description="Upload the entry belongs to",
    ),
    SearchField(
        "mainfile",
        E.mainfile,
        "str",
        "mainfile",
        nullable=False,
        description="Path of the parsed file inside its upload",
    ),
    SearchField(
        "parser",
        E.parser,
        "str",
        "parser_name",
        nullable=False,
        description="Reader that made the entry",
    ),
    SearchField(
        "state",
        E.state,
        "str",
        "process_status",
        nullable=False,
        description="processing, success or failed",
    ),
    SearchField(
        "created_at",
        E.created_at,
        "datetime",
        "entry_create_time",
        nullable=False,
        description="When the entry was created (UTC)",
    ),
    SearchField(
        "processed_at",
        E.processed_at,
        "datetime",
        "processed_time",
        optimade="last_modified",
        description="When the entry was last processed",
    ),
    SearchField(
        "elements",
        E.elements,
        "elements",
        f"{_MAT}.elements",
        optimade="elements",
        description="Distinct chemical elements",
    ),
    SearchField(
        "n_elements",
        E.n_elements,
        "int",
        f"{_MAT}.n_elements",
        optimade="nelements",
        description="Number of distinct elements",
    ),
    SearchField(
        "n_sites",
        E.n_sites,
        "int",
        f"{_MAT}.n_sites",
        optimade="nsites",
        description="Number of sites in the cell",
    ),
    SearchField(
        "formula_reduced",
        E.formula_reduced,
        "str",
        f"{_MAT}.chemical_formula_reduced",
        optimade="chemical_formula_reduced",
        description="Reduced formula",
    ),
    SearchField(
        "formula_hill",
        E.formula_hill,
        "str",
        f"{_MAT}.chemical_formula_hill",
        optimade="chemical_formula_hill",
        description="Hill formula",
    ),
    SearchField(
        "formula_anonymous",
        E.formula_anonymous,
        "str",
        f"{_MAT}.chemical_formula_anonymous",
        optimade="chemical_formula_anonymous",
        description="Anonymous formula, e.g. A2B3",
    ),
    SearchField(
        "space_group_number",
        E.space_group_number,
        "int",
        f"{_SYM}.space_group_number",
        optimade="space_group_it_number",
        description="International Tables space group number, 1-230",
    ),
    SearchField(
        "space_group_symbol",
        E.space_group_symbol,
        "str",
        f"{_SYM}.space_group_symbol",
        description="Hermann-Mauguin short symbol",
    ),
    SearchField(
        "crystal_system",
        E.crystal_system,
        "str",
        f"{_SYM}.crystal_system",
        description="Crystal system",
    ),
    SearchField(
        "bravais_lattice",
        E.bravais_lattice,
        "str",
        f"{_SYM}.bravais_lattice",
        description="Pearson-style Bravais lattice, e.g. cF",
    ),
    SearchField(
        "point_group",
        E.point_group,
        "str",
        f"{_SYM}.point_group",
        description="Point group (Hermann-Mauguin)",
    ),
    SearchField(
        "dimensionality",
        E.dimensionality,
        "int",
        f"{_MAT}.dimensionality",
        description="Periodic directions of the bonded network, 0-3",
    ),
    SearchField(
        "program_name",
        E.program_name,
        "str",
        f"{_MET}.program_name",
        description="Simulation program",
    ),
    SearchField(
        "method_type",
        E.method_type,
        "str",
        f"{_MET}.method_type",
        description="DFT, GW, force field, ML potential, experiment, unknown",
    ),
    SearchField(
        "xc_functional",
        E.xc_functional,
        "str",
        f"{_MET}.xc_functional",
        description="Exchange-correlation functional",
    ),
    SearchField(
        "total_energy",
        E.total_energy,
        "float",
        f"{_PROP}.total_energy",
        unit="J",
        description="Total energy of the cell",
    ),
    SearchField(
        "energy_per_atom",
        E.energy_per_atom,
        "float",
        f"{_PROP}.energy_per_atom",
        unit="J",
        description="Total energy per site",
    ),
    SearchField(
        "formation_energy_per_atom",
        E.formation_energy_per_atom,
        "float",
        f"{_PROP}.formation_energy_per_atom",
        unit="J",
        description="Formation energy per atom",
    ),
    SearchField(
        "band_gap", E.band_gap, "float", f"{_PROP}.band_gap.value", unit="J", description="Band gap"
    ),
    SearchField(
        "band_gap_type",
        E.band_gap_type,
        "str",
        f"{_PROP}.band_gap.type",
        description="direct, indirect or unknown",
    ),
    SearchField(
        "max_force",
        E.max_force,
        "float",
        f"{_PROP}.max_force",
        unit="N",
        description="Largest force on any site",
    ),
    SearchField(
        "magnetic_moment",
        E.magnetic_moment,
        "float",
        f"{_PROP}.magnetic_moment",
        unit="A*m**2",
        description="Total magnetic moment of the cell",
    ),
)


class _PeriodicDimensions(FunctionElement):
    """Number of periodic axes (true values of ``structure.pbc``) read from the entry's archive;
    NULL when it has no structure. It parses the archive JSON per row: correct but slow, so it
    is an OPTIMADE-only property that is neither indexed nor sortable."""

    type = Integer()
    inherit_cache = True


_PBC_AXES = range(3)


@compiles(_PeriodicDimensions, "sqlite")
def _periodic_sqlite(element, compiler, **kw):
    axes = " + ".join(
        f"json_extract(archives.data, '$.results.material.structure.pbc[{i}]')" for i in _PBC_AXES
    )
    return f"(SELECT {axes} FROM archives WHERE archives.entry_pk = entries.pk)"


@compiles(_PeriodicDimensions)
def _periodic_default(element, compiler, **kw):
    axes = " + ".join(
        f"(CAST(archives.data AS jsonb) #>> '{{results,material,structure,pbc,{i}}}')::boolean::int"
        for i in _PBC_AXES
    )
    return f"(SELECT {axes} FROM archives WHERE archives.entry_pk = entries.pk)"


#: OPTIMADE structure properties with no native search field of their own.
OPTIMADE_ONLY: dict[str, SearchField] = {
    "nperiodic_dimensions": SearchField(
        "nperiodic_dimensions",
        _PeriodicDimensions(),  # type: ignore[arg-type]
        "int",
        description="Number of periodic axes of the cell (from the stored structure)",
    ),
}

#: OPTIMADE names served by a field under another name: the descriptive formula we serve is
#: the Hill formula, and an entry id never changes, so it is also the immutable id.
OPTIMADE_ALIASES = {
    "immutable_id": "entry_id",
    "chemical_formula_descriptive": "formula_hill",
}

#: Standard OPTIMADE structure properties we serve but cannot filter on (filters on them give
#: 501 Not Implemented). ``structure_features`` is always the empty list and is handled by the
#: filter translator itself.
OPTIMADE_UNQUERYABLE = frozenset(
    {
        "elements_ratios",
        "dimension_types",
        "lattice_vectors",
        "cartesian_site_positions",
        "species",
        "species_at_sites",
        "assemblies",
        "space_group_symmetry_operations_xyz",
        "space_group_symbol_hall",
        "space_group_symbol_hermann_mauguin",
        "space_group_symbol_hermann_mauguin_extended",
        "type",
    }
)


def _build_tables() -> tuple[dict[str, SearchField], dict[str, SearchField]]:
    names: dict[str, SearchField] = {}
    optimade: dict[str, SearchField] = {}
    for f in FIELDS:
        keys = [f.name, *f.aliases]
        if f.path and f.path != f.name:
            keys.append(f.path)
        for key in keys:
            if key in names:
                raise RuntimeError(f"search field name {key!r} registered twice")
            names[key] = f
        optimade[OPTIMADE_PREFIX + f.name] = f
        if f.optimade:
            optimade[f.optimade] = f
    optimade.update(OPTIMADE_ONLY)
    for alias, target in OPTIMADE_ALIASES.items():
        optimade[alias] = names[target]
    return names, optimade


_BY_NAME, _BY_OPTIMADE = _build_tables()


def get_field(name: str) -> SearchField | None:
    """The field called ``name`` (short name, alias or dotted path), or None."""
    return _BY_NAME.get(name)


def get_optimade_field(name: str) -> SearchField | None:
    """The field behind OPTIMADE property ``name`` (standard or ``_bigmax_`` prefixed)."""
    return _BY_OPTIMADE.get(name)


def field_names() -> list[str]:
    """Every accepted name, sorted; used in error messages and documentation."""
    return sorted(_BY_NAME)


def optimade_names() -> list[str]:
    """Every OPTIMADE property name we serve."""
    return sorted(_BY_OPTIMADE)
