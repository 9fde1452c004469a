"""The ``bigmax`` command. Each subcommand hands off to the library; errors are one clear line."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from bigmax.config import get_settings
from bigmax.demo import DEMO_UPLOADS, demo_files

app = typer.Typer(
    help="BigMax: a FAIR archive and AI toolkit for materials science.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
# Soft wrap: an error names a file, and a path broken across lines cannot be copied.
err_console = Console(stderr=True, soft_wrap=True)

#: SI storage unit -> the unit scientists read, for printed output.
DISPLAY_UNITS = {"J": "eV", "N": "eV/angstrom", "A*m**2": "bohr_magneton", "m": "angstrom"}


def _friendly(func):
    """Turn expected failures into one red line and exit status 1, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except (ValueError, LookupError, OSError) as err:
            err_console.print(f"[red]error:[/red] {escape(str(err))}")
            raise typer.Exit(1) from None
        except Exception as err:
            from sqlalchemy.exc import SQLAlchemyError

            if isinstance(err, SQLAlchemyError):
                msg = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
                err_console.print(
                    f"[red]database error:[/red] {msg}\nrun 'bigmax doctor' to check the setup"
                )
                raise typer.Exit(1) from None
            if os.environ.get("BIGMAX_DEBUG"):
                raise
            err_console.print(
                f"[red]internal error:[/red] {type(err).__name__}: {err}\n"
                "set BIGMAX_DEBUG=1 to see the traceback, and please report it"
            )
            raise typer.Exit(2) from None

    return wrapper


def _engine():
    from bigmax.archive.db import init_db, make_engine

    engine = make_engine(get_settings().database_url)
    init_db(engine)
    return engine


