"""bigmax apt spectrum | range | composition on the real Si set."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.techniques.apt.ranges import read_ranges

runner = CliRunner()


def _run(*args):
    result = runner.invoke(app, ["apt", *map(str, args)])
    return result


def test_spectrum(apt_si_dir, tmp_path):
    res = _run("spectrum", apt_si_dir / "Si.pos", "--bin-width", "0.1", "--out",
               tmp_path / "s.png", "--csv", tmp_path / "s.csv", "--ranges",
               apt_si_dir / "Si.RRNG")  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "s.csv")
    assert table["counts"].sum() == 945_211
    assert (tmp_path / "s.png").stat().st_size > 10_000
    assert "945211 ions" in res.output


def test_composition(apt_si_dir, tmp_path):
    res = _run("composition", apt_si_dir / "Si.epos", "--ranges", apt_si_dir / "Si.RNG",
               "--out", tmp_path / "c.parquet", "--png", tmp_path / "c.png")  # fmt: skip
    assert res.exit_code == 0, res.output
    table = pd.read_parquet(tmp_path / "c.parquet")
    pct = dict(zip(table["species"], table["percent"].round(1), strict=True))
    assert (pct["Si"], pct["Cr"], pct["O"]) == (74.7, 16.6, 8.6)
    assert "ranged fraction 0.9278" in res.output
    roi = _run("composition", apt_si_dir / "Si.pos", "--ranges", apt_si_dir / "Si.RRNG",
               "--roi", "sphere:0,0,-40,10", "--ions", "--background", "tof")  # fmt: skip
    assert roi.exit_code == 0, roi.output
    n = int(roi.output.split(" of ")[-1].split()[0])
    assert 10_000 < n < 945_211


def test_range_auto_and_normalise(apt_si_dir, tmp_path):
    res = _run("range", apt_si_dir / "Si.pos", "--auto", "--out", tmp_path / "auto.rrng",
               "--table", tmp_path / "auto.csv")  # fmt: skip
    assert res.exit_code == 0, res.output
    ranges = read_ranges(tmp_path / "auto.rrng")
    assert {"Si", "Ni", "O"} <= set(ranges.elements)
    table = pd.read_csv(tmp_path / "auto.csv")
    assert {"low", "high", "ion", "confidence", "share"} <= set(table.columns)
    res = _run("range", apt_si_dir / "Si.pos", "--ranges", apt_si_dir / "Si.RNG", "--out",
               tmp_path / "copy.rrng")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert len(read_ranges(tmp_path / "copy.rrng")) == 25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["range", "{pos}", "--out", "{tmp}/x.rrng"], "either --auto or --ranges"),
        (["composition", "{pos}", "--ranges", "{rrng}", "--roi", "ball:1"], "roi 'ball:1'"),
        (["composition", "{pos}", "--ranges", "{rrng}", "--out", "{tmp}/x.xlsx"], "x.xlsx"),
        (["spectrum", "{tmp}/missing.pos"], "missing.pos"),
    ],
)
def test_errors(apt_si_dir, tmp_path, args, message):
    fill = {"pos": apt_si_dir / "Si.pos", "rrng": apt_si_dir / "Si.RRNG", "tmp": tmp_path}
    res = _run(*[a.format(**fill) for a in args])
    assert res.exit_code != 0
    assert message in res.output.replace("\n", "")
    assert "Traceback" not in res.output
