"""Property-based tests at the front door (``sksgr.network``) and the estimators' input parsing.

Random shapes, lengths, dtypes, NaN-padding patterns, readouts and settings
must give either a clear ValueError or finite outputs of the right shape:
never a crash, a silent NaN or an array of the wrong size.
"""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sksgr import SRNClassifier, SRNFeatures, SRNRegressor  # noqa: E402
from sksgr.network import (  # noqa: E402
    HEAD_IDENTITY,
    HEAD_SOFTMAX,
    Network,
    Optimizer,
    SGRSettings,
)

READOUTS = [p for r in (1, 2, 3) for p in itertools.permutations(("last", "mean", "max"), r)]
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def kernel_inputs(draw):
    n = draw(st.integers(1, 5))
    T = draw(st.integers(1, 6))
    F, H, O = (draw(st.integers(1, 4)) for _ in range(3))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    readout = draw(st.sampled_from(READOUTS))
    head = draw(st.sampled_from([HEAD_SOFTMAX, HEAD_IDENTITY]))
    # lengths: mostly valid, sometimes out of [1, T]
    lengths = np.array(draw(st.lists(st.integers(-1, T + 1), min_size=n, max_size=n)),
                       dtype=np.int32)
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, T, F)).astype(dtype)
    for i, L in enumerate(lengths):
        X[i, max(L, 0):] = 0
    net = Network(F, H, O, head, readout)
    size_error = draw(st.sampled_from([0, 0, 0, -1, 1]))  # a coef of the wrong size, sometimes
    coef = (0.5 * rng.standard_normal(net.n_params + size_error)).astype(dtype)
    Y = (np.eye(O)[rng.integers(0, O, n)] if head == HEAD_SOFTMAX
         else rng.normal(size=(n, O))).astype(dtype)
    return net, X, lengths, coef, Y


def _valid(net, X, lengths, coef):
    return coef.size == net.n_params and np.all((lengths >= 1) & (lengths <= X.shape[1]))


@SETTINGS
@given(kernel_inputs())
def test_forward_calls_give_finite_outputs_of_the_right_shape_or_a_value_error(args):
    net, X, lengths, coef, _ = args
    if not _valid(net, X, lengths, coef):
        with pytest.raises(ValueError):
            net.outputs(X, lengths, coef)
        return
    out = net.outputs(X, lengths, coef)
    feats = net.features(X, lengths, coef)
    assert out.shape == (len(X), net.n_outputs) and out.dtype == coef.dtype
    assert feats.shape == (len(X), net.n_readout_features)
    assert np.isfinite(out).all() and np.isfinite(feats).all()
    assert np.all(np.abs(feats) <= 1)  # pooled tanh states


@SETTINGS
@given(kernel_inputs(), st.booleans(), st.integers(0, 3), st.floats(0, 2))
def test_training_calls_give_finite_weights_or_a_value_error(args, sgr, q_depth, clip):
    net, X, lengths, coef, Y = args
    n = len(X)
    optimizer = Optimizer(learning_rate=0.01)
    state = np.zeros(optimizer.state_size(coef.size), dtype=coef.dtype)
    order = np.arange(n, dtype=np.intp)
    starts = np.array([0, n], dtype=np.intp)
    settings_ = SGRSettings(q_depth=q_depth, max_skips=2) if sgr else None
    kw = {}
    if sgr:
        kw = dict(best_grad=np.zeros(coef.size, dtype=coef.dtype), guard_state=np.zeros(2),
                  q_history=np.empty(1), ds_history=np.empty(1),
                  used_history=np.zeros(1, dtype=np.int8))
    work = net.workspace(n, X.shape[1], coef.dtype, sgr)
    if not _valid(net, X, lengths, coef):
        with pytest.raises(ValueError):
            net.train(X, Y, lengths, order, starts, coef, state, work, np.empty(1), optimizer,
                      settings_, clip_norm=clip, **kw)
        return
    done = net.train(X, Y, lengths, order, starts, coef, state, work, np.empty(1), optimizer,
                     settings_, clip_norm=clip, max_abs_weight=1e6, **kw)
    assert done in (0, 1)
    assert np.isfinite(coef).all() and np.isfinite(state).all()


@st.composite
def padded_sequences(draw):
    n = draw(st.integers(2, 8))
    T = draw(st.integers(1, 7))
    F = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    X = rng.normal(size=(n, T, F))
    pattern = draw(st.sampled_from(["end", "end", "inside", "all", "partial", "inf"]))
    ends = rng.integers(0, T + 1, size=n)
    for i, e in enumerate(ends):
        X[i, e:] = np.nan  # NaN padding after each end (a sequence may be all NaN)
    if pattern == "inside" and T > 2:
        X[0, 0] = np.nan  # a hole before real steps
        X[0, 1:] = 1.0
    elif pattern == "all":
        X[:] = np.nan
    elif pattern == "partial":
        X[0, 0, 0] = np.nan  # only some features of a step
        if F == 1:
            X[0, 0, 0] = 1.0
    elif pattern == "inf":
        X[-1, 0, 0] = np.inf
    readout = draw(st.sampled_from(READOUTS + ["last", "mean", "max"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return X.astype(dtype), readout


def _input_problems(X):
    """What is wrong with a padded batch, computed from the array itself: the
    messages' key phrases (an empty list for valid input)."""
    problems = []
    if np.isinf(X).any():
        problems.append("infinity")
    step_nan = np.isnan(X)
    whole = step_nan.all(axis=2)
    if (step_nan.any(axis=2) & ~whole).any():
        problems.append("some but not all features")
    real = ~whole
    if (~real.any(axis=1)).any():
        problems.append("empty sequence")
    last = np.where(real.any(axis=1), real.shape[1] - 1 - np.argmax(real[:, ::-1], axis=1), -1)
    if any(whole[i, : last[i]].any() for i in range(len(X))):
        problems.append("NaN inside")
    return problems


@SETTINGS
@given(padded_sequences(), st.sampled_from([SRNClassifier, SRNRegressor, SRNFeatures]),
       st.sampled_from(["random", "ridge"]))
def test_estimators_give_a_clear_error_or_finite_outputs(data, Estimator, output_init):
    X, readout = data
    n = len(X)
    y = np.arange(n) % 2 if Estimator is SRNClassifier else np.linspace(0, 1, n)
    if Estimator is SRNFeatures:
        est = SRNFeatures(n_hidden=4, readout=readout, random_state=0)
    else:
        est = Estimator(n_hidden=4, readout=readout, output_init=output_init, max_iter=2,
                        batch_size=3, random_state=0)
    problems = _input_problems(X)
    if problems:  # refused, with a message that names what is wrong
        with pytest.raises(ValueError, match="|".join(problems)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                est.fit(X, y)
        return
    with warnings.catch_warnings():  # valid input: it must fit
        warnings.simplefilter("ignore")
        est.fit(X, y)
    out = est.transform(X)
    assert out.shape[0] == n and np.isfinite(out).all()
    if Estimator is not SRNFeatures:
        pred = est.predict(X)
        assert pred.shape == (n,)
        if Estimator is SRNClassifier:
            assert set(pred) <= set(est.classes_)
        if Estimator is SRNRegressor:
            assert np.isfinite(pred).all()
