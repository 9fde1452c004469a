"""Composition features: element fractions and statistics of element properties.

The cheapest descriptor there is, and often a strong baseline (Ward et al., npj Comput.
Mater. 2, 16028 (2016) use the same idea with many more properties). Works on structures or on
bare compositions (formula strings or ``{symbol: count}`` dicts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.data import chemical_symbols
from ase.formula import Formula
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from bigmax.analytics.descriptors._checks import (
    MAX_Z,
    StructureError,
    check_structures,
    structure_name,
)
from bigmax.analytics.descriptors._elements import ELEMENT_PROPERTIES

__all__ = ["DEFAULT_PROPERTIES", "STATISTICS", "CompositionDescriptor", "composition_matrix"]

#: Properties used by default: defined for every element from H to Bi except noble gases'
#: electronegativity (see ``_elements`` for sources).
DEFAULT_PROPERTIES = (
    "atomic_number",
    "group",
    "period",
    "atomic_mass",
    "covalent_radius",
    "electronegativity",
)
#: Fraction-weighted statistics over the elements of a composition.
STATISTICS = ("mean", "std", "min", "max", "range")


def _counts_of(item: object, index: int) -> dict[int, float]:
    """{Z: count} of one structure, formula string or {symbol: count} mapping."""
    if isinstance(item, str):
        try:
            counts = Formula(item).count()
        except ValueError as err:
            raise StructureError(f"composition {index} ({item!r}): not a formula: {err}") from None
        if not counts:
            raise StructureError(f"composition {index}: empty formula {item!r}")
        item = counts
    if isinstance(item, Mapping):
        out: dict[int, float] = {}
        for symbol, count in item.items():
            if symbol not in chemical_symbols[1 : MAX_Z + 1]:
                raise StructureError(f"composition {index}: unknown element {symbol!r}")
            try:
                value = float(count)
            except (TypeError, ValueError):
                raise StructureError(
                    f"composition {index}: count of {symbol} is {count!r}, not a number"
                ) from None
            if not np.isfinite(value) or value < 0:
                raise StructureError(f"composition {index}: count of {symbol} is {count!r}")
            if value > 0:
                z = chemical_symbols.index(symbol)
                out[z] = out.get(z, 0.0) + value
        if not out:
            raise StructureError(f"composition {index}: no element with a positive count")
        return out
    raise StructureError(
        f"composition {index}: expected ase.Atoms, a formula string or a {{symbol: count}} "
        f"mapping, got {type(item).__name__}"
    )


def composition_matrix(X: Sequence[object]) -> np.ndarray:
    """Atom counts, shape (n_samples, 119), column = atomic number; checks every item."""
    items = list(X) if not isinstance(X, Atoms | str | Mapping) else None
    if items is None:
        raise StructureError(
            f"expected a list of structures or compositions, got one {type(X).__name__}: "
            "wrap it in a list"
        )
    if not items:
        raise StructureError("no structures given (an empty list)")
    out = np.zeros((len(items), MAX_Z + 1))
    atoms_rows = [i for i, a in enumerate(items) if isinstance(a, Atoms)]
    if atoms_rows:
        structures = check_structures([items[i] for i in atoms_rows], min_distance=None)
        numbers = np.concatenate([a.numbers for a in structures])
        rows = np.repeat(np.asarray(atoms_rows), [len(a) for a in structures])
        np.add.at(out, (rows, numbers), 1.0)
    for i, item in enumerate(items):
        if not isinstance(item, Atoms):
            for z, count in _counts_of(item, i).items():
                out[i, z] = count
    return out


class CompositionDescriptor(TransformerMixin, BaseEstimator):
    """Element fractions plus fraction-weighted statistics of element properties.

    Parameters
    ----------
    properties : sequence of str, default=DEFAULT_PROPERTIES
        Names in ``ELEMENT_PROPERTIES``: atomic_number, group, period, atomic_mass,
        covalent_radius, vdw_radius, electronegativity, cohesive_energy.
    statistics : sequence of str, default=("mean", "std", "min", "max", "range")
    fractions : bool, default=True
        Add one column per element seen at ``fit`` (or in ``elements``): its atom fraction.
    elements : sequence of str, optional
        Fix the fraction columns instead of learning them.

    Attributes
    ----------
    elements_ : list of str
        The fraction columns, by atomic number.
    atomic_numbers_ : ndarray of int
    feature_names_out_ : ndarray of str

    Examples
    --------
    >>> d = CompositionDescriptor(properties=["electronegativity"], statistics=["mean"])
    >>> d.fit_transform(["Al2O3", "Ga2O3"]).round(3).tolist()
    [[0.6, 0.4, 0.0, 2.708], [0.6, 0.0, 0.4, 2.788]]
    """

    def __init__(
        self,
        properties: Sequence[str] = DEFAULT_PROPERTIES,
        statistics: Sequence[str] = STATISTICS,
        fractions: bool = True,
        elements: Sequence[str] | None = None,
    ) -> None:
        self.properties = properties
        self.statistics = statistics
        self.fractions = fractions
        self.elements = elements

    def fit(self, X: Sequence[object], y: object = None) -> CompositionDescriptor:
        """Learn the element columns; check properties and statistics."""
        for name in self.properties:
            if name not in ELEMENT_PROPERTIES:
                raise ValueError(
                    f"CompositionDescriptor.properties: unknown property {name!r}; "
                    f"known: {', '.join(ELEMENT_PROPERTIES)}"
                )
        for name in self.statistics:
            if name not in STATISTICS:
                raise ValueError(
                    f"CompositionDescriptor.statistics: unknown statistic {name!r}; "
                    f"known: {', '.join(STATISTICS)}"
                )
        counts = composition_matrix(X)
        if self.elements is None:
            zs = np.flatnonzero(counts.sum(axis=0) > 0)
        else:
            zs = np.array(sorted({_symbol_z(s) for s in self.elements}), dtype=int)
        self.elements_ = [chemical_symbols[z] for z in zs]
        self.atomic_numbers_ = zs
        names = [f"fraction_{s}" for s in self.elements_] if self.fractions else []
        names += [f"{stat}_{prop}" for prop in self.properties for stat in self.statistics]
        self.feature_names_out_ = np.array(names, dtype=object)
        self._check_values(counts, X)
        return self

    def _check_values(self, counts: np.ndarray, X: Sequence[object]) -> None:
        present = counts > 0
        for name in self.properties:
            values = ELEMENT_PROPERTIES[name][0]
            bad = present & np.isnan(values)[None, :]
            if bad.any():
                row, z = np.argwhere(bad)[0]
                raise StructureError(
                    f"{_label(X, row)}: no {name} is tabulated for "
                    f"{chemical_symbols[z]}; leave {name!r} out of properties"
                )

    def transform(self, X: Sequence[object]) -> np.ndarray:
        """Features, shape (n_samples, len(feature_names_out_))."""
        check_is_fitted(self, "elements_")
        counts = composition_matrix(X)
        self._check_values(counts, X)
        frac = counts / counts.sum(axis=1, keepdims=True)
        blocks = []
        if self.fractions:
            outside = frac.sum(axis=1) - frac[:, self.atomic_numbers_].sum(axis=1) > 1e-12
            if outside.any():
                i = int(np.argmax(outside))
                extra = set(np.flatnonzero(counts[i] > 0)) - set(self.atomic_numbers_.tolist())
                names = ", ".join(chemical_symbols[z] for z in sorted(extra))
                raise StructureError(
                    f"{_label(X, i)}: element(s) {names} not among the elements the "
                    f"descriptor was fitted on ({', '.join(self.elements_)})"
                )
            blocks.append(frac[:, self.atomic_numbers_])
        present = counts > 0
        for name in self.properties:
            p = np.nan_to_num(ELEMENT_PROPERTIES[name][0], nan=0.0)
            mean = frac @ p
            stats = {}
            if "mean" in self.statistics:
                stats["mean"] = mean
            if "std" in self.statistics:
                stats["std"] = np.sqrt(np.maximum(frac @ p**2 - mean**2, 0.0))
            lo = np.where(present, p[None, :], np.inf).min(axis=1)
            hi = np.where(present, p[None, :], -np.inf).max(axis=1)
            stats.update(min=lo, max=hi, range=hi - lo)
            blocks += [stats[s][:, None] for s in self.statistics]
        return np.hstack(blocks) if blocks else np.zeros((len(counts), 0))

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``fraction_<El>`` then ``<statistic>_<property>``."""
        check_is_fitted(self, "elements_")
        return self.feature_names_out_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _label(X: Sequence[object], i: int) -> str:
    item = list(X)[i]
    return structure_name(item, i) if isinstance(item, Atoms) else f"composition {i} ({item!r})"


def _symbol_z(symbol: str) -> int:
    if symbol not in chemical_symbols[1 : MAX_Z + 1]:
        raise ValueError(f"CompositionDescriptor.elements: {symbol!r} is not an element symbol")
    return chemical_symbols.index(symbol)
