"""``bigmax apt info`` and ``bigmax apt convert`` through typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.techniques.apt.formats import read_ions

RAW = Path(__file__).parents[2] / "data" / "apt" / "raw" / "apyt_W_calibration_tap_01_trimmed.raw"
runner = CliRunner()


def test_info_apt_json(apt_si_dir):
    res = runner.invoke(app, ["apt", "info", str(apt_si_dir / "Si.apt"), "--json"])
    assert res.exit_code == 0, res.output
    info = json.loads(res.output)
    assert info["format"] == "apt" and info["n_ions"] == 945_211
    assert [s["name"] for s in info["sections"]][-1] == "Position"
    assert info["mq_range_da"][1] > 378
    assert info["columns"]["multiplicity"]["range"] == [0, 12]
    bb = info["bounding_box_nm"]
    assert bb["min"][2] < -75 and bb["max"][2] < 0


def test_info_tables_raw_and_ranges(apt_si_dir):
    res = runner.invoke(app, ["apt", "info", str(RAW)])
    assert res.exit_code == 0, res.output
    assert "100,000 events" in res.output and "pulse_number" in res.output
    res = runner.invoke(app, ["apt", "info", str(apt_si_dir / "Si.RNG")])
    assert res.exit_code == 0, res.output
    assert "25 ranges" in res.output and "Cr2O" in res.output


def test_convert_epos_to_pos_and_nxapm(tmp_path, apt_si_dir):
    out = tmp_path / "si.pos"
    res = runner.invoke(app, ["apt", "convert", str(apt_si_dir / "Si.epos"), str(out),
                              "--chunk", "200000"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert out.read_bytes() == (apt_si_dir / "Si.pos").read_bytes()
    nxs = tmp_path / "si.nxs"
    res = runner.invoke(app, ["apt", "convert", str(apt_si_dir / "Si.apt"), str(nxs),
                              "--ranges", str(apt_si_dir / "Si.RRNG")])  # fmt: skip
    assert res.exit_code == 0, res.output
    back = read_ions(nxs)
    assert np.array_equal(back.mq, read_ions(apt_si_dir / "Si.pos").mq)
    assert int((back.columns["ion_type"] > 0).sum()) == 877_010  # 92.8 % ranged


def test_cli_errors_are_one_line(tmp_path, apt_si_dir):
    bad = tmp_path / "bad.pos"
    bad.write_bytes(b"\0" * 37)
    res = runner.invoke(app, ["apt", "info", str(bad)])
    assert res.exit_code == 1
    assert "at byte 32" in res.output and "Traceback" not in res.output
    src = str(apt_si_dir / "Si.pos")
    res = runner.invoke(app, ["apt", "convert", src, str(tmp_path / "a.xyz")])
    assert res.exit_code == 1 and "output format" in res.output
    res = runner.invoke(app, ["apt", "convert", str(apt_si_dir / "Si.pos"),
                              str(tmp_path / "a.pos"), "--ranges", str(apt_si_dir / "Si.RRNG")])
    assert res.exit_code == 1 and "only stored in NXapm" in res.output
    garbage = tmp_path / "g.rrng"
    garbage.write_text("[Ranges]\nRange1=1 x Fe:1\n")
    res = runner.invoke(app, ["apt", "info", str(garbage)])
    assert res.exit_code == 1 and "line 2" in res.output
