"""Export entries as OPTIMADE JSON Lines (the v1.3 database-exchange format).

Line 1 is the header ``{"x-optimade": {"api_version": "1.3.0"}}``, line 2 the /info/structures
description of every property (with units), then one structure resource per line, exactly as
/optimade/v1/structures serves it (lengths in ångström, ``_bigmax_*`` values in SI).
``bigmax.io.optimade_jsonl`` reads such files back, and the ``optimade`` reference server loads
them with its ``insert_from_jsonl`` setting.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bigmax.search.optimade_properties import structure_attributes, structure_properties

JSONL_API_VERSION = "1.3.0"


def _info_line() -> dict[str, Any]:
    props = structure_properties()
    return {
        "type": "info",
        "id": "structures",
        "description": "Atomic structures exported from BigMax",
        "properties": props,
        "formats": ["json"],
        "output_fields_by_format": {"json": list(props)},
    }


def structure_resource(entry: dict[str, Any]) -> dict[str, Any]:
    """The OPTIMADE structure resource of one stored entry (a full entry dict)."""
    return {
        "type": "structures",
        "id": entry["entry_id"],
        "attributes": structure_attributes(entry),
    }


def write_optimade_jsonl(entries: Iterable[dict[str, Any]], out: Path) -> int:
    """Write ``entries`` (full entry dicts, e.g. from ``catalog.archives_for``) to ``out``.

    Entries without a composition (failed ones) are skipped. Returns the number of structures
    written. The file is written to ``out.partial`` first and renamed at the end, so an
    interrupted export never leaves a truncated file under the final name.
    """
    out = Path(out)
    tmp = out.with_name(out.name + ".partial")
    n = 0
    dump = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(dump({"x-optimade": {"api_version": JSONL_API_VERSION}}) + "\n")
            fh.write(dump(_info_line()) + "\n")
            for entry in entries:
                material = (entry.get("results") or {}).get("material") or {}
                if not material.get("chemical_formula_reduced"):
                    continue
                fh.write(dump(structure_resource(entry)) + "\n")
                n += 1
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return n
