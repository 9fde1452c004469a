"""What search keeps between calls: compiled conditions, counts (computed once when many ask at
once), and the page plan's view of which conditions an index answers."""

from __future__ import annotations

import threading
import time
import warnings

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bigmax.archive.access import ANONYMOUS, entry_scope
from bigmax.search import QueryError, UnknownPropertyWarning, compile_filter, compile_query
from bigmax.search.cache import CountCache
from bigmax.search.query import build_where, indexed_lookup


def test_compiled_queries_are_shared_and_errors_are_not_cached():
    q = {"elements": ["O"], "band_gap:gt": "1 eV"}
    assert compile_query(q) is compile_query(dict(q))
    for _ in range(2):
        with pytest.raises(QueryError, match="unknown quantity 'band_gapp'"):
            compile_query({"band_gapp:gt": 1})
    # keys that are not strings are never confused with their string form
    with pytest.raises(QueryError, match="keys must be strings"):
        compile_query({1: "x"})
    assert build_where(q, None, entry_scope(ANONYMOUS)) is build_where(
        q, None, entry_scope(ANONYMOUS)
    )


@given(st.floats(0, 10, allow_nan=False).map(lambda x: round(x, 3)))
def test_cached_conditions_match_fresh_ones(gap):
    q = {"band_gap:gt": f"{gap} eV"}
    assert str(compile_query(q).compile(compile_kwargs={"literal_binds": True})) == str(
        compile_query(dict(q)).compile(compile_kwargs={"literal_binds": True})
    )


def test_cached_filters_warn_every_time():
    for _ in range(3):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            compile_filter("_other_thing = 1")
        assert [w.category for w in caught] == [UnknownPropertyWarning]


@pytest.mark.parametrize(
    ("text", "indexed"),
    [
        ('chemical_formula_reduced="O4"', True),
        ("space_group_it_number=225 AND nelements=2", True),
        ('_bigmax_band_gap > 1e-19 AND elements HAS "O"', True),
        ('elements HAS ALL "Si","O" AND nelements<=3', False),
        ("space_group_it_number=225 OR nsites=3", False),  # an OR needs every row
        ('NOT chemical_formula_reduced="O4"', False),
    ],
)
def test_indexed_lookup(text, indexed):
    assert indexed_lookup(compile_filter(text)) is indexed


def test_concurrent_misses_count_once():
    cache = CountCache(ttl=60)
    calls = []
    start = threading.Barrier(8)

    def slow_count() -> int:
        calls.append(1)
        time.sleep(0.2)
        return 42

    results = []

    def ask():
        start.wait()
        results.append(cache.compute(("k",), slow_count))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [42] * 8
    assert len(calls) == 1


def test_a_failed_count_is_not_kept_and_waiters_retry():
    cache = CountCache(ttl=60)

    def broken() -> int:
        raise RuntimeError("database went away")

    with pytest.raises(RuntimeError):
        cache.compute(("k",), broken)
    assert cache.compute(("k",), lambda: 7) == 7
    assert CountCache(ttl=0).compute(("k",), lambda: 3) == 3
