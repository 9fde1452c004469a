"""SubgroupDiscovery as an estimator: results table, transform/predict, targets, bad input."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from bigmax.analytics.subgroups import (
    Rule,
    Selector,
    SubgroupDiscovery,
    SubgroupInputError,
    cut_points,
    make_selectors,
)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(3)
    X = pd.DataFrame(rng.standard_normal((400, 5)),
                     columns=["r_p_A (AA)", "EA_B (eV)", "c", "d", "e"])
    y = rng.standard_normal(400) + 2 * ((X["r_p_A (AA)"] < 0) & (X["EA_B (eV)"] > 0.5))
    return X, pd.Series(y, name="E (eV)")


def test_results_table_matches_membership(small):
    X, y = small
    model = SubgroupDiscovery(top_k=4, n_permutations=99, random_state=1).fit(X, y)
    table = model.subgroups_
    assert list(table.columns) == ["target", "rule", "count", "coverage", "mean", "median",
                                   "mad", "std", "quality", "p_value"]
    assert len(table) == 4 and (table["target"] == "E").all()
    assert table["quality"].is_monotonic_decreasing
    for j, rule in enumerate(model.rules_):
        inside = rule.covers(X)
        np.testing.assert_array_equal(inside, model.membership_[:, j])
        v = y[inside].to_numpy()
        assert table["count"].iloc[j] == inside.sum()
        assert table["coverage"].iloc[j] == pytest.approx(inside.mean())
        assert table["mean"].iloc[j] == pytest.approx(v.mean())
        assert table["median"].iloc[j] == pytest.approx(np.median(v))
        assert table["mad"].iloc[j] == pytest.approx(np.mean(np.abs(v - np.median(v))))
        assert table["std"].iloc[j] == pytest.approx(v.std())
        assert 0 < table["p_value"].iloc[j] <= 1
    # the planted rule reads with units from the 'name (unit)' headers
    assert re.fullmatch(r"r_p_A <= \S+ AA AND EA_B >= \S+ eV", str(model.rules_[0]))
    assert table["p_value"].iloc[0] == pytest.approx(0.01)
    again = SubgroupDiscovery(top_k=4, n_permutations=99, random_state=1).fit(X, y)
    np.testing.assert_array_equal(again.subgroups_["p_value"], table["p_value"])


def test_transform_predict_score(small):
    X, y = small
    model = SubgroupDiscovery(top_k=3, n_permutations=0).fit(X, y)
    member = model.transform(X)
    assert member.shape == (400, 3) and member.dtype == np.uint8
    np.testing.assert_array_equal(member, model.membership_)
    np.testing.assert_array_equal(model.transform(X.to_numpy()), member)
    pred = model.predict(X)
    assert set(np.unique(pred)) <= {-1, 0, 1, 2}
    np.testing.assert_array_equal(pred >= 0, member.any(axis=1))
    np.testing.assert_array_equal(pred[member[:, 0] == 1], 0)
    assert model.score(X, y) == pytest.approx(model.subgroups_["quality"].iloc[0])
    with pytest.raises(SubgroupInputError, match="X has 4 features, but SubgroupDiscovery is"):
        model.transform(np.zeros((3, 4)))
    fresh = clone(model)
    assert fresh.get_params() == model.get_params() and not hasattr(fresh, "rules_")


def test_ndarray_input_and_several_targets():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((300, 3))
    Y = np.column_stack([X[:, 0] + 0.1 * rng.standard_normal(300),
                         -X[:, 1] + 0.1 * rng.standard_normal(300)])
    model = SubgroupDiscovery(depth=1, top_k=2, n_permutations=0).fit(X, Y)
    assert model.targets_ == ["y0", "y1"]
    assert list(model.subgroups_["target"]) == ["y0", "y0", "y1", "y1"]
    assert model.rules_[0].selectors[0].name == "x0" and model.rules_[0].selectors[0].op == ">="
    assert model.rules_[2].selectors[0].name == "x1" and model.rules_[2].selectors[0].op == "<="
    assert model.membership_.shape == (300, 4)


def test_categorical_target_and_features():
    rng = np.random.default_rng(5)
    n = 300
    X = pd.DataFrame({"structure": rng.choice(["rs", "zb", "wz"], n),
                      "radius (AA)": rng.uniform(0.5, 2.0, n)})
    label = np.where((X["structure"] == "zb") & (X["radius (AA)"] < 1.2), "semi", "metal")
    flip = rng.random(n) < 0.05
    label[flip] = np.where(label[flip] == "semi", "metal", "semi")
    y = pd.Series(label, name="kind")
    per_class = SubgroupDiscovery(quality="wracc", top_k=2, n_permutations=0).fit(X, y)
    assert per_class.targets_ == ["kind == 'metal'", "kind == 'semi'"]
    one = SubgroupDiscovery(quality="wracc", top_k=1, positive_class="semi",
                            n_permutations=0).fit(X, y)
    assert str(one.rules_[0]) == "structure == 'zb' AND radius <= 1.2 AA"
    assert one.subgroups_["mean"].iloc[0] > 0.9  # the fraction of 'semi' inside
    with pytest.raises(SubgroupInputError, match="target 'kind' is not numeric"):
        SubgroupDiscovery(quality="impact").fit(X, y)
    with pytest.raises(SubgroupInputError, match="positive_class 'oxide'"):
        SubgroupDiscovery(quality="wracc", positive_class="oxide").fit(X, y)
    with pytest.raises(SubgroupInputError, match="target 'r' has values other than 0 and 1"):
        SubgroupDiscovery(quality="wracc").fit(X, pd.Series(rng.normal(size=n), name="r"))


def test_missing_values_dropped_with_a_warning_naming_the_column(small):
    X, y = small
    X = X.copy()
    y = y.copy()
    X.loc[[3, 7], "c"] = np.nan
    y.iloc[10] = np.inf
    with pytest.warns(UserWarning, match=r"dropped 3 of 400 rows .* c \(2\), E \(1\)"):
        model = SubgroupDiscovery(top_k=2, n_permutations=0).fit(X, y)
    assert model.membership_.shape[0] == 397
    with pytest.raises(SubgroupInputError, match="every row has a missing value"):
        SubgroupDiscovery().fit(X.assign(c=np.nan), y)


def test_constant_and_identifier_features_skipped_with_a_warning(small):
    X, y = small
    X = X.assign(const=1.5, name=[f"m{i}" for i in range(len(X))])
    with pytest.warns(UserWarning) as record:
        model = SubgroupDiscovery(top_k=2, n_permutations=0).fit(X, y)
    messages = " | ".join(str(w.message) for w in record)
    assert "constant feature(s): const" in messages
    assert "identifier-like feature(s) with a distinct value per row: name" in messages
    assert all(s.name not in ("const", "name") for s in model.selectors_)
    with pytest.raises(SubgroupInputError, match="no usable feature"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SubgroupDiscovery().fit(pd.DataFrame({"a": np.ones(10), "b": np.zeros(10)}),
                                np.arange(10.0))


def test_empty_subgroups_are_never_reported():
    # disjoint categories: every 2-conjunction of them is empty
    X = pd.DataFrame({"c": list("abcd") * 25})
    y = np.arange(100.0)
    model = SubgroupDiscovery(depth=2, top_k=10, closed=False, n_permutations=0).fit(X, y)
    assert (model.subgroups_["count"] >= 1).all()
    assert all(len(r) == 1 for r in model.rules_)
    model = SubgroupDiscovery(depth=2, top_k=10, min_coverage=0.3, n_permutations=0).fit(X, y)
    assert len(model.subgroups_) == 0


def test_bad_parameters_name_the_parameter(small):
    X, y = small
    cases = [({"search": "dfs"}, "'search'"), ({"depth": 0}, "'depth'"),
             ({"cut_points": "bins"}, "'cut_points'"), ({"min_coverage": 2.0}, "'min_coverage'"),
             ({"max_overlap": 1.0}, "'max_overlap'"), ({"n_jobs": 0}, "'n_jobs'"),
             ({"search": "beam", "beam_width": 3}, "'beam_width'"),
             ({"quality": "best"}, "quality must be one of")]
    for params, match in cases:
        with pytest.raises(SubgroupInputError, match=match):
            SubgroupDiscovery(**params).fit(X, y)
    with pytest.raises(SubgroupInputError, match="X has 400 rows but y has 3"):
        SubgroupDiscovery().fit(X, [1.0, 2.0, 3.0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 25),
    kinds=st.lists(st.sampled_from(["num", "nan", "inf", "const", "text", "bool"]), min_size=1,
                   max_size=4),
    target=st.sampled_from(["num", "nan", "text", "const", "allnan"]),
    quality=st.sampled_from(["impact", "median-shift", "wracc", "cjs", "std-reduction"]),
    seed=st.integers(0, 1000),
)
def test_hypothesis_bad_input_gives_a_clear_error_or_a_result(n, kinds, target, quality, seed):
    rng = np.random.default_rng(seed)
    cols = {}
    for i, kind in enumerate(kinds):
        v = rng.normal(size=n)
        if kind == "nan":
            v[rng.random(n) < 0.3] = np.nan
        elif kind == "inf":
            v[0] = np.inf
        elif kind == "const":
            v = np.full(n, 2.0)
        elif kind == "text":
            v = rng.choice(["a", "b"], n)
        elif kind == "bool":
            v = v > 0
        cols[f"f{i}"] = v
    X = pd.DataFrame(cols)
    y = {"num": rng.normal(size=n), "const": np.ones(n), "text": rng.choice(["u", "v"], n),
         "nan": np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n)),
         "allnan": np.full(n, np.nan)}[target]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model = SubgroupDiscovery(quality=quality, n_permutations=5, random_state=0).fit(X, y)
        except SubgroupInputError as err:
            assert str(err) and "\n" not in str(err)
            return
    assert (model.subgroups_["count"] >= 1).all()
    assert np.isfinite(model.subgroups_["quality"]).all()


def test_cut_points_quantiles_kmeans_and_intervals():
    v = np.array([0.0, 0.0, 1.0, 1.0, 2.0, 5.0])
    np.testing.assert_allclose(cut_points(v, 9), [0.5, 1.5, 3.5])  # few values: every gap
    rng = np.random.default_rng(0)
    w = np.concatenate([rng.normal(0, 0.1, 100), rng.normal(5, 0.1, 100),
                        rng.normal(10, 0.1, 100)])
    km = cut_points(w, 2, "kmeans")
    assert len(km) == 2 and 0.3 < km[0] < 4.7 and 5.3 < km[1] < 9.7
    q = cut_points(rng.normal(size=1000), 3)
    assert len(q) == 3 and abs(q[1]) < 0.15
    X = pd.DataFrame({"a (eV)": rng.normal(size=50)})
    sels, covers = make_selectors(X, n_cuts=3, intervals=True)
    assert [s.op for s in sels].count("in") == 2
    interval = next(s for s in sels if s.op == "in")
    assert str(interval).startswith(f"{interval.value[0]:.3g} eV <= a <= ")
    np.testing.assert_array_equal(covers[:, sels.index(interval)],
                                  Rule((interval,)).covers(X))


def test_diversity_filter_limits_overlap(small):
    X, y = small
    model = SubgroupDiscovery(top_k=5, max_overlap=0.5, n_permutations=0).fit(X, y)
    m = model.membership_
    for i in range(m.shape[1]):
        for j in range(i):
            jac = (m[:, i] & m[:, j]).sum() / (m[:, i] | m[:, j]).sum()
            assert jac <= 0.5
    plain = SubgroupDiscovery(top_k=5, n_permutations=0).fit(X, y)
    assert str(plain.rules_[0]) == str(model.rules_[0])


def test_rule_on_a_frame_found_by_name_without_unit():
    sel = Selector("r_p_A", "<=", 0.9, column="r_p_A (AA)", index=0, unit="AA")
    rule = Rule((sel,))
    frame = pd.DataFrame({"r_p_A (AA) ": [0.5, 1.0]})  # header spelled differently
    np.testing.assert_array_equal(rule.covers(frame), [True, False])
    with pytest.raises(SubgroupInputError, match="no column 'r_p_A'"):
        rule.covers(pd.DataFrame({"x": [1.0]}))
    assert rule.to_dict()["selectors"][0] == {"feature": "r_p_A", "column": "r_p_A (AA)",
                                              "op": "<=", "value": 0.9, "unit": "AA"}


@parametrize_with_checks([SubgroupDiscovery(depth=1, top_k=3, n_permutations=0)])
def test_sklearn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant columns and dropped rows warn by design
        check(estimator)
