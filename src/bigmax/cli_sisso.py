"""``bigmax sisso``: find SISSO descriptors in a feature table and print the models."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _operators(text: str | None) -> list[str] | list[list[str]] | None:
    """``add,sub,mult`` for every rung, or ``add,sub;exp,log`` one list per rung."""
    if text is None or not text.strip() or text.strip() == "all":
        return None
    if ";" in text:
        return [[o.strip() for o in part.split(",") if o.strip()] for part in text.split(";")]
    return [o.strip() for o in text.split(",") if o.strip()]


def sisso_cmd(
    data: Annotated[
        Path, typer.Argument(help="CSV or Parquet table; headers 'name (unit)', e.g. 'r_s_A (AA)'")
    ],
    target: Annotated[
        str, typer.Option("--target", "-t", help="Target column (full header or just its name)")
    ],
    dims: Annotated[int, typer.Option(min=1, max=8, help="Largest descriptor dimension")] = 3,
    rung: Annotated[int, typer.Option(min=0, max=3, help="Feature-space rung (0: primary)")] = 2,
    operators: Annotated[
        str | None,
        typer.Option(help="Comma-separated operators (add,sub,mult,div,exp,neg_exp,log,inv,sq,"
                          "cb,six_pow,sqrt,cbrt,abs_diff,abs,sin,cos); ';' separates rungs; "
                          "default all"),
    ] = None,
    unit_mode: Annotated[
        str, typer.Option(help="'strict' (exp/log/sin/cos of dimensionless only) or 'fortran'")
    ] = "strict",
    n_sis_select: Annotated[int, typer.Option(min=1, help="Features screened per dimension")] = 10,
    n_residual: Annotated[int, typer.Option(min=1, help="Residuals used for screening")] = 10,
    n_models: Annotated[int, typer.Option(min=1, help="Models printed per dimension")] = 1,
    max_complexity: Annotated[
        int | None, typer.Option(min=0, help="Most operators per feature (Fortran fcomplexity)")
    ] = None,
    metric: Annotated[str, typer.Option(help="Model ranking: rmse or maxae")] = "rmse",
    classify: Annotated[
        bool, typer.Option("--classify", help="Classification by convex-domain overlap")
    ] = False,
    tasks: Annotated[
        str | None, typer.Option(help="Column of task labels (multi-task SISSO)")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Column to leave out (repeatable)")
    ] = None,
    save: Annotated[
        Path | None, typer.Option(help="Write the best model to this JSON file")
    ] = None,
    n_jobs: Annotated[int, typer.Option(min=1, help="Threads")] = 1,
) -> None:
    """Find SISSO descriptors (Ouyang et al. 2018) and print the best model of each dimension."""
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from bigmax.analytics.sisso import SissoClassifier, SissoRegressor
    from bigmax.analytics.sisso.table import read_feature_table

    console = Console()
    err_console = Console(stderr=True)
    if unit_mode not in ("strict", "fortran"):
        raise ValueError(f"--unit-mode: expected 'strict' or 'fortran', got {unit_mode!r}")
    if metric not in ("rmse", "maxae"):
        raise ValueError(f"--metric: expected 'rmse' or 'maxae', got {metric!r}")
    if classify and tasks:
        raise ValueError("--tasks works with regression only, not with --classify")
    table = read_feature_table(data, target, tasks=tasks, exclude=exclude or (),
                               classify=classify)
    common = dict(
        n_dim=dims, max_rung=rung, operators=_operators(operators), unit_mode=unit_mode,
        n_sis_select=n_sis_select, n_residual=n_residual, n_models=n_models,
        max_complexity=max_complexity, n_jobs=n_jobs,
    )
    with Progress(
        TextColumn("[bold]sisso[/bold] {task.description:<12}"),
        BarColumn(),
        TextColumn("{task.percentage:>5.1f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    ) as bar:
        task_id = bar.add_task("features", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task_id, description=stage, completed=fraction)

        if classify:
            est = SissoClassifier(**common, progress=progress)
            est.fit(table.X, table.y)
        else:
            est = SissoRegressor(**common, metric=metric, progress=progress)
            est.fit(table.X, table.y, tasks=table.tasks)

    unit = f" ({table.target_unit})" if table.target_unit else ""
    out = Table(
        title=f"SISSO on {escape(data.name)}: {est.feature_space_size_:,} candidate features"
    )
    out.add_column("dim", justify="right")
    if classify:
        out.add_column("descriptor")
        out.add_column("in overlap", justify="right")
        out.add_column("accuracy", justify="right")
        for dim, models in enumerate(est.models_, start=1):
            for m in models[:n_models]:
                out.add_row(str(dim), escape(", ".join(m.descriptor_strings)),
                            str(m.n_overlap), f"{m.accuracy:.3f}")
    else:
        out.add_column("model")
        out.add_column(f"RMSE{unit}", justify="right")
        out.add_column(f"MaxAE{unit}", justify="right")
        for dim, models in enumerate(est.models_, start=1):
            for m in models[:n_models]:
                text = "\n".join(f"[{t}] {m.formula(t)}" for t in m.tasks) if len(
                    m.tasks) > 1 else m.formula()
                out.add_row(str(dim), escape(text), f"{m.rmse:.7f}", f"{m.maxae:.7f}")
    console.print(out)
    if save is not None:
        try:
            est.model_.save(save)
        except OSError as err:
            raise OSError(f"{save}: cannot write the model ({err.strerror or err})") from None
        console.print(f"saved the best model to {save}")

