"""Range files (.rrng, .rng, .env, Matlab .fig.txt): read, normalise, label ions, write .rrng.

A range is an m/q window [lo, hi) carrying an ion: a composition {element or user name: count}.
Real files are messy (duplicated and overlapping ranges, comma decimals, every line keyed
``Range1``, custom names, missing markers), so the parsers warn (``RangeFileWarning``) and go on
wherever the intent is clear, and raise ``RangeFileError`` (file and line) only for text that
cannot be a range file. No format stores the charge state: ``infer_charges`` works it out from
natural isotope masses.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numba
import numpy as np

__all__ = [
    "RangeFileError",
    "RangeFileWarning",
    "RangeTable",
    "infer_charge",
    "label_ions",
    "read_ranges",
    "write_rrng",
]


class RangeFileWarning(UserWarning):
    """A quirk in a range file that was read anyway (the message says what was assumed)."""


class RangeFileError(ValueError):
    """Text that cannot be read as a range file; the message names the file and line."""

    def __init__(self, path: object, line: int, message: str) -> None:
        self.path = str(path)
        self.line = int(line)
        super().__init__(f"{self.path}: line {self.line}: {message}")


def _warn(path: object, line: int | None, message: str) -> None:
    where = f"{path}: line {line}: " if line else f"{path}: "
    warnings.warn(where + message, RangeFileWarning, stacklevel=3)


@functools.cache
def _elements() -> dict[str, object]:
    import periodictable

    return {el.symbol: el for el in periodictable.elements if el.number > 0}


def is_element(symbol: str) -> bool:
    return symbol in _elements()


_FORMULA = re.compile(r"([A-Z][a-z]?)(\d*)")


def parse_formula(text: str) -> dict[str, int] | None:
    """``"Cr2O"`` -> {"Cr": 2, "O": 1}; None unless the text is a formula of real elements."""
    if not text or not re.fullmatch(r"(?:[A-Z][a-z]?\d*)+", text):
        return None
    out: dict[str, int] = {}
    for sym, count in _FORMULA.findall(text):
        if not is_element(sym):
            return None
        out[sym] = out.get(sym, 0) + (int(count) if count else 1)
    return out if all(v > 0 for v in out.values()) else None


def formula(composition: Mapping[str, int], sort: bool = False) -> str:
    """{"Cr": 2, "O": 1} -> "Cr2O" (file order, or alphabetical with ``sort``)."""
    keys = sorted(composition) if sort else list(composition)
    return "".join(k + (str(composition[k]) if composition[k] != 1 else "") for k in keys)


@dataclass(eq=False)
class RangeTable:
    """Ranges as parallel arrays, so any number of them (no 255 limit) costs nothing.

    ``lo``/``hi`` (Da, float64) bound the half-open window [lo, hi); ``composition[i]`` maps
    element symbols (or user labels) to counts; ``charge`` is 0 where unknown; ``volume`` is the
    file's atomic volume (nm^3 for RRNG, as written for the others; NaN if absent); ``color`` is
    "RRGGBB" or "". ``overlaps`` lists (i, j) pairs of overlapping ranges: in an overlap the
    range listed first wins.
    """

    lo: np.ndarray
    hi: np.ndarray
    composition: list[dict[str, int]]
    name: list[str] = field(default_factory=list)
    charge: np.ndarray | None = None
    volume: np.ndarray | None = None
    color: list[str] = field(default_factory=list)
    source: str = ""
    metadata: dict = field(default_factory=dict)
    overlaps: list[tuple[int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lo = np.asarray(self.lo, dtype=np.float64).reshape(-1)
        self.hi = np.asarray(self.hi, dtype=np.float64).reshape(-1)
        n = len(self.lo)
        if len(self.hi) != n or len(self.composition) != n:
            raise ValueError(
                f"RangeTable: lo ({n}), hi ({len(self.hi)}) and composition "
                f"({len(self.composition)}) must have the same length"
            )
        self.composition = [dict(c) for c in self.composition]
        if not self.name:
            self.name = [formula(c) for c in self.composition]
        self.name = [
            str(s) if s else formula(c)
            for s, c in zip(self.name, self.composition, strict=True)
        ]
        self.charge = (
            np.zeros(n, np.int8) if self.charge is None else np.asarray(self.charge, np.int8)
        )
        self.volume = (
            np.full(n, np.nan) if self.volume is None else np.asarray(self.volume, np.float64)
        )
        if not self.color:
            self.color = [""] * n
        for label, arr in (("name", self.name), ("charge", self.charge),
                           ("volume", self.volume), ("color", self.color)):  # fmt: skip
            if len(arr) != n:
                raise ValueError(f"RangeTable: {label} has {len(arr)} entries, expected {n}")

    def __len__(self) -> int:
        return len(self.lo)

    def __repr__(self) -> str:
        return f"RangeTable({len(self)} ranges, ions={self.ions}, source={self.source!r})"

    @property
    def ions(self) -> list[str]:
        """Distinct ion names in order of first appearance."""
        return list(dict.fromkeys(self.name))

    @property
    def ion_index(self) -> np.ndarray:
        """For each range, the index of its ion in ``ions``."""
        lookup = {n: i for i, n in enumerate(self.ions)}
        return np.array([lookup[n] for n in self.name], dtype=np.int32)

    @property
    def formula(self) -> list[str]:
        """Canonical (alphabetical) formula of each range's ion; the name for user labels."""
        pairs = zip(self.composition, self.name, strict=True)
        return [formula(c, sort=True) if c else n for c, n in pairs]

    @property
    def is_user(self) -> np.ndarray:
        """True where the ion is a user label (Noise, "52pt5", "A") rather than real elements."""
        return np.array([not c or not all(is_element(k) for k in c) for c in self.composition])

    @property
    def elements(self) -> list[str]:
        """Real elements named anywhere in the table, in order of first appearance."""
        return list(dict.fromkeys(k for c in self.composition for k in c if is_element(k)))

    def subset(self, keep: Sequence[int] | np.ndarray) -> RangeTable:
        keep = np.asarray(keep, dtype=np.int64)
        return RangeTable(
            self.lo[keep], self.hi[keep], [self.composition[i] for i in keep],
            [self.name[i] for i in keep], self.charge[keep], self.volume[keep],
            [self.color[i] for i in keep], self.source, dict(self.metadata),
        )  # fmt: skip

    def find_overlaps(self) -> list[tuple[int, int]]:
        order = np.argsort(self.lo, kind="stable")
        pairs = []
        for a, i in enumerate(order):
            for j in order[a + 1 :]:
                if self.lo[j] >= self.hi[i]:
                    break
                pairs.append((int(min(i, j)), int(max(i, j))))
        return sorted(pairs)

    def normalise(self, warn: bool = True) -> RangeTable:
        """Swap reversed bounds, drop empty and duplicate ranges, flag overlaps (with warnings)."""
        lo, hi = self.lo.copy(), self.hi.copy()
        bad = lo > hi
        if bad.any() and warn:
            _warn(self.source, None, f"{bad.sum()} range(s) with min > max; bounds swapped")
        lo[bad], hi[bad] = self.hi[bad], self.lo[bad]
        keep, seen = [], set()
        empty = dup = 0
        for i in range(len(self)):
            if not lo[i] < hi[i]:
                empty += 1
                continue
            key = (lo[i], hi[i], self.name[i], tuple(sorted(self.composition[i].items())))
            if key in seen:
                dup += 1
                continue
            seen.add(key)
            keep.append(i)
        if warn and empty:
            _warn(self.source, None, f"{empty} empty range(s) (min == max) dropped")
        if warn and dup:
            _warn(self.source, None, f"{dup} duplicate range(s) dropped, {len(keep)} kept")
        if warn and (lo < 0).any():
            _warn(self.source, None, "negative m/q bounds kept as given")
        table = RangeTable(
            lo[keep], hi[keep], [self.composition[i] for i in keep],
            [self.name[i] for i in keep], self.charge[keep], self.volume[keep],
            [self.color[i] for i in keep], self.source, dict(self.metadata),
        )  # fmt: skip
        table.overlaps = table.find_overlaps()
        if warn and table.overlaps:
            show = ", ".join(
                f"{table.name[i]} [{table.lo[i]:g}, {table.hi[i]:g}) / "
                f"{table.name[j]} [{table.lo[j]:g}, {table.hi[j]:g})"
                for i, j in table.overlaps[:3]
            )
            more = f" and {len(table.overlaps) - 3} more" if len(table.overlaps) > 3 else ""
            _warn(
                self.source, None,
                f"{len(table.overlaps)} overlapping range pair(s): {show}{more}; "
                "ions in an overlap go to the range listed first",
            )  # fmt: skip
        return table

    def infer_charges(self, max_charge: int = 7, overwrite: bool = False) -> RangeTable:
        """Fill ``charge`` from isotope masses where it is unknown (in place; returns self)."""
        conf = np.zeros(len(self))
        for i in range(len(self)):
            if self.charge[i] and not overwrite:
                conf[i] = 1.0
                continue
            z, p = infer_charge(self.lo[i], self.hi[i], self.composition[i], max_charge)
            self.charge[i], conf[i] = z, p
        self.metadata["charge_confidence"] = conf
        return self

    def label(self, mq: np.ndarray, by: str = "range") -> np.ndarray:
        return label_ions(mq, self, by=by)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(
            {
                "ion": self.name,
                "formula": self.formula,
                "charge": self.charge,
                "lo": self.lo,
                "hi": self.hi,
                "volume": self.volume,
                "color": self.color,
            }
        )


