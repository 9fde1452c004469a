"""``bigmax apt clusters|knn|rdf`` end to end on a synthetic .pos + .rrng pair."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.techniques.apt.synthetic import synthetic_specimen, write_synthetic

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("apt_clusters_cli")
    spec = synthetic_specimen(300_000, seed=11, number_density=8e23, interface=False)
    write_synthetic(folder / "spec.pos", spec)
    return folder, spec


def test_clusters_writes_table_labels_and_plot(files):
    folder, spec = files
    out, lab, png = folder / "cl.parquet", folder / "lab.npy", folder / "knn.png"
    res = runner.invoke(
        app,
        ["apt", "clusters", str(folder / "spec.pos"), "--ranges", str(folder / "spec.rrng"),
         "--solutes", "Cu", "--out", str(out), "--labels-out", str(lab), "--plot", str(png)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(out)
    assert len(table) == len(spec.radii)
    assert f"{len(spec.radii)} clusters" in res.output and "number density" in res.output
    labels = np.load(lab)
    assert labels.shape == (spec.n_ions,) and labels.max() == len(spec.radii) - 1
    assert png.stat().st_size > 10_000
    assert {"r_guinier", "incl_Cu", "excl_Cu", "n_solute"} <= set(table.columns)
    assert "excl_Fe" not in table.columns  # Fe is the matrix


def test_knn_and_rdf(files):
    folder, _ = files
    res = runner.invoke(
        app,
        ["apt", "knn", str(folder / "spec.pos"), "-r", str(folder / "spec.rrng"), "-s", "Cu",
         "--k", "3", "--out", str(folder / "knn.csv")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "suggested d_max (k=3)" in res.output
    assert list(pd.read_csv(folder / "knn.csv").columns[:3]) == ["r_lo", "r_hi", "k1_measured"]
    res = runner.invoke(
        app,
        ["apt", "rdf", str(folder / "spec.pos"), "-r", str(folder / "spec.rrng"),
         "--centres", "Cu", "--r-max", "2", "--out", str(folder / "rdf.csv"),
         "--plot", str(folder / "rdf.png")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    rdf = pd.read_csv(folder / "rdf.csv")
    assert rdf["ratio"].iloc[3] > 5 and (folder / "rdf.png").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--solutes", "Xx"], "Xx not in the ions"),
        (["--solutes", "Cu", "--d-max", "-1"], "'d_max'"),
        (["--solutes", "Cu", "--method", "kmeans"], "'method'"),
        (["--solutes", "Cu", "--out", "x.txt"], ".csv or .parquet"),
        (["--solutes", "Cu", "--matrix", "Zz"], "--matrix"),
    ],
)
def test_bad_options_give_one_line(files, extra, message):
    folder, _ = files
    res = runner.invoke(
        app, ["apt", "clusters", str(folder / "spec.pos"), "-r", str(folder / "spec.rrng"), *extra]
    )
    assert res.exit_code == 1
    assert message in res.output and "Traceback" not in res.output


def test_missing_file_is_named(files, tmp_path):
    folder, _ = files
    res = runner.invoke(
        app, ["apt", "clusters", str(tmp_path / "none.pos"), "-r", str(folder / "spec.rrng"),
              "-s", "Cu"],
    )  # fmt: skip
    assert res.exit_code == 1 and "none.pos" in res.output
