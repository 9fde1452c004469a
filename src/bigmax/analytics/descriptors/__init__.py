"""Materials descriptors as scikit-learn transformers over lists of ``ase.Atoms``.

- ``composition``: statistics of element properties over a structure's composition;
- ``cell``: lattice lengths, angles, volume per atom, and the space group;
- ``structure``: SOAP, MBTR, ACSF, sine and Ewald matrices through dscribe;
- ``records``: the bridge from archive or OPTIMADE rows and extxyz exports to Atoms + targets.

Every transformer checks its input first: an empty structure, overlapping atoms or an unknown
element raise ``StructureError`` (a ``ValueError``) naming the structure.
"""

from bigmax.analytics.descriptors._checks import StructureError, check_structures
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
    "EwaldMatrixDescriptor",
    "MBTRDescriptor",
    "SOAPDescriptor",
    "SineMatrixDescriptor",
    "StructureError",
    "check_structures",
    "structure_index",
]
