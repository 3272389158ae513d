"""Step-by-step prediction with a carried state equals whole-sequence prediction."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from sksgr import SRNClassifier, SRNRegressor
from sksgr.streaming import StreamState

READOUTS = ["last", "mean", "max", ("last", "mean", "max")]
T = 9


def _fit(Est, readout="last", return_sequences=False, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, T, 2)).astype(dtype)
    if return_sequences:
        y = (X[:, :, 0] > 0).astype(int) if Est is SRNClassifier else X[:, :, 0]
    else:
        y = (X[:, 2, 0] > 0).astype(int) if Est is SRNClassifier else X[:, 2, 0]
    est = Est(n_hidden=7, readout=readout, return_sequences=return_sequences, max_iter=3,
              random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y), X


def _streamed(est, X, chunks, method="predict_stream"):
    state = est.start_stream(n_sequences=len(X))
    parts, start = [], 0
    for size in chunks:
        out, state = getattr(est, method)(X[:, start:start + size], state)
        parts.append(out)
        start += size
    assert start == X.shape[1] and state.n_steps == X.shape[1]
    return np.concatenate(parts, axis=1)


@pytest.mark.parametrize("Est", [SRNClassifier, SRNRegressor])
@pytest.mark.parametrize("readout", READOUTS)
def test_many_to_one_stream_gives_the_prediction_of_each_prefix(Est, readout):
    est, X = _fit(Est, readout)
    X = X[:5]
    method = "predict_proba_stream" if Est is SRNClassifier else "predict_stream"
    whole = "predict_proba" if Est is SRNClassifier else "predict"
    streamed = _streamed(est, X, [1] * T, method)
    for t in range(T):
        np.testing.assert_allclose(streamed[:, t], getattr(est, whole)(X[:, :t + 1]),
                                   rtol=1e-10, atol=1e-12)
    # in chunks: the same
    np.testing.assert_allclose(_streamed(est, X, [4, 1, 4], method), streamed, rtol=1e-12)
    if Est is SRNClassifier:
        np.testing.assert_array_equal(_streamed(est, X, [T])[:, -1], est.predict(X))


@pytest.mark.parametrize("Est", [SRNClassifier, SRNRegressor])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_per_step_stream_equals_predict(Est, dtype):
    est, X = _fit(Est, return_sequences=True, dtype=dtype)
    X = X[:6]
    tol = 1e-5 if dtype == np.float32 else 1e-10
    if Est is SRNClassifier:
        np.testing.assert_allclose(_streamed(est, X, [2, 3, 4], "predict_proba_stream"),
                                   est.predict_proba(X), rtol=tol, atol=tol)
    else:
        np.testing.assert_allclose(_streamed(est, X, [1] * T), est.predict(X), rtol=tol,
                                   atol=tol)


def test_the_state_is_not_modified_and_can_branch():
    est, X = _fit(SRNRegressor, "mean")
    state = est.start_stream(3)
    a, s1 = est.predict_stream(X[:3, :4], state)
    assert state.n_steps == 0 and not state.z.any() and np.isneginf(state.peak).all()
    b, s2 = est.predict_stream(X[:3, 4:], s1)
    c, _ = est.predict_stream(X[:3, 4:], s1)  # the same state twice: the same outputs
    np.testing.assert_array_equal(b, c)
    assert isinstance(s2, StreamState) and s2.n_steps == T


def test_univariate_streams_take_two_dimensional_chunks():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, T))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = SRNRegressor(n_hidden=5, max_iter=2, random_state=0).fit(X, X[:, 1])
    state = reg.start_stream(2)
    out, state = reg.predict_stream(X[:2, :5], state)
    out, state = reg.predict_stream(X[:2, 5:], state)
    np.testing.assert_allclose(out[:, -1], reg.predict(X[:2]), rtol=1e-10)


def test_stream_errors_name_what_is_wrong():
    est, X = _fit(SRNRegressor)
    state = est.start_stream(2)
    with pytest.raises(ValueError, match="the chunk has 3 sequences but the stream carries 2"):
        est.predict_stream(X[:3, :1], state)
    bad = X[:2, :3].copy()
    bad[0, 2] = np.nan
    with pytest.raises(ValueError, match="same number of steps"):
        est.predict_stream(bad, state)
    with pytest.raises(TypeError, match="state must be a StreamState"):
        est.predict_stream(X[:2, :1], {"z": 0})
    with pytest.raises(ValueError, match="n_sequences must be an int >= 1"):
        est.start_stream(0)
    other, _ = _fit(SRNRegressor, seed=1)
    other.set_params(n_hidden=3, warm_start=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        other.fit(X, X[:, 2, 0])
    with pytest.raises(ValueError, match="started for another network"):
        other.predict_stream(X[:2, :1], state)
