"""Plots and the ``bigmax mpes plot|bands`` commands on a small synthetic cube."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.cli_mpes_plot import PlotArgumentError, _region, _slice
from bigmax.techniques.mpes.binning import Axis, bin_events
from bigmax.techniques.mpes.output import write_nxmpes, write_zarr
from bigmax.techniques.mpes.plots import PlotError, overview, plot_cut, plot_slice, plot_trace
from bigmax.techniques.mpes.synthetic import synthetic_events

runner = CliRunner()


@pytest.fixture(scope="module")
def cube_and_truth():
    cols, truth = synthetic_events(600_000, seed=7, material="WSe2")
    axes = [Axis("kx", 48, (-1.6, 1.6)), Axis("ky", 48, (-1.6, 1.6)),
            Axis("energy", 60, (-3.5, 1.5)), Axis("delay", 6, (-0.5, 2.0))]
    return bin_events(cols, axes, truth.pipeline()), truth


@pytest.fixture(scope="module")
def cube_file(cube_and_truth, tmp_path_factory):
    return write_nxmpes(cube_and_truth[0], tmp_path_factory.mktemp("c") / "cube.nxs")


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_plot_functions(cube_and_truth, tmp_path):
    cube, truth = cube_and_truth
    ax = plot_slice(cube, -0.85)
    img = ax.collections[0].get_array()
    assert img.size == 48 * 48 and float(np.max(img)) > 0
    ax = plot_cut(cube, "G-K-M-G", points=truth.high_symmetry_points, n_peaks=3,
                  energy_range=(-3.5, 0.0), truth=truth)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Γ", "K", "M", "Γ"]
    ax = plot_trace(cube, {"energy": (0.5, 1.5)})
    y = ax.lines[0].get_ydata()
    assert y.argmax() in (1, 2)  # the excited population peaks just after time zero
    fig = overview(cube, slices=[-0.85], cut="G-K", points=truth.high_symmetry_points,
                   traces=[{"energy": (0.5, 1.5)}], out=tmp_path / "o.png")
    assert len(fig.axes) == 3 and _is_png(tmp_path / "o.png")


def test_plot_errors_name_the_problem(cube_and_truth):
    cube, truth = cube_and_truth
    with pytest.raises(PlotError, match="outside the cube's energy range"):
        plot_slice(cube, 7.0)
    with pytest.raises(PlotError, match="no dimension 'delay'"):
        plot_trace(cube.sum("delay"))
    with pytest.raises(PlotError, match="unknown point"):
        plot_cut(cube, "G-X", points=truth.high_symmetry_points)
    with pytest.raises(PlotError, match="nothing to plot"):
        overview(cube)


def test_cli_plot_and_bands(cube_file, tmp_path):
    out = tmp_path / "fig.png"
    res = runner.invoke(app, ["mpes", "plot", str(cube_file), "--slice", "E=-0.85", "--cut",
                              "G-K-M-G", "--lattice", "3.28", "--peaks", "3", "--energy-range",
                              "-3.5:0", "--trace", "energy=0.5:1.5", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert _is_png(out)
    csv = tmp_path / "bands.csv"
    res = runner.invoke(app, ["mpes", "bands", str(cube_file), "--peaks", "3", "--cut", "G-K",
                              "--lattice", "3.28", "--energy-range", "-3.5:0", "--out", str(csv)])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(csv)
    assert {"k", "peak", "position", "position_err", "width"} <= set(table.columns)
    at_k = table[table["k"] == table["k"].max()].sort_values("peak")
    np.testing.assert_allclose(at_k["position"].values[:2], [-0.8, -1.27], atol=0.05)


def test_cli_bands_every_k_from_zarr(cube_and_truth, tmp_path):
    path = write_zarr(cube_and_truth[0], tmp_path / "c.zarr")
    csv = tmp_path / "b.csv"
    res = runner.invoke(app, ["mpes", "bands", str(path), "--peaks", "2", "--out", str(csv),
                              "--energy-range", "-3.5:0", "--min-counts", "200"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(csv)
    assert {"kx", "ky", "position"} <= set(table.columns) and len(table) > 500


def test_cli_errors_are_one_line(cube_file, tmp_path):
    res = runner.invoke(app, ["mpes", "plot", str(cube_file), "--slice", "Q=1"])
    assert res.exit_code == 1 and "'Q'" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["mpes", "plot", str(cube_file), "--slice", "E=x"])
    assert res.exit_code == 1 and "--slice" in res.output
    res = runner.invoke(app, ["mpes", "plot", str(tmp_path / "none.nxs"), "--slice", "E=0"])
    assert res.exit_code == 1 and "none.nxs" in res.output
    res = runner.invoke(app, ["mpes", "plot", str(cube_file), "--cut", "G-Q", "--lattice", "3"])
    assert res.exit_code == 1 and "unknown point" in res.output


@settings(max_examples=50, deadline=None)
@given(spec=st.text(max_size=20))
def test_bad_specs_raise_one_error(spec):
    for parse in (_slice, _region):
        try:
            parse(spec)
        except PlotArgumentError as err:
            assert repr(spec)[1:-1][:5] in str(err) or spec == ""


def test_plot_slices_an_uncalibrated_cube_along_tof(tmp_path):
    # the real METIS sample binned in detector X, Y and TOF steps: a slice at t is an X-Y image
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "data/mpes/sed/tests/data/loader/mpes"
    cube = tmp_path / "raw.nxs"
    res = runner.invoke(app, ["mpes", "bin", str(src / "Scan0030_2.h5"), "--axis",
                              "X:0:1500:50", "--axis", "Y:0:1500:50", "--axis",
                              "t:130000:170000:40", "-o", str(cube)])
    assert res.exit_code == 0, res.output
    out = tmp_path / "slice.png"
    res = runner.invoke(app, ["mpes", "plot", str(cube), "--slice", "t=135000", "--width",
                              "4000", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert _is_png(out)
