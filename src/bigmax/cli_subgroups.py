"""``bigmax subgroups``: subgroup discovery on a CSV table, a table of rules, JSON and a plot."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer


def _read_table(path: Path):
    import pandas as pd

    from bigmax.analytics.subgroups import SubgroupInputError

    if not path.is_file():
        raise SubgroupInputError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as err:
        raise SubgroupInputError(f"{path}: not a readable table ({err})") from None
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise SubgroupInputError(f"{path}: the table has no rows")
    return df


def _column(df, name: str, what: str) -> str:
    """The header matching ``name`` exactly or by its name without the ``(unit)``."""
    from bigmax.analytics.subgroups import SubgroupInputError
    from bigmax.analytics.subgroups.selectors import split_unit

    name = name.strip()
    if name in df.columns:
        return name
    matches = [c for c in df.columns if split_unit(c)[0] == name]
    if len(matches) == 1:
        return matches[0]
    shown = ", ".join(repr(c) for c in df.columns[:12])
    more = ", ..." if len(df.columns) > 12 else ""
    raise SubgroupInputError(f"{what} column {name!r} not found; columns: {shown}{more}")


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def subgroups_cmd(
    data: Annotated[
        Path, typer.Argument(help="CSV or Parquet table; headers 'name (unit)', e.g. 'r_s_A (AA)'")
    ],
    target: Annotated[
        list[str],
        typer.Option("--target", "-t", help="Target column (repeatable; full header or name)"),
    ],
    quality: Annotated[
        str,
        typer.Option(help="impact, wracc, mean-shift, median-shift, std-reduction or cjs"),
    ] = "impact",
    depth: Annotated[int, typer.Option(min=1, max=6, help="Most selectors in a rule")] = 2,
    top_k: Annotated[int, typer.Option("--top-k", min=1, help="Subgroups per target")] = 10,
    search: Annotated[str, typer.Option(help="bnb (exact), best-first (exact) or beam")] = "bnb",
    features: Annotated[
        str | None, typer.Option(help="Comma-separated feature columns (default: all others)")
    ] = None,
    exclude: Annotated[
        str | None, typer.Option(help="Comma-separated columns to leave out")
    ] = None,
    cut_points: Annotated[str, typer.Option(help="quantiles or kmeans")] = "quantiles",
    n_cuts: Annotated[int, typer.Option(min=1, help="Cut points per numeric feature")] = 9,
    min_coverage: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Smallest subgroup, fraction of rows")
    ] = 0.0,
    max_overlap: Annotated[
        float | None, typer.Option(help="Drop subgroups overlapping a better one more (Jaccard)")
    ] = None,
    positive_class: Annotated[
        str | None, typer.Option(help="Class of a categorical target scored by wracc")
    ] = None,
    n_permutations: Annotated[
        int, typer.Option(min=0, help="Random subsets per p-value (0: none)")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Seed of the p-value draws")] = 0,
    n_jobs: Annotated[int, typer.Option(min=1, help="Threads")] = 1,
    plot: Annotated[
        Path | None, typer.Option(help="Write the subgroups' target distributions (PNG, PDF, SVG)")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the subgroups and settings as JSON")
    ] = None,
) -> None:
    """Find the rules whose target distribution is most exceptional (subgroup discovery)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from bigmax.analytics.subgroups import SubgroupDiscovery, SubgroupInputError

    console = Console()
    err_console = Console(stderr=True)
    df = _read_table(data)
    targets = [_column(df, t, "target") for t in target]
    dropped = {_column(df, c, "--exclude") for c in _split(exclude)}
    if features:
        feats = [_column(df, c, "feature") for c in _split(features)]
    else:
        feats = [c for c in df.columns if c not in targets and c not in dropped]
    feats = [c for c in feats if c not in targets and c not in dropped]
    if not feats:
        raise SubgroupInputError("no feature column left (every column is a target or excluded)")
    positive = positive_class
    if positive is not None and len(targets) == 1:
        col = df[targets[0]]
        if col.dtype.kind in "iufb":
            try:
                positive = col.dtype.type(float(positive))
            except ValueError:
                pass
    model = SubgroupDiscovery(
        quality=quality, search=search, depth=depth, top_k=top_k, cut_points=cut_points,
        n_cuts=n_cuts, min_coverage=min_coverage, max_overlap=max_overlap,
        positive_class=positive, n_permutations=n_permutations, n_jobs=n_jobs,
        random_state=seed,
    )
    with Progress(
        TextColumn("[bold]subgroups[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} branches"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        task_id = bar.add_task("selectors", total=None)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task_id, description=label, completed=done, total=total)

        model.fit(df[feats], df[targets], progress=progress)
    seen = set()
    for w in caught:
        msg = str(w.message)
        if msg not in seen:
            seen.add(msg)
            err_console.print(f"[yellow]warning:[/yellow] {escape(msg)}")

    several = len(model.targets_) > 1
    title = f"subgroups of {', '.join(model.targets_)}" if not several else "subgroups"
    table = Table(title=escape(f"{title} in {data.name} ({quality}, depth {depth}, {search})"))
    table.add_column("#", justify="right")
    if several:
        table.add_column("target")
    table.add_column("rule", min_width=28, ratio=1)
    for col in ("n", "cov", "mean", "median", "MAD", "quality", "p"):
        table.add_column(col, justify="right")
    for i, row in enumerate(model.subgroups_.itertuples(index=False), start=1):
        cells = [str(i)] + ([escape(row.target)] if several else []) + [escape(str(row.rule))]
        table.add_row(
            *cells, str(row.count), f"{row.coverage:.2f}", f"{row.mean:.3g}",
            f"{row.median:.3g}", f"{row.mad:.3g}", f"{row.quality:.3g}",
            "" if row.p_value != row.p_value else f"{row.p_value:.2g}",
        )
    console.print(table)
    if json_out is not None:
        payload = {
            "data": str(data),
            "targets": model.targets_,
            "features": [str(f) for f in feats],
            "n_samples": int(len(model.membership_)),
            "settings": {k: (v if isinstance(v, int | float | str | type(None)) else repr(v))
                         for k, v in model.get_params().items()},
            "n_evaluated": int(model.n_evaluated_),
            "subgroups": [
                {**rule.to_dict(), "target": row["target"], "count": int(row["count"]),
                 "coverage": float(row["coverage"]), "mean": float(row["mean"]),
                 "median": float(row["median"]), "mad": float(row["mad"]),
                 "std": float(row["std"]), "quality": float(row["quality"]),
                 "p_value": None if row["p_value"] != row["p_value"] else float(row["p_value"])}
                for rule, (_, row) in zip(model.rules_, model.subgroups_.iterrows(), strict=True)
            ],
        }
        try:
            json_out.write_text(json.dumps(payload, indent=2))
        except OSError as err:
            raise OSError(f"{json_out}: cannot write ({err.strerror or err})") from None
        console.print(f"wrote {json_out}")
    if plot is not None:
        from bigmax.analytics.subgroups.plot import plot_subgroups

        if len(model.subgroups_) == 0:
            raise SubgroupInputError("no subgroup found, nothing to plot")
        try:
            plot_subgroups(model).savefig(plot, dpi=120)
        except OSError as err:
            raise OSError(f"{plot}: cannot write ({err.strerror or err})") from None
        except ValueError as err:
            raise SubgroupInputError(f"{plot}: {err}") from None
        console.print(f"wrote {plot}")
