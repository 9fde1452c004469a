"""Nothing of alice's private or embargoed data reaches anonymous users or bob, through any
endpoint: not in data, totals, aggregation counts, exports, zips or datasets. Embargoed entries
are findable by formula, elements and space group only.

The endpoint tables below are the place to add a new endpoint; routes with ``{entry_id}``,
``{upload_id}`` or ``{dataset_id}`` are also found and probed automatically from ``app.routes``.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.archive.access import SYSTEM
from bigmax.archive.datasets import add_entries, create_dataset, freeze
from bigmax.archive.lifecycle import get_upload
from bigmax.archive.users import get_user
from bigmax.search import search

OUTSIDERS = (None, "bob")
HIDDEN = ("alice-private", "alice-embargoed")
VISIBLE = {None: ("alice-public",), "bob": ("alice-public", "bob-private")}
FINDABLE = ("entry_id", "upload_id", "formula_reduced", "elements", "space_group_number")


def engine_of(world):
    return world.client.app.state.engine


def hidden_ids(world, findable: bool = False) -> set[str]:
    """Entry and upload ids that must not show; embargoed ones may when ``findable``."""
    names = ("alice-private",) if findable else HIDDEN
    ids = {world.uploads[n] for n in names}
    for n in names:
        ids.update(world.entries[n])
    return ids


def visible_entries(world, who) -> set[str]:
    return {e for n in VISIBLE[who] for e in world.entries[n]}


def oracle(world, who, query, findable: bool, **kwargs):
    """The same search by the system account, limited by upload id instead of by scope."""
    names = VISIBLE[who] + (("alice-embargoed",) if findable else ())
    restricted = {"and": [query or {}, {"upload_id:any": [world.uploads[n] for n in names]}]}
    return search(engine_of(world), restricted, **kwargs)


# -- response decoders: every format becomes text in which ids can be looked for ----------------


def text_of(resp) -> str:
    kind = resp.headers.get("content-type", "")
    if "zip" in kind:
        zf = zipfile.ZipFile(io.BytesIO(resp.content))
        return "\n".join(n + "\n" + zf.read(n).decode("utf-8", "replace") for n in zf.namelist())
    if "parquet" in kind:
        return json.dumps(pq.read_table(io.BytesIO(resp.content)).to_pylist(), default=str)
    return resp.text


# -- collection endpoints: the response must not mention hidden ids -----------------------------


@dataclass
class Probe:
    name: str
    method: str
    path: str
    body: dict | Callable | None = None  # or a function of the world, for ids
    findable: bool = False  # embargoed entries (formula/elements/space group) may show

    def call(self, world, who):
        body = self.body(world) if callable(self.body) else self.body
        return world.client.request(self.method, self.path, json=body, headers=world.headers(who))


ALL = ["entry_id", "upload_id", "mainfile", "formula_reduced", "band_gap", "elements"]
AGGS = {
    "el": {"terms": {"quantity": "elements"}},
    "sg": {"terms": {"quantity": "space_group_number", "size": 50}},
    "gap": {"histogram": {"quantity": "band_gap", "interval": "0.5 eV"}},
    "gap_range": {"min_max": {"quantity": "band_gap"}},
    "ef": {"statistics": {"quantity": "formation_energy_per_atom"}},
}
PAGE = {"page_size": 100}
QUERY = "/api/v1/entries/query"
OPTIMADE = "/optimade/v1/structures"


def asking_for_hidden(world) -> dict:
    """A query naming alice's hidden entries outright."""
    ids = [e for n in HIDDEN for e in world.entries[n]]
    return {"query": {"entry_id:any": ids}, "pagination": PAGE, "required": ALL}


