"""``bigmax apt spectrum|range|composition``: the mass spectrum, ranging and composition.

Files are read chunk by chunk (memory-mapped by the readers), so a 10^8-ion file needs about
one chunk of memory plus the histogram; a rich progress bar follows the chunks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_apt import apt_app, friendly
from bigmax.cli_shared import write_table

CHUNK = 1 << 23


def _progress(what: str):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        f"[bold]{what}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )


def _parse_range(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise typer.BadParameter(f"--range {text!r}: expected LOW,HIGH in Da") from None
    return lo, hi


def _max_mq(ions) -> float:
    import numpy as np

    top = 0.0
    for start in range(0, ions.n_ions, CHUNK):
        mq = ions.chunk(start, start + CHUNK).mq
        if mq.size:
            top = max(top, float(np.nanmax(mq)))
    return top


def _scan(path: Path, bin_width: float, mq_range, ranges=None, roi=None, what="reading"):
    """One chunked pass: the spectrum (of the ROI's ions) and, with ranges, per-range counts."""
    import numpy as np

    from bigmax.techniques.apt.formats import read_ions
    from bigmax.techniques.apt.ranges import label_ions
    from bigmax.techniques.apt.spectrum import MassSpectrum, mass_spectrum

    ions = read_ions(path)
    if ions.n_ions == 0:
        raise ValueError(f"{path}: the file holds no ions")
    if roi is not None and not ions.has_positions:
        raise ValueError(f"{path}: --roi needs positions, and this {ions.format} file has none")
    if mq_range is None:
        mq_range = (0.0, max(_max_mq(ions), 1.0))
    counts = None
    per_range = None if ranges is None else np.zeros(len(ranges) + 1, dtype=np.int64)
    n_seen = 0
    edges = None
    with _progress(what) as bar:
        task = bar.add_task(what, total=ions.n_ions)
        for start in range(0, ions.n_ions, CHUNK):
            chunk = ions.chunk(start, start + CHUNK)
            mq = chunk.mq
            if roi is not None:
                mq = mq[roi.mask(chunk.xyz)]
            n_seen += mq.size
            if mq.size:
                spec = mass_spectrum(mq, bin_width, mq_range, name=f"{path.name}: m/q")
                counts = spec.counts if counts is None else counts + spec.counts
                edges = spec.edges
                if per_range is not None:
                    per_range += np.bincount(label_ions(mq, ranges) + 1,
                                             minlength=len(ranges) + 1)  # fmt: skip
            bar.update(task, completed=min(start + CHUNK, ions.n_ions))
    if counts is None:
        raise ValueError(f"{path}: no ions left (the ROI selects none)")
    spectrum = MassSpectrum(edges, counts, n_seen)
    return spectrum, per_range, ions


@apt_app.command("spectrum")
@friendly
def spectrum_cmd(
    file: Annotated[Path, typer.Argument(help="An APT file (.pos, .epos, .apt, ...).")],
    bin_width: Annotated[float, typer.Option(help="Bin width in Da.")] = 0.05,
    mq_range: Annotated[
        str | None, typer.Option("--range", help="LOW,HIGH in Da (default 0 to the max).")
    ] = None,
    log: Annotated[bool, typer.Option("--log/--linear", help="Logarithmic count axis.")] = True,
    ranges: Annotated[
        Path | None, typer.Option(help="Range file whose ranges are shaded on the plot.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Write the plot here (PNG).")] = None,
    csv: Annotated[
        Path | None, typer.Option(help="Write the spectrum (m/q, counts, per Da) as CSV.")
    ] = None,
) -> None:
    """The mass spectrum: a plot and/or a table, and the strongest peaks on the terminal."""
    import numpy as np
    import pandas as pd

    from bigmax.techniques.apt.ranges import read_ranges

    table = read_ranges(ranges) if ranges is not None else None
    spectrum, _, _ = _scan(file, bin_width, _parse_range(mq_range), what="spectrum")
    if csv is not None:
        pd.DataFrame(
            {
                "mq_da": spectrum.centers,
                "counts": spectrum.counts,
                "counts_per_da": spectrum.density(),
                "fraction_per_da": spectrum.normalised(),
            }
        ).to_csv(csv, index=False)
        typer.echo(f"wrote {csv}")
    if out is not None:
        _save_plot(spectrum, table, log, out, title=file.name)
        typer.echo(f"wrote {out}")
    top = np.argsort(spectrum.counts)[::-1][:8]
    typer.echo(f"{spectrum.n_ions} ions, {len(spectrum.counts)} bins of {bin_width:g} Da")
    typer.echo("largest bins (Da: counts): " + ", ".join(
        f"{spectrum.centers[i]:.2f}: {spectrum.counts[i]}" for i in sorted(top)))  # fmt: skip


def _save_plot(
    spectrum, table, log: bool, out: Path, title: str = "", xmax: float | None = None
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bigmax.techniques.apt.spectrum import plot_spectrum

    fig, ax = plt.subplots(figsize=(11, 4))
    plot_spectrum(spectrum, table, log=log, ax=ax)
    if xmax is not None:
        ax.set_xlim(spectrum.edges[0], min(xmax, spectrum.edges[-1]))
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(out, dpi=130)
    plt.close(fig)


@apt_app.command("range")
@friendly
def range_cmd(
    file: Annotated[Path, typer.Argument(help="An APT file (.pos, .epos, .apt, ...).")],
    out: Annotated[Path, typer.Option(help="The range file to write (RRNG).")],
    auto: Annotated[
        bool, typer.Option("--auto", help="Find peaks and name their ions by isotope patterns.")
    ] = False,
    ranges: Annotated[
        Path | None, typer.Option(help="Start from this range file (normalised, charges set).")
    ] = None,
    elements: Annotated[
        str | None, typer.Option(help="Comma-separated elements to consider (--auto).")
    ] = None,
    min_confidence: Annotated[
        float, typer.Option(help="Keep auto ranges with at least this confidence.")
    ] = 0.0,
    table: Annotated[
        Path | None, typer.Option(help="Write the ranges with confidences (CSV or Parquet).")
    ] = None,
    png: Annotated[Path | None, typer.Option(help="Plot the spectrum with the ranges.")] = None,
    bin_width: Annotated[float, typer.Option(help="Spectrum bin width in Da (--auto).")] = 0.02,
    mq_max: Annotated[float, typer.Option(help="Look for peaks up to this m/q (--auto).")] = 200.0,
) -> None:
    """Write an RRNG: found automatically (--auto) or normalised from --ranges.

    With --ranges, each range is also checked against its ion's isotope pattern; the table's
    ``explained`` column is the share of the range's peak counts that pattern accounts for.
    """
    from bigmax.techniques.apt.ranges import read_ranges, write_rrng

    if auto == (ranges is not None):
        raise typer.BadParameter("give either --auto or --ranges FILE (one of them)")
    if auto:
        from bigmax.techniques.apt.autorange import autorange

        spectrum, _, _ = _scan(file, bin_width, (0.0, mq_max), what="spectrum")
        pool = [e.strip() for e in elements.split(",")] if elements else None
        result = autorange(spectrum, elements=pool)
        range_table = result.to_range_table(min_confidence)
        frame = result.ranges.copy()
        frame["formula"] = frame["formula"].map(lambda f: "" if f is None else
                                                "".join(f"{k}{v if v > 1 else ''}"
                                                        for k, v in f.items()))  # fmt: skip
        typer.echo(result.ions[["ion", "counts", "confidence"]].to_string(
            index=False, float_format=lambda v: f"{v:.3g}"))  # fmt: skip
    else:
        from bigmax.techniques.apt.autorange import check_ranges

        range_table = read_ranges(ranges)
        frame = range_table.to_frame()
        if "charge_confidence" in range_table.metadata:
            frame["charge_confidence"] = range_table.metadata["charge_confidence"]
        top = float(range_table.hi.max()) + 5.0 if len(range_table) else 10.0
        spectrum, _, _ = _scan(file, 0.02, (0.0, top), what="spectrum")
        check = check_ranges(spectrum, range_table)
        frame["peak_counts"] = check["peak_counts"].to_numpy()
        frame["explained"] = check["explained"].to_numpy()
        poor = check[(check["explained"] < 0.5) | check["explained"].isna()]
        if len(poor):
            typer.echo(f"{len(poor)} of {len(check)} ranges are not explained by their ion's "
                       "isotope pattern (explained < 0.5, or no peak):")  # fmt: skip
            typer.echo(poor[["ion", "charge", "low", "high", "peak_counts", "explained"]]
                       .to_string(index=False, float_format=lambda v: f"{v:.4g}"))  # fmt: skip
    if len(range_table) == 0:
        raise ValueError(f"{file}: no ranges to write (no ion assigned)")
    write_rrng(out, range_table)
    typer.echo(f"wrote {out} ({len(range_table)} ranges, ions: {', '.join(range_table.ions)})")
    if table is not None:
        write_table(frame, table)
        typer.echo(f"wrote {table}")
    if png is not None:
        _save_plot(spectrum, range_table, True, png, title=f"{file.name}: {out.name}",
                   xmax=float(range_table.hi.max()) + 5.0)  # fmt: skip
        typer.echo(f"wrote {png}")


@apt_app.command("composition")
@friendly
def composition_cmd(
    file: Annotated[Path, typer.Argument(help="An APT file (.pos, .epos, .apt, ...).")],
    ranges: Annotated[Path, typer.Option(help="Range file (.rrng, .rng, .env).")],
    out: Annotated[
        Path | None, typer.Option(help="Write the table here (.csv or .parquet).")
    ] = None,
    roi: Annotated[
        str | None,
        typer.Option(help="sphere:x,y,z,r | cylinder:x,y,z,ax,ay,az,r,len | box:x0,y0,z0,x1,y1,z1"),
    ] = None,
    decompose: Annotated[
        bool, typer.Option("--decompose/--ions", help="Split molecular ions into atoms.")
    ] = True,
    background: Annotated[
        str, typer.Option(help="Background model: none, constant, linear or tof.")
    ] = "none",
    png: Annotated[Path | None, typer.Option(help="Bar chart of the composition.")] = None,
) -> None:
    """Composition with Poisson and background-propagated errors."""
    import numpy as np

    from bigmax.techniques.apt.composition import RangeCounts, composition_table
    from bigmax.techniques.apt.ranges import read_ranges
    from bigmax.techniques.apt.roi import parse_roi
    from bigmax.techniques.apt.spectrum import background as fit_background

    if background not in ("none", "constant", "linear", "tof"):
        raise typer.BadParameter(f"--background {background!r}: none, constant, linear or tof")
    table = read_ranges(ranges)
    region = parse_roi(roi) if roi else None
    top = float(table.hi.max()) + 2.0 if len(table) else 10.0
    spectrum, per_range, _ = _scan(file, 0.01, (0.0, top), table, region, what="ranging")
    if background == "none":
        b = v = np.zeros(len(table))
    else:
        bkg = fit_background(spectrum, table.lo, table.hi, background)
        b, v = bkg.counts, bkg.variance
    counts = RangeCounts(per_range[1:].astype(float), b, v, int(per_range.sum()))
    result = composition_table(counts, table, decompose)
    shown = result[["species", "counts", "percent"]].copy()
    shown["error_%"] = 100 * result["error_total"]
    typer.echo(shown.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    typer.echo(f"ranged fraction {result.attrs['ranged_fraction']:.4f} of {counts.n_ions} ions")
    if out is not None:
        write_table(result, out)
        typer.echo(f"wrote {out}")
    if png is not None:
        _bar_chart(result, png, f"{file.name} ({ranges.name})")
        typer.echo(f"wrote {png}")


def _bar_chart(result, png: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.bar(result["species"], result["percent"], yerr=100 * result["error_total"],
           color="C0", capsize=3)  # fmt: skip
    for x, p in zip(result["species"], result["percent"], strict=True):
        ax.annotate(f"{p:.2f}", (x, p), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("at.%" if result.attrs.get("basis") == "atomic" else "ion %")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=130)
    plt.close(fig)
