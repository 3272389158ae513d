"""Reproduce Table 1 of Chernodub & Nowicki (2016): SRN training with and without SGR.

For each task and sequence length, ``--n-nets`` simple recurrent networks
(tanh Elman RNNs, 100 hidden units) are trained twice from the *same* initial
weights, once with sampling-based gradient regularization off
(``gradient_regularization=False``, plain SGD with momentum) and once with it
on. The protocol is the paper's (section 4):

- train / validation / test sets of 20,000 / 1,000 / 10,000 sequences
  (``--n-train``, ``--n-val``, ``--n-test``), one fixed length per data set,
  generated once per (task, T) with fixed seeds and shared by every network;
- SGD, momentum 0.9, minibatch 10, learning rate ``--learning-rate``;
- network ``i`` uses ``random_state = seed + i`` for both methods, hence the
  same initial weights and the same order of candidate minibatches;
- validation every ``--validation-interval`` (50) candidate minibatches
  (with SGR, skipped candidates count, as ``max_candidates`` counts them); the
  network with the best validation score is the one tested;
- accuracy: share of test sequences classified correctly (temporal order,
  temporal order 3-bit), or whose absolute error is below 0.04 (adding,
  multiplication; the same criterion is the validation score).

Reported per (task, T, method): best and mean test accuracy over the
networks, laid out like the paper's Table 1, beside the paper's own numbers.

Outputs (in ``--out``, default ``benchmarks/results/table1``):

- ``table1.md``: the reproduced table, the paper's table and a line with the
  budget, the initialisation and the wall time (also printed to stdout);
- ``results.csv``: one row per network (seed, task, T, method, best
  validation score and the candidate minibatch it was reached at
  (``best_at``), test accuracy, candidate minibatches, weight updates
  applied, skipped candidates and those applied by the SGR guard
  (``n_skipped_``, ``n_guarded_``; 0 without SGR), final spectral radius of the
  recurrent matrix, wall and CPU time, notes such as divergence);
- ``fig1_profile.png``: gradient norm vs backpropagation depth before
  training for several sigma (temporal order), as the paper's Fig. 1;
- ``fig2_dynamics.png``: norms of the deltas and mean / median activations
  during training of one network, OFF vs ON, as the paper's Fig. 2.
  (``--no-figures`` skips both; they need ``sksgr.diagnostics``,
  ``sksgr.plotting`` and matplotlib.)

One line is printed per finished network, in the order they finish.

Default budget (NOT the paper's; the table header says so): temporal order
and temporal order 3-bit at T = 30 and 60, 4 networks per task, length and
method, 8,000 candidate minibatches per network, 20k / 1k / 10k sequences,
learning rate 1e-3, Pascanu et al.'s initialisation (sigma = 0.01, 15
nonzeros per recurrent row, spectral radius 0.95). Why (measured with OFF,
lr 1e-3, this init):

- the paper's literal init (sigma = 0.01 dense, spectral radius ~0.1) makes
  the gradient of the first step 1e-99 of the last at T = 100: nothing is
  learned at the paper's lengths within an affordable budget;
- temporal order: T = 30 solved (100 %) within 1,500-3,900 updates, T = 40
  96-100 %, T = 50 52-75 %, T = 60 33-75 % after 8,000 updates: T = 30 is
  the "solvable" control, T = 60 the hard case with room to improve;
- temporal order 3-bit: T = 30 mixed (some networks 100 %, others ~27 %),
  T = 60 near chance (22-31 %);
- adding and multiplication stay at the accuracy of predicting the mean
  (~15 % and ~18 % within 0.04) at T = 30 ... 60 after 5,000-8,000 updates,
  so they would only cost time in a short run (adding at T = 30 needed
  lr 1e-2 and ~35,000 updates). Run them with e.g.
  ``--tasks adding multiplication --lengths 30 --learning-rate 1e-2
  --updates 40000``.

Default command, from the repository root after ``pip install ".[bench]"``
(or ``pip install -e ".[bench]"``, which builds the source tree in place)::

    python benchmarks/table1.py

Measured wall time (the same figures as the README): 263-337 s on a 2-core
machine with nothing else running (two runs, 2026-11-28; in the slower, 310 s
of training, the 32 networks using 610 CPU seconds, then 26 s of figures);
22 minutes from a fresh clone, install included, on a 2-core machine that
another job was using at the same time. The results are
deterministic (the same table on every run with the same flags). An ON
network costs 1.2x an OFF one (validation included). The paper's budget, ``--full``
(100,000 updates, T = 100 and 150, 10 networks, all four tasks, 160
networks), extrapolates to about 15 hours on 2 cores.
"""

