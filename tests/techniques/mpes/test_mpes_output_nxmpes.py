"""NXmpes and Zarr output: exact round trips, calibration groups with units, clear errors."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import xarray as xr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.techniques.mpes.binning import Axis, bin_events
from bigmax.techniques.mpes.output import (
    OutputError,
    nxmpes_calibrations,
    read_nxmpes,
    read_zarr,
    write_nxmpes,
    write_zarr,
)
from bigmax.techniques.mpes.synthetic import synthetic_events


@pytest.fixture(scope="module")
def cube():
    cols, truth = synthetic_events(100_000, seed=2, material="WSe2")
    axes = [Axis("kx", 16, (-1.6, 1.6)), Axis("ky", 16, (-1.6, 1.6)),
            Axis("energy", 40, (-3.5, 1.5)), Axis("delay", 4, (-0.5, 2.0))]
    return bin_events(cols, axes, truth.pipeline())


def test_nxmpes_round_trip_is_identical(cube, tmp_path):
    src = tmp_path / "events.h5"
    src.write_bytes(b"0123456789")
    path = write_nxmpes(cube, tmp_path / "cube.nxs", source_files=[src], checksums=True,
                        calibration_provenance={"energy": {"file": "bias.h5", "fit": "truth"}},
                        sample={"name": "WSe2 (synthetic)", "temperature": 70.0})
    back = read_nxmpes(path)
    xr.testing.assert_identical(back, cube)
    assert back.dtype == cube.dtype
    with h5py.File(path) as f:
        assert f["entry/definition"][()] == b"NXmpes"
        data = f["entry/data"]
        assert data.attrs["signal"] == "data"
        assert list(data.attrs["axes"]) == ["kx", "ky", "energy", "delay"]
        assert data.attrs["energy_indices"] == 2
        assert data["energy"].attrs["units"] == "eV"
        assert data["kx"].attrs["units"] == "1/angstrom"
        assert data["delay"].attrs["units"] == "ps"
        files = json.loads(f["entry/process/source_files"][()])
        assert files[0]["size"] == 10 and len(files[0]["sha256"]) == 64
        assert f["entry/sample/temperature"][()] == 70.0


def test_calibration_groups_hold_parameters_and_provenance(cube, tmp_path):
    path = write_nxmpes(cube, tmp_path / "cube.nxs",
                        calibration_provenance={"energy": {"file": "bias.h5", "fit": "tof"}})
    cal = nxmpes_calibrations(path)
    steps = json.loads(cube.attrs["pipeline"])["steps"]
    assert {"jitter", "distortion", "momentum_calibration", "energy_calibration",
            "delay_calibration"} <= set(cal)
    e = cal["energy_calibration"]
    assert e["NX_class"] == "NXcalibration"
    energy_step = next(s for s in steps if s["op"] == "energy")
    assert e["tof_distance"] == energy_step["d"] and e["energy_offset"] == energy_step["e0"]
    assert e["provenance"] == {"file": "bias.h5", "fit": "tof"}
    dist = next(s for s in steps if s["op"] == "distortion")
    np.testing.assert_array_equal(cal["distortion"]["cdeform_field"], np.array(dist["dx"]))
    assert cal["momentum_calibration"]["kx_scale"] > 0


def test_zarr_round_trip(cube, tmp_path):
    path = write_zarr(cube, tmp_path / "cube.zarr")
    xr.testing.assert_identical(read_zarr(path), cube)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    dtype=st.sampled_from([np.uint32, np.uint64, np.float64]),
    seed=st.integers(0, 1000),
)
def test_any_cube_round_trips(tmp_path, shape, dtype, seed):
    rng = np.random.default_rng(seed)
    dims = ["kx", "ky", "energy"][: len(shape)]
    units = {"kx": "1/angstrom", "ky": "1/angstrom", "energy": "eV"}
    coords = {d: (d, np.sort(rng.normal(size=n)), {"units": units[d]})
              for d, n in zip(dims, shape, strict=True)}
    da = xr.DataArray(rng.integers(0, 100, shape).astype(dtype), dims=dims, coords=coords,
                      name="counts", attrs={"note": "x"})
    xr.testing.assert_identical(read_nxmpes(write_nxmpes(da, tmp_path / "h.nxs")), da)
    xr.testing.assert_identical(read_zarr(write_zarr(da, tmp_path / "h.zarr")), da)


def test_bad_cubes_and_files(tmp_path):
    with pytest.raises(OutputError, match="DataArray"):
        write_nxmpes(np.zeros(3), tmp_path / "x.nxs")
    with pytest.raises(OutputError, match="no coordinate"):
        write_nxmpes(xr.DataArray(np.zeros(3), dims=["energy"]), tmp_path / "x.nxs")
    bad = tmp_path / "bad.nxs"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(OutputError, match="not an HDF5 file"):
        read_nxmpes(bad)
    with h5py.File(tmp_path / "other.nxs", "w") as f:
        f.create_dataset("entry/definition", data="NXapm")
    with pytest.raises(OutputError, match="not NXmpes"):
        read_nxmpes(tmp_path / "other.nxs")
    with pytest.raises(OutputError, match="no such Zarr store"):
        read_zarr(tmp_path / "missing.zarr")


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2000))
def test_garbage_files_give_one_clear_error(tmp_path, content):
    path = tmp_path / "garbage.nxs"
    path.write_bytes(content)
    with pytest.raises(OutputError, match="garbage.nxs"):
        read_nxmpes(path)


@pytest.mark.parametrize("suffix", [".nxs", ".zarr", ".nc"])
def test_read_cube_reads_what_bin_writes(cube, tmp_path, suffix):
    from bigmax.cli_mpes_bin import write_cube
    from bigmax.techniques.mpes.output import read_cube

    path = tmp_path / f"cube{suffix}"
    write_cube(cube, path)
    back = read_cube(path)
    assert back.dtype == cube.dtype and back.dims == cube.dims
    np.testing.assert_array_equal(back.values, cube.values)
    np.testing.assert_array_equal(back.energy.values, cube.energy.values)
    with pytest.raises(OutputError, match="unknown cube format"):
        read_cube(tmp_path / "cube.tiff")
