"""``bigmax apt clusters|knn|rdf``: solute clusters and spatial statistics from an APT file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_apt import apt_app, friendly
from bigmax.cli_shared import write_table

FileArg = Annotated[Path, typer.Argument(help="Ion file: .pos, .epos, .apt, .ato, NXapm .h5")]
RangesOpt = Annotated[Path, typer.Option("--ranges", "-r", help="Range file (rrng, rng, env)")]
SolutesOpt = Annotated[
    str, typer.Option("--solutes", "-s", help="Comma-separated solute ions, e.g. Cu,Ni")
]


def _steps(total: int):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from bigmax.cli import err_console

    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        disable=not err_console.is_terminal,
    )


def _load(file: Path, ranges: Path, names: str, what: str, bar, task):
    """xyz (float32, as stored), species codes (0 = unranged) and names, solute codes."""
    import numpy as np

    from bigmax.techniques.apt.formats import read_ions
    from bigmax.techniques.apt.ranges import label_ions, read_ranges

    bar.update(task, description="reading ions")
    ions = read_ions(file)
    xyz = ions.xyz
    bar.advance(task)
    bar.update(task, description="labelling ions")
    table = read_ranges(ranges)
    labels = label_ions(ions.mq, table, by="ion")
    species = (labels + 1).astype(np.int32)
    del labels
    ion_names = ["unranged", *table.ions]
    wanted = [s.strip() for s in names.split(",") if s.strip()]
    if not wanted:
        raise ValueError(f"{what} is empty: name at least one ion, e.g. Cu")
    missing = [s for s in wanted if s not in ion_names[1:]]
    if missing:
        raise ValueError(
            f"{what}: {', '.join(missing)} not in the ions of {ranges} "
            f"({', '.join(ion_names[1:])})"
        )
    codes = [ion_names.index(s) for s in wanted]
    bar.advance(task)
    return np.asarray(xyz), species, ion_names, codes


def _warn_lines(caught) -> None:
    from rich.markup import escape

    from bigmax.cli import err_console

    for w in caught:
        err_console.print(f"[yellow]warning:[/yellow] {escape(str(w.message))}")


def plot_knn(knn, d_max: float | None, path: Path, title: str = "") -> None:
    """kNN distance densities, measured vs random-label envelope, for every k; d_max marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hist = knn.histogram()
    r = 0.5 * (hist["r_lo"] + hist["r_hi"])
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k in range(1, knn.k + 1):
        c = colours[(k - 1) % len(colours)]
        ax.plot(r, hist[f"k{k}_measured"], color=c, label=f"k={k} measured")
        ax.plot(r, hist[f"k{k}_random"], color=c, ls="--", lw=1)
        ax.fill_between(r, hist[f"k{k}_random_lo"], hist[f"k{k}_random_hi"], color=c, alpha=0.2)
    if d_max is not None:
        ax.axvline(d_max, color="k", lw=1, ls=":", label=f"d_max = {d_max:.2f} nm")
    ax.set_xlabel("distance to k-th nearest solute (nm)")
    ax.set_ylabel("probability density (1/nm)")
    ax.set_title(title or "solute kNN distances; dashed: random labels")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@apt_app.command("clusters")