# --------------------------------------------------------------------------- charge states


@functools.cache
def _isotopes(symbol: str) -> tuple[tuple[float, float], ...]:
    el = _elements()[symbol]
    out = tuple(
        (float(el[a].mass), float(el[a].abundance) / 100.0)
        for a in el.isotopes
        if el[a].abundance and el[a].abundance > 0
    )
    if not out:  # no stable isotope (Tc, Pm, actinides...): use the standard atomic mass
        out = ((float(el.mass), 1.0),)
    return out


@functools.cache
def _pattern(composition: tuple[tuple[str, int], ...]) -> tuple[np.ndarray, np.ndarray]:
    """Isotopologue masses and probabilities of a (molecular) ion, merged on a 1 mDa grid."""
    masses, probs = np.zeros(1), np.ones(1)
    for sym, count in composition:
        iso = np.array(_isotopes(sym))
        for _ in range(count):
            m = (masses[:, None] + iso[None, :, 0]).ravel()
            p = (probs[:, None] * iso[None, :, 1]).ravel()
            key = np.round(m * 1000).astype(np.int64)
            uniq, inv = np.unique(key, return_inverse=True)
            probs = np.bincount(inv, weights=p)
            masses = np.bincount(inv, weights=m * p) / np.maximum(probs, 1e-300)
            keep = probs > 1e-9
            masses, probs = masses[keep], probs[keep]
    return masses, probs


