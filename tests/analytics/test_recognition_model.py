"""The classifier on a reduced class set: accuracy under noise, unknowns, windows, the CLI."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from sklearn.base import clone
from typer.testing import CliRunner

from bigmax.analytics.recognition import (
    UNKNOWN,
    ScaledSOAP,
    noisy_copies,
    sliding_windows,
    train_prototype_classifier,
)
from bigmax.cli import app

CLASSES = ["fcc", "bcc", "hcp", "diamond"]


@pytest.fixture(scope="module")
def model():
    # reduced model: 4 classes, 16 augmented copies each, 3 small members (seconds, not minutes)
    return train_prototype_classifier(
        CLASSES, featurizer=ScaledSOAP(n_max=4, l_max=4), n_per_class=16, min_atoms=60,
        classifier_params={"n_estimators": 3, "hidden_layer_sizes": (64,), "max_iter": 300},
    )


def _real():
    # real materials, not the training prototypes (other elements, lattice constants, c/a)
    return [
        bulk("Ni", "fcc", a=3.52, cubic=True).repeat(3),
        bulk("Fe", "bcc", a=2.87, cubic=True).repeat(4),
        bulk("Ti", "hcp", a=2.95, c=4.68).repeat((4, 4, 3)),
        bulk("Si", "diamond", a=5.43, cubic=True).repeat(3),
    ]


def test_estimator_contract(model):
    params = model.get_params()
    assert params["n_estimators"] == 3
    assert clone(model).get_params()["hidden_layer_sizes"] == (64,)
    assert len(model.classes_) == 4 and model.threshold_ > 0
    assert set(model.calibration_) >= {"accuracy", "unknown_fraction", "threshold"}


def test_recognises_noisy_defective_real_crystals(model):
    truth = np.array(["fcc_Cu_A_cF4_225_a", "bcc_W_A_cI2_229_a", "hcp_Mg_A_hP2_194_c",
                      "diam_C_A_cF8_227_a"])
    structures = _real()
    for delta, vac in [(0.0, 0.0), (0.04, 0.0), (0.0, 0.2), (0.04, 0.2)]:
        noisy = noisy_copies(structures, delta, vac, random_state=11)
        assert list(model.predict(noisy)) == list(truth), (delta, vac)
    proba = model.predict_proba(structures)
    assert proba.shape == (4, 4) and np.allclose(proba.sum(axis=1), 1)
    assert model.score(noisy_copies(structures, 0.02, 0.1, random_state=3), truth) == 1.0


def test_unknown_is_an_answer_for_what_is_not_a_crystal(model):
    rng = np.random.default_rng(0)
    # an ideal-gas-like box of atoms no closer than 1.8 A: no prototype at all
    pos = rng.uniform(0, 14, (800, 3))
    keep = [0]
    for i in range(1, len(pos)):
        if np.min(np.linalg.norm(pos[keep] - pos[i], axis=1)) > 1.8:
            keep.append(i)
    gas = Atoms(f"Cu{len(keep)}", positions=pos[keep], cell=[14, 14, 14], pbc=True)
    known = model.recognize(_real())
    odd = model.recognize([gas]).iloc[0]
    assert not known.unknown.any()
    assert odd.uncertainty > known.uncertainty.max()
    assert odd.answer == UNKNOWN


def test_sliding_windows_find_two_grains_and_an_uncertain_boundary(model):
    # a bicrystal slab: bcc Fe on the left, fcc Ni on the right, free surfaces all round
    fe = bulk("Fe", "bcc", a=2.87, cubic=True).repeat((8, 8, 8))
    ni = bulk("Ni", "fcc", a=3.52, cubic=True).repeat((7, 7, 7))
    left = fe[fe.positions[:, 0] < 20]
    right = ni[ni.positions[:, 0] < 20]
    right.positions += [21.0, 0, 0]
    bi = left + right
    bi.pbc = False
    bi.cell = None
    result = sliding_windows(bi, model, window=8.0, stride=2.0)
    frame = result.to_frame()
    assert len(frame) == np.prod(result.grid_shape)
    x = result.centers[:, 0]
    filled = result.n_atoms > 0
    far_left = filled & (x < 12)
    far_right = filled & (x > 29)
    assert far_left.any() and far_right.any()
    assert np.all(result.label[far_left] == "bcc_W_A_cI2_229_a")
    assert np.all(result.label[far_right] == "fcc_Cu_A_cF4_225_a")
    near = filled & (np.abs(x - 20.5) < 3)
    assert result.uncertainty[near].mean() > 3 * result.uncertainty[far_left | far_right].mean()
    grains = result.grains()
    assert set(grains.label) >= {"bcc_W_A_cI2_229_a", "fcc_Cu_A_cF4_225_a"}


def test_cli_recognize_whole_structure_and_windows(model, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    xyz = tmp_path / "ni.xyz"
    noisy_copies([_real()[0]], 0.03, 0.1, random_state=1)[0].write(xyz)
    runner = CliRunner()
    res = runner.invoke(app, ["recognize", str(xyz), "--model", str(path)])
    assert res.exit_code == 0, res.output
    assert "fcc_Cu_A_cF4_225_a" in res.output
    csv, png = tmp_path / "map.csv", tmp_path / "map.png"
    big = bulk("Fe", "bcc", a=2.87, cubic=True).repeat((6, 6, 6))
    big.pbc = False
    big.write(tmp_path / "fe.xyz")
    res = runner.invoke(app, ["recognize", str(tmp_path / "fe.xyz"), "--model", str(path),
                              "--window", "8", "--stride", "4", "--csv", str(csv),
                              "--png", str(png)])
    assert res.exit_code == 0, res.output
    assert "bcc_W_A_cI2_229_a" in res.output
    assert csv.read_text().startswith("x,y,z,n_atoms,label")
    assert png.stat().st_size > 1000


def test_cli_bad_files_give_one_line_naming_the_file(model, tmp_path):
    path = tmp_path / "model.joblib"
    joblib.dump(model, path)
    runner = CliRunner()
    bad = tmp_path / "bad.xyz"
    bad.write_text("2\n\nQq 0 0 0\nCu 2 0 0\n")
    empty = tmp_path / "empty.xyz"
    empty.write_text("0\n\n")
    dup = tmp_path / "dup.xyz"
    dup.write_text("2\n\nCu 0 0 0\nCu 0.1 0 0\n")
    for f, what in [(bad, "unknown element"), (empty, "no atoms"), (dup, "overlapping atoms"),
                    (tmp_path / "missing.xyz", "no such file")]:
        res = runner.invoke(app, ["recognize", str(f), "--model", str(path)])
        out = " ".join(res.output.split())  # the error console wraps at 80 columns
        assert res.exit_code == 1, out
        assert f.name in out and what in out, out
        assert "Traceback" not in out


def test_load_or_train_caches_by_recipe(tmp_path):
    from bigmax.analytics.recognition import load_or_train

    small = {"n_per_class": 6, "min_atoms": 30}
    params = {"n_estimators": 2, "hidden_layer_sizes": (16,), "max_iter": 100}
    first = load_or_train(tmp_path, ["fcc", "bcc"], classifier_params=params, **small)
    files = list(tmp_path.glob("recognition-*.joblib"))
    assert len(files) == 1
    again = load_or_train(tmp_path, ["fcc", "bcc"], classifier_params=params, **small)
    assert again.threshold_ == first.threshold_
    assert list(again.classes_) == ["bcc_W_A_cI2_229_a", "fcc_Cu_A_cF4_225_a"]
    load_or_train(tmp_path, ["fcc", "bcc"], classifier_params=params, random_state=1, **small)
    assert len(list(tmp_path.glob("recognition-*.joblib"))) == 2



def test_class_thresholds_are_calibrated_per_class(model):
    # Mondrian calibration: each class threshold is the larger of the global quantile and the
    # quantile over that class's correctly classified samples
    truth = ["fcc_Cu_A_cF4_225_a", "bcc_W_A_cI2_229_a", "hcp_Mg_A_hP2_194_c",
             "diam_C_A_cF8_227_a"]
    structures, labels = [], []
    for seed, delta in enumerate([0.0, 0.02, 0.04, 0.06]):
        structures += noisy_copies(_real(), delta, 0.1, random_state=seed)
        labels += truth
    again = clone(model)
    again.__dict__.update({k: v for k, v in model.__dict__.items() if k.endswith("_")})
    F = again.features(structures)
    again.calibrate(F, labels)
    proba = again.predict_proba(F)
    u = again.predict_uncertainty(F)
    codes = np.searchsorted(again.classes_, labels)
    correct = proba.argmax(axis=1) == codes
    assert again.threshold_ >= np.quantile(u[correct], 0.99)
    for c in range(len(again.classes_)):
        own = u[correct & (codes == c)]
        expected = max(again.threshold_, np.quantile(own, 0.99)) if len(own) else again.threshold_
        assert again.class_thresholds_[c] == pytest.approx(expected, rel=1e-3, abs=1e-9)
    flat = clone(again).set_params(class_conditional=False)
    flat.__dict__.update({k: v for k, v in again.__dict__.items() if k.endswith("_")})
    assert np.all(flat.calibrate(F, labels).class_thresholds_ == flat.threshold_)
    # recognize follows the class threshold of the predicted label
    noisy_fcc = noisy_copies(_real()[:1], 0.08, 0.2, random_state=3)
    again.class_thresholds_[:] = -1.0
    assert again.recognize(noisy_fcc).answer.tolist() == [UNKNOWN]
    again.class_thresholds_[:] = np.inf
    assert again.recognize(noisy_fcc).answer.tolist() == [truth[0]]
    with pytest.raises(ValueError, match="does not know"):
        again.calibrate(F[:2], [truth[0], "nonsense"])
