"""Quality functions: how exceptional a subgroup's target is, and how good its refinements can be.

Every quality is vectorised over a batch of candidate subgroups: ``quality(sg, pop)`` takes the
statistics of many subgroups at once (:class:`SubgroupStats`) and of the whole population, and
returns one value per subgroup. ``optimistic_estimate(sg, pop)`` returns, per subgroup, a value
no refinement of it can beat; the exhaustive search prunes with it.

A user-defined quality subclasses :class:`Quality` and implements ``__call__``; an optimistic
estimate is optional (without one, branch and bound cannot prune and warns)::

    class VarianceRatio(Quality):
        name = "variance-ratio"

        def __call__(self, sg, pop):
            return sg.coverage * (1 - sg.std**2 / pop.std[0] ** 2)
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod

import numpy as np

from bigmax.analytics.subgroups import _kernels as K
from bigmax.analytics.subgroups.selectors import SubgroupInputError

__all__ = [
    "CumulativeJS",
    "DispersionCorrectedMedianShift",
    "Impact",
    "MeanShift",
    "Quality",
    "StdReduction",
    "SubgroupStats",
    "WRAcc",
    "get_quality",
]


class SubgroupStats:
    """Target statistics of a batch of subgroups (arrays of length n_subgroups).

    ``positions``/``offsets`` list each subgroup's members as CSR, by position in the target
    sorted ascending (``y_sorted``), so ``values(j)`` is subgroup j's sorted target. ``count``
    is always there; ``sum``, ``mean``, ``std``, ``min``, ``max``, ``median`` and ``mad`` (mean
    absolute deviation from the median) are computed when first read, so a quality pays only
    for what it uses.
    """

    def __init__(
        self, y_sorted: np.ndarray, positions: np.ndarray, offsets: np.ndarray
    ) -> None:
        self.y_sorted = y_sorted
        self.positions = positions
        self.offsets = offsets
        self.count = np.diff(offsets)
        self.n_population = len(y_sorted)
        self._cache: dict[str, np.ndarray] = {}

    @classmethod
    def from_positions(
        cls, y_sorted: np.ndarray, positions: np.ndarray, offsets: np.ndarray
    ) -> SubgroupStats:
        """Statistics of the subgroups whose sorted member positions are given as CSR."""
        return cls(y_sorted, positions, offsets)

    @classmethod
    def population(cls, y_sorted: np.ndarray) -> SubgroupStats:
        """The whole population as a batch of one."""
        n = len(y_sorted)
        return cls(y_sorted, np.arange(n, dtype=np.int32), np.array([0, n], dtype=np.int64))

    def __len__(self) -> int:
        return len(self.count)

    def _get(self, name: str) -> np.ndarray:
        if name not in self._cache:
            y, pos, off = self.y_sorted, self.positions, self.offsets
            if name == "sum":
                self._cache[name] = K.segment_sums(y, pos, off)
            elif name == "mean":
                with np.errstate(invalid="ignore", divide="ignore"):
                    self._cache[name] = self.sum / self.count
            elif name == "std":
                self._cache[name] = K.segment_std(y, pos, off, self.mean)
            elif name in ("median", "mad"):
                self._cache["median"], self._cache["mad"] = K.segment_median_mad(y, pos, off)
            elif name in ("min", "max"):
                nonempty = self.count > 0
                lo = np.full(len(self), np.nan)
                hi = np.full(len(self), np.nan)
                lo[nonempty] = y[pos[off[:-1][nonempty]]]
                hi[nonempty] = y[pos[off[1:][nonempty] - 1]]
                self._cache["min"], self._cache["max"] = lo, hi
        return self._cache[name]

    sum = property(lambda self: self._get("sum"), doc="Sum of the target.")
    mean = property(lambda self: self._get("mean"), doc="Mean of the target.")
    std = property(lambda self: self._get("std"), doc="Population standard deviation.")
    min = property(lambda self: self._get("min"), doc="Smallest target value.")
    max = property(lambda self: self._get("max"), doc="Largest target value.")
    median = property(lambda self: self._get("median"), doc="Median of the target.")
    mad = property(
        lambda self: self._get("mad"), doc="Mean absolute deviation from the median."
    )

    @property
    def coverage(self) -> np.ndarray:
        """Fraction of the population in each subgroup."""
        return self.count / self.n_population

    def values(self, j: int) -> np.ndarray:
        """Sorted target values of subgroup ``j``."""
        return self.y_sorted[self.positions[self.offsets[j] : self.offsets[j + 1]]]

    @property
    def flat_values(self) -> np.ndarray:
        """All members' target values, segment after segment (sorted within each)."""
        if "flat" not in self._cache:
            self._cache["flat"] = self.y_sorted[self.positions]
        return self._cache["flat"]


