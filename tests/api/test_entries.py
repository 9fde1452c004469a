"""The entries API as a user meets it: real values in SI, paging, raw files, zips and exports."""

from __future__ import annotations

import io
import json
import zipfile

import ase.io
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from bigmax.search import search

EV = 1.602176634e-19
Q = "/api/v1/entries/query"


def engine_of(world):
    return world.client.app.state.engine


def raw_bytes(world, name: str) -> bytes:
    return (world.settings.home.parent / "inputs" / name / f"{name}.extxyz").read_bytes()


def test_query_values_are_si_and_match_the_archive(world):
    eid = world.entries["alice-public"][0]
    body = {"query": {"entry_id": eid}, "required": ["entry_id", "band_gap", "elements"]}
    got = world.client.post(Q, json=body).json()
    assert got["total"] == 1
    row = got["data"][0]
    assert set(row) == {"entry_id", "band_gap", "elements"}
    archive = world.client.get(f"/api/v1/entries/{eid}/archive").json()
    gap = archive["results"]["properties"]["band_gap"]["value"]
    assert row["band_gap"] == pytest.approx(gap)
    assert 1e-20 < row["band_gap"] < 1e-18  # joules: a few eV
    assert row["elements"] == archive["results"]["material"]["elements"]


def test_query_with_units_and_aggregations(world):
    body = {
        "query": {"band_gap:gte": "2 eV"},
        "required": ["entry_id", "band_gap"],
        "pagination": {"page_size": 100, "order_by": "band_gap", "order": "desc"},
        "aggregations": {"sg": {"terms": {"quantity": "space_group_number"}}},
    }
    got = world.client.post(Q, json=body, headers=world.alice).json()
    gaps = [d["band_gap"] for d in got["data"]]
    assert gaps == sorted(gaps, reverse=True) and all(g >= 2 * EV * (1 - 1e-12) for g in gaps)
    assert got["total"] == len(gaps) > 0
    assert sum(b["count"] for b in got["aggregations"]["sg"]["terms"]["data"]) == got["total"]


def test_pagination_visits_every_entry_once(world):
    seen: list[str] = []
    after = None
    while True:
        pagination = {"page_size": 3, "order_by": "formula_reduced", "page_after_value": after}
        page = world.client.post(Q, json={"pagination": pagination}, headers=world.alice).json()
        seen += [d["entry_id"] for d in page["data"]]
        after = page["next_page_after_value"]
        if after is None:
            break
    alice_can_read = [
        e for n in ("alice-private", "alice-embargoed", "alice-public") for e in world.entries[n]
    ]
    assert sorted(seen) == sorted(alice_can_read)
    assert len(seen) == len(set(seen)) == page["total"]


def test_get_by_query_parameters(world):
    got = world.client.get(
        "/api/v1/entries",
        params=[
            ("elements", "O"),
            ("elements", "Ga"),
            ("band_gap:gt", "1 eV"),
            ("required", "entry_id"),
            ("required", "elements"),
            ("page_size", "100"),
        ],
    )
    assert got.status_code == 200, got.text
    data = got.json()["data"]
    want = search(
        engine_of(world),
        {
            "elements": ["O", "Ga"],
            "band_gap:gt": "1 eV",
            "upload_id": world.uploads["alice-public"],
        },
        page_size=100,
    )
    assert sorted(d["entry_id"] for d in data) == sorted(d["entry_id"] for d in want.data)
    assert all({"O", "Ga"} <= set(d["elements"]) for d in data)


def test_entry_summary(world):
    eid = world.entries["alice-public"][1]
    got = world.client.get(f"/api/v1/entries/{eid}").json()
    assert got["entry_id"] == eid and got["upload_id"] == world.uploads["alice-public"]
    assert got["mainfile"] == "alice-public.extxyz"
    assert got["state"] == "success" and got["n_sites"] > 0


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"query": {"band_gpa": 1}}, "band_gpa"),
        ({"query": {"band_gap:gt": [1]}}, "band_gap"),
        ({"pagination": {"page_size": -1}}, "page_size"),
        ({"pagination": {"order_by": "nope"}}, "order_by"),
        ({"required": ["nope"]}, "required"),
        ({"aggregations": {"x": {"terms": {"quantity": "nope"}}}}, "nope"),
        ({"filter": "nsites <<< 3"}, "filter"),
        ({"surprise": 1}, "surprise"),
        ({"pagination": {"page_after_value": "garbage"}}, "page_after_value"),
    ],
)
def test_bad_queries_name_the_field(world, body, names):
    got = world.client.post(Q, json=body)
    assert 400 <= got.status_code < 500, got.text
    assert names in got.text


def test_bad_query_parameters_and_formats_are_4xx(world):
    got = world.client.get("/api/v1/entries?band_gpa=1")
    assert got.status_code in (400, 422) and "band_gpa" in got.text
    got = world.client.get("/api/v1/entries?page_size=many")
    assert got.status_code == 422 and "page_size" in got.text
    got = world.client.post("/api/v1/entries/export?format=xls", json={})
    assert got.status_code == 422 and "format" in got.text
    got = world.client.post("/api/v1/entries/raw/query", json={"query": {"nope": 1}})
    assert got.status_code == 422 and "nope" in got.text
    got = world.client.get(f"/api/v1/uploads/{world.uploads['alice-public']}/raw/../secret")
    assert got.status_code in (400, 404)


