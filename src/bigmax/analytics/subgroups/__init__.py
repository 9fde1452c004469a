"""Subgroup discovery: simple rules that select the materials whose target is exceptional.

Threshold, interval and equality selectors; impact/WRAcc, mean shift, dispersion-corrected
median shift, standard-deviation reduction, cumulative Jensen-Shannon and user-defined
qualities; exhaustive branch and bound with tight optimistic estimates, best-first and beam
search. Boley et al., DMKD 31, 1391 (2017); Goldsmith et al., NJP 19, 013031 (2017);
Sutton et al., Nat. Commun. 11, 4428 (2020).
"""

from bigmax.analytics.subgroups.estimator import SubgroupDiscovery
from bigmax.analytics.subgroups.quality import (
    CumulativeJS,
    DispersionCorrectedMedianShift,
    Impact,
    MeanShift,
    Quality,
    StdReduction,
    SubgroupStats,
    WRAcc,
    get_quality,
)
from bigmax.analytics.subgroups.selectors import (
    Rule,
    Selector,
    SubgroupInputError,
    cut_points,
    make_selectors,
)

__all__ = [
    "CumulativeJS",
    "DispersionCorrectedMedianShift",
    "Impact",
    "MeanShift",
    "Quality",
    "Rule",
    "Selector",
    "StdReduction",
    "SubgroupDiscovery",
    "SubgroupInputError",
    "SubgroupStats",
    "WRAcc",
    "cut_points",
    "get_quality",
    "make_selectors",
]
