"""SRNClassifier and SRNRegressor: input forms, training behaviour, sklearn workflows."""

import inspect
import os
import pickle
import signal
import threading
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksgr import SRNClassifier, SRNRegressor
from sksgr._compat import InvalidParameterError
from sksgr.datasets import make_temporal_order
from sksgr.diagnostics import init_network

from conftest import FAST, PAPER_SGD, sign_task

# FAST's short budget: fits that end at max_iter warn, as they should
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*maximum iterations:sklearn.exceptions.ConvergenceWarning")


def _ragged(X, lengths):
    return [X[i, :L] for i, L in enumerate(lengths)]


def _padded(X, lengths):
    X = X.copy()
    for i, L in enumerate(lengths):
        X[i, L:] = np.nan
    return X


# -- input forms ---------------------------------------------------------------

def test_nan_padding_and_list_input_are_the_same_model():
    X, y = sign_task()
    lengths = np.random.RandomState(1).randint(2, 7, size=len(X))
    a = SRNClassifier(**FAST).fit(_padded(X, lengths), y)
    b = SRNClassifier(**FAST).fit(_ragged(X, lengths), y)
    np.testing.assert_array_equal(a.recurrent_weights_, b.recurrent_weights_)
    np.testing.assert_allclose(a.predict_proba(_ragged(X, lengths)), b.predict_proba(_padded(X, lengths)))
    assert a.n_features_in_ == 2


def test_output_is_read_at_each_sequences_own_last_step():
    X, y = sign_task()
    clf = SRNClassifier(**FAST).fit(X, y)
    lengths = np.full(len(X), 6)
    lengths[:10] = 3
    padded = _padded(X, lengths)
    short = clf.decision_function(X[:10, :3])
    np.testing.assert_allclose(clf.decision_function(padded)[:10], short, rtol=1e-10)
    # garbage after the end is not allowed to matter: only NaN marks the end
    assert not np.allclose(clf.decision_function(X[:10]), short)


def test_univariate_2d_input_fixes_the_length():
    X, y = sign_task(F=1)
    X2 = X[:, :, 0]
    clf = SRNClassifier(**FAST).fit(X2, y)
    assert clf.n_features_in_ == 6
    np.testing.assert_allclose(clf.predict_proba(X2), clf.predict_proba(X))  # 3-D, F = 1
    with pytest.raises(ValueError, match="X has 5 features, but SRNClassifier is expecting 6"):
        clf.predict(X2[:, :5])
    assert clf.predict(X[:, :4]).shape == (len(X),)  # 3-D input may have any length


def test_3d_model_rejects_other_feature_counts():
    X, y = sign_task(F=2)
    clf = SRNClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X has 3 features per step.*expecting 2"):
        clf.predict(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match="univariate sequences.*2 features per step"):
        clf.predict(np.zeros((2, 4)))


@pytest.mark.parametrize(
    "make_X, match",
    [
        (lambda X: X[0, 0], "Expected 2D array|Reshape your data"),
        (lambda X: X[..., None], "ndim=4"),
        (lambda X: np.where(np.arange(6)[None, :, None] == 3, np.inf, X), "infinity"),
        (lambda X: np.where((np.arange(6) == 1)[None, :, None], np.nan, X), "NaN inside sample 0 at step 1"),
        (lambda X: np.concatenate([X[:, :, :1], np.full_like(X[:, :, 1:], np.nan)], 2),
         "some but not all features"),
        (lambda X: np.full_like(X, np.nan), "empty sequence"),
        (lambda X: [X[0], X[1][:, :1]], "different numbers of features"),
    ],
)
def test_bad_X_is_rejected_with_a_clear_message(make_X, match):
    X, y = sign_task()
    Xb = make_X(X)
    yb = y[: len(Xb)]
    with pytest.raises(ValueError, match=match):
        SRNClassifier(**FAST).fit(Xb, yb)


