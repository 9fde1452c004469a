"""Flatten an entry into its narrow search-index row."""

from __future__ import annotations

from typing import Any

from bigmax.archive.db import EntryRow
from bigmax.archive.elements import element_masks
from bigmax.schema import Entry

#: Every column but the key: bulk inserts need the same keys in every row.
_EMPTY = {c.name: None for c in EntryRow.__table__.columns if c.name != "pk"}


def index_row(entry: Entry) -> dict[str, Any]:
    """The ``entries`` columns of ``entry`` (without ``pk``)."""
    row: dict[str, Any] = _EMPTY | {
        "entry_id": entry.entry_id,
        "upload_id": entry.upload_id,
        "mainfile": entry.mainfile,
        "child_key": entry.child_key,
        "parser": entry.parser,
        "state": entry.state.value,
        "created_at": entry.created_at,
        "processed_at": entry.processed_at,
        "el_lo": 0,
        "el_hi": 0,
    }
    results = entry.results
    if results is None:
        return row
    material = results.material
    if material is not None:
        row["el_lo"], row["el_hi"] = element_masks(material.elements)
        row.update(
            formula_hill=material.chemical_formula_hill,
            formula_reduced=material.chemical_formula_reduced,
            formula_anonymous=material.chemical_formula_anonymous,
            elements=",".join(material.elements),
            n_elements=material.n_elements,
            n_sites=material.n_sites,
            dimensionality=material.dimensionality,
        )
        if (sym := material.symmetry) is not None:
            row.update(
                space_group_number=sym.space_group_number,
                space_group_symbol=sym.space_group_symbol,
                crystal_system=sym.crystal_system,
                bravais_lattice=sym.bravais_lattice,
                point_group=sym.point_group,
            )
    method = results.method
    row.update(
        program_name=method.program_name,
        method_type=method.method_type.value,
        xc_functional=method.xc_functional,
    )
    props = results.properties
    row.update(
        total_energy=props.total_energy,
        energy_per_atom=props.energy_per_atom,
        formation_energy_per_atom=props.formation_energy_per_atom,
        max_force=props.max_force,
        magnetic_moment=props.magnetic_moment,
    )
    if props.band_gap is not None:
        row.update(band_gap=props.band_gap.value, band_gap_type=props.band_gap.type)
    return row


def entry_elements(entry: Entry) -> list[str]:
    material = entry.results.material if entry.results else None
    return list(material.elements) if material else []
