"""A fast path for extended XYZ frames, with ASE's reader as the reference and the fallback.

``ase.io.extxyz`` parses the comment line character by character and every atom line into a
Python tuple: about 1 ms for a 60-atom frame, more than spglib takes on it. Here the comment
line goes through one regular expression (values are converted by the same rules as ASE's
``key_val_str_to_dict``, and repeated values are converted once per file), and the atom block
of a frame is split once and converted column by column with numpy. Anything unusual (escapes,
brackets, JSON values, logical columns, constraints, ``VEC`` cell lines, a parse error) goes to
ASE itself for that frame, so results match ``ase.io.read`` exactly; ``tests/io/test_extxyz.py``
compares both on our extxyz files.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from ase import Atoms
from ase.data import atomic_numbers
from ase.io import read as ase_read
from ase.io.extxyz import parse_properties, set_calc_and_arrays

#: ``key=value``, ``key="quoted value"`` or a bare ``key`` (ASE reads it as ``key=T``).
_PAIR = re.compile(r'\s*([^\s="\'{}\[\]\\]+)(?:=(?:"([^"\\]*)"|([^\s="\'{}\[\]\\]+)))?(?=\s|$)')
_TOKENS = re.compile(r"[^\s,]+")
_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_BOOLS = {
    "T": True,
    "F": False,
    "true": True,
    "false": False,
    "True": True,
    "False": False,
    "TRUE": True,
    "FALSE": False,
}
_MATRIX_KEYS = {"Lattice", "virial", "stress"}  # 9 numbers, Fortran order, as in ASE
_DEFAULT_PROPERTIES = "species:S:1:pos:R:3"


class _Unusual(Exception):
    """This frame needs ASE's full reader."""


@dataclass(frozen=True)
class FrameIndex:
    """Where a frame starts and ends (byte offsets) and how many atoms it has."""

    offset: int
    end: int
    natoms: int


def index_frames(path: Path) -> list[FrameIndex] | None:
    """The frames of an extxyz file, scanned as ASE scans them; None if ASE must read it all.

    Raises ``ValueError`` for a frame header that is not an atom count, as ASE does before it
    yields any frame. Files with ``VEC`` cell lines return None.
    """
    frames = []
    with open(path, "rb") as fh:
        offset = 0
        while True:
            line = fh.readline()
            if not line.strip():
                break
            try:
                natoms = int(line)
            except ValueError as err:
                raise ValueError(f"expected an extxyz atom count, got {line[:80]!r}") from err
            fh.readline()
            for _ in range(natoms):
                fh.readline()
            end = fh.tell()
            frames.append(FrameIndex(offset, end, natoms))
            offset = end
            peek = fh.readline()
            if peek.lstrip().startswith(b"VEC"):
                return None
            fh.seek(offset)
    return frames


