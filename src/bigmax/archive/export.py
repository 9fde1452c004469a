"""Export entries as Parquet, CSV, JSON lines or extended XYZ.

Tables carry `name (unit)` headers in the units scientists use (eV, angstrom), so an exported table
reads straight back into BigMax or pandas with its units intact.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import chain, islice
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from bigmax.schema.units import convert

Format = Literal["parquet", "jsonl", "csv", "extxyz"]
FORMATS: tuple[str, ...] = ("parquet", "jsonl", "csv", "extxyz")

#: (column header, path in the entry, SI unit, export unit)
_COLUMNS: list[tuple[str, tuple[str, ...], str | None, str | None]] = [
    ("entry_id", ("entry_id",), None, None),
    ("upload_id", ("upload_id",), None, None),
    ("mainfile", ("mainfile",), None, None),
    ("child_key", ("child_key",), None, None),
    ("state", ("state",), None, None),
    ("formula_reduced", ("results", "material", "chemical_formula_reduced"), None, None),
    ("formula_hill", ("results", "material", "chemical_formula_hill"), None, None),
    ("elements", ("results", "material", "elements"), None, None),
    ("n_sites", ("results", "material", "n_sites"), None, None),
    ("space_group_number", ("results", "material", "symmetry", "space_group_number"), None, None),
    ("space_group_symbol", ("results", "material", "symmetry", "space_group_symbol"), None, None),
    ("crystal_system", ("results", "material", "symmetry", "crystal_system"), None, None),
    ("dimensionality", ("results", "material", "dimensionality"), None, None),
    ("program_name", ("results", "method", "program_name"), None, None),
    ("method_type", ("results", "method", "method_type"), None, None),
    ("xc_functional", ("results", "method", "xc_functional"), None, None),
    ("total_energy (eV)", ("results", "properties", "total_energy"), "J", "eV"),
    ("energy_per_atom (eV)", ("results", "properties", "energy_per_atom"), "J", "eV"),
    (
        "formation_energy_per_atom (eV)",
        ("results", "properties", "formation_energy_per_atom"),
        "J",
        "eV",
    ),
    ("band_gap (eV)", ("results", "properties", "band_gap", "value"), "J", "eV"),
    ("band_gap_type", ("results", "properties", "band_gap", "type"), None, None),
    ("max_force (eV/angstrom)", ("results", "properties", "max_force"), "N", "eV/angstrom"),
    (
        "magnetic_moment (bohr_magneton)",
        ("results", "properties", "magnetic_moment"),
        "A*m**2",
        "bohr_magneton",
    ),
]


def _get(data: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def flat_row(entry: dict[str, Any]) -> dict[str, Any]:
    """One table row of an entry, in export units."""
    row = {}
    for header, path, si, unit in _COLUMNS:
        value = _get(entry, path)
        if value is not None and si is not None:
            value = convert(value, si, unit)
        row[header] = value
    return row


def _table(entries: list[dict], lists: bool) -> pa.Table:
    rows = [flat_row(e) for e in entries]
    if not lists:
        for row in rows:
            if row["elements"] is not None:
                row["elements"] = ",".join(row["elements"])
    columns = {h: [r[h] for r in rows] for h, *_ in _COLUMNS}
    types = {h: pa.list_(pa.string()) if h == "elements" and lists else None for h, *_ in _COLUMNS}
    return pa.table(
        {h: pa.array(v, type=types[h]) if types[h] else pa.array(v) for h, v in columns.items()}
    )


def _chunks(items: Iterable[dict], size: int = 5000) -> Iterator[list[dict]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def export(entries: Iterable[dict[str, Any]], fmt: Format, out: Path) -> int:
    """Write ``entries`` (full entry dicts) to ``out``; returns the number written."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    out = Path(out)
    if fmt == "jsonl":
        n = 0
        with open(out, "w") as fh:
            for entry in entries:
                fh.write(json.dumps(entry, separators=(",", ":")) + "\n")
                n += 1
        return n
    if fmt == "extxyz":
        return _export_extxyz(entries, out)
    return _export_table(entries, fmt, out)


