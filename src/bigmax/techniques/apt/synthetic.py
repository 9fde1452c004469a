"""Synthetic atom probe specimens with a known ground truth.

Real APT data never says which ion belongs to which precipitate, or how many solute atoms sit at
an interface, so the analyses (clusters, iso-surfaces, proxigrams, interfacial excess, phase
segmentation) are tested here against specimens whose truth we planted:

* a random solid solution (atoms placed uniformly at the atomic density of the matrix);
* non-overlapping spherical precipitates at a given number density (m^-3), with their own
  composition; ``cluster_id`` says which precipitate each ion came from (-1: matrix);
* an optional planar interface carrying a thin segregated layer of one species whose Gibbsian
  excess (true atoms/nm^2, before detection losses) is known exactly by construction;
* detection: each atom is kept with probability ``detection_efficiency`` (random loss, as on a
  real MCP detector), then displaced by anisotropic Gaussian noise (lateral ~0.2 nm, depth
  ~0.05 nm, depth along z, the analysis direction);
* mass-to-charge: natural isotopes (periodictable masses and abundances), charge states with
  given probabilities, a Gaussian peak of relative width ``mass_resolution`` with an exponential
  thermal tail, and a TOF-uniform background (a fraction of ions get a random time of flight).

Ions come out slab by slab along z, roughly in evaporation order. The generator works in chunks,
so 10^8 ions cost about the output arrays (~22 bytes per ion) plus a few hundred MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "SyntheticError",
    "SyntheticSpecimen",
    "peak_table",
    "synthetic_ranges",
    "synthetic_specimen",
    "write_rrng",
    "write_synthetic",
]

DEFAULT_MATRIX = {"Fe": 0.9735, "Cu": 0.002, "Ni": 0.015, "Mn": 0.009, "P": 0.0005}
DEFAULT_PRECIPITATE = {"Fe": 0.45, "Cu": 0.45, "Ni": 0.06, "Mn": 0.04, "P": 0.0}
DEFAULT_CHARGES = {
    "Fe": {2: 0.9, 1: 0.1},
    "Cu": {1: 0.4, 2: 0.6},
    "Ni": {2: 1.0},
    "Mn": {2: 1.0},
    "P": {2: 1.0},  # P+ (31 Da) would overlap 62Ni2+; left out so ranging is unambiguous
}


class SyntheticError(ValueError):
    """A generator parameter is impossible (the message names it)."""


@dataclass
class SyntheticSpecimen:
    """Ions of a synthetic specimen and the truth planted in them.

    Per-ion arrays (length n): ``xyz`` float32 (n, 3) nm, ``mq`` float32 Da, ``species`` int16
    index into ``species_names``, ``cluster_id`` int32 (precipitate index, -1 matrix).
    ``excess`` is the planted Gibbsian excess of ``segregant`` in true atoms/nm^2 (divide
    measured ion counts by ``detection_efficiency`` to compare).
    """

    xyz: np.ndarray
    mq: np.ndarray
    species: np.ndarray
    species_names: tuple[str, ...]
    cluster_id: np.ndarray
    centres: np.ndarray
    radii: np.ndarray
    box: np.ndarray
    atomic_density: float
    detection_efficiency: float
    matrix_composition: dict[str, float]
    precipitate_composition: dict[str, float]
    interface_point: np.ndarray | None = None
    interface_normal: np.ndarray | None = None
    interface_thickness: float = 0.0
    segregant: str | None = None
    excess: float = 0.0
    ranges: list[tuple[float, float, str]] = field(default_factory=list)

    @property
    def n_ions(self) -> int:
        return int(self.xyz.shape[0])

    @property
    def ion_density(self) -> float:
        """Detected ions per nm^3 in the matrix."""
        return self.atomic_density * self.detection_efficiency

    def species_index(self, name: str) -> int:
        try:
            return self.species_names.index(name)
        except ValueError:
            raise SyntheticError(
                f"species {name!r} is not in this specimen ({', '.join(self.species_names)})"
            ) from None


def _normalise(comp: dict[str, float], names: tuple[str, ...], what: str) -> np.ndarray:
    unknown = set(comp) - set(names)
    if unknown:
        raise SyntheticError(f"{what} names species {sorted(unknown)} that are not in {names}")
    vec = np.array([float(comp.get(s, 0.0)) for s in names])
    if not np.all(np.isfinite(vec)) or np.any(vec < 0) or vec.sum() <= 0:
        raise SyntheticError(f"{what} must be non-negative fractions with a positive sum: {comp}")
    return vec / vec.sum()


def peak_table(
    species_names: tuple[str, ...], charges: dict[str, dict[int, float]] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peaks (m/q in Da, species index, probability within the species) from natural isotopes."""
    import periodictable

    charges = DEFAULT_CHARGES if charges is None else charges
    mqs, owners, probs = [], [], []
    for k, name in enumerate(species_names):
        try:
            element = periodictable.elements.symbol(name)
        except ValueError:
            raise SyntheticError(f"species {name!r} is not a chemical element symbol") from None
        states = charges.get(name, {1: 1.0})
        total = sum(states.values())
        if total <= 0 or any(z < 1 or p < 0 for z, p in states.items()):
            raise SyntheticError(f"charge states of {name} must be z >= 1, p >= 0: {states}")
        isotopes = [(iso.mass, iso.abundance / 100.0) for iso in element if iso.abundance > 0]
        if not isotopes:
            raise SyntheticError(f"{name} has no stable isotope")
        abundance_sum = sum(a for _, a in isotopes)
        for z, pz in states.items():
            for mass, ab in isotopes:
                mqs.append(mass / z)
                owners.append(k)
                probs.append(pz / total * ab / abundance_sum)
    return np.array(mqs), np.array(owners, dtype=np.int16), np.array(probs)