class FrameParser:
    """Turns the text of one extxyz frame into an ``Atoms``; caches per-file conversions."""

    def __init__(self) -> None:
        self._values: dict[tuple[str, str], Any] = {}
        self._columns: dict[str, tuple] = {}
        self._numbers: dict[str, int] = {}

    def __call__(self, lines: list[str], natoms: int) -> Atoms:
        """``lines``: the comment line and the atom lines of one frame (no atom-count line)."""
        try:
            return self._fast(lines, natoms)
        except _Unusual:
            text = f"{natoms}\n" + "".join(lines)
            return ase_read(io.StringIO(text), index=0, format="extxyz")

    # -- comment line -----------------------------------------------------------------------

    def _info(self, line: str) -> dict[str, Any]:
        line = line.strip()
        info: dict[str, Any] = {}
        end = 0
        for m in _PAIR.finditer(line):
            if m.start() != end:
                raise _Unusual
            end = m.end()
            key, quoted, bare = m.groups()
            raw = quoted if quoted is not None else bare if bare is not None else "T"
            info[key] = self._value(key, raw)
        if end != len(line):
            raise _Unusual
        return info

    def _value(self, key: str, raw: str) -> Any:
        cached = self._values.get((key, raw))
        if cached is None:
            cached = self._convert(key, raw)
            if len(self._values) < 4096:
                self._values[key, raw] = cached
        if isinstance(cached, np.ndarray) and cached.ndim:
            return cached.copy()
        return list(cached) if isinstance(cached, list) else cached

    @staticmethod
    def _convert(key: str, raw: str) -> Any:
        """ASE's conversion rules: int, else float (arrays of them), else bool(s), else str."""
        if key.lower() == "uid":
            return raw
        tokens = _TOKENS.findall(raw)
        if not tokens:
            raise _Unusual
        value: Any = raw
        if all(_FLOAT.fullmatch(t) and not _INT.fullmatch(t) for t in tokens):
            # Not ints, surely floats: skip the int attempt that would fail.
            arr = np.array(tokens, dtype=float)
            value = arr[0] if len(arr) == 1 else arr
            dtypes: tuple = ()
        else:
            dtypes = (int, float)
        for dtype in dtypes:
            try:
                arr = np.array(tokens, dtype=dtype)
            except (ValueError, OverflowError):
                continue
            value = arr[0] if len(arr) == 1 else arr
            break
        if key in _MATRIX_KEYS:
            if not isinstance(value, np.ndarray) or value.shape != (9,):
                raise _Unusual
            return value.reshape((3, 3), order="F")
        if isinstance(value, str):
            if all(t in _BOOLS for t in tokens):
                bools = [_BOOLS[t] for t in tokens]
                return bools[0] if len(bools) == 1 else bools
            if value.startswith("_JSON "):
                raise _Unusual
        return value

    # -- atom block ---------------------------------------------------------------------------

    def _number(self, symbol: str) -> int:
        z = self._numbers.get(symbol)
        if z is None:
            z = atomic_numbers.get(symbol.capitalize())
            if z is None:
                raise _Unusual  # ASE words the error
            self._numbers[symbol] = z
        return z

    def _column_spec(self, spec: str) -> tuple:
        cached = self._columns.get(spec)
        if cached is None:
            properties, names, dtype, _ = parse_properties(spec)
            columns = []
            start = 0
            for name in names:
                ase_name, cols = properties[name]
                kind = dtype[name if cols == 1 else name + "0"]
                if kind.kind not in "dfiO" or ase_name == "move_mask":
                    raise _Unusual
                columns.append((ase_name, start, cols, kind))
                start += cols
            cached = self._columns[spec] = (tuple(columns), start)
        return cached

    def _fast(self, lines: list[str], natoms: int) -> Atoms:
        if len(lines) != natoms + 1:
            raise _Unusual
        info = self._info(lines[0]) if lines[0].strip() else {}
        pbc = info.pop("pbc", None)
        if pbc is None and "Lattice" in info:
            pbc = [True, True, True]
        cell = info.pop("Lattice").T if "Lattice" in info else None
        spec = info.pop("Properties", _DEFAULT_PROPERTIES)
        if not isinstance(spec, str):
            raise _Unusual
        columns, width = self._column_spec(spec)
        tokens = " ".join(lines[1:]).split()
        if natoms == 0 or len(tokens) != natoms * width:
            raise _Unusual  # short or long rows: ASE's rules (and errors) apply
        arrays: dict[str, Any] = {}
        for ase_name, start, cols, kind in columns:
            try:
                if kind.kind == "O":
                    if cols != 1:
                        raise _Unusual
                    value = tokens[start::width]
                elif cols == 1:
                    value = np.array(tokens[start::width], dtype=kind)
                else:
                    # Column by column, then transposed: the layout ASE's reader gives.
                    parts = [tokens[start + c :: width] for c in range(cols)]
                    value = np.array(parts, dtype=kind).T
            except (ValueError, OverflowError) as err:
                raise _Unusual from err
            arrays[ase_name] = value
        numbers = arrays.pop("numbers", None)
        symbols = arrays.pop("symbols", None)
        if numbers is None and symbols is not None:
            try:
                numbers = list(map(self._numbers.__getitem__, symbols))
            except KeyError:
                numbers = [self._number(s) for s in symbols]
        elif symbols is not None:
            raise _Unusual
        atoms = Atoms(
            numbers=numbers,
            positions=arrays.pop("positions", None),
            charges=arrays.pop("initial_charges", None),
            cell=cell,
            pbc=pbc,
            info=info,
        )
        set_calc_and_arrays(atoms, arrays)
        return atoms


def iter_frames(
    path: Path, frames: list[FrameIndex], start: int = 0, stop: int | None = None
) -> Iterator[Atoms]:
    """The frames ``start:stop`` of an indexed extxyz file, read with one ``FrameParser``."""
    parse = FrameParser()
    with open(path, "rb") as fh:
        for frame in frames[start:stop]:
            fh.seek(frame.offset)
            lines = fh.read(frame.end - frame.offset).decode("utf-8").splitlines(keepends=True)
            yield parse(lines[1:], frame.natoms)
