"""Atom probe files (.pos, .epos, AP Suite .apt) as archive entries.

An entry holds what a user searches and judges a run by: the number of ions, the bounding box,
the m/q range, a mass spectrum small enough for the GUI (<= 2000 points, log scale) and, when the
upload has a range file of the same stem (.rrng, .rng or .env, any case), the composition with
molecular ions split into atoms, the ranged fraction and a Material with the elements, so the
run is found by element. The ions themselves stay in the raw file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np

from bigmax.io import normalize
from bigmax.io.base import Parsed, ReaderError
from bigmax.schema import Results, ScalarQuantity
from bigmax.schema.experiment import Experiment, SummaryCurve

SUFFIXES = {".pos": "pos", ".epos": "epos", ".apt": "apt"}
RANGE_SUFFIXES = (".rrng", ".rng", ".env")
MAX_POINTS = 2000
#: 1 Da per elementary charge in kg/C (SI for mass-to-charge).
DA_PER_E = 1.66053906660e-27 / 1.602176634e-19


def _range_file(path: Path) -> Path | None:
    """The sibling range file with the same stem, preferring RRNG, then RNG, then ENV."""
    siblings = {p.name.lower(): p for p in path.parent.iterdir() if p.is_file()}
    for suffix in RANGE_SUFFIXES:
        hit = siblings.get(path.stem.lower() + suffix)
        if hit is not None:
            return hit
    return None


def _bounding_box(ions, chunk: int = 1 << 22) -> tuple[np.ndarray, np.ndarray]:
    """(min, max) of x, y, z in nm, chunk by chunk (no full (n, 3) copy of a large file)."""
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for start in range(0, ions.n_ions, chunk):
        xyz = ions.chunk(start, start + chunk).xyz
        if len(xyz):
            lo = np.minimum(lo, np.nanmin(xyz, axis=0))
            hi = np.maximum(hi, np.nanmax(xyz, axis=0))
    return lo, hi


class APTReader:
    """Reads .pos, .epos and AP Suite .apt (magic ``APT\\0``) files."""

    name: ClassVar[str] = "apt"
    version: ClassVar[str] = "1"
    priority: ClassVar[int] = 20

    def matches(self, path: str, head: bytes) -> bool:
        suffix = Path(path).suffix.lower()
        if suffix == ".apt":
            return head[:4] == b"APT\x00"
        return suffix in SUFFIXES and len(head) > 0

    def parse(self, path: Path, root: Path, symprec: float) -> Iterator[Parsed]:
        from bigmax.techniques.apt.composition import composition
        from bigmax.techniques.apt.formats import read_ions
        from bigmax.techniques.apt.ranges import read_ranges
        from bigmax.techniques.apt.spectrum import mass_spectrum

        path = Path(path)
        try:
            ions = read_ions(path)
            mq = np.asarray(ions.mq)
            box = _bounding_box(ions) if ions.has_positions else None
        except ValueError as err:
            raise ReaderError(f"{path.name}: {err}") from err
        if len(mq) == 0:
            raise ReaderError(f"{path.name}: the file holds no ions")
        finite = np.isfinite(mq)
        if not finite.all():
            raise ReaderError(f"{path.name}: {int((~finite).sum())} ions with NaN/inf m/q")
        lo, hi = float(mq.min()), float(mq.max())
        summary: dict[str, ScalarQuantity] = {
            "mass_to_charge_min": ScalarQuantity(value=lo * DA_PER_E, unit="kg/C",
                                                 source_unit="Da"),  # fmt: skip
            "mass_to_charge_max": ScalarQuantity(value=hi * DA_PER_E, unit="kg/C",
                                                 source_unit="Da"),  # fmt: skip
        }
        if box is not None:
            for k, axis in enumerate("xyz"):
                for label, value in (("min", box[0][k]), ("max", box[1][k])):
                    summary[f"{axis}_{label}"] = ScalarQuantity(
                        value=float(value) * 1e-9, unit="m", source_unit="nm"
                    )
        spectrum = mass_spectrum(mq, 0.05, (0.0, max(hi, 1.0))).rebinned(MAX_POINTS)
        curve = SummaryCurve(
            title="mass spectrum",
            x_label="mass-to-charge (Da)",
            y_label="counts per Da",
            x=spectrum.centers.round(4).tolist(),
            y=spectrum.density().tolist(),
            log_y=True,
        )
        related: list[str] = []
        fractions = None
        material = None
        rng = _range_file(path)
        if rng is not None:
            try:
                table = read_ranges(rng)
                comp = composition(mq, table)
            except ValueError as err:
                raise ReaderError(f"{path.name}: range file {rng.name}: {err}") from err
            fractions = {s: float(f) for s, f in zip(comp["species"], comp["fraction"],
                                                      strict=True)}  # fmt: skip
            summary["ranged_fraction"] = ScalarQuantity(value=comp.attrs["ranged_fraction"],
                                                        unit="1")  # fmt: skip
            atoms = {s: int(round(c)) for s, c in zip(comp["species"], comp["counts"],
                                                       strict=True) if c >= 0.5}  # fmt: skip
            if atoms:
                material = normalize.composition_material(atoms)
            try:
                related.append(rng.relative_to(root).as_posix())
            except ValueError:
                related.append(rng.name)
        experiment = Experiment(
            technique="atom probe tomography",
            file_format=SUFFIXES.get(path.suffix.lower(), ions.format),
            n_events=int(len(mq)),
            composition=fractions,
            summary=summary,
            curves=[curve],
        )
        yield Parsed(
            None,
            results=Results(material=material, experiment=experiment),
            related_files=related,
        )