def infer_charge(
    lo: float, hi: float, composition: Mapping[str, int], max_charge: int = 7
) -> tuple[int, float]:
    """The charge state z whose isotopologues m/z fall most in [lo, hi], and its share.

    Returns (0, 0.0) for user labels, empty compositions, ions of more than 32 atoms and
    windows that hold no isotopologue at any z = 1..max_charge. The share is the abundance in
    the window at the chosen z over the sum over all z, so 1.0 means unambiguous.
    """
    if not composition or not all(is_element(k) for k in composition):
        return 0, 0.0
    if sum(composition.values()) > 32 or min(composition.values()) < 1:
        return 0, 0.0
    masses, probs = _pattern(tuple(sorted(composition.items())))
    z = np.arange(1, max_charge + 1)
    mz = masses[None, :] / z[:, None]
    inside = np.where((mz >= lo) & (mz < hi), probs[None, :], 0.0).sum(axis=1)
    if inside.max() <= 0:
        return 0, 0.0
    best = int(np.argmax(inside))
    return int(z[best]), float(inside[best] / inside.sum())


# --------------------------------------------------------------------------- labelling


def _ceil32(x: np.ndarray) -> np.ndarray:
    """Smallest float32 >= x, so ``mq32 >= ceil32(b)`` equals ``mq32 >= b`` exactly."""
    f = x.astype(np.float32)
    low = f.astype(np.float64) < x
    f[low] = np.nextafter(f[low], np.float32(np.inf))
    return f


@numba.njit(parallel=True, cache=True)
def _label_kernel(mq, b, owner, direct, lut, m0, inv, out):  # pragma: no cover - compiled
    nb = b.size
    nl = lut.size
    for i in numba.prange(mq.size):
        x = mq[i]
        if not (x >= b[0] and x < b[nb - 1]):  # also NaN
            out[i] = -1
            continue
        k = 0
        if inv > 0:
            k = int((np.float64(x) - m0) * inv)
        if k >= nl or k < 0:
            k = nl - 1 if k >= nl else 0
        v = direct[k]
        if v != -2:  # no boundary near this bucket: one lookup
            out[i] = v
            continue
        s = lut[k]
        while s + 1 < nb and b[s + 1] <= x:
            s += 1
        out[i] = owner[s]


def _segments(ranges: RangeTable, dtype) -> tuple[np.ndarray, np.ndarray]:
    if dtype == np.float32:
        lo, hi = _ceil32(ranges.lo), _ceil32(ranges.hi)
    else:
        lo, hi = ranges.lo.astype(dtype), ranges.hi.astype(dtype)
    b = np.unique(np.concatenate([lo, hi]))
    owner = np.full(len(b), -1, dtype=np.int32)
    for i in range(len(ranges) - 1, -1, -1):  # paint in reverse: the first listed wins
        s0, s1 = np.searchsorted(b, lo[i]), np.searchsorted(b, hi[i])
        owner[s0:s1] = i
    return b, owner


