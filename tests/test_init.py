"""The ``init`` parameter: how the initial weights are drawn."""

import numpy as np
import pytest

from sksgr import SRNClassifier, SRNRegressor
from sksgr.diagnostics import init_network
from sksgr.metrics import tolerance_accuracy_score

rng = np.random.default_rng(0)
X = rng.normal(size=(40, 8, 3))
y = (X[:, :, 0].sum(1) > 0).astype(int)


def _radius(W):
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def test_xavier_uniform_bounds_and_spread():
    # the drawn output layer: readout "last", output_init "random" (the defaults fit it by ridge)
    drawn = dict(readout="last", output_init="random")
    net = init_network(SRNClassifier(n_hidden=100, init="xavier_uniform", **drawn), X, y,
                       random_state=0)
    for W, (fan_in, fan_out) in ((net.input_weights_, (3, 100)),
                                 (net.recurrent_weights_, (100, 100)),
                                 (net.output_weights_, (100, 2))):
        a = np.sqrt(6 / (fan_in + fan_out))
        assert np.abs(W).max() <= a and np.abs(W).max() > 0.95 * a
        assert abs(W.std() - a / np.sqrt(3)) < 0.1 * a  # U[-a, a] has sd a / sqrt(3)
    np.testing.assert_array_equal(net.hidden_bias_, 0)
    np.testing.assert_array_equal(net.output_bias_, 0)
    assert 0.9 < _radius(net.recurrent_weights_) < 1.1  # about 1 for 100 units
    # sigma is not used by xavier_uniform
    other = init_network(SRNClassifier(n_hidden=100, init="xavier_uniform", sigma=5.0, **drawn),
                         X, y, random_state=0)
    np.testing.assert_array_equal(other.recurrent_weights_, net.recurrent_weights_)


def test_pascanu_init_is_the_explicit_sparse_rescaled_normal_init():
    pascanu = init_network(SRNClassifier(n_hidden=50, init="pascanu"), X, y, random_state=1)
    explicit = init_network(SRNClassifier(n_hidden=50, init="normal", recurrent_nonzeros=15,
                                          spectral_radius=0.95), X, y, random_state=1)
    for name in ("input_weights_", "recurrent_weights_", "output_weights_"):
        np.testing.assert_array_equal(getattr(pascanu, name), getattr(explicit, name))
    W = pascanu.recurrent_weights_
    assert (np.count_nonzero(W, axis=1) == 15).all()
    assert _radius(W) == pytest.approx(0.95)


def test_spectral_radius_and_nonzeros_override_the_init():
    net = init_network(SRNClassifier(n_hidden=30, init="xavier_uniform", spectral_radius=0.5,
                                     recurrent_nonzeros=4), X, y, random_state=0)
    assert _radius(net.recurrent_weights_) == pytest.approx(0.5)
    assert (np.count_nonzero(net.recurrent_weights_, axis=1) == 4).all()
    net = init_network(SRNClassifier(n_hidden=30, init="pascanu", spectral_radius=1.2), X, y,
                       random_state=0)
    assert _radius(net.recurrent_weights_) == pytest.approx(1.2)


def test_normal_init_is_dense_and_the_reservoir_the_default():
    net = init_network(SRNClassifier(n_hidden=30, init="normal", sigma=0.2), X, y,
                       random_state=0)
    assert SRNClassifier().init == SRNRegressor().init == "reservoir"
    assert np.count_nonzero(net.recurrent_weights_) == 900
    assert abs(net.recurrent_weights_.std() - 0.2) < 0.02


def test_unknown_init_is_rejected_in_fit():
    with pytest.raises(ValueError, match="init"):
        SRNRegressor(init="orthogonal").fit(X, y.astype(float))


def test_warm_fit_restarts_the_momentum_and_partial_fit_keeps_it():
    """scikit-learn MLP's semantics: each fit a fresh optimizer state."""
    Xr, yr = X, X[:, :, 0].sum(1)
    # SGD with momentum on the paper's network (Adam has no momentum term, the
    # reservoir start ignores sigma, and a fit from a closed-form start may keep it)
    kw = dict(n_hidden=6, init="normal", sigma=0.3, readout="last", output_init="random",
              solver="sgd", learning_rate=0.05, momentum=0.9, batch_size=40,
              shuffle=False, tol=None, random_state=0)
    # two warm fits of one full-batch update each == two updates from zero momentum
    warm = SRNRegressor(**kw, max_iter=1, warm_start=True).fit(Xr, yr)
    warm.fit(Xr, yr)
    no_momentum = SRNRegressor(**{**kw, "momentum": 0.0}, max_iter=1, warm_start=True)
    no_momentum.fit(Xr, yr).fit(Xr, yr)
    np.testing.assert_allclose(warm.recurrent_weights_, no_momentum.recurrent_weights_,
                               rtol=1e-12)
    # two partial_fits == one fit of two epochs (momentum carried over)
    part = SRNRegressor(**kw)
    part.partial_fit(Xr, yr).partial_fit(Xr, yr)
    whole = SRNRegressor(**kw, max_iter=2).fit(Xr, yr)
    np.testing.assert_allclose(part.recurrent_weights_, whole.recurrent_weights_, rtol=1e-12)
    assert not np.allclose(part.recurrent_weights_, warm.recurrent_weights_, rtol=1e-6)


def test_inclusive_tolerance_counts_errors_at_the_tolerance():
    y_true = np.array([0.0, 0.0, 0.0, 0.0])
    y_pred = np.array([0.08, -0.08, 0.0800001, 0.01])
    assert tolerance_accuracy_score(y_true, y_pred, tol=0.08) == 0.25
    assert tolerance_accuracy_score(y_true, y_pred, tol=0.08, inclusive=True) == 0.75
