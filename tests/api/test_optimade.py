"""The OPTIMADE API: envelopes valid against the optimade models, filters, paging, access."""

from __future__ import annotations

import pytest
from optimade.models import (
    EntryInfoResponse,
    ErrorResponse,
    InfoResponse,
    LinksResponse,
    ReferenceResponseMany,
    StructureResponseMany,
    StructureResponseOne,
)

BASE = "/optimade/v1"


def get(world, path: str, who: str | None = None, status: int = 200) -> dict:
    response = world.client.get(path, headers=world.headers(who))
    assert response.status_code == status, response.text
    return response.json()


def test_versions_and_info(world):
    response = world.client.get("/optimade/versions")
    assert response.status_code == 200
    assert response.text.splitlines()[:2] == ["version", "1"]
    assert response.headers["content-type"].startswith("text/csv")
    assert world.client.get(f"{BASE}/versions").status_code == 404
    InfoResponse(**get(world, f"{BASE}/info"))
    info = EntryInfoResponse(**get(world, f"{BASE}/info/structures"))
    props = info.data.properties
    assert props["_bigmax_band_gap"].unit == "J"
    assert props["lattice_vectors"].unit == "Å"
    EntryInfoResponse(**get(world, f"{BASE}/info/references"))
    LinksResponse(**get(world, f"{BASE}/links"))
    ReferenceResponseMany(**get(world, f"{BASE}/references"))


def test_unsupported_version_is_553(world):
    body = get(world, "/optimade/v2/structures", status=553)
    ErrorResponse(**body)
    assert "v2" in body["errors"][0]["detail"]


def test_anonymous_sees_public_only(world):
    body = get(world, f"{BASE}/structures?page_limit=100")
    StructureResponseMany(**body)
    ids = {d["id"] for d in body["data"]}
    assert ids == set(world.entries["alice-public"])
    assert body["meta"]["data_returned"] == body["meta"]["data_available"] == 4


def test_token_adds_own_uploads_but_not_others_or_embargo_of_others(world):
    alice = {d["id"] for d in get(world, f"{BASE}/structures?page_limit=100", "alice")["data"]}
    expected = set().union(*(world.entries[n] for n in world.entries if n.startswith("alice")))
    assert alice == expected
    bob = {d["id"] for d in get(world, f"{BASE}/structures?page_limit=100", "bob")["data"]}
    assert bob == set(world.entries["alice-public"]) | set(world.entries["bob-private"])
    embargoed = world.entries["alice-embargoed"][0]
    full = get(world, f"{BASE}/structures/{embargoed}", "alice")
    StructureResponseOne(**full)
    assert full["data"]["attributes"]["lattice_vectors"] is not None
    private = world.entries["alice-private"][0]
    get(world, f"{BASE}/structures/{private}", "bob", status=404)


def test_bad_token_is_an_optimade_401(world):
    response = world.client.get(
        f"{BASE}/structures", headers={"Authorization": "Bearer bmx_nonsense"}
    )
    assert response.status_code == 401
    ErrorResponse(**response.json())


def test_structure_attributes_in_angstrom(world):
    entry_id = world.entries["alice-public"][0]
    body = get(world, f"{BASE}/structures/{entry_id}")
    StructureResponseOne(**body)
    attrs = body["data"]["attributes"]
    assert (
        attrs["nsites"] == len(attrs["species_at_sites"]) == len(attrs["cartesian_site_positions"])
    )
    assert 2 < abs(attrs["lattice_vectors"][0][0]) < 50  # Å, not m
    assert abs(sum(attrs["elements_ratios"]) - 1) < 1e-9
    assert attrs["structure_features"] == []
    assert attrs["nperiodic_dimensions"] == 3
    assert attrs["last_modified"].endswith("Z")


