"""Ablation of the sampling-based gradient regularization (SGR) variants.

Trains, from the same initial networks (one per seed), plain SGD ("off"),
gradient clipping alone, each SGR variant, and SGR with clipping, on a setting
where plain SGD is known to fail, and prints one Markdown table: best and
final validation accuracy (mean over seeds, and per seed), share of
candidate minibatches used, median Q and spectral radius of the recurrent
matrix at the end, and wall time. A second table follows Q, accuracy and the
spectral radius over training (chunks of ``--chunk`` candidates) per variant.

Default (a setting where plain SGD is known to stall): temporal order, T = 60,
learning rate 1e-3, momentum 0.9, minibatch 10, 100 hidden units, sigma 0.01
with the recurrent matrix rescaled to spectral radius 0.95, 20,000 candidates
per network, 3 seeds::

    python benchmarks/sgr_ablation.py                       # ~15 min on 2 cores
    python benchmarks/sgr_ablation.py --length 20 --learning-rate 1e-2 --updates 2000

Networks train in chunks of ``--chunk`` candidates, each a ``partial_fit`` on
``--chunk`` minibatches' worth of sequences drawn from the training set (the
momentum carries over, as in one uninterrupted training; not a ``warm_start``
fit, which restarts it), so that accuracy, Q and the spectral radius can be
followed during training.
"""

import argparse
import time
import warnings

import numpy as np
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from sksgr import SRNClassifier
from sksgr.datasets import make_temporal_order

VARIANTS = {
    "off": dict(),
    "clip": dict(clip_norm=1.0),
    "sgr linear minibatch": dict(gradient_regularization=True),
    "sgr linear minibatch, no guard": dict(gradient_regularization=True, max_skips=None),
    "sgr linear minibatch, no momentum in dW": dict(gradient_regularization=True, ds_momentum=False),
    "sgr exact minibatch": dict(gradient_regularization=True, ds_mode="exact"),
    "sgr linear example": dict(gradient_regularization=True, selection="example"),
    "sgr exact example": dict(gradient_regularization=True, ds_mode="exact", selection="example"),
    "sgr exact minibatch, steer dQ": dict(gradient_regularization=True, ds_mode="exact",
                                          steer="dQ"),
    "sgr linear minibatch, q_depth 20": dict(gradient_regularization=True, q_depth=20),
    "sgr linear minibatch, q_range (-2, 2)": dict(gradient_regularization=True,
                                                  q_range=(-2.0, 2.0)),
    "sgr linear minibatch + clip": dict(gradient_regularization=True, clip_norm=1.0),
}


def make_classifier(variant, seed, args):
    """One variant's network: the paper's, with the variant's SGR or clipping settings."""
    params = dict(
        # the paper's network (the defaults read out pooled states from a ridge start)
        n_hidden=args.n_hidden, readout="last", output_init="random", init="normal",
        sigma=args.sigma,
        spectral_radius=args.spectral_radius, solver="sgd",
        learning_rate=args.learning_rate, momentum=0.9, batch_size=10, tol=None,
        random_state=seed,
        **VARIANTS[variant],
    )
    if params.get("gradient_regularization") and args.q_depth is not None:
        params["q_depth"] = args.q_depth
    return SRNClassifier(**params)


