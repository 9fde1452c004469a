"""``bigmax mpes bin``: event files to a binned, calibrated cube (netCDF, Zarr or NeXus)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_mpes import friendly, mpes_app


def _axes_from_config(cfg) -> list:
    from bigmax.techniques.mpes.binning import Axis

    out = []
    for ax in cfg.binning.axes:
        if ax.edges is not None:
            out.append(Axis(ax.column, edges=tuple(ax.edges)))
        elif cfg.binning.range_mode == "sed":
            out.append(Axis.from_sed(ax.column, ax.bins, ax.range))
        else:
            out.append(Axis(ax.column, ax.bins, ax.range))
    return out


def _jitter_step(source, axes, steps, seed: int):
    """Jitter of +-half a step on the integer raw columns that the steps and axes read."""
    from bigmax.techniques.mpes.transforms import Jitter, Pipeline

    raw = Pipeline(steps=tuple(steps)).required_columns(tuple(a.name for a in axes))
    cols = {c: 0.5 for c in raw if c in source.columns and source.columns[c].kind in "iu"}
    return Jitter(columns=cols, seed=seed) if cols else None


def write_cube(cube, out: Path, source_files=(), config: dict | None = None) -> None:
    """Write by suffix: .nc (netCDF3 via scipy), .zarr, .nxs (NXmpes, needs the output module)."""
    import numpy as np

    from bigmax.techniques.mpes.binning import BinningError

    suffix = out.suffix.lower()
    if suffix == ".nxs":
        try:
            from bigmax.techniques.mpes.output import write_nxmpes
        except ImportError:
            raise BinningError(
                f"{out}: NeXus output needs bigmax.techniques.mpes.output.write_nxmpes, which "
                "this installation lacks; write .nc or .zarr instead"
            ) from None
        write_nxmpes(cube, out, source_files=[str(p) for p in source_files], config=config)
    elif suffix == ".zarr":
        cube.to_dataset().to_zarr(out, mode="w", consolidated=False)
    elif suffix in (".nc", ".cdf", ".netcdf"):
        # netCDF3 (the scipy engine) has no unsigned integers: counts below 2**31 become int32,
        # larger ones float64 (exact to 2**53); the original dtype is kept in an attribute
        ds = cube.to_dataset()
        var = ds[cube.name]
        if var.dtype.kind == "u":
            small = var.size == 0 or int(var.max()) < 2**31
            ds[cube.name] = var.astype(np.int32 if small else np.float64)
            ds[cube.name].attrs["bigmax_dtype"] = str(var.dtype)
        ds.to_netcdf(out, engine="scipy")
    else:
        raise BinningError(f"--out {out}: unknown suffix {out.suffix!r}; use .nc, .zarr or .nxs")


@mpes_app.command("bin")
@friendly
def bin_cmd(
    files: Annotated[list[Path], typer.Argument(help="Event files, folders or globs")],
    axis: Annotated[
        list[str] | None,
        typer.Option("--axis", "-a", help="NAME:LO:HI:BINS, once per axis, e.g. X:0:2048:256"),
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output cube: .nc, .zarr or .nxs")
    ] = Path("cube.nc"),
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Run config (bigmax or sed YAML): calibrations, axes"),
    ] = None,
    jitter: Annotated[
        bool | None,
        typer.Option("--jitter/--no-jitter", help="Dither integer columns (default: the config's)"),
    ] = None,
    seed: Annotated[int, typer.Option(help="Jitter seed (with --jitter and no config)")] = 0,
    weights: Annotated[
        str | None, typer.Option(help="Column of per-event weights (normalisation histograms)")
    ] = None,
    sed_compatible: Annotated[
        bool, typer.Option("--sed-compatible", help="Close the last bin, as numpy and sed do")
    ] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(help="dask scheduler: threads, processes, synchronous or tcp://host:port "
                     "(default: $BIGMAX_DASK_SCHEDULER, else the local engine)"),
    ] = None,
    threads: Annotated[int | None, typer.Option(min=1, help="Local engine threads")] = None,
    chunk_events: Annotated[int, typer.Option(min=1, help="Events per chunk")] = 2**22,
) -> None:
    """Bin event files into a cube, applying the config's jitter and calibrations on the fly."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from bigmax.cli import console
    from bigmax.techniques.mpes.binning import Axis, BinningError, bin_events
    from bigmax.techniques.mpes.events import open_events
    from bigmax.techniques.mpes.transforms import Jitter, Pipeline

    source = open_events([str(f) for f in files])
    pipeline = None
    cfg_dict = None
    axes = [Axis.parse(a) for a in axis or []]
    if config is not None:
        from bigmax.techniques.mpes.config import load_config

        cfg = load_config(files=[config])
        cfg_dict = cfg.model_dump(mode="json")
        pipeline = cfg.to_pipeline()
        if not axes:
            axes = _axes_from_config(cfg)
    if not axes:
        raise BinningError("give at least one --axis NAME:LO:HI:BINS (or axes in --config)")
    steps = list(pipeline.steps) if pipeline is not None else []
    if jitter is False:
        steps = [s for s in steps if not isinstance(s, Jitter)]
    elif jitter and not any(isinstance(s, Jitter) for s in steps):
        step = _jitter_step(source, axes, steps, seed)
        steps = ([step] if step is not None else []) + steps
    pipeline = Pipeline(steps=tuple(steps)) if steps else None

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("binning events", total=source.n_events)
        cube = bin_events(source, axes, pipeline, weights=weights, n_threads=threads,
                          scheduler=scheduler, sed_compatible=sed_compatible,
                          chunk_events=chunk_events,
                          progress=lambda n: bar.advance(task, n))
    write_cube(cube, out, source.paths, cfg_dict)
    prov = json.loads(cube.attrs["provenance"])
    console.print(
        f"{prov['n_events_read']} events, {int(cube.sum())} binned into "
        f"{' x '.join(str(s) for s in cube.shape)} ({', '.join(cube.dims)}) -> {out}"
    )