def test_bad_targets_and_parameters():
    X, y = sign_task()
    with pytest.raises(ValueError, match="inconsistent numbers of samples: 120 sequences and 119"):
        SRNClassifier(**FAST).fit(X, y[:-1])
    with pytest.raises(ValueError, match="at least 2 classes.*only one class"):
        SRNClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        SRNClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="requires y to be passed"):
        SRNRegressor(**FAST).fit(X, None)
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        SRNClassifier(learning_rate=-1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="momentum"):
        SRNRegressor(momentum=1.0).fit(X, y)
    with pytest.raises(NotFittedError):
        SRNRegressor().predict(X)


# -- learning ------------------------------------------------------------------

def test_learns_a_short_memory_task_to_95_percent():
    """Temporal order at length 10: A/B symbols at steps 1 and 5, 4 classes. The paper's
    network and SGD: from chance (no closed-form start that solves it already) to 95 %."""
    X, y = make_temporal_order(3000, 10, random_state=0)
    X_test, y_test = make_temporal_order(1000, 10, random_state=1)
    kw = dict(n_hidden=32, init="normal", sigma=0.2, readout="last", output_init="random",
              solver="sgd", batch_size=10, learning_rate=1e-2, max_iter=30, random_state=0)
    assert init_network(SRNClassifier(**kw), X, y).score(X_test, y_test) < 0.3
    clf = SRNClassifier(**kw).fit(X, y)
    assert clf.score(X_test, y_test) >= 0.95


def test_regressor_multi_output_and_1d_targets():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(300, 5, 1))
    Y = np.column_stack([X[:, 1, 0], X[:, 3, 0] - X[:, 1, 0]])
    reg = SRNRegressor(**{**FAST, "max_iter": 100}).fit(X, Y)
    assert reg.predict(X).shape == (300, 2) and reg.n_outputs_ == 2
    assert reg.score(X, Y) > 0.9
    assert SRNRegressor(**FAST).fit(X, Y[:, 0]).predict(X).shape == (300,)


def test_divergence_is_reported_and_weights_stay_finite():
    X, y = sign_task()
    reg = SRNRegressor(**{**PAPER_SGD, "n_hidden": 12}, sigma=1.0, learning_rate=1e6, max_iter=5,
                       random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y * 1e3)
    assert np.isfinite(reg.recurrent_weights_).all()
    assert np.isfinite(reg.predict(X)).all()


def test_early_stopping_keeps_the_best_validated_network():
    X, y = make_temporal_order(600, 10, random_state=0)
    Xv, yv = make_temporal_order(200, 10, random_state=1)
    clf = SRNClassifier(**{**PAPER_SGD, "n_hidden": 16}, sigma=0.2, learning_rate=2e-2, max_iter=8,
                        tol=None,
                        early_stopping=True, validation_interval=20, random_state=0)
    clf.fit(X, y, X_val=Xv, y_val=yv)
    assert len(clf.validation_scores_) == clf.n_updates_ // 20
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.score(Xv, yv) == clf.best_validation_score_
    assert clf.restart_scores_.tolist() == [clf.best_validation_score_]


def test_internal_validation_split_and_early_stop():
    X, y = sign_task(n=200)
    clf = SRNClassifier(**{**FAST, "max_iter": 200, "n_iter_no_change": 3}, early_stopping=True)
    clf.fit(X, y)
    assert clf.n_iter_ < 200  # stopped early
    assert len(clf.validation_scores_) == clf.n_iter_  # one validation per epoch


def test_x_val_contract():
    X, y = sign_task()
    with pytest.raises(ValueError, match="early_stopping is False"):
        SRNClassifier(**FAST).fit(X, y, X_val=X, y_val=y)
    with pytest.raises(ValueError, match="must be passed together"):
        SRNClassifier(**FAST, early_stopping=True).fit(X, y, X_val=X)


def test_max_candidates_and_batches():
    X, y = sign_task(n=95)
    clf = SRNClassifier(**{**FAST, "batch_size": 10}, max_candidates=25).fit(X, y)
    assert clf.n_updates_ == 25 and clf.n_iter_ == 3
    clf = SRNClassifier(**{**FAST, "batch_size": 10, "max_iter": 2, "tol": None}).fit(X, y)
    assert clf.n_updates_ == 20  # 10 minibatches per epoch, the last one of 5


