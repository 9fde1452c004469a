"""Element properties for composition features, indexed by atomic number (0 = none).

Most columns come from tables that ASE ships and cites (``ase.data``): atomic masses
(IUPAC), covalent radii (Cordero et al., Dalton Trans. 2832 (2008)), van der Waals radii
(Alvarez, Dalton Trans. 42, 8617 (2013)) and cohesive energies (Kittel, Introduction to
Solid State Physics, 8th ed.). Two are ours:

- Pauling electronegativity, entered by hand from the values tabulated in the CRC Handbook
  of Chemistry and Physics (section 9, "Electronegativity"; mostly A. L. Allred,
  J. Inorg. Nucl. Chem. 17, 215 (1961)). NaN where the scale gives none (He, Ne, Ar and
  elements beyond No);
- group and period, computed from the atomic number (lanthanides and actinides: group 3).
"""

from __future__ import annotations

import numpy as np
from ase.data import atomic_masses, covalent_radii
from ase.data.cohesive_energies import cohesive_energy_kittel2005
from ase.data.vdw_alvarez import vdw_radii

# fmt: off
_PAULING = [
    np.nan,                                                          # 0
    2.20, np.nan,                                                    # H He
    0.98, 1.57, 2.04, 2.55, 3.04, 3.44, 3.98, np.nan,                # Li-Ne
    0.93, 1.31, 1.61, 1.90, 2.19, 2.58, 3.16, np.nan,                # Na-Ar
    0.82, 1.00, 1.36, 1.54, 1.63, 1.66, 1.55, 1.83, 1.88, 1.91,      # K-Ni
    1.90, 1.65, 1.81, 2.01, 2.18, 2.55, 2.96, 3.00,                  # Cu-Kr
    0.82, 0.95, 1.22, 1.33, 1.60, 2.16, 1.90, 2.20, 2.28, 2.20,      # Rb-Pd
    1.93, 1.69, 1.78, 1.96, 2.05, 2.10, 2.66, 2.60,                  # Ag-Xe
    0.79, 0.89,                                                      # Cs Ba
    1.10, 1.12, 1.13, 1.14, 1.13, 1.17, 1.20, 1.20, 1.10, 1.22,      # La-Dy
    1.23, 1.24, 1.25, 1.10, 1.27,                                    # Ho-Lu
    1.30, 1.50, 2.36, 1.90, 2.20, 2.20, 2.28, 2.54, 2.00,            # Hf-Hg
    1.62, 2.33, 2.02, 2.00, 2.20, 2.20,                              # Tl-Rn
    0.70, 0.90,                                                      # Fr Ra
    1.10, 1.30, 1.50, 1.38, 1.36, 1.28, 1.30, 1.30, 1.30, 1.30,      # Ac-Cf
    1.30, 1.30, 1.30, 1.30,                                          # Es-No
]
# fmt: on

#: Highest atomic number with every property column defined or NaN.
N_ELEMENTS = 118


def _group_period(z: int) -> tuple[int, int]:
    """IUPAC group (1-18; f-block: 3) and period of element ``z``."""
    starts = (1, 3, 11, 19, 37, 55, 87, 119)
    period = next(p for p, s in enumerate(starts, start=1) if z < starts[p])
    offset = z - starts[period - 1]
    if period == 1:
        return (1 if z == 1 else 18), 1
    if period <= 3:
        return (offset + 1 if offset < 2 else offset + 11), period
    if period <= 5:
        return offset + 1, period
    # periods 6 and 7 have 14 f-block elements after the group-2 element
    if offset < 2:
        return offset + 1, period
    if offset < 17:
        return 3, period
    return offset - 13, period


def _column(values, n: int = N_ELEMENTS + 1) -> np.ndarray:
    out = np.full(n, np.nan)
    arr = np.array([np.nan if v is None else float(v) for v in values[:n]])
    out[: arr.size] = arr
    return out


_GP = np.array([(np.nan, np.nan)] + [_group_period(z) for z in range(1, N_ELEMENTS + 1)])

#: property name -> (values indexed by Z, unit)
ELEMENT_PROPERTIES: dict[str, tuple[np.ndarray, str]] = {
    "atomic_number": (np.arange(N_ELEMENTS + 1, dtype=float), ""),
    "group": (_GP[:, 0], ""),
    "period": (_GP[:, 1], ""),
    "atomic_mass": (_column(atomic_masses), "u"),
    "covalent_radius": (_column(covalent_radii), "angstrom"),
    "vdw_radius": (_column(vdw_radii), "angstrom"),
    "electronegativity": (_column(_PAULING), "Pauling"),
    "cohesive_energy": (_column(cohesive_energy_kittel2005), "eV/atom"),
}
ELEMENT_PROPERTIES["atomic_number"][0][0] = np.nan
