"""SissoRegressor end to end: formula recovery, determinism, multi-task, models and JSON."""

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bigmax.analytics.sisso import SissoModel, SissoRegressor, load_model
from bigmax.analytics.sisso.cv import choose_dimension, cross_validate_dimension, summarize_cv

DATA = Path(__file__).parents[1] / "data" / "sisso"


@pytest.fixture(scope="module")
def octet():
    df = pd.read_csv(DATA / "octet_binaries_82.csv", index_col=0)
    y = df.pop("E_RS - E_ZB (eV)")
    return df, y


@pytest.fixture(scope="module")
def octet_fit(octet):
    df, y = octet
    return SissoRegressor(n_dim=2, max_rung=1, n_sis_select=10, n_residual=5).fit(df, y)


def test_sisso_recovers_a_planted_formula():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.uniform(0.5, 2.0, size=(60, 4)),
                     columns=["a (m)", "b (s)", "c (m)", "d"])
    y = 3.0 * X["a (m)"] / X["b (s)"] - 0.5 * np.exp(-X["d"]) + 0.7
    est = SissoRegressor(n_dim=2, max_rung=1, n_sis_select=10).fit(X, y)
    model = est.model_
    assert sorted(str(e) for e in model.expressions) == ["a / b", "exp(-d)"]
    assert model.rmse < 1e-10
    np.testing.assert_allclose(sorted(model.coefs[0]), [-0.5, 3.0], rtol=1e-9)
    assert model.intercepts[0] == pytest.approx(0.7, rel=1e-9)
    assert str(model.expressions[[str(e) for e in model.expressions].index("a / b")].unit) \
        == "m s^-1"


def test_sisso_octet_models_and_predict(octet, octet_fit):
    df, y = octet
    est = octet_fit
    assert [len(m) for m in est.models_] == [10, 10]
    for models in est.models_:
        rmses = [m.rmse for m in models]
        assert rmses == sorted(rmses)
    assert est.models_[1][0].rmse < est.models_[0][0].rmse
    pred = est.predict(df)
    assert np.sqrt(np.mean((pred - y) ** 2)) == pytest.approx(est.model_.rmse, rel=1e-12)
    np.testing.assert_allclose(est.predict(df, n_dim=1), est.models_[0][0].predict(df))
    assert est.score(df, y) > 0.8
    assert est.coef_.shape == (2,) and isinstance(est.intercept_, float)
    assert len(est.sis_subspaces_) == 2 and len(est.sis_subspaces_[0]) == 10
    # a model evaluates a table with extra columns in another order, matched by name
    shuffled = df[df.columns[::-1]].assign(extra=1.0)
    np.testing.assert_allclose(est.model_.predict(shuffled), pred)


def test_sisso_n_jobs_identical(octet):
    df, y = octet
    kw = dict(n_dim=3, max_rung=1, n_sis_select=8, n_residual=3)
    a = SissoRegressor(**kw, n_jobs=1).fit(df, y)
    b = SissoRegressor(**kw, n_jobs=2).fit(df, y)
    for ma, mb in zip(a.models_, b.models_, strict=True):
        assert [str(m) for m in ma] == [str(m) for m in mb]
        np.testing.assert_array_equal(ma[0].coefs, mb[0].coefs)


def test_sisso_model_json_round_trip(octet, octet_fit, tmp_path):
    df, _ = octet
    model = octet_fit.model_
    path = tmp_path / "model.json"
    model.save(path)
    doc = json.loads(path.read_text())
    assert doc["library"]["name"] == "bigmax" and doc["library"]["version"]
    assert doc["settings"]["unit_mode"] == "strict"
    assert doc["settings"]["n_sis_select"] == 10
    assert len(doc["settings"]["operators"]) == 17
    assert [d["unit"] for d in doc["descriptors"]] == [str(e.unit) for e in model.expressions]
    back = load_model(path)
    assert isinstance(back, SissoModel)
    assert str(back) == str(model)
    np.testing.assert_array_equal(back.predict(df), model.predict(df))
    assert back.rmse == model.rmse
    # pickling goes through the same form
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(model)).predict(df),
                                  model.predict(df))


def test_sisso_model_sympy_and_latex(octet, octet_fit):
    df, _ = octet
    model = octet_fit.model_
    expr = model.to_sympy()
    syms = sorted(expr.free_symbols, key=str)
    f = __import__("sympy").lambdify(syms, expr, "numpy")
    cols = {c.split("(")[0].strip(): df[c].to_numpy() for c in df.columns}
    np.testing.assert_allclose(f(*[cols[str(s)] for s in syms]), model.predict(df), rtol=1e-9)
    assert "\\" in model.latex() or "_" in model.latex()