def test_warm_start_and_partial_fit_continue_the_network():
    X, y = sign_task()
    clf = SRNClassifier(**{**FAST, "max_iter": 3, "tol": None}, warm_start=True).fit(X, y)
    w = clf.recurrent_weights_.copy()
    n = clf.n_updates_
    clf.fit(X, y)
    assert clf.n_updates_ == 2 * n and len(clf.loss_curve_) == 6
    assert not np.array_equal(w, clf.recurrent_weights_)

    inc = SRNClassifier(**FAST)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        inc.partial_fit(X, y)
    for _ in range(3):
        inc.partial_fit(X, y, classes=[0, 1])
    assert inc.n_updates_ == 3 * 12 and inc.n_iter_ == 3
    with pytest.raises(ValueError, match="features per step"):
        inc.partial_fit(X[:, :, :1], y)

    # the classes given on the first call stay, even if a batch lacks some
    inc3 = SRNClassifier(**FAST).partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    np.testing.assert_array_equal(inc3.classes_, [0, 1, 2])
    assert inc3.predict_proba(X[:3]).shape == (3, 3)
    with pytest.raises(ValueError, match="not in classes_"):
        inc3.partial_fit(X[:5], np.full(5, 7))

    reg = SRNRegressor(**FAST)
    reg.partial_fit(X, y.astype(float))
    reg.partial_fit(X, y.astype(float))
    assert reg.n_updates_ == 24


def test_restarts_are_independent_of_n_jobs():
    X, y = sign_task()
    a = SRNClassifier(**FAST, n_restarts=3, n_jobs=1).fit(X, y)
    b = SRNClassifier(**FAST, n_restarts=3, n_jobs=2).fit(X, y)
    assert a.restart_scores_.shape == (3,)
    assert len(set(a.restart_scores_)) == 3  # different initial networks
    np.testing.assert_array_equal(a.restart_scores_, b.restart_scores_)
    np.testing.assert_array_equal(a.recurrent_weights_, b.recurrent_weights_)
    assert a.restart_scores_.max() == -a.loss_curve_[-1]


def test_float32_end_to_end():
    X, y = sign_task()
    a = SRNClassifier(**FAST).fit(X.astype(np.float32), y)
    b = SRNClassifier(**FAST).fit(X, y)
    assert a.recurrent_weights_.dtype == np.float32 and b.recurrent_weights_.dtype == np.float64
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-3)


def test_pickle_round_trip_gives_identical_predictions():
    X, y = sign_task()
    clf = SRNClassifier(**FAST).fit(X, y)
    clf2 = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clf.predict_proba(X), clf2.predict_proba(X))


def test_edited_weight_attributes_take_effect():
    X, y = sign_task()
    reg = SRNRegressor(**FAST).fit(X, y.astype(float))
    before = reg.predict(X)
    reg.output_bias_ = reg.output_bias_ + 1.0
    np.testing.assert_allclose(reg.predict(X), before + 1.0)


def test_sklearn_workflows():
    X, y = sign_task(F=1)
    X2 = X[:, :, 0]
    clf = SRNClassifier(**{**FAST, "max_iter": 10})
    assert clone(clf).get_params() == clf.get_params()
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() > 0.7
    search = GridSearchCV(clf, {"learning_rate": [1e-4, 1e-2]}, cv=2).fit(X, y)
    assert search.best_params_ == {"learning_rate": 1e-2}
    pipe = make_pipeline(StandardScaler(), clone(clf)).fit(X2, y)
    assert pipe.score(X2, y) > 0.8


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = sign_task()
    SRNClassifier(**{**FAST, "max_iter": 3, "tol": None}, verbose=1).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and all("updates/s" in line and "loss" in line for line in lines)


@pytest.mark.skipif(os.name != "posix", reason="needs POSIX signals")
def test_ctrl_c_keeps_the_weights_so_far():
    X, y = make_temporal_order(2000, 60, random_state=0)
    clf = SRNClassifier(n_hidden=32, max_iter=1000, tol=None, random_state=0)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf.fit(X, y)
    timer.join()
    assert any("interrupted" in str(w.message) for w in caught)
    assert 0 < clf.n_updates_ < 1000 * 200
    assert np.isfinite(clf.predict_proba(X[:5])).all()