def test_response_fields_keep_id_and_type(world):
    body = get(world, f"{BASE}/structures?response_fields=nelements,_other_thing&page_limit=2")
    for item in body["data"]:
        assert item["id"] and item["type"] == "structures"
        assert item["attributes"] == {
            "nelements": item["attributes"]["nelements"],
            "_other_thing": None,
        }


@pytest.mark.parametrize(
    ("flt", "status"),
    [
        ('elements HAS "O"', 200),
        ('elements HAS ALL "Al","O" AND nelements>=2', 200),
        ("nperiodic_dimensions = 3", 200),
        ('structure_features HAS "disorder"', 200),
        ("structure_features LENGTH 0", 200),
        ('chemical_formula_descriptive STARTS "A"', 200),
        ("_other_prop = 1", 200),
        ("crazyfield = 2", 400),
        ("nelements >", 400),
        ("elements_ratios HAS 0.5", 501),
        ("nsites = nelements", 501),
    ],
)
def test_filters(world, flt, status):
    response = world.client.get(f"{BASE}/structures", params={"filter": flt})
    assert response.status_code == status, response.text
    body = response.json()
    if status == 200:
        StructureResponseMany(**body)
    else:
        ErrorResponse(**body)


def test_filter_results_are_correct(world):
    body = world.client.get(
        f"{BASE}/structures", params={"filter": "structure_features LENGTH 0", "page_limit": 100}
    ).json()
    assert body["meta"]["data_returned"] == 4
    body = world.client.get(f"{BASE}/structures", params={"filter": "nsites < 0"}).json()
    assert body["meta"]["data_returned"] == 0 and body["data"] == []
    one = world.entries["alice-public"][1]
    body = world.client.get(f"{BASE}/structures", params={"filter": f'immutable_id="{one}"'}).json()
    assert [d["id"] for d in body["data"]] == [one]


@pytest.mark.parametrize("sort", [None, "nsites", "-nsites", "-chemical_formula_reduced,id"])
def test_paging_visits_every_entry_once(world, sort):
    params = {"page_limit": "3"}
    if sort:
        params["sort"] = sort
    seen = []
    url = f"{BASE}/structures"
    response = world.client.get(url, params=params, headers=world.alice)
    while True:
        body = response.json()
        assert response.status_code == 200, body
        seen += [d["id"] for d in body["data"]]
        nxt = body["links"]["next"]
        if not nxt:
            assert body["meta"]["more_data_available"] is False
            break
        assert body["meta"]["more_data_available"] is True
        response = world.client.get(nxt, headers=world.alice)
    assert len(seen) == len(set(seen)) == 12
    if sort == "nsites":
        sites = [
            get(world, f"{BASE}/structures/{i}", "alice")["data"]["attributes"]["nsites"]
            for i in seen
        ]
        assert sites == sorted(sites)


def test_offset_and_errors(world):
    all_ids = [d["id"] for d in get(world, f"{BASE}/structures?page_limit=100", "alice")["data"]]
    body = get(world, f"{BASE}/structures?page_limit=2&page_offset=2", "alice")
    assert [d["id"] for d in body["data"]] == all_ids[2:4]
    assert "page_offset=4" in body["links"]["next"]
    for bad, status in [
        ("page_limit=100000", 403),
        ("page_limit=x", 400),
        ("sort=elements", 400),
        ("sort=nope", 400),
        ("unknown_param=1", 400),
        ("response_format=xml", 400),
    ]:
        ErrorResponse(**get(world, f"{BASE}/structures?{bad}", status=status))
    get(world, f"{BASE}/structures?_bigmax_anything=1")  # provider parameters are ignored


def test_v1_2_prefix_serves_the_same(world):
    a = get(world, f"{BASE}/structures?page_limit=2")
    b = get(world, "/optimade/v1.2/structures?page_limit=2")
    assert [d["id"] for d in a["data"]] == [d["id"] for d in b["data"]]
    assert b["links"]["next"].startswith("http://testserver/optimade/v1.2/")