def synthetic_ranges(
    species_names: tuple[str, ...],
    composition: np.ndarray,
    charges: dict[str, dict[int, float]] | None = None,
    mass_resolution: float = 5e-4,
    tail: float = 2e-3,
) -> list[tuple[float, float, str]]:
    """Non-overlapping ranges (lo, hi, species) around each peak; shared peaks go to the
    species expected to contribute most ions (as a careful user would range them)."""
    mq, owner, prob = peak_table(species_names, charges)
    weight = prob * composition[owner]
    lo = mq * (1 - 4 * mass_resolution)
    hi = mq * (1 + 4 * mass_resolution + 3 * tail)
    order = np.argsort(lo)
    merged: list[list] = []
    for i in order:
        if merged and lo[i] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi[i])
            merged[-1][2][owner[i]] = merged[-1][2].get(owner[i], 0.0) + weight[i]
        else:
            merged.append([lo[i], hi[i], {owner[i]: weight[i]}])
    out = []
    for a, b, w in merged:
        best = max(w, key=w.get)
        if w[best] > 0:
            out.append((round(float(a), 4), round(float(b), 4), species_names[best]))
    return out


def _place_precipitates(rng, box, n, radius, gap, avoid):
    centres = np.empty((0, 3))
    radii = np.empty(0)
    tries = 0
    while len(radii) < n:
        tries += 1
        if tries > 200 * n + 1000:
            raise SyntheticError(
                f"could not place {n} precipitates without overlap in a "
                f"{box[0]:.0f}x{box[1]:.0f}x{box[2]:.0f} nm box (they keep clear of its faces "
                "and of the interface); lower number_density or radius"
            )
        r = rng.uniform(*radius)
        margin = r + 0.5
        if np.any(box <= 2 * margin):
            continue
        c = rng.uniform(margin, box - margin)
        if avoid is not None and abs(np.dot(c - avoid[0], avoid[1])) < r + avoid[2]:
            continue
        if len(radii) and np.any(np.linalg.norm(centres - c, axis=1) < radii + r + gap):
            continue
        centres = np.vstack([centres, c])
        radii = np.append(radii, r)
    return centres, radii