COLLECTIONS = [
    Probe("query", "POST", QUERY, {"pagination": PAGE}),
    Probe("query all fields", "POST", QUERY, {"pagination": PAGE, "required": ALL}),
    Probe("query aggregations", "POST", QUERY, {"aggregations": AGGS}),
    Probe("query by hidden ids", "POST", QUERY, asking_for_hidden),
    Probe("query params", "GET", "/api/v1/entries?page_size=100"),
    Probe(
        "findable query",
        "POST",
        QUERY,
        {"query": {"elements": "O"}, "required": list(FINDABLE[:3]), "pagination": PAGE},
        findable=True,
    ),
    Probe(
        "findable aggregation",
        "POST",
        QUERY,
        {"required": ["entry_id"], "aggregations": {"el": AGGS["el"]}, "pagination": PAGE},
        findable=True,
    ),
    Probe("raw zip", "POST", "/api/v1/entries/raw/query", {}),
    Probe(
        "raw zip of hidden ids",
        "POST",
        "/api/v1/entries/raw/query",
        lambda w: {"query": asking_for_hidden(w)["query"]},
    ),
    *(
        Probe(
            f"export {fmt}",
            "POST",
            f"/api/v1/entries/export?format={fmt}",
            lambda w: {"query": asking_for_hidden(w)["query"]},
        )
        for fmt in ("jsonl", "csv", "parquet", "extxyz")
    ),
    Probe("datasets", "GET", "/api/v1/datasets"),
    Probe("uploads", "GET", "/api/v1/uploads"),
    Probe("optimade structures", "GET", f"{OPTIMADE}?page_limit=100"),
    Probe("optimade filter", "GET", f"{OPTIMADE}?page_limit=100&filter=nelements>=1"),
    Probe(
        "optimade findable filter, all fields",
        "GET",
        f"{OPTIMADE}?page_limit=100&filter=elements HAS \"O\"",
    ),
    Probe(
        "optimade findable filter and fields",
        "GET",
        f"{OPTIMADE}?page_limit=100&filter=elements HAS \"O\""
        "&response_fields=chemical_formula_reduced,elements",
        findable=True,
    ),
    Probe(
        "optimade findable fields, other filter",
        "GET",
        f"{OPTIMADE}?page_limit=100&filter=nsites>=1&response_fields=elements",
    ),
]


def api_routes(world) -> list[tuple[str, str]]:
    """(METHOD, path template) of every documented route: robust to how routers are mounted."""
    spec = world.client.get("/api/v1/openapi.json").json()
    return [(m.upper(), path) for path, ops in spec["paths"].items() for m in ops]


def _regex(template: str) -> re.Pattern:
    parts = re.split(r"({\w+(?::\w+)?})", template)
    pattern = "".join(
        (".+" if ":path" in p else "[^/]+") if p.startswith("{") else re.escape(p) for p in parts
    )
    return re.compile(pattern + "$")


def has_route(world, method: str, path: str) -> bool:
    path = path.split("?")[0]
    return any(m == method and _regex(t).match(path) for m, t in api_routes(world))


@pytest.fixture
def shared_datasets(world):
    """alice's frozen dataset (public and embargoed entries) and open one (private ones)."""
    engine = engine_of(world)
    alice = get_user(engine, "alice").viewer
    frozen = create_dataset(engine, alice, "frozen")
    add_entries(
        engine,
        alice,
        frozen.dataset_id,
        world.entries["alice-public"][:2] + world.entries["alice-embargoed"],
    )
    freeze(engine, alice, frozen.dataset_id)
    open_ = create_dataset(engine, alice, "open")
    add_entries(engine, alice, open_.dataset_id, world.entries["alice-private"])
    return {"frozen": frozen.dataset_id, "open": open_.dataset_id}


@pytest.mark.parametrize("probe", COLLECTIONS, ids=lambda p: p.name)
@pytest.mark.parametrize("who", OUTSIDERS)
def test_collections_hide_alice(world, shared_datasets, probe, who):
    """Hidden ids appear nowhere in what an outsider gets back."""
    if not has_route(world, probe.method, probe.path):
        pytest.skip(f"{probe.method} {probe.path} is not mounted")
    resp = probe.call(world, who)
    if who is None and resp.status_code == 401:
        return  # an endpoint for logged-in users only shows nothing at all
    assert resp.status_code == 200, resp.text[:300]
    text = text_of(resp)
    leaked = [i for i in hidden_ids(world, probe.findable) if i in text]
    assert not leaked, f"{probe.name} shows {who or 'anonymous'} hidden ids {leaked}"
    assert shared_datasets["open"] not in text
    if probe.findable:  # it does find the embargoed entries: the rule is not too strict
        assert set(world.entries["alice-embargoed"]) & set(re.findall(r"[a-z2-7]{32}", text))