def _ingest_with_progress(paths: list[Path], upload: str | None, jobs: int):
    from bigmax.archive.ingest import ingest

    with Progress(
        TextColumn("[bold]ingest[/bold] {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task = bar.add_task(upload or paths[0].name, total=None)
        return ingest(
            paths,
            upload=upload,
            jobs=jobs,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def _print_report(report) -> None:
    console.print(
        f"upload [bold]{report.upload_name}[/bold] ({report.upload_id}): "
        f"{report.files} files, {report.files_skipped} unchanged, {report.raw_only} kept as raw "
        f"data; {report.entries} new entries, {report.failed} failed "
        f"({report.entries_per_second:.0f} entries/s)"
    )
    for msg in report.rejected:
        err_console.print(f"[yellow]rejected:[/yellow] {msg}")


@app.command("ingest")
@_friendly
def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Files, folders or zip files")],
    upload: Annotated[
        str | None, typer.Option(help="Upload name (default: first path's name)")
    ] = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel parser processes")] = 1,
) -> None:
    """Ingest raw files into an upload: parse, normalize, index. Re-runs add nothing."""
    report = _ingest_with_progress(paths, upload, jobs)
    _print_report(report)


def _parse_query(query: str | None) -> dict | None:
    if query is None or query.strip() in ("", "-"):
        return None
    try:
        parsed = json.loads(query)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"the query is not valid JSON ({err.msg} at character {err.pos}); "
            'example: \'{"elements:all": ["Ga", "O"], "band_gap": {"gte": "2 eV"}}\''
        ) from None
    if not isinstance(parsed, dict):
        raise ValueError("the query must be a JSON object, e.g. '{\"n_elements\": 3}'")
    return parsed


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


@app.command("search")
@_friendly
def search_cmd(
    query: Annotated[
        str | None, typer.Argument(help='JSON query, e.g. \'{"elements:all":["O"]}\'')
    ] = None,
    filter: Annotated[str | None, typer.Option("--filter", "-f", help="OPTIMADE filter")] = None,
    output: Annotated[str, typer.Option("--format", help="table, json or csv")] = "table",
    page_size: Annotated[int, typer.Option(min=1, max=10000)] = 20,
    order_by: Annotated[str, typer.Option(help="Field to sort by")] = "entry_id",
    desc: Annotated[bool, typer.Option("--desc", help="Sort descending")] = False,
    after: Annotated[str | None, typer.Option(help="Cursor from the previous page")] = None,
    fields: Annotated[str | None, typer.Option(help="Comma-separated fields to show")] = None,
    terms: Annotated[list[str] | None, typer.Option(help="Terms aggregation on a field")] = None,
    histogram: Annotated[
        list[str] | None, typer.Option(help="FIELD:BUCKETS histogram, e.g. band_gap:20")
    ] = None,
    si: Annotated[bool, typer.Option("--si", help="Print values in SI, as stored")] = False,
) -> None:
    """Search entries with a JSON query and/or an OPTIMADE filter."""
    from bigmax.search import search

    if output not in ("table", "json", "csv"):
        raise ValueError(f"--format must be table, json or csv, not {output!r}")
    aggs: dict[str, dict] = {}
    for name in terms or []:
        aggs[f"terms:{name}"] = {"terms": {"quantity": name}}
    for spec in histogram or []:
        name, _, buckets = spec.partition(":")
        if buckets and not buckets.isdigit():
            raise ValueError(f"--histogram {spec!r}: expected FIELD:BUCKETS with an integer")
        aggs[f"histogram:{name}"] = {"histogram": {"quantity": name, "buckets": int(buckets or 20)}}
    result = search(
        _engine(),
        _parse_query(query),
        filter=filter,
        order_by=order_by,
        order="desc" if desc else "asc",
        page_size=page_size,
        page_after_value=after,
        required=fields.split(",") if fields else None,
        aggregations=aggs or None,
    )
    rows = [_display_row(row, si) for row in result.data]
    if output == "json":
        payload = dataclasses.asdict(result) | {"data": rows}
        print(json.dumps(payload, indent=2, default=str))
        return
    columns = list(rows[0]) if rows else (fields.split(",") if fields else [])
    if output == "csv":
        import csv

        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        return
    table = Table(title=f"{result.total} entries match")
    for c in columns:
        table.add_column(c)
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    console.print(table)
    for name, agg in result.aggregations.items():
        console.print(f"[bold]{name}[/bold]: {json.dumps(agg, default=str)}")
    if result.next_page_after_value:
        console.print(f"next page: --after '{result.next_page_after_value}'")


def _display_unit(name: str) -> str | None:
    from bigmax.search.fields import get_field

    field = get_field(name)
    return DISPLAY_UNITS.get(field.unit) if field is not None and field.unit else None


def _display_row(row: dict[str, Any], si: bool) -> dict[str, Any]:
    """Values in eV, angstrom and friends, with the unit in the key (unless ``si``)."""
    from bigmax.schema.units import convert
    from bigmax.search.fields import get_field

    out = {}
    for key, value in row.items():
        field = get_field(key)
        unit = field.unit if field is not None else None
        if unit and not si and unit in DISPLAY_UNITS:
            target = DISPLAY_UNITS[unit]
            out[f"{key} ({target})"] = None if value is None else convert(value, unit, target)
        elif unit:
            out[f"{key} ({unit})"] = value
        else:
            out[key] = value
    return out


@app.command("show")
@_friendly
def show_cmd(
    entry_id: Annotated[str, typer.Argument(help="Entry id")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole entry as JSON")] = False,
) -> None:
    """Show one entry: its material, method, properties and provenance."""
    from bigmax.archive.catalog import get_entry
    from bigmax.archive.export import flat_row

    entry = get_entry(_engine(), entry_id)
    if as_json:
        print(json.dumps(entry, indent=2))
        return
    table = Table(title=f"entry {entry_id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for key, value in flat_row(entry).items():
        if value is not None:
            table.add_row(key, _cell(value))
    for err in entry.get("errors", []):
        table.add_row("error", f"[red]{err}[/red]")
    prov = entry.get("provenance") or {}
    if prov:
        table.add_row("reader", f"{prov['reader']} {prov['reader_version']}")
        for f in prov.get("files", []):
            table.add_row("source file", f"{f['path']} (sha256 {f['sha256'][:16]}…, {f['size']} B)")
    console.print(table)


@app.command("export")
@_friendly
def export_cmd(
    query: Annotated[
        str | None, typer.Argument(help="JSON query; '{}' or '-' for everything")
    ] = None,
    output_format: Annotated[
        str, typer.Option("--format", help="parquet, jsonl, csv, extxyz or optimade-jsonl")
    ] = "parquet",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Output file")] = None,
    filter: Annotated[str | None, typer.Option("--filter", "-f", help="OPTIMADE filter")] = None,
) -> None:
    """Export the entries that match a query."""
    from bigmax.archive.catalog import archives_for
    from bigmax.archive.export import FORMATS, export
    from bigmax.search import iter_entry_pks
    from bigmax.search.optimade_jsonl import write_optimade_jsonl

    formats = (*FORMATS, "optimade-jsonl")
    if output_format not in formats:
        raise ValueError(f"--format must be one of {', '.join(formats)}, not {output_format!r}")
    suffix = "jsonl" if output_format == "optimade-jsonl" else output_format
    out = output or Path(f"bigmax-export.{suffix}")
    engine = _engine()
    parsed = _parse_query(query)

    def entries():
        for pks in iter_entry_pks(engine, parsed, filter=filter):
            yield from archives_for(engine, pks)

    if output_format == "optimade-jsonl":
        n = write_optimade_jsonl(entries(), out)
    else:
        n = export(entries(), output_format, out)
    console.print(f"wrote {n} entries to {out}")


@app.command("uploads")
@_friendly
def uploads_cmd() -> None:
    """List uploads with their numbers of files and entries."""
    from bigmax.archive.catalog import list_uploads

    table = Table(title="uploads")
    for col in ("upload id", "name", "created", "files", "entries", "failed", "published"):
        table.add_column(col)
    for u in list_uploads(_engine()):
        table.add_row(
            u["upload_id"],
            u["name"],
            f"{u['created_at']:%Y-%m-%d %H:%M}",
            str(u["files"]),
            str(u["entries"]),
            str(u["failed"]),
            "yes" if u["published"] else "no",
        )
    console.print(table)


@app.command("doctor")
@_friendly
def doctor_cmd() -> None:
    """Check configuration, database, file store and versions; say what is wrong in plain words."""
    from bigmax.doctor import run_checks

    checks = run_checks(get_settings())
    table = Table(title="bigmax doctor")
    for col in ("check", "status", "detail"):
        table.add_column(col)
    for c in checks:
        detail = c.detail if c.ok or not c.fix else f"{c.detail}\n[italic]fix:[/italic] {c.fix}"
        table.add_row(c.name, "[green]ok[/green]" if c.ok else "[red]problem[/red]", detail)
    console.print(table)
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


@app.command("demo")
@_friendly
def demo_cmd(
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Parallel parser processes")] = 1,
) -> None:
    """Ingest the shipped demo data: NOMAD 2018 Kaggle sesquioxides and the 82 octet binaries."""
    settings = get_settings()
    console.print(f"BigMax demo archive in {settings.home} ({settings.database_url})")
    _ingest_demo(jobs)
    _demo_summary()


def _ingest_demo(jobs: int) -> None:
    """Ingest the demo uploads (a re-run adds nothing) and publish them, so anyone can read them."""
    from bigmax.archive.access import SYSTEM
    from bigmax.archive.lifecycle import get_upload, publish

    engine = _engine()
    with tempfile.TemporaryDirectory(prefix="bigmax-demo-") as tmp:
        for key, folder in demo_files(Path(tmp)).items():
            report = _ingest_with_progress([folder], DEMO_UPLOADS[key], jobs)
            _print_report(report)
            if not get_upload(engine, report.upload_id).published:
                publish(engine, report.upload_id, SYSTEM)


def _demo_summary() -> None:
    from bigmax.search import search

    result = search(
        _engine(),
        None,
        page_size=1,
        aggregations={
            "space groups": {"terms": {"quantity": "space_group_number", "size": 6}},
            "band gap": {"min_max": {"quantity": "band_gap", "unit": "eV"}},
        },
    )
    console.print(f"{result.total} entries in the archive")
    for name, agg in (result.aggregations or {}).items():
        console.print(f"  {name}: {json.dumps(agg, default=str)}")


@app.command("serve")
@_friendly
def serve_cmd(
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="Ingest and publish the demo first")] = False,
    workers: Annotated[int, typer.Option(min=1, help="Server processes")] = 1,
) -> None:
    """Serve the archive: REST API at /api/v1 (docs at /api/v1/docs) and OPTIMADE at /optimade."""
    import uvicorn

    if demo:
        _ingest_demo(jobs=1)
    console.print(f"BigMax at http://{host}:{port}/  (API docs: http://{host}:{port}/api/v1/docs)")
    uvicorn.run("bigmax.api.app:create_app", factory=True, host=host, port=port, workers=workers)


users_app = typer.Typer(help="Local user accounts and API tokens.", no_args_is_help=True)
app.add_typer(users_app, name="users")


@users_app.command("add")
@_friendly
def users_add(
    username: Annotated[str, typer.Argument(help="Login name")],
    admin: Annotated[bool, typer.Option("--admin", help="May read and change everything")] = False,
    password: Annotated[
        str | None, typer.Option(help="Password (asked for when not given)")
    ] = None,
) -> None:
    """Add a local user; the password is stored as an argon2id hash."""
    from bigmax.archive.users import create_user

    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    user = create_user(_engine(), username, password, is_admin=admin)
    console.print(f"added user {user.username} ({user.user_id}){' as admin' if admin else ''}")


@users_app.command("list")
@_friendly
def users_list() -> None:
    """List the users."""
    from bigmax.archive.users import list_users

    table = Table(title="users")
    for col in ("username", "user id", "admin", "created"):
        table.add_column(col)
    for u in list_users(_engine()):
        table.add_row(
            u.username, u.user_id, "yes" if u.is_admin else "", f"{u.created_at:%Y-%m-%d}"
        )
    console.print(table)


@users_app.command("token")
@_friendly
def users_token(
    username: Annotated[str, typer.Argument(help="Whose token")],
    days: Annotated[int, typer.Option(min=1, max=365, help="Lifetime in days")] = 30,
    name: Annotated[str, typer.Option(help="A label to recognise the token by")] = "cli",
    revoke: Annotated[str | None, typer.Option(help="Revoke the token with this id")] = None,
) -> None:
    """Create an API token for a user (printed once), or revoke one with --revoke TOKEN_ID."""
    from bigmax.archive.users import create_token, get_user, revoke_token

    engine = _engine()
    user = get_user(engine, username)
    if revoke:
        revoke_token(engine, user, revoke)
        console.print(f"revoked token {revoke}")
        return
    token = create_token(engine, user, name=name, days=days)
    console.print(f"token id {token.token_id}, expires {token.expires_at:%Y-%m-%d}")
    print(token.secret)


if __name__ == "__main__":
    app()

from bigmax.cli_sisso import sisso_cmd  # noqa: E402

app.command("sisso")(_friendly(sisso_cmd))

from bigmax.cli_recognize import recognize_cmd  # noqa: E402

app.command("recognize")(_friendly(recognize_cmd))

from bigmax.cli_subgroups import subgroups_cmd  # noqa: E402

app.command("subgroups")(_friendly(subgroups_cmd))

from bigmax.cli_learn import learn_app  # noqa: E402

app.add_typer(learn_app, name="learn")

from bigmax.cli_apt import apt_app  # noqa: E402

app.add_typer(apt_app, name="apt")

from bigmax.cli_mpes import mpes_app  # noqa: E402

app.add_typer(mpes_app, name="mpes")
