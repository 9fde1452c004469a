"""Property-based API checks: schemathesis fuzzes every /api/v1 operation from the OpenAPI spec,
signed in as alice, and asserts that no input gives a 5xx and every documented response matches
its schema. The number of examples per operation is bounded so the run stays short."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from sqlalchemy import text, update

from bigmax.api.app import create_app
from bigmax.archive.access import SYSTEM
from bigmax.archive.db import UploadRow, make_engine
from bigmax.archive.ingest import ingest
from bigmax.archive.lifecycle import publish
from bigmax.archive.users import create_token, create_user
from bigmax.config import Settings

#: Examples per operation; the whole module runs in well under 90 s on both backends.
MAX_EXAMPLES = int(os.environ.get("BIGMAX_SCHEMATHESIS_EXAMPLES", "25"))
XYZ = '2\nLattice="3 0 0 0 3 0 0 0 3" Properties=species:S:1:pos:R:3 pbc="T T T"\n'
XYZ += "Na 0 0 0\nCl 1.5 1.5 1.5\n"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def seeded(request):
    """An app with alice, bob, one private and one public upload of alice's, on each backend."""
    home = Path(tempfile.mkdtemp(prefix="bigmax-schemathesis-"))
    admin = None
    if request.param == "sqlite":
        url = f"sqlite:///{home / 'bigmax.sqlite'}"
    else:
        base = os.environ.get("BIGMAX_TEST_POSTGRES_URL")
        if not base:
            pytest.skip("PostgreSQL not configured (BIGMAX_TEST_POSTGRES_URL)")
        name = f"t_{uuid.uuid4().hex[:16]}"
        admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.rsplit("/", 1)[0] + "/" + name
    app = create_app(Settings(home=home, database_url=url))
    engine = app.state.engine
    alice = create_user(engine, "alice", "alice-password")
    create_user(engine, "bob", "bob-password-1")
    uploads = []
    for name in ("private", "public"):
        folder = home / "inputs" / name
        folder.mkdir(parents=True)
        (folder / "nacl.extxyz").write_text(XYZ)
        report = ingest(
            [folder], upload=f"alice-{name}", settings=app.state.settings, engine=engine
        )
        with engine.begin() as conn:
            conn.execute(
                update(UploadRow)
                .where(UploadRow.upload_id == report.upload_id)
                .values(owner_id=alice.user_id)
            )
        if name == "public":
            publish(engine, report.upload_id, SYSTEM)
        uploads.append(report.upload_id)
    app.state.test_uploads = uploads
    app.state.test_headers = {"Authorization": f"Bearer {create_token(engine, alice).secret}"}
    yield app
    processor = getattr(app.state, "processor", None)
    if processor is not None:
        processor.shutdown(wait=True)
    engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    shutil.rmtree(home, ignore_errors=True)


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    ops = [result.ok() for result in schema.include(path_regex="^/api/v1/").get_all_operations()]
    # deletions last, so the other operations still find the seeded uploads
    return sorted(ops, key=lambda op: (op.method.upper() == "DELETE", op.label))


def _strategy(op, upload_ids: list[str]):
    """Valid inputs and, where the spec allows it, invalid ones (those must give 4xx); half of
    the valid ones aim at real uploads, so the handlers run past their 404."""
    positive = op.as_strategy(GenerationMode.POSITIVE)
    if "{upload_id}" in op.path:
        real = [
            op.as_strategy(GenerationMode.POSITIVE, path_parameters={"upload_id": upload_id})
            for upload_id in upload_ids
        ]
        positive = st.one_of(positive, *real)
    try:
        return st.one_of(positive, op.as_strategy(GenerationMode.NEGATIVE))
    except Exception:  # nothing in this operation can be made invalid
        return positive


#: Operations are grouped by their first OpenAPI tag, so a failure names the router to fix.
TAGS = ["auth", "uploads", "entries", "datasets", "info"]


@pytest.mark.parametrize("tag", TAGS)
def test_api_conforms_and_never_fails(seeded, tag):
    """Every operation of ``tag``, each with its own bounded budget; all failures together."""
    headers = seeded.state.test_headers
    checks = [not_a_server_error, response_schema_conformance]
    ops = [op for op in _operations(seeded) if _tag(op) == tag]
    assert ops, f"no /api/v1 operations tagged {tag!r}"
    failures = []
    for op in ops:

        @given(case=_strategy(op, seeded.state.test_uploads))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
        )
        def check(case):
            case.call_and_validate(headers=headers, checks=checks)

        try:
            check()
        except (Exception, BaseExceptionGroup) as err:  # collect: one run shows every failure
            failures.append(f"{op.label}: {err}")
    assert not failures, "\n\n".join(failures)


def _tag(op) -> str | None:
    return (op.tags or [None])[0]


def test_every_operation_is_covered(seeded):
    """An operation with a tag outside TAGS would escape the run above."""
    assert {_tag(op) for op in _operations(seeded)} <= set(TAGS)