def test_entry_raw_is_the_mainfile(world):
    eid = world.entries["alice-public"][0]
    got = world.client.get(f"/api/v1/entries/{eid}/raw")
    assert got.status_code == 200
    assert got.content == raw_bytes(world, "alice-public")
    assert 'filename="alice-public.extxyz"' in got.headers["content-disposition"]


def test_upload_raw_file(world):
    up = world.uploads["alice-private"]
    got = world.client.get(f"/api/v1/uploads/{up}/raw/alice-private.extxyz", headers=world.alice)
    assert got.content == raw_bytes(world, "alice-private")
    got = world.client.get(f"/api/v1/uploads/{up}/raw/absent.txt", headers=world.alice)
    assert got.status_code == 404 and "absent.txt" in got.text


def test_raw_zip_holds_each_mainfile_once_byte_for_byte(world):
    got = world.client.post("/api/v1/entries/raw/query", json={}, headers=world.alice)
    assert got.headers["content-type"] == "application/zip"
    zf = zipfile.ZipFile(io.BytesIO(got.content))
    assert zf.testzip() is None
    names = ("alice-private", "alice-embargoed", "alice-public")
    want = {f"{world.uploads[n]}/{n}.extxyz": raw_bytes(world, n) for n in names}
    assert sorted(zf.namelist()) == sorted(want)  # 4 entries per file, each file once
    for name, data in want.items():
        assert zf.read(name) == data


def test_raw_zip_of_a_query(world):
    body = {"query": {"upload_id": world.uploads["alice-public"]}}
    zf = zipfile.ZipFile(
        io.BytesIO(world.client.post("/api/v1/entries/raw/query", json=body).content)
    )
    assert zf.namelist() == [f"{world.uploads['alice-public']}/alice-public.extxyz"]
    empty = world.client.post("/api/v1/entries/raw/query", json={"query": {"n_sites:gt": 10**6}})
    assert zipfile.ZipFile(io.BytesIO(empty.content)).namelist() == []


def _export(world, fmt: str, query=None):
    got = world.client.post(
        f"/api/v1/entries/export?format={fmt}", json={"query": query}, headers=world.alice
    )
    assert got.status_code == 200, got.text
    assert f"entries.{fmt}" in got.headers["content-disposition"]
    return got.content


def test_export_jsonl_round_trips_the_archives(world):
    lines = (
        _export(world, "jsonl", {"upload_id": world.uploads["alice-public"]}).decode().splitlines()
    )
    entries = [json.loads(line) for line in lines]
    assert sorted(e["entry_id"] for e in entries) == sorted(world.entries["alice-public"])
    for e in entries:
        assert e == world.client.get(f"/api/v1/entries/{e['entry_id']}/archive").json()


def test_export_tables_in_export_units(world):
    query = {"upload_id": world.uploads["alice-public"]}
    table = pq.read_table(io.BytesIO(_export(world, "parquet", query)))
    csv = pcsv.read_csv(io.BytesIO(_export(world, "csv", query)))
    assert table.num_rows == csv.num_rows == 4
    gaps = dict(zip(table["entry_id"].to_pylist(), table["band_gap (eV)"].to_pylist(), strict=True))
    for eid, gap in gaps.items():
        si = world.client.get(f"/api/v1/entries/{eid}").json()["band_gap"]
        assert gap == pytest.approx(si / EV)
    assert csv["band_gap (eV)"].to_pylist() == pytest.approx(table["band_gap (eV)"].to_pylist())
    assert table["elements"].to_pylist()[0] == sorted(table["elements"].to_pylist()[0])


def test_export_extxyz_reads_back_with_ase(world):
    frames = ase.io.read(io.StringIO(_export(world, "extxyz").decode()), index=":", format="extxyz")
    assert len(frames) == 12
    by_id = {f.info["entry_id"]: f for f in frames}
    eid = world.entries["alice-public"][0]
    summary = world.client.get(f"/api/v1/entries/{eid}").json()
    assert len(by_id[eid]) == summary["n_sites"]
    assert by_id[eid].info["band_gap"] == pytest.approx(summary["band_gap"] / EV)


def test_empty_exports_are_valid_files(world):
    query = {"n_sites:gt": 10**6}
    assert pq.read_table(io.BytesIO(_export(world, "parquet", query))).num_rows == 0
    assert pcsv.read_csv(io.BytesIO(_export(world, "csv", query))).num_rows == 0
    assert _export(world, "jsonl", query) == b""


def test_openapi_documents_the_entry_fields(world):
    spec = world.client.get("/api/v1/openapi.json").json()
    props = spec["components"]["schemas"]["EntryData"]["properties"]
    assert "J (SI)" in props["band_gap"]["description"]
    assert "/api/v1/entries/query" in spec["paths"]
    assert "/api/v1/entries/export" in spec["paths"]
