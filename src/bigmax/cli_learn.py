"""``bigmax learn``: train a kernel model on structures and targets, then predict.

Structures come from a table (one row per structure, with an id column) plus a folder, a
column of file paths or one multi-frame file; or from the archive (``--query``), which is the
only archive-aware part: entries go through ``bigmax.analytics.descriptors.records``, which
knows nothing of the archive itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bigmax.cli_shared import friendly as _friendly

learn_app = typer.Typer(
    help="Learn properties from structures: descriptors + kernel ridge regression or a GP.",
    no_args_is_help=True,
)

#: Model files carry this tag, so predict can refuse anything else.
MODEL_FORMAT = "bigmax-learn-1"
DESCRIPTORS = ("soap", "mbtr", "composition", "sine", "ewald", "acsf")
MODELS = ("krr", "gp")
#: Files a structure folder may hold, in order of preference.
_STRUCTURE_NAMES = ("geometry.in", "geometry.xyz", "POSCAR", "CONTCAR", "structure.cif")


class LearnInputError(ValueError):
    """A table, column, file or model that ``bigmax learn`` cannot use."""


# -- inputs -----------------------------------------------------------------------------------


def _read_table(path: Path, id_column: str):
    import pandas as pd

    try:
        # every cell as text: ids stay "1" (not 1.0), and "n/a" in a target is reported as is
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise LearnInputError(f"{path}: no such file") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise LearnInputError(f"{path}: not a readable CSV table: {err}") from None
    if id_column not in table.columns:
        raise LearnInputError(
            f"{path}: no id column {id_column!r}; columns are {', '.join(map(str, table.columns))}"
        )
    if table.empty:
        raise LearnInputError(f"{path}: the table has no rows")
    return table


def _read_one(path: Path, label: str, base: Path):
    from bigmax.io.base import ReaderError
    from bigmax.io.structures import read_atoms

    try:
        frames = read_atoms(path)
    except (ReaderError, OSError) as err:
        raise LearnInputError(f"{label}: {err}") from None
    atoms = frames[-1]  # the last frame: the relaxed structure of a trajectory
    try:
        atoms.info["source"] = str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        atoms.info["source"] = str(path)
    return atoms


def _file_in(folder: Path, label: str) -> Path:
    for name in _STRUCTURE_NAMES:
        if (folder / name).is_file():
            return folder / name
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    if len(files) == 1:
        return files[0]
    raise LearnInputError(
        f"{label}: folder {folder} holds {len(files)} files and none of "
        f"{', '.join(_STRUCTURE_NAMES)}; expected one structure file"
    )


def _structures_for(table, table_path: Path, structures: str, id_column: str) -> list:
    """One Atoms per table row, from a column of paths, a folder of ids or one multi-frame
    file; errors name the row and id."""
    ids = table[id_column].astype(str).tolist()
    base = table_path.parent
    if structures in table.columns:
        out = []
        for row, (rid, rel) in enumerate(zip(ids, table[structures], strict=True)):
            label = f"{table_path.name} row {row + 1} ({id_column} {rid})"
            if not rel.strip():
                raise LearnInputError(f"{label}: column {structures!r} has no path")
            path = base / rel
            out.append(_read_one(_file_in(path, label) if path.is_dir() else path, label, base))
        return out
    source = Path(structures)
    if not source.is_absolute() and not source.exists():
        source = base / structures
    if source.is_dir():
        out = []
        for row, rid in enumerate(ids):
            label = f"{table_path.name} row {row + 1} ({id_column} {rid})"
            here = source / rid
            if here.is_dir():
                out.append(_read_one(_file_in(here, label), label, base))
                continue
            matches = sorted(source.glob(f"{rid}.*"))
            if len(matches) != 1:
                raise LearnInputError(
                    f"{label}: no structure {source / rid} (a folder) or {source / rid}.* "
                    f"(one file); found {len(matches)} files"
                )
            out.append(_read_one(matches[0], label, base))
        return out
    if source.is_file():
        from bigmax.io.base import ReaderError
        from bigmax.io.structures import read_atoms

        try:
            frames = read_atoms(source)
        except ReaderError as err:
            raise LearnInputError(str(err)) from None
        if len(frames) != len(ids):
            raise LearnInputError(
                f"{source.name}: {len(frames)} frames for {len(ids)} table rows; a multi-frame "
                "file must hold one frame per row, in row order"
            )
        for i, atoms in enumerate(frames):
            atoms.info["source"] = f"{source.name} frame {i}"
        return frames
    raise LearnInputError(
        f"--structures {structures!r} is neither a column of {table_path.name}, nor a folder, "
        "nor a file"
    )


def _targets(table, table_path: Path, names: list[str]):
    import numpy as np
    import pandas as pd

    out = {}
    for name in names:
        if name not in table.columns:
            raise LearnInputError(
                f"{table_path.name}: no target column {name!r}; columns are "
                f"{', '.join(map(str, table.columns))}"
            )
        values = pd.to_numeric(table[name].str.strip(), errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.argmax(bad))
            raise LearnInputError(
                f"{table_path.name} row {row + 1}: column {name!r} is {table[name].iloc[row]!r}, "
                "not a number"
            )
        out[name] = values
    return out


def _from_archive(query: str | None, filter: str | None, targets: list[str]):
    """Atoms, targets (in eV, angstrom: the units ``bigmax search`` prints) and entry ids of
    the archive entries that match; the one place where learning meets the archive."""
    import numpy as np

    from bigmax.analytics.descriptors.records import structures_from_records
    from bigmax.archive.catalog import archives_for
    from bigmax.cli import DISPLAY_UNITS, _engine, _parse_query
    from bigmax.schema.units import convert
    from bigmax.search import iter_entry_pks
    from bigmax.search.fields import get_field

    engine = _engine()
    entries = [
        entry
        for pks in iter_entry_pks(engine, _parse_query(query), filter=filter)
        for entry in archives_for(engine, pks)
    ]
    entries = [e for e in entries if (e.get("results") or {}).get("material", {}).get("structure")]
    if not entries:
        raise LearnInputError("no archive entry with a structure matches the query")
    y = {}
    keep = np.ones(len(entries), dtype=bool)
    for name in targets:
        field = get_field(name)
        path = field.path if field is not None and field.path else name
        unit = field.unit if field is not None else None
        scale = convert(1.0, unit, DISPLAY_UNITS[unit]) if unit in DISPLAY_UNITS else 1.0
        structures, values = structures_from_records(
            entries, path, target_scale=scale, skip_missing=True
        )
        mask = np.zeros(len(entries), dtype=bool)
        mask[[a.info["record_index"] for a in structures]] = True
        full = np.full(len(entries), np.nan)
        full[mask] = values
        y[name] = full
        keep &= mask
    if not keep.any():
        raise LearnInputError(f"no matching entry has every target ({', '.join(targets)})")
    kept = [e for e, k in zip(entries, keep, strict=True) if k]
    structures, _ = structures_from_records(kept)
    ids = [e["entry_id"] for e in kept]
    return structures, {k: v[keep] for k, v in y.items()}, ids


# -- models -----------------------------------------------------------------------------------


def _descriptor(name: str, structures: list, jobs: int):
    from bigmax.analytics.descriptors import (
        ACSFDescriptor,
        EwaldMatrixDescriptor,
        MBTRDescriptor,
        SineMatrixDescriptor,
        SOAPDescriptor,
    )
    from bigmax.analytics.descriptors.cell import CellDescriptor
    from bigmax.analytics.descriptors.composition import CompositionDescriptor

    if name == "soap":
        return SOAPDescriptor(r_cut=5.0, n_max=6, l_max=4, n_jobs=jobs)
    if name == "mbtr":
        return MBTRDescriptor(n_jobs=jobs)
    if name == "sine":
        return SineMatrixDescriptor(n_jobs=jobs)
    if name == "ewald":
        return EwaldMatrixDescriptor(n_jobs=jobs)
    if name == "acsf":
        return ACSFDescriptor(average="mean", n_jobs=jobs)
    from sklearn.pipeline import make_union

    if all(a.pbc.all() for a in structures):
        return make_union(CompositionDescriptor(), CellDescriptor())
    return CompositionDescriptor()


def _features(spec: str, structures: list, jobs: int):
    from sklearn.pipeline import make_pipeline, make_union
    from sklearn.preprocessing import StandardScaler

    names = [s.strip() for s in spec.split("+") if s.strip()]
    unknown = [n for n in names if n not in DESCRIPTORS]
    if unknown or not names:
        raise LearnInputError(
            f"--descriptor {spec!r}: unknown {', '.join(unknown) or 'empty'}; choose from "
            f"{', '.join(DESCRIPTORS)}, joined with '+' (e.g. soap+composition)"
        )
    parts = [_descriptor(n, structures, jobs) for n in names]
    union = parts[0] if len(parts) == 1 else make_union(*parts)
    return make_pipeline(union, StandardScaler())


def _estimator(model: str, log_target: bool, cv: int):
    from bigmax.analytics.kernels import GaussianProcessModel, KernelRidgeCV

    transform = "log1p" if log_target else None
    if model == "krr":
        return KernelRidgeCV(target_transform=transform, cv=cv)
    if model == "gp":
        return GaussianProcessModel(target_transform=transform)
    raise LearnInputError(f"--model must be one of {', '.join(MODELS)}, not {model!r}")


def _cv_scores(estimator, X, y, cv: int, log_target: bool) -> tuple[dict[str, float], Any]:
    import numpy as np
    from sklearn.base import clone
    from sklearn.model_selection import KFold, cross_val_predict

    from bigmax.analytics.kernels import KernelRidgeCV, rmsle

    if isinstance(estimator, KernelRidgeCV):
        pred = estimator.cv_predictions_
    else:
        folds = KFold(cv, shuffle=True, random_state=0)
        pred = cross_val_predict(clone(estimator), X, y, cv=folds)
    scores = {
        "mae": float(np.mean(np.abs(pred - y))),
        "rmse": float(np.sqrt(np.mean((pred - y) ** 2))),
    }
    if log_target or (y > -1).all():
        scores["rmsle"] = rmsle(y, np.maximum(pred, -1 + 1e-9))
    return scores, pred


def _load_model(path: Path) -> dict:
    import joblib

    if not path.is_file():
        raise LearnInputError(f"{path}: no such model file")
    try:
        bundle = joblib.load(path)
    except Exception as err:  # joblib/pickle raise many kinds on a foreign file
        raise LearnInputError(f"{path}: not a bigmax learn model ({type(err).__name__})") from None
    if not isinstance(bundle, dict) or bundle.get("format") != MODEL_FORMAT:
        raise LearnInputError(f"{path}: not a bigmax learn model (format {MODEL_FORMAT})")
    return bundle


# -- commands ---------------------------------------------------------------------------------

TableArg = Annotated[
    Path | None, typer.Argument(help="CSV table: an id column, target columns, structure paths")
]
StructuresOpt = Annotated[
    str | None,
    typer.Option(
        "--structures",
        "-s",
        help="A column of structure paths, a folder with <id>/ or <id>.* per row, or one "
        "multi-frame file in row order",
    ),
]
IdOpt = Annotated[str, typer.Option("--id-column", help="Column naming each row")]
QueryOpt = Annotated[
    str | None, typer.Option("--query", "-q", help="Learn from archive entries matching this query")
]
FilterOpt = Annotated[str | None, typer.Option("--filter", "-f", help="OPTIMADE filter (archive)")]


def _inputs(table_path, structures, id_column, query, filter, targets):
    if table_path is not None and (query is not None or filter is not None):
        raise LearnInputError("give either a TABLE or --query/--filter, not both")
    if table_path is None:
        if query is None and filter is None:
            raise LearnInputError("give a TABLE (with --structures) or --query to use the archive")
        return _from_archive(query, filter, targets)
    if structures is None:
        raise LearnInputError("--structures is needed with a TABLE")
    table = _read_table(table_path, id_column)
    y = _targets(table, table_path, targets) if targets else {}
    atoms = _structures_for(table, table_path, structures, id_column)
    return atoms, y, table[id_column].astype(str).tolist()


@learn_app.command("train")
@_friendly
def train_cmd(
    table: TableArg = None,
    structures: StructuresOpt = None,
    target: Annotated[
        list[str], typer.Option("--target", "-t", help="Target column (repeat for several)")
    ] = None,  # type: ignore[assignment]
    descriptor: Annotated[
        str, typer.Option(help=f"{', '.join(DESCRIPTORS)}; join with '+'")
    ] = "soap+composition",
    model: Annotated[str, typer.Option(help="krr (CV-tuned) or gp (with error bars)")] = "krr",
    log_target: Annotated[
        bool, typer.Option(help="Fit log(1 + y): minimises the RMSLE; needs y > -1")
    ] = False,
    cv: Annotated[int, typer.Option(min=2, help="Cross-validation folds")] = 5,
    save: Annotated[Path, typer.Option(help="Where to write the model (joblib)")] = Path(
        "model.joblib"
    ),
    parity: Annotated[
        Path | None, typer.Option(help="Write a parity plot of the CV predictions (PNG)")
    ] = None,
    id_column: IdOpt = "id",
    query: QueryOpt = None,
    filter: FilterOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Descriptor processes")] = 1,
) -> None:
    """Train one model per target; print cross-validated errors; save everything to --save."""
    import joblib

    from bigmax import __version__

    if not target:
        raise LearnInputError("give at least one --target")
    if model not in MODELS:
        raise LearnInputError(f"--model must be one of {', '.join(MODELS)}, not {model!r}")
    atoms, y, ids = _inputs(table, structures, id_column, query, filter, list(target))
    if len(atoms) < max(cv, 3):
        raise LearnInputError(f"{len(atoms)} structures are too few for {cv}-fold CV")
    features = _features(descriptor, atoms, jobs)
    X = features.fit_transform(atoms)
    estimators, report = {}, {}
    typer.echo(f"{len(atoms)} structures, {X.shape[1]} features ({descriptor}), model {model}")
    for name, values in y.items():
        est = _estimator(model, log_target, cv).fit(X, values)
        scores, pred = _cv_scores(est, X, values, cv, log_target)
        estimators[name], report[name] = est, scores
        line = ", ".join(f"{k.upper()} {v:.4g}" for k, v in scores.items())
        typer.echo(f"{name}: {cv}-fold CV {line}")
        if parity is not None:
            _parity_png(parity, name, values, pred, len(y) > 1)
    bundle = {
        "format": MODEL_FORMAT,
        "bigmax_version": __version__,
        "descriptor": descriptor,
        "model": model,
        "log_target": log_target,
        "id_column": id_column if table is not None else "entry_id",
        "features": features,
        "estimators": estimators,
        "cv": report,
        "n_train": len(atoms),
    }
    joblib.dump(bundle, save)
    typer.echo(f"saved {save}")


def _parity_png(path: Path, name: str, y, pred, several: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from bigmax.analytics.kernels import plot_parity

    out = path.with_name(f"{path.stem}_{name}{path.suffix}") if several else path
    ax = plot_parity(y, pred, label=name, title=f"{name}: cross-validated")
    ax.figure.tight_layout()
    ax.figure.savefig(out, dpi=120)
    plt.close(ax.figure)


@learn_app.command("predict")
@_friendly
def predict_cmd(
    model_path: Annotated[Path, typer.Argument(help="A model written by 'bigmax learn train'")],
    table: TableArg = None,
    structures: StructuresOpt = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="CSV to write (default: print)")
    ] = None,
    id_column: IdOpt = "id",
    query: QueryOpt = None,
    filter: FilterOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Descriptor processes")] = 1,
) -> None:
    """Predict every target of a saved model; a GP adds a <target>_std column."""
    import pandas as pd

    from bigmax.analytics.kernels import GaussianProcessModel

    bundle = _load_model(model_path)
    atoms, _, ids = _inputs(table, structures, id_column, query, filter, [])
    features = bundle["features"]
    _set_jobs(features, jobs)
    X = features.transform(atoms)
    out = pd.DataFrame({id_column if table is not None else "entry_id": ids})
    for name, est in bundle["estimators"].items():
        if isinstance(est, GaussianProcessModel):
            out[name], out[f"{name}_std"] = est.predict(X, return_std=True)
        else:
            out[name] = est.predict(X)
    if output is None:
        typer.echo(out.to_csv(index=False, float_format="%.6g"), nl=False)
    else:
        out.to_csv(output, index=False, float_format="%.6g")
        typer.echo(f"wrote {len(out)} predictions to {output}")


def _set_jobs(features: Any, jobs: int) -> None:
    """Worker processes of the dscribe descriptors in a fitted feature pipeline."""
    from bigmax.analytics.descriptors.structure import _DscribeTransformer

    for key, value in features.get_params(deep=True).items():
        if isinstance(value, _DscribeTransformer):
            features.set_params(**{f"{key}__n_jobs": jobs})
