"""Parallel training: two fits in two threads, and a grid search on threads and dask.

Measured in one run, on the paper's network size (100 hidden units,
minibatch 10) and temporal-order data:

1. two estimators fitted one after the other vs in two Python threads at once
   (the kernels release the GIL for whole chunks of minibatches): the
   throughput ratio, and whether the models are identical;
2. ``GridSearchCV`` over ``learning_rate`` × ``sigma``: serial, joblib threads
   (``n_jobs=2``), and joblib's dask backend on a ``LocalCluster`` of 2
   single-threaded worker processes (``pip install sksgr[dask]``): wall times
   and whether ``cv_results_`` agree::

    python benchmarks/bench_parallel.py          # ~2 minutes on 2 cores
"""

import argparse
import threading
import time
import warnings

import numpy as np
from joblib import parallel_config
from sklearn.model_selection import GridSearchCV

from sksgr import SRNClassifier
from sksgr.datasets import make_temporal_order


def _estimator(**kw):
    return SRNClassifier(n_hidden=100, readout="last", output_init="random",
                         max_iter=kw.pop("max_iter", 3), tol=None, solver="sgd",
                         init="normal", batch_size=10, spectral_radius=0.95, **kw)


def two_fits(X, y, max_iter):
    models = [_estimator(random_state=s, max_iter=max_iter) for s in (0, 1)]
    tic = time.perf_counter()
    for m in models:
        m.fit(X, y)
    sequential = time.perf_counter() - tic

    threaded = [_estimator(random_state=s, max_iter=max_iter) for s in (0, 1)]
    threads = [threading.Thread(target=m.fit, args=(X, y)) for m in threaded]
    tic = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    parallel = time.perf_counter() - tic
    same = all(np.array_equal(a.recurrent_weights_, b.recurrent_weights_)
               for a, b in zip(models, threaded))
    return sequential, parallel, same


def grid_search(X, y, max_iter, n_jobs, backend=None):
    grid = {"learning_rate": [1e-3, 3e-3, 1e-2], "sigma": [0.01, 0.1]}
    search = GridSearchCV(_estimator(random_state=0, max_iter=max_iter), grid, cv=2,
                          n_jobs=n_jobs)
    tic = time.perf_counter()
    if backend is None:
        search.fit(X, y)
    else:
        with parallel_config(backend=backend):
            search.fit(X, y)
    return time.perf_counter() - tic, search.cv_results_["mean_test_score"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-train", type=int, default=2000)
    p.add_argument("--length", type=int, default=50)
    p.add_argument("--max-iter", type=int, default=3)
    p.add_argument("--no-dask", action="store_true")
    args = p.parse_args(argv)
    X, y = make_temporal_order(args.n_train, args.length, random_state=0)
    warnings.simplefilter("ignore")

    seq, par, same = two_fits(X, y, args.max_iter)
    print("### Two fits: one after the other vs two threads at once\n")
    print("| sequential s | two threads s | throughput ratio | identical models |")
    print("|---|---|---|---|")
    print(f"| {seq:.2f} | {par:.2f} | {seq / par:.2f}× | {same} |\n")

    rows = [("serial (n_jobs=1)",) + grid_search(X, y, args.max_iter, 1),
            ("joblib threads (n_jobs=2)",) + grid_search(X, y, args.max_iter, 2)]
    if not args.no_dask:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            print("dask.distributed not installed (pip install sksgr[dask]): dask row skipped")
        else:
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster):
                rows.append(("dask LocalCluster, 2 workers",)
                            + grid_search(X, y, args.max_iter, -1, "dask"))
    base_time, base_scores = rows[0][1], rows[0][2]
    print("### GridSearchCV, 6 candidates × 2 folds\n")
    print("| engine | wall s | speed-up vs serial | same cv_results_ scores |")
    print("|---|---|---|---|")
    for name, secs, scores in rows:
        print(f"| {name} | {secs:.2f} | {base_time / secs:.2f}× | "
              f"{np.array_equal(scores, base_scores)} |")


if __name__ == "__main__":
    main()
