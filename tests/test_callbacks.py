"""scikit-learn's callback API (``sklearn.callback``, scikit-learn >= 1.9): ProgressBar
and ScoringMonitor see the epochs of fit, also nested in Pipeline and GridSearchCV;
callbacks do not change training; without the API everything runs unchanged."""

import json
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

import sksgr
from sksgr import SequenceScaler, SRNClassifier, SRNFeatures, SRNRegressor
from sksgr._compat import CALLBACK_API
from sksgr.datasets import make_temporal_order

needs_api = pytest.mark.skipif(not CALLBACK_API, reason="scikit-learn has no sklearn.callback")

# a few epochs of a small network: each fit takes milliseconds; tol=None runs every
# epoch (and issues no max_iter ConvergenceWarning)
PARAMS = dict(n_hidden=8, max_iter=4, tol=None, learning_rate=1e-2, random_state=0)
GRID = {"srnclassifier__learning_rate": [1e-3, 1e-2]}


def _data(n=40, T=10):
    return make_temporal_order(n, T, random_state=0)


def _path(context):
    """``[(estimator_name, task_name, task_id), ...]`` from the root task to ``context``."""
    path = []
    while context is not None:
        path.append((context.estimator_name, context.task_name, context.task_id))
        context = context.parent
    return path[::-1]


class Recorder:
    """A callback that records every hook call (auto-propagated to every depth)."""

    max_propagation_depth = None

    def __init__(self, stop_after=None):
        self.events = []
        self.stop_after = stop_after  # ask to stop after this many epochs of a network
        self._lock = threading.Lock()

    def setup(self, estimator, context):
        self.events.append(("setup", type(estimator).__name__, _path(context), {}))

    def teardown(self, estimator, context):
        self.events.append(("teardown", type(estimator).__name__, _path(context), {}))

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None, metadata=None,
                          fitted_estimator=None):
        with self._lock:
            self.events.append(("begin", type(estimator).__name__, _path(context),
                                dict(X=X, y=y, metadata=metadata,
                                     fitted_estimator=fitted_estimator)))

    def on_fit_task_end(self, estimator, context, *, X=None, y=None, metadata=None,
                        fitted_estimator=None):
        with self._lock:
            self.events.append(("end", type(estimator).__name__, _path(context),
                                dict(X=X, y=y, metadata=metadata,
                                     fitted_estimator=fitted_estimator)))
        return (self.stop_after is not None and context.task_name == "epoch"
                and context.task_id + 1 >= self.stop_after)

    def tasks(self, hook, task_name):
        return [(path, kw) for kind, _, path, kw in self.events
                if kind == hook and path[-1][1] == task_name]


def _progress_bar():
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    return ProgressBar(max_propagation_depth=None)


# --- with the callback API ---------------------------------------------------------


@needs_api
def test_progress_bar_shows_the_epochs_of_fit(capsys):
    X, y = _data()
    recorder = Recorder()
    est = SRNClassifier(**PARAMS).set_callbacks(_progress_bar(), recorder).fit(X, y)
    out = capsys.readouterr().out
    assert "SRNClassifier - fit" in out and "100%" in out
    # the tree the bar is drawn from: the fit, then one task per epoch, in order
    epochs = recorder.tasks("end", "epoch")
    assert [path for path, _ in epochs] == [
        [("SRNClassifier", "fit", 0), ("SRNClassifier", "epoch", i)] for i in range(4)]
    assert est.n_iter_ == 4
    kinds = [kind for kind, *_ in recorder.events]
    assert kinds[:2] == ["setup", "begin"] and kinds[-2:] == ["end", "teardown"]
    assert kinds.count("begin") == kinds.count("end") == 5
    # the callbacks are torn down: nothing of the fit's context is left on the estimator
    assert not hasattr(est, "_callback_fit_ctx")


@needs_api
def test_restarts_are_parallel_subtasks_of_the_fit(capsys):
    X, y = _data()
    recorder = Recorder()
    SRNClassifier(**PARAMS, n_restarts=3, n_jobs=2).set_callbacks(_progress_bar(), recorder) \
        .fit(X, y)
    out = capsys.readouterr().out
    for i in range(3):
        assert f"SRNClassifier - restart #{i}" in out
    restarts = recorder.tasks("end", "restart")
    assert sorted(path[-1][2] for path, _ in restarts) == [0, 1, 2]
    for i in range(3):
        epochs = [path for path, _ in recorder.tasks("end", "epoch") if path[1][2] == i]
        assert epochs == [[("SRNClassifier", "fit", 0), ("SRNClassifier", "restart", i),
                           ("SRNClassifier", "epoch", k)] for k in range(4)]


