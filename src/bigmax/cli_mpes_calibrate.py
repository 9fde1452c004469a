"""``bigmax mpes calibrate momentum|energy|delay``: fit a calibration, write it to a config file.

Each command fits on small inputs (a kx-ky image, a bias series, a file's stage attributes) and
merges its section into ``--out`` (created if missing; other sections are kept), in our config
layout or, with ``--sed-config``, in sed-processor's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bigmax.cli_mpes import friendly, mpes_app

calibrate_app = typer.Typer(
    help="Fit momentum, energy and delay calibrations and write them to a config file.",
    no_args_is_help=True,
)
mpes_app.add_typer(calibrate_app, name="calibrate")


def _floats(text: str | None, name: str, n: int | None = None) -> list[float] | None:
    if text is None:
        return None
    try:
        vals = [float(v) for v in text.replace(";", ",").split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"{name} must be comma-separated numbers, got {text!r}") from None
    if n is not None and len(vals) != n:
        raise ValueError(f"{name} must have {n} numbers, got {len(vals)}")
    return vals


def _load_array(path: Path, key: str | None = None):
    """A numeric array from .csv/.txt, .npy or .mat (``key`` or the largest array)."""
    import numpy as np

    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, allow_pickle=False)
    if suffix == ".mat":
        import scipy.io as sio

        try:
            mat = sio.loadmat(path)
        except Exception as err:  # noqa: BLE001 - scipy raises several types for bad files
            raise ValueError(f"{path}: not a readable MATLAB file ({err})") from None
        arrays = {k: v for k, v in mat.items() if not k.startswith("__")}
        if key is not None:
            if key not in arrays:
                raise ValueError(f"{path}: no variable {key!r} (has {', '.join(arrays)})")
            return np.asarray(arrays[key], dtype=float)
        if not arrays:
            raise ValueError(f"{path}: holds no arrays")
        return np.asarray(max(arrays.values(), key=lambda a: np.size(a)), dtype=float)
    try:
        return np.loadtxt(path, delimiter=",", ndmin=1)
    except ValueError as err:
        raise ValueError(f"{path}: not a numeric CSV ({err})") from None


def _image_from_events(path: Path, bins: int, tof_range: list[float] | None):
    """A kx-ky image binned from a METIS event file (Stream_0 = X, Stream_1 = Y, 2 = TOF)."""
    import h5py
    import numpy as np

    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: cannot be read as HDF5 ({err})") from None
    with f:
        for name in ("Stream_0", "Stream_1", "Stream_2"):
            if name not in f:
                raise ValueError(f"{path}: dataset {name!r} is missing (METIS event file)")
        x, y, t = (f[n][...].astype(np.float64) for n in ("Stream_0", "Stream_1", "Stream_2"))
    if x.size == 0:
        raise ValueError(f"{path}: the event file is empty")
    keep = np.ones(x.size, bool)
    if tof_range is not None:
        keep = (t >= tof_range[0]) & (t < tof_range[1])
        if not keep.any():
            raise ValueError(f"{path}: no events in --tof-range {tof_range}")
    lo = min(x[keep].min(), y[keep].min())
    hi = max(x[keep].max(), y[keep].max()) + 1
    edges = np.linspace(lo, hi, bins + 1)
    img, _, _ = np.histogram2d(x[keep], y[keep], bins=[edges, edges])
    centres = 0.5 * (edges[1:] + edges[:-1])
    return img, (centres, centres)


def _write(out: Path, section: dict, sed: bool) -> None:
    """Merge ``section`` (our layout) into ``out`` (ours or sed's), validate, write."""
    from bigmax.techniques.mpes.config import (
        ConfigError,
        MpesConfig,
        _format,
        _is_sed,
        _merge,
        dump_config,
        from_sed,
        read_yaml,
    )

    existing: dict = {}
    if out.exists():
        existing = read_yaml(out)
        if _is_sed(existing):
            existing = from_sed(existing, source=str(out))
    from pydantic import ValidationError

    try:
        cfg = MpesConfig.model_validate(_merge(existing, section))
    except ValidationError as err:
        raise ConfigError(_format(err, str(out))) from None
    if sed and out.exists():
        # keep the keys of a sed file that we do not model (loader, metadata, nexus, ...)
        import yaml

        from bigmax.techniques.mpes.config import to_sed

        raw = read_yaml(out) if _is_sed(read_yaml(out)) else {}
        text = yaml.safe_dump(_merge(raw, to_sed(cfg)), sort_keys=False)
        out.write_text(text, encoding="utf-8")
        return
    dump_config(cfg, out, sed=sed)


@calibrate_app.command("momentum")
@friendly
def momentum_cmd(
    source: Annotated[Path, typer.Argument(help="kx-ky image (.csv, .npy, .mat) or METIS .h5")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Config file to write or update")],
    symmetry: Annotated[int, typer.Option(help="Rotational symmetry of the pattern")] = 6,
    no_center: Annotated[
        bool, typer.Option("--no-center", help="The landmarks do not include Gamma")
    ] = False,
    sigma: Annotated[float, typer.Option(help="Smoothing for the landmark search, px")] = 2.0,
    key: Annotated[str | None, typer.Option(help="Variable name in a .mat file")] = None,
    bins: Annotated[int, typer.Option(help="Image size when binning an event file")] = 512,
    tof_range: Annotated[
        str | None, typer.Option(help="TOF window 'lo,hi' when binning an event file")
    ] = None,
    lattice_constant: Annotated[
        float | None, typer.Option(help="Hexagonal a (Angstrom): k scale from Gamma-K")
    ] = None,
    k_distance: Annotated[
        float | None, typer.Option(help="|Gamma-vertex| in 1/Angstrom: k scale")
    ] = None,
    align: Annotated[bool, typer.Option(help="Rotate a vertex onto the x axis")] = False,
    ring: Annotated[
        list[str] | None,
        typer.Option(help="Another shell of landmarks 'RATIO:DEGREES' (M points: 0.866:30)"),
    ] = None,
    plot: Annotated[Path | None, typer.Option(help="Save a picture of the landmarks")] = None,
    sed_config: Annotated[bool, typer.Option("--sed-config", help="Write sed's layout")] = False,
) -> None:
    """Find landmarks, symmetrise by thin-plate spline, optionally scale to 1/Angstrom."""
    import numpy as np

    from bigmax.techniques.mpes.calibrate.momentum import MomentumCorrector, gamma_k_distance

    coords = None
    if source.suffix.lower() in (".h5", ".hdf5"):
        img, coords = _image_from_events(source, bins, _floats(tof_range, "--tof-range", 2))
    else:
        img = _load_array(source, key)
    rings = []
    for text in ring or []:
        vals = _floats(text.replace(":", ","), "--ring", 2)
        rings.append((vals[0], vals[1]))
    mc = MomentumCorrector(symmetry=symmetry, include_center=not no_center, sigma=sigma,
                           align=align, rings=tuple(rings)).fit(img, coords)
    section: dict = {"momentum": {"correction": mc.to_dict()}}
    if lattice_constant is not None or k_distance is not None:
        kd = k_distance if k_distance is not None else gamma_k_distance(lattice_constant)
        sc = mc.momentum_scale(kd)
        section["momentum"]["calibration"] = {
            "x_center": sc.x_center, "y_center": sc.y_center,
            "kx_scale": sc.kx_scale, "ky_scale": sc.ky_scale,
        }
    _write(out, section, sed_config)
    typer.echo(f"{len(mc.landmarks_)} landmarks, symmetry residual {-mc.score():.2e} px; "
               f"wrote {out}")
    for p, q in zip(mc.landmarks_, mc.target_, strict=True):
        typer.echo(f"  ({p[0]:8.2f}, {p[1]:8.2f}) -> ({q[0]:8.2f}, {q[1]:8.2f})")
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.colors import PowerNorm

        fig, ax = plt.subplots(1, 2, figsize=(10, 5))
        corrected = mc.transform(img)
        norm = PowerNorm(0.4, vmin=0, vmax=float(np.max(img)))
        ext = [mc.origin_[0], mc.origin_[0] + mc.step_[0] * img.shape[0],
               mc.origin_[1], mc.origin_[1] + mc.step_[1] * img.shape[1]]
        ax[0].imshow(np.asarray(img).T, origin="lower", extent=ext, cmap="magma", norm=norm)
        ax[0].plot(*mc.landmarks_.T, "c+", ms=12)
        ax[0].set_title("landmarks")
        ax[1].imshow(corrected.T, origin="lower", extent=ext, cmap="magma", norm=norm)
        ax[1].plot(*mc.target_.T, "c+", ms=12)
        ax[1].set_title(f"symmetrised ({symmetry}-fold)")
        for a in ax:
            a.set_xlabel("x (detector)")
            a.set_ylabel("y (detector)")
        fig.tight_layout()
        fig.savefig(plot, dpi=100)
        plt.close(fig)
        typer.echo(f"picture: {plot}")


def _traces(path: Path, tof_path: Path | None, key: str | None):
    import numpy as np

    if path.suffix.lower() == ".mat":
        import scipy.io as sio

        try:
            mat = sio.loadmat(path)
        except Exception as err:  # noqa: BLE001
            raise ValueError(f"{path}: not a readable MATLAB file ({err})") from None
        tkey = next((k for k in mat if k.lower() in ("tof", "t")), None)
        ekey = key or next((k for k in mat if k.lower() in ("edcs", "traces")), None)
        if tkey is None or ekey is None or ekey not in mat:
            raise ValueError(f"{path}: needs variables 'EDCs' (traces) and 'ToF'")
        return np.asarray(mat[ekey], float), np.asarray(mat[tkey], float).ravel()
    traces = _load_array(path)
    if tof_path is None:
        raise ValueError("--tof (the TOF axis, one value per trace sample) is required")
    tof = _load_array(tof_path).ravel()
    if traces.ndim == 2 and traces.shape[0] == tof.size and traces.shape[1] != tof.size:
        traces = traces.T  # sed's traces.csv: one column per bias
    return traces, tof


@calibrate_app.command("energy")
@friendly
def energy_cmd(
    sources: Annotated[
        list[Path],
        typer.Argument(help="Bias-series EDCs (.csv, .mat with EDCs/ToF), or one METIS .h5 "
                       "event file per bias"),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Config file to write or update")],
    ranges: Annotated[str, typer.Option(help="TOF window 'lo,hi' of the feature in ref trace")],
    biases: Annotated[
        str | None, typer.Option(help="Bias per trace: '12,13,...' or a .csv file")
    ] = None,
    bias_key: Annotated[
        str, typer.Option(help="Bias attribute of .h5 event files")
    ] = "KTOF:Lens:Sample:V",
    tof_bins: Annotated[int, typer.Option(help="TOF bins for .h5 event files")] = 1000,
    tof_range: Annotated[
        str | None, typer.Option(help="TOF range 'lo,hi' for .h5 event files")
    ] = None,
    smooth: Annotated[float, typer.Option(help="Gaussian smoothing of traces, bins")] = 0.0,
    tof: Annotated[Path | None, typer.Option(help="TOF axis (.csv) for .csv traces")] = None,
    ref_id: Annotated[int, typer.Option(help="Reference trace index")] = 0,
    ref_energy: Annotated[float, typer.Option(help="Energy of the reference feature, eV")] = 0.0,
    kind: Annotated[str, typer.Option(help="tof_quadratic or polynomial")] = "tof_quadratic",
    order: Annotated[int, typer.Option(help="Polynomial order")] = 3,
    binwidth: Annotated[float, typer.Option(help="TOF step, s")] = 4.125e-12,
    binning: Annotated[int, typer.Option(help="TOF binning factor")] = 1,
    energy_scale: Annotated[str, typer.Option(help="kinetic or binding")] = "kinetic",
    plot: Annotated[Path | None, typer.Option(help="Save a picture of the fit")] = None,
    sed_config: Annotated[bool, typer.Option("--sed-config", help="Write sed's layout")] = False,
) -> None:
    """Fit TOF -> eV to the feature positions of a bias series."""
    import numpy as np

    from bigmax.techniques.mpes.calibrate.energy import EnergyCalibrator, bias_series_from_files

    if all(p.suffix.lower() in (".h5", ".hdf5") for p in sources):
        rng_t = _floats(tof_range, "--tof-range", 2)
        tr, t, b = bias_series_from_files(sources, bias_key=bias_key, bins=tof_bins,
                                          tof_range=None if rng_t is None else tuple(rng_t))
        if biases is not None:
            b = np.asarray(_floats(biases, "--biases"))
    else:
        if len(sources) != 1:
            raise ValueError("give one traces file (.csv or .mat), or several .h5 event files")
        tr, t = _traces(sources[0], tof, None)
        if biases is None:
            raise ValueError("--biases is required with a traces file")
        bpath = Path(biases)
        if bpath.suffix.lower() in (".csv", ".txt", ".npy", ".mat"):
            b = _load_array(bpath).ravel()  # a missing file is named in the error
        else:
            b = np.asarray(_floats(biases, "--biases"))
    rng = _floats(ranges, "--ranges", 2)
    ec = EnergyCalibrator(kind=kind, ref_id=ref_id, ranges=tuple(rng), ref_energy=ref_energy,
                          order=order, binwidth=binwidth, binning=binning,
                          energy_scale=energy_scale, smooth=smooth).fit(tr, t, b)
    cal: dict = {"kind": kind, "e0": ec.e0_, "energy_scale": energy_scale}
    if kind == "tof_quadratic":
        cal.update(d=ec.d_, t0=ec.t0_)
    else:
        cal["coeffs"] = [float(c) for c in ec.coeffs_]
    section = {"energy": {"tof_binwidth": binwidth, "tof_binning": binning, "calibration": cal}}
    _write(out, section, sed_config)
    step = float(np.mean(np.diff(t)))
    worst = float(np.max(np.abs(ec.residuals_tof_)))
    if kind == "tof_quadratic":
        typer.echo(f"d = {ec.d_:.6g} m, t0 = {ec.t0_:.6g} s, E0 = {ec.e0_:.6g} eV")
    else:
        typer.echo(f"coeffs = {[float(c) for c in ec.coeffs_]}, E0 = {ec.e0_:.6g} eV")
    typer.echo(f"largest residual {worst:.3g} TOF ({worst / step:.2f} bins); wrote {out}")
    if plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 3, figsize=(15, 4.5))
        norm = tr / tr.max(axis=1, keepdims=True)
        for row in norm:
            ax[0].plot(t, row, lw=0.8)
        ax[0].plot(ec.peaks_, np.full(ec.peaks_.size, 1.03), "kv", ms=5)
        ax[0].set_xlabel("TOF (steps)")
        ax[0].set_ylabel("normalised counts")
        ax[0].set_title("bias series; features marked")
        tt = np.linspace(t.min(), t.max(), 400)
        ax[1].plot(tt, ec.predict(tt), "k-", label=f"fit ({kind})")
        ax[1].plot(ec.peaks_, ec.target_energies_, "o", label="features (bias-shifted)")
        ax[1].set_xlabel("TOF (steps)")
        ax[1].set_ylabel("energy (eV)")
        ax[1].legend()
        ax[2].axhline(0, color="0.6", lw=0.8)
        ax[2].plot(b, ec.residuals_tof_ / step, "o-")
        ax[2].set_xlabel("bias (V)")
        ax[2].set_ylabel("feature TOF - fit (TOF bins)")
        ax[2].set_title(f"residuals (largest {worst / step:.2f} bins)")
        fig.tight_layout()
        fig.savefig(plot, dpi=100)
        plt.close(fig)
        typer.echo(f"picture: {plot}")


@calibrate_app.command("delay")
@friendly
def delay_cmd(
    source: Annotated[Path, typer.Argument(help="METIS .h5 file with delay-stage attributes")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Config file to write or update")],
    adc_range: Annotated[
        str | None, typer.Option(help="ADC scan range 'lo,hi' (default: the file's ADC range)")
    ] = None,
    flip: Annotated[bool, typer.Option(help="Reverse the time axis")] = False,
    sed_config: Annotated[bool, typer.Option("--sed-config", help="Write sed's layout")] = False,
) -> None:
    """ADC readings to ps from the file's stage limits (p1, p2) and time zero (t0), in mm."""
    from bigmax.techniques.mpes.calibrate.delay import delay_from_file

    rng = _floats(adc_range, "--adc-range", 2)
    step, info = delay_from_file(source, adc_range=None if rng is None else tuple(rng), flip=flip)
    r0, r1 = info["delay_range_ps"]  # the config keeps the stage's range; flip applies later
    section = {"delay": {"adc_range": info["adc_range"], "delay_range": [r0, r1], "flip": flip}}
    d0, d1 = (-r0, -r1) if flip else (r0, r1)
    _write(out, section, sed_config)
    typer.echo(f"stage {info['p1_mm']} -> {info['p2_mm']} mm, time zero {info['t0_mm']} mm: "
               f"ADC {info['adc_range'][0]:g}..{info['adc_range'][1]:g} -> {d0:.3f}..{d1:.3f} ps "
               f"({step.scale:.5g} ps per ADC count); wrote {out}")
