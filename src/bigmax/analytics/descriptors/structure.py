"""Structure descriptors through dscribe, as scikit-learn transformers over lists of Atoms.

Each transformer learns, at ``fit``, what dscribe needs fixed in advance (the species, the
periodicity, the largest structure for matrix descriptors), checks every structure before any
work (``StructureError`` names the bad one) and computes features in parallel with ``n_jobs``
worker processes. ``sparse=True`` returns a ``scipy.sparse.csr_matrix``: MBTR and per-atom SOAP
of multi-species data are mostly zeros.

References
----------
SOAP: A. P. Bartók, R. Kondor, G. Csányi, Phys. Rev. B 87, 184115 (2013).
MBTR: H. Huo, M. Rupp, Mach. Learn.: Sci. Technol. 3, 045017 (2022).
ACSF: J. Behler, J. Chem. Phys. 134, 074106 (2011).
Sine and Ewald matrices: F. Faber et al., Int. J. Quantum Chem. 115, 1094 (2015).
dscribe: L. Himanen et al., Comput. Phys. Commun. 247, 106949 (2020); J. Laakso et al.,
J. Chem. Phys. 158, 234802 (2023).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from ase import Atoms
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from bigmax.analytics.descriptors._checks import (
    MIN_DISTANCE,
    StructureError,
    check_species,
    check_structures,
    known_symbols,
    structure_name,
)
from bigmax.analytics.descriptors._dscribe_compat import ensure_dscribe_compat

__all__ = [
    "ACSFDescriptor",
    "EwaldMatrixDescriptor",
    "MBTRDescriptor",
    "SOAPDescriptor",
    "SineMatrixDescriptor",
    "structure_index",
]


def structure_index(X: Sequence[Atoms]) -> np.ndarray:
    """For per-atom output: the structure each row belongs to (rows follow ``X``'s order)."""
    return np.repeat(np.arange(len(X)), [len(a) for a in X])


# -- parallel creation ------------------------------------------------------------------------


def _to_scipy(block: Any) -> sp.csr_matrix:
    if sp.issparse(block):
        return sp.csr_matrix(block)
    if hasattr(block, "tocsr"):  # pydata sparse.COO from dscribe
        return sp.csr_matrix(block.reshape((-1, block.shape[-1])).tocsr())
    return sp.csr_matrix(np.asarray(block).reshape(-1, np.asarray(block).shape[-1]))


def _create_chunk(descriptor: Any, chunk: list[Atoms], kwargs: dict, per_atom: bool) -> Any:
    """Features of one chunk, in a worker process: the shim is applied there as well."""
    ensure_dscribe_compat()
    # dscribe 2.1.2 calls atoms.get_calculator(), deprecated in ASE >= 3.26; an l2-normalised
    # MBTR of an empty k-term divides by zero (the NaNs are zeroed by MBTRDescriptor)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.filterwarnings("ignore", "Please use atoms.calc", FutureWarning)
        if per_atom:
            blocks = [descriptor.create(a, n_jobs=1, **kwargs) for a in chunk]
            if descriptor.sparse:
                return sp.csr_matrix(sp.vstack([_to_scipy(b) for b in blocks], format="csr"))
            return np.concatenate([np.atleast_2d(b) for b in blocks])
        out = descriptor.create(chunk, n_jobs=1, **kwargs)
        if descriptor.sparse:
            return _to_scipy(out)
        return np.asarray(out).reshape(len(chunk), -1)


def create_features(
    descriptor: Any,
    structures: list[Atoms],
    *,
    n_jobs: int | None = 1,
    per_atom: bool = False,
    kwargs: dict | None = None,
) -> np.ndarray | sp.csr_matrix:
    """dscribe ``create`` over contiguous chunks in ``n_jobs`` loky processes, rows in order."""
    from joblib import Parallel, delayed, effective_n_jobs

    kwargs = kwargs or {}
    workers = min(effective_n_jobs(n_jobs), len(structures))
    if workers <= 1:
        return _create_chunk(descriptor, structures, kwargs, per_atom)
    # a few chunks per worker even out the cost of differently sized cells
    bounds = np.linspace(0, len(structures), min(len(structures), 4 * workers) + 1).astype(int)
    chunks = [structures[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
    parts = Parallel(n_jobs=workers, prefer="processes")(
        delayed(_create_chunk)(descriptor, c, kwargs, per_atom) for c in chunks
    )
    if descriptor.sparse:
        return sp.csr_matrix(sp.vstack(parts, format="csr"))
    return np.concatenate(parts)


# -- the shared base --------------------------------------------------------------------------


class _DscribeTransformer(TransformerMixin, BaseEstimator, ABC):
    """Fit learns species and periodicity, transform checks and computes in parallel."""

    #: Subclasses that need a periodic cell (sine, Ewald).
    _needs_cell = False
    #: Whether transform returns one row per atom.
    _per_atom = False

    @abstractmethod
    def _make(self) -> Any:
        """The dscribe descriptor for the fitted species and parameters."""

    def _create_kwargs(self) -> dict:
        return {}

    def _check(self, X: object, species: Sequence[str] | None) -> list[Atoms]:
        return check_structures(
            X, species=species, min_distance=self.min_distance, need_cell=self._needs_cell
        )

    def fit(self, X: Sequence[Atoms], y: object = None) -> _DscribeTransformer:
        """Learn the species, the periodicity and the feature layout from ``X``."""
        structures = self._check(X, None)
        if self.species is None:
            species = known_symbols(s for a in structures for s in a.get_chemical_symbols())
        else:
            species = known_symbols(self.species, what=f"{type(self).__name__}.species")
        self.species_ = species
        self._check_species(structures)
        if getattr(self, "periodic", None) is None:
            self.periodic_ = bool(any(a.pbc.any() for a in structures))
        else:
            self.periodic_ = bool(self.periodic)
        self._fit_extra(structures)
        self.descriptor_ = self._make()
        self.n_features_out_ = int(self.descriptor_.get_number_of_features())
        return self

    def _fit_extra(self, structures: list[Atoms]) -> None:
        pass

    def _check_species(self, structures: list[Atoms]) -> None:
        check_species(structures, self.species_)

    def transform(self, X: Sequence[Atoms]) -> np.ndarray | sp.csr_matrix:
        """Features of ``X``: one row per structure (per atom for per-atom descriptors)."""
        check_is_fitted(self, "descriptor_")
        structures = self._check(X, self.species_)
        self._check_transform(structures)
        out = create_features(
            self.descriptor_,
            structures,
            n_jobs=self.n_jobs,
            per_atom=self._per_atom,
            kwargs=self._create_kwargs(),
        )
        return self._finish(out, structures)

    def _check_transform(self, structures: list[Atoms]) -> None:
        if self.periodic_:
            for i, a in enumerate(structures):
                if not a.pbc.any():
                    raise StructureError(
                        f"{structure_name(a, i)}: not periodic, but {type(self).__name__} was "
                        "fitted on periodic structures"
                    )

    def _finish(self, out: Any, structures: list[Atoms]) -> Any:
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """``<name>0``, ``<name>1``, ...: dscribe's layout has no cheap per-column labels."""
        check_is_fitted(self, "descriptor_")
        prefix = type(self).__name__.replace("Descriptor", "").lower()
        return np.array([f"{prefix}{i}" for i in range(self.n_features_out_)], dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.requires_fit = True
        return tags


# -- SOAP -------------------------------------------------------------------------------------


class SOAPDescriptor(_DscribeTransformer):
    """Smooth overlap of atomic positions: averaged per structure, or one row per atom.

    Parameters
    ----------
    r_cut : float, default=5.0
        Cutoff radius in angstrom.
    n_max, l_max : int, default=8, 6
        Radial and angular basis sizes. Features grow as (n_species * n_max)^2 * (l_max + 1) / 2.
    sigma : float, default=1.0
        Width of the atomic Gaussians, angstrom.
    rbf : {"gto", "polynomial"}, default="gto"
    average : {"inner", "outer", "off"}, default="inner"
        ``"inner"`` averages the expansion coefficients over atoms before the power spectrum,
        ``"outer"`` averages the power spectra, ``"off"`` gives one row per atom (all
        structures stacked in order; see ``structure_index``).
    species : list of str, optional
        Elements to describe; default: those in the data given to ``fit``.
    periodic : bool, optional
        Default: periodic if any fitted structure has periodic boundaries.
    sparse : bool, default=False
        Return a ``scipy.sparse.csr_matrix``.
    n_jobs : int, default=1
        Worker processes (joblib semantics: -1 uses every core).
    min_distance : float, default=0.5
        Atoms closer than this (angstrom) make a structure invalid.

    Attributes
    ----------
    species_, periodic_, descriptor_ (the dscribe ``SOAP``), n_features_out_

    Examples
    --------
    >>> from ase.build import bulk
    >>> train = [bulk("Cu"), bulk("NaCl", "rocksalt", a=5.6)]
    >>> soap = SOAPDescriptor(r_cut=4.0, n_max=2, l_max=2).fit(train)
    >>> soap.species_, soap.transform([bulk("Cu")]).shape
    (['Na', 'Cl', 'Cu'], (1, 63))
    """

    def __init__(
        self,
        r_cut: float = 5.0,
        n_max: int = 8,
        l_max: int = 6,
        sigma: float = 1.0,
        rbf: str = "gto",
        average: str = "inner",
        species: Sequence[str] | None = None,
        periodic: bool | None = None,
        sparse: bool = False,
        n_jobs: int | None = 1,
        min_distance: float = MIN_DISTANCE,
    ) -> None:
        self.r_cut = r_cut
        self.n_max = n_max
        self.l_max = l_max
        self.sigma = sigma
        self.rbf = rbf
        self.average = average
        self.species = species
        self.periodic = periodic
        self.sparse = sparse
        self.n_jobs = n_jobs
        self.min_distance = min_distance

    @property
    def _per_atom(self) -> bool:  # type: ignore[override]
        return self.average == "off"

    def _make(self) -> Any:
        from dscribe.descriptors import SOAP

        if self.average not in ("inner", "outer", "off"):
            raise ValueError(
                f"SOAPDescriptor.average must be 'inner', 'outer' or 'off', got {self.average!r}"
            )
        return SOAP(
            species=self.species_,
            r_cut=self.r_cut,
            n_max=self.n_max,
            l_max=self.l_max,
            sigma=self.sigma,
            rbf=self.rbf,
            average=self.average,
            periodic=self.periodic_,
            sparse=self.sparse,
        )


# -- MBTR -------------------------------------------------------------------------------------

#: geometry -> (k, grid min, grid max, sigma) defaults; None = from the fitted data.
_MBTR_GRIDS: dict[str, tuple[int, float | None, float | None, float]] = {
    "atomic_number": (1, None, None, 0.1),
    "distance": (2, 0.0, None, 0.1),
    "inverse_distance": (2, 0.0, 1.0, 0.02),
    "angle": (3, 0.0, 180.0, 2.0),
    "cosine": (3, -1.0, 1.0, 0.02),
}


class MBTRDescriptor(_DscribeTransformer):
    """Many-body tensor representation: one k-term (k1, k2 or k3) per transformer.

    Concatenate k-terms with ``sklearn.pipeline.FeatureUnion``. dscribe 2.1.2's MBTR fails
    with ASE >= 3.27; a keyword-forwarding shim (``_dscribe_compat``) is applied when needed.

    Parameters
    ----------
    geometry : {"atomic_number", "distance", "inverse_distance", "angle", "cosine"}
        The k-body geometry function, default ``"inverse_distance"`` (k2).
    grid_min, grid_max : float, optional
        Grid range; defaults by geometry (k1: 0.5 to the largest Z + 0.5; distance: 0 to the
        weighting cutoff).
    n_grid : int, default=100
    sigma : float, optional
        Gaussian broadening in the geometry's unit; defaults by geometry.
    weighting : {"exp", "inverse_square", "unity"} or None, default="exp"
        Distance weighting of k2/k3 terms (k1 is always unweighted). Periodic structures need
        a decaying weighting; its cutoff -ln(threshold)/scale drives the cost.
    scale, threshold : float, default=1.0, 1e-3
        Exponential weighting exp(-scale * r) cut where it drops below ``threshold``.
    r_cut : float, optional
        Cutoff of the ``inverse_square`` weighting.
    normalization : {"l2", "n_atoms", "valle_oganov", "none"}, default="l2"
        ``"l2"`` turns an all-zero vector (no pair or triplet within the cutoff) into NaN in
        dscribe; such rows are returned as zeros.
    species, periodic, sparse, n_jobs, min_distance
        As in ``SOAPDescriptor``.

    Attributes
    ----------
    species_, periodic_, grid_ (dict), descriptor_, n_features_out_
    """

    def __init__(
        self,
        geometry: str = "inverse_distance",
        grid_min: float | None = None,
        grid_max: float | None = None,
        n_grid: int = 100,
        sigma: float | None = None,
        weighting: str | None = "exp",
        scale: float = 1.0,
        threshold: float = 1e-3,
        r_cut: float | None = None,
        normalization: str = "l2",
        species: Sequence[str] | None = None,
        periodic: bool | None = None,
        sparse: bool = False,
        n_jobs: int | None = 1,
        min_distance: float = MIN_DISTANCE,
    ) -> None:
        self.geometry = geometry
        self.grid_min = grid_min
        self.grid_max = grid_max
        self.n_grid = n_grid
        self.sigma = sigma
        self.weighting = weighting
        self.scale = scale
        self.threshold = threshold
        self.r_cut = r_cut
        self.normalization = normalization
        self.species = species
        self.periodic = periodic
        self.sparse = sparse
        self.n_jobs = n_jobs
        self.min_distance = min_distance

    def _weighting(self, k: int) -> dict | None:
        if k == 1:
            return None
        if self.weighting in (None, "unity"):
            if self.periodic_:
                raise ValueError(
                    "MBTRDescriptor: periodic structures need a decaying weighting ('exp' or "
                    f"'inverse_square') for k2/k3 terms, got weighting={self.weighting!r}"
                )
            return None
        if self.weighting == "exp":
            return {"function": "exp", "scale": self.scale, "threshold": self.threshold}
        if self.weighting == "inverse_square":
            if self.r_cut is None:
                raise ValueError("MBTRDescriptor: weighting='inverse_square' needs r_cut")
            return {"function": "inverse_square", "r_cut": self.r_cut}
        raise ValueError(
            "MBTRDescriptor.weighting must be 'exp', 'inverse_square', 'unity' or None, "
            f"got {self.weighting!r}"
        )

    def _fit_extra(self, structures: list[Atoms]) -> None:
        if self.geometry not in _MBTR_GRIDS:
            raise ValueError(
                f"MBTRDescriptor.geometry must be one of {', '.join(_MBTR_GRIDS)}, "
                f"got {self.geometry!r}"
            )
        k, lo, hi, sigma = _MBTR_GRIDS[self.geometry]
        if self.geometry == "atomic_number":
            numbers = [Atoms(s).numbers[0] for s in self.species_]
            lo, hi = 0.5, max(numbers) + 0.5
        elif self.geometry == "distance":
            w = self._weighting(2)
            if w is None:
                hi = 10.0
            elif w["function"] == "exp":
                hi = -np.log(self.threshold) / self.scale
            else:
                hi = w["r_cut"]
        lo = lo if self.grid_min is None else self.grid_min
        hi = hi if self.grid_max is None else self.grid_max
        self.grid_ = {
            "min": float(lo),
            "max": float(hi),
            "n": int(self.n_grid),
            "sigma": float(self.sigma if self.sigma is not None else sigma),
        }

    def _make(self) -> Any:
        from dscribe.descriptors import MBTR

        ensure_dscribe_compat()
        k = _MBTR_GRIDS[self.geometry][0]
        return MBTR(
            geometry={"function": self.geometry},
            grid=self.grid_,
            weighting=self._weighting(k),
            normalization=self.normalization,
            species=self.species_,
            periodic=self.periodic_,
            sparse=self.sparse,
        )

    def _finish(self, out: Any, structures: list[Atoms]) -> Any:
        if sp.issparse(out):
            out.data[~np.isfinite(out.data)] = 0.0
            out.eliminate_zeros()
        else:
            out[~np.isfinite(out)] = 0.0
        return out


# -- ACSF -------------------------------------------------------------------------------------

#: (eta in 1/angstrom^2, R_s in angstrom) of the default radial functions.
DEFAULT_G2 = ((0.01, 0.0), (0.05, 0.0), (0.2, 0.0), (1.0, 0.0))
#: (eta, zeta, lambda) of the default angular functions.
DEFAULT_G4 = ((0.005, 1.0, 1.0), (0.005, 1.0, -1.0), (0.005, 4.0, 1.0), (0.005, 4.0, -1.0))


class ACSFDescriptor(_DscribeTransformer):
    """Atom-centred symmetry functions (Behler): one row per atom, or their mean.

    Parameters
    ----------
    r_cut : float, default=6.0
    g2_params, g3_params, g4_params, g5_params : list of tuples, optional
        As in dscribe; by default 4 radial (G2) and 4 angular (G4) functions,
        ``DEFAULT_G2`` and ``DEFAULT_G4``.
    average : {"off", "mean"}, default="off"
        ``"off"`` stacks per-atom rows in order (see ``structure_index``); ``"mean"`` gives
        one row per structure, the mean over its atoms.
    species, periodic, sparse, n_jobs, min_distance
        As in ``SOAPDescriptor``.
    """

    def __init__(
        self,
        r_cut: float = 6.0,
        g2_params: Sequence[Sequence[float]] | None = None,
        g3_params: Sequence[float] | None = None,
        g4_params: Sequence[Sequence[float]] | None = None,
        g5_params: Sequence[Sequence[float]] | None = None,
        average: str = "off",
        species: Sequence[str] | None = None,
        periodic: bool | None = None,
        sparse: bool = False,
        n_jobs: int | None = 1,
        min_distance: float = MIN_DISTANCE,
    ) -> None:
        self.r_cut = r_cut
        self.g2_params = g2_params
        self.g3_params = g3_params
        self.g4_params = g4_params
        self.g5_params = g5_params
        self.average = average
        self.species = species
        self.periodic = periodic
        self.sparse = sparse
        self.n_jobs = n_jobs
        self.min_distance = min_distance

    _per_atom = True

    def _make(self) -> Any:
        from dscribe.descriptors import ACSF

        if self.average not in ("off", "mean"):
            raise ValueError(
                f"ACSFDescriptor.average must be 'off' or 'mean', got {self.average!r}"
            )
        g2 = DEFAULT_G2 if self.g2_params is None else self.g2_params
        g4 = DEFAULT_G4 if self.g4_params is None else self.g4_params
        return ACSF(
            r_cut=self.r_cut,
            g2_params=[list(p) for p in g2] or None,
            g3_params=None if self.g3_params is None else list(self.g3_params),
            g4_params=[list(p) for p in g4] or None,
            g5_params=None if self.g5_params is None else [list(p) for p in self.g5_params],
            species=self.species_,
            periodic=self.periodic_,
            sparse=self.sparse,
        )

    def _finish(self, out: Any, structures: list[Atoms]) -> Any:
        if self.average == "off":
            return out
        counts = np.array([len(a) for a in structures])
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        if sp.issparse(out):
            # mean over each structure's rows: a (n_structures x n_atoms) averaging matrix
            rows = structure_index(structures)
            avg = sp.csr_matrix((1.0 / counts[rows], (rows, np.arange(rows.size))))
            return (avg @ out).tocsr()
        return np.add.reduceat(out, starts, axis=0) / counts[:, None]


# -- matrix descriptors -----------------------------------------------------------------------


class _MatrixDescriptor(_DscribeTransformer):
    """Sine / Ewald: padded to the largest structure seen at fit (``n_atoms_max_``)."""

    _needs_cell = True

    def _fit_extra(self, structures: list[Atoms]) -> None:
        largest = max(len(a) for a in structures)
        self.n_atoms_max_ = int(self.n_atoms_max if self.n_atoms_max is not None else largest)
        if largest > self.n_atoms_max_:
            raise StructureError(
                f"{type(self).__name__}: a structure has {largest} atoms, more than "
                f"n_atoms_max={self.n_atoms_max_}"
            )

    def _check_species(self, structures: list[Atoms]) -> None:
        pass  # matrix descriptors take any element: the species only label the fit

    def _check(self, X: object, species: Sequence[str] | None) -> list[Atoms]:
        return check_structures(X, min_distance=self.min_distance, need_cell=True)

    def _check_transform(self, structures: list[Atoms]) -> None:
        for i, a in enumerate(structures):
            if len(a) > self.n_atoms_max_:
                raise StructureError(
                    f"{structure_name(a, i)}: {len(a)} atoms, more than n_atoms_max="
                    f"{self.n_atoms_max_} that {type(self).__name__} was fitted with"
                )


class SineMatrixDescriptor(_MatrixDescriptor):
    """Sine matrix of a periodic structure (Faber et al. 2015), by default its sorted
    eigenvalue spectrum, which is invariant to atom order.

    Parameters
    ----------
    n_atoms_max : int, optional
        Padding size; default: the largest structure given to ``fit``.
    permutation : {"eigenspectrum", "sorted_l2", "none"}, default="eigenspectrum"
    species, sparse, n_jobs, min_distance
        As in ``SOAPDescriptor`` (``species`` is ignored: any element is accepted).
    """

    def __init__(
        self,
        n_atoms_max: int | None = None,
        permutation: str = "eigenspectrum",
        species: Sequence[str] | None = None,
        sparse: bool = False,
        n_jobs: int | None = 1,
        min_distance: float = MIN_DISTANCE,
    ) -> None:
        self.n_atoms_max = n_atoms_max
        self.permutation = permutation
        self.species = species
        self.sparse = sparse
        self.n_jobs = n_jobs
        self.min_distance = min_distance

    def _make(self) -> Any:
        from dscribe.descriptors import SineMatrix

        ensure_dscribe_compat()
        return SineMatrix(
            n_atoms_max=self.n_atoms_max_, permutation=self.permutation, sparse=self.sparse
        )


class EwaldMatrixDescriptor(_MatrixDescriptor):
    """Ewald sum matrix of a periodic structure (Faber et al. 2015), by default its sorted
    eigenvalue spectrum.

    Parameters
    ----------
    n_atoms_max : int, optional
        Padding size; default: the largest structure given to ``fit``.
    permutation : {"eigenspectrum", "sorted_l2", "none"}, default="eigenspectrum"
    accuracy, w, r_cut, g_cut, a
        Ewald summation settings passed to dscribe's ``create``.
    species, sparse, n_jobs, min_distance
        As in ``SineMatrixDescriptor``.
    """

    def __init__(
        self,
        n_atoms_max: int | None = None,
        permutation: str = "eigenspectrum",
        accuracy: float = 1e-5,
        w: float = 1.0,
        r_cut: float | None = None,
        g_cut: float | None = None,
        a: float | None = None,
        species: Sequence[str] | None = None,
        sparse: bool = False,
        n_jobs: int | None = 1,
        min_distance: float = MIN_DISTANCE,
    ) -> None:
        self.n_atoms_max = n_atoms_max
        self.permutation = permutation
        self.accuracy = accuracy
        self.w = w
        self.r_cut = r_cut
        self.g_cut = g_cut
        self.a = a
        self.species = species
        self.sparse = sparse
        self.n_jobs = n_jobs
        self.min_distance = min_distance

    def _make(self) -> Any:
        from dscribe.descriptors import EwaldSumMatrix

        return EwaldSumMatrix(
            n_atoms_max=self.n_atoms_max_, permutation=self.permutation, sparse=self.sparse
        )

    def _create_kwargs(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "w": self.w,
            "r_cut": self.r_cut,
            "g_cut": self.g_cut,
            "a": self.a,
        }
