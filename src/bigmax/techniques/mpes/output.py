"""Binned cubes to files: NeXus NXmpes (HDF5, with calibrations and provenance) and Zarr.

The NXmpes layout follows the application definition's skeleton: ``/entry`` (``definition =
"NXmpes"``) with ``instrument``, ``sample``, ``process`` and the cube as ``NXdata`` (signal,
axes, ``AXIS_indices``, a ``units`` attribute on every axis). Under ``/entry/process`` each
calibration step of the pipeline becomes its own group (``energy_calibration``,
``momentum_calibration``, ``delay_calibration`` as ``NXcalibration``, ``distortion`` as
``NXdistortion``, jitter and filters as ``NXnote``) holding its parameters with units and the
provenance the caller gives (which file, which fit). The exact pipeline JSON, the binning
provenance and the source files (size, modification time, optional SHA-256) are kept as well, so
:func:`read_nxmpes` returns the same DataArray, attributes included.

This is our own writer with h5py (no pynxtools): it writes the groups and fields a reader of
NXmpes looks for, not every optional field of the definition.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "OutputError",
    "nxmpes_calibrations",
    "read_cube",
    "read_nxmpes",
    "read_zarr",
    "write_nxmpes",
    "write_zarr",
]

_UNITS = {"kx": "1/angstrom", "ky": "1/angstrom", "energy": "eV", "delay": "ps",
          "X": "pixel", "Y": "pixel", "Xm": "pixel", "Ym": "pixel", "t": "TOF step",
          "ADC": "ADC count"}


class OutputError(ValueError):
    """A cube that cannot be written, or a file that is not what the reader expects."""


def _check_cube(cube) -> None:
    import xarray as xr

    if not isinstance(cube, xr.DataArray):
        raise OutputError(f"cube: must be an xarray.DataArray, got {type(cube).__name__}")
    if cube.ndim == 0:
        raise OutputError("cube: must have at least one dimension")
    for d in cube.dims:
        if d not in cube.coords:
            raise OutputError(f"cube: dimension {d!r} has no coordinate (bin centres)")
        if not isinstance(d, str) or "/" in d or not d:
            raise OutputError(f"cube: dimension name {d!r} cannot be an HDF5 name")


def _file_record(path: str | os.PathLike, checksum: bool) -> dict[str, Any]:
    p = Path(path)
    rec: dict[str, Any] = {"path": str(p)}
    try:
        st = p.stat()
    except OSError:
        rec["missing"] = True
        return rec
    rec["size"] = st.st_size
    rec["modified"] = _dt.datetime.fromtimestamp(st.st_mtime, _dt.UTC).isoformat()
    if checksum:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        rec["sha256"] = h.hexdigest()
    return rec


def _put(group, name: str, value, units: str | None = None):
    if isinstance(value, str):
        ds = group.create_dataset(name, data=value)
    else:
        ds = group.create_dataset(name, data=np.asarray(value))
    if units:
        ds.attrs["units"] = units
    return ds


def _step_group(process, step: dict, index: int, provenance: Mapping[str, Any]):
    """One pipeline step as a NeXus group with its parameters and units."""
    op = step.get("op")
    names = {"energy": ("energy_calibration", "NXcalibration"),
             "momentum": ("momentum_calibration", "NXcalibration"),
             "delay": ("delay_calibration", "NXcalibration"),
             "distortion": ("distortion", "NXdistortion"),
             "jitter": ("jitter", "NXnote"),
             "filter": (f"filter_{index}", "NXnote")}
    name, nxclass = names.get(op, (f"step_{index}", "NXnote"))
    if name in process:
        name = f"{name}_{index}"
    g = process.create_group(name)
    g.attrs["NX_class"] = nxclass
    _put(g, "applied", True)
    _put(g, "sequence_index", index)
    _put(g, "step", json.dumps(step))
    if op == "energy":
        _put(g, "physical_quantity", "energy")
        _put(g, "calibration_method", step.get("kind", ""))
        _put(g, "tof_distance", step.get("d", np.nan), "m")
        _put(g, "time_offset", step.get("t0", np.nan), "s")
        _put(g, "energy_offset", step.get("e0", np.nan), "eV")
        _put(g, "tof_binwidth", step.get("binwidth", np.nan), "s")
        _put(g, "tof_binning", step.get("binning", 1))
        if step.get("coeffs"):
            _put(g, "coefficients", step["coeffs"])
        _put(g, "calibrated_axis", step.get("out", "energy"))
    elif op == "momentum":
        _put(g, "physical_quantity", "momentum")
        _put(g, "x_center", step["x_center"], "pixel")
        _put(g, "y_center", step["y_center"], "pixel")
        _put(g, "kx_scale", step["kx_scale"], "1/angstrom")
        _put(g, "ky_scale", step["ky_scale"], "1/angstrom")
        _put(g, "rotation", step.get("rotation", 0.0), "degree")
    elif op == "delay":
        _put(g, "physical_quantity", "delay")
        _put(g, "offset", step["offset"], step.get("unit", ""))
        _put(g, "scale", step["scale"], f"ps/{step.get('unit', '')}")
    elif op == "distortion":
        _put(g, "cdeform_field", np.asarray(step["dx"], float), "pixel")
        _put(g, "rdeform_field", np.asarray(step["dy"], float), "pixel")
        _put(g, "grid_origin", [step.get("x0", 0.0), step.get("y0", 0.0)], "pixel")
        _put(g, "grid_step", step.get("step", 1.0), "pixel")
    prov = provenance.get(op) or provenance.get(name)
    if prov:
        note = g.create_group("provenance")
        note.attrs["NX_class"] = "NXnote"
        for key, val in prov.items():
            _put(note, str(key), val if isinstance(val, (str, int, float, bool)) else
                 json.dumps(val))
    return g


def write_nxmpes(
    cube,
    path: str | os.PathLike,
    *,
    pipeline=None,
    config: Mapping[str, Any] | None = None,
    source_files: Sequence[str | os.PathLike] = (),
    calibration_provenance: Mapping[str, Mapping[str, Any]] | None = None,
    instrument: Mapping[str, Any] | None = None,
    sample: Mapping[str, Any] | None = None,
    title: str = "",
    checksums: bool = False,
    compression: str | None = "gzip",
) -> Path:
    """Write a binned cube as a NeXus NXmpes file.

    Parameters
    ----------
    cube : xarray.DataArray
        Counts with bin-centre coordinates (``bin_events``' output).
    pipeline : Pipeline, optional
        The transforms applied before binning (default: the one in ``cube.attrs["pipeline"]``).
    config : mapping, optional
        The configuration used (stored as JSON next to the pipeline).
    source_files : paths
        Event files the cube came from (size, time, optional SHA-256 are recorded).
    calibration_provenance : mapping, optional
        Per step (``"energy"``, ``"momentum"``, ``"delay"``, ``"distortion"``): where the
        calibration came from, e.g. ``{"energy": {"file": "bias.h5", "fit": "tof_quadratic",
        "residual_eV": 0.004}}``.
    instrument, sample : mapping, optional
        Extra fields (name -> value) for ``/entry/instrument`` and ``/entry/sample``.
    """
    import h5py

    from bigmax import __version__

    _check_cube(cube)
    path = Path(path)
    if pipeline is not None:
        pipeline_json = pipeline.model_dump_json()
    else:
        pipeline_json = cube.attrs.get("pipeline")
    try:
        steps = json.loads(pipeline_json).get("steps", []) if pipeline_json else []
    except (json.JSONDecodeError, AttributeError):
        raise OutputError("cube.attrs['pipeline'] is not a pipeline's JSON") from None
    now = _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")
    with h5py.File(path, "w") as f:
        f.attrs["default"] = "entry"
        f.attrs["creator"] = "bigmax"
        f.attrs["creator_version"] = __version__
        f.attrs["file_time"] = now
        entry = f.create_group("entry")
        entry.attrs["NX_class"] = "NXentry"
        entry.attrs["default"] = "data"
        _put(entry, "definition", "NXmpes").attrs["version"] = "bigmax-1"
        _put(entry, "title", title or f"{cube.name or 'counts'} over {', '.join(cube.dims)}")
        _put(entry, "start_time", now)
        _put(entry, "method", "momentum microscopy (time-of-flight)")

        inst = entry.create_group("instrument")
        inst.attrs["NX_class"] = "NXinstrument"
        ea = inst.create_group("electronanalyser")
        ea.attrs["NX_class"] = "NXelectronanalyser"
        _put(ea, "description", "momentum microscope with delay-line detector")
        ed = ea.create_group("energydispersion")
        ed.attrs["NX_class"] = "NXenergydispersion"
        _put(ed, "scheme", "tof")
        det = ea.create_group("detector")
        det.attrs["NX_class"] = "NXdetector"
        _put(det, "detector_type", "DLD")
        for key, val in (instrument or {}).items():
            _put(inst, str(key), val if not isinstance(val, Mapping) else json.dumps(val))

        smp = entry.create_group("sample")
        smp.attrs["NX_class"] = "NXsample"
        for key, val in (sample or {"name": "unknown"}).items():
            _put(smp, str(key), val if not isinstance(val, Mapping) else json.dumps(val))

        proc = entry.create_group("process")
        proc.attrs["NX_class"] = "NXprocess"
        _put(proc, "program", "bigmax").attrs["version"] = __version__
        _put(proc, "date", now)
        if pipeline_json:
            _put(proc, "pipeline", str(pipeline_json))
        _put(proc, "config", json.dumps(dict(config or {}), default=str))
        for i, step in enumerate(steps):
            _step_group(proc, step, i, calibration_provenance or {})
        binning = proc.create_group("binning")
        binning.attrs["NX_class"] = "NXnote"
        for key in ("axes", "range_semantics", "provenance", "weights", "long_name"):
            if key in cube.attrs:
                _put(binning, key, str(cube.attrs[key]))
        files = list(source_files)
        if not files and "provenance" in cube.attrs:
            try:
                files = json.loads(cube.attrs["provenance"]).get("files", [])
            except (json.JSONDecodeError, AttributeError):
                files = []
        _put(proc, "source_files", json.dumps([_file_record(p, checksums) for p in files]))
        other = {k: v for k, v in cube.attrs.items()
                 if k not in ("pipeline", "axes", "range_semantics", "provenance", "weights",
                              "long_name")}
        _put(proc, "attrs", json.dumps(other, default=str))

        data = entry.create_group("data")
        data.attrs["NX_class"] = "NXdata"
        data.attrs["signal"] = "data"
        data.attrs["axes"] = list(cube.dims)
        values = np.asarray(cube.values)
        kw = {}
        if compression and values.size > 1024:
            kw = {"compression": compression, "chunks": True}
        sig = data.create_dataset("data", data=values, **kw)
        sig.attrs["units"] = "counts"
        sig.attrs["long_name"] = str(cube.attrs.get("long_name", "counts"))
        if cube.name is not None:
            sig.attrs["name"] = str(cube.name)
        for i, d in enumerate(cube.dims):
            data.attrs[f"{d}_indices"] = i
            ax = data.create_dataset(d, data=np.asarray(cube[d].values))
            ax.attrs["units"] = str(cube[d].attrs.get("units", _UNITS.get(d, "")))
            for key, val in cube[d].attrs.items():
                if key != "units":
                    ax.attrs[key] = str(val)
    return path


def _text(ds) -> str:
    v = ds[()]
    return v.decode() if isinstance(v, bytes) else str(v)


def read_nxmpes(path: str | os.PathLike):
    """The cube of an NXmpes file written by :func:`write_nxmpes` (or any NXmpes whose
    ``/entry/data`` is NXdata with ``signal`` and ``axes``), with its attributes."""
    import h5py
    import xarray as xr

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise OutputError(f"{path}: not an HDF5 file ({err})") from None
    with f:
        entry = f.get("entry")
        if entry is None or "definition" not in entry:
            raise OutputError(f"{path}: no /entry/definition (not a NeXus file)")
        definition = _text(entry["definition"])
        if not definition.startswith("NXmpes"):
            raise OutputError(f"{path}: /entry/definition is {definition!r}, not NXmpes")
        data = entry.get("data")
        if data is None or "signal" not in data.attrs:
            raise OutputError(f"{path}: /entry/data is not NXdata with a 'signal' attribute")
        signal = data.attrs["signal"]
        signal = signal.decode() if isinstance(signal, bytes) else str(signal)
        axes = [a.decode() if isinstance(a, bytes) else str(a) for a in
                np.atleast_1d(data.attrs.get("axes", []))]
        if signal not in data:
            raise OutputError(f"{path}: /entry/data has no signal field {signal!r}")
        values = data[signal][()]
        if len(axes) != values.ndim:
            raise OutputError(f"{path}: /entry/data axes {axes} do not match the signal's "
                              f"{values.ndim} dimensions")
        coords = {}
        for a in axes:
            if a not in data:
                raise OutputError(f"{path}: /entry/data has no axis field {a!r}")
            attrs = {k: (v.decode() if isinstance(v, bytes) else v)
                     for k, v in data[a].attrs.items()}
            coords[a] = xr.Variable((a,), data[a][()], attrs=attrs)
        attrs: dict[str, Any] = {}
        proc = entry.get("process")
        if proc is not None:
            if "attrs" in proc:
                attrs.update(json.loads(_text(proc["attrs"])))
            b = proc.get("binning")
            for key in ("long_name", "range_semantics", "axes", "pipeline", "weights",
                        "provenance"):
                if key == "pipeline" and "pipeline" in proc:
                    attrs[key] = _text(proc["pipeline"])
                elif b is not None and key in b:
                    attrs[key] = _text(b[key])
        name = data[signal].attrs.get("name")
    name = name.decode() if isinstance(name, bytes) else name
    return xr.DataArray(values, dims=axes, coords=coords, name=name, attrs=attrs)


def nxmpes_calibrations(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The calibration groups of ``/entry/process`` as dicts (parameters and provenance)."""
    import h5py

    out: dict[str, dict[str, Any]] = {}
    with h5py.File(path, "r") as f:
        proc = f.get("entry/process")
        if proc is None:
            raise OutputError(f"{path}: no /entry/process group")
        for name, g in proc.items():
            if not isinstance(g, h5py.Group) or name == "binning":
                continue
            rec: dict[str, Any] = {"NX_class": g.attrs.get("NX_class", "")}
            for key, ds in g.items():
                if isinstance(ds, h5py.Dataset):
                    v = ds[()]
                    rec[key] = v.decode() if isinstance(v, bytes) else v
                else:
                    rec[key] = {k: (d[()].decode() if isinstance(d[()], bytes) else d[()])
                                for k, d in ds.items()}
            out[name] = rec
    return out


def write_zarr(cube, path: str | os.PathLike) -> Path:
    """Write the cube (values, coordinates with units, attributes) as a Zarr store."""
    _check_cube(cube)
    path = Path(path)
    name = cube.name or "counts"
    cube.rename(name).to_dataset().to_zarr(path, mode="w", consolidated=False)
    return path


def read_zarr(path: str | os.PathLike):
    """The cube of a Zarr store written by :func:`write_zarr`, loaded into memory."""
    import xarray as xr

    path = Path(path)
    if not path.exists():
        raise OutputError(f"{path}: no such Zarr store")
    try:
        ds = xr.open_zarr(path, consolidated=False)
    except Exception as err:  # zarr raises several types for a store it cannot read
        raise OutputError(f"{path}: not a readable Zarr store ({err})") from None
    if len(ds.data_vars) != 1:
        raise OutputError(f"{path}: expected one array in the store, found "
                          f"{list(ds.data_vars)}")
    return ds[next(iter(ds.data_vars))].load()


def read_cube(path: str | os.PathLike):
    """A cube from any file ``bigmax mpes bin`` writes: .nxs/.h5 (NXmpes), .zarr or .nc."""
    import xarray as xr

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".nxs", ".h5", ".hdf5", ".nx5"):
        return read_nxmpes(path)
    if suffix == ".zarr":
        return read_zarr(path)
    if suffix in (".nc", ".cdf", ".netcdf"):
        if not path.exists():
            raise OutputError(f"{path}: no such file")
        try:
            ds = xr.open_dataset(path, engine="scipy").load()
        except Exception as err:  # scipy raises several types for a file it cannot read
            raise OutputError(f"{path}: not a readable netCDF file ({err})") from None
        if len(ds.data_vars) != 1:
            raise OutputError(f"{path}: expected one array, found {list(ds.data_vars)}")
        da = ds[next(iter(ds.data_vars))]
        dtype = da.attrs.pop("bigmax_dtype", None)
        return da.astype(dtype) if dtype else da
    raise OutputError(f"{path}: unknown cube format {path.suffix!r}; use .nxs, .zarr or .nc")