@needs_api
def test_progress_nested_under_grid_search_and_pipeline(capsys):
    X, y = _data()
    recorder = Recorder()
    search = GridSearchCV(make_pipeline(SequenceScaler(), SRNClassifier(**dict(PARAMS, max_iter=3))),
                          GRID, cv=2)
    with warnings.catch_warnings():
        # every step supports callbacks: none is skipped with a warning
        warnings.simplefilter("error", UserWarning)
        search.set_callbacks(_progress_bar(), recorder).fit(X, y)
    out = capsys.readouterr().out
    assert "GridSearchCV - fit" in out
    assert "SequenceScaler - fit" in out and "SRNClassifier - fit" in out
    # 2 candidates x 2 splits + the refit: 5 networks of 3 epochs each
    epochs = [path for path, _ in recorder.tasks("end", "epoch")]
    assert len(epochs) == 5 * 3
    assert all(path[0][:2] == ("GridSearchCV", "fit") and path[-2][:2] == ("SRNClassifier", "fit")
               for path in epochs)
    assert {path[-1][2] for path in epochs} == {0, 1, 2}
    assert len(recorder.tasks("end", "fit")) == 1 + 5 + 5 + 5  # search, pipelines, scalers, SRNs
    # the propagated callbacks are removed from the fitted steps again
    assert not hasattr(search.best_estimator_[-1], "_skl_callbacks")


@needs_api
def test_scoring_monitor_records_a_score_per_epoch():
    from sklearn.callback import ScoringMonitor

    X, y = _data(60)
    monitor = ScoringMonitor(scoring="accuracy")
    # validated on the training set: the estimator's own validation score of each
    # epoch is then what ScoringMonitor records on the training sequences
    est = SRNClassifier(**PARAMS, early_stopping=True, output_init="mean")
    est.set_callbacks(monitor).fit(X, y, X_val=X, y_val=y)
    rows = monitor.get_logs().data
    epochs = [row for row in rows if row["task_name"] == "epoch"]
    assert [row["task_id"] for row in epochs] == [0, 1, 2, 3]
    np.testing.assert_allclose([row["accuracy"] for row in epochs], est.validation_scores_)
    (fit,) = [row for row in rows if row["task_name"] == "fit"]
    assert fit["accuracy"] == pytest.approx(est.score(X, y))


@needs_api
def test_hooks_get_the_training_part_and_the_weights_of_each_epoch():
    X, y = _data(60)
    sample_weight = np.linspace(0.5, 1.5, len(y))
    recorder = Recorder()
    # no validation, no closed-form start or refit: the fit keeps the last epoch's weights
    est = SRNRegressor(**PARAMS, output_init="mean").set_callbacks(recorder)
    est.fit(X, y.astype(float), sample_weight=sample_weight)
    epochs = recorder.tasks("end", "epoch")
    assert len(epochs) == 4
    _, last = epochs[-1]
    np.testing.assert_array_equal(last["fitted_estimator"].predict(X), est.predict(X))
    np.testing.assert_array_equal(last["fitted_estimator"].recurrent_weights_,
                                  est.recurrent_weights_)
    _, first = recorder.tasks("begin", "epoch")[0]
    assert not np.array_equal(first["fitted_estimator"].recurrent_weights_,
                              est.recurrent_weights_)
    np.testing.assert_array_equal(last["X"], X)
    np.testing.assert_array_equal(last["y"], y)
    np.testing.assert_array_equal(last["metadata"]["sample_weight"], sample_weight)
    # with early_stopping, the training part only (the validation split left out)
    recorder = Recorder()
    est = SRNClassifier(**PARAMS, early_stopping=True, validation_fraction=0.25)
    est.set_callbacks(recorder).fit(X, y)
    _, last = recorder.tasks("end", "epoch")[-1]
    assert len(last["X"]) == len(last["y"]) == 45 and last["metadata"] is None


@needs_api
def test_a_callback_can_stop_training_after_an_epoch():
    X, y = _data()
    est = SRNClassifier(**PARAMS).set_callbacks(Recorder(stop_after=2)).fit(X, y)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2


@needs_api
def test_an_epoch_that_trains_nothing_is_an_empty_task():
    X, y = _data()
    recorder = Recorder()
    # the first step diverges and is not applied: the epoch ends at once
    est = SRNRegressor(**dict(PARAMS, learning_rate=1e30, output_init="random"))
    with pytest.warns(ConvergenceWarning, match="diverged at candidate minibatch 1"):
        est.set_callbacks(recorder).fit(X, y.astype(float))
    assert est.n_iter_ == 0
    (begin,) = recorder.tasks("begin", "epoch")
    (end,) = recorder.tasks("end", "epoch")
    assert begin[1]["fitted_estimator"] is not None
    assert end[1] == dict(X=None, y=None, metadata=None, fitted_estimator=None)
    assert [kind for kind, *_ in recorder.events] == [
        "setup", "begin", "begin", "end", "end", "teardown"]


