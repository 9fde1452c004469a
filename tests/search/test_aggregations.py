"""Aggregations against counts computed in Python over the same rows."""

from __future__ import annotations

from collections import Counter

import pytest
from search_helpers import EV, evaluate

from bigmax.archive.db import EntryRow
from bigmax.search import search

QUERY = {"n_sites:gte": 3}


def matching(rows, query=QUERY):
    return [r for r in rows if evaluate(query, r)]


def run(db, aggs, query=QUERY, scope=None):
    return search(db, query, page_size=0, aggregations=aggs, scope=scope).aggregations


def test_terms_elements_and_space_groups(db, rows):
    aggs = run(
        db,
        {
            "els": {"terms": {"quantity": "elements", "size": 50}},
            "sg": {
                "terms": {"quantity": "results.material.symmetry.space_group_number", "size": 3}
            },
        },
    )
    hits = matching(rows)
    want = Counter(e for r in hits if r["elements"] for e in r["elements"].split(","))
    got = {t["value"]: t["count"] for t in aggs["els"]["terms"]["data"]}
    assert got == dict(want)
    sg = Counter(r["space_group_number"] for r in hits if r["space_group_number"] is not None)
    top = sorted(sg.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    assert [(t["value"], t["count"]) for t in aggs["sg"]["terms"]["data"]] == top


def test_terms_scope(db, rows):
    scope = EntryRow.upload_id == "u2"
    aggs = run(db, {"els": {"terms": {"quantity": "elements", "size": 50}}}, scope=scope)
    hits = [r for r in matching(rows) if r["upload_id"] == "u2"]
    want = Counter(e for r in hits if r["elements"] for e in r["elements"].split(","))
    assert {t["value"]: t["count"] for t in aggs["els"]["terms"]["data"]} == dict(want)


def test_histogram_interval_in_ev(db, rows):
    aggs = run(db, {"bg": {"histogram": {"quantity": "band_gap", "interval": 0.5, "unit": "eV"}}})
    h = aggs["bg"]["histogram"]
    gaps = [r["band_gap"] / EV for r in matching(rows) if r["band_gap"] is not None]
    assert h["unit"] == "eV" and h["interval"] == pytest.approx(0.5)
    assert sum(b["count"] for b in h["data"]) == len(gaps)
    for b in h["data"]:
        lo = b["value"]
        n = sum(1 for g in gaps if lo - 1e-9 <= g < lo + 0.5 - 1e-9)
        assert b["count"] == n, lo


def test_histogram_buckets_and_string_interval(db, rows):
    aggs = run(
        db,
        {
            "b": {"histogram": {"quantity": "formation_energy_per_atom", "buckets": 4}},
            "s": {"histogram": {"quantity": "band_gap", "interval": "1 eV"}},
            "n": {"histogram": {"quantity": "n_sites", "interval": 2}},
        },
    )
    vals = [
        r["formation_energy_per_atom"]
        for r in matching(rows)
        if r["formation_energy_per_atom"] is not None
    ]
    b = aggs["b"]["histogram"]
    assert len(b["data"]) == 4 and sum(x["count"] for x in b["data"]) == len(vals)
    assert b["data"][0]["value"] == pytest.approx(min(vals))
    s = aggs["s"]["histogram"]
    assert s["unit"] == "J" and s["interval"] == pytest.approx(EV)
    sites = Counter((r["n_sites"] // 2) * 2 for r in matching(rows))
    assert {x["value"]: x["count"] for x in aggs["n"]["histogram"]["data"] if x["count"]} == sites


def test_min_max_and_statistics(db, rows):
    aggs = run(
        db,
        {
            "mm": {"min_max": {"quantity": "band_gap", "unit": "eV"}},
            "st": {"statistics": {"quantity": "band_gap", "unit": "meV"}},
            "t": {"min_max": {"quantity": "created_at"}},
        },
    )
    gaps = [r["band_gap"] for r in matching(rows) if r["band_gap"] is not None]
    assert aggs["mm"]["min_max"]["min"] == pytest.approx(min(gaps) / EV)
    assert aggs["mm"]["min_max"]["max"] == pytest.approx(max(gaps) / EV)
    st = aggs["st"]["statistics"]
    assert st["count"] == len(gaps)
    assert st["mean"] == pytest.approx(sum(gaps) / len(gaps) / EV * 1000)
    created = [r["created_at"] for r in matching(rows)]
    assert aggs["t"]["min_max"]["min"] == min(created).isoformat()


def test_empty_result_aggregations(db):
    aggs = run(
        db,
        {
            "h": {"histogram": {"quantity": "band_gap", "buckets": 3}},
            "s": {"statistics": {"quantity": "band_gap"}},
            "e": {"terms": {"quantity": "elements"}},
        },
        query={"elements": "Si", "n_sites:gt": 100},
    )
    assert aggs["h"]["histogram"]["data"] == []
    assert aggs["s"]["statistics"]["count"] == 0 and aggs["s"]["statistics"]["mean"] is None
    assert aggs["e"]["terms"]["data"] == []


def test_in_memory_sqlite_runs_aggregations_on_one_connection(rows):
    """Side-by-side aggregations would each see an empty in-memory database."""
    from search_helpers import insert_rows

    from bigmax.archive.db import init_db, make_engine

    engine = make_engine("sqlite://")
    init_db(engine)
    insert_rows(engine, rows)
    aggs = run(
        engine,
        {
            "a": {"terms": {"quantity": "space_group_number"}},
            "b": {"statistics": {"quantity": "n_sites"}},
        },
    )
    assert aggs["b"]["statistics"]["count"] == len(matching(rows))
    assert sum(t["count"] for t in aggs["a"]["terms"]["data"]) > 0