@pytest.mark.parametrize(
    "probe",
    [p for p in COLLECTIONS if "hidden" in p.name or "export" in p.name],
    ids=lambda p: p.name,
)
def test_alice_sees_her_own(world, probe):
    """The probes are not vacuous: the owner gets her private and embargoed entries."""
    text = text_of(probe.call(world, "alice"))
    for name in HIDDEN:
        assert world.entries[name][0] in text or world.uploads[name] in text, name


# -- totals and aggregation counts ---------------------------------------------------------


def _close(a, b) -> bool:
    """Equal, but floats only to rounding (sums taken in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return a == pytest.approx(b, rel=1e-12)
    return a == b


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize(
    "query",
    [None, {"elements": "O"}, {"band_gap:gt": "1 eV"}, {"not": {"elements": "In"}}],
    ids=["all", "O", "gap", "not-In"],
)
def test_totals_and_aggregations_count_only_visible(world, who, query):
    body = {"query": query, "pagination": PAGE, "aggregations": AGGS}
    got = world.client.post("/api/v1/entries/query", json=body, headers=world.headers(who))
    assert got.status_code == 200, got.text
    got = got.json()
    want = oracle(world, who, query, False, page_size=100, aggregations=AGGS)
    assert got["total"] == want.total
    assert {d["entry_id"] for d in got["data"]} == {d["entry_id"] for d in want.data}
    # the oracle's plan may sum in another order: means agree to rounding, counts exactly
    assert _close(got["aggregations"], json.loads(json.dumps(want.aggregations)))
    assert {d["entry_id"] for d in got["data"]} <= visible_entries(world, who)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_findable_aggregation_counts_include_embargoed(world, who):
    """Element terms with findable-only fields count embargoed entries; a band-gap histogram
    in the same request makes the whole request fall back to readable entries."""
    findable = {"required": ["entry_id"], "aggregations": {"el": AGGS["el"]}}
    got = world.client.post("/api/v1/entries/query", json=findable, headers=world.headers(who))
    want = oracle(
        world, who, None, True, required=["entry_id"], aggregations=findable["aggregations"]
    )
    assert got.json()["total"] == want.total == 4 * (len(VISIBLE[who]) + 1)
    assert got.json()["aggregations"] == want.aggregations
    mixed = {**findable, "aggregations": {"el": AGGS["el"], "gap": AGGS["gap"]}}
    got = world.client.post("/api/v1/entries/query", json=mixed, headers=world.headers(who))
    assert got.json()["total"] == 4 * len(VISIBLE[who])


# -- embargo: findable by formula, elements and space group only -----------------------------


def embargoed_entry(world) -> dict:
    return search(
        engine_of(world),
        {"entry_id": world.entries["alice-embargoed"][0]},
        required=["entry_id", "formula_reduced", "space_group_number", "elements", "band_gap"],
    ).data[0]


@pytest.mark.parametrize("who", OUTSIDERS)
@pytest.mark.parametrize("by", ["formula_reduced", "space_group_number", "elements"])
def test_embargoed_findable_by_basic_metadata_only(world, who, by):
    e = embargoed_entry(world)
    query = {by: e[by]} if by != "elements" else {"elements:all": e[by]}
    h = world.headers(who)
    url = "/api/v1/entries/query"
    for required in (["entry_id", "formula_reduced"], [by, "upload_id", "n_elements"]):
        body = {"query": query, "required": required, "pagination": PAGE}
        found = world.client.post(url, json=body, headers=h).json()
        assert found["total"] >= 1, (required, found)
        text = json.dumps(found)
        assert e["entry_id"] in text or world.uploads["alice-embargoed"] in text, required
    # any other field anywhere in the request hides it
    for extra in (
        {"required": ["entry_id", "band_gap"]},
        {"query": {**query, "band_gap:gte": 0}},
        {"pagination": {"order_by": "band_gap", "page_size": 100}},
        {"aggregations": {"x": {"terms": {"quantity": "program_name"}}}},
        {"filter": "nelements >= 1"},
        {"query": {**query, "optimade_filter": "nelements >= 1"}},
        {"query": {"or": [query, {"not": {"mainfile": "x"}}]}},
    ):
        body = {"query": query, "required": ["entry_id"], "pagination": PAGE, **extra}
        resp = world.client.post(url, json=body, headers=h)
        assert resp.status_code == 200, resp.text
        assert e["entry_id"] not in resp.text, extra
        assert world.uploads["alice-embargoed"] not in resp.text


@pytest.mark.parametrize("who", OUTSIDERS)
def test_embargoed_entry_page_shows_basic_metadata_only(world, who):
    e = embargoed_entry(world)
    got = world.client.get(f"/api/v1/entries/{e['entry_id']}", headers=world.headers(who))
    assert got.status_code == 200
    body = got.json()
    assert body["formula_reduced"] == e["formula_reduced"]
    assert body["space_group_number"] == e["space_group_number"]
    assert "band_gap" not in body and "mainfile" not in body and "program_name" not in body


# -- items: hidden ones answer exactly like missing ones (404, never 403) ------------------------

NOWHERE = "a" * 32


def items(world, shared) -> list[tuple[str, str, str]]:
    """(label, url for a hidden item, url for a missing item)."""
    out = []
    priv = world.entries["alice-private"][0]
    emb = world.entries["alice-embargoed"][0]
    for eid, kind in ((priv, "private"), (emb, "embargoed")):
        for tail in ("/archive", "/raw"):
            out.append(
                (
                    f"entry{tail} {kind}",
                    f"/api/v1/entries/{eid}{tail}",
                    f"/api/v1/entries/{NOWHERE}{tail}",
                )
            )
    out.append(("entry private", f"/api/v1/entries/{priv}", f"/api/v1/entries/{NOWHERE}"))
    for name in HIDDEN:
        up = world.uploads[name]
        out.append(
            (
                f"upload raw {name}",
                f"/api/v1/uploads/{up}/raw/{name}.extxyz",
                f"/api/v1/uploads/{NOWHERE}/raw/{name}.extxyz",
            )
        )
    out.append(
        ("dataset open", f"/api/v1/datasets/{shared['open']}", f"/api/v1/datasets/{NOWHERE}")
    )
    return out


@pytest.mark.parametrize("who", OUTSIDERS)
def test_hidden_items_look_missing(world, shared_datasets, who):
    for label, hidden, missing in items(world, shared_datasets):
        a = world.client.get(hidden, headers=world.headers(who))
        b = world.client.get(missing, headers=world.headers(who))
        assert a.status_code == b.status_code == 404, (label, a.status_code, a.text)
        assert a.json()["detail"].replace(hidden.split("/")[4], "X") == b.json()["detail"].replace(
            NOWHERE, "X"
        ), label


def _fill(path: str, world, shared, name: str) -> str | None:
    values = {
        "entry_id": world.entries[name][0],
        "upload_id": world.uploads[name],
        "dataset_id": shared["open"],
        "path": f"{name}.extxyz",
    }
    params = re.findall(r"{(\w+)(?::\w+)?}", path)
    if not params or any(p not in values for p in params):
        return None
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m.group(1)], path)


@pytest.mark.parametrize("who", OUTSIDERS)
def test_every_item_route_hides_private_data(world, shared_datasets, who):
    """Every GET route of the app that takes an entry, upload or dataset id, whoever wrote it:
    alice's private ones answer 401 (anonymous, log in first) or 404, never 403 or data."""
    probed = 0
    for method, template in api_routes(world):
        if method != "GET":
            continue
        url = _fill(template, world, shared_datasets, "alice-private")
        if url is None:
            continue
        resp = world.client.get(url, headers=world.headers(who))
        allowed = {404} if who else {401, 404}
        assert resp.status_code in allowed, (template, resp.status_code, resp.text[:200])
        probed += 1
    assert probed >= 5