import argparse
import ast
import contextlib
import csv
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

TASKS = ("adding", "multiplication", "temporal_order", "temporal_order_3bit")
TASK_TITLES = {
    "adding": "Adding",
    "multiplication": "Multiplication",
    "temporal_order": "Temporal order",
    "temporal_order_3bit": "Temporal order 3-bit",
}
REGRESSION_TASKS = ("adding", "multiplication")
METHODS = ("off", "on")

# Table 1 of Chernodub & Nowicki (2016), copied as printed: (T, method) ->
# {task: (best, mean)}. "N/A": not reported for multiplication at T = 150.
PAPER_TABLE1 = {
    (100, "off"): {"adding": ("99%", "68%"), "multiplication": (">99%", "72%"),
                   "temporal_order": ("96%", "44%"), "temporal_order_3bit": ("99%", "50%")},
    (100, "on"): {"adding": (">99%", "96%"), "multiplication": (">99%", "68%"),
                  "temporal_order": (">99%", "60%"), "temporal_order_3bit": (">99%", "62%")},
    (150, "off"): {"adding": ("34%", "11%"), "multiplication": ("N/A", "N/A"),
                   "temporal_order": ("51%", "30%"), "temporal_order_3bit": ("32%", "24%")},
    (150, "on"): {"adding": ("47%", "13%"), "multiplication": ("N/A", "N/A"),
                  "temporal_order": ("72%", "42%"), "temporal_order_3bit": ("37%", "30%")},
}
PAPER_BUDGET = ("10 networks per task and length, 100,000 updates (2,000 epochs of 50), "
                "train / val / test = 20,000 / 1,000 / 10,000, lr 1e-5 ... 1e-3, "
                "sigma = 0.01, safe range Q in [-1, 1]")

# The paper's budget (--full).
FULL = {"n_nets": 10, "updates": 100_000, "tasks": list(TASKS), "lengths": [100, 150],
            "n_train": 20_000, "n_val": 1_000, "n_test": 10_000}

# Initialisations: the paper's literal one, and Pascanu et al.'s (2013).
INITS = {
    "paper": {"sigma": 0.01, "spectral_radius": None, "recurrent_nonzeros": None},
    "pascanu": {"sigma": 0.01, "spectral_radius": 0.95, "recurrent_nonzeros": 15},
}

# Parameters of the regularization, reported with the table.
SGR_KEYS = ("q_range", "q_depth", "ds_mode", "ds_momentum", "ds_max", "selection",
            "max_skips", "clip_norm")

CSV_COLUMNS = ("net", "seed", "task", "T", "method", "best_validation", "best_at",
               "test_accuracy", "candidates", "updates", "skipped", "guarded",
               "spectral_radius", "wall_time_s", "cpu_time_s", "notes")