@friendly
def clusters_cmd(
    file: FileArg,
    ranges: RangesOpt,
    solutes: SolutesOpt,
    d_max: Annotated[
        float | None, typer.Option(help="Linking distance in nm (default: from kNN vs random)")
    ] = None,
    n_min: Annotated[
        int | None, typer.Option(help="Smallest cluster in solutes (default: from random labels)")
    ] = None,
    method: Annotated[str, typer.Option(help="maxsep, dbscan or hdbscan")] = "maxsep",
    envelope: Annotated[
        float | None, typer.Option(help="Envelope L in nm (default d_max; 0: solutes only)")
    ] = None,
    erosion: Annotated[float | None, typer.Option(help="Erosion in nm (default L)")] = None,
    k: Annotated[int, typer.Option(help="Neighbour order for the automatic d_max")] = 3,
    matrix: Annotated[
        str | None, typer.Option(help="Ions left out of excl_ compositions (default: most common)")
    ] = None,
    volume: Annotated[str, typer.Option(help="Analysed volume: hull or voxel")] = "hull",
    seed: Annotated[int, typer.Option(help="Random seed of the random-label permutations")] = 0,
    out: Annotated[Path | None, typer.Option(help="Cluster table, .csv or .parquet")] = None,
    labels_out: Annotated[
        Path | None, typer.Option(help="Cluster id per ion (.npy, int32, -1 none)")
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="kNN distance picture (.png)")] = None,
) -> None:
    """Find solute clusters (maximum separation, DBSCAN or HDBSCAN) and tabulate them."""
    import numpy as np

    from bigmax.cli import console
    from bigmax.techniques.apt.cluster_stats import analysed_volume, cluster_table, number_density
    from bigmax.techniques.apt.clusters import MaxSeparation
    from bigmax.techniques.apt.spatial_stats import knn_distribution

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"--out {out}: use a .csv or .parquet file name")
    with warnings.catch_warnings(record=True) as caught, _steps(6) as bar:
        warnings.simplefilter("always")
        task = bar.add_task("reading ions", total=6)
        xyz, species, names, codes = _load(file, ranges, solutes, "--solutes", bar, task)
        model = MaxSeparation(
            d_max=d_max, n_min=n_min, envelope=envelope, erosion=erosion, method=method,
            k=k, solutes=codes, random_state=seed,
        )  # fmt: skip
        bar.update(task, description="clustering")
        model.fit(xyz, species)
        bar.advance(task)
        bar.update(task, description="cluster statistics")
        mat = None
        if matrix is not None:
            bad = [m for m in matrix.split(",") if m.strip() not in names[1:]]
            if bad:
                raise ValueError(f"--matrix: {', '.join(bad)} not in the ions ({names[1:]})")
            mat = [0] + [names.index(m.strip()) for m in matrix.split(",")]
        else:
            counts = np.bincount(species, minlength=len(names))
            counts[0] = 0
            mat = [0, int(np.argmax(counts))]
        solute_mask = np.isin(species, codes)
        table = cluster_table(xyz, species, model.labels_, solute_mask, names=names, matrix=mat)
        vol = analysed_volume(xyz, volume)
        bar.advance(task)
        bar.update(task, description="writing")
        if out is not None:
            write_table(table, out)
        if labels_out is not None:
            np.save(labels_out, model.labels_)
        if plot is not None:
            knn = model.knn_ or knn_distribution(
                xyz, solute_mask, k=max(k, 1), random_state=seed
            )
            plot_knn(knn, model.d_max_, plot, f"{file.name}: {solutes} kNN vs random labels")
        bar.advance(task)
    _warn_lines(caught)
    rho = number_density(model.n_clusters_, vol)
    console.print(
        f"{model.n_clusters_} clusters ({method}; d_max {model.d_max_:.3f} nm, "
        f"n_min {model.n_min_}, envelope {model.envelope_:.3f} nm, erosion "
        f"{model.erosion_:.3f} nm) in {len(xyz):,} ions"
    )
    if model.n_clusters_:
        console.print(
            f"{int((model.labels_ >= 0).sum()):,} ions in clusters; median Guinier radius "
            f"{float(np.median(table['r_guinier'])):.2f} nm"
        )
    console.print(
        f"analysed volume {vol:.4g} nm^3 ({volume}); number density {rho:.3g} m^-3"
    )
    for path in (out, labels_out, plot):
        if path is not None:
            console.print(f"wrote {path}", soft_wrap=True)


