"""The JSON query language, checked against the pure-Python reference evaluator."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from search_helpers import ELEMENTS, EV, SPACE_GROUPS, evaluate
from sqlalchemy import select

from bigmax.archive.db import EntryRow
from bigmax.search import QueryError, build_where, compile_query, search


def sql_pks(engine, query=None, filter=None, scope=None) -> set[int]:
    where = build_where(query, filter, scope)
    with engine.connect() as conn:
        return set(conn.execute(select(EntryRow.pk).where(where)).scalars())


def ref_pks(rows, query) -> set[int]:
    return {r["pk"] for r in rows if evaluate(query, r)}


FIXED = [
    None,
    {},
    {"elements": "Si"},
    {"elements": ["Si", "O"]},
    {"results.material.elements": ["U", "O"]},
    {"elements:any": ["Pu", "Li"]},
    {"elements": {"any": ["Ba", "H"]}},
    {"elements:none": ["O", "U"]},
    {"elements:only": ["Si", "O", "Ba"]},
    {"elements": {"all": ["Fe"], "none": ["Pu"]}},
    {"band_gap:gt": "1.5 eV"},
    {"band_gap": {"gte": 0.5 * EV, "lt": "3000 meV"}},
    {"results.properties.band_gap.value": {"lte": 0}},
    {"band_gap": None},
    {"space_group_number": 225},
    {"space_group_number:any": [225, 227]},
    {"results.material.symmetry.space_group_number": {"none": [1, 2]}},
    {"space_group_number": [225, 227]},
    {"space_group_number": [225, 225]},
    {"program_name": "VASP", "n_elements:gte": 2},
    {"or": [{"program_name": "VASP"}, {"band_gap:gt": "2 eV"}]},
    {"not": {"band_gap:gt": "2 eV"}},
    {"not": {"or": [{"elements": "O"}, {"n_sites:lt": 3}]}},
    {"and": [{"elements": "O"}, {"not": {"state": "failed"}}]},
    {"created_at:gte": "2024-02-01", "created_at:lt": "2024-03-01T00:00:00Z"},
    {"processed_at": {"gt": "2024-02-15T12:00:00+02:00"}},
    {"formation_energy_per_atom:lt": "-1 eV", "elements": "O"},
    {"or": []},
    {"and": []},
]


def test_fixed_queries_match_reference(db, rows):
    """One database for all cases: creating a PostgreSQL database per case costs ~1 s."""
    wrong = [q for q in FIXED if sql_pks(db, q) != ref_pks(rows, q)]
    assert not wrong


def test_search_total_and_data(db, rows):
    query = {"elements": "O", "band_gap:gt": "1 eV"}
    result = search(db, query, page_size=5, required=["entry_id", "elements", "band_gap"])
    expected = ref_pks(rows, query)
    assert result.total == len(expected) > 5
    assert len(result.data) == 5
    for item in result.data:
        assert "O" in item["elements"] and item["band_gap"] > EV
        assert set(item) == {"entry_id", "elements", "band_gap"}
    assert result.next_page_after_value


def test_scope_applies_to_everything(db, rows):
    scope = EntryRow.upload_id == "u1"
    aggs = {"els": {"terms": {"quantity": "elements", "size": 20}}}
    result = search(db, {"elements": "O"}, scope=scope, aggregations=aggs, page_size=1000)
    in_scope = [r for r in rows if r["upload_id"] == "u1" and evaluate({"elements": "O"}, r)]
    assert result.total == len(in_scope) == len(result.data)
    o_count = {t["value"]: t["count"] for t in result.aggregations["els"]["terms"]["data"]}["O"]
    assert o_count == len(in_scope)


# -- random queries against the reference -------------------------------------------------

_el = st.sampled_from(ELEMENTS)
_el_list = st.lists(_el, min_size=1, max_size=3)


def _leaf():
    gaps = st.sampled_from([0, 0.5, 1, 2.5, 4, 6]).map(lambda v: f"{v} eV")
    return st.one_of(
        st.builds(lambda e: {"elements": e}, _el),
        st.builds(
            lambda op, v: {f"elements:{op}": v},
            st.sampled_from(["any", "all", "none", "only"]),
            _el_list,
        ),
        st.builds(
            lambda op, v: {f"band_gap:{op}": v}, st.sampled_from(["gt", "gte", "lt", "lte"]), gaps
        ),
        st.builds(lambda v: {"band_gap": v}, st.sampled_from([None, 0, 0.0])),
        st.builds(
            lambda op, v: {f"n_sites:{op}": v}, st.sampled_from(["gt", "lte"]), st.integers(0, 13)
        ),
        st.builds(lambda v: {"space_group_number": v}, st.sampled_from([*SPACE_GROUPS, None])),
        st.builds(
            lambda op, v: {f"space_group_number:{op}": v},
            st.sampled_from(["any", "none", "all"]),
            st.lists(st.sampled_from(SPACE_GROUPS), min_size=1, max_size=3),
        ),
        st.builds(lambda v: {"program_name": v}, st.sampled_from(["VASP", "exciting", None])),
        st.builds(
            lambda lo, hi: {"formation_energy_per_atom": {"gte": f"{lo} eV", "lt": f"{hi} eV"}},
            st.sampled_from([-3, -1.5, 0]),
            st.sampled_from([-1, 0, 1]),
        ),
        st.builds(
            lambda v: {"created_at:lt": v}, st.sampled_from(["2024-01-20", "2024-03-01T10:00:00"])
        ),
    )


_queries = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.builds(lambda qs: {"and": qs}, st.lists(inner, max_size=3)),
        st.builds(lambda qs: {"or": qs}, st.lists(inner, max_size=3)),
        st.builds(lambda q: {"not": q}, inner),
        st.builds(lambda a, b: {**a, **b}, inner, inner),
    ),
    max_leaves=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=_queries)
def test_random_queries_match_reference(db, rows, query):
    assert sql_pks(db, query) == ref_pks(rows, query)


# -- errors -----------------------------------------------------------------------------------

BAD = [
    ({"nope": 1}, "nope"),
    ({"band_gpa:gt": 1}, "band_gap"),
    ({"band_gap:gt": "1.5 parsecs"}, "band_gap"),
    ({"band_gap:gt": "1.5 m"}, "band_gap"),
    ({"band_gap:between": 1}, "between"),
    ({"band_gap": {"gt": [1, 2]}}, "gt"),
    ({"elements": "Xx"}, "Xx"),
    ({"elements:gt": "Si"}, "elements"),
    ({"elements:any": []}, "elements"),
    ({"n_sites": "many"}, "n_sites"),
    ({"n_sites": True}, "n_sites"),
    ({"formula_reduced": 3}, "formula_reduced"),
    ({"created_at:gt": "yesterday"}, "created_at"),
    ({"and": {"elements": "Si"}}, "and"),
    ({"not": [1]}, "not"),
    ({"space_group_number:only": [1]}, "only"),
    ({"band_gap": float("nan")}, "band_gap"),
    ({"n_sites": 2**70}, "n_sites"),
    ({"optimade_filter": "nelements >"}, "filter"),
    ([1, 2], "query"),
]


@pytest.mark.parametrize("query,needle", BAD, ids=[str(b[0]) for b in BAD])
def test_bad_queries_raise_query_error_naming_the_field(query, needle):
    with pytest.raises(QueryError) as info:
        compile_query(query)
    assert needle in str(info.value)


_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=8),
        st.sampled_from(["Si", "1 eV", "2024-01-01", "gt", "elements", "band_gap:gt"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "and",
                        "or",
                        "not",
                        "elements",
                        "band_gap",
                        "gt",
                        "any",
                        "n_sites:lt",
                        "elements:only",
                        "created_at:gte",
                        "optimade_filter",
                        "formula_reduced",
                    ]
                ),
                st.text(max_size=6),
            ),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=8,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(query=_json)
def test_garbage_queries_give_query_error_or_run(db, query):
    """Anything a client sends either compiles and runs, or raises QueryError."""
    try:
        where = compile_query(query)
    except QueryError:
        return
    with db.connect() as conn:
        conn.execute(select(EntryRow.pk).where(where)).all()


def test_search_request_model(db, rows):
    from pydantic import ValidationError

    from bigmax.search import SearchRequest, search_request

    with pytest.raises(ValidationError, match="band_gpa"):
        SearchRequest(query={"band_gpa": 1})
    with pytest.raises(ValidationError, match="filter"):
        SearchRequest(filter="nelements >")
    request = SearchRequest.model_validate(
        {
            "query": {"elements": "O"},
            "filter": "nsites >= 2",
            "pagination": {"page_size": 3, "order_by": "n_sites", "order": "desc"},
            "required": ["entry_id", "n_sites"],
            "aggregations": {"n": {"statistics": {"quantity": "n_sites"}}},
        }
    )
    result = search_request(db, request)
    expected = [r for r in rows if evaluate({"elements": "O", "n_sites:gte": 2}, r)]
    assert result.total == len(expected)
    assert [d["n_sites"] for d in result.data] == sorted(
        (r["n_sites"] for r in expected), reverse=True
    )[:3]
    assert result.aggregations["n"]["statistics"]["count"] == len(expected)
