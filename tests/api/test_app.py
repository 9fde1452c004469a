"""App-wide guards: NUL characters and unencodable bodies are 4xx on every route, never 500."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/entries/%00/archive",
        "/api/v1/datasets/%00",
        "/optimade/v1/structures/%00",
        "/api/v1/entries?formula_reduced=%00",
    ],
)
def test_nul_in_url_is_400(world, path):
    response = world.client.get(path)
    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]


def test_lone_surrogate_body_is_422(world):
    body = b'{"query": {"formula_reduced": "\\ud800"}, "bogus": "\\ud800"}'
    response = world.client.post(
        "/api/v1/entries/query", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    response = world.client.post(
        "/api/v1/datasets",
        content=b'{"name": "a\\u0000b"}',
        headers={"Content-Type": "application/json", **world.alice},
    )
    assert response.status_code == 422


def test_info(world):
    info = world.client.get("/api/v1/info").json()
    assert info["name"] == "BigMax" and info["database"] in ("sqlite", "postgresql")