def _buckets(b: np.ndarray, owner: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """A fine grid over the boundaries: the label of each bucket that holds no boundary (with a
    margin far above rounding error), -2 where the kernel must search from ``lut``."""
    m0, span = float(b[0]), float(b[-1]) - float(b[0])
    nl = int(min(max(64 * len(b), 1 << 16), 1 << 20))
    if not (np.isfinite(span) and span > 0):
        return np.full(nl, -2, np.int32), np.zeros(nl, np.int64), m0, 0.0
    inv = nl / span
    starts = m0 + np.arange(nl) / inv
    width = 1.0 / inv
    lut = np.maximum(np.searchsorted(b, starts, side="right") - 2, 0).astype(np.int64)
    s_lo = np.searchsorted(b, starts - 1e-3 * width, side="right") - 1
    s_hi = np.searchsorted(b, starts + 1.001 * width, side="right") - 1
    clean = (s_lo == s_hi) & (s_lo >= 0)
    direct = np.where(clean, owner[np.clip(s_lo, 0, len(owner) - 1)], -2).astype(np.int32)
    return direct, lut, m0, inv


def label_ions(
    mq: np.ndarray, ranges: RangeTable, by: str = "range", out: np.ndarray | None = None
) -> np.ndarray:
    """For each ion the index of its range (``by="range"``) or ion (``by="ion"``); -1 if unranged.

    Windows are half-open [lo, hi) and compared in the dtype of ``mq`` (float32 bounds are
    rounded up, so the test is exact); where ranges overlap the one listed first wins. A numba
    kernel with a bucket table over the boundaries labels 10^8 ions without a float64 copy.
    """
    if by not in ("range", "ion"):
        raise ValueError(f"by must be 'range' or 'ion', got {by!r}")
    mq = np.asarray(mq)
    if mq.dtype not in (np.float32, np.float64):
        mq = mq.astype(np.float32)
    flat = mq.reshape(-1)
    if out is None:
        out = np.empty(flat.shape, dtype=np.int32)
    if len(ranges) == 0 or flat.size == 0:
        out[:] = -1
        return out.reshape(mq.shape)
    b, owner = _segments(ranges, mq.dtype.type)
    if by == "ion":
        ion_of = ranges.ion_index
        owner = np.where(owner >= 0, ion_of[np.maximum(owner, 0)], -1).astype(np.int32)
    direct, lut, m0, inv = _buckets(b, owner)
    _label_kernel(flat, b, owner, direct, lut, m0, inv, out)
    return out.reshape(mq.shape)


# --------------------------------------------------------------------------- parsers


def _lines(path: str | os.PathLike) -> list[str]:
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise RangeFileError(path, 0, f"cannot read file: {err.strerror}") from None
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16", errors="replace")
    else:
        if b"\x00" in data:
            line = data[: data.index(b"\x00")].count(b"\n") + 1
            raise RangeFileError(path, line, "binary data (NUL byte) in a text range file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
    return text.splitlines()


class _Num:
    """Number parsing that accepts comma decimals once per file, with a warning."""

    def __init__(self, path: object) -> None:
        self.path = path
        self.comma_warned = False

    def __call__(self, tok: str, line: int, what: str) -> float:
        try:
            return float(tok)
        except ValueError:
            pass
        if "," in tok and "." not in tok:
            try:
                value = float(tok.replace(",", "."))
            except ValueError:
                pass
            else:
                if not self.comma_warned:
                    _warn(self.path, line, "comma decimal separator read as '.'")
                    self.comma_warned = True
                return value
        raise RangeFileError(self.path, line, f"{what}: {tok!r} is not a number")

    def count(self, tok: str, line: int, what: str) -> int:
        v = self(tok, line, what)
        if not np.isfinite(v) or v != int(v) or v < 0 or v > 2**31:
            raise RangeFileError(self.path, line, f"{what}: {tok!r} is not a whole count")
        return int(v)


def _hex(r: float, g: float, b: float) -> str:
    vals = [min(max(c, 0.0), 1.0) if np.isfinite(c) else 0.0 for c in (r, g, b)]
    return "".join(f"{int(round(c * 255)):02X}" for c in vals)


def read_rrng(path: str | os.PathLike) -> RangeTable:
    """IVAS/AP Suite RRNG: INI-like [Ions] and [Ranges] sections."""
    num = _Num(path)
    section = None
    declared_ions: list[str] = []
    n_decl = None
    lo, hi, comp, names, vols, cols = [], [], [], [], [], []
    keys_seen: set[str] = set()
    dup_key_line = None
    saw_ranges = False
    for ln, raw in enumerate(_lines(path), 1):
        s = raw.strip()
        if not s or s.startswith("#") or s.startswith(";"):
            continue
        if s.startswith("[") and s.endswith("]"):
            section = s[1:-1].strip().lower()
            if section == "ranges":
                saw_ranges = True
            elif section != "ions":
                _warn(path, ln, f"unknown section [{s[1:-1]}] ignored")
            continue
        if "=" not in s:
            raise RangeFileError(path, ln, f"expected 'key=value', got {s[:40]!r}")
        key, val = (t.strip() for t in s.split("=", 1))
        key_l = key.lower()
        if section == "ions":
            if key_l == "number":
                num.count(val, ln, "[Ions] Number")
            elif key_l.startswith("ion"):
                declared_ions.append(val)
            else:
                _warn(path, ln, f"unknown key {key!r} in [Ions] ignored")
        elif section == "ranges":
            if key_l == "number":
                n_decl = num.count(val, ln, "[Ranges] Number")
                continue
            if not key_l.startswith("range"):
                _warn(path, ln, f"unknown key {key!r} in [Ranges] ignored")
                continue
            if key_l in keys_seen and dup_key_line is None:
                dup_key_line = ln
            keys_seen.add(key_l)
            toks = val.split()
            if len(toks) < 2:
                raise RangeFileError(path, ln, f"{key}: expected 'min max ...', got {val!r}")
            lo.append(num(toks[0], ln, f"{key} min"))
            hi.append(num(toks[1], ln, f"{key} max"))
            c: dict[str, int] = {}
            name, vol, col = "", np.nan, ""
            for tok in toks[2:]:
                if ":" not in tok:
                    raise RangeFileError(path, ln, f"{key}: expected 'key:value', got {tok!r}")
                k, v = tok.split(":", 1)
                kl = k.lower()
                if kl == "vol":
                    vol = num(v, ln, f"{key} Vol")
                elif kl == "name":
                    name = v
                elif kl in ("color", "colour"):
                    col = v.upper()
                elif not k:
                    raise RangeFileError(path, ln, f"{key}: empty ion name in {tok!r}")
                else:
                    c[k] = c.get(k, 0) + num.count(v, ln, f"{key} count of {k}")
            comp.append(c)
            names.append(name)
            vols.append(vol)
            cols.append(col)
        else:
            raise RangeFileError(path, ln, "'key=value' line before any [Ions] or [Ranges]")
    if not saw_ranges:
        raise RangeFileError(path, 1, "no [Ranges] section: not an RRNG file")
    if dup_key_line:
        _warn(path, dup_key_line, "range keys repeat (e.g. every line 'Range1='); all kept")
    if n_decl is not None and n_decl != len(lo):
        _warn(path, None, f"[Ranges] Number={n_decl} but {len(lo)} ranges are listed")
    known = set(declared_ions)
    undeclared = sorted({k for c in comp for k in c if k not in known})
    if declared_ions and undeclared:
        _warn(path, None, f"ions used in ranges but not in [Ions]: {undeclared}")
    return RangeTable(lo, hi, comp, names, None, vols, cols, str(path))


def _type_composition(short: str, extra: list[str]) -> dict[str, int]:
    for tok in extra:  # IVAS writes a molecule's formula in brackets: "CrO 1 0 0 (CrO)"
        if tok.startswith("(") and tok.endswith(")"):
            f = parse_formula(tok[1:-1])
            if f:
                return f
    return {short: 1}


def read_rng(path: str | os.PathLike) -> RangeTable:
    """ORNL/Oxford RNG: a types block, a dashed line, then '. min max counts...' rows."""
    num = _Num(path)
    lines = [(i, s.strip()) for i, s in enumerate(_lines(path), 1)]
    lines = [(i, s) for i, s in lines if s and not s.startswith("#")]
    if not lines:
        raise RangeFileError(path, 1, "empty file")
    pos = 0

    def block(pos: int, first: bool):
        ln, s = lines[pos]
        toks = s.split()
        if len(toks) < 2:
            raise RangeFileError(path, ln, f"expected 'nTypes nRanges', got {s[:40]!r}")
        n_types = num.count(toks[0], ln, "number of types")
        n_ranges = num.count(toks[1], ln, "number of ranges")
        if n_types == 0 or n_types > 10000:
            raise RangeFileError(path, ln, f"implausible number of types {n_types}")
        pos += 1
        types = []
        for _ in range(n_types):
            if pos + 1 >= len(lines):
                raise RangeFileError(path, lines[-1][0], "file ends inside the types block")
            (_, long_name), (ln2, colour) = lines[pos], lines[pos + 1]
            ct = colour.split()
            try:
                float(ct[0])
                short, rest = long_name.split()[0], ct
            except ValueError:
                short, rest = ct[0], ct[1:]
            if len(rest) < 3:
                raise RangeFileError(path, ln2, f"expected 'name r g b', got {colour[:40]!r}")
            rgb = [num(t, ln2, "colour") for t in rest[:3]]
            types.append((long_name, short, _hex(*rgb), _type_composition(short, rest[3:])))
            pos += 2
        if pos >= len(lines) or not lines[pos][1].startswith("-"):
            ln3 = lines[pos][0] if pos < len(lines) else lines[-1][0]
            raise RangeFileError(path, ln3, "expected the dashed line after the types")
        labels = lines[pos][1].lstrip("-").split()
        if labels and len(labels) != n_types:
            _warn(path, lines[pos][0], f"{len(labels)} column labels for {n_types} types")
        elif labels:
            pairs = zip(labels, types, strict=True)
            odd = [lab for lab, t in pairs if lab not in (t[0], t[1])]
            if odd:
                _warn(path, lines[pos][0], f"column labels {odd} differ from the type names")
        pos += 1
        rows = []
        marker_warned = False
        while pos < len(lines) and not lines[pos][1].startswith("-"):
            ln4, s = lines[pos]
            toks = s.split()
            if len(toks) == n_types + 3:
                if toks[0] != "." and not marker_warned:
                    _warn(path, ln4, f"range row starts with {toks[0]!r} instead of '.'")
                    marker_warned = True
                toks = toks[1:]
            elif len(toks) == n_types + 2:
                if not marker_warned:
                    _warn(path, ln4, "range rows lack the leading '.'")
                    marker_warned = True
            else:
                raise RangeFileError(
                    path, ln4, f"expected '. min max' and {n_types} counts, got {len(toks)} fields"
                )
            a, b = num(toks[0], ln4, "min"), num(toks[1], ln4, "max")
            counts = [num.count(t, ln4, "count") for t in toks[2:]]
            rows.append((ln4, a, b, counts))
            pos += 1
        if len(rows) != n_ranges:
            _warn(path, ln, f"{n_ranges} ranges declared, {len(rows)} listed")
        return pos, types, rows

    pos, types, rows = block(0, True)
    lo, hi, comp, names, colors = [], [], [], [], []
    for ln, a, b, counts in rows:
        c: dict[str, int] = {}
        used = [t for t, k in zip(types, counts, strict=True) if k]
        for t, k in zip(types, counts, strict=True):
            for sym, m in t[3].items():
                if k:
                    c[sym] = c.get(sym, 0) + k * m
        if not c:
            _warn(path, ln, "range with all counts 0 kept as an unnamed user range")
        lo.append(a)
        hi.append(b)
        comp.append(c)
        names.append(used[0][1] if len(used) == 1 and counts[types.index(used[0])] == 1 else "")
        colors.append(used[0][2] if used else "")
    meta: dict = {"types": [t[0] for t in types]}
    if pos < len(lines) and "polyatomic" in lines[pos][1].lower() and pos + 1 < len(lines):
        try:
            _, ptypes, prow = block(pos + 1, False)
        except RangeFileError as err:
            _warn(path, err.line, f"polyatomic extension ignored: {err}")
        else:
            named = {}
            for _, a, b, counts in prow:
                used = [t for t, k in zip(ptypes, counts, strict=True) if k]
                if len(used) == 1:
                    named[(a, b)] = (used[0][1], used[0][2])
            for i, (a, b) in enumerate(zip(lo, hi, strict=True)):
                if (a, b) in named:
                    names[i], colors[i] = named[(a, b)]
    elif pos < len(lines):
        _warn(path, lines[pos][0], f"trailing text from here on ignored: {lines[pos][1][:40]!r}")
    return RangeTable(lo, hi, comp, names, None, None, colors, str(path), meta)


def read_env(path: str | os.PathLike) -> RangeTable:
    """GPM Rouen ENV: counts, colour lines, range lines, then an instrument block."""
    num = _Num(path)
    lines = [(i, s.strip()) for i, s in enumerate(_lines(path), 1)]
    meta: dict = {}
    body = []
    comment = ""
    for ln, s in lines:
        if not s:
            continue
        if s.startswith("#"):
            comment = s.lstrip("#").strip()
            body.append((ln, None, comment))
            continue
        body.append((ln, s, comment))
    data = [(ln, s, c) for ln, s, c in body if s is not None]
    if data and data[0][1].lower().startswith("rev"):
        meta["version"] = data[0][1]
        data = data[1:]
    if not data:
        raise RangeFileError(path, 1, "no 'nElements nRanges' line: not an ENV file")
    ln, s, _ = data[0]
    toks = s.split()
    if len(toks) < 2:
        raise RangeFileError(path, ln, f"expected 'nElements nRanges', got {s[:40]!r}")
    n_el, n_rng = num.count(toks[0], ln, "number of elements"), num.count(toks[1], ln, "ranges")
    if len(data) < 1 + n_el + n_rng:
        raise RangeFileError(path, data[-1][0], "file ends before all elements and ranges")
    colours = {}
    for ln, s, _ in data[1 : 1 + n_el]:
        t = s.split()
        if len(t) < 4:
            raise RangeFileError(path, ln, f"expected 'name r g b', got {s[:40]!r}")
        colours[t[0]] = _hex(*(num(x, ln, "colour") for x in t[1:4]))
    lo, hi, comp, names, vols, cols = [], [], [], [], [], []
    extra_warned = False
    for ln, s, _ in data[1 + n_el : 1 + n_el + n_rng]:
        t = s.split()
        if len(t) < 3:
            raise RangeFileError(path, ln, f"expected 'name min max [volume]', got {s[:40]!r}")
        if len(t) > 5 and not extra_warned:
            _warn(path, ln, f"{len(t) - 5} extra field(s) on range lines ignored")
            extra_warned = True
        if t[0] not in colours:
            _warn(path, ln, f"range for {t[0]!r}, which is not in the element list")
        lo.append(num(t[1], ln, "min"))
        hi.append(num(t[2], ln, "max"))
        vols.append(num(t[3], ln, "volume") if len(t) > 3 else np.nan)
        comp.append(parse_formula(t[0]) or {t[0]: 1})
        names.append(t[0])
        cols.append(colours.get(t[0], ""))
    instrument = {}
    ignored = []
    for ln, s, c in data[1 + n_el + n_rng :]:
        t = s.split()
        if len(t) == 1:
            try:
                instrument[c or f"line {ln}"] = float(t[0])
                continue
            except ValueError:
                pass
        ignored.append(ln)
    if instrument:
        meta["instrument"] = instrument
    if ignored:
        _warn(path, ignored[0], f"{len(ignored)} trailing line(s) that are not 'value' ignored")
    return RangeTable(lo, hi, comp, names, None, vols, cols, str(path), meta)


_FIG_ATOM = re.compile(r"^(\d*)([A-Z][a-z]?)(\d*)$")


def read_fig_txt(path: str | os.PathLike) -> RangeTable:
    """Felfer's Matlab range export: 'label min max' rows, labels like '16O 1H2+' (with charge)."""
    num = _Num(path)
    lo, hi, comp, names, charges = [], [], [], [], []
    for ln, raw in enumerate(_lines(path), 1):
        s = raw.strip()
        if not s or s.startswith("#"):
            continue
        t = s.split()
        if len(t) < 3:
            raise RangeFileError(path, ln, f"expected 'ion min max', got {s[:40]!r}")
        label = " ".join(t[:-2])
        z = label.count("+")
        c: dict[str, int] = {}
        for part in label.replace("+", " ").replace("-", " ").split():
            m = _FIG_ATOM.match(part)
            if not m or not is_element(m.group(2)):
                raise RangeFileError(path, ln, f"cannot read the ion {label!r}")
            c[m.group(2)] = c.get(m.group(2), 0) + int(m.group(3) or 1)
        lo.append(num(t[-2], ln, "min"))
        hi.append(num(t[-1], ln, "max"))
        comp.append(c)
        names.append(formula(c))
        charges.append(z)
    if not lo:
        raise RangeFileError(path, 1, "no ranges found")
    return RangeTable(lo, hi, comp, names, charges, None, None, str(path))


def _xml(path: object, text: str, what: str):
    import xml.etree.ElementTree as ET

    body = re.sub(r"^\s*<\?xml[^>]*\?>", "", text, count=1)  # the declared encoding often lies
    try:
        return ET.fromstring(body)
    except ET.ParseError as err:
        raise RangeFileError(path, err.position[0], f"{what}: {err}") from None


def read_analysisset(path: str | os.PathLike) -> RangeTable:
    """AP Suite .analysisset: XML whose ROI node holds (escaped) ion types and ranges per ion."""
    root = _xml(path, "\n".join(_lines(path)), "not XML")
    for content in root.iter("Content"):
        if not content.text or "RangesPerIon" not in content.text:
            continue
        inner = _xml(path, content.text, "embedded ROI content is not XML")
        ions = inner.find("Ions")
        per_ion = inner.find("RangesPerIon")
        if ions is None or per_ion is None:
            continue
        records = ions.findall("IonTypeInfoRecord")
        arrays = per_ion.findall("ArrayOfRangeEntry")
        if len(records) != len(arrays):
            _warn(path, None, f"{len(records)} ion types but {len(arrays)} range lists")
        lo, hi, comp, names, vols, cols = [], [], [], [], [], []
        num = _Num(path)
        for rec, arr in zip(records, arrays, strict=False):
            name = (rec.findtext("Name") or "").strip()
            c = {}
            for el in rec.iter("Element"):
                sym = (el.findtext("Name") or "").strip()
                if sym:
                    c[sym] = c.get(sym, 0) + num.count(el.findtext("Count") or "1", 0, "count")
            rgb = rec.find("Color")
            col = ""
            if rgb is not None:
                col = "".join(f"{int(float(rgb.findtext(k) or 0)) & 255:02X}" for k in "RGB")
            vol = float(rec.findtext("Volume") or "nan")
            for entry in arr.findall("RangeEntry"):
                lo.append(num(entry.findtext("Min") or "", 0, f"{name} Min"))
                hi.append(num(entry.findtext("Max") or "", 0, f"{name} Max"))
                comp.append(c)
                names.append(name)
                vols.append(vol)
                cols.append(col)
        return RangeTable(lo, hi, comp, names, None, vols, cols, str(path))
    raise RangeFileError(path, 1, "no ROI node with ion types and ranges in this analysis set")


def read_imago(path: str | os.PathLike) -> RangeTable:
    """IVAS 3 / Imago .analysis (java XMLDecoder): AtomDataRealRange objects hold the ranges."""
    root = _xml(path, "\n".join(_lines(path)), "not XML")
    num = _Num(path)
    lo, hi, comp, names, vols, cols = [], [], [], [], [], []
    for obj in root.iter("object"):
        if not obj.get("class", "").endswith("AtomDataRealRange"):
            continue
        name = (obj.findtext("string") or "").strip()
        col = ""
        for prop in obj.findall("void"):
            if prop.get("property") == "color":
                ints = [int(i.text or 0) for i in prop.iter("int")][:3]
                col = "".join(f"{v & 255:02X}" for v in ints)
        for add in obj.findall("void"):
            if add.get("method") != "addRange":
                continue
            for rr in add.findall("object"):
                d = [num(x.text or "", 0, f"{name} range") for x in rr.findall("double")]
                if len(d) < 2:
                    raise RangeFileError(path, 0, f"range of {name!r} without min and max")
                c = {}
                for el in rr.findall("void"):
                    if el.get("method") == "addElement":
                        sym = (el.findtext("string") or "").strip()
                        k = num(el.findtext("double") or "1", 0, "count")
                        c[sym] = c.get(sym, 0) + int(round(k))
                lo.append(d[0])
                hi.append(d[1])
                vols.append(d[2] if len(d) > 2 else np.nan)
                comp.append(c)
                names.append(name)
                cols.append(col)
    if not lo:
        raise RangeFileError(path, 1, "no AtomDataRealRange objects: no ranges in this file")
    return RangeTable(lo, hi, comp, names, None, vols, cols, str(path))


READERS = {
    "rrng": read_rrng,
    "rng": read_rng,
    "env": read_env,
    "fig.txt": read_fig_txt,
    "analysisset": read_analysisset,
    "analysis": read_imago,
}


def range_format(path: str | os.PathLike) -> str:
    name = Path(path).name.lower()
    if name.endswith(".fig.txt"):
        return "fig.txt"
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix in READERS:
        return suffix
    lines = [s.strip() for s in _lines(path)[:50]]
    if any(s.lower() in ("[ranges]", "[ions]") for s in lines):
        return "rrng"
    raise RangeFileError(path, 1, f"unknown range-file type {suffix!r} ({', '.join(READERS)})")


def read_ranges(
    path: str | os.PathLike,
    format: str | None = None,
    normalise: bool = True,
    infer_charges: bool = True,
) -> RangeTable:
    """Read any range file; by default normalise it and infer the charge states."""
    fmt = format or range_format(path)
    if fmt not in READERS:
        raise ValueError(f"format {fmt!r} is not one of {sorted(READERS)}")
    table = READERS[fmt](path)
    table.metadata["format"] = fmt
    if normalise:
        table = table.normalise()
    if infer_charges:
        table.infer_charges()
        lost = [
            f"{table.name[i]} [{table.lo[i]:g}, {table.hi[i]:g})"
            for i in range(len(table))
            if table.charge[i] == 0 and not table.is_user[i]
        ]
        if lost:
            _warn(path, None, f"no charge state 1-7 puts an isotope inside {', '.join(lost[:3])}"
                  + (f" and {len(lost) - 3} more" if len(lost) > 3 else ""))  # fmt: skip
    return table


def write_rrng(path: str | os.PathLike, table: RangeTable) -> None:
    """Write an RRNG that IVAS, APAV and our reader understand (user names go in ``Name:``)."""
    species = list(
        dict.fromkeys(
            [k for c in table.composition for k in c]
            + [n for c, n in zip(table.composition, table.name, strict=True) if not c]
        )
    )
    out = ["[Ions]", f"Number={len(species)}"]
    out += [f"Ion{i}={s}" for i, s in enumerate(species, 1)]
    out += ["[Ranges]", f"Number={len(table)}"]
    for i in range(len(table)):
        parts = [repr(float(table.lo[i])), repr(float(table.hi[i]))]
        if np.isfinite(table.volume[i]):
            parts.append(f"Vol:{float(table.volume[i])!r}")
        parts += [f"{k}:{v}" for k, v in table.composition[i].items()]
        if table.name[i] != formula(table.composition[i]):
            parts.append(f"Name:{table.name[i]}")
        if table.color[i]:
            parts.append(f"Color:{table.color[i]}")
        out.append(f"Range{i + 1}=" + " ".join(parts))
    Path(path).write_text("\n".join(out) + "\n")
