"""What an OPTIMADE structure is in BigMax: the property table of /info/structures and the
translation of a stored entry (SI units) into OPTIMADE attributes (ångström).

Standard properties take their descriptions from the ``optimade`` package's models, so they
follow the spec version the package implements. Our own quantities are served as
``_bigmax_<name>`` in the SI unit they are stored and filtered in.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np

from bigmax.search.fields import FIELDS, OPTIMADE_PREFIX, SearchField, get_optimade_field

API_VERSION = "1.2.0"
ANGSTROM_PER_M = 1e10

#: Native fields that already appear under a standard OPTIMADE name (or are ids).
_COVERED = {"entry_id", "elements", "n_elements", "n_sites", "formula_reduced", "formula_hill"}
_COVERED |= {"formula_anonymous", "processed_at", "space_group_number"}

#: Standard structure properties we serve, in output order, with their OPTIMADE type.
STANDARD: dict[str, str] = {
    "id": "string",
    "type": "string",
    "immutable_id": "string",
    "last_modified": "timestamp",
    "elements": "list",
    "nelements": "integer",
    "elements_ratios": "list",
    "chemical_formula_descriptive": "string",
    "chemical_formula_reduced": "string",
    "chemical_formula_hill": "string",
    "chemical_formula_anonymous": "string",
    "dimension_types": "list",
    "nperiodic_dimensions": "integer",
    "lattice_vectors": "list",
    "cartesian_site_positions": "list",
    "nsites": "integer",
    "species": "list",
    "species_at_sites": "list",
    "structure_features": "list",
    "space_group_it_number": "integer",
}

_KIND_TYPE = {"str": "string", "int": "integer", "float": "float", "datetime": "timestamp"}
_KIND_TYPE["elements"] = "list"
_UNITS = {"J": "J", "N": "N", "A*m**2": "A*m^2"}

#: Provider-specific fields: every native search field not already served under a standard name.
PROVIDER_FIELDS: tuple[SearchField, ...] = tuple(f for f in FIELDS if f.name not in _COVERED)


def _first_paragraph(text: str | None) -> str:
    return (text or "").strip().split("\n\n", 1)[0].strip()


def _sortable(name: str) -> bool:
    f = get_optimade_field(name)
    return f is not None and f.kind != "elements" and f.name != "nperiodic_dimensions"


@lru_cache(maxsize=1)
def structure_properties() -> dict[str, dict[str, Any]]:
    """The ``properties`` object of /info/structures."""
    from optimade.models import StructureResourceAttributes  # 0.1 s: not for ingest workers

    model = StructureResourceAttributes.model_fields
    out: dict[str, dict[str, Any]] = {}
    for name, kind in STANDARD.items():
        if name == "id":
            description = "The entry's persistent BigMax id (a hash of upload, file and child)."
        elif name == "type":
            description = "The entry type: always 'structures'."
        else:
            description = _first_paragraph(model[name].description)
        prop: dict[str, Any] = {"description": description, "type": kind}
        extra = model[name].json_schema_extra if name in model else None
        unit = extra.get("x-optimade-unit") if isinstance(extra, dict) else None
        if unit:
            prop["unit"] = unit
        prop["sortable"] = _sortable(name)
        out[name] = prop
    out["chemical_formula_descriptive"]["description"] += " BigMax serves the Hill formula."
    out["nperiodic_dimensions"]["description"] += " Filters on it read each archive (slow)."
    for f in PROVIDER_FIELDS:
        prop = {
            "description": f.description or f.name,
            "type": _KIND_TYPE[f.kind],
            "sortable": f.kind != "elements",
        }
        if f.unit:
            prop["unit"] = _UNITS.get(f.unit, f.unit)
        out[OPTIMADE_PREFIX + f.name] = prop
    return out


def property_names() -> list[str]:
    return list(structure_properties())


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _timestamp(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        value = value.isoformat()
    text = str(value)
    return text if text.endswith("Z") or "+" in text[10:] else text + "Z"


def _angstrom(rows: Any) -> list[list[float | None]] | None:
    if not rows:
        return None
    try:
        values = np.asarray(rows, dtype=float)
    except (TypeError, ValueError):  # ragged rows
        values = None
    if values is not None and np.isfinite(values).all():
        return np.round(values * ANGSTROM_PER_M, 10).tolist()
    return [[_scaled(v) for v in row] for row in rows]


def _scaled(v: Any) -> float | None:
    if v is None or not math.isfinite(v):  # unknown coordinates (None) are null in OPTIMADE
        return None
    return round(v * ANGSTROM_PER_M, 10)


def _provider_value(entry: dict[str, Any], f: SearchField) -> Any:
    path = (f.path or f.name).split(".")
    value = _get(entry, *path)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if f.kind == "datetime":
        return _timestamp(value)
    return value


def structure_attributes(entry: dict[str, Any], wanted: Iterable[str] | None = None) -> dict:
    """OPTIMADE attributes of a stored entry; ``wanted`` limits them (``response_fields``)."""
    material = _get(entry, "results", "material") or {}
    structure = material.get("structure") or {}
    counts = material.get("element_counts") or {}
    elements = sorted(material.get("elements") or counts)
    nsites = material.get("n_sites")
    species_at_sites = structure.get("species")
    pbc = structure.get("pbc") if structure else None
    total = sum(counts.get(e, 0) for e in elements)
    symmetry = material.get("symmetry") or {}
    attrs: dict[str, Any] = {
        "immutable_id": entry.get("entry_id"),
        "last_modified": _timestamp(entry.get("processed_at") or entry.get("created_at")),
        "elements": elements,
        "nelements": len(elements) if elements else material.get("n_elements"),
        "elements_ratios": [counts.get(e, 0) / total for e in elements] if total else None,
        "chemical_formula_descriptive": material.get("chemical_formula_hill"),
        "chemical_formula_reduced": material.get("chemical_formula_reduced"),
        "chemical_formula_hill": material.get("chemical_formula_hill"),
        "chemical_formula_anonymous": material.get("chemical_formula_anonymous"),
        "dimension_types": [1 if p else 0 for p in pbc] if pbc is not None else None,
        "nperiodic_dimensions": sum(1 for p in pbc if p) if pbc is not None else None,
        "lattice_vectors": _angstrom(structure.get("cell")),
        "cartesian_site_positions": _angstrom(structure.get("positions")),
        "nsites": len(species_at_sites) if species_at_sites else nsites,
        "species": (
            [
                {"name": s, "chemical_symbols": [s], "concentration": [1.0]}
                for s in sorted(set(species_at_sites))
            ]
            if species_at_sites
            else None
        ),
        "species_at_sites": species_at_sites,
        "structure_features": [],
        "space_group_it_number": symmetry.get("space_group_number"),
    }
    for f in PROVIDER_FIELDS:
        attrs[OPTIMADE_PREFIX + f.name] = _provider_value(entry, f)
    if wanted is None:
        return attrs
    return {name: attrs.get(name) for name in wanted if name not in ("id", "type")}


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def dumps(value: Any) -> str:
    """Compact JSON as the OPTIMADE responses carry it; non-finite floats become null."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        return json.dumps(_finite(value), separators=(",", ":"), ensure_ascii=False)


def structure_attributes_json(entry: dict[str, Any]) -> str:
    """All OPTIMADE attributes of a stored entry as JSON text: computed once at ingest and kept
    in ``optimade_structures``, so serving a page costs no conversion."""
    return dumps(structure_attributes(entry))
