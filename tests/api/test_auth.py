"""/api/v1/auth: password to token, who am I, token listing and revocation."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _token(world, username="alice", password="alice-password", **extra):
    return world.client.post(
        "/api/v1/auth/token", json={"username": username, "password": password, **extra}
    )


def test_token_me_and_list(world):
    r = _token(world, name="laptop", days=7)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["token"].startswith("bmx_") and body["name"] == "laptop"
    auth = {"Authorization": f"Bearer {body['token']}"}
    me = world.client.get("/api/v1/auth/me", headers=auth)
    assert me.status_code == 200
    assert me.json()["username"] == "alice" and me.json()["is_admin"] is False
    tokens = world.client.get("/api/v1/auth/tokens", headers=auth).json()
    assert body["token_id"] in {t["token_id"] for t in tokens}
    assert all("token" not in t and "token_hash" not in t for t in tokens)
    assert all(t["active"] for t in tokens)


def test_wrong_password_and_unknown_user_look_the_same(world):
    wrong = _token(world, password="not-her-password")
    nobody = _token(world, username="mallory", password="whatever-password")
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json() == {"detail": "wrong username or password"}


def test_revoked_token_is_refused_at_once(world):
    new = _token(world).json()
    auth = {"Authorization": f"Bearer {new['token']}"}
    assert world.client.get("/api/v1/auth/me", headers=auth).status_code == 200
    r = world.client.delete(f"/api/v1/auth/tokens/{new['token_id']}", headers=world.alice)
    assert r.status_code == 204
    refused = world.client.get("/api/v1/auth/me", headers=auth)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"]
    listed = world.client.get("/api/v1/auth/tokens", headers=world.alice).json()
    gone = next(t for t in listed if t["token_id"] == new["token_id"])
    assert gone["revoked_at"] is not None and gone["active"] is False
    # revoking twice, or someone else's token, is a 404
    again = world.client.delete(f"/api/v1/auth/tokens/{new['token_id']}", headers=world.alice)
    assert again.status_code == 404
    other = _token(world).json()
    assert (
        world.client.delete(f"/api/v1/auth/tokens/{other['token_id']}", headers=world.bob)
    ).status_code == 404


def test_anonymous_and_bad_headers(world):
    assert world.client.get("/api/v1/auth/me").status_code == 401
    assert world.client.get("/api/v1/auth/tokens").status_code == 401
    for header in ("Basic abc", "Bearer ", "Bearer bmx_nope", "Bearer not-a-token"):
        r = world.client.get("/api/v1/auth/me", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.headers["www-authenticate"] == "Bearer"


def test_token_request_validation(world):
    assert _token(world, days=0).status_code == 422
    assert _token(world, days=366).status_code == 422
    assert _token(world, password="").status_code == 422
    r = world.client.post("/api/v1/auth/token", json={"username": "alice"})
    assert r.status_code == 422 and "password" in r.text


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    username=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=70),
    password=st.text(string.printable + "\x00é", min_size=1, max_size=40),
)
def test_any_credentials_give_4xx_never_500(world, username, password):
    r = _token(world, username=username, password=password)
    assert r.status_code in (401, 422, 429), r.text  # 429: the same name guessed too often


def test_unencodable_and_nul_strings_are_422(world):
    """JSON may carry lone surrogates and NULs; neither may reach argon2 or the database."""
    for body in (
        b'{"username": "\\ud800", "password": "alice-password"}',
        b'{"username": "alice", "password": "x\\u0000yyyyyyy"}',
        b'{"username": "alice", "password": "alice-password", "name": "\\udfff"}',
    ):
        r = world.client.post(
            "/api/v1/auth/token", content=body, headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422, (body, r.text)


def test_password_guessing_is_throttled(world):
    url = "/api/v1/auth/token"
    for _ in range(5):
        r = world.client.post(url, json={"username": "alice", "password": "guess-guess"})
        assert r.status_code == 401
    r = world.client.post(url, json={"username": "alice", "password": "alice-password"})
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    # other users are not locked out by guesses at alice
    r = world.client.post(url, json={"username": "bob", "password": "bob-password-1"})
    assert r.status_code == 201


def test_throttle_window_passes():
    from bigmax.api.throttle import LoginThrottle

    throttle = LoginThrottle(max_failures=2, window_s=0.2)
    throttle.failed("x")
    assert throttle.retry_after("x") == 0
    throttle.failed("x")
    assert throttle.retry_after("x") >= 1
    import time

    time.sleep(0.25)
    assert throttle.retry_after("x") == 0
    throttle.failed("x")
    throttle.succeeded("x")
    assert throttle.retry_after("x") == 0
