"""Multi-hit events: which ions were detected on the same pulse, and filters on that.

ePOS (and the AP Suite ``.apt`` "Multiplicity" section) store the number of ions of an event on
its first record and 0 on the records that follow; the ePOS delta-pulse column is 0 on those
followers too. From that we number the events, give every ion its event's multiplicity, and
select singles, multiples or events of exactly n hits. All passes are numba loops over the
column, so they scale to 10^8 ions.
"""

from __future__ import annotations

import numba
import numpy as np


class MultiplicityError(ValueError):
    """The multiplicity column is inconsistent; the message names the record."""


@numba.njit(cache=True)
def _events(ipp):  # pragma: no cover - compiled
    n = ipp.shape[0]
    event = np.empty(n, dtype=np.int64)
    mult = np.empty(n, dtype=np.int32)
    e = -1
    left = 0
    start = 0
    for i in range(n):
        k = ipp[i]
        if k > 0:
            if left != 0:
                return event, mult, i  # the previous event is short of ions
            e += 1
            left = k - 1
            start = i
            if start + k > n:
                return event, mult, i
            for j in range(i, i + k):
                mult[j] = k
        else:
            if left == 0:
                return event, mult, i  # a follower with no event before it
            left -= 1
        event[i] = e
    if left != 0:
        return event, mult, start
    return event, mult, -1


def _column(ions_per_pulse: np.ndarray) -> np.ndarray:
    arr = np.asarray(ions_per_pulse)
    if arr.ndim != 1:
        raise MultiplicityError(f"ions_per_pulse: expected a 1-D column, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.issubdtype(arr.dtype, np.number) or not np.all(arr == np.round(arr)):
            raise MultiplicityError("ions_per_pulse: expected whole numbers")
    if arr.size and arr.min() < 0:
        raise MultiplicityError(f"ions_per_pulse: negative value at record {int(arr.argmin())}")
    return np.ascontiguousarray(arr, dtype=np.int64)


def events(ions_per_pulse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(event index per ion, multiplicity per ion) from the ions-per-pulse column.

    Raises ``MultiplicityError`` naming the first record where the column contradicts itself
    (a follower without an event, or an event with fewer records than its count).
    """
    column = _column(ions_per_pulse)
    event, mult, bad = _events(column)
    if bad >= 0:
        raise MultiplicityError(
            f"ions_per_pulse: record {bad} breaks the event structure (value {column[bad]}; "
            "an event of n ions is n on its first record and 0 on the n-1 that follow)"
        )
    return event, mult


def multiplicity(ions_per_pulse: np.ndarray) -> np.ndarray:
    """Each ion's event multiplicity (1 for single hits)."""
    return events(ions_per_pulse)[1]


def singles(ions_per_pulse: np.ndarray) -> np.ndarray:
    """Mask of ions detected alone on their pulse."""
    return multiplicity(ions_per_pulse) == 1


def multiples(ions_per_pulse: np.ndarray) -> np.ndarray:
    """Mask of ions that share their pulse with at least one other ion."""
    return multiplicity(ions_per_pulse) > 1


def n_hits(ions_per_pulse: np.ndarray, n: int) -> np.ndarray:
    """Mask of ions from events of exactly ``n`` ions."""
    if int(n) != n or n < 1:
        raise MultiplicityError(f"n: expected a positive whole number, got {n!r}")
    return multiplicity(ions_per_pulse) == int(n)


def multiplicity_counts(ions_per_pulse: np.ndarray) -> dict[int, int]:
    """Number of events of each multiplicity, e.g. ``{1: 906554, 2: 9860, ...}``."""
    column = _column(ions_per_pulse)
    events(column)  # validate
    values, counts = np.unique(column[column > 0], return_counts=True)
    return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def from_delta_pulse(delta_pulse: np.ndarray) -> np.ndarray:
    """Event index per ion from the delta-pulse column (0 on the 2nd and later ions of an event).

    Only valid when the file's delta-pulse column was recorded (derived files hold zeros).
    """
    arr = np.asarray(delta_pulse)
    if arr.ndim != 1 or arr.size == 0:
        raise MultiplicityError("delta_pulse: expected a non-empty 1-D column")
    if arr[0] == 0:
        raise MultiplicityError("delta_pulse: record 0 is 0, so the column was not recorded")
    return np.cumsum(arr != 0, dtype=np.int64) - 1
