"""Atomistic files through ASE: extxyz/xyz, CIF, POSCAR, vasprun.xml, OUTCAR, FHI-aims, QE.

Matching looks at the name *and* the first bytes, because names lie: our demo data has
FHI-aims ``geometry.in`` files called ``geometry.xyz``. Reading goes through ``ase.io.iread``
so a multi-frame file is streamed, one child entry per frame.
"""

from __future__ import annotations

import fnmatch
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from ase import Atoms
from ase.io import iread

from bigmax.io import extxyz, normalize
from bigmax.io.base import HEAD_BYTES, Parsed, ReaderError
from bigmax.schema import Method, MethodType, Properties, Results

#: How many leading bytes are scanned for program version, functional and k-mesh.
METHOD_BYTES = 256 * 1024

_VASP_XC = {
    "PE": "PBE",
    "PS": "PBEsol",
    "RP": "RPBE",
    "91": "PW91",
    "CA": "LDA",
    "PZ": "LDA",
    "AM": "AM05",
    "--": None,
}
_QE_XC = {
    "SLA PW PBX PBC": "PBE",
    "SLA PW PBE PBE": "PBE",
    "SLA PW PSX PSC": "PBEsol",
    "SLA PZ NOGX NOGC": "LDA",
    "SLA PW NOGX NOGC": "LDA",
    "SLA PW B88 P86": "BP86",
    "SLA PW GGX GGC": "PW91",
}
_INFO_METHOD_KEYS = ("program_name", "program_version", "xc_functional", "method_type", "basis_set")
_INFO_ENERGY_KEYS = ("energy", "free_energy")
# Info keys ASE itself puts on frames; they are bookkeeping, not properties.
_INFO_SKIP = {"spacegroup", "unit_cell", "occupancy", "comment", "config_type_id"}
_NAME_GLOBS = (
    ("vasprun*.xml", "vasp-xml"),
    ("*outcar*", "vasp-out"),
    ("*poscar*", "vasp"),
    ("*contcar*", "vasp"),
    ("*.vasp", "vasp"),
)


# --------------------------------------------------------------------------------------------
# matching


def _first_data_line(text: str) -> str:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped
    return ""


def _looks_like_aims_geometry(text: str) -> bool:
    return re.search(r"^\s*(lattice_vector|atom|atom_frac)\s+[-+.\d]", text, re.M) is not None


def _looks_like_xyz(text: str) -> bool:
    return _first_data_line(text).isdigit()


def sniff_format(name: str, head: bytes) -> str | None:
    """The ASE format of a file from its name and leading bytes, or None if we do not read it."""
    base = name.rsplit("/", 1)[-1].lower()
    text = head.decode("utf-8", errors="replace")
    if b"\0" in head:
        return None
    if "Invoking FHI-aims" in text or "FHI-aims version" in text:
        return "aims-output"
    if "Program PWSCF" in text:
        return "espresso-out"
    low = text.lower()
    if ("&control" in low or "&system" in low) and (
        "atomic_species" in low or "ibrav" in low or base.endswith((".in", ".pwi"))
    ):
        return "espresso-in"
    for glob, fmt in _NAME_GLOBS:
        if fnmatch.fnmatch(base, glob):
            if fmt == "vasp-xml" and "<modeling" not in text:
                return None
            if fmt == "vasp-out" and "vasp" not in text[:512]:
                return None
            return fmt
    if base.endswith(".cif"):
        return "cif" if ("data_" in text or "_cell_length" in text) else None
    if base == "geometry.in" or base.endswith((".in", ".xyz")):
        if _looks_like_aims_geometry(text):
            return "aims"
    if base.endswith((".xyz", ".extxyz")) and _looks_like_xyz(text):
        return "extxyz"
    return None


# --------------------------------------------------------------------------------------------
# method metadata


def _method_head(path: Path) -> str:
    with open(path, "rb") as fh:
        return fh.read(METHOD_BYTES).decode("utf-8", errors="replace")


def _kmesh(values: list[str]) -> list[int] | None:
    try:
        mesh = [int(float(v)) for v in values[:3]]
    except ValueError:
        return None
    return mesh if len(mesh) == 3 and all(m > 0 for m in mesh) else None