def test_two_fits_in_threads_match_sequential_and_leave_blas_threads_alone():
    """Big enough for OpenBLAS to use several threads per GEMM if let: with one
    BLAS thread per training thread, concurrent fits equal serial ones."""
    from threadpoolctl import threadpool_info

    def blas_threads():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    X, y = make_temporal_order(400, 50, random_state=0)
    kw = dict(spectral_radius=0.95, max_candidates=60, tol=None)
    seq = [SRNClassifier(**kw, random_state=s).fit(X, y) for s in (1, 2)]
    par = [SRNClassifier(**kw, random_state=s) for s in (1, 2)]
    threads = [threading.Thread(target=est.fit, args=(X, y)) for est in par]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(seq, par):
        np.testing.assert_array_equal(a.recurrent_weights_, b.recurrent_weights_)
    assert blas_threads() == before


# -- divergence ----------------------------------------------------------------

@pytest.mark.parametrize("early_stopping", [False, True])
def test_divergence_leaves_a_usable_model(early_stopping, issue_data):
    from sksgr.diagnostics import init_network

    X, y, _ = issue_data
    params = dict(**PAPER_SGD, learning_rate=1e3, max_iter=20, random_state=0,
                  early_stopping=early_stopping)
    initial = init_network(SRNRegressor(**params), X, y)
    reg = SRNRegressor(**params)
    with pytest.warns(ConvergenceWarning, match="diverged") as record:
        reg.fit(X, y)
    assert len([w for w in record if "diverged" in str(w.message)]) == 1
    assert np.abs(reg.recurrent_weights_).max() < 1e6
    assert np.isfinite(reg.predict(X)).all()
    score = reg.score(X, y)
    assert np.isfinite(score)
    if not early_stopping:  # then init_network gives fit's initial weights
        assert score >= initial.score(X, y) - 1e-12
    # warm_start continues from a sane state: at a sane learning rate it does not diverge
    reg.set_params(learning_rate=1e-3, max_iter=5, warm_start=True, early_stopping=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.filterwarnings("ignore", ".*maximum iterations", ConvergenceWarning)
        reg.fit(X, y)
    assert np.isfinite(reg.score(X, y))


def test_divergence_is_reported_even_when_the_loss_stays_finite(issue_data):
    """Softmax cross-entropy stays finite however large the weights: the blow-up
    of the weights themselves is what is detected."""
    X, _, yc = issue_data
    clf = SRNClassifier(learning_rate=1e100, random_state=0)
    with pytest.warns(ConvergenceWarning, match="diverged at candidate minibatch 1 .*initial"):
        clf.fit(X, yc)
    assert np.abs(clf.recurrent_weights_).max() < 1
    assert np.isfinite(clf.predict_proba(X)).all()
    assert clf.n_updates_ == 0


# -- Ctrl-C --------------------------------------------------------------------

def test_interrupt_is_noticed_after_a_bounded_amount_of_work(monkeypatch):
    """At T = 2,000 a minibatch is ~1e9 multiply-adds: the flag set before training
    stops it after the first one (not after 256 minibatches or the epoch).
    Counted in minibatches, not in seconds."""
    from contextlib import contextmanager

    import sksgr._base
    from sksgr._training import StopFlag, chunk_length

    @contextmanager
    def already_interrupted():
        flag = StopFlag()
        flag.set()
        yield flag

    monkeypatch.setattr(sksgr._base, "stop_on_sigint", already_interrupted)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 2000, 1))
    y = (X[:, 0, 0] > 0).astype(int)
    clf = SRNClassifier(n_hidden=100, max_iter=3, random_state=0)
    with pytest.warns(UserWarning, match="interrupted by user; kept the last weights"):
        clf.fit(X, y)
    assert chunk_length(2000, 10, 1, 100, 2) == 1
    assert clf.n_candidates_ == 1
    # small networks: a chunk is still about the same work, capped at 256 minibatches
    assert chunk_length(10, 10, 1, 12, 2) == 256
    assert 10 <= chunk_length(100, 10, 6, 100, 4) <= 40  # the paper's size: ~30 ms
    assert chunk_length(100, 10, 6, 100, 4, sgr=True) < chunk_length(100, 10, 6, 100, 4)

    X, y = sign_task(n=400)
    clf = SRNClassifier(**FAST, early_stopping=True)
    with pytest.warns(UserWarning, match="kept the best validated weights so far"):
        clf.fit(X, y)


