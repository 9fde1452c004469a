"""``bigmax apt info`` and ``bigmax apt convert``: look inside APT files and change formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_apt import apt_app, friendly

RANGE_SUFFIXES = (".rrng", ".rng", ".env", ".fig.txt")


def _is_range_file(path: Path) -> bool:
    return path.name.lower().endswith(RANGE_SUFFIXES)


def _progress(total: int, what: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        f"[bold]{what}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )


def ion_summary(path: Path, chunk: int = 1 << 22, show_progress: bool = False) -> dict:
    """Format, counts, extents and column ranges of an APT file, read chunk by chunk."""
    import numpy as np

    from bigmax.techniques.apt.formats import read_ions

    ions = read_ions(path)
    n = ions.n_ions
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    mq_lo, mq_hi = np.inf, -np.inf
    cols: dict[str, list] = {}
    with _progress(n, "scanning") as bar:
        task = bar.add_task("scan", total=n, visible=show_progress)
        for start in range(0, n, chunk):
            c = ions.chunk(start, start + chunk)
            if ions.has_positions:
                xyz = c.xyz
                lo = np.minimum(lo, np.nanmin(xyz, axis=0))
                hi = np.maximum(hi, np.nanmax(xyz, axis=0))
                mq = c.mq
                mq_lo, mq_hi = min(mq_lo, float(np.nanmin(mq))), max(mq_hi, float(np.nanmax(mq)))
            for name, col in c.columns.items():
                if col.dtype.kind in "iuf":
                    a, b = float(np.nanmin(col)), float(np.nanmax(col))
                    old = cols.get(name, [a, b])
                    cols[name] = [min(old[0], a), max(old[1], b)]
            bar.update(task, completed=start + len(c))
    meta = {k: v for k, v in ions.metadata.items() if k != "sections"}
    out = {
        "file": str(path),
        "format": ions.format,
        "n_ions": n,
        "columns": {
            name: {"dtype": str(ions.columns[name].dtype), "range": cols.get(name)}
            for name in ions.columns
        },
        "metadata": meta,
    }
    if ions.has_positions and n:
        out["bounding_box_nm"] = {"min": lo.tolist(), "max": hi.tolist()}
        out["mq_range_da"] = [mq_lo, mq_hi]
    if "sections" in ions.metadata:
        out["sections"] = ions.metadata["sections"]
    return out


def range_summary(path: Path) -> dict:
    import warnings

    from bigmax.techniques.apt.ranges import RangeFileWarning, read_ranges

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RangeFileWarning)
        table = read_ranges(path)
    frame = table.to_frame()
    return {
        "file": str(path),
        "format": table.metadata.get("format"),
        "n_ranges": len(table),
        "ions": table.ions,
        "overlaps": table.overlaps,
        "warnings": [str(w.message) for w in caught],
        "ranges": frame.to_dict(orient="records"),
    }


def _default(obj):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return str(obj)


@apt_app.command("info")
@friendly
def info_cmd(
    file: Annotated[
        Path, typer.Argument(help="APT file (.pos .epos .apt .ato .raw .nxs) or range file")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")] = False,
) -> None:
    """What a file holds: format, ion count, bounding box, m/q range, columns, .apt sections."""
    from rich.console import Console
    from rich.table import Table

    if not file.exists():
        raise FileNotFoundError(f"{file}: no such file")
    if _is_range_file(file):
        summary = range_summary(file)
    else:
        summary = ion_summary(file, show_progress=not as_json)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=_default))
        return
    console = Console()
    if "n_ranges" in summary:
        ions = ", ".join(summary["ions"])
        console.print(f"[bold]{file}[/bold]: {summary['format']} range file, "
                      f"{summary['n_ranges']} ranges, ions {ions}")  # fmt: skip
        t = Table("ion", "charge", "min (Da)", "max (Da)", "volume", "colour")
        for r in summary["ranges"]:
            t.add_row(r["ion"], str(r["charge"] or "?"), f"{r['lo']:.4f}", f"{r['hi']:.4f}",
                      f"{r['volume']:.5g}", r["color"])  # fmt: skip
        console.print(t)
        for w in summary["warnings"]:
            console.print(f"[yellow]warning:[/yellow] {w}")
        return
    unit = "ions" if "bounding_box_nm" in summary else "events"
    console.print(f"[bold]{file}[/bold]: {summary['format']}, {summary['n_ions']:,} {unit}")
    if "bounding_box_nm" in summary:
        bb = summary["bounding_box_nm"]
        axes = zip("xyz", bb["min"], bb["max"], strict=True)
        box = ", ".join(f"{a} {lo:.2f}..{hi:.2f}" for a, lo, hi in axes)
        console.print(f"bounding box (nm): {box}")
        console.print("m/q range (Da): {:.3f}..{:.3f}".format(*summary["mq_range_da"]))
    if summary["columns"]:
        t = Table("column", "dtype", "min", "max")
        for name, c in summary["columns"].items():
            r = c["range"] or ["", ""]
            t.add_row(name, c["dtype"], *(f"{v:.6g}" if v != "" else "" for v in r))
        console.print(t)
    if "sections" in summary:
        t = Table("section", "relation", "dtype", "width", "unit", "records", "bytes")
        for s in summary["sections"]:
            t.add_row(s["name"], s["relation"], s["dtype"], str(s["width"]), s["unit"],
                      f"{s['records']:,}", f"{s['bytes']:,}")  # fmt: skip
        console.print(t)


@apt_app.command("convert")
@friendly
def convert_cmd(
    src: Annotated[Path, typer.Argument(help="Input APT file")],
    dst: Annotated[Path, typer.Argument(help="Output: .pos, .epos or .nxs (NeXus NXapm)")],
    ranges: Annotated[
        Path | None, typer.Option("--ranges", "-r", help="Range file to store in NXapm output")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Output format: pos, epos or nxapm")
    ] = None,
    chunk: Annotated[int, typer.Option(min=1, help="Ions per chunk")] = 1 << 22,
) -> None:
    """Convert between APT formats, chunk by chunk (memory stays flat on 10^8 ions)."""
    from bigmax.techniques.apt.formats import SUFFIXES, read_ions, write_ions
    from bigmax.techniques.apt.ranges import read_ranges

    fmt = to or SUFFIXES.get(dst.suffix.lower())
    if fmt not in ("pos", "epos", "nxapm"):
        raise ValueError(f"{dst}: output format {fmt!r} unknown; use .pos, .epos or .nxs (--to)")
    if ranges is not None and fmt != "nxapm":
        raise ValueError("--ranges is only stored in NXapm output (.nxs)")
    if src.resolve() == dst.resolve():
        raise ValueError(f"{dst}: output would overwrite the input")
    ions = read_ions(src)
    kw = {"ranges": read_ranges(ranges)} if ranges is not None else {}
    with _progress(ions.n_ions, f"{ions.format} -> {fmt}") as bar:
        task = bar.add_task("convert", total=ions.n_ions)
        write_ions(dst, ions, format=fmt, chunk=chunk,
                   progress=lambda done: bar.update(task, completed=done), **kw)  # fmt: skip
    typer.echo(f"wrote {ions.n_ions:,} ions to {dst} ({fmt})")