# Seeds of the data sets: one stream per (task, T, split), derived from --seed.
_SPLITS = {"train": 0, "val": 1, "test": 2}


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None / False / [] (those helps say it themselves)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Reproduce Table 1 of Chernodub & Nowicki (2016): SRNs trained "
                    "with sampling-based gradient regularization OFF vs ON.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--full", action="store_true",
                   help="the paper's budget: 10 nets, 100,000 updates, 20k/1k/10k, "
                        "T = 100 150, all four tasks (explicit flags still override)")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=None,
                   help="tasks [default: temporal_order temporal_order_3bit]")
    p.add_argument("--lengths", nargs="+", type=int, default=None,
                   help="sequence lengths T [default: 30 60]")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS),
                   help="gradient regularization off and/or on")
    p.add_argument("--n-nets", type=int, default=None,
                   help="networks per task, length and method [default: 4]")
    p.add_argument("--updates", type=int, default=None,
                   help="candidate minibatches per network (max_candidates) [default: 8000]")
    p.add_argument("--n-train", type=int, default=None, help="[default: 20000]")
    p.add_argument("--n-val", type=int, default=None, help="[default: 1000]")
    p.add_argument("--n-test", type=int, default=None, help="[default: 10000]")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="SGD step size")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--batch-size", type=int, default=10, help="sequences per minibatch")
    p.add_argument("--n-hidden", type=int, default=100, help="hidden units")
    p.add_argument("--init", choices=sorted(INITS), default="pascanu",
                   help="paper: sigma=0.01 dense; pascanu: sigma=0.01, 15 nonzeros per "
                        "recurrent row, rescaled to spectral radius 0.95")
    p.add_argument("--sigma", type=float, default=None, help="overrides --init's sigma")
    p.add_argument("--spectral-radius", type=float, default=None,
                   help="overrides --init's spectral radius (<= 0: no rescaling)")
    p.add_argument("--recurrent-nonzeros", type=int, default=None,
                   help="overrides --init's nonzeros per recurrent row (<= 0: dense)")
    p.add_argument("--sgr", nargs="+", default=[], metavar="KEY=VALUE",
                   help="estimator parameters for the ON runs only, e.g. ds_mode=exact "
                        "max_skips=None 'q_range=(-1, 1)' (values are Python literals)")
    p.add_argument("--validation-interval", type=int, default=50,
                   help="validate every this many candidate minibatches")
    p.add_argument("--tolerance", type=float, default=0.04,
                   help="|error| below which a regression test sequence counts as correct")
    p.add_argument("--n-jobs", type=int, default=2,
                   help="networks trained at once (joblib processes)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run the networks on a dask.distributed cluster, e.g. "
                        "tcp://host:8786 (pip install sksgr[dask])")
    p.add_argument("--dask-workers", type=int, default=None, metavar="N",
                   help="start a dask LocalCluster of N single-threaded worker processes "
                        "and run the networks on it")
    p.add_argument("--seed", type=int, default=0,
                   help="base seed: data sets and initial networks derive from it")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/table1"),
                   help="output directory (created)")
    p.add_argument("--no-figures", action="store_true", help="skip fig1 and fig2")
    p.add_argument("--fig-updates", type=int, default=None,
                   help="minibatches of the fig2 training runs [default: --updates]")
    args = p.parse_args(argv)

    defaults = {"n_nets": 4, "updates": 8_000, "tasks": ["temporal_order", "temporal_order_3bit"],
                    "lengths": [30, 60], "n_train": 20_000, "n_val": 1_000, "n_test": 10_000}
    for key, value in (FULL if args.full else defaults).items():
        if getattr(args, key) is None:
            setattr(args, key, value)

    init = dict(INITS[args.init])
    if args.sigma is not None:
        init["sigma"] = args.sigma
    if args.spectral_radius is not None:
        init["spectral_radius"] = args.spectral_radius if args.spectral_radius > 0 else None
    if args.recurrent_nonzeros is not None:
        init["recurrent_nonzeros"] = (args.recurrent_nonzeros if args.recurrent_nonzeros > 0
                                      else None)
    args.init_params = init

    for name in ("n_nets", "updates", "n_train", "n_val", "n_test", "validation_interval",
                 "n_hidden", "batch_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if min(args.lengths) < 10:
        p.error("--lengths must be >= 10 (the marked ranges are tenths of T)")
    args.sgr_params = {}
    for item in args.sgr:
        key, sep, value = item.partition("=")
        if not sep or not key:
            p.error(f"--sgr takes KEY=VALUE items, got {item!r}")
        try:
            args.sgr_params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            args.sgr_params[key] = value  # a bare string, e.g. ds_mode=exact
    args.tasks = list(dict.fromkeys(args.tasks))
    args.lengths = list(dict.fromkeys(args.lengths))
    args.methods = [m for m in METHODS if m in args.methods]
    return args


def describe_init(init):
    parts = [f"sigma = {init['sigma']:g}"]
    if init["recurrent_nonzeros"]:
        parts.append(f"{init['recurrent_nonzeros']} nonzeros per recurrent row")
    else:
        parts.append("dense recurrent matrix")
    if init["spectral_radius"]:
        parts.append(f"recurrent matrix rescaled to spectral radius {init['spectral_radius']:g}")
    else:
        parts.append("no spectral rescaling")
    return ", ".join(parts)


# --------------------------------------------------------------------------
# data and estimators
# --------------------------------------------------------------------------
def data_seed(seed, task, T, split):
    """A fixed seed for one data set, distinct for every (seed, task, T, split)."""
    ss = np.random.SeedSequence([seed, TASKS.index(task), T, _SPLITS[split]])
    return int(ss.generate_state(1)[0] & 0x7FFFFFFF)


def make_data(task, n_samples, T, random_state):
    from sksgr import datasets

    make = getattr(datasets, f"make_{task}")
    return make(n_samples, T, random_state=random_state)


def make_datasets(args):
    """{(task, T): {"train": (X, y), "val": ..., "test": ...}}, each made once."""
    data = {}
    for task in args.tasks:
        for T in args.lengths:
            data[task, T] = {
                split: make_data(task, n, T, data_seed(args.seed, task, T, split))
                for split, n in (("train", args.n_train), ("val", args.n_val),
                                 ("test", args.n_test))
            }
    return data


def accuracy_scorer(task, tolerance):
    """The validation / test score: accuracy, or share within |error| < tolerance."""
    if task in REGRESSION_TASKS:
        from sksgr.metrics import make_tolerance_scorer

        return make_tolerance_scorer(tol=tolerance, criterion="absolute")
    return "accuracy"


def make_estimator(task, method, random_state, args):
    """The estimator of one network; OFF and ON differ only in gradient_regularization."""
    from sksgr import SRNClassifier, SRNRegressor

    Estimator = SRNRegressor if task in REGRESSION_TASKS else SRNClassifier
    params = dict(
        n_hidden=args.n_hidden,
        **args.init_params,
        learning_rate=args.learning_rate,
        momentum=args.momentum,
        batch_size=args.batch_size,
        max_candidates=args.updates,
        max_iter=args.updates,  # an epoch has >= 1 minibatch: never the binding limit
        tol=None,  # train the whole budget, keep the best validated network
        early_stopping=True,
        validation_interval=args.validation_interval,
        scoring=accuracy_scorer(task, args.tolerance),
        n_jobs=1,
        random_state=random_state,
    )
    on = method == "on"
    # The one place where OFF and ON differ. An sksgr without SGR has no such
    # parameter: OFF then trains plain SGD, ON raises (unknown parameter)
    # instead of silently training OFF twice.
    if on or "gradient_regularization" in Estimator().get_params():
        params["gradient_regularization"] = on
    if on:
        params.update(args.sgr_params)
    return Estimator(**params)


def check_sgr_params(args):
    """Fail before any training on an unknown --sgr parameter."""
    from sksgr import SRNClassifier

    known = SRNClassifier().get_params()
    unknown = sorted(set(args.sgr_params) - set(known))
    if unknown:
        raise SystemExit(f"error: --sgr: unknown estimator parameter(s) {unknown}; "
                         f"SGR parameters: {[k for k in SGR_KEYS if k in known]}")


def sgr_settings(args):
    """The SGR parameters of the ON runs, as a string (None without ON runs)."""
    if "on" not in args.methods:
        return None
    params = make_estimator(args.tasks[0], "on", 0, args).get_params()
    return ", ".join(f"{k}={params[k]!r}" for k in SGR_KEYS if k in params)


def train_one(task, T, net, seed, method, data, args):
    """Train and test one network; return its row of results.csv."""
    import warnings

    from sklearn.metrics import check_scoring

    tic, cpu = time.perf_counter(), time.process_time()
    (X, y), (X_val, y_val), (X_test, y_test) = data["train"], data["val"], data["test"]
    est = make_estimator(task, method, seed, args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        est.fit(X, y, X_val=X_val, y_val=y_val)
    scorer = check_scoring(est, scoring=est.scoring)
    test = float(scorer(est, X_test, y_test))
    notes = sorted({"diverged" if "diverged" in str(w.message) else w.category.__name__
                    for w in caught})
    candidates = int(getattr(est, "n_candidates_", est.n_updates_))
    scores = est.validation_scores_ or []
    best_val = est.best_validation_score_
    if scores and np.isfinite(best_val):
        best_at = (int(np.argmax(scores)) + 1) * args.validation_interval
    else:  # fewer candidates than one validation interval: the last network is kept
        best_val, best_at = float(scorer(est, X_val, y_val)), candidates
        notes.append("never validated (updates < validation interval)")
    radius = float(np.max(np.abs(np.linalg.eigvals(est.recurrent_weights_))))
    return {
        "net": net, "seed": seed, "task": task, "T": T, "method": method,
        "best_validation": float(best_val), "best_at": best_at, "test_accuracy": test,
        "candidates": candidates, "updates": int(est.n_updates_),
        "skipped": int(getattr(est, "n_skipped_", 0)),
        "guarded": int(getattr(est, "n_guarded_", 0)),
        "spectral_radius": radius, "wall_time_s": time.perf_counter() - tic,
        "cpu_time_s": time.process_time() - cpu,
        "notes": ";".join(notes),
    }


def run_jobs(args, data):
    """Train every (task, T, net, method) in parallel; yield rows as they finish."""
    from joblib import Parallel, delayed

    jobs = [(task, T, net, args.seed + net, method)
            for T in sorted(args.lengths, reverse=True)  # longest first: better packing
            for task in args.tasks
            for method in reversed(args.methods)  # ON (slower) before OFF
            for net in range(args.n_nets)]
    yield len(jobs)
    with dask_backend(args, list(data.values())) as n_jobs:
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        yield from parallel(
            delayed(train_one)(task, T, net, seed, method, data[task, T], args)
            for task, T, net, seed, method in jobs
        )


@contextlib.contextmanager
def dask_backend(args, shared):
    """joblib's dask backend when --scheduler or --dask-workers is given.

    Yields the n_jobs to use. The data sets are broadcast to every worker once
    (a worker that dies does not take the only copy with it).
    """
    if args.scheduler is None and args.dask_workers is None:
        yield args.n_jobs
        return
    from distributed import Client, LocalCluster
    from joblib import parallel_config

    with contextlib.ExitStack() as stack:
        if args.scheduler is not None:
            client = stack.enter_context(Client(args.scheduler))
        else:
            cluster = stack.enter_context(LocalCluster(
                n_workers=args.dask_workers, threads_per_worker=1, processes=True,
                dashboard_address=None))
            client = stack.enter_context(Client(cluster))
        n_workers = len(client.scheduler_info()["workers"])
        print(f"dask: {client.scheduler.address}, {n_workers} workers", flush=True)
        stack.enter_context(parallel_config(backend="dask", scatter=shared))
        yield -1


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------
def _pct(x):
    return f"{100 * x:.1f}%"


def _row_label(T, method):
    return f"T={T}, grad. reg. {method.upper()}"


def _header(tasks):
    cols = [f"{TASK_TITLES[t]} {stat}" for t in tasks for stat in ("best", "mean")]
    return ("| | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols))


def results_table(rows, tasks, lengths, methods):
    """Markdown table in the layout of the paper's Table 1: best / mean test accuracy."""
    lines = list(_header(tasks))
    for T in sorted(lengths):
        for method in methods:
            cells = []
            for task in tasks:
                acc = [r["test_accuracy"] for r in rows
                       if r["task"] == task and r["T"] == T and r["method"] == method]
                cells += [_pct(max(acc)), _pct(float(np.mean(acc)))] if acc else ["–", "–"]
            lines.append(f"| {_row_label(T, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_table(tasks):
    lines = list(_header(tasks))
    for (T, method), values in PAPER_TABLE1.items():
        cells = [v for task in tasks for v in values[task]]
        lines.append(f"| {_row_label(T, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def skipped_summary(rows):
    on = [r for r in rows if r["method"] == "on"]
    if not on:
        return None
    mean = {k: np.mean([r[k] for r in on]) for k in ("candidates", "updates", "skipped",
                                                       "guarded")}
    return (f"SGR ON, per network on average: {mean['candidates']:,.0f} candidate "
            f"minibatches, {mean['updates']:,.0f} weight updates applied "
            f"({mean['guarded']:,.0f} of them by the max_skips guard), "
            f"{mean['skipped']:,.0f} skipped.")


def markdown_report(rows, args, wall_time):
    paper_lengths = sorted(args.lengths) == [100, 150]
    paper_budget = (args.updates == FULL["updates"] and args.n_nets == FULL["n_nets"]
                    and args.n_train == FULL["n_train"] and args.n_val == FULL["n_val"]
                    and args.n_test == FULL["n_test"])
    caveats = []
    if not paper_lengths:
        caveats.append(f"lengths T = {', '.join(map(str, sorted(args.lengths)))} "
                       "(the paper: T = 100 and 150)")
    if not paper_budget:
        caveats.append("a smaller budget than the paper's")
    title = "## Table 1 (reproduction): test accuracy of trained SRNs, best / mean over networks"
    budget = (
        f"Budget: {args.n_nets} networks per task, length and method; "
        f"{args.updates:,} candidate minibatches per network (`max_candidates`); "
        f"train / validation / test = {args.n_train:,} / {args.n_val:,} / {args.n_test:,} sequences; "
        f"{args.n_hidden} hidden units; SGD lr {args.learning_rate:g}, momentum "
        f"{args.momentum:g}, minibatch {args.batch_size}; validation every "
        f"{args.validation_interval} candidate minibatches, the best validated network is tested; "
        f"regression accuracy = share with |error| < {args.tolerance:g}."
    )
    init = f"Initialisation: `--init {args.init}` ({describe_init(args.init_params)})."
    cpu = sum(r["cpu_time_s"] for r in rows)
    wall = (f"Wall time: {wall_time:,.0f} s with --n-jobs {args.n_jobs} "
            f"({os.cpu_count()} CPUs; the networks' CPU time adds up to {cpu:,.0f} s); "
            f"base seed {args.seed}.")
    parts = [title, ""]
    if caveats:
        parts += [f"**Not the paper's setting:** {'; '.join(caveats)}.", ""]
    parts += [results_table(rows, args.tasks, args.lengths, args.methods), "",
              budget, init, wall]
    settings = sgr_settings(args)
    if settings:
        parts.append(f"SGR settings (ON rows): {settings}.")
    summary = skipped_summary(rows)
    if summary:
        parts.append(summary)
    parts += ["", "### The paper's Table 1 (Chernodub & Nowicki 2016, T = 100 and 150)", "",
              paper_table(args.tasks), "", f"Paper's budget: {PAPER_BUDGET}.", ""]
    return "\n".join(parts)


def write_csv(rows, path):
    rows = sorted(rows, key=lambda r: (r["task"], r["T"], r["method"], r["net"]))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in rows:
            out = dict(r)
            for key in ("best_validation", "test_accuracy", "spectral_radius"):
                out[key] = f"{r[key]:.6g}"
            out["wall_time_s"] = f"{r['wall_time_s']:.4f}"
            out["cpu_time_s"] = f"{r['cpu_time_s']:.4f}"
            writer.writerow(out)


# --------------------------------------------------------------------------
# figures (need sksgr.diagnostics, sksgr.plotting and matplotlib)
# --------------------------------------------------------------------------
def check_figures_available():
    """Fail before any training if figures were asked for but cannot be made."""
    missing = []
    for module in ("matplotlib", "sksgr.diagnostics", "sksgr.plotting"):
        try:
            __import__(module)
        except ImportError as exc:
            missing.append(f"{module} ({exc})")
    if missing:
        raise SystemExit("error: figures need " + ", ".join(missing)
                         + ". Install / implement them, or run with --no-figures.")


def make_figures(args, data):
    """fig1_profile.png (the paper's Fig. 1) and fig2_dynamics.png (its Fig. 2).

    Fig. 1: mean norms of the deltas and of the per-step weight gradients vs
    backpropagation depth before training, temporal order T = 100 (h = 100
    as in the paper), 100 sequences, for sigma in {0.01, 0.1, 0.5} with a
    dense recurrent matrix (the paper's init) and for the init of this run.
    Fig. 2: delta norms per depth and mean / median |activation| during the
    training of one network (random_state ``--seed``; trained by
    ``record_dynamics`` without validation, so not identical to the table's
    network 0) on the first task at the longest length, one column per
    method, from the same initial weights, ``--fig-updates``
    minibatches, recorded every ``--validation-interval`` on 100 validation
    sequences. The methods run in parallel.
    """
    from joblib import Parallel, delayed

    from sksgr import SRNClassifier
    from sksgr.diagnostics import gradient_norm_profile, init_network
    from sksgr.plotting import plot_dynamics, plot_gradient_profile

    out = args.out
    # Fig. 1: initial gradient profiles.
    T = 100
    X, y = make_data("temporal_order", 100, T, data_seed(args.seed, "temporal_order", T, "val"))
    inits = {f"sigma = {s:g}, dense": {"sigma": s} for s in (0.01, 0.1, 0.5)}
    if args.init_params != INITS["paper"]:
        inits[f"this run: {describe_init(args.init_params)}"] = args.init_params
    profiles = {}
    for label, init in inits.items():
        net = init_network(SRNClassifier(n_hidden=args.n_hidden, **init), X, y,
                           random_state=args.seed)
        profiles["\n".join(_wrap(label, 40))] = gradient_norm_profile(net, X, y)
    fig = plot_gradient_profile(profiles)
    fig.suptitle(f"Initial gradients, temporal order T = {T}, {args.n_hidden} hidden units")
    fig.savefig(out / "fig1_profile.png", dpi=100)

    # Fig. 2: training dynamics of one network, OFF vs ON, same initial weights.
    task, T = args.tasks[0], max(args.lengths)
    d = data[task, T]
    n_updates = args.fig_updates or args.updates
    (X, y), (X_val, y_val) = d["train"], d["val"]
    probe = min(100, len(X_val))

    runs = Parallel(n_jobs=min(args.n_jobs, len(args.methods)))(
        delayed(_record_dynamics)(task, m, X, y, X_val[:probe], y_val[:probe], n_updates, args)
        for m in args.methods)
    fig = plot_dynamics({f"grad. reg. {m.upper()}": r for m, r in zip(args.methods, runs)})
    fig.suptitle(f"{TASK_TITLES[task]}, T = {T}: one network (random_state {args.seed}), "
                 f"same initial weights for each method; {n_updates:,} candidate "
                 f"minibatches, lr {args.learning_rate:g}", fontsize="medium")
    fig.savefig(out / "fig2_dynamics.png", dpi=100)


def _record_dynamics(task, method, X, y, X_probe, y_probe, n_updates, args):
    from sksgr.diagnostics import record_dynamics

    est = make_estimator(task, method, args.seed, args)
    dyn = record_dynamics(est, X, y, n_candidates=n_updates, every=args.validation_interval,
                          X_probe=X_probe, y_probe=y_probe)
    dyn.estimator = None  # not needed: do not send the network back
    return dyn


def _wrap(text, width):
    import textwrap

    return textwrap.wrap(text, width)


# --------------------------------------------------------------------------
def main(argv=None):
    args = parse_args(argv)
    check_sgr_params(args)
    if not args.no_figures:
        check_figures_available()
    args.out.mkdir(parents=True, exist_ok=True)

    tic = time.perf_counter()
    print(f"Table 1: tasks {' '.join(args.tasks)}; T = {' '.join(map(str, args.lengths))}; "
          f"methods {' '.join(args.methods)}; {args.n_nets} nets; {args.updates:,} updates; "
          f"init {args.init} ({describe_init(args.init_params)}); --n-jobs {args.n_jobs}",
          flush=True)
    data = make_datasets(args)
    print(f"data sets made in {time.perf_counter() - tic:.1f} s", flush=True)

    rows = []
    jobs = run_jobs(args, data)
    n_jobs = next(jobs)
    for row in jobs:
        rows.append(row)
        print(f"[{len(rows):>3}/{n_jobs}] {row['task']:<19} T={row['T']:<4} "
              f"{row['method']:<3} net {row['net']:<2}: test {_pct(row['test_accuracy']):>6}, "
              f"best val {_pct(row['best_validation']):>6} at {row['best_at']:,}, "
              f"updates {row['updates']:,}, skipped {row['skipped']:,}, "
              f"radius {row['spectral_radius']:.2f}, "
              f"{row['wall_time_s']:.1f} s  (elapsed {time.perf_counter() - tic:.0f} s)"
              + (f"  [{row['notes']}]" if row["notes"] else ""), flush=True)
    train_time = time.perf_counter() - tic

    write_csv(rows, args.out / "results.csv")
    report = markdown_report(rows, args, train_time)
    (args.out / "table1.md").write_text(report)
    print()
    print(report)

    if not args.no_figures:
        t0 = time.perf_counter()
        make_figures(args, data)
        print(f"figures written to {args.out} in {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"results in {args.out}; total wall time {time.perf_counter() - tic:.0f} s")
    return rows


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        main(sys.argv[1:])
        sys.exit(0)
