"""bigmax apt voxelize|proxigram|profile|excess|segment on a synthetic .pos + .rrng."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.techniques.apt.synthetic import synthetic_specimen, write_synthetic

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("apt_micro")
    s = synthetic_specimen(250_000, seed=1, aspect=(2, 2, 1.5), excess=3.0,
                           number_density=8e23, radius=(2.0, 3.0))
    pos, rrng = write_synthetic(folder / "s.pos", s)
    return s, pos, rrng, folder


def run(*args):
    result = runner.invoke(app, ["apt", *map(str, args)])
    return result


def cylinder(s):
    c = s.box / 2
    r = 0.38 * s.box[0]
    return f"{c[0]},{c[1]},1,0,0,{s.box[2] - 2},{r}", r


def test_voxelize_writes_counts_and_composition(files):
    s, pos, rrng, folder = files
    res = run("voxelize", pos, "-r", rrng, "--out", folder / "f.nc", "--voxel", "1")
    assert res.exit_code == 0, res.output
    ds = xr.open_dataset(folder / "f.nc")
    assert ds.counts.dims == ("species", "x", "y", "z")
    assert float(ds.counts.sum()) == pytest.approx(s.n_ions, rel=0.02)  # unranged left out
    assert float(ds.composition.sel(species="Cu").max()) > 0.2


def test_proxigram_table_plot_and_mesh(files):
    s, pos, rrng, folder = files
    res = run("proxigram", pos, "-r", rrng, "--species", "Cu", "--iso", "20",
              "--delocalization", "1.5", "--out", folder / "p.csv", "--plot", folder / "p.png",
              "--mesh", folder / "m.ply")
    assert res.exit_code == 0, res.output
    n_obj = int(re.search(r"(\d+) objects", res.output).group(1))
    assert n_obj >= len(s.radii)
    table = pd.read_csv(folder / "p.csv")
    inside = table[(table.distance > 0.5) & (table.distance < 1.5)]
    assert inside.Cu_count.sum() / inside.n_ions.sum() > 0.3
    assert (folder / "p.png").stat().st_size > 5000 and (folder / "m.ply").exists()


def test_excess_matches_planted_truth(files):
    s, pos, rrng, folder = files
    cyl, _ = cylinder(s)
    res = run("excess", pos, "-r", rrng, "-s", "P", "--cylinder", cyl, "--efficiency",
              s.detection_efficiency, "--plot", folder / "l.png")
    assert res.exit_code == 0, res.output
    value = float(re.search(r"excess ([-\d.]+)", res.output).group(1))
    assert value == pytest.approx(s.excess, rel=0.15)
    assert (folder / "l.png").exists()


def test_profile_and_segment(files):
    s, pos, rrng, folder = files
    cyl, _ = cylinder(s)
    res = run("profile", pos, "-r", rrng, "--cylinder", cyl, "--bin", "0.5",
              "--out", folder / "prof.parquet", "--plot", folder / "prof.png")
    assert res.exit_code == 0, res.output
    prof = pd.read_parquet(folder / "prof.parquet")
    peak = prof.distance.iloc[int(np.nanargmax(prof.P.values))]
    assert peak + 1 == pytest.approx(s.interface_point[2], abs=0.5)
    res = run("segment", pos, "-r", rrng, "--voxel", "2", "--max-phases", "3",
              "--out", folder / "ph.csv", "--labels", folder / "lab.nc")
    assert res.exit_code == 0, res.output
    phases = pd.read_csv(folder / "ph.csv")
    assert len(phases) == 2 and phases.Cu.max() > 5
    assert xr.open_dataarray(folder / "lab.nc").dims == ("x", "y", "z")


def test_errors_are_one_line(files):
    _, pos, rrng, folder = files
    res = run("proxigram", pos, "-r", rrng, "--species", "Au")
    assert res.exit_code == 1 and "Au" in res.output and "Traceback" not in res.output
    res = run("voxelize", pos, "-r", rrng, "--out", folder / "f.txt")
    assert res.exit_code == 1 and "--out" in res.output
    res = run("excess", folder / "missing.pos", "-r", rrng, "-s", "P", "--cylinder",
              "0,0,0,0,0,1,1")
    assert res.exit_code == 1 and "missing.pos" in res.output


@settings(max_examples=8, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=9)
       .filter(lambda v: len(v) != 7) | st.text(max_size=12).filter(lambda t: "," not in t))
def test_bad_cylinder_names_the_option(value):
    text = ",".join(map(str, value)) if isinstance(value, list) else value
    res = runner.invoke(app, ["apt", "profile", "x.pos", "-r", "x.rrng", "--cylinder", text])
    assert res.exit_code in (1, 2)
    assert "--cylinder" in res.output or "cylinder" in res.output.lower()