class Quality(ABC):
    """Base class of quality functions (see the module docstring for a user-defined one).

    Attributes: ``name`` (shown in results), ``target`` ("numeric" or "binary": what the target
    must be), ``lower_is_better``-style direction is up to each quality. ``bind(y_sorted)``
    returns a copy prepared for one population; qualities may precompute constants there.
    """

    name: str = "custom"
    target: str = "numeric"

    def bind(self, y_sorted: np.ndarray, min_count: int = 1) -> Quality:
        """A copy of this quality prepared for the population ``y_sorted`` (ascending).

        ``min_count`` is the smallest subgroup the search accepts; estimates may use it.
        """
        bound = copy.deepcopy(self)
        bound.min_count_ = max(int(min_count), 1)
        bound._prepare(np.asarray(y_sorted, dtype=np.float64))
        return bound

    def _prepare(self, y_sorted: np.ndarray) -> None:
        self.pop_ = SubgroupStats.population(y_sorted)

    @abstractmethod
    def __call__(self, sg: SubgroupStats, pop: SubgroupStats) -> np.ndarray:
        """The quality of each subgroup in ``sg`` against the population ``pop``."""

    # A subclass may define:
    # def optimistic_estimate(self, sg, pop, threshold=-np.inf) -> np.ndarray
    # returning per subgroup an upper bound on the quality of every subset of it.

    def linear_weights(self) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-sample weights (w_q, w_oe) if quality = sum of w_q and estimate = sum of w_oe.

        Qualities of this form (impact, WRAcc) run on the matrix-product search engine.
        """
        return None

    def __repr__(self) -> str:
        params = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_") and k != "name"
        )
        return f"{type(self).__name__}({params})"


def _sign(direction: str) -> int:
    if direction not in ("higher", "lower"):
        raise SubgroupInputError(f"direction must be 'higher' or 'lower', not {direction!r}")
    return 1 if direction == "higher" else -1


class MeanShift(Quality):
    """(|Q|/|P|)^a (mean_Q - mean_P): a = 1 is impact, a = 0.5 is t-score-like.

    ``direction="lower"`` looks for low targets. The optimistic estimate is tight: the best
    prefix of the subgroup's targets sorted from the most extreme (Grosskreutz et al. 2008).
    """

    name = "mean-shift"

    def __init__(self, a: float = 1.0, direction: str = "higher") -> None:
        self.a = a
        self.direction = direction

    def _prepare(self, y_sorted: np.ndarray) -> None:
        super()._prepare(y_sorted)
        if self.a < 0:
            raise SubgroupInputError(
                f"mean shift: the coverage exponent a must be >= 0, not {self.a}"
            )
        self.sign_ = _sign(self.direction)
        self.mu_ = float(self.pop_.mean[0])

    def __call__(self, sg: SubgroupStats, pop: SubgroupStats) -> np.ndarray:
        return sg.coverage**self.a * self.sign_ * (sg.mean - self.mu_)

    def optimistic_estimate(
        self, sg: SubgroupStats, pop: SubgroupStats, threshold: float = -np.inf
    ) -> np.ndarray:
        return K.meanshift_oe(
            sg.flat_values, sg.offsets, sg.n_population, self.mu_, float(self.a),
            self.min_count_, self.sign_,
        )

    def linear_weights(self) -> tuple[np.ndarray, np.ndarray] | None:
        if self.a != 1.0:
            return None
        y = self.pop_.y_sorted
        n = len(y)
        w = self.sign_ * (y - self.mu_) / n
        return w, np.maximum(w, 0.0)


class Impact(MeanShift):
    """Impact: coverage x (mean_Q - mean_P), the mean shift with a = 1."""

    name = "impact"

    def __init__(self, direction: str = "higher") -> None:
        super().__init__(a=1.0, direction=direction)


class WRAcc(MeanShift):
    """Weighted relative accuracy, coverage x (p_Q - p_P), for a binary (0/1) target."""

    name = "wracc"
    target = "binary"

    def __init__(self) -> None:
        super().__init__(a=1.0, direction="higher")


class DispersionCorrectedMedianShift(Quality):
    """(|Q|/|P|)^gamma (med_Q - med_P)+ (1 - amd_Q/amd_P)+ (Boley et al., DMKD 31, 1391 (2017)).

    ``amd`` is the mean absolute deviation from the median (the "MAD" of the results table):
    the median shift is discounted by the subgroup's dispersion, so a consistent group beats a
    large heterogeneous one. The optimistic estimate is tight (best contiguous window of the
    sorted targets, searched over sizes).
    """

    name = "median-shift"

    def __init__(self, gamma: float = 1.0, direction: str = "higher") -> None:
        self.gamma = gamma
        self.direction = direction

    def _prepare(self, y_sorted: np.ndarray) -> None:
        super()._prepare(y_sorted)
        self.sign_ = _sign(self.direction)
        self.med_ = float(self.pop_.median[0])
        self.amd_ = float(self.pop_.mad[0])
        if self.amd_ <= 0:
            raise SubgroupInputError("median shift: the target has no dispersion (all equal)")

    def __call__(self, sg: SubgroupStats, pop: SubgroupStats) -> np.ndarray:
        shift = np.maximum(self.sign_ * (sg.median - self.med_), 0.0)
        return sg.coverage**self.gamma * shift * np.maximum(1.0 - sg.mad / self.amd_, 0.0)

    def optimistic_estimate(
        self, sg: SubgroupStats, pop: SubgroupStats, threshold: float = -np.inf
    ) -> np.ndarray:
        return K.median_shift_oe(
            sg.flat_values, sg.offsets, sg.n_population, self.med_, self.amd_,
            float(self.gamma), self.min_count_, self.sign_, float(threshold),
        )


class StdReduction(Quality):
    """(|Q|/|P|)^gamma (1 - sigma_Q/sigma_P): large groups with a narrow target distribution.

    Used in the NOMAD catalysis SGD work (Foppa & Ghiringhelli). The estimate is tight: the
    least-variance window of the sorted targets, searched over sizes.
    """

    name = "std-reduction"

    def __init__(self, gamma: float = 1.0) -> None:
        self.gamma = gamma

    def _prepare(self, y_sorted: np.ndarray) -> None:
        super()._prepare(y_sorted)
        self.sigma_ = float(self.pop_.std[0])
        if self.sigma_ <= 0:
            raise SubgroupInputError("std reduction: the target has no spread (all equal)")

    def __call__(self, sg: SubgroupStats, pop: SubgroupStats) -> np.ndarray:
        return sg.coverage**self.gamma * (1.0 - sg.std / self.sigma_)

    def optimistic_estimate(
        self, sg: SubgroupStats, pop: SubgroupStats, threshold: float = -np.inf
    ) -> np.ndarray:
        return K.std_reduction_oe(
            sg.flat_values, sg.offsets, sg.n_population, self.sigma_, float(self.gamma),
            self.min_count_, float(threshold),
        )


class CumulativeJS(Quality):
    """(|Q|/|P|)^gamma CJS(F_Q, F_P) / sigma_P, the cumulative Jensen-Shannon divergence.

    CJS = integral of F_Q log2(2F_Q/(F_Q+F_P)) + F_P log2(2F_P/(F_Q+F_P)) over the target, with
    F the empirical CDFs (after Nguyen & Vreeken, SDM 2015, symmetrised); it needs no binning
    and sees any change of shape, not only a shift. Divided by sigma_P it has no unit. Its cost
    is O(N) per subgroup. The estimate is a valid bound, not a tight one (``_kernels.cjs_oe``).
    """

    name = "cjs"

    def __init__(self, gamma: float = 1.0) -> None:
        self.gamma = gamma

    def _prepare(self, y_sorted: np.ndarray) -> None:
        super()._prepare(y_sorted)
        self.tables_ = K.cjs_tables(y_sorted)
        self.blocks_ = K.cjs_blocks(self.tables_[0])
        # log2 units, per unit of the population's standard deviation
        self.norm_ = float(self.pop_.std[0]) * np.log(2.0)
        if self.norm_ <= 0:
            raise SubgroupInputError("CJS: the target has no spread (all equal)")

    def _quick(self, sg: SubgroupStats) -> np.ndarray:
        _, _, p0, p1, pm = self.tables_
        return K.cjs_quick_bound(sg.positions, sg.offsets, p0, p1, pm, sg.n_population,
                                 float(self.gamma), self.norm_)

    def __call__(
        self, sg: SubgroupStats, pop: SubgroupStats, threshold: float = -np.inf
    ) -> np.ndarray:
        """Exact values; where a cheap bound is below ``threshold`` that bound is returned."""
        dy, blnb, p0, p1, _ = self.tables_
        if threshold > -np.inf:
            edges, block_dy = self.blocks_
            out = K.cjs_block_bound(sg.positions, sg.offsets, edges, block_dy, sg.n_population)
            out *= sg.coverage**self.gamma / self.norm_
        else:
            out = np.full(len(sg), np.inf)
        todo = np.flatnonzero(out >= threshold)
        if len(todo) == len(sg):
            cjs = K.cjs_values(sg.positions, sg.offsets, dy, blnb, p0, p1, sg.n_population)
            return sg.coverage**self.gamma * cjs / self.norm_
        if len(todo):
            sub = _subset(sg, todo)
            cjs = K.cjs_values(sub.positions, sub.offsets, dy, blnb, p0, p1, sg.n_population)
            out[todo] = sub.coverage**self.gamma * cjs / self.norm_
        return out

    def optimistic_estimate(
        self, sg: SubgroupStats, pop: SubgroupStats, threshold: float = -np.inf
    ) -> np.ndarray:
        dy, _, p0, p1, _ = self.tables_
        return K.cjs_oe(
            sg.positions, sg.offsets, dy, p0, p1, sg.n_population, float(self.gamma),
            self.min_count_, self.norm_, self._quick(sg), float(threshold),
        )



def _subset(sg: SubgroupStats, idx: np.ndarray) -> SubgroupStats:
    """The subgroups ``idx`` of a batch, as a batch."""
    starts = sg.offsets[idx]
    counts = sg.count[idx]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    take = np.repeat(starts - offsets[:-1], counts) + np.arange(offsets[-1])
    return SubgroupStats(sg.y_sorted, sg.positions[take], offsets)


_NAMES = {
    "impact": Impact,
    "wracc": WRAcc,
    "mean-shift": MeanShift,
    "median-shift": DispersionCorrectedMedianShift,
    "std-reduction": StdReduction,
    "cjs": CumulativeJS,
}


def get_quality(quality: str | Quality) -> Quality:
    """A quality instance from a name (``impact``, ``wracc``, ``mean-shift``, ``median-shift``,
    ``std-reduction``, ``cjs``) or an instance, returned as is."""
    if isinstance(quality, Quality):
        return quality
    if isinstance(quality, str) and quality in _NAMES:
        return _NAMES[quality]()
    raise SubgroupInputError(
        f"quality must be one of {', '.join(_NAMES)} or a Quality instance, not {quality!r}"
    )
