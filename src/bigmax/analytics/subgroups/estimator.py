"""``SubgroupDiscovery``: the scikit-learn-style estimator over selectors, qualities and search."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from bigmax.analytics.subgroups.quality import Quality, SubgroupStats, get_quality
from bigmax.analytics.subgroups.search import Candidate, Problem, run_search
from bigmax.analytics.subgroups.selectors import (
    Rule,
    SubgroupInputError,
    make_selectors,
    split_unit,
)

__all__ = ["SubgroupDiscovery"]

_COLUMNS = ["target", "rule", "count", "coverage", "mean", "median", "mad", "std", "quality",
            "p_value"]


class SubgroupDiscovery(TransformerMixin, BaseEstimator):
    """Find the top-k conjunctive rules whose target distribution is most exceptional.

    Parameters
    ----------
    quality : str or Quality, default="impact"
        ``impact``, ``wracc`` (binary or categorical target), ``mean-shift``, ``median-shift``
        (dispersion-corrected), ``std-reduction``, ``cjs``, or a :class:`Quality` instance.
    search : {"bnb", "beam", "best-first"}, default="bnb"
        Exhaustive branch and bound (exact top-k), heuristic beam search, or exhaustive
        best-first search (exact top-k, explores by optimistic estimate).
    depth : int, default=2
        Largest number of selectors in a rule.
    top_k : int, default=10
        Number of subgroups per target.
    cut_points : {"quantiles", "kmeans"}, default="quantiles"
        How numeric features are cut into threshold selectors.
    n_cuts : int, default=9
        Cut points per numeric feature (9 gives deciles); features with fewer distinct values
        are cut between every pair of neighbouring values.
    intervals : bool, default=False
        Also add interval selectors between neighbouring cut points.
    min_coverage : float, default=0.0
        Smallest subgroup, as a fraction of the samples (at least one sample).
    closed : bool, default=True
        Skip conjunctions that cover exactly what a shorter one covers.
    max_overlap : float or None, default=None
        Diversity filter: greedily drop a subgroup whose Jaccard overlap with a better one
        exceeds this (the search then keeps 5 * top_k candidates to choose from).
    beam_width : int, default=20
        Beam width of ``search="beam"``.
    positive_class : object, default=None
        Class of a categorical target that WRAcc scores; None runs one search per class.
    n_permutations : int, default=1000
        Random subsets of the same size drawn for each subgroup's p-value (0 skips them).
    n_jobs : int, default=1
        Threads (and BLAS threads) for the search; results do not depend on it.
    random_state : int, Generator or None, default=None
        Seeds the p-value draws only; the search itself has no randomness.

    Attributes
    ----------
    subgroups_ : pandas.DataFrame
        One row per subgroup, best first within each target: target, rule (a :class:`Rule`),
        count, coverage, mean, median, mad (mean absolute deviation from the median), std,
        quality and p_value.
    rules_ : list of Rule
    selectors_ : list of Selector
        Every selector the search could use.
    feature_names_in_ : ndarray of str
    n_features_in_ : int
    targets_ : list of str
    n_evaluated_ : int
        Conjunctions whose quality was computed, over all targets.

    Notes
    -----
    Several targets (``y`` a DataFrame) run one search per target column; a categorical target
    with WRAcc runs one search per class (one versus the rest). Rows with a missing value in a
    feature or a target are dropped with a warning that names the columns.

    The p-value of a subgroup of size n is the fraction of ``n_permutations`` uniformly random
    subsets of n samples whose quality is at least as high, (1 + hits) / (1 + draws). It does
    not correct for the search having picked the best of many rules.
    """

    def __init__(
        self,
        quality: str | Quality = "impact",
        search: str = "bnb",
        depth: int = 2,
        top_k: int = 10,
        cut_points: str = "quantiles",
        n_cuts: int = 9,
        intervals: bool = False,
        min_coverage: float = 0.0,
        closed: bool = True,
        max_overlap: float | None = None,
        beam_width: int = 20,
        positive_class: object = None,
        n_permutations: int = 1000,
        n_jobs: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.quality = quality
        self.search = search
        self.depth = depth
        self.top_k = top_k
        self.cut_points = cut_points
        self.n_cuts = n_cuts
        self.intervals = intervals
        self.min_coverage = min_coverage
        self.closed = closed
        self.max_overlap = max_overlap
        self.beam_width = beam_width
        self.positive_class = positive_class
        self.n_permutations = n_permutations
        self.n_jobs = n_jobs
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.input_tags.allow_nan = True  # rows with NaN are dropped, with a warning
        tags.input_tags.string = True  # text columns become equality selectors
        tags.transformer_tags.preserves_dtype = []  # transform gives 0/1 membership
        return tags

    # -- validation ------------------------------------------------------------------------

    def _check_params(self) -> Quality:
        def bad(name: str, allowed: str) -> SubgroupInputError:
            return SubgroupInputError(
                f"The {name!r} parameter of SubgroupDiscovery must be {allowed}; "
                f"got {getattr(self, name)!r}"
            )

        if self.search not in ("bnb", "beam", "best-first"):
            raise bad("search", "'bnb', 'beam' or 'best-first'")
        if self.cut_points not in ("quantiles", "kmeans"):
            raise bad("cut_points", "'quantiles' or 'kmeans'")
        for name in ("depth", "top_k", "n_cuts", "beam_width", "n_jobs"):
            value = getattr(self, name)
            if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 1:
                raise bad(name, "an integer >= 1")
        if not isinstance(self.n_permutations, int | np.integer) or self.n_permutations < 0:
            raise bad("n_permutations", "an integer >= 0")
        if not 0.0 <= float(self.min_coverage) <= 1.0:
            raise bad("min_coverage", "a fraction in [0, 1]")
        if self.max_overlap is not None and not 0.0 <= float(self.max_overlap) < 1.0:
            raise bad("max_overlap", "None or a fraction in [0, 1)")
        if self.search == "beam" and self.beam_width < self.top_k:
            raise bad("beam_width", f"at least top_k ({self.top_k})")
        return get_quality(self.quality)

    @staticmethod
    def _as_frame(X) -> pd.DataFrame:
        if hasattr(X, "toarray") or type(X).__module__.startswith("scipy.sparse"):
            raise SubgroupInputError("sparse X is not supported; pass a dense array or frame")
        if isinstance(X, pd.DataFrame):
            df = X.copy()
        else:
            arr = np.asarray(X)
            if arr.ndim != 2:
                raise SubgroupInputError(
                    f"X must be 2-D (samples x features), got shape {arr.shape}; "
                    "Reshape your data"
                )
            df = pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])
        if df.shape[1] == 0:
            raise SubgroupInputError(
                f"X has 0 feature(s) (shape={df.shape}) while a minimum of 1 is required."
            )
        if len(df) < 2:
            raise SubgroupInputError(f"X has n_samples = {len(df)}; at least 2 are needed")
        for col in df.columns:
            s = df[col]
            if s.dtype.kind == "c":
                raise SubgroupInputError(f"feature {col!r}: Complex data not supported")
            if s.dtype == object:  # numbers stored as objects stay numbers
                num = pd.to_numeric(s, errors="coerce")
                if num.notna().sum() == s.notna().sum():
                    df[col] = num.astype(np.float64)
        return df

    @staticmethod
    def _as_targets(y, n: int) -> pd.DataFrame:
        if y is None:
            raise SubgroupInputError(
                "SubgroupDiscovery requires y to be passed, but the target y is None"
            )
        if isinstance(y, pd.DataFrame):
            ydf = y.copy()
        elif isinstance(y, pd.Series):
            ydf = y.to_frame(name=y.name if y.name is not None else "y")
        else:
            arr = np.asarray(y)
            if arr.ndim == 1:
                ydf = pd.DataFrame({"y": arr})
            elif arr.ndim == 2:
                ydf = pd.DataFrame(arr, columns=[f"y{i}" for i in range(arr.shape[1])])
            else:
                raise SubgroupInputError(f"y must be 1-D or 2-D, got shape {arr.shape}")
        if len(ydf) != n:
            raise SubgroupInputError(f"X has {n} rows but y has {len(ydf)}")
        for col in ydf.columns:
            if ydf[col].dtype == object:  # numbers stored as objects stay numbers
                num = pd.to_numeric(ydf[col], errors="coerce")
                if num.notna().sum() == ydf[col].notna().sum():
                    ydf[col] = num
        if ydf.shape[1] == 0:
            raise SubgroupInputError("y has no target column")
        return ydf

    @staticmethod
    def _drop_missing(df: pd.DataFrame, ydf: pd.DataFrame) -> np.ndarray:
        """Rows to keep; warns naming every column with missing (or infinite) values."""
        bad_cols: list[str] = []
        keep = np.ones(len(df), dtype=bool)
        for frame in (df, ydf):
            for col in frame.columns:
                s = frame[col]
                if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
                    missing = ~np.isfinite(s.to_numpy(dtype=np.float64, na_value=np.nan))
                else:
                    missing = s.isna().to_numpy()
                if missing.any():
                    bad_cols.append(f"{split_unit(col)[0]!s} ({int(missing.sum())})")
                    keep &= ~missing
        if bad_cols:
            if not keep.any():
                raise SubgroupInputError(
                    f"every row has a missing value; columns with missing values: "
                    f"{', '.join(bad_cols)}"
                )
            warnings.warn(
                f"dropped {int((~keep).sum())} of {len(keep)} rows with missing or infinite "
                f"values in: {', '.join(bad_cols)}",
                UserWarning,
                stacklevel=3,
            )
        return keep

    def _target_runs(
        self, name: str, s: pd.Series, quality: Quality
    ) -> list[tuple[str, np.ndarray]]:
        """(label, numeric target) pairs for one target column: one, or one per class."""
        numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
        if pd.api.types.is_bool_dtype(s):
            return [(name, s.to_numpy(dtype=np.float64))]
        if quality.target == "binary":
            if numeric:
                values = s.to_numpy(dtype=np.float64)
                if not np.isin(values, (0.0, 1.0)).all():
                    raise SubgroupInputError(
                        f"target {name!r} has values other than 0 and 1; quality "
                        f"{quality.name!r} needs a binary or categorical target"
                    )
                return [(name, values)]
            classes = sorted(pd.unique(s.astype(object)), key=str)
            if self.positive_class is not None:
                if self.positive_class not in classes:
                    raise SubgroupInputError(
                        f"positive_class {self.positive_class!r} is not a value of target {name!r} "
                        f"(values: {', '.join(map(repr, classes[:10]))})"
                    )
                classes = [self.positive_class]
            return [(f"{name} == {c!r}", (s.astype(object) == c).to_numpy(dtype=np.float64))
                    for c in classes]
        if not numeric:
            examples = ", ".join(repr(v) for v in pd.unique(s.astype(object))[:3])
            raise SubgroupInputError(
                f"target {name!r} is not numeric (values {examples}, ...); quality "
                f"{quality.name!r} needs a numeric target; use quality='wracc' for a categorical "
                "target"
            )
        return [(name, s.to_numpy(dtype=np.float64))]

    # -- fit ---------------------------------------------------------------------------------

    def fit(self, X, y, progress: Callable[[str, int, int], None] | None = None):
        """Search the subgroups of ``X`` whose target ``y`` is exceptional.

        ``progress(label, done, total)`` is called as the search advances (the CLI's bar).
        """
        quality = self._check_params()
        df = self._as_frame(X)
        ydf = self._as_targets(y, len(df))
        self.feature_names_in_ = np.asarray([str(c) for c in df.columns], dtype=object)
        self.n_features_in_ = df.shape[1]
        keep = self._drop_missing(df, ydf)
        df = df.loc[keep].reset_index(drop=True)
        ydf = ydf.loc[keep].reset_index(drop=True)
        selectors, covers = make_selectors(
            df, n_cuts=int(self.n_cuts), method=self.cut_points, intervals=self.intervals
        )
        self.selectors_ = selectors
        n = len(df)
        min_count = max(1, math.ceil(float(self.min_coverage) * n - 1e-9))
        rng = np.random.default_rng(self.random_state)
        runs = []
        for col in ydf.columns:
            name = split_unit(col)[0]
            runs.extend(self._target_runs(name, ydf[col], quality))
        rows: list[dict] = []
        rules: list[Rule] = []
        members: list[np.ndarray] = []
        self.target_values_: dict[str, np.ndarray] = {}
        self.n_evaluated_ = 0
        keep_k = int(self.top_k) * (5 if self.max_overlap is not None else 1)
        for label, target in runs:
            problem, order = Problem.build(
                target, covers, quality, depth=int(self.depth), top_k=keep_k,
                min_count=min_count, closed=self.closed,
            )
            report = None if progress is None else (lambda d, t, lb=label: progress(lb, d, t))
            result = run_search(problem, self.search, int(self.beam_width), int(self.n_jobs),
                                report)
            self.n_evaluated_ += result.evaluated
            cands = result.candidates
            if self.max_overlap is not None:
                cands = _diverse(problem, cands, float(self.max_overlap), int(self.top_k))
            pvals = _p_values(problem, cands, int(self.n_permutations), rng)
            stats = problem.stats_of([c.conj for c in cands]) if cands else None
            self.target_values_[label] = target
            for j, cand in enumerate(cands):
                rule = Rule(tuple(selectors[i] for i in cand.conj))
                rules.append(rule)
                mask = np.zeros(n, dtype=bool)
                mask[order[stats.positions[stats.offsets[j] : stats.offsets[j + 1]]]] = True
                members.append(mask)
                rows.append({
                    "target": label,
                    "rule": rule,
                    "count": int(cand.count),
                    "coverage": cand.count / n,
                    "mean": float(stats.mean[j]),
                    "median": float(stats.median[j]),
                    "mad": float(stats.mad[j]),
                    "std": float(stats.std[j]),
                    "quality": cand.quality,
                    "p_value": float(pvals[j]) if pvals is not None else np.nan,
                })
        self.targets_ = [label for label, _ in runs]
        self.rules_ = rules
        self.membership_ = (np.array(members).T if members else np.zeros((n, 0), dtype=bool))
        self.subgroups_ = pd.DataFrame(rows, columns=_COLUMNS)
        self.quality_ = quality
        return self

    # -- use ---------------------------------------------------------------------------------

    def _check_X(self, X) -> pd.DataFrame | np.ndarray:
        check_is_fitted(self, "rules_")
        if isinstance(X, pd.DataFrame):
            return X
        if hasattr(X, "toarray"):
            raise SubgroupInputError("sparse X is not supported; pass a dense array or frame")
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise SubgroupInputError(f"X must be 2-D, got shape {arr.shape}; Reshape your data")
        if arr.shape[1] != self.n_features_in_:
            raise SubgroupInputError(
                f"X has {arr.shape[1]} features, but SubgroupDiscovery is expecting "
                f"{self.n_features_in_} features as input"
            )
        return arr

    def transform(self, X) -> np.ndarray:
        """Membership (0/1) of each sample in each subgroup, shape (n_samples, n_subgroups)."""
        X = self._check_X(X)
        out = np.zeros((len(X), len(self.rules_)), dtype=np.uint8)
        for j, rule in enumerate(self.rules_):
            out[:, j] = rule.covers(X)
        return out

    def predict(self, X) -> np.ndarray:
        """Index (row of ``subgroups_``) of the best subgroup each sample falls in, -1 if none."""
        member = self.transform(X).astype(bool)
        first = np.argmax(member, axis=1)
        return np.where(member.any(axis=1), first, -1)

    def score(self, X, y) -> float:
        """Quality of the top subgroup of the first target, evaluated on ``X``, ``y``."""
        X = self._check_X(X)
        if not self.rules_:
            return float("nan")
        if y is None:
            raise SubgroupInputError("score needs y")
        target = np.asarray(self._as_targets(y, len(X)).iloc[:, 0], dtype=np.float64)
        mask = self.rules_[0].covers(X)
        order = np.argsort(target, kind="stable")
        ys = target[order]
        pos = np.flatnonzero(mask[order]).astype(np.int32)
        stats = SubgroupStats.from_positions(ys, pos, np.array([0, len(pos)], dtype=np.int64))
        bound = self.quality_.bind(ys)
        return float(bound(stats, bound.pop_)[0])


def _diverse(
    problem: Problem, cands: list[Candidate], max_overlap: float, k: int
) -> list[Candidate]:
    """Greedy diversity filter: best first, skip one overlapping a kept one by > max_overlap."""
    if not cands:
        return cands
    stats = problem.stats_of([c.conj for c in cands])
    sets = [set(stats.positions[stats.offsets[j] : stats.offsets[j + 1]].tolist())
            for j in range(len(cands))]
    kept: list[int] = []
    for j in range(len(cands)):
        if all(len(sets[j] & sets[i]) / len(sets[j] | sets[i]) <= max_overlap for i in kept):
            kept.append(j)
        if len(kept) == k:
            break
    return [cands[j] for j in kept]


def _p_values(
    problem: Problem, cands: list[Candidate], draws: int, rng: np.random.Generator
) -> np.ndarray | None:
    """(1 + #random subsets of the same size scoring at least as high) / (1 + draws).

    Random subsets come from random permutations: the samples whose rank is below the size
    form a uniform random subset, and listing them by position keeps the target sorted.
    """
    if draws == 0 or not cands:
        return None
    n = len(problem.y)
    sizes = sorted({c.count for c in cands})
    hits = {s: [] for s in sizes}
    chunk = max(1, min(draws, 2_000_000 // max(n, 1)))
    done = 0
    base = np.tile(np.arange(n, dtype=np.int32), (chunk, 1))
    while done < draws:
        b = min(chunk, draws - done)
        ranks = rng.permuted(base[:b], axis=1)
        for s in sizes:
            _, cols = np.nonzero(ranks < s)
            offsets = np.arange(b + 1, dtype=np.int64) * s
            stats = SubgroupStats.from_positions(problem.y, cols.astype(np.int32), offsets)
            hits[s].append(problem.quality_of(stats))
        done += b
    null = {s: np.concatenate(v) for s, v in hits.items()}
    return np.array(
        [(1 + np.sum(null[c.count] >= c.quality - 1e-12 * abs(c.quality))) / (1 + draws)
         for c in cands]
    )
