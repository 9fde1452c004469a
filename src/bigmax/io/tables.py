"""Property tables: CSV or Parquet with ``name (unit)`` headers, one entry per row.

Columns named like a known property (band gap, formation energy, ...) fill that field in SI;
every other column lands in ``properties.extra`` with its SI value and the unit as written. A
formula column gives a composition-only material; a path column links the row to a structure
file of the same upload, read with the ASE reader.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from ase.data import chemical_symbols

from bigmax.io import normalize
from bigmax.io.base import HEAD_BYTES, Parsed, ReaderError
from bigmax.io.structures import read_atoms
from bigmax.schema import BandGap, Material, Properties, Results, ScalarQuantity
from bigmax.schema.units import UnitError, convert, get_ureg, si_unit_of

_HEADER = re.compile(r"^(?P<name>.*?)\s*\((?P<unit>[^()]*)\)$")
_ELEMENT = re.compile(r"([A-Z][a-z]?)(\d*\.?\d*)")

#: Column-name aliases (lower case, spaces and dashes as '_') of the dedicated properties.
PROPERTY_ALIASES: dict[str, tuple[str, ...]] = {
    "band_gap": (
        "band_gap",
        "bandgap",
        "gap",
        "e_gap",
        "egap",
        "eg",
        "band_gap_energy",
        "bandgap_energy",
        "bandgap_energy_ev",
    ),
    "formation_energy_per_atom": (
        "formation_energy_per_atom",
        "formation_energy",
        "formation_enthalpy",
        "formation_energy_ev_natom",
        "e_form",
        "eform",
        "e_formation",
        "delta_h_f",
    ),
    "total_energy": ("total_energy", "energy", "e_tot", "etot", "e_total", "energy_total"),
    "energy_per_atom": ("energy_per_atom", "e_per_atom", "epa", "energy_atom"),
    "magnetic_moment": (
        "magnetic_moment",
        "magmom",
        "total_magnetization",
        "total_magnetic_moment",
        "mag_moment",
    ),
}
_TARGET = {
    "band_gap": "J",
    "formation_energy_per_atom": "J",
    "total_energy": "J",
    "energy_per_atom": "J",
    "magnetic_moment": "A*m**2",
}
#: Unit assumed for a dedicated-property column whose header gives none (the field's custom).
DEFAULT_UNITS = {"magnetic_moment": "bohr_magneton"}
GAP_TYPE_COLUMNS = ("band_gap_type", "bandgap_type", "gap_type")
FORMULA_COLUMNS = (
    "material",
    "formula",
    "composition",
    "compound",
    "chemical_formula",
    "reduced_formula",
    "formula_reduced",
    "pretty_formula",
    "formula_pretty",
    "chemical_formula_reduced",
    "chemical_formula_descriptive",
    "chemical_formula_hill",
)
PATH_COLUMNS = (
    "structure",
    "structure_file",
    "structure_path",
    "path",
    "file",
    "filename",
    "file_name",
    "geometry",
    "geometry_file",
)
_ALIAS = {alias: prop for prop, aliases in PROPERTY_ALIASES.items() for alias in aliases}


def _key(name: str) -> str:
    return re.sub(r"[\s\-/]+", "_", name.strip().lower())


def split_header(header: str) -> tuple[str, str | None]:
    """'band_gap (eV)' -> ('band_gap', 'eV'); '# Material' -> ('Material', None)."""
    text = header.strip().lstrip("#").strip()
    m = _HEADER.match(text)
    if m:
        unit = m.group("unit").strip()
        return m.group("name").strip(), unit or None
    return text, None


def is_property_header(names: list[str]) -> bool:
    """A table is ours if one column has a unit or is a formula or structure-path column."""
    for raw in names:
        name, unit = split_header(raw)
        if unit is not None or _key(name) in FORMULA_COLUMNS or _key(name) in PATH_COLUMNS:
            return True
    return False


def parse_formula(text: str) -> dict[str, float]:
    """Element counts of a formula like 'Al2O3', 'Ca(OH)2' or 'NaCl'; ValueError if not one."""
    text = text.strip()
    if not text or not re.fullmatch(r"[A-Za-z0-9.()\[\]]+", text):
        raise ValueError(f"{text!r} is not a chemical formula")
    counts: dict[str, float] = {}
    stack: list[dict[str, float]] = [counts]
    pos = 0
    while pos < len(text):
        ch = text[pos]
        if ch in "([":
            stack.append({})
            pos += 1
        elif ch in ")]":
            if len(stack) == 1:
                raise ValueError(f"{text!r}: unbalanced parenthesis")
            group = stack.pop()
            m = re.match(r"\d*\.?\d*", text[pos + 1 :])
            mult = float(m.group()) if m and m.group() not in ("", ".") else 1.0
            for el, n in group.items():
                stack[-1][el] = stack[-1].get(el, 0.0) + n * mult
            pos += 1 + (len(m.group()) if m else 0)
        else:
            m = _ELEMENT.match(text, pos)
            if not m or m.group(1) not in chemical_symbols[1:]:
                raise ValueError(f"{text!r}: unknown element at position {pos}")
            n = float(m.group(2)) if m.group(2) not in ("", ".") else 1.0
            stack[-1][m.group(1)] = stack[-1].get(m.group(1), 0.0) + n
            pos = m.end()
    if len(stack) != 1:
        raise ValueError(f"{text!r}: unbalanced parenthesis")
    if not counts or any(v <= 0 for v in counts.values()):
        raise ValueError(f"{text!r} is not a chemical formula")
    return counts


def resolve_inside(root: Path, relative: str) -> Path:
    """``root/relative``, refusing absolute paths and paths (or symlinks) leading out of root."""
    text = relative.strip()
    if not text:
        raise ValueError("empty structure path")
    if PurePosixPath(text).is_absolute() or PureWindowsPath(text).is_absolute() or ":" in text:
        raise ValueError(f"structure path {text!r} must be relative to the upload")
    if ".." in PurePosixPath(text.replace("\\", "/")).parts:
        raise ValueError(f"structure path {text!r} must not contain '..'")
    base = root.resolve()
    target = (base / text).resolve()
    if not target.is_relative_to(base):
        raise ValueError(f"structure path {text!r} leads outside the upload (symlink)")
    if not target.is_file():
        raise ValueError(f"structure file {text!r} not found in the upload")
    return target


@dataclass
class _Column:
    """One table column and what it means to us."""

    header: str
    name: str
    unit: str | None
    role: str  # a property field, 'extra', 'formula', 'path' or 'gap_type'
    values: list[Any]
    si_unit: str | None = None


def _classify(header: str, values: list[Any], is_numeric: bool, path: Path) -> _Column:
    name, unit = split_header(header)
    key = _key(name)
    prop = _ALIAS.get(key)
    if prop and is_numeric:
        unit_in = unit or DEFAULT_UNITS.get(prop, "eV")
        try:
            factor = convert(1.0, unit_in, _TARGET[prop])
        except UnitError as err:
            raise ReaderError(f"{path.name}: column {header.strip()!r}: {err}") from err
        scaled = (np.asarray(values, dtype=float) * factor).tolist()
        return _Column(header, name, unit_in, prop, scaled, _TARGET[prop])
    if key in GAP_TYPE_COLUMNS:
        return _Column(header, name, None, "gap_type", values)
    if key in FORMULA_COLUMNS and not is_numeric:
        return _Column(header, name, None, "formula", values)
    if key in PATH_COLUMNS and not is_numeric:
        return _Column(header, name, None, "path", values)
    if unit is not None and is_numeric:
        try:
            si = _si_unit(unit)
            factor = convert(1.0, unit, "dimensionless" if si == "1" else si)
        except UnitError as err:
            raise ReaderError(f"{path.name}: column {header.strip()!r}: {err}") from err
        scaled = (np.asarray(values, dtype=float) * factor).tolist()
        return _Column(header, name, unit, "extra", scaled, si)
    return _Column(header, name, unit, "extra", values, None)


def _si_unit(unit: str) -> str:
    """SI unit of ``unit``; '1' for every dimensionless one (counts, charges, percent)."""
    si = si_unit_of(unit)
    try:
        dimensionless = get_ureg().Quantity(1.0, unit).dimensionless
    except Exception as err:  # si_unit_of has parsed it already; belt and braces
        raise UnitError(f"cannot read unit {unit!r}: {err}") from err
    return "1" if dimensionless else si


def _header_names(line: str) -> tuple[list[str], str]:
    """Column names of a CSV/TSV header line and its delimiter (tab if more tabs than commas).

    The csv module honours quotes, as pyarrow and pandas write them: ``"band_gap (eV)",...``.
    """
    delimiter = "\t" if line.count("\t") > line.count(",") else ","
    return next(csv.reader([line], delimiter=delimiter), []), delimiter


def _read_table(path: Path) -> pa.Table:
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PAR1":
        return pq.read_table(path)
    with open(path, "rb") as fh:
        first = fh.readline().decode("utf-8-sig", errors="replace")
    names, delimiter = _header_names(first.rstrip("\r\n"))
    # Our own header split: pyarrow would keep '# ' and stray spaces in the names.
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(
            skip_rows=1, column_names=[f"c{i}" for i in range(len(names))]
        ),
        parse_options=pacsv.ParseOptions(delimiter=delimiter),
        convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
    ).rename_columns(names)


def _numeric(col: pa.ChunkedArray) -> bool:
    t = col.type
    return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)


def _value(v: Any) -> Any:
    """A cell as a JSON scalar: NaN becomes None, dates and other objects become text."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is None or isinstance(v, bool | int | float | str):
        return v
    return str(v)


