"""Kernel ridge regression and Gaussian processes: against scikit-learn, exact CV, calibration."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from sklearn.kernel_ridge import KernelRidge
from sklearn.model_selection import KFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from bigmax.analytics.kernels import (
    GaussianProcessModel,
    KernelRidgeCV,
    KernelRidgeRegressor,
    learning_curve_data,
    plot_learning_curve,
    plot_parity,
    rmsle,
)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    X = rng.uniform(-2, 2, (160, 3))
    y = np.sin(2 * X[:, 0]) + 0.3 * X[:, 1] ** 2 + 0.05 * rng.normal(size=160)
    return X, y


@parametrize_with_checks(
    [
        KernelRidgeRegressor(),
        KernelRidgeCV(gamma_scales=(0.5, 1.0), alphas=(1e-3, 1e-1), cv=3),
        GaussianProcessModel(gamma_scales=(0.5, 1.0), noises=(1e-3, 1e-1)),
    ]
)
def test_sklearn_estimator_contract(estimator, check):
    check(estimator)


@pytest.mark.parametrize("kernel, sk_kernel", [("laplacian", "laplacian"), ("gaussian", "rbf")])
def test_krr_equals_sklearn_kernel_ridge(data, kernel, sk_kernel):
    X, y = data
    ours = KernelRidgeRegressor(kernel=kernel, gamma=0.7, alpha=1e-2).fit(X, y)
    # scikit-learn's KernelRidge has no intercept: fit it on the centred target
    ref = KernelRidge(alpha=1e-2, kernel=sk_kernel, gamma=0.7).fit(X, y - y.mean())
    np.testing.assert_allclose(ours.predict(X[:20]), ref.predict(X[:20]) + y.mean(), atol=1e-8)


def test_krr_sparse_input_equals_dense(data):
    X, y = data
    X = np.where(np.abs(X) < 1, 0.0, X)
    dense = KernelRidgeRegressor(alpha=1e-2).fit(X, y).predict(X[:10])
    sparse = KernelRidgeRegressor(alpha=1e-2).fit(sp.csr_matrix(X), y)
    np.testing.assert_allclose(sparse.predict(sp.csr_matrix(X[:10])), dense, atol=1e-10)


def test_krr_cv_matches_refitting_each_fold(data):
    """The eigendecomposition shortcut gives exactly the out-of-fold predictions of fitting
    each fold from scratch at the chosen (gamma, alpha)."""
    X, y = data
    cv = KernelRidgeCV(gamma_scales=(0.5, 1, 2), alphas=(1e-4, 1e-2, 1), cv=4).fit(X, y)
    assert cv.best_params_["alpha"] in (1e-4, 1e-2, 1) and cv.cv_results_["mean_rmse"].size == 9
    manual = np.empty_like(y)
    for tr, te in KFold(4, shuffle=True, random_state=0).split(X):
        model = KernelRidgeRegressor(gamma=cv.gamma_, alpha=cv.best_params_["alpha"])
        manual[te] = model.fit(X[tr], y[tr]).predict(X[te])
    np.testing.assert_allclose(cv.cv_predictions_, manual, atol=1e-8)
    assert np.isclose(cv.best_score_, cv.cv_results_["mean_rmse"].min())
    # the best of the grid beats a clearly over-regularised model
    assert cv.best_score_ < cv.cv_results_["mean_rmse"].max()


def test_log1p_target_fits_rmsle(data):
    X, y = data
    y = np.exp(y)  # positive, skewed
    model = KernelRidgeCV(target_transform="log1p", cv=3).fit(X, y)
    folds = KFold(3, shuffle=True, random_state=0).split(X)
    per_fold = [rmsle(y[te], model.cv_predictions_[te]) for _, te in folds]
    assert np.isclose(model.best_score_, np.mean(per_fold), rtol=1e-6)
    assert (model.predict(X) > -1).all()
    with pytest.raises(ValueError, match="needs every y > -1"):
        KernelRidgeRegressor(target_transform="log1p").fit(X, y - 10)


def test_rmsle_known_value():
    assert rmsle([0.0, np.e - 1], [0.0, 0.0]) == pytest.approx(np.sqrt(0.5))
    with pytest.raises(ValueError, match="shape"):
        rmsle([1.0, 2.0], [1.0])


def test_gp_mean_is_krr_and_std_is_calibrated(data):
    X, y = data
    train, test = slice(0, 120), slice(120, None)
    gp = GaussianProcessModel(kernel="gaussian", gamma_scales=(0.25, 0.5, 1, 2))
    gp.fit(X[train], y[train])
    krr = KernelRidgeRegressor(kernel="gaussian", gamma=gp.gamma_, alpha=gp.noise_)
    krr.fit(X[train], y[train])
    mean, std = gp.predict(X[test], return_std=True)
    np.testing.assert_allclose(mean, krr.predict(X[test]), atol=1e-8)
    z = np.abs(mean - y[test]) / std
    assert 0.8 <= np.mean(z < 2) <= 1.0  # about 95 % inside 2 sigma
    # noise estimate near the true 0.05
    assert 0.02 < np.sqrt(gp.signal_variance_ * gp.noise_) < 0.12
    far = gp.predict(X[:2] + 50, return_std=True)[1]
    # far from the data: back to the prior, much wider than near it
    np.testing.assert_allclose(far, np.sqrt(gp.signal_variance_ * (1 + gp.noise_)), rtol=1e-6)
    assert (far > 5 * np.median(std)).all()


def test_gp_agrees_with_sklearn_at_the_same_hyperparameters(data):
    X, y = data
    gp = GaussianProcessModel(kernel="gaussian", gamma_scales=(1.0,), noises=(1e-2,)).fit(X, y)
    length = np.sqrt(1 / (2 * gp.gamma_))
    kern = ConstantKernel(gp.signal_variance_, "fixed") * RBF(length, "fixed") + WhiteKernel(
        gp.signal_variance_ * gp.noise_, "fixed"
    )
    ref = GaussianProcessRegressor(kern, optimizer=None, normalize_y=False).fit(X, y - y.mean())
    m_ref, s_ref = ref.predict(X[:15], return_std=True)
    m, s = gp.predict(X[:15], return_std=True)
    np.testing.assert_allclose(m, m_ref + y.mean(), atol=1e-6)
    np.testing.assert_allclose(s, s_ref, rtol=1e-4)
    assert gp.log_marginal_likelihood_ == pytest.approx(
        ref.log_marginal_likelihood_value_, rel=1e-6
    )


def test_bad_parameters_are_named(data):
    X, y = data
    with pytest.raises(ValueError, match="KernelRidgeRegressor.kernel must be one of"):
        KernelRidgeRegressor(kernel="cosine").fit(X, y)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        KernelRidgeRegressor(alpha=0).fit(X, y)
    with pytest.raises(ValueError, match="KernelRidgeCV.cv must be an int >= 2"):
        KernelRidgeCV(cv=1).fit(X, y)
    with pytest.raises(ValueError, match="target_transform must be None or 'log1p'"):
        GaussianProcessModel(target_transform="log").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        KernelRidgeRegressor().fit(np.where(X > 1.9, np.nan, X), y)


def test_learning_curve_and_plots(data, tmp_path):
    X, y = data
    curve = learning_curve_data(KernelRidgeRegressor(alpha=1e-2), X, y, (20, 60, 120), cv=4)
    assert curve["n_train"].tolist() == [20, 60, 120]
    assert curve["mean"][0] > curve["mean"][-1]  # more data, smaller error
    ax = plot_learning_curve({"KRR": curve})
    ax.figure.savefig(tmp_path / "lc.png")
    pred = KernelRidgeRegressor(alpha=1e-2).fit(X, y).predict(X)
    ax = plot_parity(y, pred, y_std=np.full_like(y, 0.1), label="y", unit="eV")
    assert "MAE" in ax.get_legend().get_texts()[0].get_text()
    ax.figure.savefig(tmp_path / "parity.png")
    assert (tmp_path / "parity.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="train_sizes"):
        learning_curve_data(KernelRidgeRegressor(), X, y, (1000,), cv=4)


def test_cholesky_and_eigen_paths_agree(data):
    """Few alphas: one Cholesky per alpha; many: one eigendecomposition per fold."""
    from bigmax.analytics.kernels import cv_predictions_by_alpha, kernel_matrix, pairwise_distances

    X, y = data
    k = kernel_matrix(pairwise_distances(X), 0.3)
    folds = list(KFold(4, shuffle=True, random_state=1).split(X))
    alphas = np.logspace(-6, 0, 13)
    many = cv_predictions_by_alpha(k, y, folds, alphas)
    few = np.vstack([cv_predictions_by_alpha(k, y, folds, [a]) for a in alphas[::4]])
    np.testing.assert_allclose(many[::4], few, atol=1e-7)


def test_block_kernels_and_weights(data):
    """A product of per-block kernels; weight (1, 0) ignores the second block entirely."""
    X, y = data
    noise = np.random.default_rng(9).normal(size=(len(y), 4))
    both = np.hstack([X, noise])
    first_only = KernelRidgeRegressor(blocks=[3, 4], block_weights=[1, 0], alpha=1e-2)
    alone = KernelRidgeRegressor(alpha=1e-2).fit(X, y)
    np.testing.assert_allclose(first_only.fit(both, y).predict(both[:10]), alone.predict(X[:10]))
    cv = KernelRidgeCV(blocks=[3, 4], block_weights=[[1, 1], [1, 0], [0, 1]], cv=4).fit(both, y)
    assert cv.best_params_["block_weights"] == (1.0, 0.0)  # the noise block is switched off
    gp = GaussianProcessModel(blocks=[3, 4], block_weights=[[1, 1], [1, 0], [0, 1]]).fit(both, y)
    assert gp.block_weights_ == (1.0, 0.0) and gp.lml_grid_.shape == (3, 5, 9)
    with pytest.raises(ValueError, match="blocks must be positive widths adding up to the 7"):
        KernelRidgeRegressor(blocks=[3, 3]).fit(both, y)
    with pytest.raises(ValueError, match="each entry needs 2 non-negative weights"):
        KernelRidgeCV(blocks=[3, 4], block_weights=[[1, -1]]).fit(both, y)


def test_several_targets_share_the_folds_and_keep_their_own_parameters(data):
    X, y = data
    Y = np.column_stack([y, np.cos(X[:, 2]) * 3])
    grid = {"gamma_scales": (0.25, 1.0, 4.0), "alphas": (1e-4, 1e-2, 1.0), "cv": 4}
    both = KernelRidgeCV(**grid).fit(X, Y)
    assert both.cv_predictions_.shape == Y.shape and len(both.best_params_) == 2
    for t in range(2):
        one = KernelRidgeCV(**grid).fit(X, Y[:, t])
        assert both.best_params_[t] == one.best_params_
        np.testing.assert_allclose(both.cv_predictions_[:, t], one.cv_predictions_, atol=1e-8)
        np.testing.assert_allclose(both.predict(X[:5])[:, t], one.predict(X[:5]), atol=1e-8)
