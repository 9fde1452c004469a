"""``bigmax subgroups`` end to end through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bigmax.cli import app

OCTET = Path(__file__).parents[1] / "data" / "sisso" / "octet_binaries_82.csv"
RADII = "r_s_A,r_s_B,r_p_A,r_p_B,r_d_A,r_d_B,r_sigma,r_pi"


@pytest.fixture
def runner():
    return CliRunner()


def test_octet_table_json_and_plot(runner, tmp_path):
    out_json = tmp_path / "sg.json"
    out_png = tmp_path / "sg.png"
    result = runner.invoke(app, [
        "subgroups", str(OCTET), "--target", "E_RS - E_ZB", "--features", RADII,
        "--quality", "median-shift", "--depth", "2", "--top-k", "3", "--search", "bnb",
        "--n-jobs", "2", "--n-permutations", "50", "--plot", str(out_png), "--json",
        str(out_json),
    ])
    assert result.exit_code == 0, result.output
    assert "subgroups of E_RS - E_ZB" in result.output and "r_pi" in result.output
    payload = json.loads(out_json.read_text())
    assert payload["targets"] == ["E_RS - E_ZB"] and payload["n_samples"] == 82
    assert payload["settings"]["quality"] == "median-shift"
    top = payload["subgroups"][0]
    assert top["rule"].endswith("AA") and top["selectors"][0]["unit"] == "AA"
    assert top["count"] > 10 and 0 < top["p_value"] <= 1
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_categorical_target_wracc_and_warnings(runner, tmp_path):
    df = pd.read_csv(OCTET)
    df.columns = [c.strip() for c in df.columns]
    df["structure"] = np.where(df["E_RS - E_ZB (eV)"] > 0, "zincblende", "rocksalt")
    df["constant"] = 1.0
    path = tmp_path / "octet.csv"
    df.drop(columns=["E_RS - E_ZB (eV)"]).to_csv(path, index=False)
    result = runner.invoke(app, [
        "subgroups", str(path), "--target", "structure", "--quality", "wracc",
        "--positive-class", "zincblende", "--top-k", "2", "--n-permutations", "0",
        "--exclude", "Z_A,Z_B",
    ])
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "constant feature(s): constant" in text
    assert "identifier-like feature(s) with a distinct value per row: # Material" in text
    assert "structure == 'zincblende'" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "nope"], "target column 'nope' not found"),
        (["--target", "# Material"], "target '# Material' is not numeric"),
        (["--target", "E_RS - E_ZB", "--features", "r_s_A,bogus"], "feature column 'bogus'"),
        (["--target", "E_RS - E_ZB", "--quality", "best"], "quality must be one of"),
        (["--target", "E_RS - E_ZB", "--search", "dfs"], "'search' parameter"),
    ],
)
def test_bad_input_is_one_clear_line(runner, args, message):
    result = runner.invoke(app, ["subgroups", str(OCTET), *args, "--n-permutations", "0"])
    assert result.exit_code == 1
    text = " ".join(result.output.split())
    assert "error:" in text and message in text
    assert "Traceback" not in result.output


def test_missing_file_and_nan_rows(runner, tmp_path):
    result = runner.invoke(app, ["subgroups", str(tmp_path / "none.csv"), "--target", "y"])
    assert result.exit_code == 1 and "none.csv: no such file" in " ".join(result.output.split())
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"a (eV)": rng.normal(size=60), "y": rng.normal(size=60)})
    df.loc[5, "a (eV)"] = np.nan
    path = tmp_path / "nan.csv"
    df.to_csv(path, index=False)
    result = runner.invoke(app, ["subgroups", str(path), "--target", "y", "--n-permutations", "0"])
    assert result.exit_code == 0, result.output
    assert "dropped 1 of 60 rows" in " ".join(result.output.split())
