"""Materials descriptors as scikit-learn transformers over lists of ``ase.Atoms``.

- ``structure``: SOAP, MBTR, ACSF, sine and Ewald matrices through dscribe;
- ``graph``: crystal-graph n-grams (bonded paths labelled by element and coordination);
- ``composition``: statistics of element properties over a composition;
- ``cell``: lattice lengths, angles, volume per atom, and the space group;
- ``records``: the bridge from archive or OPTIMADE rows and extxyz exports to Atoms + targets.

Every transformer checks its input first: an empty structure, overlapping atoms or an unknown
element raise ``StructureError`` (a ``ValueError``) naming the structure.
"""

from bigmax.analytics.descriptors._checks import StructureError, check_structures
from bigmax.analytics.descriptors.cell import CellDescriptor
from bigmax.analytics.descriptors.composition import CompositionDescriptor
from bigmax.analytics.descriptors.graph import CrystalGraphNgrams
from bigmax.analytics.descriptors.records import structures_from_extxyz, structures_from_records
from bigmax.analytics.descriptors.structure import (
    ACSFDescriptor,
    EwaldMatrixDescriptor,
    MBTRDescriptor,
    SineMatrixDescriptor,
    SOAPDescriptor,
    structure_index,
)

__all__ = [
    "ACSFDescriptor",
    "CellDescriptor",
    "CompositionDescriptor",
    "CrystalGraphNgrams",
    "EwaldMatrixDescriptor",
    "MBTRDescriptor",
    "SOAPDescriptor",
    "SineMatrixDescriptor",
    "StructureError",
    "check_structures",
    "structure_index",
    "structures_from_extxyz",
    "structures_from_records",
]
