"""Domain of applicability: where a regressor's error is low, found as a rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

from bigmax.analytics.subgroups import SubgroupDiscovery, SubgroupInputError
from bigmax.analytics.subgroups.applicability import domain_of_applicability
from bigmax.analytics.subgroups.plot import plot_rule_2d, plot_subgroups


@pytest.fixture(scope="module")
def kinked():
    # linear for a < 0.5, strongly curved above: a straight line fits the low side well
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a (eV)": rng.uniform(-2, 2, 1500), "b": rng.uniform(-1, 1, 1500)})
    a = X["a (eV)"].to_numpy()
    y = a + np.where(a > 0.5, 3 * (a - 0.5) ** 2, 0.0) + 0.05 * rng.standard_normal(1500)
    return X, y


def test_domain_of_a_linear_fit(kinked):
    X, y = kinked
    model = LinearRegression().fit(X, y)
    doa = domain_of_applicability(model, X, y, depth=2, n_cuts=9)
    # the line is pulled by the curved side; it is reliable on a band of a below the kink
    assert {s.name for s in doa.rule} == {"a"}, str(doa.rule)
    assert any(s.op == "<=" and s.value < 0.5 for s in doa.rule), str(doa.rule)
    assert doa.error_inside < 0.5 * doa.error_outside
    assert doa.coverage > 0.3
    inside = doa.covers(X)
    err = np.abs(y - model.predict(X))
    assert doa.error_inside == pytest.approx(err[inside].mean())
    assert doa.error_outside == pytest.approx(err[~inside].mean())
    assert "inside vs" in str(doa)
    # predictions instead of a model, squared loss: the same region
    sq = domain_of_applicability(model.predict(X), X, y, loss="squared")
    assert sq.loss == "squared" and sq.error_inside < sq.error_outside


def test_domain_bad_input(kinked):
    X, y = kinked
    with pytest.raises(SubgroupInputError, match="predictions have shape"):
        domain_of_applicability(np.zeros(3), X, y)
    with pytest.raises(SubgroupInputError, match="loss must be"):
        domain_of_applicability(np.zeros(len(y)), X, y, loss="hinge")
    bad = np.zeros(len(y))
    bad[0] = np.nan
    with pytest.raises(SubgroupInputError, match="NaN"):
        domain_of_applicability(bad, X, y)


def test_plots(kinked, tmp_path):
    X, y = kinked
    doa = domain_of_applicability(LinearRegression().fit(X, y), X, y)
    fig = plot_subgroups(doa.sgd, max_subgroups=3)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 3
    fig.savefig(tmp_path / "d.png")
    with pytest.raises(SubgroupInputError, match="uses 1 features, not 2"):
        plot_rule_2d(doa.sgd, X, index=0)
    planted = 2.0 * ((X["a (eV)"] > 0) & (X["b"] < 0)) + np.random.default_rng(1).normal(
        size=len(X))
    sgd = SubgroupDiscovery(top_k=1, n_permutations=0).fit(X, planted)
    fig2 = plot_rule_2d(sgd, X, color=planted, color_label="y")
    fig2.savefig(tmp_path / "r.png")
    assert (tmp_path / "r.png").stat().st_size > 1000
    assert "AND" in fig2.axes[0].get_title()
