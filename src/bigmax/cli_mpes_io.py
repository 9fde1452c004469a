"""``bigmax mpes info`` and ``bigmax mpes convert``: look into event files, write Parquet stores."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_mpes import friendly, mpes_app


def _warn_lines(caught) -> None:
    from rich.markup import escape

    from bigmax.cli import err_console

    for w in caught:
        err_console.print(f"[yellow]warning:[/yellow] {escape(str(w.message))}")


def _describe(source, stats: bool) -> dict:
    import numpy as np

    files = []
    for idx, f in zip(source.file_indices, source.files, strict=True):
        item = {
            "path": str(f.path),
            "file_index": idx,
            "format": f.format,
            "label": f.label,
            "n_events": f.n_events,
        }
        if f.format == "parquet" and f.metadata.get("instrument"):
            item["label"] = f"Parquet store of {f.metadata['instrument']}"
        acq = f.metadata.get("acquisition_time_s")
        if acq:
            item["acquisition_time_s"] = acq
            item["count_rate_per_s"] = f.n_events / acq
        files.append(item)
    units = source.units
    columns = {c: {"dtype": str(d), "unit": units.get(c)} for c, d in source.columns.items()}
    if stats:
        lo = {c: None for c in columns}
        hi = {c: None for c in columns}
        for chunk in source.iter_chunks():
            for c, v in chunk.data.items():
                v = v[np.isfinite(v)] if v.dtype.kind == "f" else v
                if len(v):
                    a, b = v.min().item(), v.max().item()
                    lo[c] = a if lo[c] is None else min(lo[c], a)
                    hi[c] = b if hi[c] is None else max(hi[c], b)
        for c in columns:
            columns[c]["min"], columns[c]["max"] = lo[c], hi[c]
    return {
        "n_files": len(source.files),
        "n_events": source.n_events,
        "formats": source.formats,
        "files": files,
        "columns": columns,
    }


@mpes_app.command("info")
@friendly
def info(
    files: Annotated[list[Path], typer.Argument(help="Event files, folders or glob patterns")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
    stats: Annotated[
        bool, typer.Option("--stats", help="Also read every event for per-column min/max")
    ] = False,
) -> None:
    """Formats, event counts, acquisition time and columns (name, dtype, unit) of event files."""
    from rich.table import Table

    from bigmax.cli import console
    from bigmax.techniques.mpes.events import open_events

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = open_events(files)
        desc = _describe(source, stats)
    _warn_lines(caught)
    if as_json:
        typer.echo(json.dumps(desc, indent=2))
        return
    ft = Table(title=f"{desc['n_events']:,} events in {desc['n_files']} file(s)")
    for col in ("file", "format", "events", "acquisition (s)", "rate (1/s)"):
        ft.add_column(col, justify="left" if col in ("file", "format") else "right")
    for f in desc["files"]:
        acq = f.get("acquisition_time_s")
        ft.add_row(
            Path(f["path"]).name,
            f["label"],
            f"{f['n_events']:,}",
            f"{acq:.3f}" if acq else "",
            f"{f['count_rate_per_s']:,.0f}" if acq else "",
        )
    console.print(ft)
    ct = Table(title="columns")
    for col in ("column", "dtype", "unit") + (("min", "max") if stats else ()):
        ct.add_column(col)
    for name, c in desc["columns"].items():
        row = [name, c["dtype"], c["unit"] or ""]
        if stats:
            row += [str(c["min"]), str(c["max"])]
        ct.add_row(*row)
    console.print(ct)


@mpes_app.command("convert")
@friendly
def convert(
    files: Annotated[list[Path], typer.Argument(help="Event files, folders or glob patterns")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of the Parquet event store")],
    row_group: Annotated[
        int, typer.Option(help="Events per row group (the store's read chunk)", min=1)
    ] = 2**20,
    part_events: Annotated[
        int | None,
        typer.Option(help="Fixed events per output file (default: one file per input)", min=1),
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="Comma-separated columns to keep (default: all)")
    ] = None,
    compression: Annotated[
        str, typer.Option(help="Parquet codec: none, snappy, zstd, lz4")
    ] = "none",
    overwrite: Annotated[bool, typer.Option(help="Replace existing store files")] = False,
) -> None:
    """Rewrite event files as a Parquet event store (native dtypes, streamed, bounded memory)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from bigmax.cli import console, err_console
    from bigmax.techniques.mpes.events import open_events
    from bigmax.techniques.mpes.store import convert_to_parquet

    if compression not in ("none", "snappy", "zstd", "lz4", "gzip", "brotli"):
        raise ValueError(
            f"--compression must be one of none, snappy, zstd, lz4, gzip, brotli; "
            f"got {compression!r}"
        )
    names = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        source = open_events(files)
        if names is not None:
            source.check_columns(names)
        with Progress(
            TextColumn("converting"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
            disable=not err_console.is_terminal,
        ) as bar:
            task = bar.add_task("convert", total=source.n_events)
            written = convert_to_parquet(
                source,
                out,
                row_group=row_group,
                part_events=part_events,
                columns=names,
                compression=compression,
                overwrite=overwrite,
                progress=lambda n: bar.advance(task, n),
            )
    _warn_lines(caught)
    size = sum(p.stat().st_size for p in written)
    console.print(
        f"wrote {source.n_events:,} events to {len(written)} file(s) in {out} "
        f"({size / 1e6:.1f} MB)"
    )
