"""OPTIMADE JSON Lines (v1.3 exchange format) in: one entry per structure line.

A file matches when its first line is the ``{"x-optimade": ...}`` header. Info lines are
skipped; each ``structures`` line becomes an entry keyed by its OPTIMADE id, normalized like
any other structure (formula, symmetry) from ``species_at_sites``, ``cartesian_site_positions``
(Å), ``lattice_vectors`` (Å) and ``dimension_types``. BigMax's own ``_bigmax_*`` energies and
band gap (SI) are carried over. A line without sites gives a failed entry that says so.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from bigmax.io import normalize
from bigmax.io.base import Parsed, ReaderError
from bigmax.schema import Method, MethodType, Results

_PROVIDER_SI = ("total_energy", "energy_per_atom", "formation_energy_per_atom")


def _atoms(attrs: dict[str, Any], where: str):
    from ase import Atoms

    species = attrs.get("species_at_sites")
    positions = attrs.get("cartesian_site_positions")
    if not species or not positions:
        raise ValueError(
            f"{where}: no species_at_sites/cartesian_site_positions to build sites from"
        )
    if len(species) != len(positions):
        raise ValueError(f"{where}: {len(species)} species_at_sites but {len(positions)} positions")
    symbols = {s["name"]: s["chemical_symbols"] for s in attrs.get("species") or []}
    elements = []
    for name in species:
        chem = symbols.get(name, [name])
        if len(chem) != 1 or chem[0] in ("X", "vacancy"):
            raise ValueError(f"{where}: species {name!r} is disordered ({chem}); not supported")
        elements.append(chem[0])
    dims = attrs.get("dimension_types") or [0, 0, 0]
    cell = attrs.get("lattice_vectors")
    if cell is not None and any(v is None for row in cell for v in row):
        cell = None
    return Atoms(symbols=elements, positions=positions, cell=cell, pbc=[bool(d) for d in dims])


def _method(attrs: dict[str, Any]) -> Method:
    method = Method()
    for key in ("program_name", "xc_functional"):
        value = attrs.get(f"_bigmax_{key}")
        if isinstance(value, str):
            setattr(method, key, value)
    kind = attrs.get("_bigmax_method_type")
    if isinstance(kind, str):
        try:
            method.method_type = MethodType(kind)
        except ValueError:
            method.method_type = MethodType.UNKNOWN
    return method


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def structure_results(resource: dict[str, Any], symprec: float, where: str) -> Results:
    """Normalized ``Results`` of one OPTIMADE structure resource."""
    attrs = resource.get("attributes") or {}
    atoms = _atoms(attrs, where)
    results = Results(
        material=normalize.material(atoms, symprec),
        method=_method(attrs),
        properties=normalize.properties(atoms),
    )
    props = results.properties
    for key in _PROVIDER_SI:
        value = _number(attrs.get(f"_bigmax_{key}"))
        if value is not None:
            setattr(props, key, value)
    gap = _number(attrs.get("_bigmax_band_gap"))
    if gap is not None and gap >= 0:
        gap_type = attrs.get("_bigmax_band_gap_type")
        props.band_gap = normalize.band_gap(
            gap / normalize.EV, gap_type if isinstance(gap_type, str) else None
        )
    return results


class OptimadeJSONLReader:
    """OPTIMADE JSON Lines files (``*.jsonl`` starting with an ``x-optimade`` header)."""

    name: ClassVar[str] = "optimade-jsonl"
    version: ClassVar[str] = "1.0.0"
    priority: ClassVar[int] = 20

    def matches(self, path: str, head: bytes) -> bool:
        if not path.lower().endswith((".jsonl", ".jsonlines")):
            return False
        first = head.lstrip().split(b"\n", 1)[0]
        return first.startswith(b"{") and b'"x-optimade"' in first

    def parse(self, path: Path, root: Path, symprec: float) -> Iterator[Parsed]:
        path = Path(path)
        try:
            fh = open(path, encoding="utf-8")
        except OSError as err:
            raise ReaderError(f"{path.name}: cannot open: {err.strerror or err}") from err
        with fh:
            header = fh.readline()
            try:
                if "x-optimade" not in json.loads(header):
                    raise ValueError("no 'x-optimade' key")
            except (ValueError, TypeError) as err:
                raise ReaderError(
                    f"{path.name} line 1: expected the OPTIMADE JSONL header "
                    f'{{"x-optimade": ...}}: {err}'
                ) from None
            for number, line in enumerate(fh, start=2):
                if not line.strip():
                    continue
                where = f"{path.name} line {number}"
                try:
                    resource = json.loads(line)
                except ValueError as err:
                    yield Parsed(f"line-{number}", error=f"{where}: not JSON: {err}")
                    continue
                if not isinstance(resource, dict) or resource.get("type") != "structures":
                    continue  # info lines, references, other entry types
                key = str(resource.get("id") or f"line-{number}")
                try:
                    results = structure_results(resource, symprec, f"{where} ({key})")
                except Exception as err:  # one bad line must not lose the others
                    yield Parsed(key, error=f"{type(err).__name__}: {err}"[:500])
                else:
                    yield Parsed(key, results=results)
