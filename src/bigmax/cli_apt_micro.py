"""``bigmax apt voxelize|proxigram|profile|excess|segment``: microstructure from an APT file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_apt import apt_app, friendly
from bigmax.cli_shared import write_table

FileArg = Annotated[Path, typer.Argument(help="Ion file: .pos, .epos, .apt, .ato, NXapm .h5")]
RangesOpt = Annotated[Path, typer.Option("--ranges", "-r", help="Range file (rrng, rng, env)")]
VoxelOpt = Annotated[str, typer.Option("--voxel", help="Voxel edge in nm: one value or x,y,z")]
DelocOpt = Annotated[
    str,
    typer.Option("--delocalization", help="Gaussian 3-sigma width in nm (IVAS style): v or x,y,z;"
                 " 0 for none"),
]
CylOpt = Annotated[
    str,
    typer.Option("--cylinder", help="x,y,z,dx,dy,dz,r: start point, axis (its length is the "
                 "cylinder's length) and radius, in nm"),
]
PlotOpt = Annotated[Path | None, typer.Option("--plot", help="Write a PNG plot here")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write the table (.csv or .parquet)")]


class CliInputError(ValueError):
    """A command-line value cannot be used (the message names the option)."""


def _floats(text: str, option: str, count: tuple[int, ...]) -> list[float]:
    try:
        vals = [float(t) for t in text.replace(" ", "").split(",") if t != ""]
    except ValueError:
        raise CliInputError(f"{option} {text!r}: expected numbers separated by commas") from None
    if len(vals) not in count:
        want = " or ".join(str(c) for c in count)
        raise CliInputError(f"{option} {text!r}: expected {want} numbers, got {len(vals)}")
    return vals


def _progress():
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from bigmax.cli import err_console

    return Progress(TextColumn("{task.description:<26}"), BarColumn(), TimeElapsedColumn(),
                    console=err_console, disable=not err_console.is_terminal)


def _load(file: Path, ranges: Path, bar, task):
    """xyz (float32), species index per ion (-1 unranged) and the ion names of the range file."""
    import numpy as np

    from bigmax.techniques.apt.formats import read_ions
    from bigmax.techniques.apt.ranges import label_ions, read_ranges

    bar.update(task, description="reading ions")
    ions = read_ions(file)
    xyz = np.asarray(ions.xyz)
    bar.advance(task)
    bar.update(task, description="labelling ions")
    table = read_ranges(ranges)
    species = label_ions(ions.mq, table, by="ion").astype(np.int16)
    bar.advance(task)
    return xyz, species, list(table.ions)


def _species(name: str, names: list[str], ranges: Path) -> int:
    if name not in names:
        raise CliInputError(f"--species {name!r} is not an ion of {ranges} ({', '.join(names)})")
    return names.index(name)


def _plot_profile(frame, names, title, path: Path, xlabel: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name in names:
        ax.errorbar(frame.distance, 100 * frame[name], yerr=100 * frame[f"{name}_err"],
                    fmt=".-", ms=3, lw=1, capsize=1.5, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("concentration (at.%)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _voxel_field(xyz, species, names, voxel, deloc, bar, task):
    from bigmax.techniques.apt.voxels import voxelize

    vox = _floats(voxel, "--voxel", (1, 3))
    dl = _floats(deloc, "--delocalization", (1, 3))
    bar.update(task, description="voxelising")
    field = voxelize(xyz, species, names, voxel=vox, delocalization=dl)
    bar.advance(task)
    return field


@apt_app.command("voxelize")
@friendly
def voxelize_cmd(
    file: FileArg,
    ranges: RangesOpt,
    out: Annotated[Path, typer.Option("--out", help="Field file: .nc (NetCDF) or .zarr")],
    voxel: VoxelOpt = "1",
    delocalization: DelocOpt = "3,3,1.5",
    min_counts: Annotated[float, typer.Option(help="Composition is NaN below this many ions")] = 1,
) -> None:
    """Count ions per voxel and species with Gaussian delocalization; write counts and
    composition as an xarray Dataset (species, x, y, z; nm coordinates)."""
    from bigmax.techniques.apt.voxels import composition

    if out.suffix.lower() not in (".nc", ".zarr"):
        raise CliInputError(f"--out {out}: use a .nc or .zarr name")
    with _progress() as bar:
        task = bar.add_task("reading", total=4)
        xyz, species, names = _load(file, ranges, bar, task)
        field = _voxel_field(xyz, species, names, voxel, delocalization, bar, task)
        bar.update(task, description="writing")
        ds = field.to_dataset(name="counts")
        ds["composition"] = composition(field, min_counts)
        ds.attrs = {"source": str(file), "ranges": str(ranges),
                    "voxel_nm": field.attrs["voxel_nm"],
                    "delocalization_nm": field.attrs["delocalization_nm"]}
        for var in ds.data_vars.values():
            var.attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in var.attrs.items()}
        if out.suffix.lower() == ".nc":
            ds.to_netcdf(out, engine="h5netcdf" if _has("h5netcdf") else None)
        else:
            ds.to_zarr(out, mode="w")
        bar.advance(task)
    shape = "x".join(str(s) for s in field.shape[1:])
    typer.echo(f"{len(xyz):,} ions -> {shape} voxels x {len(names)} species; wrote {out}")


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@apt_app.command("proxigram")
@friendly
def proxigram_cmd(
    file: FileArg,
    ranges: RangesOpt,
    species: Annotated[str, typer.Option("--species", "-s", help="Ion of the iso-surface")],
    iso: Annotated[float, typer.Option(help="Iso-concentration in at.%")] = 5.0,
    voxel: VoxelOpt = "1",
    delocalization: DelocOpt = "3,3,1.5",
    bin_width: Annotated[float, typer.Option("--bin", help="Distance shell width (nm)")] = 0.2,
    span: Annotated[str, typer.Option("--range", help="Distance range lo,hi in nm")] = "-5,5",
    out: OutOpt = None,
    plot: PlotOpt = None,
    mesh_out: Annotated[Path | None, typer.Option("--mesh", help="Write the iso-surface "
                                                  "(.ply, .obj or .npz)")] = None,
) -> None:
    """Iso-concentration surface of one ion and the composition vs signed distance to it
    (positive inside the enriched side)."""
    from bigmax.techniques.apt.isosurface import isosurface, write_mesh
    from bigmax.techniques.apt.profiles import proxigram
    from bigmax.techniques.apt.voxels import composition

    lo, hi = _floats(span, "--range", (2,))
    if not 0 < iso < 100:
        raise CliInputError(f"--iso {iso}: give a concentration in at.% between 0 and 100")
    with _progress() as bar:
        task = bar.add_task("reading", total=5)
        xyz, sp, names = _load(file, ranges, bar, task)
        _species(species, names, ranges)
        field = _voxel_field(xyz, sp, names, voxel, delocalization, bar, task)
        bar.update(task, description="iso-surface")
        mesh = isosurface(composition(field, min_counts=1.0), iso / 100, species=species)
        bar.advance(task)
        bar.update(task, description="proxigram")
        frame = proxigram(xyz, sp, names, mesh, bin_width=bin_width, range_nm=(lo, hi))
        bar.advance(task)
    if out is not None:
        write_table(frame, out)
    if mesh_out is not None:
        write_mesh(mesh_out, mesh)
    if plot is not None:
        _plot_profile(frame, names, f"{file.name}: proxigram, {species} {iso:g} at.%", plot,
                      "distance to iso-surface (nm)")
    typer.echo(f"{mesh.n_objects} objects, area {mesh.area:.1f} nm^2, "
               f"volume {mesh.object_volumes().sum():.1f} nm^3")
    _echo_frame(frame, names)


def _echo_frame(frame, names) -> None:
    show = frame[frame.n_ions > 0]
    cols = ["distance", "n_ions", *names]
    typer.echo(show[cols].to_string(index=False, float_format=lambda v: f"{v:.4f}",
                                    max_rows=30))


def _cylinder(text: str):
    v = _floats(text, "--cylinder", (7,))
    return v[:3], v[3:6], v[6]


@apt_app.command("profile")
@friendly
def profile_cmd(
    file: FileArg,
    ranges: RangesOpt,
    cylinder: CylOpt,
    bin_width: Annotated[float, typer.Option("--bin", help="Bin width in nm")] = 0.5,
    ions_per_bin: Annotated[int | None, typer.Option(help="Fixed ion count per bin "
                                                     "(instead of --bin)")] = None,
    out: OutOpt = None,
    plot: PlotOpt = None,
) -> None:
    """1D composition profile along a cylinder ROI, with binomial errors."""
    from bigmax.techniques.apt.profiles import cylinder_profile

    start, axis, radius = _cylinder(cylinder)
    with _progress() as bar:
        task = bar.add_task("reading", total=3)
        xyz, sp, names = _load(file, ranges, bar, task)
        bar.update(task, description="profile")
        frame = cylinder_profile(xyz, sp, names, start, axis, radius, bin_width=bin_width,
                                 ions_per_bin=ions_per_bin)
        bar.advance(task)
    if out is not None:
        write_table(frame, out)
    if plot is not None:
        _plot_profile(frame, names, f"{file.name}: cylinder profile", plot,
                      "distance along cylinder (nm)")
    _echo_frame(frame, names)


@apt_app.command("excess")
@friendly
def excess_cmd(
    file: FileArg,
    ranges: RangesOpt,
    species: Annotated[str, typer.Option("--species", "-s", help="Segregating ion")],
    cylinder: CylOpt,
    efficiency: Annotated[float, typer.Option(help="Detection efficiency (0-1)")] = 1.0,
    window: Annotated[float, typer.Option(help="Half-width (nm) left out of the line fits")] = 1.5,
    position: Annotated[float | None, typer.Option(help="Interface position along the "
                                                   "cylinder (nm); default: solute peak")] = None,
    plot: PlotOpt = None,
) -> None:
    """Gibbsian interfacial excess (atoms/nm^2) from a ladder diagram along a cylinder that
    crosses the interface along its normal."""
    import numpy as np

    from bigmax.techniques.apt.excess import interfacial_excess
    from bigmax.techniques.apt.profiles import cylinder_coordinates

    start, axis, radius = _cylinder(cylinder)
    with _progress() as bar:
        task = bar.add_task("reading", total=3)
        xyz, sp, names = _load(file, ranges, bar, task)
        k = _species(species, names, ranges)
        bar.update(task, description="ladder diagram")
        idx, t = cylinder_coordinates(xyz, start, axis, radius)
        keep = sp[idx] >= 0
        res = interfacial_excess(t[keep], sp[idx][keep] == k, area=np.pi * radius**2,
                                 efficiency=efficiency, position=position, window=window)
        bar.advance(task)
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        ax = res.plot()
        ax.figure.tight_layout()
        ax.figure.savefig(plot, dpi=120)
    typer.echo(f"{species} excess {res.excess:.3f} ± {res.error:.3f} atoms/nm^2 "
               f"(interface at {res.position:.2f} nm; {res.n_excess:.0f} excess ions over "
               f"{res.area:.1f} nm^2, efficiency {efficiency:g}; "
               f"{100 * res.fraction_left:.3f} / {100 * res.fraction_right:.3f} at.% either side)")


@apt_app.command("segment")
@friendly
def segment_cmd(
    file: FileArg,
    ranges: RangesOpt,
    voxel: VoxelOpt = "2",
    delocalization: DelocOpt = "0",
    phases: Annotated[int | None, typer.Option(help="Fixed number of phases "
                                               "(default: from the BIC)")] = None,
    max_phases: Annotated[int, typer.Option(help="Most phases tried")] = 6,
    min_counts: Annotated[float, typer.Option(help="Voxels with fewer ions are left out")] = 10,
    out: OutOpt = None,
    labels_out: Annotated[Path | None, typer.Option("--labels", help="Write the voxel phase "
                                                    "labels (.nc or .zarr)")] = None,
) -> None:
    """Phase segmentation: voxel compositions clustered by a Gaussian mixture (Saxena et al.)."""
    import pandas as pd

    from bigmax.techniques.apt.segmentation import PhaseSegmentation, segment_field

    with _progress() as bar:
        task = bar.add_task("reading", total=4)
        xyz, sp, names = _load(file, ranges, bar, task)
        field = _voxel_field(xyz, sp, names, voxel, delocalization, bar, task)
        bar.update(task, description="Gaussian mixture")
        est = PhaseSegmentation(n_phases=phases, max_phases=max_phases)
        labels, est = segment_field(field, min_counts=min_counts, estimator=est)
        bar.advance(task)
    frame = pd.DataFrame(100 * est.phase_composition_, columns=names)
    frame.insert(0, "voxel_fraction", est.phase_fraction_)
    frame.insert(0, "phase", range(est.n_phases_))
    if out is not None:
        write_table(frame, out)
    if labels_out is not None:
        if labels_out.suffix.lower() == ".zarr":
            labels.to_dataset().to_zarr(labels_out, mode="w")
        else:
            labels.to_netcdf(labels_out)
    bics = ", ".join(f"{k}: {v:.0f}" for k, v in est.bic_.items())
    typer.echo(f"{est.n_phases_} phases (BIC {bics}); composition in at.%:")
    typer.echo(frame.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
