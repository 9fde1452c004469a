"""``bigmax sisso``: the models table, --save, --classify, and one-line errors."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bigmax.analytics.sisso import load_model
from bigmax.cli import app

DATA = Path(__file__).parents[1] / "data" / "sisso"
runner = CliRunner()


def _run(*args):
    return runner.invoke(app, ["sisso", *map(str, args)], catch_exceptions=False)


def test_sisso_cli_regression_table_and_save(tmp_path):
    out = tmp_path / "model.json"
    res = _run(DATA / "octet_binaries_82.csv", "--target", "E_RS - E_ZB", "--dims", "2",
               "--rung", "1", "--n-sis-select", "10", "--n-residual", "5", "--save", out,
               "--n-jobs", "1")
    assert res.exit_code == 0, res.output
    assert "RMSE (eV)" in res.output and "MaxAE (eV)" in res.output
    assert "r_p_A" in res.output
    assert f"saved the best model to {out}" in res.output.replace("\n", "")
    doc = json.loads(out.read_text())
    assert doc["settings"]["max_rung"] == 1 and doc["settings"]["n_residual"] == 5
    model = load_model(out)
    df = pd.read_csv(DATA / "octet_binaries_82.csv", index_col=0)
    rmse = np.sqrt(np.mean((model.predict(df) - df["E_RS - E_ZB (eV)"]) ** 2))
    assert rmse == pytest.approx(model.rmse, rel=1e-12)
    assert f"{model.rmse:.7f}" in res.output


def test_sisso_cli_classify():
    res = _run(DATA / "octet_binaries_82_class.csv", "--target", "Class", "--classify",
               "--dims", "2", "--rung", "0", "--n-sis-select", "20", "--unit-mode", "fortran")
    assert res.exit_code == 0, res.output
    assert "r_p_A, period_B" in res.output and "in overlap" in res.output


def test_sisso_cli_operators_and_tasks(tmp_path):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.uniform(1, 2, size=(40, 3)), columns=["a (m)", "b (m)", "c"])
    df["task"] = np.repeat(["p", "q"], 20)
    df["y (eV)"] = np.where(df["task"] == "p", 1.0, -2.0) * (df["a (m)"] + df["b (m)"])
    path = tmp_path / "mt.csv"
    df.to_csv(path, index=False)
    res = _run(path, "--target", "y", "--tasks", "task", "--dims", "1", "--rung", "1",
               "--operators", "add,mult")
    assert res.exit_code == 0, res.output
    assert "b + a" in res.output and "[p]" in res.output and "[q]" in res.output


def _bad(tmp_path, text):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    res = _run(path, "--target", "y", "--dims", "1", "--rung", "0")
    assert res.exit_code == 1
    assert "Traceback" not in res.output
    return " ".join(res.output.split())


def test_sisso_cli_bad_input_is_one_clear_error(tmp_path):
    rows = "\n".join(f"m{i},{i * 0.3 + 1},{(i * 7) % 5 + 1},{i % 3 + 2}" for i in range(8))
    head = "name,y (eV),a (m),b\n"
    msg = _bad(tmp_path, head + rows.replace("m3,1.9,2,2", "m3,1.9,,2") + "\n")
    assert "column 'a' has a missing or non-finite value (row m3)" in msg
    msg = _bad(tmp_path, head + "\n".join(r.rsplit(",", 1)[0] + ",5" for r in rows.split("\n")))
    assert "column 'b' is constant" in msg
    msg = _bad(tmp_path, head + "m1,1,2,3\nm2,2,3,4\n")
    assert "too few samples" in msg
    msg = _bad(tmp_path, "name,y (eV),a (m/),b\n" + rows + "\n")
    assert "'a" in msg and "unit" in msg
    msg = _bad(tmp_path, "name,z,a,b\n" + rows + "\n")
    assert "no target column 'y'" in msg
    res = _run(tmp_path / "nothing.csv", "--target", "y")
    assert res.exit_code == 1 and "no such file" in " ".join(res.output.split())


def test_sisso_cli_bad_options(tmp_path):
    res = _run(DATA / "octet_binaries_82.csv", "--target", "E_RS - E_ZB", "--unit-mode", "si")
    assert res.exit_code == 1 and "--unit-mode" in res.output
    res = _run(DATA / "octet_binaries_82.csv", "--target", "E_RS - E_ZB", "--rung", "0",
               "--operators", "add,frobnicate")
    assert res.exit_code == 1 and "frobnicate" in res.output