def train_one(variant, seed, data, args):
    X, y, X_val, y_val = data
    clf = make_classifier(variant, seed, args)
    trace = []
    tic = time.perf_counter()
    used = q = None
    draws = np.random.RandomState(seed)  # the chunks' sequences, the same for every variant
    classes = np.unique(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(max(1, args.updates // args.chunk)):
            # the next chunk from the weights and the momentum of the last one
            idx = draws.choice(len(X), size=min(len(X), args.chunk * 10), replace=False)
            clf.partial_fit(X[idx], y[idx], classes=classes)
            acc = clf.score(X_val, y_val)
            radius = np.max(np.abs(np.linalg.eigvals(clf.recurrent_weights_)))
            if clf.used_history_ is not None:
                used = np.mean(clf.used_history_)
                q = float(np.median(clf.q_history_))
            trace.append(dict(acc=acc, radius=radius, used=used, q=q))
    return dict(variant=variant, seed=seed, trace=trace, updates=clf.n_updates_,
                seconds=time.perf_counter() - tic)


def _fmt(x, spec):
    return "–" if x is None else format(x, spec)


def report(results, args):
    print(f"\n### SGR ablation: temporal order, T = {args.length}, lr {args.learning_rate}, "
          f"{args.updates} candidates/network, seeds {args.seeds}, sigma {args.sigma}, "
          f"spectral radius {args.spectral_radius}, q_depth {args.q_depth}\n")
    print("| variant | best val. acc (mean) | best per seed | final val. acc | used | "
          "median Q (last chunk) | spectral radius (end) | s/network |")
    print("|---|---|---|---|---|---|---|---|")
    by_variant = {}
    for r in results:
        by_variant.setdefault(r["variant"], []).append(r)
    for variant in VARIANTS:
        rs = sorted(by_variant.get(variant, []), key=lambda r: r["seed"])
        if not rs:
            continue
        best = [max(t["acc"] for t in r["trace"]) for r in rs]
        final = [r["trace"][-1]["acc"] for r in rs]
        used = [r["trace"][-1]["used"] for r in rs]
        qs = [r["trace"][-1]["q"] for r in rs]
        radius = [r["trace"][-1]["radius"] for r in rs]
        used_s = "–" if used[0] is None else f"{np.mean(used):.0%}"
        q_s = "–" if qs[0] is None else f"{np.mean(qs):.2f}"
        print(f"| {variant} | {np.mean(best):.1%} | {', '.join(f'{b:.0%}' for b in best)} | "
              f"{np.mean(final):.1%} | {used_s} | {q_s} | {np.mean(radius):.2f} | "
              f"{np.mean([r['seconds'] for r in rs]):.0f} |")
    print("\nOver training (seed mean; per chunk of "
          f"{args.chunk} candidates): validation accuracy / median Q / spectral radius\n")
    n_chunks = max(len(r["trace"]) for r in results)
    step = max(1, n_chunks // 5)
    cols = list(range(step - 1, n_chunks, step))
    print("| variant | " + " | ".join(f"{(c + 1) * args.chunk}" for c in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for variant in VARIANTS:
        rs = by_variant.get(variant, [])
        if not rs:
            continue
        cells = []
        for c in cols:
            ts = [r["trace"][c] for r in rs]
            qs = [t["q"] for t in ts]
            cells.append(f"{np.mean([t['acc'] for t in ts]):.0%} / "
                         f"{_fmt(None if qs[0] is None else np.mean(qs), '.1f')} / "
                         f"{np.mean([t['radius'] for t in ts]):.2f}")
        print(f"| {variant} | " + " | ".join(cells) + " |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--length", type=int, default=60)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--updates", type=int, default=20000, help="candidates per network")
    p.add_argument("--chunk", type=int, default=2000)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--n-train", type=int, default=20000)
    p.add_argument("--n-val", type=int, default=1000)
    p.add_argument("--n-hidden", type=int, default=100)
    p.add_argument("--sigma", type=float, default=0.01)
    p.add_argument("--spectral-radius", type=float, default=0.95)
    p.add_argument("--q-depth", type=int, default=None, help="override q_depth of every SGR variant")
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--n-jobs", type=int, default=2)
    args = p.parse_args(argv)
    X, y = make_temporal_order(args.n_train, args.length, random_state=0)
    X_val, y_val = make_temporal_order(args.n_val, args.length, random_state=1)
    data = (X, y, X_val, y_val)
    tic = time.perf_counter()
    jobs = [(v, s) for s in range(args.seeds) for v in args.variants]
    results = []
    # one BLAS thread per network, set once for the process around the threads
    with threadpool_limits(limits=1, user_api="blas"):
        for r in _run(jobs, data, args):
            results.append(r)
            print(f"[{len(results)}/{len(jobs)}] {r['variant']} seed {r['seed']}: best val. acc "
                  f"{max(t['acc'] for t in r['trace']):.1%}, {r['seconds']:.0f} s", flush=True)
    report(results, args)
    print(f"\nwall time {time.perf_counter() - tic:.0f} s")
    return results


def _run(jobs, data, args):
    return Parallel(n_jobs=args.n_jobs, prefer="threads", return_as="generator_unordered")(
        delayed(train_one)(v, s, data, args) for v, s in jobs
    )


if __name__ == "__main__":
    main()
