"""Cell features: lattice lengths and angles, volume per atom, and the space group one-hot.

With composition features these are what the NOMAD 2018 Kaggle tables give per entry; a
kernel model on them alone reaches about 0.035 RMSLE for the formation energy there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from ase import Atoms
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from bigmax.analytics.descriptors._checks import StructureError, check_structures, structure_name

__all__ = ["CellDescriptor"]

_PARTS = ("lengths", "angles", "volume_per_atom", "n_atoms")


class CellDescriptor(TransformerMixin, BaseEstimator):
    """Lattice lengths (angstrom), angles (degrees), volume per atom and the space group.

    Parameters
    ----------
    parts : sequence of str, default=("lengths", "angles", "volume_per_atom")
        Any of "lengths", "angles", "volume_per_atom", "n_atoms".
    space_group : {None, "spglib"} or str, default=None
        Append a one-hot of the space group: found by spglib (at ``symprec``), or read from
        ``atoms.info[space_group]`` (e.g. a label that came with the data). The groups seen at
        ``fit`` are the columns; another group at ``transform`` gets all zeros.
    symprec : float, default=0.1
        spglib distance tolerance, angstrom.

    Attributes
    ----------
    space_groups_ : list of int
    feature_names_out_ : ndarray of str
    """

    def __init__(
        self,
        parts: Sequence[str] = ("lengths", "angles", "volume_per_atom"),
        space_group: str | None = None,
        symprec: float = 0.1,
    ) -> None:
        self.parts = parts
        self.space_group = space_group
        self.symprec = symprec

    def _groups(self, structures: list[Atoms]) -> np.ndarray:
        if self.space_group == "spglib":
            import spglib

            spglib.error.OLD_ERROR_HANDLING = False  # raise, as bigmax.io.normalize does
            out = []
            for i, a in enumerate(structures):
                cell = (a.cell.array, a.get_scaled_positions(), a.numbers)
                try:
                    data = spglib.get_symmetry_dataset(cell, symprec=self.symprec)
                except spglib.error.SpglibError as err:
                    raise StructureError(f"{structure_name(a, i)}: spglib failed: {err}") from None
                out.append(data.number)
            return np.array(out)
        out = []
        for i, a in enumerate(structures):
            value = a.info.get(self.space_group)
            try:
                number = int(value)
            except (TypeError, ValueError):
                raise StructureError(
                    f"{structure_name(a, i)}: info[{self.space_group!r}] is {value!r}, not a "
                    "space group number"
                ) from None
            if not 1 <= number <= 230:
                raise StructureError(
                    f"{structure_name(a, i)}: space group {number} is outside 1-230"
                )
            out.append(number)
        return np.array(out)

    def fit(self, X: Sequence[Atoms], y: object = None) -> CellDescriptor:
        """Check the parts; learn the space groups present."""
        for p in self.parts:
            if p not in _PARTS:
                raise ValueError(f"CellDescriptor.parts: unknown part {p!r}; known: {_PARTS}")
        structures = check_structures(X, min_distance=None, need_cell=True)
        names: list[str] = []
        for p in self.parts:
            names += {
                "lengths": ["a", "b", "c"],
                "angles": ["alpha", "beta", "gamma"],
                "volume_per_atom": ["volume_per_atom"],
                "n_atoms": ["n_atoms"],
            }[p]
        self.space_groups_ = []
        if self.space_group is not None:
            self.space_groups_ = sorted(set(self._groups(structures).tolist()))
            names += [f"space_group_{g}" for g in self.space_groups_]
        self.feature_names_out_ = np.array(names, dtype=object)
        return self

    def transform(self, X: Sequence[Atoms]) -> np.ndarray:
        """Features, shape (n_samples, len(feature_names_out_))."""
        check_is_fitted(self, "feature_names_out_")
        structures = check_structures(X, min_distance=None, need_cell=True)
        cellpar = np.array([a.cell.cellpar() for a in structures])
        n = np.array([len(a) for a in structures], dtype=float)
        blocks = []
        for p in self.parts:
            if p == "lengths":
                blocks.append(cellpar[:, :3])
            elif p == "angles":
                blocks.append(cellpar[:, 3:])
            elif p == "volume_per_atom":
                volume = np.abs([a.cell.volume for a in structures])
                blocks.append((volume / n)[:, None])
            else:
                blocks.append(n[:, None])
        if self.space_group is not None:
            groups = self._groups(structures)
            blocks.append((groups[:, None] == np.array(self.space_groups_)[None, :]).astype(float))
        return np.hstack(blocks) if blocks else np.zeros((len(structures), 0))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """a, b, c, alpha, beta, gamma, volume_per_atom, n_atoms, space_group_<n>."""
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        return tags
