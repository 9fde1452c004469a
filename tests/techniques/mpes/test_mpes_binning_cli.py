"""``bigmax mpes bin`` end to end on the METIS sample file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from bigmax.cli import app

METIS = Path(__file__).parents[2] / "data/mpes/sed/tests/data/loader/mpes/Scan0030_2.h5"
runner = CliRunner()


def test_bin_to_netcdf_and_zarr(tmp_path):
    import xarray as xr

    from bigmax.techniques.mpes.events import open_events

    nc = tmp_path / "cube.nc"
    res = runner.invoke(app, ["mpes", "bin", str(METIS), "--axis", "X:0:1500:50",
                              "--axis", "Y:0:1500:40", "--axis", "t:130000:280000:30",
                              "--sed-compatible", "--out", str(nc), "--chunk-events", "100000"])
    assert res.exit_code == 0, res.output
    assert "297398 events" in res.output
    cube = xr.open_dataset(nc)["counts"]
    d = open_events(METIS).read(["X", "Y", "t"])
    ref = np.histogramdd(np.stack([d["X"], d["Y"], d["t"]], 1).astype(float), bins=[50, 40, 30],
                         range=[(0, 1500), (0, 1500), (130000, 280000)])[0]
    np.testing.assert_array_equal(cube.values, ref)
    assert cube.attrs["bigmax_dtype"] == "uint32"

    zarr = tmp_path / "cube.zarr"
    res = runner.invoke(app, ["mpes", "bin", str(METIS), "-a", "X:0:1500:50", "-a",
                              "t:130000:280000:30", "--jitter", "--seed", "3", "-o", str(zarr)])
    assert res.exit_code == 0, res.output
    z = xr.open_zarr(zarr, consolidated=False)["counts"]
    steps = json.loads(z.attrs["pipeline"])["steps"]
    assert steps[0]["op"] == "jitter" and set(steps[0]["columns"]) == {"X", "t"}
    assert int(z.sum()) <= 297398 and z.dtype == np.uint32


def test_bin_with_config(tmp_path):
    import xarray as xr

    cfg = tmp_path / "run.yaml"
    cfg.write_text(
        "momentum:\n  calibration:\n    x_center: 700\n    y_center: 720\n"
        "    kx_scale: 0.003\n    ky_scale: 0.003\n"
        "binning:\n  axes:\n    - {column: kx, bins: 20, range: [-2, 2]}\n"
        "    - {column: ky, bins: 20, range: [-2, 2]}\n"
    )
    out = tmp_path / "k.nc"
    res = runner.invoke(app, ["mpes", "bin", str(METIS), "--config", str(cfg), "-o", str(out)])
    assert res.exit_code == 0, res.output
    cube = xr.open_dataset(out)["counts"]
    assert cube.dims == ("kx", "ky") and cube["kx"].attrs["units"] == "1/angstrom"
    ops = [s["op"] for s in json.loads(cube.attrs["pipeline"])["steps"]]
    assert ops[0] == "jitter" and "momentum" in ops


def test_bin_to_nexus(tmp_path):
    from bigmax.techniques.mpes.output import read_cube

    out = tmp_path / "cube.nxs"
    res = runner.invoke(app, ["mpes", "bin", str(METIS), "-a", "X:0:1500:30", "-a",
                              "Y:0:1500:30", "--jitter", "-o", str(out)])
    assert res.exit_code == 0, res.output
    cube = read_cube(out)
    assert cube.shape == (30, 30) and 0.9 * 297398 < int(cube.sum()) <= 297398


def test_bin_errors_are_one_line(tmp_path):
    res = runner.invoke(app, ["mpes", "bin", str(METIS), "--axis", "X:10:0:5", "-o",
                              str(tmp_path / "a.nc")])
    assert res.exit_code == 1
    assert "axis 'X'" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["mpes", "bin", str(METIS), "--axis", "kx:0:1:5", "-o",
                              str(tmp_path / "a.nc")])
    assert res.exit_code == 1 and "axis 'kx'" in res.output
    res = runner.invoke(app, ["mpes", "bin", str(METIS), "--axis", "X:0:1:5", "-o",
                              str(tmp_path / "a.tiff")])
    assert res.exit_code == 1 and "unknown suffix" in res.output
