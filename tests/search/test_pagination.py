"""Cursor pagination visits every matching row exactly once, in (field, pk) order."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_helpers import evaluate

import bigmax.search.query as query_module
from bigmax.search import QueryError, get_entries, iter_entry_pks, search
from bigmax.search.fields import get_field


def walk(db, query, order_by, order, page_size):
    seen, cursor = [], None
    while True:
        page = search(
            db,
            query,
            order_by=order_by,
            order=order,
            page_size=page_size,
            page_after_value=cursor,
            required=["entry_id", order_by],
            total=True,
        )
        seen.extend(page.data)
        cursor = page.next_page_after_value
        if cursor is None:
            return seen


def sort_key(value, order):
    """NULLs are the largest value: last ascending, first descending."""
    return (value is None, value) if value is not None else (True, 0)


ORDERS = [
    "entry_id",
    "upload_id",
    "band_gap",
    "space_group_number",
    "program_name",
    "processed_at",
    "formation_energy_per_atom",
    "n_sites",
]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    order_by=st.sampled_from(ORDERS),
    order=st.sampled_from(["asc", "desc"]),
    page_size=st.sampled_from([3, 17, 50]),
    plan_rows=st.sampled_from([0, 10**9]),
    query=st.sampled_from(
        [None, {"elements": "O"}, {"band_gap:gt": "1 eV"}, {"not": {"elements": "O"}}]
    ),
)
def test_every_row_once_in_order(db, rows, order_by, order, page_size, plan_rows, query):
    # plan_rows 0 / 10**9 force each page plan (matches first / ordered scan) on each backend
    saved = query_module._ORDERED_SCAN_ROWS
    query_module._ORDERED_SCAN_ROWS = plan_rows
    try:
        got = walk(db, query, order_by, order, page_size)
    finally:
        query_module._ORDERED_SCAN_ROWS = saved
    ids = [d["entry_id"] for d in got]
    expected = {r["entry_id"] for r in rows if evaluate(query, r)}
    assert len(ids) == len(set(ids)) and set(ids) == expected
    col = get_field(order_by).column.key
    by_id = {r["entry_id"]: r for r in rows}
    values = [by_id[i][col] for i in ids]
    non_null = [v for v in values if v is not None]
    nulls = [i for i, v in enumerate(values) if v is None]
    if order == "asc":
        assert non_null == sorted(non_null) or order_by == "program_name"
        assert nulls == list(range(len(non_null), len(values)))
    else:
        assert non_null == sorted(non_null, reverse=True) or order_by == "program_name"
        assert nulls == list(range(len(nulls)))
    # ties are broken by pk in the direction of the order
    pks = [by_id[i]["pk"] for i in ids]
    for a in range(len(values) - 1):
        if values[a] == values[a + 1]:
            assert (pks[a] < pks[a + 1]) == (order == "asc")


def test_last_page_has_no_cursor(db, rows):
    page = search(db, page_size=len(rows))
    assert page.next_page_after_value is None and len(page.data) == len(rows)
    page = search(db, page_size=len(rows) - 1)
    assert page.next_page_after_value is not None


BAD_ARGUMENTS = [
    ({"page_after_value": "garbage!"}, "page_after_value"),
    ({"order_by": "elements"}, "elements"),
    ({"order_by": "nope"}, "nope"),
    ({"order": "up"}, "order"),
    ({"page_size": -1}, "page_size"),
    ({"required": ["entry_id", "bogus"]}, "bogus"),
    ({"aggregations": {"a": {"terms": {"quantity": "nope"}}}}, "nope"),
    ({"aggregations": {"a": {"histogram": {"quantity": "band_gap"}}}}, "aggregations.a"),
]


def test_bad_search_arguments(db):
    for kwargs, needle in BAD_ARGUMENTS:
        with pytest.raises(QueryError) as info:
            search(db, **kwargs)
        assert needle in str(info.value), kwargs


def test_cursor_from_other_field_is_rejected(db):
    cursor = search(db, order_by="entry_id", page_size=2).next_page_after_value
    with pytest.raises(QueryError, match="page_after_value"):
        search(db, order_by="processed_at", page_after_value=cursor)


def test_iter_entry_pks_chunks(db, rows):
    query = {"elements": "O"}
    chunks = list(iter_entry_pks(db, query, chunk=17))
    flat = [pk for c in chunks for pk in c]
    assert flat == sorted(r["pk"] for r in rows if evaluate(query, r))
    assert all(len(c) == 17 for c in chunks[:-1])


def test_get_entries_respects_scope(db, rows):
    from bigmax.archive.db import EntryRow

    ids = [rows[5]["entry_id"], "missing", rows[1]["entry_id"]]
    got = get_entries(db, ids)
    assert list(got) == [rows[5]["entry_id"], rows[1]["entry_id"]]
    assert got[rows[1]["entry_id"]]["n"] == rows[1]["pk"]
    upload = rows[1]["upload_id"]
    scoped = get_entries(db, ids, scope=EntryRow.upload_id == upload)
    owners = {r["entry_id"]: r["upload_id"] for r in rows}
    assert list(scoped) == [i for i in got if owners[i] == upload]
