"""Datasets through the API: create, fill, freeze, cite; frozen ones are immutable."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import update

from bigmax.archive.db import UploadRow

D = "/api/v1/datasets"


def make(world, who="alice", name="Ga-In oxides") -> str:
    got = world.client.post(
        D, json={"name": name, "description": "test"}, headers=world.headers(who)
    )
    assert got.status_code == 201, got.text
    return got.json()["dataset_id"]


def test_create_fill_and_read(world):
    ds = make(world)
    ids = world.entries["alice-public"] + world.entries["alice-private"][:1]
    got = world.client.post(
        f"{D}/{ds}/entries", json={"entry_ids": ids + ids[:1]}, headers=world.alice
    )
    assert got.status_code == 200, got.text
    assert got.json()["n_entries"] == 5 and sorted(got.json()["entry_ids"]) == sorted(ids)
    # bob cannot see an open dataset, alice lists it as her own
    assert world.client.get(f"{D}/{ds}", headers=world.bob).status_code == 404
    assert [d["dataset_id"] for d in world.client.get(D, headers=world.alice).json()] == [ds]
    assert world.client.get(D, headers=world.bob).json() == []
    got = world.client.request(
        "DELETE", f"{D}/{ds}/entries", json={"entry_ids": ids[-1:]}, headers=world.alice
    )
    assert got.json()["n_entries"] == 4


def test_freeze_gives_a_stable_pid_and_citation(world):
    ds = make(world, name="Transparent oxides")
    ids = world.entries["alice-public"][:3]
    world.client.post(f"{D}/{ds}/entries", json={"entry_ids": ids}, headers=world.alice)
    got = world.client.post(f"{D}/{ds}/action/freeze", headers=world.alice)
    assert got.status_code == 200, got.text
    frozen = got.json()
    assert frozen["frozen"] and re.fullmatch(r"bigmax:ds/[a-z2-7]{26}", frozen["pid"])
    year = frozen["frozen_at"][:4]
    assert frozen["citation"] == (
        f"alice ({year}). Transparent oxides [Data set, 3 entries]. BigMax. {frozen['pid']}"
    )
    # public now, to anonymous users too, and the same every time
    for headers in ({}, world.bob):
        again = world.client.get(f"{D}/{ds}", headers=headers).json()
        assert again["pid"] == frozen["pid"] and sorted(again["entry_ids"]) == sorted(ids)
    assert [d["dataset_id"] for d in world.client.get(D).json()] == [ds]
    # immutable
    for method, path, body in (
        ("POST", f"{D}/{ds}/entries", {"entry_ids": world.entries["alice-public"][3:]}),
        ("DELETE", f"{D}/{ds}/entries", {"entry_ids": ids[:1]}),
        ("POST", f"{D}/{ds}/action/freeze", None),
    ):
        got = world.client.request(method, path, json=body, headers=world.alice)
        assert got.status_code == 400 and "frozen" in got.json()["detail"], (method, path)
    assert world.client.get(f"{D}/{ds}").json()["n_entries"] == 3


def test_citation_authors_come_from_the_uploads(world):
    engine = world.client.app.state.engine
    with engine.begin() as conn:
        conn.execute(
            update(UploadRow)
            .where(UploadRow.upload_id == world.uploads["alice-public"])
            .values(authors=[{"name": "Ada Lovelace"}, {"name": "Marie Curie"}])
        )
    ds = make(world)
    world.client.post(
        f"{D}/{ds}/entries",
        json={"entry_ids": world.entries["alice-public"][:1]},
        headers=world.alice,
    )
    got = world.client.post(f"{D}/{ds}/action/freeze", headers=world.alice).json()
    assert got["citation"].startswith("Ada Lovelace; Marie Curie (")
    assert "[Data set, 1 entry]" in got["citation"]


def test_freeze_refuses_unpublished_and_empty(world):
    ds = make(world)
    got = world.client.post(f"{D}/{ds}/action/freeze", headers=world.alice)
    assert got.status_code == 400 and "empty" in got.json()["detail"]
    private = world.entries["alice-private"][0]
    world.client.post(f"{D}/{ds}/entries", json={"entry_ids": [private]}, headers=world.alice)
    got = world.client.post(f"{D}/{ds}/action/freeze", headers=world.alice)
    assert got.status_code == 400 and private in got.json()["detail"]


def test_embargoed_members_are_counted_only_for_readers(world):
    ds = make(world)
    ids = world.entries["alice-embargoed"][:2] + world.entries["alice-public"][:1]
    world.client.post(f"{D}/{ds}/entries", json={"entry_ids": ids}, headers=world.alice)
    world.client.post(f"{D}/{ds}/action/freeze", headers=world.alice)
    assert world.client.get(f"{D}/{ds}", headers=world.alice).json()["n_entries"] == 3
    public = world.client.get(f"{D}/{ds}").json()
    assert public["n_entries"] == 1 and public["entry_ids"] == ids[2:]


@pytest.mark.parametrize(
    ("method", "path", "body", "who", "status", "word"),
    [
        ("POST", "", {"name": ""}, "alice", 422, "name"),
        ("POST", "", {"name": "x", "colour": 1}, "alice", 422, "colour"),
        ("POST", "", {"name": "x"}, None, 401, "log in"),
        ("POST", "/{ds}/entries", {"entry_ids": []}, "alice", 422, "entry_ids"),
        ("POST", "/{ds}/entries", {"entry_ids": "abc"}, "alice", 422, "entry_ids"),
        ("POST", "/{ds}/entries", {"entry_ids": ["nope"]}, "alice", 400, "nope"),
        ("POST", "/{ds}/entries", {"entry_ids": ["nope"]}, "bob", 404, "dataset"),
        ("DELETE", "/{ds}/entries", {}, "alice", 422, "entry_ids"),
        ("GET", "/missing", None, "alice", 404, "missing"),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(world, method, path, body, who, status, word):
    ds = make(world)
    got = world.client.request(
        method, D + path.format(ds=ds), json=body, headers=world.headers(who)
    )
    assert got.status_code == status, got.text
    assert word in got.text


def test_bob_cannot_change_alices_frozen_dataset(world):
    ds = make(world)
    world.client.post(
        f"{D}/{ds}/entries",
        json={"entry_ids": world.entries["alice-public"][:1]},
        headers=world.alice,
    )
    world.client.post(f"{D}/{ds}/action/freeze", headers=world.alice)
    got = world.client.request(
        "DELETE",
        f"{D}/{ds}/entries",
        json={"entry_ids": world.entries["alice-public"][:1]},
        headers=world.bob,
    )
    assert got.status_code == 403
