"""Robust crystal-structure recognition (ARISE-style), trained on ideal prototypes only.

- ``prototypes``: the 108 AFLOW-derived prototypes of ARISE, shipped as package data;
- ``augment``: displacements, vacancies, strain and supercells, reproducible by seed;
- ``descriptor``: a scale-invariant, species-agnostic averaged SOAP (``ScaledSOAP``);
- ``classifier``: an MLP ensemble with a calibrated uncertainty, "unknown" above threshold;
- ``sliding``: windows over a polycrystal, grains and boundaries;
- ``baseline``: spglib and moyopy behind the same API;
- ``training``: the default model, trained from the prototypes and cached.
"""

from bigmax.analytics.recognition.augment import (
    augment,
    displace,
    noisy_copies,
    remove_atoms,
    strain,
    supercell,
)
from bigmax.analytics.recognition.baseline import SymmetryBaseline
from bigmax.analytics.recognition.classifier import UNKNOWN, StructureClassifier
from bigmax.analytics.recognition.descriptor import ScaledSOAP, StructureError, check_structure
from bigmax.analytics.recognition.prototypes import COMMON_PROTOTYPES, load_prototypes
from bigmax.analytics.recognition.sliding import WindowMap, plot_window_map, sliding_windows
from bigmax.analytics.recognition.training import (
    load_or_train,
    train_prototype_classifier,
    training_set,
)

__all__ = [
    "COMMON_PROTOTYPES",
    "UNKNOWN",
    "ScaledSOAP",
    "StructureClassifier",
    "StructureError",
    "SymmetryBaseline",
    "WindowMap",
    "augment",
    "check_structure",
    "displace",
    "load_or_train",
    "load_prototypes",
    "noisy_copies",
    "plot_window_map",
    "remove_atoms",
    "sliding_windows",
    "strain",
    "supercell",
    "train_prototype_classifier",
    "training_set",
]
