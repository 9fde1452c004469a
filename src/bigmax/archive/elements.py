"""Element sets as two 64-bit masks, so HAS ALL / ANY / ONLY are single integer tests in SQL."""

from __future__ import annotations

from collections.abc import Iterable

from ase.data import atomic_numbers

# bit (Z - 1) of lo for Z = 1..63, bit (Z - 64) of hi for Z = 64..118; both fit a signed int64.
_SPLIT = 63


def element_masks(elements: Iterable[str]) -> tuple[int, int]:
    """(lo, hi) masks of ``elements``; raises KeyError naming an unknown symbol."""
    lo = hi = 0
    for symbol in elements:
        try:
            z = atomic_numbers[symbol]
        except KeyError:
            raise KeyError(f"unknown chemical element {symbol!r}") from None
        if z < 1:
            raise KeyError(f"unknown chemical element {symbol!r}")
        if z <= _SPLIT:
            lo |= 1 << (z - 1)
        else:
            hi |= 1 << (z - 1 - _SPLIT)
    return lo, hi