def method_from_file(path: Path, fmt: str) -> Method:
    """Program, version, functional and k-mesh, from cheap regexes over the file's head."""
    if fmt in ("vasp-xml", "vasp-out"):
        text = _method_head(path)
        method = Method(program_name="VASP", method_type=MethodType.DFT, basis_set="plane waves")
        if fmt == "vasp-xml":
            m = re.search(r'<i name="version" type="string">\s*([^<\s]+)', text)
            gga = re.search(r'<i type="string" name="GGA">\s*(\S+?)\s*<', text)
            kp = re.search(r'<v type="int" name="divisions">\s*([^<]+)<', text)
        else:
            m = re.search(r"^\s*vasp\.(\S+)", text, re.M)
            gga = re.search(r"^\s*GGA\s*=\s*(\S+)", text, re.M)
            kp = re.search(r"generate k-points for:\s*(\d+)\s+(\d+)\s+(\d+)", text)
        if m:
            method.program_version = m.group(1)
        xc = _VASP_XC.get(gga.group(1).upper()) if gga else None
        if xc is None:
            potcar = re.search(r"^\s*LEXCH\s*=\s*(\w+)", text, re.M)
            if potcar:
                xc = _VASP_XC.get(potcar.group(1), "PBE" if potcar.group(1) == "8" else None)
        if xc is None:
            # GGA unset: VASP takes the functional of the POTCARs, named by their family.
            family = re.search(r"PAW(_PBE|_GGA|_LDA)?\s+[A-Z][a-z]?", text)
            if family:
                xc = {"_PBE": "PBE", "_GGA": "PW91"}.get(family.group(1) or "", "LDA")
        method.xc_functional = xc
        if kp:
            method.k_mesh = _kmesh(kp.group(1).split() if kp.lastindex == 1 else list(kp.groups()))
        return method
    if fmt == "aims-output":
        text = _method_head(path)
        method = Method(
            program_name="FHI-aims",
            method_type=MethodType.DFT,
            basis_set="numeric atom-centered orbitals",
        )
        m = re.search(r"FHI-aims version\s*:\s*(\S+)", text)
        xc = re.search(r"^\s*xc\s+(\S+)", text, re.M)
        kp = re.search(r"^\s*k_grid\s+(\d+)\s+(\d+)\s+(\d+)", text, re.M)
        method.program_version = m.group(1) if m else None
        method.xc_functional = xc.group(1) if xc else None
        method.k_mesh = _kmesh(list(kp.groups())) if kp else None
        return method
    if fmt in ("espresso-out", "espresso-in"):
        text = _method_head(path)
        method = Method(
            program_name="Quantum ESPRESSO", method_type=MethodType.DFT, basis_set="plane waves"
        )
        m = re.search(r"Program PWSCF v\.(\S+)", text)
        method.program_version = m.group(1) if m else None
        xc = re.search(r"Exchange-correlation\s*=\s*(.+?)\s*(\(|$)", text, re.M)
        if xc:
            label = " ".join(xc.group(1).split())
            method.xc_functional = _QE_XC.get(label.upper(), label)
        dft = re.search(r"input_dft\s*=\s*['\"]([^'\"]+)", text, re.I)
        if dft:
            method.xc_functional = dft.group(1)
        kp = re.search(r"K_POINTS\s*\{?\s*automatic\s*\}?\s*\n\s*(\d+)\s+(\d+)\s+(\d+)", text, re.I)
        method.k_mesh = _kmesh(list(kp.groups())) if kp else None
        return method
    return Method()


def _method_from_info(info: dict[str, Any], base: Method) -> Method:
    values = {k: info[k] for k in _INFO_METHOD_KEYS if isinstance(info.get(k), str)}
    if not values:
        return base
    method = base.model_copy()
    for key, value in values.items():
        if key == "method_type":
            try:
                method.method_type = MethodType(value)
            except ValueError:
                method.method_type = MethodType.UNKNOWN
        else:
            setattr(method, key, value)
    return method


# --------------------------------------------------------------------------------------------
# reading


def _extxyz_frames(path: Path) -> Iterator[Atoms]:
    """Extended XYZ through our fast path (``bigmax.io.extxyz``), or ASE for what it cannot do."""
    index = extxyz.index_frames(path)  # a bad header raises before the first frame, as in ASE
    if index is None:
        yield from iread(str(path), index=":", format="extxyz")
    else:
        yield from extxyz.iter_frames(path, index)


def _frames(path: Path, fmt: str) -> Iterator[tuple[int, Atoms | Exception]]:
    """(index, frame) pairs; a read error after the first frame comes as the last item."""
    if fmt == "extxyz":
        frames = _extxyz_frames(path)
    else:
        frames = iread(str(path), index=":", format=fmt)
    index = 0
    while True:
        try:
            if fmt.startswith("aims"):
                with warnings.catch_warnings():
                    # ASE warns on every FHI-aims read that the reader moves to a plugin.
                    warnings.filterwarnings("ignore", "FHI-aims IO is moving", FutureWarning)
                    atoms = next(frames)
            else:  # the filter costs a regex compile per frame
                atoms = next(frames)
        except StopIteration:
            return
        except Exception as err:  # ASE raises anything on bad input
            if index == 0:
                raise ReaderError(f"{path.name}: cannot read as {fmt}: {_describe(err)}") from err
            yield index, err
            return
        yield index, atoms
        index += 1


