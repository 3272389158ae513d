"""Readouts, transform and the starting output layer of the estimators."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksgr import SRNClassifier, SRNRegressor
from sksgr.datasets import make_adding

from conftest import assert_decisions_follow_the_rule
from numpy_reference import forward

POOLED = ("last", "mean", "max")


def _quiet(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return est.fit(*args, **kwargs)


def _ragged(n=120, T=25, F=2, seed=0):
    """Sequences of 5 ... T steps; the class: the sign of feature 0's mean."""
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(int(rng.integers(5, T + 1)), F)) for _ in range(n)]
    return X, np.array([int(x[:, 0].mean() > 0) for x in X])


def _params(est):
    return {"W_in": est.input_weights_, "W_rec": est.recurrent_weights_,
            "b": est.hidden_bias_, "W_out": est.output_weights_, "b_out": est.output_bias_}


@pytest.mark.parametrize("readout", ["last", "mean", "max", POOLED, ("max", "mean")])
def test_transform_is_the_readout_of_the_fitted_network(readout):
    X, y = _ragged()
    clf = _quiet(SRNClassifier(n_hidden=6, readout=readout, max_iter=2, random_state=0), X, y)
    pools = (readout,) if isinstance(readout, str) else readout
    feats = clf.transform(X)
    assert feats.shape == (len(X), 6 * len(pools))
    names = clf.get_feature_names_out()
    assert list(names[:2]) == [f"srnclassifier_{pools[0]}0", f"srnclassifier_{pools[0]}1"]
    assert len(names) == feats.shape[1] == clf.output_weights_.shape[0]
    # the NumPy reference on the padded sequences, with the fitted weights
    T = max(len(x) for x in X)
    Xp = np.zeros((len(X), T, 2))
    for i, x in enumerate(X):
        Xp[i, :len(x)] = x
    lengths = np.array([len(x) for x in X])
    _, ref, logits = forward(_params(clf), Xp, lengths, pools)
    np.testing.assert_allclose(feats, ref, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(clf.predict_proba(X).argmax(1), logits.argmax(1))


def test_a_trained_network_feeds_a_pipeline():
    X, y = _ragged(seed=1)
    pipe = make_pipeline(SRNClassifier(n_hidden=8, readout=POOLED, max_iter=5, random_state=0),
                         StandardScaler(), LogisticRegression())
    _quiet(pipe, X[:90], y[:90])
    assert pipe.score(X[90:], y[90:]) > 0.8
    assert pipe[:-1].get_feature_names_out()[0] == "srnclassifier_last0"


def test_mean_readout_learns_a_mean_over_ragged_sequences():
    X, y = _ragged(n=400, T=40, seed=2)
    clf = _quiet(SRNClassifier(n_hidden=16, readout="mean", output_init="ridge", max_iter=30,
                               random_state=0),
                 X[:300], y[:300])
    assert clf.score(X[300:], y[300:]) >= 0.9


@pytest.mark.parametrize("Estimator", [SRNClassifier, SRNRegressor])
def test_max_iter_zero_with_a_ridge_start_is_the_reservoir_model(Estimator):
    X, y = _ragged(seed=3)
    if Estimator is SRNRegressor:
        y = np.array([x[:, 0].mean() for x in X])
    est = Estimator(n_hidden=10, readout=POOLED, output_init="ridge", max_iter=0,
                    random_state=0).fit(X, y)
    assert est.n_iter_ == est.n_candidates_ == 0
    feats = est.transform(X)
    if Estimator is SRNRegressor:  # the same as RidgeCV on the standardised features
        ref = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        np.testing.assert_allclose(est.predict(X), ref.fit(feats, y).predict(feats),
                                   rtol=1e-6, atol=1e-9)
    else:  # the logits are RidgeCV's scores of the +-1 codes, times one temperature
        codes = 2.0 * (y[:, None] == est.classes_[None, :]) - 1.0
        ref = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        scores = ref.fit(feats, codes).predict(feats)
        logits = feats @ est.output_weights_ + est.output_bias_
        tau = np.sum(logits * scores) / np.sum(scores * scores)
        assert tau > 0
        np.testing.assert_allclose(logits, tau * scores, rtol=1e-6, atol=1e-9)
        np.testing.assert_array_equal(est.predict(X), est.classes_[scores.argmax(1)])


def test_output_init_mean_starts_at_the_target_mean():
    X, y = make_adding(200, 10, random_state=0)
    y = y + 18.0  # far from the zero a random output layer starts at
    reg = SRNRegressor(n_hidden=8, output_init="mean", max_iter=0, random_state=0).fit(X, y)
    assert reg.output_bias_[0] == pytest.approx(y.mean())
    clf = SRNClassifier(n_hidden=8, output_init="mean", max_iter=0, random_state=0).fit(
        X, (y > np.quantile(y, 0.8)).astype(int))
    np.testing.assert_allclose(np.exp(clf.output_bias_), [0.8, 0.2])


def test_early_stopping_keeps_a_ridge_start_that_training_does_not_beat():
    X, y = _ragged(n=200, seed=4)
    kw = dict(n_hidden=10, readout=POOLED, output_init="ridge", early_stopping=True,
              random_state=0)
    start = SRNClassifier(**kw, max_iter=0).fit(X, y)
    # a step size that wrecks the network: every validation is worse than the start
    wrecked = _quiet(SRNClassifier(**kw, max_iter=3, solver="sgd", learning_rate=50.0,
                                   tol=None), X, y)
    assert wrecked.n_candidates_ > 0
    assert wrecked.validation_scores_[0] == max(wrecked.validation_scores_)
    for name in ("input_weights_", "recurrent_weights_", "output_weights_", "output_bias_"):
        np.testing.assert_array_equal(getattr(wrecked, name), getattr(start, name))


def test_fitted_readout_is_kept_and_a_warm_start_must_match_it():
    X, y = _ragged(seed=5)
    clf = _quiet(SRNClassifier(n_hidden=6, readout=POOLED, max_iter=1, random_state=0), X, y)
    proba = clf.predict_proba(X)
    clf.set_params(readout="last")
    np.testing.assert_array_equal(clf.predict_proba(X), proba)  # the fitted readout
    with pytest.raises(ValueError, match="readout='last'.*fitted network reads"):
        clf.set_params(warm_start=True).fit(X, y)


@pytest.mark.parametrize("readout", [(), ("last", "last"), ("sum",), ("mean", "max", "last",
                                                                          "mean")])
def test_bad_readouts_are_named(readout):
    X, y = _ragged(n=20)
    with pytest.raises(ValueError, match="readout must be one of"):
        SRNClassifier(readout=readout).fit(X, y)


def test_gradient_regularization_trains_with_a_pooled_readout():
    X, y = _ragged(n=200, seed=6)
    clf = _quiet(SRNClassifier(n_hidden=8, readout=("last", "mean"), max_iter=3, tol=None,
                               gradient_regularization=True, ds_mode="exact", random_state=0),
                 X, y)
    assert clf.q_history_.shape == (clf.n_candidates_,) and np.isfinite(clf.ds_history_).all()
    assert clf.n_updates_ + clf.n_skipped_ == clf.n_candidates_
    # every applied candidate obeys the rule on the pooled readout's Q and dS, or the guard
    assert_decisions_follow_the_rule(clf)


def test_reservoir_init_draws_an_echo_state_network():
    X, y = _ragged(seed=7)
    clf = SRNClassifier(n_hidden=30, init="reservoir", readout=POOLED, output_init="ridge",
                        max_iter=0, random_state=0).fit(X, y)
    assert np.max(np.abs(np.linalg.eigvals(clf.recurrent_weights_))) == pytest.approx(0.95)
    assert np.all(clf.recurrent_weights_ != 0)  # dense
    assert 0 < np.max(np.abs(clf.input_weights_)) <= 0.5
    assert 0 < np.max(np.abs(clf.hidden_bias_)) <= 0.2
    sparse = SRNClassifier(n_hidden=30, init="reservoir", recurrent_nonzeros=3,
                           spectral_radius=0.5, max_iter=0, random_state=0).fit(X, y)
    assert np.all(np.count_nonzero(sparse.recurrent_weights_, axis=1) == 3)
    assert np.max(np.abs(np.linalg.eigvals(sparse.recurrent_weights_))) == pytest.approx(0.5)


def test_a_ridge_start_that_training_does_not_beat_is_kept_without_validation():
    X, y = _ragged(n=150, seed=8)
    y = np.array([x[:, 0].mean() for x in X])  # regression: the ridge start is near optimal
    kw = dict(n_hidden=10, readout=POOLED, random_state=0)
    start = SRNRegressor(**kw, max_iter=0).fit(X, y)
    wrecked = _quiet(SRNRegressor(**kw, max_iter=3, solver="sgd", learning_rate=50.0, tol=None),
                     X, y)
    assert wrecked.kept_start_ and wrecked.n_candidates_ > 0
    np.testing.assert_array_equal(wrecked.predict(X), start.predict(X))
    # a gentle training that improves the training loss is kept
    trained = _quiet(SRNClassifier(n_hidden=10, readout=POOLED, max_iter=5, random_state=0),
                     *_ragged(n=150, seed=8))
    assert not trained.kept_start_
    # partial_fit never goes back to its start
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        part = SRNRegressor(**kw, solver="sgd", learning_rate=1.0).partial_fit(X, y)
    assert not part.kept_start_
    assert not np.array_equal(part.predict(X), start.predict(X))