def test_sisso_multitask():
    rng = np.random.default_rng(1)
    n = 90
    X = rng.uniform(1, 3, size=(n, 4))
    tasks = np.repeat(["t1", "t2", "t3"], 30)
    slope = {"t1": 1.0, "t2": -2.0, "t3": 0.5}
    y = np.array([slope[t] for t in tasks]) * X[:, 0] * X[:, 2] + (tasks == "t2") * 4.0
    est = SissoRegressor(n_dim=1, max_rung=1, n_sis_select=5).fit(X, y, tasks=tasks)
    model = est.model_
    assert str(model.expressions[0]) == "x2 * x0"
    assert model.tasks == ["t1", "t2", "t3"]
    np.testing.assert_allclose(model.coefs[:, 0], [1.0, -2.0, 0.5], rtol=1e-9)
    np.testing.assert_allclose(est.predict(X, tasks=tasks), y, atol=1e-9)
    with pytest.raises(ValueError, match="multi-task model: pass tasks"):
        est.predict(X)
    with pytest.raises(ValueError, match="unknown task 'x'"):
        est.predict(X[:2], tasks=["x", "t1"])
    back = load_model(model.to_json())
    np.testing.assert_allclose(back.predict(X, tasks=tasks), y, atol=1e-9)


def test_sisso_units_argument_and_fortran_mode():
    rng = np.random.default_rng(2)
    X = rng.uniform(0.5, 2.0, size=(40, 3))
    y = np.exp(-X[:, 0]) + 0.1 * rng.normal(size=40) * 0.01
    # x0 in metres: strict mode cannot take exp of it, fortran mode can
    strict = SissoRegressor(n_dim=1, max_rung=1).fit(X, y, units=["m", "", ""])
    assert str(strict.model_.expressions[0]) != "exp(-x0)"
    assert strict.primary_units_ == ["m", "", ""]
    fortran = SissoRegressor(n_dim=1, max_rung=1, unit_mode="fortran").fit(
        X, y, units={"x0": "m"})
    assert str(fortran.model_.expressions[0]) == "exp(-x0)"


def test_sisso_cv_chooses_a_dimension(octet):
    df, y = octet
    est = SissoRegressor(n_dim=3, max_rung=1, n_sis_select=5, n_residual=3)
    res = cross_validate_dimension(est, df, y, cv=3, random_state=0)
    assert set(res["dimension"]) == {1, 2, 3} and res["split"].nunique() == 3
    assert (res["validation_rmse"] > 0).all()
    summary = summarize_cv(res)
    assert list(summary.index) == [1, 2, 3]
    assert choose_dimension(res) == int(summary["mean"].idxmin())
    assert choose_dimension(res, "1se") <= choose_dimension(res)
    again = cross_validate_dimension(est, df, y, cv=3, random_state=0)
    pd.testing.assert_frame_equal(res, again)
    lo = cross_validate_dimension(est, df, y, cv="leave-out", leave_out=0.1, n_repeats=2)
    assert lo["split"].nunique() == 2


def test_sisso_progress_reports_stages(octet):
    df, y = octet
    seen = []
    SissoRegressor(n_dim=2, max_rung=1, n_sis_select=5,
                   progress=lambda s, f: seen.append((s, f))).fit(df, y)
    stages = [s for s, _ in seen]
    for stage in ("features", "SIS 1D", "L0 1D", "SIS 2D", "L0 2D"):
        assert stage in stages
    assert all(0.0 <= f <= 1.0 for _, f in seen)


def test_sisso_search_results_to_table_then_fit():
    from bigmax.analytics.sisso import read_feature_table, search_results_to_table

    rng = np.random.default_rng(5)
    rows = []
    for i in range(30):
        a, b = rng.uniform(1, 2, size=2)
        rows.append({"formula_reduced": f"M{i}", "volume": a * 1e-29, "n_sites": int(b * 10),
                     "results": {"band_gap": (3 * a - 1) * 1.6e-19}})
    rows.append({"formula_reduced": "X", "volume": None, "n_sites": 4,
                 "results": {"band_gap": 1e-19}})  # dropped: no volume
    table = search_results_to_table(rows, ["volume", "n_sites"], "results.band_gap",
                                    units={"volume": "m**3", "results.band_gap": "J"})
    assert list(table.columns) == ["volume (m^3)", "n_sites", "results.band_gap (J)"]
    assert len(table) == 30 and table.index[0] == "M0"
    ft = read_feature_table(table.reset_index(), "results.band_gap")
    assert ft.names == ["volume", "n_sites"] and str(ft.units[0]) == "m^3"
    assert ft.target_unit == "J" and ft.labels[0] == "M0"
    est = SissoRegressor(n_dim=1, max_rung=0, n_sis_select=2).fit(ft.X, ft.y)
    assert str(est.model_.expressions[0]) == "volume"
    with pytest.raises(ValueError, match="field 'n_sites' is not numeric"):
        search_results_to_table([{"n_sites": "four"}], ["n_sites"])
    with pytest.raises(ValueError, match="entry 0 has no value for 'volume'"):
        search_results_to_table([{"n_sites": 4}], ["volume"], missing="error")


def test_sisso_l0_dask_backend_needs_dask():
    import importlib.util

    from bigmax.analytics.sisso.l0 import L0Error, l0_search

    rng = np.random.default_rng(6)
    D, y = rng.normal(size=(20, 5)), rng.normal(size=20)
    if importlib.util.find_spec("dask") is None:
        with pytest.raises(L0Error, match="backend='dask' needs dask"):
            l0_search(D, y, 2, backend="dask")
    else:  # pragma: no cover - dask is not a dependency
        a = l0_search(D, y, 2, backend="dask", n_models=3)
        b = l0_search(D, y, 2, n_models=3)
        np.testing.assert_array_equal(a.subsets, b.subsets)