@apt_app.command("knn")
@friendly
def knn_cmd(
    file: FileArg,
    ranges: RangesOpt,
    solutes: SolutesOpt,
    k: Annotated[int, typer.Option(help="Largest neighbour order")] = 5,
    permutations: Annotated[int, typer.Option(help="Random-label permutations")] = 3,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    out: Annotated[Path | None, typer.Option(help="Histogram table, .csv or .parquet")] = None,
    plot: Annotated[Path | None, typer.Option(help="Picture (.png)")] = None,
) -> None:
    """kNN distance distributions of solutes vs random labels, and the d_max they suggest."""
    from bigmax.cli import console
    from bigmax.techniques.apt.spatial_stats import knn_distribution

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"--out {out}: use a .csv or .parquet file name")
    with warnings.catch_warnings(record=True) as caught, _steps(4) as bar:
        warnings.simplefilter("always")
        task = bar.add_task("reading ions", total=4)
        xyz, species, _names, codes = _load(file, ranges, solutes, "--solutes", bar, task)
        bar.update(task, description="kNN distances")
        knn = knn_distribution(
            xyz, species, codes, k=k, n_permutations=permutations, random_state=seed
        )
        bar.advance(task)
        bar.update(task, description="writing")
        if out is not None:
            write_table(knn.histogram(), out)
        suggested = knn.separation(min(3, k))[0]
        if plot is not None:
            plot_knn(knn, suggested, plot, f"{file.name}: {solutes} kNN vs random labels")
        bar.advance(task)
    _warn_lines(caught)
    console.print(f"{knn.n_solutes:,} solute ions; separation point per k (KS gap):")
    for j in range(1, k + 1):
        d, gap = knn.separation(j)
        console.print(f"  k={j}: {d:.3f} nm ({gap:.3f})")
    console.print(f"suggested d_max (k={min(3, k)}): {suggested:.3f} nm")
    for path in (out, plot):
        if path is not None:
            console.print(f"wrote {path}", soft_wrap=True)


@apt_app.command("rdf")
@friendly
def rdf_cmd(
    file: FileArg,
    ranges: RangesOpt,
    centres: Annotated[str, typer.Option(help="Centre ions (comma-separated), e.g. Cu")],
    targets: Annotated[
        str | None, typer.Option(help="Counted ions (default: the centre ions)")
    ] = None,
    r_max: Annotated[float, typer.Option(help="Largest radius, nm")] = 3.0,
    dr: Annotated[float, typer.Option(help="Shell width, nm")] = 0.1,
    max_centres: Annotated[int, typer.Option(help="At most this many centre ions")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed")] = 0,
    out: Annotated[Path | None, typer.Option(help="RDF table, .csv or .parquet")] = None,
    plot: Annotated[Path | None, typer.Option(help="Picture (.png)")] = None,
) -> None:
    """Radial distribution: B concentration around A over the bulk, with a random envelope."""
    from bigmax.cli import console
    from bigmax.techniques.apt.spatial_stats import rdf

    if out is not None and out.suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise ValueError(f"--out {out}: use a .csv or .parquet file name")
    with warnings.catch_warnings(record=True) as caught, _steps(4) as bar:
        warnings.simplefilter("always")
        task = bar.add_task("reading ions", total=4)
        xyz, species, names, a = _load(file, ranges, centres, "--centres", bar, task)
        b = a
        if targets is not None:
            wanted = [s.strip() for s in targets.split(",") if s.strip()]
            missing = [s for s in wanted if s not in names[1:]]
            if missing or not wanted:
                raise ValueError(f"--targets: {', '.join(missing) or 'empty'} not in {names[1:]}")
            b = [names.index(s) for s in wanted]
        bar.update(task, description="shell counts")
        res = rdf(
            xyz, species, a, b, r_max=r_max, dr=dr, max_centres=max_centres, random_state=seed
        )
        bar.advance(task)
        if out is not None:
            write_table(res.table, out)
        if plot is not None:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            t = res.table
            r = 0.5 * (t["r_lo"] + t["r_hi"])
            fig, ax = plt.subplots(figsize=(6.4, 4.2))
            ax.fill_between(r, t["random_lo"], t["random_hi"], alpha=0.3, label="random labels")
            ax.plot(r, t["ratio"], "o-", ms=3, label="measured")
            ax.axhline(1, color="k", lw=0.8)
            ax.set_xlabel("r (nm)")
            ax.set_ylabel("C(r) / C(bulk)")
            ax.set_title(f"{file.name}: {targets or centres} around {centres}")
            ax.legend()
            fig.tight_layout()
            fig.savefig(plot, dpi=120)
            plt.close(fig)
        bar.advance(task)
    _warn_lines(caught)
    t = res.table
    console.print(
        f"{res.n_centres:,} centres; bulk fraction {res.bulk_fraction:.4g}; "
        f"C/C0 in the first shell with ions: {t['ratio'].dropna().iloc[0]:.3g}"
    )
    for path in (out, plot):
        if path is not None:
            console.print(f"wrote {path}", soft_wrap=True)
