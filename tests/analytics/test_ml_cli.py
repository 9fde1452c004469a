"""bigmax learn train / predict end to end through typer's runner, on real NOMAD 2018 files."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import joblib
import numpy as np
import pytest
from ase.io import read, write
from typer.testing import CliRunner

from bigmax.cli import app
from bigmax.demo import nomad2018_frames

DATA = Path(__file__).resolve().parents[1] / "data" / "nomad2018"
TARGETS = ("formation_energy_ev_natom", "bandgap_energy_ev")


@pytest.fixture
def runner():
    return CliRunner()


def _ok(result):
    assert result.exit_code == 0, result.output
    return result.output


def _fail(result, *needles):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    text = result.output.replace("\n", "")  # rich wraps long lines
    for needle in needles:
        assert needle in text, result.output
    return text


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_train_then_predict_from_a_table_and_a_folder(runner, tmp_path):
    model = tmp_path / "model.joblib"
    args = ["learn", "train", str(DATA / "train.csv"), "--structures", "train"]
    for t in TARGETS:
        args += ["--target", t]
    args += ["--descriptor", "composition", "--log-target", "--cv", "3", "--save", str(model)]
    out = _ok(runner.invoke(app, [*args, "--parity", str(tmp_path / "parity.png")]))
    assert "12 structures" in out
    for t in TARGETS:
        assert f"{t}: 3-fold CV MAE" in out and "RMSLE" in out
        assert (tmp_path / f"parity_{t}.png").stat().st_size > 1000
    bundle = joblib.load(model)
    assert bundle["format"] == "bigmax-learn-1" and set(bundle["estimators"]) == set(TARGETS)
    assert bundle["cv"][TARGETS[0]]["mae"] > 0
    preds = tmp_path / "pred.csv"
    _ok(runner.invoke(app, ["learn", "predict", str(model), str(DATA / "train.csv"),
                            "-s", str(DATA / "train"), "-o", str(preds)]))
    rows, truth = _rows(preds), _rows(DATA / "train.csv")
    assert [r["id"] for r in rows] == [r["id"] for r in truth]
    for t in TARGETS:
        got = np.array([float(r[t]) for r in rows])
        want = np.array([float(r[t]) for r in truth])
        # in-sample predictions of a regularised model: close, not identical
        assert np.mean(np.abs(got - want)) < 0.5 * np.std(want)


def test_structures_from_a_path_column_and_a_multiframe_file_with_a_gp(runner, tmp_path):
    frames = read(io.StringIO(nomad2018_frames(0, 12)), index=":", format="extxyz")
    table = tmp_path / "t.csv"
    with open(table, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "file", "gap"])
        for i, atoms in enumerate(frames):
            write(tmp_path / f"s{i}.extxyz", atoms, format="extxyz")
            w.writerow([f"s{i}", f"s{i}.extxyz", atoms.info["band_gap"]])
    model = tmp_path / "gp.joblib"
    common = ["--id-column", "name", "--descriptor", "composition+sine"]
    out = _ok(runner.invoke(app, ["learn", "train", str(table), "-s", "file", "-t", "gap",
                                  "--model", "gp", "--cv", "3", "--save", str(model), *common]))
    assert "gap: 3-fold CV MAE" in out
    write(tmp_path / "all.extxyz", frames, format="extxyz")
    pred = _ok(runner.invoke(app, ["learn", "predict", str(model), str(table), "-s",
                                   str(tmp_path / "all.extxyz"), "--id-column", "name"]))
    rows = list(csv.DictReader(io.StringIO(pred)))
    assert [r["name"] for r in rows] == [f"s{i}" for i in range(12)]
    assert all(float(r["gap_std"]) > 0 for r in rows)


def test_bad_inputs_give_one_clear_line(runner, tmp_path):
    train = ["learn", "train", str(DATA / "train.csv"), "-s", "train", "--save",
             str(tmp_path / "m.joblib"), "--descriptor", "composition"]
    _fail(runner.invoke(app, [*train, "-t", "band_gap"]), "no target column 'band_gap'")
    _fail(runner.invoke(app, [*train[:-2], "-t", TARGETS[0], "--descriptor", "magic"]),
          "--descriptor 'magic': unknown magic")
    _fail(runner.invoke(app, [*train, "-t", TARGETS[0], "--model", "svm"]), "--model must be")
    _fail(runner.invoke(app, [*train, "-t", TARGETS[0], "--id-column", "ID"]), "no id column 'ID'")

    # a broken table: a missing structure folder, a non-number, overlapping atoms
    work = tmp_path / "data"
    shutil.copytree(DATA, work)
    shutil.rmtree(work / "train" / "5")
    base = ["learn", "train", str(work / "train.csv"), "-s", "train", "-t", TARGETS[1],
            "--descriptor", "soap", "--save", str(tmp_path / "m.joblib")]
    _fail(runner.invoke(app, base), "train.csv row 5 (id 5): no structure")
    shutil.copytree(DATA / "train" / "5", work / "train" / "5")
    text = (work / "train.csv").read_text().replace(",2.921\n", ",n/a\n")
    (work / "train.csv").write_text(text)
    _fail(runner.invoke(app, base), "train.csv row 2: column 'bandgap_energy_ev' is 'n/a'")
    (work / "train.csv").write_text((DATA / "train.csv").read_text())
    geometry = work / "train" / "3" / "geometry.xyz"
    lines = geometry.read_text().splitlines()
    atoms = [i for i, line in enumerate(lines) if line.startswith("atom")]
    lines[atoms[1]] = " ".join(lines[atoms[0]].split()[:4] + [lines[atoms[1]].split()[-1]])
    geometry.write_text("\n".join(lines) + "\n")
    overlap = "structure 2 (train/3/geometry.xyz): atoms 0 and 1 are 0.000 Å apart"
    _fail(runner.invoke(app, base), overlap)

    _fail(runner.invoke(app, ["learn", "train", "-t", "x"]), "give a TABLE")
    not_model = tmp_path / "x.joblib"
    joblib.dump({"hello": 1}, not_model)
    _fail(runner.invoke(app, ["learn", "predict", str(not_model), str(DATA / "train.csv"),
                              "-s", "train"]), "not a bigmax learn model")
    (tmp_path / "junk.joblib").write_text("junk")
    _fail(runner.invoke(app, ["learn", "predict", str(tmp_path / "junk.joblib")]),
          "not a bigmax learn model")


def test_learn_from_the_archive(runner, bigmax_home, tmp_path):
    """Train on archive entries found by a query; targets come back in eV."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "oxides.extxyz").write_text(nomad2018_frames(0, 16))
    _ok(runner.invoke(app, ["ingest", str(folder), "--upload", "oxides"]))
    model = tmp_path / "a.joblib"
    out = _ok(runner.invoke(app, ["learn", "train", "--query", '{"elements:all": ["O"]}',
                                  "-t", "band_gap", "-t", "formation_energy_per_atom",
                                  "--descriptor", "composition", "--cv", "3",
                                  "--save", str(model)]))
    assert "16 structures" in out
    bundle = joblib.load(model)
    gaps = [a.info["band_gap"] for a in read(folder / "oxides.extxyz", index=":")]
    # the CV error is on the scale of eV, not joules
    assert 0.01 < bundle["cv"]["band_gap"]["mae"] < np.std(gaps) * 2
    pred = _ok(runner.invoke(app, ["learn", "predict", str(model), "--query", "{}"]))
    rows = list(csv.DictReader(io.StringIO(pred)))
    assert len(rows) == 16 and set(rows[0]) == {"entry_id", "band_gap", "formation_energy_per_atom"}
    assert 0.5 < np.mean([float(r["band_gap"]) for r in rows]) < 6
    _fail(runner.invoke(app, ["learn", "train", "--query", '{"elements:all": ["Fe"]}',
                              "-t", "band_gap"]), "no archive entry")
