"""The bigmax command end to end, on SQLite and PostgreSQL, through typer's runner."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.demo import nomad2018_frames, octet_binaries_csv


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path):
    """Twenty NOMAD 2018 frames and the octet binaries table."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    (folder / "oxides.extxyz").write_text(nomad2018_frames(0, 20))
    (folder / "octet.csv").write_bytes(octet_binaries_csv())
    return folder


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def ingested(runner, bigmax_home, data_dir):
    _ok(runner.invoke(app, ["ingest", str(data_dir), "--upload", "inputs"]))
    return data_dir


def test_ingest_and_uploads(runner, ingested):
    out = _ok(runner.invoke(app, ["uploads"]))
    assert "inputs" in out and "102" in out
    again = _ok(runner.invoke(app, ["ingest", str(ingested), "--upload", "inputs"]))
    assert "0 new entries" in again


def test_search_units_both_ways(runner, ingested):
    query = json.dumps({"elements:all": ["Ga", "O"], "band_gap": {"gte": "3 eV"}})
    out = _ok(
        runner.invoke(app, ["search", query, "--format", "json", "--fields", "entry_id,band_gap"])
    )
    payload = json.loads(out)
    gaps = [row["band_gap (eV)"] for row in payload["data"]]
    assert gaps and all(g >= 3 for g in gaps)
    # the same in SI: J in, J out
    si = json.dumps({"elements:all": ["Ga", "O"], "band_gap": {"gte": 3 * 1.602176634e-19}})
    out_si = json.loads(
        _ok(runner.invoke(app, ["search", si, "--format", "json", "--si", "--page-size", "50"]))
    )
    assert out_si["total"] == payload["total"]
    assert all(r["band_gap (J)"] >= 3 * 1.602176634e-19 * (1 - 1e-12) for r in out_si["data"])


def test_search_optimade_filter_and_csv(runner, ingested):
    out = _ok(
        runner.invoke(
            app,
            [
                "search",
                "-f",
                'elements HAS ALL "Ga","O" AND NOT elements HAS "In"',
                "--format",
                "csv",
            ],
        )
    )
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows and all("Ga" in r["elements"] and "In" not in r["elements"] for r in rows)


def test_search_pagination_and_aggregations(runner, ingested):
    seen = set()
    after = None
    for _ in range(20):
        args = ["search", "{}", "--format", "json", "--page-size", "7"]
        if after:
            args += ["--after", after]
        page = json.loads(_ok(runner.invoke(app, args)))
        seen |= {r["entry_id"] for r in page["data"]}
        after = page["next_page_after_value"]
        if not after:
            break
    assert len(seen) == 102
    out = _ok(runner.invoke(app, ["search", "--terms", "elements", "--histogram", "band_gap:5"]))
    assert "terms:elements" in out and "histogram:band_gap" in out


def test_show(runner, ingested):
    page = json.loads(
        _ok(runner.invoke(app, ["search", '{"formula_reduced": "Al5Ga3O12"}', "--format", "json"]))
    )
    entry_id = page["data"][0]["entry_id"]
    out = _ok(runner.invoke(app, ["show", entry_id]))
    assert "Al5Ga3O12" in out and "oxides.extxyz" in out
    full = json.loads(_ok(runner.invoke(app, ["show", entry_id, "--json"])))
    assert full["entry_id"] == entry_id


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl", "extxyz", "optimade-jsonl"])
def test_export(runner, ingested, tmp_path, fmt):
    out = tmp_path / f"export.{fmt}"
    query = json.dumps({"program_name": "FHI-aims"})
    _ok(runner.invoke(app, ["export", query, "--format", fmt, "-o", str(out)]))
    if fmt == "parquet":
        table = pq.read_table(out).to_pylist()
        assert len(table) == 20
        assert table[0]["band_gap (eV)"] == pytest.approx(3.4387)
    elif fmt == "csv":
        rows = list(csv.DictReader(open(out)))
        assert len(rows) == 20 and float(rows[0]["band_gap (eV)"]) == pytest.approx(3.4387)
    elif fmt == "jsonl":
        entries = [json.loads(line) for line in open(out)]
        assert len(entries) == 20 and entries[0]["results"]["material"]["n_sites"] == 80
    elif fmt == "optimade-jsonl":
        lines = [json.loads(line) for line in open(out)]
        assert lines[0]["x-optimade"]["api_version"].startswith("1.3")
        structures = [x for x in lines if x.get("type") == "structures"]
        assert len(structures) == 20 and structures[0]["attributes"]["nsites"] == 80
        again = tmp_path / "again"
        again.mkdir()
        out.rename(again / "structures.jsonl")
        report = _ok(runner.invoke(app, ["ingest", str(again), "--upload", "round-trip"]))
        assert "20 new entries, 0 failed" in report
    else:
        import ase.io

        frames = ase.io.read(out, index=":")
        assert len(frames) == 20 and frames[0].info["band_gap"] == pytest.approx(3.4387)
        assert abs(frames[0].cell[0][0] - 9.95208772) < 1e-6  # back in angstrom


def test_exported_table_reingests(runner, ingested, tmp_path):
    folder = tmp_path / "again"
    folder.mkdir()
    _ok(runner.invoke(app, ["export", "{}", "--format", "csv", "-o", str(folder / "t.csv")]))
    out = _ok(runner.invoke(app, ["ingest", str(folder), "--upload", "again"]))
    assert "102 new entries, 0 failed" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "{not json"], "not valid JSON"),
        (["search", '{"bandgap": 1}'], "bandgap"),
        (["search", "--filter", "elements HAS"], "filter"),
        (["search", "{}", "--format", "xml"], "--format"),
        (["show", "nope"], "nope"),
        (["ingest", "/does/not/exist"], "/does/not/exist"),
        (["export", "{}", "--format", "docx"], "docx"),
    ],
)
def test_errors_are_one_clear_line(runner, bigmax_home, args, message):
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


def test_doctor(runner, bigmax_home):
    result = runner.invoke(app, ["doctor"])
    assert "database" in result.output.lower()
    assert "Traceback" not in result.output


def test_users_and_tokens(runner, bigmax_home):
    _ok(runner.invoke(app, ["users", "add", "alice", "--password", "correct horse"]))
    assert "alice" in _ok(runner.invoke(app, ["users", "list"]))
    out = _ok(runner.invoke(app, ["users", "token", "alice", "--days", "7"]))
    secret = out.strip().splitlines()[-1]
    token_id = out.split("token id ")[1].split(",")[0]
    from bigmax.archive.db import make_engine
    from bigmax.archive.users import AuthError, user_for_token
    from bigmax.config import get_settings

    engine = make_engine(get_settings().database_url)
    assert user_for_token(engine, secret).username == "alice"
    _ok(runner.invoke(app, ["users", "token", "alice", "--revoke", token_id]))
    with pytest.raises(AuthError):
        user_for_token(engine, secret)
    engine.dispose()
    bad = runner.invoke(app, ["users", "add", "alice", "--password", "another one"])
    assert bad.exit_code == 1 and "taken" in bad.output