@needs_api
def test_partial_fit_is_one_epoch():
    X, y = _data()
    recorder = Recorder()
    est = SRNClassifier(**PARAMS).set_callbacks(recorder)
    est.partial_fit(X, y, classes=np.unique(y)).partial_fit(X, y)
    epochs = [path for path, _ in recorder.tasks("end", "epoch")]
    assert epochs == [[("SRNClassifier", "fit", 0),
                       ("SRNClassifier", "epoch", 0)]] * 2
    assert [kind for kind, *_ in recorder.events].count("teardown") == 2


@needs_api
@pytest.mark.parametrize("params", [dict(), dict(n_restarts=2, n_jobs=2),
                                    dict(early_stopping=True, validation_fraction=0.25)],
                         ids=["one network", "restarts", "early_stopping"])
def test_callbacks_do_not_change_training(params):
    from sklearn.callback import ScoringMonitor

    X, y = _data()
    plain = SRNClassifier(**PARAMS, **params).fit(X, y)
    watched = SRNClassifier(**PARAMS, **params)
    watched.set_callbacks(Recorder(), ScoringMonitor(scoring="accuracy")).fit(X, y)
    np.testing.assert_array_equal(watched.recurrent_weights_, plain.recurrent_weights_)
    np.testing.assert_array_equal(watched.output_weights_, plain.output_weights_)
    np.testing.assert_array_equal(watched.predict_proba(X), plain.predict_proba(X))
    assert watched.loss_curve_ == plain.loss_curve_


@needs_api
@pytest.mark.parametrize("Transformer", [SequenceScaler, SRNFeatures])
def test_transformers_are_one_task(Transformer):
    X, _ = _data()
    recorder = Recorder()
    est = Transformer().set_callbacks(recorder).fit(X)
    name = Transformer.__name__
    assert [(kind, path) for kind, _, path, _ in recorder.events] == [
        (kind, [(name, "fit", 0)]) for kind in ("setup", "begin", "end", "teardown")]
    _, end = recorder.tasks("end", "fit")[0]
    np.testing.assert_array_equal(end["fitted_estimator"].transform(X), est.transform(X))


# --- without the callback API -------------------------------------------------------

# sklearn.callback hidden, as on scikit-learn < 1.9 (scikit-learn's own modules that
# import it are imported first); then the same search as with callbacks, without them
WITHOUT_API = """
import sys
sys.path.insert(0, {root!r})
import sklearn.linear_model, sklearn.metrics, sklearn.model_selection, sklearn.pipeline
import sklearn.preprocessing
sys.modules["sklearn.callback"] = None
import json
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
import sksgr
from sksgr import SequenceScaler, SRNClassifier, SRNFeatures, SRNRegressor
from sksgr._compat import CALLBACK_API
from sksgr.datasets import make_temporal_order

X, y = make_temporal_order(40, 10, random_state=0)
search = GridSearchCV(make_pipeline(SequenceScaler(), SRNClassifier(**{params!r})), {grid!r},
                      cv=2).fit(X, y)
restarts = SRNClassifier(**{params!r}, n_restarts=2).fit(X, y)
restarts.partial_fit(X, y)
print(json.dumps(dict(
    api=CALLBACK_API, sksgr=sksgr.__file__,
    set_callbacks=[hasattr(c(), "set_callbacks")
                   for c in (SequenceScaler, SRNClassifier, SRNFeatures, SRNRegressor)],
    proba=search.predict_proba(X).tolist(),
    restarts=restarts.predict_proba(X).tolist(),
)))
"""


def test_without_the_callback_api_everything_runs_unchanged(run_isolated):
    root = str(Path(sksgr.__file__).resolve().parent.parent)
    params = dict(PARAMS, max_iter=3)
    proc = run_isolated(WITHOUT_API.format(root=root, params=params, grid=GRID))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["sksgr"]).resolve() == Path(sksgr.__file__).resolve()
    assert out["api"] is False
    # as scikit-learn's estimators before the callback API: no set_callbacks
    assert out["set_callbacks"] == [False] * 4
    # the same models as here (with the API, without callbacks set)
    X, y = _data()
    search = GridSearchCV(make_pipeline(SequenceScaler(), SRNClassifier(**params)), GRID,
                          cv=2).fit(X, y)
    np.testing.assert_array_equal(out["proba"], search.predict_proba(X))
    restarts = SRNClassifier(**params, n_restarts=2).fit(X, y).partial_fit(X, y)
    np.testing.assert_array_equal(out["restarts"], restarts.predict_proba(X))


@needs_api
def test_the_estimators_have_set_callbacks_with_the_api():
    for est in (SequenceScaler(), SRNClassifier(), SRNFeatures(), SRNRegressor()):
        assert est.set_callbacks() is est
        with pytest.raises(TypeError, match="FitCallback protocol"):
            est.set_callbacks(object())
