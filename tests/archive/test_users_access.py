"""Accounts, tokens, visibility scopes and the upload lifecycle, below the API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bigmax.archive.access import (
    ANONYMOUS,
    SYSTEM,
    Viewer,
    entry_scope,
    findable_entry_scope,
    search_scope,
    utcnow,
)
from bigmax.archive.db import EntryRow, TokenRow, UploadRow, UserRow
from bigmax.archive.ingest import ingest
from bigmax.archive.lifecycle import (
    PermissionDenied,
    add_months,
    delete_upload,
    publish,
    share,
)
from bigmax.archive.store import FileStore
from bigmax.archive.users import (
    AuthError,
    authenticate,
    create_token,
    create_user,
    list_tokens,
    revoke_token,
    user_for_token,
)
from bigmax.config import Settings


def test_passwords_are_argon2_hashed(engine):
    create_user(engine, "alice", "correct horse")
    with engine.connect() as conn:
        stored = conn.execute(select(UserRow.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert authenticate(engine, "alice", "correct horse").username == "alice"
    for user, password in [("alice", "wrong horse"), ("nobody", "correct horse")]:
        with pytest.raises(AuthError, match="wrong username or password"):
            authenticate(engine, user, password)


@pytest.mark.parametrize("name, password", [("a b", "long enough"), ("ok", "short"), ("", "x" * 9)])
def test_bad_accounts_rejected(engine, name, password):
    with pytest.raises(ValueError):
        create_user(engine, name, password)


def test_tokens_expire_and_revoke_at_once(engine):
    alice = create_user(engine, "alice", "correct horse")
    token = create_token(engine, alice, name="laptop")
    assert user_for_token(engine, token.secret) == alice
    with engine.connect() as conn:
        assert token.secret not in conn.execute(select(TokenRow.token_hash)).scalar_one()
    revoke_token(engine, alice, token.token_id)
    with pytest.raises(AuthError):
        user_for_token(engine, token.secret)
    old = create_token(engine, alice)
    with engine.begin() as conn:
        conn.execute(
            update(TokenRow)
            .where(TokenRow.token_id == old.token_id)
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    with pytest.raises(AuthError):
        user_for_token(engine, old.secret)
    assert [t.name for t in list_tokens(engine, alice)] == ["laptop", ""]
    for garbage in ["", "bmx_", "Bearer x", "bmx_" + "a" * 300]:
        with pytest.raises(AuthError):
            user_for_token(engine, garbage)


def test_add_months():
    from datetime import datetime

    assert add_months(datetime(2026, 1, 31), 1) == datetime(2026, 2, 28)
    assert add_months(datetime(2024, 1, 31), 1) == datetime(2024, 2, 29)
    assert add_months(datetime(2026, 11, 22), 36) == datetime(2029, 11, 22)


@pytest.fixture
def three_uploads(tmp_path, engine, upload_dir):
    settings = Settings(home=tmp_path / "h", database_url=str(engine.url))
    alice = create_user(engine, "alice", "correct horse")
    bob = create_user(engine, "bob", "battery staple")
    ids = {}
    for name in ("private", "embargoed", "public"):
        report = ingest([upload_dir], upload=name, settings=settings, engine=engine)
        with engine.begin() as conn:
            conn.execute(
                update(UploadRow)
                .where(UploadRow.upload_id == report.upload_id)
                .values(owner_id=alice.user_id)
            )
        ids[name] = report.upload_id
    publish(engine, ids["embargoed"], alice.viewer, embargo_months=3)
    publish(engine, ids["public"], alice.viewer)
    return settings, alice, bob, ids


def _uploads_in(engine, scope):
    with engine.connect() as conn:
        return set(conn.execute(select(EntryRow.upload_id).where(scope).distinct()).scalars())


def test_scopes(engine, three_uploads):
    _, alice, bob, ids = three_uploads
    for viewer in (ANONYMOUS, bob.viewer):
        assert _uploads_in(engine, entry_scope(viewer)) == {ids["public"]}
        assert _uploads_in(engine, findable_entry_scope(viewer)) == {
            ids["public"],
            ids["embargoed"],
        }
        assert _uploads_in(engine, search_scope(viewer, ["elements", "formula_reduced"])) == {
            ids["public"],
            ids["embargoed"],
        }
        assert _uploads_in(engine, search_scope(viewer, ["elements", "band_gap"])) == {
            ids["public"]
        }
    assert _uploads_in(engine, entry_scope(alice.viewer)) == set(ids.values())
    assert _uploads_in(engine, entry_scope(SYSTEM)) == set(ids.values())
    share(engine, ids["private"], alice.viewer, bob.user_id)
    assert _uploads_in(engine, entry_scope(bob.viewer)) == {ids["public"], ids["private"]}
    # an embargo ends by itself
    later = utcnow() + timedelta(days=100)
    assert ids["embargoed"] in _uploads_in(engine, entry_scope(ANONYMOUS, now=later))


def test_lifecycle_permissions(engine, three_uploads):
    settings, alice, bob, ids = three_uploads
    store = FileStore(settings.files_url)
    with pytest.raises(PermissionDenied):
        publish(engine, ids["private"], bob.viewer)
    with pytest.raises(PermissionDenied):
        delete_upload(engine, store, ids["private"], bob.viewer)
    with pytest.raises(PermissionDenied, match="published"):
        delete_upload(engine, store, ids["public"], alice.viewer)
    with pytest.raises(ValueError, match="embargo_months"):
        publish(engine, ids["private"], alice.viewer, embargo_months=37)
    with pytest.raises(PermissionDenied):
        publish(engine, ids["private"], Viewer(user_id="someone-else"))
    delete_upload(engine, store, ids["private"], alice.viewer)
    with engine.connect() as conn:
        left = conn.execute(
            select(func.count()).where(EntryRow.upload_id == ids["private"])
        ).scalar_one()
    assert left == 0 and not store.exists(ids["private"], "notes.txt")
