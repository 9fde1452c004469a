"""What the server keeps between requests never outlives a change: cached totals follow the
archive generation (publish, share, delete, ingest), OPTIMADE attributes serialized at ingest
equal a fresh conversion, and cheap requests answered in the event loop equal threaded ones."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from bigmax.archive.access import SYSTEM
from bigmax.archive.db import ArchiveRow, EntryRow, OptimadeRow, archive_generation
from bigmax.archive.ingest import ingest
from bigmax.archive.lifecycle import delete_upload, lift_embargo, publish, share
from bigmax.archive.users import get_user
from bigmax.demo import nomad2018_frames
from bigmax.search.cache import CountCache, ttl_from_env
from bigmax.search.optimade_properties import structure_attributes_json

BASE = "/optimade/v1/structures"
QUERY = "/api/v1/entries/query"


def totals(world, who) -> tuple[int, int]:
    """(OPTIMADE data_returned, native total) for everything the viewer may read."""
    h = world.headers(who)
    opt = world.client.get(BASE, params={"filter": "nelements >= 1"}, headers=h).json()
    nat = world.client.post(QUERY, json={"pagination": {"page_size": 1}}, headers=h).json()
    return opt["meta"]["data_returned"], nat["total"]


def generation(world) -> int:
    with world.client.app.state.engine.connect() as conn:
        return archive_generation(conn)


def test_every_change_bumps_the_generation(world, tmp_path):
    engine = world.client.app.state.engine
    alice = get_user(engine, "alice").viewer
    bob = get_user(engine, "bob")
    steps = [
        lambda: share(engine, world.uploads["alice-private"], alice, bob.user_id),
        lambda: lift_embargo(engine, world.uploads["alice-embargoed"], alice),
        lambda: publish(engine, world.uploads["alice-private"], alice),
        lambda: delete_upload(
            engine, world.client.app.state.store, world.uploads["bob-private"], bob.viewer
        ),
    ]
    for step in steps:
        before = generation(world)
        step()
        assert generation(world) > before
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "more.extxyz").write_text(nomad2018_frames(60, 2))
    before = generation(world)
    ingest([folder], upload="more", settings=world.settings, engine=engine)
    assert generation(world) > before


def test_cached_totals_follow_publish_share_and_delete(world):
    """Totals are cached (TTL 60 s by default) yet change at once with the archive."""
    engine = world.client.app.state.engine
    alice = get_user(engine, "alice").viewer
    bob = get_user(engine, "bob")
    assert totals(world, None) == totals(world, None) == (4, 4)  # second answer from the cache
    assert totals(world, "bob") == (8, 8)
    share(engine, world.uploads["alice-private"], alice, bob.user_id)
    assert totals(world, "bob") == (12, 12)
    assert totals(world, None) == (4, 4)
    publish(engine, world.uploads["alice-private"], alice)
    assert totals(world, None) == (8, 8)
    lift_embargo(engine, world.uploads["alice-embargoed"], alice)
    assert totals(world, None) == (12, 12)
    delete_upload(engine, world.client.app.state.store, world.uploads["bob-private"], bob.viewer)
    assert totals(world, "bob") == (12, 12)
    assert totals(world, "alice") == (12, 12)


def test_count_cache_ttl_and_bad_setting(monkeypatch):
    cache = CountCache(ttl=0)
    cache.put(("k",), 3)
    assert cache.get(("k",)) is None  # 0 turns it off
    cache = CountCache(ttl=60, size=2)
    for i in range(5):
        cache.put((i,), i)
    assert cache.get((4,)) == 4 and len(cache._data) <= 2
    monkeypatch.setenv("BIGMAX_COUNT_CACHE_TTL", "soon")
    with pytest.raises(ValueError, match="BIGMAX_COUNT_CACHE_TTL"):
        ttl_from_env()
    monkeypatch.setenv("BIGMAX_COUNT_CACHE_TTL", "-1")
    with pytest.raises(ValueError, match="0 or more"):
        ttl_from_env()


def test_serialized_attributes_equal_a_fresh_conversion(world):
    engine = world.client.app.state.engine
    with engine.connect() as conn:
        rows = conn.execute(
            select(OptimadeRow.attributes, ArchiveRow.data).join(
                ArchiveRow, ArchiveRow.entry_pk == OptimadeRow.entry_pk
            )
        ).all()
    assert len(rows) == 16
    for stored, archive in rows:
        assert stored == structure_attributes_json(json.loads(archive))


def test_entries_without_serialized_attributes_are_converted(world):
    """An archive ingested before optimade_structures existed answers the same."""
    url = f"{BASE}?page_limit=100"
    single = f"{BASE}/{world.entries['alice-public'][0]}"
    before = world.client.get(url).json()["data"], world.client.get(single).json()["data"]
    with world.client.app.state.engine.begin() as conn:
        conn.execute(delete(OptimadeRow))
    after = world.client.get(url).json()["data"], world.client.get(single).json()["data"]
    assert after == before and len(before[0]) == 4


@pytest.mark.parametrize(
    "request_",
    [
        ("GET", BASE, {"filter": 'elements HAS "O"', "page_limit": 3}, None),
        ("GET", BASE, {"sort": "-nsites", "page_limit": 5}, None),
        ("POST", QUERY, None, {"query": {"elements": ["O"]}, "pagination": {"page_size": 3}}),
    ],
)
def test_cheap_answers_equal_threaded_ones(world, request_):
    """The first request runs in a worker thread (nothing cached yet), the next ones in the
    event loop; all give the same bytes but the time stamp."""
    method, url, params, body = request_
    answers = []
    for _ in range(3):
        r = world.client.request(method, url, params=params, json=body)
        assert r.status_code == 200, r.text
        data = r.json()
        data.get("meta", {}).pop("time_stamp", None)
        answers.append(data)
    assert answers[0] == answers[1] == answers[2]


# -- embargoed entries in OPTIMADE: findable by formula, elements and space group only --------


def embargoed(world) -> tuple[str, dict]:
    entry_id = world.entries["alice-embargoed"][0]
    full = world.client.get(f"{BASE}/{entry_id}", headers=world.alice).json()
    return entry_id, full["data"]["attributes"]


@pytest.mark.parametrize("who", [None, "bob"])
def test_embargoed_structure_shows_findable_attributes_only(world, who):
    entry_id, full = embargoed(world)
    body = world.client.get(f"{BASE}/{entry_id}", headers=world.headers(who)).json()
    attrs = body["data"]["attributes"]
    assert attrs["chemical_formula_reduced"] == full["chemical_formula_reduced"]
    assert attrs["elements"] == full["elements"]
    assert attrs["space_group_it_number"] == full["space_group_it_number"]
    for hidden in ("lattice_vectors", "cartesian_site_positions", "nsites", "species_at_sites",
                   "_bigmax_band_gap", "_bigmax_mainfile", "last_modified"):
        assert full[hidden] is not None and attrs[hidden] is None, hidden
    assert set(attrs) == set(full)


@pytest.mark.parametrize("who", [None, "bob"])
def test_embargoed_structures_found_by_findable_filters_only(world, who):
    entry_id, full = embargoed(world)
    h = world.headers(who)
    formula = full["chemical_formula_reduced"]
    findable = {
        "filter": f'chemical_formula_reduced="{formula}"',
        "response_fields": "chemical_formula_reduced,elements,space_group_it_number",
    }
    body = world.client.get(BASE, params=findable, headers=h).json()
    assert entry_id in {d["id"] for d in body["data"]}
    assert body["meta"]["data_returned"] == len(body["data"])
    for d in body["data"]:
        assert set(d["attributes"]) == {
            "chemical_formula_reduced", "elements", "space_group_it_number"
        }
    # anything else in the request: filter, sort or output hides it, also from the counts
    for other in (
        {**findable, "filter": f'chemical_formula_reduced="{formula}" AND nsites >= 1'},
        {**findable, "response_fields": "chemical_formula_reduced,nsites"},
        {**findable, "sort": "nsites"},
        {"filter": findable["filter"]},  # all attributes
        {**findable, "filter": f'{findable["filter"]} AND _bigmax_band_gap >= 0'},
    ):
        r = world.client.get(BASE, params=other, headers=h)
        assert r.status_code == 200, r.text
        assert entry_id not in r.text, other
        assert world.uploads["alice-embargoed"] not in r.text
    with world.client.app.state.engine.connect() as conn:
        embargoed_ids = set(
            conn.execute(
                select(EntryRow.entry_id).where(
                    EntryRow.upload_id == world.uploads["alice-embargoed"]
                )
            ).scalars()
        )
    everything = world.client.get(BASE, params={"page_limit": 100}, headers=h).json()
    assert not embargoed_ids & {d["id"] for d in everything["data"]}
    assert everything["meta"]["data_available"] == everything["meta"]["data_returned"]


def test_private_structures_stay_hidden_whatever_the_fields(world):
    private = set(world.entries["alice-private"])
    for who in (None, "bob"):
        for params in (
            {"response_fields": "elements", "page_limit": 100},
            {"filter": 'elements HAS "O"', "response_fields": "elements", "page_limit": 100},
        ):
            body = world.client.get(BASE, params=params, headers=world.headers(who)).json()
            assert not private & {d["id"] for d in body["data"]}
        for entry_id in private:
            r = world.client.get(f"{BASE}/{entry_id}", headers=world.headers(who))
            assert r.status_code == 404
    assert SYSTEM.is_admin