def _describe(err: BaseException) -> str:
    text = str(err).strip() or "no detail"
    return f"{type(err).__name__}: {text}"[:500]


def read_atoms(path: Path, fmt: str | None = None) -> list[Atoms]:
    """Every frame of an atomistic file; raises ``ReaderError`` naming the file."""
    if fmt is None:
        with open(path, "rb") as fh:
            fmt = sniff_format(path.name, fh.read(HEAD_BYTES))
        if fmt is None:
            raise ReaderError(f"{path.name}: not a structure format BigMax reads")
    out = []
    for _, atoms in _frames(path, fmt):
        if isinstance(atoms, Exception):
            raise ReaderError(f"{path.name}: cannot read as {fmt}: {_describe(atoms)}")
        out.append(atoms)
    if not out:
        raise ReaderError(f"{path.name}: no structure found in this {fmt} file")
    return out


def _properties(atoms: Atoms) -> Properties:
    info = atoms.info
    energy = None
    for key in _INFO_ENERGY_KEYS:
        if key in info and normalize.is_finite(info[key]):
            energy = float(info[key])
            break
    props = normalize.properties(atoms, energy=energy)
    if "formation_energy_per_atom" in info and normalize.is_finite(
        info["formation_energy_per_atom"]
    ):
        props.formation_energy_per_atom = float(info["formation_energy_per_atom"]) * normalize.EV
    if (
        "band_gap" in info
        and normalize.is_finite(info["band_gap"])
        and float(info["band_gap"]) >= 0
    ):
        gap_type = info.get("band_gap_type")
        props.band_gap = normalize.band_gap(
            float(info["band_gap"]), gap_type if isinstance(gap_type, str) else None
        )
    known = set(_INFO_METHOD_KEYS) | set(_INFO_ENERGY_KEYS) | _INFO_SKIP
    known |= {"formation_energy_per_atom", "band_gap", "band_gap_type"}
    for key, value in info.items():
        if key in known or not isinstance(key, str):
            continue
        scalar = normalize.extra_scalar(value)
        if scalar is not None:
            props.extra[key] = scalar
    return props


def frame_results(atoms: Atoms, symprec: float, method: Method) -> Results:
    """Normalized ``Results`` of one frame: material, method (with info overrides), properties."""
    return Results(
        material=normalize.material(atoms, symprec),
        method=_method_from_info(atoms.info, method),
        properties=_properties(atoms),
    )


class ASEReader:
    """Every atomistic format ASE reads that we can recognise cheaply from name and head."""

    name: ClassVar[str] = "ase"
    version: ClassVar[str] = "1.0.0"
    priority: ClassVar[int] = 10

    def matches(self, path: str, head: bytes) -> bool:
        """True when ``sniff_format`` recognises the name and first bytes."""
        return sniff_format(path, head) is not None

    def parse(self, path: Path, root: Path, symprec: float) -> Iterator[Parsed]:
        """One ``Parsed`` per frame; ``child_key`` is the frame index when there are several."""
        path = Path(path)
        try:
            with open(path, "rb") as fh:
                head = fh.read(HEAD_BYTES)
        except OSError as err:
            raise ReaderError(f"{path.name}: cannot open: {err.strerror or err}") from err
        fmt = sniff_format(path.name, head)
        if fmt is None:
            raise ReaderError(f"{path.name}: not a structure format BigMax reads")
        try:
            method = method_from_file(path, fmt)
        except (OSError, ValueError) as err:
            raise ReaderError(f"{path.name}: cannot read method metadata: {err}") from err
        frames = _frames(path, fmt)
        pending = next(frames, None)
        if pending is None:
            raise ReaderError(f"{path.name}: no structure found in this {fmt} file")
        following = next(frames, None)
        multi = following is not None
        while pending is not None:
            index, atoms = pending
            key = str(index) if multi else None
            if isinstance(atoms, Exception):
                yield Parsed(key, error=f"{path.name} frame {index}: {_describe(atoms)}")
            else:
                try:
                    results = frame_results(atoms, symprec, method)
                except Exception as err:  # one bad frame must not lose the others
                    where = f"{path.name} frame {index}" if multi else path.name
                    yield Parsed(key, error=f"{where}: {_describe(err)}")
                else:
                    yield Parsed(key, results=results)
            pending, following = following, next(frames, None) if following else None
