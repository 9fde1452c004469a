"""Bad input gives one clear ValueError that names the column: by hand and with hypothesis."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bigmax.analytics.sisso import SissoClassifier, SissoRegressor, load_model
from bigmax.analytics.sisso.table import TableError, read_feature_table


def _frame(n=12, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.uniform(1, 2, size=(n, 3)), columns=["a (m)", "b (s)", "c"])


def _y(n=12, seed=0):
    return np.random.default_rng(seed + 1).normal(size=n)


FAST = dict(n_dim=2, max_rung=0, n_sis_select=3)


def test_nan_names_the_column():
    X = _frame()
    X.iloc[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"column 'b' contains NaN or inf \(row 4\)"):
        SissoRegressor(**FAST).fit(X, _y())


def test_inf_in_target():
    y = _y()
    y[3] = np.inf
    with pytest.raises(ValueError, match=r"target contains NaN or inf \(row 3\)"):
        SissoRegressor(**FAST).fit(_frame(), y)


def test_constant_column_names_the_column():
    X = _frame()
    X["c"] = 7.0
    with pytest.raises(ValueError, match="column 'c' is constant"):
        SissoRegressor(**FAST).fit(X, _y())
    with pytest.raises(ValueError, match="column 'c' is constant"):
        SissoClassifier(**FAST).fit(X, np.arange(12) % 2)


def test_too_few_samples():
    with pytest.raises(ValueError, match="too few samples: 3 sample"):
        SissoRegressor(**FAST).fit(_frame(3), _y(3))
    with pytest.raises(ValueError, match="too few samples: 2 sample.* in a task"):
        SissoRegressor(n_dim=1, max_rung=0).fit(_frame(8), _y(8), tasks=[0] * 6 + [1] * 2)


def test_unit_mismatch_names_the_column():
    with pytest.raises(ValueError, match=r"column 'a': unit mismatch, the header says 'm'"):
        SissoRegressor(**FAST).fit(_frame(), _y(), units={"a": "s"})
    with pytest.raises(ValueError, match="units: no column named 'zz'"):
        SissoRegressor(**FAST).fit(_frame(), _y(), units={"zz": "s"})
    with pytest.raises(ValueError, match=r"units: expected 3 entries"):
        SissoRegressor(**FAST).fit(_frame().to_numpy(), _y(), units=["m"])
    with pytest.raises(ValueError, match="column 'x1': bad unit"):
        SissoRegressor(**FAST).fit(_frame().to_numpy(), _y(), units=["m", "s^^2", ""])


def test_bad_header_unit_and_duplicate_names():
    X = _frame()
    X.columns = ["a (m)", "b (s/)", "c"]
    with pytest.raises(ValueError, match="'b"):
        SissoRegressor(**FAST).fit(X, _y())
    X.columns = ["a (m)", "a (s)", "c"]
    with pytest.raises(ValueError, match="column 'a' appears twice"):
        SissoRegressor(**FAST).fit(X, _y())


def test_non_numeric_column():
    X = _frame().astype(object)
    X.iloc[2, 0] = "oops"
    with pytest.raises(ValueError, match="column 'a \\(m\\)' is not numeric"):
        SissoRegressor(**FAST).fit(X, _y())


def test_model_on_data_without_its_columns():
    est = SissoRegressor(n_dim=1, max_rung=0, n_sis_select=3).fit(_frame(), _y())
    with pytest.raises(ValueError, match="the data have no column"):
        est.model_.predict(_frame().drop(columns=[est.model_.expressions[0].names[0]
                                                   + {"a": " (m)", "b": " (s)", "c": ""}[
                                                       est.model_.expressions[0].names[0]]]))
    with pytest.raises(ValueError, match="not a bigmax-sisso-model"):
        load_model('{"format": "other"}')
    with pytest.raises(ValueError, match="not valid JSON"):
        load_model("{nope")


def test_table_errors_name_file_and_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("name,y (eV),a (m),b\nx1,1.0,2.0,3\nx2,2.0,,4\nx3,3.0,1.0,5\n")
    with pytest.raises(TableError, match=r"t.csv: column 'a' has a missing .*row x2"):
        read_feature_table(path, "y")
    with pytest.raises(TableError, match=r"no target column 'z'"):
        read_feature_table(path, "z")
    path.write_text("name,y (eV),a (m),b\nx1,1.0,2.0,3\nx2,2.0,abc,4\n")
    with pytest.raises(TableError, match=r"column 'a' is not numeric \(row x2: 'abc'\)"):
        read_feature_table(path, "y")
    with pytest.raises(TableError, match="no such file"):
        read_feature_table(tmp_path / "missing.csv", "y")


names = st.text(alphabet="abcdefghij_XYZ", min_size=1, max_size=8)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cols=st.lists(names, min_size=2, max_size=5, unique=True), n=st.integers(8, 20),
       bad=st.data(), kind=st.sampled_from(["nan", "inf", "constant"]))
def test_property_error_names_the_bad_column(cols, n, bad, kind):
    rng = np.random.default_rng(n)
    X = pd.DataFrame(rng.uniform(1, 2, size=(n, len(cols))), columns=cols)
    j = bad.draw(st.integers(0, len(cols) - 1))
    i = bad.draw(st.integers(0, n - 1))
    if kind == "constant":
        X[cols[j]] = 3.0
        pattern = f"column '{cols[j]}' is constant"
    else:
        X.iloc[i, j] = np.nan if kind == "nan" else -np.inf
        pattern = rf"column '{cols[j]}' contains NaN or inf \(row {i}\)"
    with pytest.raises(ValueError, match=pattern):
        SissoRegressor(n_dim=1, max_rung=0).fit(X, rng.normal(size=n))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(0, 3), n_dim=st.integers(1, 3))
def test_property_too_few_samples(n, n_dim):
    X = _frame(max(n, 1))[: n]
    if n < n_dim + 2:
        with pytest.raises(ValueError, match="sample"):
            SissoRegressor(n_dim=n_dim, max_rung=0).fit(X, _y(max(n, 1))[:n])
