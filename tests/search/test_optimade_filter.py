"""OPTIMADE filters: each case is checked against a Python predicate over the same rows."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_helpers import EV
from sqlalchemy import select

from bigmax.archive.db import EntryRow
from bigmax.search import FilterError, UnknownPropertyWarning, compile_filter, search


def els(r):
    return set(r["elements"].split(",")) if r["elements"] else None


def gt(x, v):
    return x is not None and x > v


CASES = [
    ('elements HAS "Si"', lambda r: els(r) is not None and "Si" in els(r)),
    ('elements HAS ALL "Si", "O"', lambda r: els(r) is not None and {"Si", "O"} <= els(r)),
    ('elements HAS ANY "U", "Pu"', lambda r: els(r) is not None and bool({"U", "Pu"} & els(r))),
    (
        'elements HAS ONLY "Si", "O", "H"',
        lambda r: els(r) is not None and els(r) <= {"Si", "O", "H"},
    ),
    ("elements LENGTH 2", lambda r: r["n_elements"] == 2),
    ("elements LENGTH >= 3", lambda r: gt(r["n_elements"], 2)),
    ("nelements > 2", lambda r: gt(r["n_elements"], 2)),
    ("3 < nelements", lambda r: gt(r["n_elements"], 3)),
    ("3 >= nsites", lambda r: r["n_sites"] is not None and r["n_sites"] <= 3),
    ("nsites != 4", lambda r: r["n_sites"] is not None and r["n_sites"] != 4),
    ('chemical_formula_reduced = "OSi"', lambda r: r["formula_reduced"] == "OSi"),
    ('chemical_formula_reduced CONTAINS "Si"', lambda r: "Si" in (r["formula_reduced"] or "")),
    ('chemical_formula_reduced CONTAINS "si"', lambda r: "si" in (r["formula_reduced"] or "")),
    (
        'chemical_formula_hill STARTS WITH "Fe"',
        lambda r: (r["formula_hill"] or "").startswith("Fe"),
    ),
    ('chemical_formula_hill STARTS "H"', lambda r: (r["formula_hill"] or "").startswith("H")),
    ('chemical_formula_hill ENDS WITH "O"', lambda r: (r["formula_hill"] or "").endswith("O")),
    ("_bigmax_band_gap IS KNOWN", lambda r: r["band_gap"] is not None),
    ("_bigmax_band_gap IS UNKNOWN", lambda r: r["band_gap"] is None),
    ("NOT _bigmax_band_gap > 2e-19", lambda r: not gt(r["band_gap"], 2e-19)),
    ('_bigmax_band_gap > "1.5 eV"', lambda r: gt(r["band_gap"], 1.5 * EV)),
    ("space_group_it_number = 225", lambda r: r["space_group_number"] == 225),
    (
        '_bigmax_program_name = "VASP" OR nelements = 1',
        lambda r: r["program_name"] == "VASP" or r["n_elements"] == 1,
    ),
    (
        'elements HAS "O" AND (nsites < 3 OR NOT _bigmax_space_group_number = 225)',
        lambda r: (
            els(r) is not None
            and "O" in els(r)
            and (r["n_sites"] is not None and r["n_sites"] < 3 or r["space_group_number"] != 225)
        ),
    ),
    (
        'last_modified >= "2024-02-01T00:00:00Z"',
        lambda r: r["processed_at"] is not None and r["processed_at"].isoformat() >= "2024-02-01",
    ),
    ('id = "nope"', lambda r: False),
    ("_other_thing = 3", lambda r: False),
    ("_other_thing IS UNKNOWN", lambda r: True),
    ("NOT _other_thing = 3", lambda r: True),
    ("", lambda r: True),
]


def test_filters_match_reference(db, rows):
    """One database for all cases: creating a PostgreSQL database per case costs ~1 s."""
    wrong = []
    with db.connect() as conn:
        for text, predicate in CASES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UnknownPropertyWarning)
                where = compile_filter(text)
            got = set(conn.execute(select(EntryRow.pk).where(where)).scalars())
            if got != {r["pk"] for r in rows if predicate(r)}:
                wrong.append(text)
    assert not wrong


def test_filter_and_query_combine(db, rows):
    result = search(db, {"n_sites:lt": 5}, filter='elements HAS "O"', page_size=0)
    expected = [
        r
        for r in rows
        if r["n_sites"] is not None
        and r["n_sites"] < 5
        and r["elements"]
        and "O" in r["elements"].split(",")
    ]
    assert result.total == len(expected)
    inside = search(db, {"n_sites:lt": 5, "optimade_filter": 'elements HAS "O"'}, page_size=0)
    assert inside.total == len(expected)


def test_other_provider_warns():
    with pytest.warns(UnknownPropertyWarning, match="_other_x"):
        compile_filter("_other_x = 1")


BAD = [
    ("nelements >", "cannot parse"),
    ("foo = 1", "foo"),
    ("_bigmax_nope = 1", "_bigmax_nope"),
    ('nelements = "two"', "nelements"),
    ("chemical_formula_reduced = 3", "chemical_formula_reduced"),
    ('elements = "Si"', "elements"),
    ('elements HAS "Xx"', "Xx"),
    ("nsites HAS 3", "nsites"),
    ('chemical_formula_reduced HAS "Si"', "chemical_formula_reduced"),
    ("nsites LENGTH 3", "nsites"),
    ("nsites CONTAINS 3", "nsites"),
    ("a.b = 1", "nested"),
    ("nsites = nelements", "two properties"),
    ('"a" = "b"', "two constants"),
    ('last_modified > "yesterday"', "last_modified"),
    ("nsites = TRUE", "boolean"),
    ('elements:nsites HAS "Si":1', "not supported"),
    ('elements HAS > "Si"', "not supported"),
]


@pytest.mark.parametrize("text,needle", BAD, ids=[b[0] for b in BAD])
def test_bad_filters_raise_filter_error(text, needle):
    with pytest.raises(FilterError) as info:
        compile_filter(text)
    assert needle in str(info.value)


_tokens = st.sampled_from(
    [
        "nelements",
        "elements",
        "nsites",
        "chemical_formula_reduced",
        "_bigmax_band_gap",
        "_other_q",
        "HAS",
        "ALL",
        "ANY",
        "ONLY",
        "LENGTH",
        "AND",
        "OR",
        "NOT",
        "(",
        ")",
        "=",
        "<",
        ">=",
        "!=",
        "IS",
        "KNOWN",
        "UNKNOWN",
        "CONTAINS",
        "STARTS",
        "WITH",
        "ENDS",
        '"Si"',
        '"O"',
        '"Xx"',
        "3",
        "-2.5",
        "1e400",
        ",",
        '"1 eV"',
        "last_modified",
        '"2024-01-01"',
    ]
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.one_of(st.lists(_tokens, max_size=8).map(" ".join), st.text(max_size=20)))
def test_garbage_filters_give_filter_error_or_run(db, text):
    """Any string either compiles and runs, or raises FilterError; nothing else escapes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownPropertyWarning)
        try:
            where = compile_filter(text)
        except FilterError:
            return
    with db.connect() as conn:
        conn.execute(select(EntryRow.pk).where(where)).all()
