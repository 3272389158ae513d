"""sksgr under joblib's dask backend: a LocalCluster of 2 worker processes."""

import os
import signal
import threading
import time

import distributed  # noqa: E402  ([test] installs dask[distributed])
import numpy as np
import pytest
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV

from sksgr import SRNClassifier

pytestmark = [pytest.mark.dask, pytest.mark.slow]

PARAMS = dict(n_hidden=12, max_iter=15, tol=None, random_state=0)


def _data(n=150, T=6):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, T, 2))
    return X, (X[:, 1, 0] > 0).astype(int)


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _grid_search(n_jobs, backend=None):
    X, y = _data()
    search = GridSearchCV(SRNClassifier(**PARAMS), {"learning_rate": [1e-3, 1e-2, 3e-2]}, cv=3,
                          n_jobs=n_jobs)
    if backend is None:
        return search.fit(X, y)
    with parallel_config(backend=backend):
        return search.fit(X, y)


def _tasks(stream):
    """The tasks a get_task_stream block saw run on the workers."""
    return [t for t in stream.data if t.get("worker")]


def test_grid_search_on_dask_equals_serial(client):
    serial = _grid_search(1)
    with distributed.get_task_stream(client) as stream:
        on_dask = _grid_search(-1, "dask")
    assert len(_tasks(stream)) >= 1  # the candidates' fits ran on the workers
    np.testing.assert_array_equal(on_dask.cv_results_["mean_test_score"],
                                  serial.cv_results_["mean_test_score"])
    assert on_dask.best_params_ == serial.best_params_


def test_restarts_on_dask_equal_serial(client):
    X, y = _data()
    serial = SRNClassifier(**PARAMS, n_restarts=4, n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as stream, parallel_config(backend="dask"):
        on_dask = SRNClassifier(**PARAMS, n_restarts=4, n_jobs=-1).fit(X, y)
    np.testing.assert_array_equal(on_dask.restart_scores_, serial.restart_scores_)
    np.testing.assert_array_equal(on_dask.recurrent_weights_, serial.recurrent_weights_)
    # the restarts really ran on the cluster's workers
    tasks = _tasks(stream)
    assert len(tasks) >= 1 and {t["worker"] for t in tasks} <= set(client.scheduler_info()["workers"])


def test_killing_a_worker_mid_run_loses_nothing(client):
    X, y = _data(n=400, T=20)
    params = dict(PARAMS, max_iter=120, n_restarts=6, n_jobs=-1)
    serial = SRNClassifier(**{**params, "n_jobs": 1}).fit(X, y)
    pids = list(client.run(os.getpid).values())
    result = {}

    def fit():
        with parallel_config(backend="dask"):
            result["est"] = SRNClassifier(**params).fit(X, y)

    thread = threading.Thread(target=fit)
    thread.start()
    # wait until the workers are busy, then kill one worker process outright
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(client.processing().values()):
        time.sleep(0.02)
    assert all(client.processing().values()), "the restarts never reached both workers"
    os.kill(pids[0], signal.SIGKILL)
    assert thread.is_alive()  # killed mid-run
    thread.join(timeout=300)
    assert not thread.is_alive()
    est = result["est"]
    np.testing.assert_array_equal(est.restart_scores_, serial.restart_scores_)
    np.testing.assert_array_equal(est.recurrent_weights_, serial.recurrent_weights_)