# -- writes: an outsider cannot use alice's entries or datasets ----------------------------


def test_datasets_hide_alice(world, shared_datasets):
    c = world.client
    frozen = c.get(f"/api/v1/datasets/{shared_datasets['frozen']}", headers=world.bob).json()
    assert set(frozen["entry_ids"]) == set(world.entries["alice-public"][:2])
    assert frozen["n_entries"] == 2
    mine = c.post("/api/v1/datasets", json={"name": "bob's"}, headers=world.bob).json()[
        "dataset_id"
    ]
    url = f"/api/v1/datasets/{mine}/entries"
    for name in HIDDEN:
        hidden = c.post(url, json={"entry_ids": world.entries[name][:1]}, headers=world.bob)
        missing = c.post(url, json={"entry_ids": [NOWHERE]}, headers=world.bob)
        assert hidden.status_code == missing.status_code == 400
        assert hidden.json()["detail"].replace(world.entries[name][0], "X") == missing.json()[
            "detail"
        ].replace(NOWHERE, "X")
    open_ = f"/api/v1/datasets/{shared_datasets['open']}"
    assert (
        c.post(f"{open_}/entries", json={"entry_ids": [NOWHERE]}, headers=world.bob).status_code
        == 404
    )
    assert c.post(f"{open_}/action/freeze", headers=world.bob).status_code == 404
    assert c.post(f"{open_}/action/freeze").status_code == 401