class PropertyTableReader:
    """CSV and Parquet property tables; see docs/readers.md for the header conventions."""

    name: ClassVar[str] = "table"
    version: ClassVar[str] = "1.0.0"
    priority: ClassVar[int] = 5

    def matches(self, path: str, head: bytes) -> bool:
        """CSV/TSV whose header row follows our conventions; Parquet likewise (schema footer)."""
        low = path.lower()
        if head.startswith(b"PAR1"):
            # Parquet keeps its schema in the footer, out of ``head``'s reach. Look at it when
            # ``path`` can be opened as given; otherwise claim the file, and ``parse`` yields
            # nothing for a Parquet file that is not a property table (e.g. an event list).
            try:
                return is_property_header(pq.read_schema(path).names)
            except Exception:
                return low.endswith(".parquet")
        if not low.endswith((".csv", ".tsv")) or b"\0" in head:
            return False
        first = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace").rstrip("\r")
        if b"\n" not in head and len(head) >= HEAD_BYTES:
            return False  # header longer than what we may look at
        return is_property_header(_header_names(first)[0])

    def parse(self, path: Path, root: Path, symprec: float) -> Iterator[Parsed]:
        """One ``Parsed`` per row, ``child_key`` the 0-based row number."""
        path = Path(path)
        try:
            table = _read_table(path)
        except (OSError, pa.ArrowException, UnicodeError, ValueError) as err:
            raise ReaderError(f"{path.name}: cannot read table: {err}") from err
        headers = table.column_names
        if not is_property_header(headers):
            return  # not a property table (only reachable for Parquet): raw data, no entry
        seen = set()
        for h in headers:
            name = split_header(h)[0]
            if name in seen:
                raise ReaderError(f"{path.name}: duplicate column {name!r}")
            seen.add(name)
        columns = [
            _classify(h, table.column(i).to_pylist(), _numeric(table.column(i)), path)
            for i, h in enumerate(headers)
        ]
        for row in range(table.num_rows):
            key = str(row)
            try:
                yield self._row(columns, row, Path(root), symprec, key)
            except (ValueError, ReaderError) as err:
                yield Parsed(key, error=f"{path.name} row {row}: {err}")
            except Exception as err:  # one bad row must not lose the others
                yield Parsed(key, error=f"{path.name} row {row}: {type(err).__name__}: {err}")

    @staticmethod
    def _row(columns: list[_Column], row: int, root: Path, symprec: float, key: str) -> Parsed:
        props = Properties()
        material: Material | None = None
        related: list[str] = []
        gap_type = None
        for col in columns:
            value = _value(col.values[row])
            if col.role == "gap_type":
                gap_type = value if isinstance(value, str) else None
            elif col.role == "formula":
                if value is not None and material is None:
                    try:
                        material = normalize.composition_material(parse_formula(str(value)))
                    except ValueError:
                        props.extra[col.name] = ScalarQuantity(value=value)
            elif col.role == "path":
                if value is not None:
                    target = resolve_inside(root, str(value))
                    atoms = read_atoms(target)[-1]
                    material = normalize.material(atoms, symprec)
                    related.append(target.relative_to(root.resolve()).as_posix())
            elif col.role == "extra":
                props.extra[col.name] = ScalarQuantity(
                    value=value, unit=col.si_unit, source_unit=col.unit
                )
            elif value is not None:
                if col.role == "band_gap":
                    props.band_gap = BandGap(value=value)
                else:
                    setattr(props, col.role, float(value))
        if props.band_gap is not None and gap_type:
            kind = gap_type.strip().lower()
            props.band_gap.type = kind if kind in ("direct", "indirect") else "unknown"
        return Parsed(
            key,
            results=Results(material=material, properties=props),
            related_files=related,
        )
