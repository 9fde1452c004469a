"""Classification SISSO: convex-domain overlap, the octet classes, the SVM refit."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bigmax.analytics.sisso import SissoClassificationModel, SissoClassifier, load_model
from bigmax.analytics.sisso.overlap import (
    distance,
    in_hull,
    in_hull_lp,
    interval_overlap,
    overlap_count,
    overlap_volume,
)

DATA = Path(__file__).parents[1] / "data" / "sisso"
OPS = ["add", "sub", "abs_diff", "mult", "div", "inv", "abs", "exp", "neg_exp", "log", "sin",
       "cos", "sq", "cb", "six_pow", "sqrt", "cbrt"]


@pytest.fixture(scope="module")
def octet_class():
    df = pd.read_csv(DATA / "octet_binaries_82_class.csv", index_col=0)
    y = df.pop("Class")
    return df, y


def _cols(df):
    return {c.split("(")[0].strip(): df[c].to_numpy() for c in df.columns}


def test_sisso_classifier_fortran_rung0_parity(octet_class):
    """Fortran v3.5 (nf_sis 20, 2D) finds (r_p_A, period_B): 0 in overlap, separation 0.0133."""
    df, y = octet_class
    est = SissoClassifier(n_dim=2, max_rung=0, n_sis_select=20, unit_mode="fortran").fit(df, y)
    best = est.models_[1][0]
    assert best.descriptor_strings == ["r_p_A", "period_B"]
    assert best.n_overlap == 0
    assert -best.omega == pytest.approx(0.0133, abs=5e-5)
    assert est.score(df, y) == 1.0


def test_sisso_classifier_rung1_zero_overlap(octet_class):
    """SISSO++ settings (rung 1, n_sis_select 20): a 2D descriptor with no sample in overlap."""
    df, y = octet_class
    est = SissoClassifier(n_dim=2, max_rung=1, operators=OPS, n_sis_select=20).fit(df, y)
    model = est.model_
    assert model.n_dim == 2 and model.n_overlap == 0
    # recount with the LP reference on the raw descriptor values
    codes = np.unique(y, return_inverse=True)[1]
    assert overlap_count(model.descriptors(df), codes, 2, method="lp") == 0
    assert est.models_[0][0].n_overlap > 0  # 1D cannot separate the classes
    assert model.accuracy == 1.0


def test_sisso_published_classification_descriptor_has_no_overlap(octet_class):
    df, y = octet_class
    c = _cols(df)
    P = np.column_stack([c["EA_A"] * c["Z_B"], c["r_sigma"] + c["r_p_B"]])
    codes = y.to_numpy()
    assert overlap_count(P, codes, 2) == 0
    assert overlap_count(P, codes, 2, method="lp") == 0
    assert overlap_volume(P, codes, 2) < 0  # separated


def test_sisso_classification_model_matches_svc_and_round_trips(octet_class, tmp_path):
    from sklearn.svm import SVC

    df, y = octet_class
    est = SissoClassifier(n_dim=2, max_rung=0, n_sis_select=6).fit(df, y)
    model = est.model_
    D = model.descriptors(df)
    Z = (D - D.mean(axis=0)) / D.std(axis=0)
    svc = SVC(kernel="linear", C=1000.0).fit(Z, y)
    np.testing.assert_array_equal(model.predict(df), svc.predict(Z))
    path = tmp_path / "cls.json"
    model.save(path)
    back = load_model(path)
    assert isinstance(back, SissoClassificationModel)
    assert back.classes == [0, 1] and back.n_overlap == model.n_overlap
    np.testing.assert_array_equal(back.predict(df), est.predict(df))


def test_sisso_classifier_three_classes_and_string_labels():
    rng = np.random.default_rng(3)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    X = np.vstack([c + rng.normal(size=(25, 2)) * 0.6 for c in centres]) + 10.0
    y = np.repeat(["a", "b", "c"], 25)
    est = SissoClassifier(n_dim=2, max_rung=0, n_sis_select=2).fit(X, y)
    assert list(est.classes_) == ["a", "b", "c"]
    assert sorted(est.model_.descriptor_strings) == ["x0", "x1"]
    assert np.mean(est.predict(X) == y) > 0.95


def test_sisso_classifier_one_class_is_an_error():
    X = np.random.default_rng(4).normal(size=(10, 3))
    with pytest.raises(ValueError, match="only one class"):
        SissoClassifier(max_rung=0).fit(X, np.zeros(10))


def test_sisso_interval_overlap_by_hand():
    v = np.array([[0.0], [1.0], [2.0], [1.5], [3.0], [4.0]])
    codes = np.array([0, 0, 0, 1, 1, 1])
    counts, omega = interval_overlap(v, codes, 2)
    # class 0 spans [0, 2], class 1 [1.5, 4]: samples 2.0 (class 0) and 1.5 (class 1)
    assert counts[0] == 2
    assert omega[0] == pytest.approx(0.5 / 2.0)
    counts, omega = interval_overlap(np.array([[0.0], [1.0], [3.0], [4.0]]),
                                     np.array([0, 0, 1, 1]), 2)
    assert counts[0] == 0 and omega[0] == pytest.approx(-2.0)


def test_sisso_distance_between_hulls():
    A = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    B = A + [2.0, 2.0]
    assert distance(A, B) == pytest.approx(np.sqrt(2) * 1.5)
    A3 = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    assert distance(A3, A3 + [3.0, 0, 0]) == pytest.approx(2.0, abs=1e-6)


points = st.lists(st.tuples(st.floats(-3, 3), st.floats(-3, 3)), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(hull=st.lists(st.tuples(st.integers(-3, 3), st.integers(-3, 3)), min_size=1, max_size=8),
       pts=st.lists(st.tuples(st.integers(-4, 4), st.integers(-4, 4)), min_size=1, max_size=8),
       flat=st.booleans())
def test_sisso_in_hull_agrees_with_the_lp(hull, pts, flat):
    H = np.array(hull, dtype=float)
    Q = np.array(pts, dtype=float) / 2.0
    if flat:  # all hull points on a line: the affine-span path
        H[:, 1] = 2.0 * H[:, 0] + 1.0
        Q[::2, 1] = 2.0 * Q[::2, 0] + 1.0
    np.testing.assert_array_equal(in_hull(Q, H), in_hull_lp(Q, H))


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(-5, 5), min_size=4, max_size=20), seed=st.integers(0, 100))
def test_sisso_interval_overlap_matches_definition(values, seed):
    v = np.array(values)
    codes = np.random.default_rng(seed).integers(0, 3, size=len(v))
    counts, _ = interval_overlap(v[:, None], codes, 3)
    expect = 0
    for i in range(len(v)):
        inside = [codes[j] for j in range(len(v)) if codes[j] != codes[i]]
        for c in set(inside):
            vals = v[codes == c]
            if vals.min() <= v[i] <= vals.max():
                expect += 1
                break
    assert counts[0] == expect