# -- random queries: totals never include hidden entries ---------------------------------------

ELEMENTS = ["O", "Al", "Ga", "In"]
SPACE_GROUPS = [1, 12, 33, 42, 167, 194, 206, 227]


def _condition(findable: bool):
    if findable:
        return st.one_of(
            st.builds(lambda e: {"elements": e}, st.sampled_from(ELEMENTS)),
            st.builds(
                lambda es: {"elements:any": es},
                st.lists(st.sampled_from(ELEMENTS), min_size=1, max_size=3),
            ),
            st.builds(
                lambda es: {"elements:none": es},
                st.lists(st.sampled_from(ELEMENTS), min_size=1, max_size=2),
            ),
            st.builds(lambda g: {"space_group_number": g}, st.sampled_from(SPACE_GROUPS)),
            st.builds(lambda n: {"n_elements:gte": n}, st.integers(1, 5)),
        )
    return st.one_of(
        st.builds(lambda x: {"band_gap:gt": f"{x} eV"}, st.floats(0, 6).map(lambda v: round(v, 2))),
        st.builds(lambda n: {"n_sites:lte": n}, st.integers(10, 90)),
        st.builds(
            lambda x: {"formation_energy_per_atom:lt": f"{x} eV"}, st.sampled_from([0.1, 0.2, 0.3])
        ),
        st.just({"program_name": "FHI-aims"}),
        st.just({"crystal_system": "triclinic"}),
    )


def _tree(findable: bool):
    leaf = _condition(findable)
    return st.recursive(
        leaf,
        lambda kids: st.one_of(
            st.lists(kids, min_size=1, max_size=3).map(lambda qs: {"and": qs}),
            st.lists(kids, min_size=1, max_size=3).map(lambda qs: {"or": qs}),
            kids.map(lambda q: {"not": q}),
        ),
        max_leaves=4,
    )


@st.composite
def requests(draw):
    findable = draw(st.booleans())
    query = draw(_tree(True) if findable else st.one_of(_tree(False), _tree(True)))
    required = ["entry_id"] + draw(st.lists(st.sampled_from(FINDABLE[1:]), max_size=2))
    if not findable and draw(st.booleans()):
        required.append(draw(st.sampled_from(["band_gap", "mainfile", "n_sites"])))
    aggs = {}
    if draw(st.booleans()):
        q = draw(st.sampled_from(["elements", "space_group_number"] if findable else ["band_gap"]))
        aggs = {"a": {"terms": {"quantity": q}} if q != "band_gap" else AGGS["gap"]}
    touched = json.dumps([query, required, aggs])
    really_findable = not any(
        f in touched for f in ("band_gap", "n_sites", "formation", "program", "crystal", "mainfile")
    )
    return query, required, aggs, really_findable


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(req=requests(), who=st.sampled_from(OUTSIDERS))
def test_random_queries_never_count_hidden(world, req, who):
    query, required, aggs, findable = req
    body = {"query": query, "required": required, "aggregations": aggs, "pagination": PAGE}
    resp = world.client.post("/api/v1/entries/query", json=body, headers=world.headers(who))
    assert resp.status_code == 200, resp.text
    got = resp.json()
    want = oracle(world, who, query, findable, required=required, page_size=100, aggregations=aggs)
    assert got["total"] == want.total == len(got["data"])
    assert _close(got["aggregations"], json.loads(json.dumps(want.aggregations)))
    shown = {d["entry_id"] for d in got["data"]}
    assert not shown & hidden_ids(world, findable)


def test_embargoed_upload_row_is_embargoed(world):
    """Guard for the fixture this file relies on."""
    row = get_upload(engine_of(world), world.uploads["alice-embargoed"])
    assert row.published and row.embargo_until is not None
    assert SYSTEM.is_admin