def synthetic_specimen(
    n_ions: int,
    *,
    seed: int = 0,
    species: tuple[str, ...] = ("Fe", "Cu", "Ni", "Mn", "P"),
    matrix: dict[str, float] | None = None,
    precipitate: dict[str, float] | None = None,
    number_density: float = 5e23,
    radius: tuple[float, float] = (1.0, 3.0),
    gap: float = 1.0,
    aspect: tuple[float, float, float] = (1.0, 1.0, 2.0),
    atomic_density: float = 84.9,
    detection_efficiency: float = 0.5,
    interface: bool = True,
    interface_normal: tuple[float, float, float] = (0.0, 0.0, 1.0),
    segregant: str = "P",
    excess: float = 2.0,
    interface_thickness: float = 0.6,
    resolution: tuple[float, float] = (0.2, 0.05),
    mass_resolution: float = 5e-4,
    tail: float = 2e-3,
    tail_fraction: float = 0.3,
    background: float = 0.002,
    charges: dict[str, dict[int, float]] | None = None,
    chunk: int = 4_000_000,
) -> SyntheticSpecimen:
    """A box specimen of about ``n_ions`` detected ions (Fe-Cu steel-like by default).

    Parameters
    ----------
    n_ions : expected number of detected ions (binomial: the exact count varies by ~sqrt(n)).
    seed : random seed; the same seed gives the same specimen.
    number_density : precipitates per m^3 (1e23-1e24 is typical of aged alloys).
    radius : (min, max) precipitate radius in nm, drawn uniformly.
    aspect : box edge ratios (x, y, z); z is the analysis depth.
    atomic_density : atoms per nm^3 (84.9 for bcc Fe, 60.2 for fcc Al).
    detection_efficiency : fraction of atoms detected (0.37-0.8 on real instruments).
    excess : planted Gibbsian excess of ``segregant`` at the interface (true atoms/nm^2).
    resolution : Gaussian sigma (lateral, depth) in nm.
    background : fraction of ions whose time of flight is random (TOF-uniform background).
    """
    names = tuple(species)
    if not isinstance(n_ions, int | np.integer) or n_ions < 100:
        raise SyntheticError(f"n_ions must be an integer >= 100, got {n_ions!r}")
    if not 0 < detection_efficiency <= 1:
        raise SyntheticError(f"detection_efficiency must be in (0, 1], got {detection_efficiency}")
    if atomic_density <= 0 or number_density < 0:
        raise SyntheticError("atomic_density must be > 0 and number_density >= 0")
    if not 0 < radius[0] <= radius[1]:
        raise SyntheticError(f"radius must be (min, max) with 0 < min <= max, got {radius}")
    if min(resolution) < 0 or not 0 <= background < 1 or excess < 0:
        raise SyntheticError("resolution and excess must be >= 0 and background in [0, 1)")
    c_matrix = _normalise(DEFAULT_MATRIX if matrix is None else matrix, names, "matrix")
    c_prec = _normalise(
        DEFAULT_PRECIPITATE if precipitate is None else precipitate, names, "precipitate"
    )
    rng = np.random.default_rng(seed)
    eff = float(detection_efficiency)

    aspect_arr = np.asarray(aspect, dtype=float)
    volume = n_ions / (atomic_density * eff)
    box = aspect_arr * (volume / np.prod(aspect_arr)) ** (1 / 3)

    avoid = None
    point = normal = None
    c_layer = c_matrix
    if interface:
        normal = np.asarray(interface_normal, dtype=float)
        if not np.linalg.norm(normal) > 0:
            raise SyntheticError(f"interface_normal must be non-zero, got {interface_normal}")
        normal = normal / np.linalg.norm(normal)
        point = box / 2
        seg = names.index(segregant) if segregant in names else -1
        if seg < 0:
            raise SyntheticError(f"segregant {segregant!r} is not one of {names}")
        if interface_thickness <= 0:
            raise SyntheticError("interface_thickness must be > 0 nm")
        delta = excess / (atomic_density * interface_thickness)
        if c_matrix[seg] + delta > 1:
            raise SyntheticError(
                f"excess {excess} atoms/nm^2 needs more than 100 % {segregant} in a "
                f"{interface_thickness} nm layer; use a thicker layer"
            )
        c_layer = c_matrix * (1 - c_matrix[seg] - delta) / (1 - c_matrix[seg])
        c_layer[seg] = c_matrix[seg] + delta
        avoid = (point, normal, 1.5 + interface_thickness)

    n_prec = int(round(number_density * 1e-27 * volume))
    centres, radii = _place_precipitates(rng, box, n_prec, radius, gap, avoid)

    # Region tables: 0 matrix, 1 precipitate, 2 interface layer.
    cum = np.cumsum(np.vstack([c_matrix, c_prec, c_layer]), axis=1)
    cum[:, -1] = 1.0
    peak_mq, peak_owner, peak_prob = peak_table(names, charges)
    peak_cum = []
    for k in range(len(names)):
        sel = np.flatnonzero(peak_owner == k)
        c = np.cumsum(peak_prob[sel])
        peak_cum.append((sel, c / c[-1]))

    n_atoms = int(round(n_ions / eff))
    cap = n_ions + int(8 * np.sqrt(n_ions)) + 64
    xyz = np.empty((cap, 3), dtype=np.float32)
    mq = np.empty(cap, dtype=np.float32)
    spec = np.empty(cap, dtype=np.int16)
    cid = np.empty(cap, dtype=np.int32)

    tree = None
    if len(radii):
        from scipy.spatial import cKDTree

        tree = cKDTree(centres)
    n_slabs = max(1, -(-n_atoms // chunk))
    edges = np.linspace(0.0, box[2], n_slabs + 1)
    per_slab = np.diff(np.linspace(0, n_atoms, n_slabs + 1).round().astype(np.int64))
    filled = 0
    for s in range(n_slabs):
        m = int(per_slab[s])
        pos = rng.random((m, 3))
        pos *= (box[0], box[1], edges[s + 1] - edges[s])
        pos[:, 2] += edges[s]
        keep = rng.random(m) < eff
        pos = pos[keep]
        m = len(pos)
        region = np.zeros(m, dtype=np.int8)
        ids = np.full(m, -1, dtype=np.int32)
        if tree is not None:
            mid, half = (edges[s] + edges[s + 1]) / 2, (edges[s + 1] - edges[s]) / 2
            if np.any(np.abs(centres[:, 2] - mid) <= radii + half):
                dist, idx = tree.query(pos, distance_upper_bound=float(radii.max()))
                hit = np.isfinite(dist)
                hit[hit] = dist[hit] < radii[idx[hit]]
                ids[hit] = idx[hit]
                region[hit] = 1
        if interface:
            d = (pos - point) @ normal
            region[(np.abs(d) < interface_thickness / 2) & (region == 0)] = 2
        u = rng.random(m)
        sp = np.zeros(m, dtype=np.int16)
        for k in range(len(names) - 1):
            sp += u > cum[region, k]
        # m/q: isotope and charge state, Gaussian peak, thermal tail, TOF background.
        q = np.empty(m)
        for k, (sel, c) in enumerate(peak_cum):
            mask = sp == k
            q[mask] = peak_mq[sel[np.searchsorted(c, rng.random(int(mask.sum())), side="right")
                                  .clip(0, len(sel) - 1)]]
        q *= 1 + mass_resolution * rng.standard_normal(m)
        tailed = rng.random(m) < tail_fraction
        q[tailed] += rng.exponential(tail, int(tailed.sum())) * q[tailed]
        if background > 0:
            bg = rng.random(m) < background
            lo, hi = np.sqrt(1.0), np.sqrt(max(120.0, peak_mq.max() * 1.2))
            q[bg] = (lo + (hi - lo) * rng.random(int(bg.sum()))) ** 2
        pos[:, :2] += resolution[0] * rng.standard_normal((m, 2))
        pos[:, 2] += resolution[1] * rng.standard_normal(m)
        m = min(m, cap - filled)
        xyz[filled:filled + m] = pos[:m]
        mq[filled:filled + m] = q[:m]
        spec[filled:filled + m] = sp[:m]
        cid[filled:filled + m] = ids[:m]
        filled += m
    comp_all = (c_matrix + c_prec) / 2
    return SyntheticSpecimen(
        xyz=xyz[:filled],
        mq=mq[:filled],
        species=spec[:filled],
        species_names=names,
        cluster_id=cid[:filled],
        centres=centres,
        radii=radii,
        box=box,
        atomic_density=float(atomic_density),
        detection_efficiency=eff,
        matrix_composition=dict(zip(names, c_matrix.tolist(), strict=True)),
        precipitate_composition=dict(zip(names, c_prec.tolist(), strict=True)),
        interface_point=point,
        interface_normal=normal,
        interface_thickness=float(interface_thickness) if interface else 0.0,
        segregant=segregant if interface else None,
        excess=float(excess) if interface else 0.0,
        ranges=synthetic_ranges(names, comp_all, charges, mass_resolution, tail),
    )


def write_rrng(path: str | Path, ranges: list[tuple[float, float, str]]) -> None:
    """Write an IVAS-style .rrng range file for single-element ranges."""
    names = list(dict.fromkeys(name for _, _, name in ranges))
    lines = ["[Ions]", f"Number={len(names)}"]
    lines += [f"Ion{i + 1}={n}" for i, n in enumerate(names)]
    lines += ["[Ranges]", f"Number={len(ranges)}"]
    for i, (lo, hi, name) in enumerate(ranges):
        lines.append(f"Range{i + 1}={lo:.4f} {hi:.4f} Vol:0.01177 {name}:1 Color:33AA77")
    Path(path).write_text("\n".join(lines) + "\n")


def write_synthetic(path: str | Path, specimen: SyntheticSpecimen | None = None,
                    **kwargs) -> tuple[Path, Path]:
    """Write a specimen as ``path`` (.pos) plus ``path`` with suffix .rrng; returns both paths.

    With no ``specimen``, one is generated from ``kwargs`` (``n_ions``, ``seed``, ...).
    """
    from bigmax.techniques.apt.formats.pos import write_pos

    if specimen is None:
        specimen = synthetic_specimen(**kwargs)
    pos = Path(path)
    rrng = pos.with_suffix(".rrng")
    write_pos(pos, specimen.xyz, specimen.mq)
    write_rrng(rrng, specimen.ranges)
    return pos, rrng
