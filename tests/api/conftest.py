"""A live app over a small archive with two users and data of every visibility.

alice owns three uploads: ``alice-private`` (unpublished, shared with nobody),
``alice-embargoed`` (published with a 12-month embargo) and ``alice-public`` (published).
bob owns ``bob-private``. Each upload holds 4 real NOMAD 2018 structures (distinct per upload).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bigmax.api.app import create_app
from bigmax.archive.access import SYSTEM
from bigmax.archive.db import EntryRow
from bigmax.archive.ingest import ingest
from bigmax.archive.lifecycle import publish
from bigmax.archive.users import create_token, create_user
from bigmax.config import Settings
from bigmax.demo import nomad2018_frames


@dataclass
class World:
    client: TestClient
    settings: Settings
    alice: dict  # Authorization headers
    bob: dict
    uploads: dict  # name -> upload id
    entries: dict  # name -> list of entry ids

    def headers(self, who: str | None) -> dict:
        return {"alice": self.alice, "bob": self.bob}.get(who, {})


@pytest.fixture
def world(tmp_path, database_url) -> World:
    settings = Settings(home=tmp_path / "home", database_url=database_url)
    app = create_app(settings)
    engine = app.state.engine
    alice = create_user(engine, "alice", "alice-password")
    bob = create_user(engine, "bob", "bob-password-1")
    owners = {
        "alice-private": alice,
        "alice-embargoed": alice,
        "alice-public": alice,
        "bob-private": bob,
    }
    uploads, entries = {}, {}
    for i, (name, owner) in enumerate(owners.items()):
        folder = tmp_path / "inputs" / name
        folder.mkdir(parents=True)
        (folder / f"{name}.extxyz").write_text(nomad2018_frames(4 * i, 4))
        report = ingest(
            [folder], upload=name, owner_id=owner.user_id, settings=settings, engine=engine
        )
        with engine.connect() as conn:
            entries[name] = list(
                conn.execute(
                    select(EntryRow.entry_id).where(EntryRow.upload_id == report.upload_id)
                ).scalars()
            )
        uploads[name] = report.upload_id
    publish(engine, uploads["alice-embargoed"], SYSTEM, embargo_months=12)
    publish(engine, uploads["alice-public"], SYSTEM)
    client = TestClient(app).__enter__()  # runs the app's lifespan; __exit__ ends it
    auth = {
        "alice": {"Authorization": f"Bearer {create_token(engine, alice).secret}"},
        "bob": {"Authorization": f"Bearer {create_token(engine, bob).secret}"},
    }
    yield World(client, settings, auth["alice"], auth["bob"], uploads, entries)
    client.__exit__(None, None, None)  # waits for background jobs, disposes the engine
