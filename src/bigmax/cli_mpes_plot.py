"""``bigmax mpes plot`` and ``bigmax mpes bands``: pictures and band positions from a cube."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_mpes import friendly, mpes_app


class PlotArgumentError(ValueError):
    """A --slice, --trace, --point or --energy-range value that cannot be parsed."""


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise PlotArgumentError(f"{what}: {text!r} is not a number") from None


def _slice(spec: str) -> tuple[str, float]:
    """``E=-0.5``, ``energy=-0.5`` or ``-0.5`` (energy); ``t=67000`` for any other dimension."""
    name, _, value = spec.rpartition("=")
    name = name.strip()
    dim = "energy" if not name or name.lower() in ("e", "energy") else name
    return dim, _number(value, f"--slice {spec!r}")


def _region(spec: str) -> dict[str, tuple[float, float]]:
    """``energy=0.5:1.5,kx=1.0:1.4`` -> {dim: (lo, hi)}."""
    out: dict[str, tuple[float, float]] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, eq, rng = part.partition("=")
        lo, colon, hi = rng.partition(":")
        if not eq or not colon or not name:
            raise PlotArgumentError(
                f"--trace {spec!r}: expected DIM=LO:HI[,DIM=LO:HI], e.g. energy=0.5:1.5")
        out[name.strip()] = (_number(lo, f"--trace {part!r}"), _number(hi, f"--trace {part!r}"))
    return out


def _points(specs: list[str] | None, lattice: float | None) -> dict[str, tuple[float, float]]:
    from bigmax.techniques.mpes.bands import hexagonal_points

    pts = dict(hexagonal_points(lattice)) if lattice is not None else {}
    for spec in specs or []:
        name, eq, xy = spec.partition("=")
        kx, comma, ky = xy.partition(",")
        if not eq or not comma or not name:
            raise PlotArgumentError(f"--point {spec!r}: expected NAME=KX,KY, e.g. K=1.277,0")
        pts[name.strip()] = (_number(kx, f"--point {spec!r}"), _number(ky, f"--point {spec!r}"))
    return pts


def _range(spec: str | None) -> tuple[float, float] | None:
    if spec is None:
        return None
    lo, colon, hi = spec.partition(":")
    if not colon:
        raise PlotArgumentError(f"--energy-range {spec!r}: expected LO:HI, e.g. -3.5:0")
    return (_number(lo, "--energy-range"), _number(hi, "--energy-range"))


LatticeOpt = Annotated[
    float | None,
    typer.Option("--lattice", help="Hexagonal lattice constant (Angstrom): names G, K, K', M"),
]
PointOpt = Annotated[
    list[str] | None, typer.Option("--point", help="NAME=KX,KY (1/Angstrom), repeatable")
]
RangeOpt = Annotated[
    str | None, typer.Option("--energy-range", help="Fit window LO:HI in eV, e.g. -3.5:0")
]


@mpes_app.command("plot")
@friendly
def plot_cmd(
    cube: Annotated[Path, typer.Argument(help="Cube file: .nxs, .zarr or .nc")],
    slice_: Annotated[
        list[str] | None, typer.Option(
            "--slice", help="kx-ky slice at E=VALUE (eV), or DIM=VALUE of an uncalibrated cube "
            "(e.g. t=67000); repeatable")
    ] = None,
    cut: Annotated[str | None, typer.Option("--cut", help="E-k cut along a path, e.g. G-K-M-G")]
    = None,
    trace: Annotated[
        list[str] | None,
        typer.Option("--trace", help="Delay trace of a region DIM=LO:HI[,...], repeatable"),
    ] = None,
    lattice: LatticeOpt = None,
    point: PointOpt = None,
    peaks: Annotated[int, typer.Option("--peaks", min=0, help="Fit and overlay N bands on the cut")]
    = 0,
    energy_range: RangeOpt = None,
    width: Annotated[
        float, typer.Option("--width", help="Slice thickness (eV, or the slice dimension's unit)")
    ] = 0.1,
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG file")] = Path("mpes.png"),
) -> None:
    """Draw kx-ky slices, an E-k cut (with fitted bands) and delay traces of a cube."""
    from bigmax.techniques.mpes.output import read_cube
    from bigmax.techniques.mpes.plots import overview

    slices = [_slice(s) for s in slice_ or []]
    regions = [_region(t) for t in trace or []]
    pts = _points(point, lattice)
    data = read_cube(cube)
    overview(data, slices=slices, cut=cut, traces=regions, points=pts, n_peaks=peaks,
             energy_range=_range(energy_range), width=width, out=out)
    typer.echo(f"wrote {out}")


@mpes_app.command("bands")
@friendly
def bands_cmd(
    cube: Annotated[Path, typer.Argument(help="Cube file: .nxs, .zarr or .nc")],
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV file")] = Path("bands.csv"),
    peaks: Annotated[int, typer.Option("--peaks", min=1, help="Most bands per EDC")] = 2,
    cut: Annotated[
        str | None, typer.Option("--cut", help="Fit along a path (e.g. G-K-M) instead of every k")
    ] = None,
    lattice: LatticeOpt = None,
    point: PointOpt = None,
    energy_range: RangeOpt = None,
    profile: Annotated[str, typer.Option(help="lorentzian or gaussian")] = "lorentzian",
    min_counts: Annotated[float, typer.Option(help="Skip EDCs with fewer counts")] = 50.0,
) -> None:
    """Fit every EDC of a cube (or of a cut) and write peak positions and widths as CSV.

    Every dimension but energy (and delay, which is summed) is a k point: kx, ky, k along a
    cut, or detector X, Y of an uncalibrated cube."""
    from bigmax.techniques.mpes.bands import fit_edcs, path_cut
    from bigmax.techniques.mpes.output import read_cube

    data = read_cube(cube)
    if cut is not None:
        data = path_cut(data, cut, points=_points(point, lattice))
    if "delay" in data.dims:  # bands of the delay-integrated cube
        data = data.sum("delay")
    ds = fit_edcs(data, peaks, profile=profile, energy_range=_range(energy_range),
                  min_counts=min_counts)
    frame = ds.to_dataframe().reset_index()
    frame = frame[frame["position"].notna()]
    frame.to_csv(out, index=False, float_format="%.6g")
    fitted = int((ds.n_found > 0).sum())
    typer.echo(f"wrote {out}: {len(frame)} peaks at {fitted} of {ds.n_found.size} k points")
