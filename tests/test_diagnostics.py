"""sksgr.diagnostics and sksgr.plotting: gradient profiles, training dynamics, figures."""

import importlib
import sys
from functools import partial

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state

import sksgr.diagnostics as diagnostics
from sksgr import SRNClassifier as _SRNClassifier
from sksgr import SRNRegressor as _SRNRegressor
from sksgr._base import continue_training
from sksgr.datasets import make_temporal_order
from sksgr.diagnostics import (
    Dynamics,
    GradientProfile,
    gradient_norm_profile,
    init_network,
    record_dynamics,
)

from conftest import PAPER_SGD
from numpy_reference import backward_deltas, forward, output_error

SMALL = dict(n_hidden=8, sigma=0.3, learning_rate=0.05, batch_size=5, random_state=0)

# This module tests the paper's SGD training: every network starts from the
# paper's configuration (explicit arguments still override it).
SRNClassifier = partial(_SRNClassifier, **PAPER_SGD)
SRNRegressor = partial(_SRNRegressor, **PAPER_SGD)


def _problem(kind, n=9, T=7, F=3, seed=0):
    """NaN-padded sequences of lengths 1..T, targets, and the kernel targets Y."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F))
    lengths = rng.randint(1, T + 1, size=n)
    lengths[0] = T
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    if kind == "classifier":
        y = np.arange(n) % 3
        Y = np.eye(3)[y]
    else:
        y = rng.normal(size=(n, 2))
        Y = y
    return X, lengths, y, Y


def _params(est):
    return {
        "W_in": est.input_weights_, "W_rec": est.recurrent_weights_, "b": est.hidden_bias_,
        "W_out": est.output_weights_, "b_out": est.output_bias_,
    }


def _reference_profile(est, X, lengths, Y, head):
    """Per-depth mean norms by loops over sequences, from the NumPy reference BPTT."""
    params = _params(est)
    Xz = np.nan_to_num(X, nan=0.0)
    Z, _, logits = forward(params, Xz, lengths)
    per_seq, err = output_error(logits, Y, head)
    D = backward_deltas(params, Z, lengths, err @ params["W_out"].T)  # per-sequence losses
    T = lengths.max()
    out = np.zeros((3, T))
    counts = np.zeros(T, dtype=int)
    for h in range(T):
        for i, L in enumerate(lengths):
            if L <= h:
                continue
            t = L - 1 - h
            d = D[t, i]
            out[0, h] += np.linalg.norm(d)
            out[1, h] += np.linalg.norm(np.outer(Xz[i, t], d))
            out[2, h] += np.linalg.norm(np.outer(Z[t, i], d))  # Z[t] = z(t-1)
            counts[h] += 1
    return out / counts, counts, per_seq.mean()


# -- gradient_norm_profile -------------------------------------------------------

@pytest.mark.parametrize("kind", ["classifier", "regressor"])
@pytest.mark.parametrize("block_bytes", [None, 1])
def test_profile_matches_a_direct_numpy_computation(kind, block_bytes, monkeypatch):
    if block_bytes is not None:  # one sequence per block: the blockwise sums must agree
        monkeypatch.setattr(diagnostics, "_BLOCK_BYTES", block_bytes)
    X, lengths, y, Y = _problem(kind)
    cls, head = (SRNClassifier, "softmax") if kind == "classifier" else (SRNRegressor, "identity")
    est = init_network(cls(n_hidden=5, sigma=0.5, random_state=0), X, y)
    rng = np.random.RandomState(1)
    est.hidden_bias_ = rng.normal(scale=0.3, size=5)  # biases start at 0: exercise them
    est.output_bias_ = rng.normal(scale=0.3, size=est.output_bias_.shape)

    p = gradient_norm_profile(est, X, y)
    ref, counts, loss = _reference_profile(est, X, lengths, Y, head)

    assert isinstance(p, GradientProfile)
    np.testing.assert_array_equal(p.depth, np.arange(lengths.max()))
    np.testing.assert_array_equal(p.n_sequences, counts)
    np.testing.assert_allclose(p.delta_norm, ref[0], rtol=1e-10)
    np.testing.assert_allclose(p.input_grad_norm, ref[1], rtol=1e-10)
    np.testing.assert_allclose(p.recurrent_grad_norm, ref[2], rtol=1e-10, atol=1e-300)
    assert p.recurrent_grad_norm[-1] == 0.0  # only the length-T sequence reaches it: z(-1) = 0
    assert p.loss == pytest.approx(loss, rel=1e-10)


def test_profile_does_not_depend_on_the_number_of_sequences():
    # Deltas are those of each sequence's own loss, not of the minibatch mean.
    X, lengths, y, _ = _problem("classifier")
    est = init_network(SRNClassifier(n_hidden=5, sigma=0.5, random_state=0), X, y)
    both = gradient_norm_profile(est, np.concatenate([X, X]), np.concatenate([y, y]))
    once = gradient_norm_profile(est, X, y)
    np.testing.assert_allclose(both.delta_norm, once.delta_norm, rtol=1e-12)


def test_profile_of_a_fitted_float32_network():
    X, y = make_temporal_order(30, 12, random_state=0)
    est = SRNClassifier(**SMALL, max_candidates=6, tol=None).fit(X.astype(np.float32), y)
    assert est.recurrent_weights_.dtype == np.float32
    p = gradient_norm_profile(est, X.astype(np.float32), y)
    assert p.delta_norm.dtype == np.float64 and np.all(np.isfinite(p.delta_norm))
    np.testing.assert_allclose(p.delta_norm, gradient_norm_profile(est, X, y).delta_norm)


def test_small_init_vanishes_and_large_spectral_radius_explodes():
    X, y = make_temporal_order(20, 30, random_state=0)
    small = init_network(SRNClassifier(n_hidden=50, random_state=0), X, y)  # sigma = 0.01
    paper = gradient_norm_profile(small, X, y)
    assert paper.delta_norm[-1] < 1e-15 * paper.delta_norm[0]
    assert paper.q_factor() > 15
    big = init_network(SRNClassifier(n_hidden=50, spectral_radius=1.5, random_state=0), X, y)
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(big.recurrent_weights_))), 1.5)
    grows = gradient_norm_profile(big, X, y)
    assert grows.delta_norm[-1] > 100 * grows.delta_norm[0]
    assert grows.q_factor() < -2
    assert grows.q_factor(0) == 0.0


def test_profile_reads_the_edited_recurrent_weights():
    X, y = make_temporal_order(20, 15, random_state=0)
    net = init_network(SRNClassifier(n_hidden=10, sigma=0.3, random_state=0), X, y)
    before = gradient_norm_profile(net, X, y)
    net.recurrent_weights_ = np.zeros_like(net.recurrent_weights_)
    cut = gradient_norm_profile(net, X, y)
    assert before.delta_norm[1:].min() > 0
    assert np.all(cut.delta_norm[1:] == 0.0)  # delta(t-1) = delta(t) W_rec^T f' = 0
    assert cut.delta_norm[0] > 0


def test_profile_requires_a_fitted_network():
    X, y = make_temporal_order(10, 10, random_state=0)
    with pytest.raises(NotFittedError):
        gradient_norm_profile(SRNClassifier(), X, y)


# -- init_network -----------------------------------------------------------------

def test_init_network_is_the_starting_point_of_fit():
    X, y = make_temporal_order(20, 10, random_state=0)
    clf = SRNClassifier(n_hidden=12, spectral_radius=0.95, recurrent_nonzeros=3, random_state=4)
    net = init_network(clf, X, y)
    assert not hasattr(clf, "recurrent_weights_")  # the estimator is left alone
    assert net.n_updates_ == 0 and net.get_params() == clf.get_params()
    np.testing.assert_array_equal(net.classes_, np.unique(y))
    assert net.predict(X).shape == (20,)
    np.testing.assert_array_equal((net.recurrent_weights_ != 0).sum(axis=1), 3)
    np.testing.assert_allclose(np.max(np.abs(np.linalg.eigvals(net.recurrent_weights_))), 0.95)
    # one minute SGD step from the same seed lands next to it
    fitted = clone_fit(clf, X, y, learning_rate=1e-12, max_candidates=1, tol=None)
    for name in ("input_weights_", "recurrent_weights_", "output_weights_"):
        np.testing.assert_allclose(getattr(fitted, name), getattr(net, name), atol=1e-10)
    other = init_network(clf, X, y, random_state=5)
    assert not np.allclose(other.recurrent_weights_, net.recurrent_weights_)
    assert other.random_state == 5


def clone_fit(est, X, y, **params):
    from sklearn.base import clone

    return clone(est).set_params(**params).fit(X, y)


def test_init_network_regressor_on_a_2d_table():
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(15, 6)), rng.normal(size=15)
    net = init_network(SRNRegressor(n_hidden=4, sigma=0.5, random_state=0), X, y)
    assert net.n_features_in_ == 6 and net.n_outputs_ == 1
    assert net.predict(X).shape == (15,)
    assert gradient_norm_profile(net, X, y).delta_norm.shape == (6,)


# -- record_dynamics --------------------------------------------------------------

def test_record_dynamics_records_each_chunk():
    X, y = make_temporal_order(40, 10, random_state=0)
    clf = SRNClassifier(**SMALL)
    dyn = record_dynamics(clf, X, y, n_candidates=23, every=10)
    assert isinstance(dyn, Dynamics)
    np.testing.assert_array_equal(dyn.candidates, [0, 10, 20, 23])
    np.testing.assert_array_equal(dyn.applied, dyn.candidates)
    est = dyn.estimator
    assert est.n_updates_ == 23 and est.n_candidates_ == 23
    assert not hasattr(clf, "n_updates_")
    assert est.get_params() == clf.get_params()  # the chunking parameters are restored
    assert dyn.delta_norms.shape == (4, 10)
    for name in ("activation_mean", "activation_median", "saturation", "spectral_radius",
                 "probe_loss"):
        assert getattr(dyn, name).shape == (4,)
    # measured anew after each chunk
    assert len({row.tobytes() for row in dyn.delta_norms}) == 4
    assert len(set(dyn.activation_mean)) == 4

    # the last record is the trained network, measured on the default probe set
    probe = gradient_norm_profile(est, X, y)  # 40 <= 100 sequences: all of them
    np.testing.assert_allclose(dyn.delta_norms[-1], probe.delta_norm, rtol=1e-12)
    assert dyn.probe_loss[-1] == pytest.approx(probe.loss)
    Z, _, _ = forward(_params(est), X, np.full(len(X), 10))
    A = np.abs(np.einsum("ntf,fh->tnh", X, est.input_weights_)
               + Z[:-1] @ est.recurrent_weights_ + est.hidden_bias_)
    assert dyn.activation_mean[-1] == pytest.approx(A.mean())
    assert dyn.activation_median[-1] == pytest.approx(np.median(A))
    assert dyn.saturation[-1] == pytest.approx(np.mean(1 - np.tanh(A) ** 2 < 0.1))
    assert dyn.spectral_radius[-1] == pytest.approx(
        np.max(np.abs(np.linalg.eigvals(est.recurrent_weights_))))


def test_record_dynamics_counts_candidates_with_gradient_regularization():
    # sigma = 0.01: Q is far above the safe range, so candidates get skipped
    X, y = make_temporal_order(40, 10, random_state=0)
    clf = SRNClassifier(n_hidden=8, batch_size=5, gradient_regularization=True,
                        max_skips=None, random_state=0)
    dyn = record_dynamics(clf, X, y, n_candidates=23, every=10)
    np.testing.assert_array_equal(dyn.candidates, [0, 10, 20, 23])  # the max_candidates clock
    est = dyn.estimator
    assert est.n_candidates_ == 23 == est.n_updates_ + est.n_skipped_
    assert dyn.applied[-1] == est.n_updates_ < 23
    assert np.all(np.diff(dyn.applied) >= 0)
    assert est.gradient_regularization  # the estimator's own settings are used


def test_record_dynamics_probe_set():
    X, y = make_temporal_order(40, 10, random_state=0)
    Xp, yp = make_temporal_order(7, 14, random_state=1)
    dyn = record_dynamics(SRNClassifier(**SMALL), X, y, n_candidates=4, every=2,
                          X_probe=Xp, y_probe=yp)
    assert dyn.delta_norms.shape == (3, 14)
    np.testing.assert_allclose(dyn.delta_norms[-1],
                               gradient_norm_profile(dyn.estimator, Xp, yp).delta_norm)
    with pytest.raises(ValueError, match="together"):
        record_dynamics(SRNClassifier(**SMALL), X, y, n_candidates=4, X_probe=Xp)


def test_record_dynamics_keeps_momentum_between_chunks():
    # Full-batch SGD: chunks of warm fits must equal one uninterrupted fit, which
    # they do only if the velocity carries over.
    X, y = make_temporal_order(20, 10, random_state=0)
    clf = SRNClassifier(n_hidden=6, sigma=0.3, learning_rate=0.1, momentum=0.9,
                        batch_size=20, random_state=0)
    dyn = record_dynamics(clf, X, y, n_candidates=12, every=4)
    whole = init_network(clf, X, y).set_params(warm_start=True, max_candidates=12, max_iter=12,
                                               tol=None).fit(X, y)
    np.testing.assert_allclose(dyn.estimator.recurrent_weights_, whole.recurrent_weights_,
                               rtol=1e-9, atol=1e-12)
    # warm fits restart the momentum (scikit-learn's MLP semantics), so the same
    # chunks as warm fits end elsewhere (and the check above has teeth)
    reset = init_network(clf, X, y).set_params(warm_start=True, max_candidates=4, max_iter=4,
                                               tol=None)
    for _ in range(3):
        reset.fit(X, y)
    assert not np.allclose(reset.recurrent_weights_, whole.recurrent_weights_, rtol=1e-3)


def test_record_dynamics_reshuffles_every_chunk():
    X, y = make_temporal_order(30, 10, random_state=0)
    clf = SRNClassifier(**SMALL)  # random_state=0, batch_size=5: 6 minibatches an epoch
    dyn = record_dynamics(clf, X, y, n_candidates=18, every=6)
    again = record_dynamics(clf, X, y, n_candidates=18, every=6)
    np.testing.assert_array_equal(dyn.estimator.recurrent_weights_,
                                  again.estimator.recurrent_weights_)

    def chunks(random_state):
        net = init_network(clf, X, y, random_state=random_state)
        rng = check_random_state(random_state)
        for _ in range(3):
            continue_training(net, X, y, max_candidates=6, max_epochs=6, random_state=rng)
        return net.recurrent_weights_

    # one generator shared by the initial draw and every chunk ...
    np.testing.assert_array_equal(dyn.estimator.recurrent_weights_,
                                  chunks(np.random.RandomState(0)))
    # ... not the same seed (hence the same epoch order) in every chunk
    assert not np.allclose(dyn.estimator.recurrent_weights_, chunks(0))


def test_record_dynamics_does_not_advance_the_callers_generator():
    X, y = make_temporal_order(20, 10, random_state=0)
    rng = np.random.RandomState(3)
    state = rng.get_state()[1].copy()
    record_dynamics(SRNClassifier(**{**SMALL, "random_state": rng}), X, y, n_candidates=2, every=1)
    np.testing.assert_array_equal(rng.get_state()[1], state)


# -- plotting ---------------------------------------------------------------------

def _profiles():
    X, y = make_temporal_order(10, 12, random_state=0)
    return {
        f"sigma = {s}": gradient_norm_profile(
            init_network(SRNClassifier(n_hidden=8, sigma=s, random_state=0), X, y), X, y)
        for s in (0.01, 0.5)
    }


def _png(fig, path):
    fig.savefig(path)
    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_gradient_profile(tmp_path):
    pytest.importorskip("matplotlib")
    from sksgr.plotting import plot_gradient_profile

    profiles = _profiles()
    fig = plot_gradient_profile(profiles)
    assert len(fig.axes) == 2
    for ax, (label, p) in zip(fig.axes, profiles.items()):
        assert ax.get_title() == label and ax.get_yscale() == "log"
        lines = ax.get_lines()
        assert [line.get_color() for line in lines] == ["tab:blue", "tab:red", "tab:green"]
        np.testing.assert_allclose(lines[0].get_ydata(), p.delta_norm)
    _png(fig, tmp_path / "fig1.png")

    from matplotlib.figure import Figure

    given = Figure().subplots(1, 2)
    assert plot_gradient_profile(profiles, ax=given) is given[0].figure
    with pytest.raises(ValueError, match="Expected 2 axes"):
        plot_gradient_profile(profiles, ax=given[0])


def test_plot_dynamics(tmp_path):
    pytest.importorskip("matplotlib")
    from sksgr.plotting import plot_dynamics

    X, y = make_temporal_order(20, 10, random_state=0)
    runs = {lr: record_dynamics(SRNClassifier(**{**SMALL, "learning_rate": lr}), X, y,
                                n_candidates=6, every=2) for lr in (0.01, 0.1)}
    fig = plot_dynamics({f"lr = {lr}": d for lr, d in runs.items()})
    assert len(fig.axes) == 6  # per run: heat map, activations, colour bar
    bottom = fig.axes[2]  # row-major: the two heat maps, then the activation panels
    np.testing.assert_allclose(bottom.get_lines()[0].get_ydata(), runs[0.01].activation_mean)
    np.testing.assert_allclose(bottom.get_lines()[1].get_ydata(), runs[0.01].activation_median)
    _png(fig, tmp_path / "fig2.png")
    assert len(plot_dynamics(runs[0.1]).axes) == 3


def test_plotting_imports_matplotlib_lazily(monkeypatch):
    import sksgr.plotting

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    module = importlib.reload(sksgr.plotting)  # importable without matplotlib
    with pytest.raises(ImportError, match=r"pip install sksgr\[plot\]"):
        module.plot_gradient_profile(_profiles())


def test_norm_change_and_q_factor_through_the_public_api():
    """Finite differences by editing ``recurrent_weights_`` match the exact dS."""
    from sksgr.diagnostics import norm_change, q_factor

    X, y = make_temporal_order(40, 15, random_state=0)
    clf = SRNClassifier(n_hidden=10, sigma=0.3, max_iter=2, tol=None, random_state=0).fit(X, y)
    D = np.random.RandomState(0).normal(size=(10, 10))
    for depth in (None, 4):
        S, dS = norm_change(clf, X, y, D, depth=depth)
        W = clf.recurrent_weights_.copy()
        clf.recurrent_weights_ = W + 1e-6 * D
        S_plus, _ = norm_change(clf, X, y, D, depth=depth)
        clf.recurrent_weights_ = W - 1e-6 * D
        S_minus, _ = norm_change(clf, X, y, D, depth=depth)
        clf.recurrent_weights_ = W
        assert abs((S_plus - S_minus) / 2e-6 - dS) <= 1e-6 * abs(dS)
        _, dS_lin = norm_change(clf, X, y, D, depth=depth, mode="linear")
        assert dS_lin != dS
    q_all, q_4 = q_factor(clf, X, y), q_factor(clf, X, y, depth=4)
    assert np.isfinite(q_all) and np.isfinite(q_4) and q_all != q_4
    with pytest.raises(ValueError, match="direction must have shape"):
        norm_change(clf, X, y, np.eye(3))
