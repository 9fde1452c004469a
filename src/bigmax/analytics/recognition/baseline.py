"""Symmetry-finder baselines (spglib, moyopy) behind the classifier's API.

A symmetry finder names a prototype by matching what it finds, the space group and the
site symmetries of the occupied orbits, with what it finds on the ideal prototypes. That is how
the literature benchmarks spglib against learned classifiers (Ziletti et al. 2018, ARISE): exact
on ideal cells, and lost as soon as noise exceeds the tolerance or a vacancy breaks the
translational symmetry of the supercell.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from bigmax.analytics.recognition.classifier import UNKNOWN
from bigmax.analytics.recognition.descriptor import check_structure

_BACKENDS = ("spglib", "moyopy")


def _signature(number: int, sites, orbits, species) -> tuple:
    """Space group plus, per element, the sorted site symmetries of its orbits (element-blind).

    Site symmetries rather than Wyckoff letters: equivalent settings (hcp's 2c or 2d) keep
    them, while the letters depend on the origin the finder picks.
    """
    orbits = np.asarray(orbits)
    species = np.asarray(species)
    wyckoffs = np.asarray(sites)
    reps = np.unique(orbits)
    per_species = {}
    for r in reps:
        per_species.setdefault(int(species[r]), []).append(str(wyckoffs[r]))
    return (int(number), tuple(sorted(tuple(sorted(v)) for v in per_species.values())))


class SymmetryBaseline(ClassifierMixin, BaseEstimator):
    """Prototype recognition by symmetry: spglib or moyopy plus site-symmetry matching.

    Parameters
    ----------
    backend : {"spglib", "moyopy"}, default="spglib"
    symprec : float, default=0.1
        Distance tolerance in angstrom (0.1 is the "loose" setting of ARISE's benchmark).
    angle_tolerance : float, default=5.0
        Angle tolerance in degrees.

    Attributes
    ----------
    classes_ : ndarray of str
    signatures_ : dict
        Symmetry signature -> the labels of the prototypes that have it (the first is answered).
    """

    def __init__(
        self, backend: str = "spglib", symprec: float = 0.1, angle_tolerance: float = 5.0
    ) -> None:
        self.backend = backend
        self.symprec = symprec
        self.angle_tolerance = angle_tolerance

    def signature(self, atoms: Atoms) -> tuple | None:
        """The symmetry signature of a periodic structure; None when the finder fails."""
        cell = (atoms.cell[:], atoms.get_scaled_positions(wrap=True), atoms.numbers)
        if self.backend == "spglib":
            import spglib

            spglib.error.OLD_ERROR_HANDLING = False  # raise, as bigmax.io.normalize does
            try:
                ds = spglib.get_symmetry_dataset(
                    cell, symprec=self.symprec, angle_tolerance=self.angle_tolerance
                )
            except Exception:  # spglib raises on failure with its new error handling
                return None
            if ds is None:
                return None
            sites = ds.site_symmetry_symbols
            return _signature(ds.number, sites, ds.equivalent_atoms, atoms.numbers)
        import moyopy

        try:
            ds = moyopy.MoyoDataset(
                moyopy.Cell(cell[0].tolist(), cell[1].tolist(), cell[2].tolist()),
                symprec=self.symprec,
                angle_tolerance=np.deg2rad(self.angle_tolerance),
            )
        except Exception:  # moyo raises when no consistent symmetry exists at symprec
            return None
        return _signature(ds.number, ds.site_symmetry_symbols, ds.orbits, atoms.numbers)

    def fit(self, X: Sequence[Atoms], y: Sequence[str]) -> SymmetryBaseline:
        """Record the signatures of the ideal prototypes ``X`` labelled ``y``."""
        if self.backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {_BACKENDS}, got {self.backend!r}")
        if not (self.symprec > 0 and self.angle_tolerance > 0):
            raise ValueError(
                f"symprec and angle_tolerance must be > 0, got {self.symprec!r}, "
                f"{self.angle_tolerance!r}"
            )
        X = list(X)
        y = np.asarray(y).astype(str)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} structures but y has {len(y)} labels")
        self.signatures_: dict[tuple, list[str]] = {}
        exact = clone(self).set_params(symprec=1e-3, angle_tolerance=1.0)
        for i, (atoms, label) in enumerate(zip(X, y, strict=True)):
            sig = self.signature(check_structure(atoms, i))
            if sig is None:
                continue
            # at a loose tolerance a distorted prototype (bct In) can take the signature of its
            # parent (fcc): the prototype that has the symmetry exactly is answered first
            if exact.signature(atoms) == sig:
                self.signatures_.setdefault(sig, []).insert(0, label)
            else:
                self.signatures_.setdefault(sig, []).append(label)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X: Sequence[Atoms]) -> np.ndarray:
        """The prototype whose signature matches, else "unknown"."""
        check_is_fitted(self, "signatures_")
        if isinstance(X, Atoms):
            X = [X]
        out = []
        for i, atoms in enumerate(X):
            sig = self.signature(check_structure(atoms, i))
            out.append(self.signatures_.get(sig, [UNKNOWN])[0] if sig is not None else UNKNOWN)
        return np.asarray(out, dtype=object).astype(str)

    def predict_proba(self, X: Sequence[Atoms]) -> np.ndarray:
        """One-hot on the matched prototype; all zero for "unknown" (a finder has no doubt)."""
        labels = self.predict(X)
        index = {c: i for i, c in enumerate(self.classes_)}
        out = np.zeros((len(labels), len(self.classes_)))
        for row, label in enumerate(labels):
            if label in index:
                out[row, index[label]] = 1.0
        return out