def _export_table(entries: Iterable[dict], fmt: str, out: Path) -> int:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    writer = None
    n = 0
    try:
        for chunk in _chunks(entries):
            table = _table(chunk, lists=fmt == "parquet")
            if writer is None:
                writer = (
                    pq.ParquetWriter(out, table.schema)
                    if fmt == "parquet"
                    else pcsv.CSVWriter(out, table.schema)
                )
            writer.write_table(table.cast(writer.schema) if fmt == "parquet" else table)
            n += len(chunk)
        if writer is None:  # no entries: still write a valid, empty file with the header
            table = _table([], lists=fmt == "parquet")
            writer = (
                pq.ParquetWriter(out, table.schema)
                if fmt == "parquet"
                else pcsv.CSVWriter(out, table.schema)
            )
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()
    return n


def entry_atoms(entry: dict[str, Any]):
    """An ase.Atoms of the entry's structure in ASE units, with energies and forces attached."""
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator

    structure = _get(entry, ("results", "material", "structure"))
    if not structure:
        return None
    cell = structure.get("cell")
    atoms = Atoms(
        symbols=structure["species"],
        positions=np.asarray(structure["positions"]) * 1e10,
        cell=np.asarray(cell) * 1e10 if cell else None,
        pbc=structure.get("pbc", False),
    )
    atoms.info["entry_id"] = entry["entry_id"]
    props = _get(entry, ("results", "properties")) or {}
    for key in ("formation_energy_per_atom", "energy_per_atom"):
        if props.get(key) is not None:
            atoms.info[key] = convert(props[key], "J", "eV")
    if (gap := props.get("band_gap")) is not None:
        atoms.info["band_gap"] = convert(gap["value"], "J", "eV")
    calc = {}
    if props.get("total_energy") is not None:
        calc["energy"] = convert(props["total_energy"], "J", "eV")
    if props.get("forces") is not None:
        calc["forces"] = convert(np.asarray(props["forces"]), "N", "eV/angstrom")
    if calc:
        atoms.calc = SinglePointCalculator(atoms, **calc)
    return atoms


def _export_extxyz(entries: Iterable[dict], out: Path) -> int:
    import ase.io

    n = 0
    with open(out, "w") as fh:
        for entry in entries:
            atoms = entry_atoms(entry)
            if atoms is None:
                continue
            ase.io.write(fh, atoms, format="extxyz")
            n += 1
    return n


# -- streaming: the same formats as byte chunks, for HTTP responses of any size ----------------


class DrainBuffer:
    """A write-only sink that hands its bytes out on ``drain()``: writers (pyarrow, zipfile)
    write into it, the caller yields what came out, so memory holds one chunk at a time."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pos = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def iter_jsonl(entries: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """One JSON line per entry, as ``export(..., "jsonl")`` writes them."""
    for entry in entries:
        yield (json.dumps(entry, separators=(",", ":")) + "\n").encode()


def iter_extxyz(entries: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Extended XYZ frames of the entries that have a structure; the others are skipped."""
    import io

    import ase.io

    for entry in entries:
        atoms = entry_atoms(entry)
        if atoms is None:
            continue
        buf = io.StringIO()
        ase.io.write(buf, atoms, format="extxyz")
        yield buf.getvalue().encode()


def _iter_table(entries: Iterable[dict], fmt: str) -> Iterator[bytes]:
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    sink = DrainBuffer()
    lists = fmt == "parquet"
    writer = None
    # an empty export still gets its header (CSV) or schema (Parquet): one empty table
    for chunk in chain(_chunks(entries, 1000), [[]]):
        if chunk == [] and writer is not None:
            break
        table = _table(chunk, lists=lists)
        if writer is None:
            make = pq.ParquetWriter if lists else pcsv.CSVWriter
            writer = make(sink, table.schema)
        writer.write_table(table.cast(writer.schema) if lists else table)
        if out := sink.drain():
            yield out
    writer.close()
    if out := sink.drain():
        yield out


def iter_csv(entries: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """CSV with `name (unit)` headers, as ``export(..., "csv")``, chunk by chunk."""
    return _iter_table(entries, "csv")


def iter_parquet(entries: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Parquet, as ``export(..., "parquet")``: one row group per 1000 entries, streamed."""
    return _iter_table(entries, "parquet")


def iter_export(entries: Iterable[dict[str, Any]], fmt: Format) -> Iterator[bytes]:
    """The bytes of ``export(entries, fmt, ...)``, in chunks, never all in memory."""
    makers = {"jsonl": iter_jsonl, "csv": iter_csv, "parquet": iter_parquet, "extxyz": iter_extxyz}
    if fmt not in makers:
        raise ValueError(f"unknown export format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return makers[fmt](entries)