# -- no silent coercions -----------------------------------------------------------

@pytest.mark.parametrize("q_range", [(1, -1), (1,), (np.nan, 1), "ab"])
def test_unused_parameters_are_validated_too(q_range):
    X, y = sign_task(n=30)
    with pytest.raises(ValueError, match="q_range"):
        SRNClassifier(**FAST, q_range=q_range).fit(X, y)  # gradient_regularization=False
    with pytest.raises(ValueError, match="q_range"):
        SRNClassifier(**FAST, q_range=q_range).partial_fit(X, y, classes=[0, 1])


def test_n_jobs_zero_is_rejected_with_one_restart():
    X, y = sign_task(n=30)
    with pytest.raises(InvalidParameterError, match="n_jobs"):
        SRNRegressor(**FAST, n_jobs=0).fit(X, y.astype(float))


def test_complex_values_in_a_list_of_sequences_are_an_error_not_a_warning():
    X, y = sign_task(n=4)
    seqs = [X[0].astype(complex) + 1j, X[1][:4], X[2], X[3][:2]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="Complex data not supported"):
            SRNClassifier(**FAST).fit(seqs, y)


def test_classifier_nan_target_is_one_clear_error():
    X, y = sign_task(n=30)
    y = y.astype(float)
    y[3] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning beside the error
        with pytest.raises(ValueError, match="Input y contains NaN"):
            SRNClassifier(**FAST).fit(X, y)


# -- names and signatures ----------------------------------------------------------

def test_each_estimator_has_its_own_cross_validated_hidden_size():
    """The classifier defaults to 200 units and the regressor to 100 (chosen by
    CV); the signature scikit-learn reads, clone and the docstring agree."""
    for est, size in ((SRNClassifier(), 200), (SRNRegressor(), 100)):
        params = type(est)().get_params()
        assert est.n_hidden == params["n_hidden"] == clone(est).n_hidden == size
        assert inspect.signature(type(est)).parameters["n_hidden"].default == size
        assert f"n_hidden : int, default={size}" in type(est).__doc__
    assert "class_weight" in SRNClassifier().get_params()  # the rest of the signature stays
    assert set(SRNClassifier().get_params()) - {"class_weight"} == set(SRNRegressor().get_params())


def test_validation_data_is_keyword_only():
    X, y = sign_task(n=30)
    with pytest.raises(TypeError):
        SRNClassifier(**FAST, early_stopping=True).fit(X, y, X, y)


def test_training_warnings_point_at_the_callers_line():
    X, y = sign_task(n=30)
    with pytest.warns(ConvergenceWarning, match="maximum iterations") as record:
        SRNClassifier(**{**FAST, "max_iter": 2}).fit(X, y)
    assert record[0].filename == __file__
    clf = SRNClassifier(**{**FAST, "learning_rate": 1e100})
    with pytest.warns(ConvergenceWarning, match="diverged") as record:
        clf.partial_fit(X, y, classes=[0, 1])
    assert record[0].filename == __file__


def test_max_candidates_counts_skipped_candidates_too():
    X, y = make_temporal_order(200, 12, random_state=0)
    clf = SRNClassifier(n_hidden=8, max_candidates=30, gradient_regularization=True,
                        ds_max=1e-9, max_skips=5, random_state=0).fit(X, y)  # skips most
    assert clf.n_candidates_ == 30 and clf.n_updates_ + clf.n_skipped_ == 30
    assert clf.n_skipped_ > 0 and clf.n_guarded_ > 0
