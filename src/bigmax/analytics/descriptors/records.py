"""The bridge from archive rows to learning input: Atoms plus a target vector.

The analytics know nothing of the archive, so this module reads plain data only:

- BigMax entry dicts (``bigmax show --json``, the ``jsonl`` export, the entries API): the
  structure sits at ``results.material.structure`` in SI metres;
- OPTIMADE structures (``/optimade/v1/structures`` or the ``optimade-jsonl`` export, with or
  without the ``attributes`` wrapper): ``cartesian_site_positions`` and ``lattice_vectors``
  in angstrom;
- flat rows with a ``structure`` dict of ``species``/``positions``/``cell``/``pbc`` in angstrom;
- ``ase.Atoms`` (targets from ``atoms.info``), and extended XYZ files such as
  ``bigmax export --format extxyz`` writes (eV and angstrom, targets in the frame info).

Targets are looked up by name (or a dotted path) in the row, its ``attributes``, its
``results.properties`` and its ``properties``; a ``{"value": ...}`` dict gives its value.
Stored values are SI (a band gap in joules): ``target_scale`` converts, e.g.
``1 / 1.602176634e-19`` for eV. ``bigmax learn train --query`` does that for you.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms

from bigmax.analytics.descriptors._checks import StructureError

__all__ = ["structures_from_extxyz", "structures_from_records"]

#: metres -> angstrom, for BigMax entries (stored in SI).
METRE = 1e10


def _source(record: Any) -> str | None:
    if isinstance(record, Mapping):
        for key in ("entry_id", "id", "name"):
            if isinstance(record.get(key), str | int):
                return str(record[key])
    if isinstance(record, Atoms) and record.info.get("source"):
        return str(record.info["source"])
    return None


def _label(record: Any, index: int) -> str:
    source = _source(record)
    return f"record {index} ({source})" if source else f"record {index}"


def _get_path(data: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(data, Mapping) or key not in data:
            return None
        data = data[key]
    return data


def _atoms_of(record: Any, index: int, length_scale: float | None) -> Atoms:
    name = _label(record, index)
    if isinstance(record, Atoms):
        return record.copy()
    if not isinstance(record, Mapping):
        raise StructureError(f"{name}: expected a dict or ase.Atoms, got {type(record).__name__}")
    attrs = record.get("attributes") if isinstance(record.get("attributes"), Mapping) else record
    try:
        if "cartesian_site_positions" in attrs:
            scale = 1.0 if length_scale is None else length_scale
            species = attrs.get("species_at_sites")
            positions = attrs["cartesian_site_positions"]
            cell = attrs.get("lattice_vectors")
            dims = attrs.get("dimension_types")
            pbc = [bool(d) for d in dims] if dims is not None else cell is not None
        else:
            structure = _get_path(record, "results.material.structure")
            scale = METRE
            if structure is None:
                structure = record.get("structure")
                scale = 1.0
            if not isinstance(structure, Mapping):
                raise StructureError(
                    f"{name}: no structure found; expected results.material.structure (a BigMax "
                    "entry), OPTIMADE cartesian_site_positions, or a 'structure' dict"
                )
            scale = scale if length_scale is None else length_scale
            species = structure.get("species")
            positions = structure.get("positions")
            cell = structure.get("cell")
            pbc = structure.get("pbc", cell is not None)
        if species is None or positions is None:
            raise StructureError(f"{name}: the structure has no species or positions")
        pos = np.asarray(positions, dtype=float) * scale
        atoms = Atoms(
            symbols=list(species),
            positions=pos.reshape(-1, 3) if pos.size else np.zeros((0, 3)),
            cell=None if cell is None else np.asarray(cell, dtype=float) * scale,
            pbc=pbc,
        )
    except StructureError:
        raise
    except (KeyError, ValueError, TypeError) as err:
        raise StructureError(f"{name}: cannot build a structure: {err}") from None
    source = _source(record)
    if source:
        atoms.info["source"] = source
    return atoms


def _target_of(record: Any, target: str) -> Any:
    if isinstance(record, Atoms):
        return record.info.get(target)
    for base in (
        record,
        record.get("attributes"),
        _get_path(record, "results.properties"),
        _get_path(record, "results.properties.extra"),
        record.get("properties"),
    ):
        value = _get_path(base, target) if isinstance(base, Mapping) else None
        if value is not None:
            return value.get("value") if isinstance(value, Mapping) else value
    return None


def structures_from_records(
    records: Iterable[Any],
    target: str | None = None,
    *,
    length_scale: float | None = None,
    target_scale: float = 1.0,
    skip_missing: bool = False,
) -> tuple[list[Atoms], np.ndarray | None]:
    """Atoms (and targets) from archive entries, OPTIMADE structures or flat rows.

    Parameters
    ----------
    records : iterable of dict or ase.Atoms
    target : str, optional
        Property name or dotted path, e.g. ``"band_gap"`` or ``"results.properties.band_gap"``.
    length_scale : float, optional
        Multiply positions and cell by this to get angstrom; default: 1e10 for BigMax entries
        (stored in metres), 1 otherwise.
    target_scale : float, default=1.0
        Multiply targets by this (e.g. J -> eV).
    skip_missing : bool, default=False
        Drop records without the target instead of raising; each kept Atoms has
        ``info["record_index"]``.

    Returns
    -------
    structures : list of ase.Atoms
    y : ndarray of shape (n,) or None when no ``target`` is given

    Raises
    ------
    StructureError
        Naming the record (and its entry id) without a structure or a numeric target.
    """
    structures: list[Atoms] = []
    values: list[float] = []
    for i, record in enumerate(records):
        if target is not None:
            raw = _target_of(record, target)
            if raw is None:
                if skip_missing:
                    continue
                raise StructureError(f"{_label(record, i)}: no value for target {target!r}")
            try:
                value = float(raw) * target_scale
            except (TypeError, ValueError):
                raise StructureError(
                    f"{_label(record, i)}: target {target!r} is {raw!r}, not a number"
                ) from None
            if not np.isfinite(value):
                raise StructureError(f"{_label(record, i)}: target {target!r} is {raw!r}")
            values.append(value)
        atoms = _atoms_of(record, i, length_scale)
        atoms.info["record_index"] = i
        structures.append(atoms)
    if not structures:
        raise StructureError(
            "no records given" if target is None or not skip_missing
            else f"no record has a value for target {target!r}"
        )
    return structures, (np.array(values) if target is not None else None)


def structures_from_extxyz(
    path: str | Path, target: str | None = None, *, skip_missing: bool = False
) -> tuple[list[Atoms], np.ndarray | None]:
    """Frames of an extended XYZ file (e.g. ``bigmax export --format extxyz``) and the target
    ``atoms.info[target]`` of each; ``source`` in each frame's info names the file and frame."""
    from ase.io import iread

    path = Path(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such file")
    frames = []
    try:
        for i, atoms in enumerate(iread(str(path), index=":", format="extxyz")):
            atoms.info["source"] = f"{path.name} frame {i}"
            frames.append(atoms)
    except Exception as err:  # ASE raises anything (XYZError is an OSError) on a bad file
        where = f"{path.name} frame {len(frames)}"
        raise StructureError(f"{where}: not valid extended XYZ: {err}") from None
    if not frames:
        raise StructureError(f"{path}: no frames")
    return structures_from_records(frames, target, skip_missing=skip_missing)
