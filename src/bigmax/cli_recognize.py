"""``bigmax recognize``: the crystal structure of a file, or a per-window map of a polycrystal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def _read(path: Path):
    """The first frame of a structure file; read errors name the file."""
    import warnings

    from ase.io import read

    from bigmax.analytics.recognition import StructureError

    if not path.is_file():
        raise StructureError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            atoms = read(path, index=0)
    except (KeyError, ValueError, IndexError, StopIteration) as err:
        detail = f"unknown element {err.args[0]!r}" if isinstance(err, KeyError) else str(err)
        msg = f"{path}: cannot read a structure: {detail or type(err).__name__}"
        raise StructureError(msg) from None
    atoms.info["name"] = str(path)
    return atoms


def recognize_cmd(
    structure_file: Annotated[Path, typer.Argument(help="Structure file ASE can read")],
    window: Annotated[
        float | None, typer.Option(help="Sliding-window box side in angstrom (e.g. 12)")
    ] = None,
    stride: Annotated[float, typer.Option(help="Sliding-window step in angstrom")] = 4.0,
    model: Annotated[
        Path | None,
        typer.Option(help="A saved StructureClassifier (joblib); default: the 108-class model"),
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="Write the per-window map as CSV")] = None,
    png: Annotated[Path | None, typer.Option(help="Write the per-window map as PNG")] = None,
    jobs: Annotated[int, typer.Option(min=1, help="Processes for the descriptors")] = 1,
) -> None:
    """Recognise the prototype of a structure (108 ARISE classes) with its uncertainty.

    Without --window: one answer for the whole structure. With --window: a grid of windows,
    each classified, and the grains they form; --csv/--png write the map.
    """
    import joblib
    from rich.console import Console

    from bigmax.analytics.recognition import load_or_train, sliding_windows
    from bigmax.config import get_settings

    console = Console()
    atoms = _read(structure_file)
    if model is not None:
        if not model.is_file():
            raise FileNotFoundError(f"{model}: no such model file")
        clf = joblib.load(model)
    else:
        cache = get_settings().home / "models"
        console.print(f"[dim]model: the 108-class prototype classifier (cache {cache}; "
                      "the first call trains it, a few minutes)[/dim]")
        clf = load_or_train(cache, n_jobs=jobs)
    if window is None:
        row = clf.recognize([atoms]).iloc[0]
        console.print(f"structure:   {structure_file}", soft_wrap=True)
        console.print(f"answer:      {row.answer}", soft_wrap=True)
        console.print(f"label:       {row.label}", soft_wrap=True)
        console.print(f"probability: {row.probability:.3f}")
        limit = clf.class_thresholds_[list(clf.classes_).index(row.label)]
        console.print(f"uncertainty: {row.uncertainty:.4f} nats (unknown above {limit:.4f} "
                      "for this label)")
        return
    result = sliding_windows(atoms, clf, window=window, stride=stride)
    console.print("grain,label,windows,atoms,mean_uncertainty")
    for g in result.grains().itertuples():
        console.print(f"{g.grain},{g.label},{g.n_windows},{g.n_atoms},{g.mean_uncertainty:.4f}",
                      soft_wrap=True)
    answers = result.answer
    console.print(
        f"{len(answers)} windows ({window:g} A, stride {stride:g} A): "
        f"{(answers == 'unknown').sum()} unknown, {(answers == 'empty').sum()} empty; "
        f"threshold {result.threshold:.4f}"
    )
    if csv is not None:
        result.to_frame().to_csv(csv, index=False)
        console.print(f"wrote {csv}")
    if png is not None:
        from bigmax.analytics.recognition import plot_window_map

        plot_window_map(result, png, title=structure_file.name)
        console.print(f"wrote {png}")
