"""Reproduce Table 1 of Chernodub & Nowicki (2016): SRNs trained with and without SGR.

For each task and sequence length, ``--n-nets`` simple recurrent networks
(tanh Elman RNNs, 100 hidden units) are trained once per method from the
*same* initial weights and on the same data:

- ``off``: plain SGD with momentum (``gradient_regularization=False``);
- ``on``: sampling-based gradient regularization (SGR,
  ``gradient_regularization=True``);
- ``clip``: gradient clipping instead (Pascanu et al. 2013: the gradient is
  rescaled to norm ``--clip-threshold``, default 1, when longer), the method
  a user would pick instead of SGR;
- ``on+clip`` (not in the default ``--methods``): SGR on top of clipping. Per
  candidate minibatch, in this order: the gradient (L2 term included) is
  clipped to norm ``--clip-threshold``; the candidate step is taken from the
  *clipped* gradient and the momentum (``-lr g_clipped + momentum v``, what
  SGD would apply); dS is the first-order change of the long-term gradient
  norm along that step; SGR applies or skips the step by its rule (a
  skipped candidate changes neither weights nor momentum).

Two protocols (``--protocol``) fix how a network is trained and scored. Each
setting below is also a flag of its own, which overrides the protocol's.

``chernodub`` (the default): the paper's authors' own way, as in their public
experiment code for a sibling paper of the same year (MATLAB,
``achernodub/oplu_adding``: same 20k / 1k / 10k split, 10 saved networks,
2,000 epochs of 50 minibatches, best on validation):

- data: ``sksgr.datasets`` with ``convention="chernodub"`` (centred adding /
  multiplication values in [-1, 1], fixed length, their marker windows);
- success: adding |error| <= 0.08, multiplication |error| <= 0.04, classes
  by argmax (``--tolerance`` overrides both tolerances);
- training in epochs of ``--epoch-size`` (50) minibatches of
  ``--batch-size`` (20) sequences drawn *with replacement*
  (``--no-replacement``: without, within an epoch); the momentum buffer
  restarts at zero at every epoch (``--no-momentum-restart`` keeps it), as
  their ``train_SGD_pak.m`` does (each epoch is one ``fit`` with
  ``warm_start=True``, which restarts the optimizer state as scikit-learn's
  MLP does);
- learning rate 2e-3 (``--learning-rate``): their lr 1e-4 acts on the
  gradient *summed* over 20 sequences, which is lr 2e-3 on sksgr's mean
  loss (the SGR paper's 1e-5 ... 1e-3 summed over minibatches of 10 is
  1e-4 ... 1e-2 on the mean); momentum 0.9;
- validation after every epoch; the network with the lowest validation loss
  is kept (``--select-by loss``; their MSE is their training loss, ours is
  the squared error for regression and the cross-entropy for the softmax
  classifier; ``--select-by score`` keeps the best validation success
  instead); training stops once the validation success exceeds 99 %
  (``--stop-at``);
- initialisation: the paper's text, sigma = 0.01 "as in [10]", read as
  Pascanu et al.'s whole init (``init="pascanu"``: 15 nonzeros per recurrent
  row, spectral radius 0.95); ``--init xavier_uniform`` is the init of the
  authors' code, ``--init normal`` the literal dense sigma = 0.01 draw;
- the budget ``--updates`` counts *candidate* minibatches: a candidate that
  SGR skips counts as one of the paper's "100,000 corrections", so every
  method sees the same number of minibatches (the CSV records the updates
  actually applied). ``--budget applied`` counts applied weight updates
  instead (the other reading of "corrections of weights"): SGR then draws
  candidates until it has applied ``--updates`` of them (at most 20 times as
  many candidates); OFF and clipping apply every candidate, so their rows do
  not change.

``pascanu`` (the protocol of this benchmark before the authors' code was
read): Pascanu et al.'s task definitions; one ``fit`` per network, minibatches
of 10 from reshuffled epochs, lr 1e-3, validation every 50 candidates, the
best validation *score* kept, no early stop; regression success
|error| < 0.04.

Data: by default every network of a (task, T) cell trains, validates and is
tested on the same three sets; ``--fresh-data`` draws a new training,
validation and test set for every network, as the authors' loop does. The
data seeds derive from the base seed, a fixed code per task (not its place
in a list), T, the split and (with ``--fresh-data``) the network index.

Reported per (task, T, method): best and mean test accuracy over the
networks, in the layout of the paper's Table 1 beside the paper's numbers,
then mean +- sd with the in-run baseline (predicting the training mean /
the majority class) and the paired comparisons ON - OFF, clip - OFF and
ON - clip: the mean difference, the exact sign-flip test's p-value and the
Holm-adjusted p-value over every comparison in the table (``*``: adjusted
p < 0.05).

Outputs (in ``--out``, default ``benchmarks/results/table1``):

- ``config.json``: every setting that affects the numbers, the commit
  of the code (the last commit touching ``sksgr/`` or this script), and
  where each start or resume of the run ran (``"sessions"``: package
  versions, CPU, OpenBLAS's kernels, which can move the last bits);
- ``results.csv``: one row per network and method, appended as each
  (task, T, network) finishes its methods (so partial results stay paired);
  columns: seed, best validation success and the candidate it was reached
  at, test accuracy, candidates, applied updates, skipped / guarded SGR
  candidates, final spectral radius, epochs, wall / CPU time and its split
  into training and validation (chernodub), the code commit, notes;
- ``curves_<task>_T<T>.csv``: the learning curves of that cell, one row per
  network, method and validation (chernodub: every epoch): candidates so
  far, validation loss (squared error for regression, cross-entropy for the
  classifiers; pascanu: not recorded) and success, and since the previous
  row the clipped, applied and skipped candidates; with the figure
  ``curves_<task>_T<T>.png`` (median and range over the networks, a line
  per method), which ``--report`` makes again from the CSVs;
- ``table1.md``: the tables (also printed);
- ``fig1_profile.png`` / ``fig2_dynamics.png`` (``--no-figures`` skips
  them): gradient norms vs depth before training (the paper's Fig. 1), and
  one network's delta norms and activations during training, OFF vs ON vs
  clip (its Fig. 2; ``--figures-only`` makes only these), with
  ``fig2_summary.md``: the norm of the delta at depth T - 1 and the share of
  saturated units at the start, after ~500 candidates and at the end.

Long runs: ``--resume`` continues the run in ``--out`` (it refuses another
configuration, or another code commit unless ``--allow-code-change``),
skipping finished (task, T, network) units; ``--shard K/N`` runs every N-th
unit (for several machines or sessions, each with its own ``--out``);
``--report DIR [DIR ...]`` merges their CSVs into the tables without
training. Progress: a line per finished (network, method) row, headed by the
units done / to train (``[  3/40]``) and ending with the elapsed time and an
estimate of the time left (the mean wall time of this run's finished units x
the units left / the parallel jobs); ``--resume`` first says which finished
units it skips.

Quick default (NOT the paper's budget; the table says so): ``--protocol
chernodub``, temporal order at T = 20 (solved by OFF and clipping within
~1,500 candidates: the control) and T = 50 (where the methods part), 4
networks, 10,000 candidate minibatches (200 epochs), the three methods, and
the figures (Fig. 2 from 2,000 candidates). The adding problem is not in it:
under this protocol it stayed near its baseline (17 % vs 16 %) after 20,000
candidates even at T = 20. With 4 networks no paired difference can reach
p < 0.05 (the smallest sign-flip p is 2/16); the run shows the differences,
the paper's budget tests them. Commands, from the repository root::

    pip install ".[bench]" && python benchmarks/table1.py        # quick default
    python benchmarks/table1.py --full --resume --out benchmarks/reference/stage1 \\
        --tasks adding temporal_order --lengths 100 --methods off on clip

The quick default's measured wall time is in the README and docs/reproduction.md. The paper's budget
for one (task, T) is 10 networks x 3 methods x 100,000 candidates; the
measured cost per network is in ``benchmarks/reference/``.
"""

import argparse
import ast
import contextlib
import copy
import csv
import hashlib
import importlib
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from table1_curves import COLUMNS as CURVE_COLUMNS  # noqa: E402
from table1_curves import (  # noqa: E402
    append_curves,
    curve_path,
    curve_table,
    plot_curve_files,
    read_curves,
)
from table1_tables import (  # noqa: E402
    METHOD_LABELS,
    PAPER_BUDGET,
    TASK_TITLES,
    cost_summary,
    dynamics_summary,
    format_percent,
    paper_table,
    per_network_table,
    results_table,
    skipped_summary,
    statistics_table,
)

TASKS = ("adding", "multiplication", "temporal_order", "temporal_order_3bit")
REGRESSION_TASKS = ("adding", "multiplication")
METHODS = ("off", "on", "clip", "on+clip")
DEFAULT_METHODS = ("off", "on", "clip")
SGR_METHODS = ("on", "on+clip")  # gradient_regularization=True
CLIP_METHODS = ("clip", "on+clip")  # clip_norm=--clip-threshold

# The paper's budget (--full).
FULL = {"n_nets": 10, "updates": 100_000, "tasks": list(TASKS), "lengths": [100, 150],
        "n_train": 20_000, "n_val": 1_000, "n_test": 10_000}
# The quick default of the main job (chosen by measurement; see docs/reproduction.md).
QUICK = {"n_nets": 4, "updates": 10_000, "tasks": ["temporal_order"],
         "lengths": [20, 50], "n_train": 20_000, "n_val": 1_000, "n_test": 10_000}

# Each protocol's settings; every one is a flag of its own (None: the protocol's).
PROTOCOLS = {
    "chernodub": {"convention": "chernodub", "learning_rate": 2e-3, "batch_size": 20,
                  "init": "pascanu", "select_by": "loss", "stop_at": 0.99,
                  "tolerances": {"adding": 0.08, "multiplication": 0.04}, "inclusive": True},
    "pascanu": {"convention": "pascanu", "learning_rate": 1e-3, "batch_size": 10,
                "init": "pascanu", "select_by": "score", "stop_at": None,
                "tolerances": {"adding": 0.04, "multiplication": 0.04}, "inclusive": False},
}
INITS = ("normal", "pascanu", "xavier_uniform")

# Parameters of the regularization, reported with the table.
SGR_KEYS = ("q_range", "q_depth", "ds_mode", "ds_momentum", "ds_max", "selection",
            "max_skips")

CSV_COLUMNS = ("net", "seed", "task", "T", "method", "best_validation", "best_at",
               "test_accuracy", "candidates", "updates", "skipped", "guarded",
               "spectral_radius", "wall_time_s", "cpu_time_s", "notes",
               "epochs", "train_time_s", "validation_time_s", "code_commit")
TIMING_COLUMNS = ("wall_time_s", "cpu_time_s", "train_time_s", "validation_time_s")
# SGR's candidates per applied update are capped at this under --budget applied.
APPLIED_BUDGET_CAP = 20
# Settings added after reference runs were started, with the value those runs used.
_ADDED_SETTINGS = {"budget": "candidates", "fresh_data": False}
# Arguments that do not change the numbers (not part of the configuration).
_RUN_ONLY = ("n_jobs", "scheduler", "dask_workers", "out", "resume", "allow_code_change",
             "shard", "report", "no_figures", "figures_only", "fig_updates", "sgr")

# Seeds of the data sets: one stream per (task, T, split[, network]), derived
# from --seed. Each task has a fixed code (the place it had in TASKS when the
# first reference runs were made), so a task's seeds never depend on its
# position in a list.
TASK_CODES = {"adding": 0, "multiplication": 1, "temporal_order": 2, "temporal_order_3bit": 3}
_SPLITS = {"train": 0, "val": 1, "test": 2}
_FRESH = 1  # marks the per-network streams of --fresh-data


# --------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------
class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None / False / [] (those helps say it themselves)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.default == []:
            return action.help
        return super()._get_help_string(action)


def _shard(text):
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard takes K/N, got {text!r}") from None
    if not 1 <= k <= n:
        raise argparse.ArgumentTypeError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description="Reproduce Table 1 of Chernodub & Nowicki (2016): SRNs trained "
                    "with sampling-based gradient regularization OFF vs ON vs clipping.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="chernodub",
                   help="how networks are trained and scored (see the module docstring)")
    p.add_argument("--full", action="store_true",
                   help="the paper's budget: 10 nets, 100,000 candidates, 20k/1k/10k, "
                        "T = 100 150, all four tasks (explicit flags still override)")
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=None,
                   help="tasks [default: temporal_order]")
    p.add_argument("--lengths", nargs="+", type=int, default=None,
                   help="sequence lengths T [default: 20 50]")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(DEFAULT_METHODS),
                   help="off: plain SGD; on: SGR; clip: gradient clipping; on+clip: SGR on "
                        "the clipped gradient's step")
    p.add_argument("--n-nets", type=int, default=None,
                   help="networks per task, length and method [default: 4]")
    p.add_argument("--updates", type=int, default=None,
                   help="candidate minibatches per network [default: 10000]")
    p.add_argument("--budget", choices=("candidates", "applied"), default="candidates",
                   help="chernodub: what --updates counts: candidate minibatches, or "
                        "weight updates applied (SGR draws more candidates)")
    p.add_argument("--n-train", type=int, default=None, help="[default: 20000]")
    p.add_argument("--n-val", type=int, default=None, help="[default: 1000]")
    p.add_argument("--n-test", type=int, default=None, help="[default: 10000]")
    p.add_argument("--learning-rate", type=float, default=None,
                   help="SGD step size on the mean loss [protocol: chernodub 2e-3, "
                        "pascanu 1e-3]")
    p.add_argument("--momentum", type=float, default=0.9, help="SGD momentum")
    p.add_argument("--batch-size", type=int, default=None,
                   help="sequences per minibatch [protocol: chernodub 20, pascanu 10]")
    p.add_argument("--n-hidden", type=int, default=100, help="hidden units")
    p.add_argument("--init", choices=INITS, default=None,
                   help="initialisation [protocol: pascanu = sigma 0.01, 15 nonzeros per "
                        "recurrent row, radius 0.95]; normal = dense N(0, sigma^2); "
                        "xavier_uniform = the authors' code")
    p.add_argument("--sigma", type=float, default=0.01, help="sigma of the Gaussian inits")
    p.add_argument("--spectral-radius", type=float, default=None,
                   help="overrides the init's spectral radius")
    p.add_argument("--recurrent-nonzeros", type=int, default=None,
                   help="overrides the init's nonzeros per recurrent row")
    p.add_argument("--clip-threshold", type=float, default=1.0,
                   help="gradient norm of the clip method (Pascanu et al.: 1)")
    p.add_argument("--sgr", nargs="+", default=[], metavar="KEY=VALUE",
                   help="estimator parameters for the ON runs only, e.g. ds_mode=exact "
                        "max_skips=None 'q_range=(-1, 1)' (values are Python literals)")
    p.add_argument("--tolerance", type=float, default=None,
                   help="regression success tolerance for every regression task "
                        "[protocol: chernodub adding 0.08 / multiplication 0.04 "
                        "(<=); pascanu 0.04 (<)]")
    # chernodub protocol
    p.add_argument("--epoch-size", type=int, default=50,
                   help="chernodub: minibatches per epoch (validation after each)")
    p.add_argument("--no-replacement", action="store_true",
                   help="chernodub: draw an epoch's minibatches without replacement")
    p.add_argument("--no-momentum-restart", action="store_true",
                   help="chernodub: keep the momentum across epochs")
    p.add_argument("--select-by", choices=("loss", "score"), default=None,
                   help="keep the network with the lowest validation loss or the highest "
                        "validation success [protocol: chernodub loss, pascanu score]")
    p.add_argument("--stop-at", type=float, default=None,
                   help="chernodub: stop once validation success exceeds this "
                        "[default: 0.99; > 1 never stops]")
    # pascanu protocol
    p.add_argument("--validation-interval", type=int, default=50,
                   help="pascanu: validate every this many candidate minibatches")
    # running
    p.add_argument("--n-jobs", type=int, default=2,
                   help="(task, T, network) units trained at once (joblib processes)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="run on a dask.distributed cluster, e.g. tcp://host:8786 "
                        "(pip install sksgr[dask])")
    p.add_argument("--dask-workers", type=int, default=None, metavar="N",
                   help="start a dask LocalCluster of N single-threaded worker processes")
    p.add_argument("--seed", type=int, default=0,
                   help="base seed: data sets and initial networks derive from it")
    p.add_argument("--fresh-data", action="store_true",
                   help="a new training, validation and test set for every network (the "
                        "authors' loop); default: one set of each per (task, T)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/table1"),
                   help="output directory (created)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out: skip its finished units")
    p.add_argument("--allow-code-change", action="store_true",
                   help="with --resume: accept rows made by another code commit")
    p.add_argument("--shard", type=_shard, default=None, metavar="K/N",
                   help="run only units K, K+N, K+2N, ... (1-based)")
    p.add_argument("--report", nargs="+", type=Path, default=None, metavar="DIR",
                   help="no training: merge the results.csv of these run directories "
                        "into the tables (written to --out)")
    p.add_argument("--no-figures", action="store_true", help="skip fig1 and fig2")
    p.add_argument("--figures-only", action="store_true", help="only fig1 and fig2")
    p.add_argument("--fig-updates", type=int, default=2000,
                   help="candidate minibatches of the fig2 training runs")
    args = p.parse_args(argv)

    for key, value in (FULL if args.full else QUICK).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    protocol = PROTOCOLS[args.protocol]
    for key in ("learning_rate", "batch_size", "init", "select_by", "stop_at"):
        if getattr(args, key) is None:
            setattr(args, key, protocol[key])
    args.convention = protocol["convention"]
    args.tolerances = {task: (args.tolerance if args.tolerance is not None else tol)
                       for task, tol in protocol["tolerances"].items()}
    args.inclusive = protocol["inclusive"]
    if args.budget != "candidates" and args.protocol != "chernodub":
        p.error("--budget applied needs --protocol chernodub")

    for name in ("n_nets", "updates", "n_train", "n_val", "n_test", "validation_interval",
                 "n_hidden", "batch_size", "epoch_size"):
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


def init_params(args):
    """The estimator's initialisation parameters."""
    return {"init": args.init, "sigma": args.sigma, "spectral_radius": args.spectral_radius,
            "recurrent_nonzeros": args.recurrent_nonzeros}


def describe_init(args):
    parts = [f"`init={args.init!r}`"]
    if args.init != "xavier_uniform":
        parts.append(f"sigma = {args.sigma:g}")
    if args.recurrent_nonzeros is not None:
        parts.append(f"{args.recurrent_nonzeros} nonzeros per recurrent row")
    if args.spectral_radius is not None:
        parts.append(f"recurrent spectral radius {args.spectral_radius:g}")
    return ", ".join(parts)


def configuration(args):
    """Every setting that affects the numbers, as a JSON-able dict."""
    config = {k: v for k, v in vars(args).items() if k not in _RUN_ONLY}
    config["sgr_params"] = {k: repr(v) for k, v in args.sgr_params.items()}
    return json.loads(json.dumps(config, default=str))


# The benchmark's own code, besides the library (what code_commit follows).
_CODE_FILES = ("benchmarks/table1.py", "benchmarks/table1_tables.py",
               "benchmarks/table1_curves.py", "benchmarks/paired_stats.py")


def code_commit():
    """The last commit that touched the library or this script ('unknown' outside git)."""
    root = Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", "sksgr", "setup.py", *_CODE_FILES],
            cwd=root, capture_output=True, text=True, check=True, timeout=30)
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "sksgr", "setup.py", *_CODE_FILES],
            cwd=root, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
        return out.stdout.strip()[:12] + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment():
    """What besides the code can move the numbers: versions, the CPU, the BLAS kernels.

    OpenBLAS picks its kernels for the CPU when it loads, and two kernels may
    round in the last bit differently; an init that scales by a spectral radius
    (LAPACK's eigenvalues) then starts from other weights, and a long run ends
    elsewhere. So every start (and resume) of a run records where it ran.
    """
    import platform

    import scipy
    import scipy.linalg  # noqa: F401  (loads SciPy's own OpenBLAS, so that it is listed)
    import sklearn
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    blas = sorted({f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                   for i in threadpool_info() if i.get("user_api") == "blas"})
    return {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "scikit-learn": sklearn.__version__, "cpu": cpu,
            "blas": blas, "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE")}


def describe_environment(env):
    """One line of :func:`environment`, for the run's header."""
    return (f"numpy {env['numpy']}, SciPy {env['scipy']}, scikit-learn {env['scikit-learn']}; "
            f"BLAS {' / '.join(env['blas']) or 'unknown'}; CPU {env['cpu']}")


# What a built package holds of the library's code (the generated C file excluded).
_CYTHON_SOURCES = ("*.pyx", "*.pxd", "*.pxi", "*.h")
_LIBRARY_SOURCES = ("*.py", *_CYTHON_SOURCES)


def library_fingerprint(package_dir):
    """SHA-256 (hex, 12 digits) of a package folder's source files, names and contents."""
    digest = hashlib.sha256()
    files = sorted({p for pattern in _LIBRARY_SOURCES for p in Path(package_dir).glob(pattern)})
    for path in files:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def stale_extensions(package_dir):
    """Compiled kernels in ``package_dir`` older than a Cython source beside them."""
    package_dir = Path(package_dir)
    sources = [p.stat().st_mtime for pattern in _CYTHON_SOURCES for p in package_dir.glob(pattern)]
    newest = max(sources, default=0.0)
    return sorted(p.name for p in package_dir.glob("*.so") if p.stat().st_mtime < newest)


def check_library(root=None):
    """Fail unless ``import sksgr`` loads this checkout's code, freshly built.

    ``code_commit`` names the commit of the script's checkout; the numbers
    come from whatever ``import sksgr`` finds. In a second worktree beside an
    editable install of another checkout the two differ, and every row would
    be labelled with one commit while computed by another. An installed copy
    of this checkout (``pip install .``) has the same sources and passes.
    """
    import sksgr

    root = Path(__file__).resolve().parents[1] if root is None else Path(root)
    own = root / "sksgr"
    if not own.is_dir():  # the script outside a checkout: nothing to compare with
        return
    loaded = Path(sksgr.__file__).resolve().parent
    if library_fingerprint(loaded) != library_fingerprint(own):
        raise SystemExit(
            f"error: this script is from {root}, but `import sksgr` loads {loaded}, whose "
            "sources differ: its rows would carry this checkout's commit and another's "
            f"numbers. Install this checkout (`pip install -e {root}`, in a venv of its "
            f"own beside other checkouts) or put it first: PYTHONPATH={root}.")
    # an in-place build only: an installer's file times say nothing about build order
    stale = stale_extensions(loaded) if loaded == own.resolve() else []
    if stale:
        raise SystemExit(
            f"error: the compiled kernel {', '.join(stale)} in {loaded} is older than its "
            "Cython sources; rebuild it (`python setup.py build_ext --inplace`, or "
            "`pip install -e .`) before training.")


# --------------------------------------------------------------------------
# data and estimators
# --------------------------------------------------------------------------
def data_seed(seed, task, T, split, net=None):
    """A fixed seed for one data set, distinct for every (seed, task, T, split[, net]).

    ``net=None``: the set shared by every network of the cell; a network
    index: that network's own set (``--fresh-data``).
    """
    key = [seed, TASK_CODES[task], T, _SPLITS[split]]
    if net is not None:
        key += [_FRESH, net]
    ss = np.random.SeedSequence(key)
    return int(ss.generate_state(1)[0] & 0x7FFFFFFF)


def make_data(task, n_samples, T, random_state, convention="pascanu"):
    from sksgr import datasets

    make = getattr(datasets, f"make_{task}")
    return make(n_samples, T, convention=convention, random_state=random_state)


def cell_data(task, T, args, net=None, splits=("train", "val", "test")):
    """{"train": (X, y), "val": ..., "test": ...} of one cell (or one network's own)."""
    sizes = {"train": args.n_train, "val": args.n_val, "test": args.n_test}
    return {split: make_data(task, sizes[split], T, data_seed(args.seed, task, T, split, net),
                             args.convention)
            for split in splits}


def make_datasets(args):
    """{(task, T): data of the cell}, each made once; None per cell with --fresh-data.

    With ``--fresh-data`` each unit makes its network's own sets where it
    runs (cheap, and nothing large travels to the workers).
    """
    return {(task, T): None if args.fresh_data else cell_data(task, T, args)
            for task in args.tasks for T in args.lengths}


def accuracy_scorer(task, args):
    """The validation / test success: accuracy, or share within the tolerance."""
    if task in REGRESSION_TASKS:
        from sksgr.metrics import make_tolerance_scorer

        return make_tolerance_scorer(tol=args.tolerances[task], criterion="absolute",
                                     inclusive=args.inclusive)
    return "accuracy"


def make_estimator(task, method, random_state, args):
    """The estimator of one network; the methods differ only in SGR and clipping."""
    from sksgr import SRNClassifier, SRNRegressor

    Estimator = SRNRegressor if task in REGRESSION_TASKS else SRNClassifier
    params = dict(
        n_hidden=args.n_hidden,
        **init_params(args),
        # the paper's network and optimizer, passed explicitly: the estimators'
        # defaults are for users
        readout="last",
        output_init="random",
        solver="sgd",
        learning_rate=args.learning_rate,
        momentum=args.momentum,
        nesterov=False,
        alpha=0.0,
        batch_size=args.batch_size,
        n_jobs=1,
        random_state=random_state,
        gradient_regularization=method in SGR_METHODS,
        clip_norm=args.clip_threshold if method in CLIP_METHODS else None,
    )
    if args.protocol == "pascanu":
        params.update(
            max_candidates=args.updates,
            max_iter=args.updates,  # an epoch has >= 1 minibatch: never the binding limit
            tol=None,  # train the whole budget, keep the best validated network
            early_stopping=True,
            validation_interval=args.validation_interval,
            scoring=accuracy_scorer(task, args),
        )
    else:  # chernodub: one warm fit per epoch on the epoch's drawn sequences
        params.update(warm_start=True, max_iter=1, shuffle=False, tol=None,
                      early_stopping=False, scoring=accuracy_scorer(task, args))
    if method in SGR_METHODS:
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
    sgr = [m for m in args.methods if m in SGR_METHODS]
    if not sgr:
        return None
    params = make_estimator(args.tasks[0], sgr[0], 0, args).get_params()
    return ", ".join(f"{k}={params[k]!r}" for k in SGR_KEYS if k in params)


# --------------------------------------------------------------------------
# training one network
# --------------------------------------------------------------------------
def validation_measures(est, X, y, task, args):
    """(success, loss) on a validation set, from one forward pass.

    Success as the table counts it; loss: squared error (regression) or
    cross-entropy (classifier), the loss the network is trained on.
    """
    from sklearn.metrics import accuracy_score, log_loss, mean_squared_error

    from sksgr.metrics import tolerance_accuracy_score

    if task in REGRESSION_TASKS:
        pred = est.predict(X)
        return (tolerance_accuracy_score(y, pred, tol=args.tolerances[task],
                                         inclusive=args.inclusive),
                float(mean_squared_error(y, pred)))
    proba = est.predict_proba(X)
    pred = est.classes_[np.argmax(proba, axis=1)]
    return float(accuracy_score(y, pred)), float(log_loss(y, proba, labels=est.classes_))


def _fit_pascanu(est, data, args):
    """One fit with the paper-style periodic validation; returns the bookkeeping."""
    from sklearn.metrics import check_scoring

    (X, y), (X_val, y_val) = data["train"], data["val"]
    tic = time.perf_counter()
    est.fit(X, y, X_val=X_val, y_val=y_val)
    scores = est.validation_scores_ or []
    best_val = est.best_validation_score_
    notes = []
    # the fit's validations; the loss and the per-interval counts are not recorded
    nan = float("nan")
    curve = [(i + 1, min((i + 1) * args.validation_interval, int(est.n_candidates_)), nan,
              float(v), nan, nan, nan) for i, v in enumerate(scores)]
    if scores and np.isfinite(best_val):
        best_at = (int(np.argmax(scores)) + 1) * args.validation_interval
    else:  # fewer candidates than one validation interval: the last network is kept
        best_val = float(check_scoring(est, scoring=est.scoring)(est, X_val, y_val))
        best_at = int(est.n_candidates_)
        notes.append("never validated (updates < validation interval)")
    return est, {"best_validation": float(best_val), "best_at": best_at,
                 "epochs": int(est.n_iter_), "train_time_s": time.perf_counter() - tic,
                 "validation_time_s": float("nan"), "curve": curve, **run_counts(est)}, notes


def run_counts(est):
    """The candidates, applied updates and skipped / guarded SGR candidates of a run."""
    return {"candidates": int(est.n_candidates_), "updates": int(est.n_updates_),
            "skipped": int(est.n_skipped_), "guarded": int(est.n_guarded_)}


def _fit_chernodub(est, data, seed, task, args):
    """The authors' loop: epochs of drawn minibatches, validation after each."""
    from sksgr.diagnostics import init_network

    (X, y), (X_val, y_val) = data["train"], data["val"]
    est = init_network(est, X, y)  # the weights fit would start from (random_state)
    rng = np.random.RandomState(seed)  # the minibatch draws, the same for every method
    per_epoch = args.epoch_size * args.batch_size
    applied = args.budget == "applied"
    max_candidates = args.updates * (APPLIED_BUDGET_CAP if applied else 1)
    n_epochs = -(-max_candidates // args.epoch_size)
    best, best_loss, best_score, best_at = copy.deepcopy(est), np.inf, -np.inf, 0
    train_time = val_time = 0.0
    notes = []
    curve = []  # (epoch, candidates, val loss, val success, clipped, applied, skipped)
    for epoch in range(n_epochs):
        left = min(args.updates - (est.n_updates_ if applied else est.n_candidates_),
                   max_candidates - est.n_candidates_)
        idx = (rng.randint(len(X), size=per_epoch) if not args.no_replacement
               else rng.choice(len(X), size=per_epoch, replace=False))
        idx = idx[: left * args.batch_size]
        before = est.n_candidates_
        counts = (est.n_clipped_, est.n_updates_, est.n_skipped_)
        tic = time.perf_counter()
        if args.no_momentum_restart:
            est.partial_fit(X[idx], y[idx])
        else:
            est.fit(X[idx], y[idx])
        train_time += time.perf_counter() - tic
        tic = time.perf_counter()
        score, loss = validation_measures(est, X_val, y_val, task, args)
        val_time += time.perf_counter() - tic
        curve.append((epoch + 1, int(est.n_candidates_), loss, score,
                      *(int(b - a) for a, b in zip(counts, (est.n_clipped_, est.n_updates_,
                                                             est.n_skipped_)))))
        better = (loss < best_loss) if args.select_by == "loss" else (score > best_score)
        if better:
            best, best_loss, best_score, best_at = (copy.deepcopy(est), loss, score,
                                                    int(est.n_candidates_))
        if est.n_candidates_ - before < len(idx) // args.batch_size:
            notes.append("stopped: diverged")  # fit warned; its weights are the last good
            break
        if args.stop_at is not None and score > args.stop_at:
            notes.append(f"stopped: validation success > {args.stop_at:g}")
            break
        if applied and est.n_updates_ >= args.updates:
            break
    if applied and est.n_updates_ < args.updates and not notes:  # no other stop: the cap
        notes.append(f"stopped: {max_candidates:,} candidates")
    # the kept network may be an earlier one: the counts are those of the whole run
    return best, {"best_validation": best_score, "best_at": best_at, "epochs": epoch + 1,
                  "train_time_s": train_time, "validation_time_s": val_time,
                  "curve": curve, **run_counts(est)}, notes


def train_one(task, T, net, seed, method, data, args, commit="unknown"):
    """Train and test one network; return its row of results.csv.

    The row's ``"curve"`` holds its learning curve (rows of the curve file,
    without net and method); it is not a column of results.csv.
    """
    from sklearn.metrics import check_scoring

    tic, cpu = time.perf_counter(), time.process_time()
    est = make_estimator(task, method, seed, args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if args.protocol == "pascanu":
            est, info, notes = _fit_pascanu(est, data, args)
        else:
            est, info, notes = _fit_chernodub(est, data, seed, task, args)
    X_test, y_test = data["test"]
    test = float(check_scoring(est, scoring=est.scoring)(est, X_test, y_test))
    notes = sorted({"diverged" if "diverged" in str(w.message) else w.category.__name__
                    for w in caught} | set(notes))
    radius = float(np.max(np.abs(np.linalg.eigvals(est.recurrent_weights_))))
    return {
        "net": net, "seed": seed, "task": task, "T": T, "method": method,
        **info, "test_accuracy": test,
        "spectral_radius": radius, "wall_time_s": time.perf_counter() - tic,
        "cpu_time_s": time.process_time() - cpu,
        "notes": ";".join(notes), "code_commit": commit,
    }


def train_unit(task, T, net, seed, data, args, commit):
    """Every method of one (task, T, network), one after the other: rows stay paired.

    ``data``: the cell's data sets, or None to make the network's own
    (``--fresh-data``).
    """
    if data is None:
        data = cell_data(task, T, args, net=net)
    return [train_one(task, T, net, seed, method, data, args, commit)
            for method in args.methods]


# --------------------------------------------------------------------------
# running, resuming, sharding
# --------------------------------------------------------------------------
def all_units(args):
    """The (task, T, net) units in a fixed order.

    Longest T first (better packing), then network by network across the
    tasks, so that a partial run has results for every task.
    """
    return [(task, T, net) for T in sorted(args.lengths, reverse=True)
            for net in range(args.n_nets) for task in args.tasks]


def shard_units(args):
    """The units of this run: all of them, or those of ``--shard``."""
    units = all_units(args)
    if args.shard is not None:
        k, n = args.shard
        units = units[k - 1::n]
    return units


def pending_units(args, done):
    return [u for u in shard_units(args) if u not in done]


def describe_units(units):
    """(task, T, net) units in brief: ``adding T=100 nets 0-1; temporal_order T=100 net 3``."""
    nets = {}
    for task, T, net in sorted(units):
        nets.setdefault((task, T), []).append(net)
    parts = []
    for (task, T), ns in nets.items():
        runs = []  # consecutive networks as [first, last]
        for n in ns:
            if runs and n == runs[-1][1] + 1:
                runs[-1][1] = n
            else:
                runs.append([n, n])
        text = ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)
        parts.append(f"{task} T={T} net{'s' if len(ns) > 1 else ''} {text}")
    return "; ".join(parts)


def format_duration(seconds):
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 100 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


class Progress:
    """Units done of the run's total, elapsed time, and an estimate of the time left.

    The estimate is the mean wall time of the units finished in this run (the
    sum of their rows' ``wall_time_s``) times the units left, divided by the
    units that run at once: the parallel jobs, or the units left if fewer.
    ``n_jobs`` is set by :func:`run_units` once the backend is known.
    """

    def __init__(self, total, start, n_jobs=1):
        self.total, self.start, self.n_jobs = total, start, n_jobs
        self.unit_times = []

    @property
    def done(self):
        return len(self.unit_times)

    def finished(self, unit_rows):
        self.unit_times.append(sum(r["wall_time_s"] for r in unit_rows))

    def time_left(self):
        """Seconds, or None before the first unit finishes."""
        if not self.unit_times:
            return None
        left = self.total - self.done
        return np.mean(self.unit_times) * left / max(1, min(self.n_jobs, left))

    def status(self, now=None):
        now = time.perf_counter() if now is None else now
        left = self.time_left()
        return (f"elapsed {format_duration(now - self.start)}, "
                + ("ETA unknown" if left is None else f"ETA {format_duration(left)}"))


def run_units(args, data, units, commit, progress=None):
    """Train the units in parallel; yield each unit's rows as it finishes.

    ``progress``: a :class:`Progress`, told the number of parallel jobs.
    """
    from joblib import Parallel, delayed, effective_n_jobs

    with dask_backend(args, [d for d in data.values() if d is not None]) as n_jobs:
        if progress is not None:  # inside the backend: dask's -1 counts its workers
            progress.n_jobs = effective_n_jobs(n_jobs)
        parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
        yield from parallel(
            delayed(train_unit)(task, T, net, args.seed + net, data[task, T], args, commit)
            for task, T, net in units
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
        # Import the library on every worker before any task arrives: a worker
        # that first imports it while unpickling tasks in two threads at once
        # can fail with KeyError('sksgr') (seen once in six CI runs).
        client.run(importlib.import_module, "sksgr.datasets")
        print(f"dask: {client.scheduler.address}, {n_workers} workers", flush=True)
        stack.enter_context(parallel_config(backend="dask", scatter=shared))
        yield -1


def _format_row(r):
    out = dict(r)
    for key in ("best_validation", "test_accuracy", "spectral_radius"):
        out[key] = f"{r[key]:.6g}"
    for key in TIMING_COLUMNS:
        out[key] = f"{r[key]:.4f}"
    return out


def read_rows(path):
    """Rows of a results.csv, with numbers parsed."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for key in ("net", "seed", "T", "best_at", "candidates", "updates", "skipped",
                        "guarded", "epochs"):
                r[key] = int(r[key])
            for key in ("best_validation", "test_accuracy", "spectral_radius",
                        *TIMING_COLUMNS):
                r[key] = float(r[key])
            rows.append(r)
    return rows


def write_csv(rows, path):
    rows = sorted(rows, key=lambda r: (r["task"], r["T"], r["method"], r["net"]))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for r in rows:
            writer.writerow(_format_row(r))


def _append_rows(rows, path):
    new = not path.exists()
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        if new:
            writer.writeheader()
        for r in rows:
            writer.writerow(_format_row(r))
        f.flush()
        os.fsync(f.fileno())


def prepare_out(args, config, commit, env):
    """Create --out; with --resume, check its configuration and return its rows.

    ``config.json`` keeps the configuration, the code commit and, under
    ``"sessions"``, ``env`` (:func:`environment`) of every start and resume.
    """
    args.out.mkdir(parents=True, exist_ok=True)
    config_path, csv_path = args.out / "config.json", args.out / "results.csv"
    rows = []
    sessions = []
    if args.resume and config_path.exists():
        saved = json.loads(config_path.read_text())
        sessions = saved.get("sessions", [])
        saved["config"] = {**_ADDED_SETTINGS, **saved["config"]}
        differ = sorted(k for k in set(saved["config"]) | set(config)
                        if saved["config"].get(k) != config.get(k))
        if differ:
            raise SystemExit(
                f"error: --resume: {args.out} holds a run with another configuration: "
                + "; ".join(f"{k}: {saved['config'].get(k)!r} there, {config.get(k)!r} now"
                            for k in differ))
        if saved["code_commit"] != commit and not args.allow_code_change:
            raise SystemExit(
                f"error: --resume: {args.out} was made by code commit "
                f"{saved['code_commit']}, this is {commit}. Rerun, or pass "
                "--allow-code-change if the change provably leaves the numbers unchanged.")
        if csv_path.exists():
            rows = read_rows(csv_path)
        commit = saved["code_commit"]
    else:
        if csv_path.exists():
            csv_path.unlink()
        for path in args.out.glob("curves_*_T*.*"):  # a new run: no curves of an old one
            path.unlink()
    sessions = [*sessions, env]
    config_path.write_text(json.dumps({"config": config, "code_commit": commit,
                                       "sessions": sessions}, indent=1, sort_keys=True) + "\n")
    return rows


def finished_units(rows, methods):
    have = {}
    for r in rows:
        have.setdefault((r["task"], r["T"], r["net"]), set()).add(r["method"])
    return {u for u, m in have.items() if set(methods) <= m}


# --------------------------------------------------------------------------
# tables
# --------------------------------------------------------------------------
def baselines(args):
    """What a network that learned nothing scores, per (task, T) cell.

    ``{"success": ..., "loss": ...}``: the test success and the validation loss
    (squared error, or cross-entropy for the classifiers) of predicting the
    training mean (regression) or the training class frequencies (majority class
    for the success). With ``--fresh-data``: the mean over the networks' own sets.
    """
    from sklearn.metrics import log_loss, mean_squared_error

    from sksgr.metrics import tolerance_accuracy_score

    def baseline(task, d):
        (_, y), (_, y_val), (_, y_test) = d["train"], d["val"], d["test"]
        if task in REGRESSION_TASKS:
            mean = float(np.mean(y))
            return (tolerance_accuracy_score(y_test, np.full(len(y_test), mean),
                                             tol=args.tolerances[task], inclusive=args.inclusive),
                    float(mean_squared_error(y_val, np.full(len(y_val), mean))))
        values, counts = np.unique(y, return_counts=True)
        prior = np.tile(counts / counts.sum(), (len(y_val), 1))
        return (float(np.mean(y_test == values[np.argmax(counts)])),
                float(log_loss(y_val, prior, labels=values)))

    nets = range(args.n_nets) if args.fresh_data else [None]
    found = {}
    for task in args.tasks:
        for T in args.lengths:
            success, loss = np.mean([baseline(task, cell_data(task, T, args, net))
                                     for net in nets], axis=0)
            found[task, T] = {"success": float(success), "loss": float(loss)}
    return found


def markdown_report(rows, args, wall_time, base):
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
    title = ("## Table 1 (reproduction): test accuracy of trained SRNs, best / mean over "
             "networks")
    tol = ", ".join(f"{t} {'<=' if args.inclusive else '<'} {v:g}"
                    for t, v in args.tolerances.items() if t in args.tasks)
    if args.protocol == "chernodub":
        training = (
            f"epochs of {args.epoch_size} minibatches of {args.batch_size} sequences drawn "
            f"{'without' if args.no_replacement else 'with'} replacement, momentum "
            f"{'kept across' if args.no_momentum_restart else 'restarted at'} each epoch; "
            f"validation after every epoch, the network with the best validation "
            f"{args.select_by} is tested; stop at validation success > {args.stop_at:g}")
    else:
        training = (f"minibatches of {args.batch_size} from reshuffled epochs; validation "
                    f"every {args.validation_interval} candidate minibatches, the best "
                    "validated network is tested")
    budget = (
        f"Protocol `{args.protocol}`: {args.n_nets} networks per task, length and method "
        f"(the same initial weights for every method); "
        + ("a fresh training / validation / test set for every network; "
           if args.fresh_data else "")
        + (f"up to {args.updates:,} candidate minibatches per network"
           if args.budget == "candidates" else
           f"{args.updates:,} applied weight updates per network (SGR: up to "
           f"{args.updates * APPLIED_BUDGET_CAP:,} candidates)")
        + f"; train / validation / test = {args.n_train:,} / "
        f"{args.n_val:,} / {args.n_test:,} sequences (`convention={args.convention!r}`); "
        f"{args.n_hidden} hidden units; SGD lr {args.learning_rate:g} on the mean loss, "
        f"momentum {args.momentum:g}; {training}"
        + (f"; regression success: |error| {tol}" if tol else "")
        + (f"; clipping at gradient norm {args.clip_threshold:g}" if "clip" in args.methods
           else "") + ".")
    init = f"Initialisation: {describe_init(args)}."
    cpu = sum(r["cpu_time_s"] for r in rows)
    wall = (f"Wall time: {wall_time:,.0f} s with --n-jobs {args.n_jobs} "
            f"({os.cpu_count()} CPUs; the networks' CPU time adds up to {cpu:,.0f} s); "
            f"base seed {args.seed}." if wall_time is not None else
            f"The networks' CPU time adds up to {cpu:,.0f} s; base seed {args.seed}.")
    parts = [title, ""]
    if caveats:
        parts += [f"**Not the paper's setting:** {'; '.join(caveats)}.", ""]
    parts += [results_table(rows, args.tasks, args.lengths, args.methods), "",
              budget, init, wall]
    settings = sgr_settings(args)
    if settings:
        parts.append(f"SGR settings (ON rows): {settings}.")
    for line in (skipped_summary(rows), cost_summary(rows) if rows else None):
        if line:
            parts.append(line)
    parts += ["", "### Mean ± sd and paired differences", "",
              statistics_table(rows, args.tasks, args.lengths, args.methods,
                               {cell: b["success"] for cell, b in base.items()}), "",
              "Baseline: test success of predicting the training mean (regression) or the "
              "majority class.", "", "### Per network", "",
              per_network_table(rows, args.tasks, args.lengths, args.methods), "",
              "Test success; for SGR, the share of candidates it skipped"
              + (f"; in brackets, the candidates after which a run stopped at validation "
                 f"success > {args.stop_at:g}." if args.stop_at is not None else "."), ""]
    curves = {(t, T): read_curves(curve_path(args.out, t, T)) for t in args.tasks
              for T in args.lengths if curve_path(args.out, t, T).exists()}
    if curves:
        parts += ["### Learning curves: validation loss and clipping", "",
                  curve_table(curves, {cell: b["loss"] for cell, b in base.items()},
                              args.methods), ""]
    parts += ["### The paper's Table 1 (Chernodub & Nowicki 2016, T = 100 and 150)", "",
              paper_table(args.tasks), "", f"Paper's budget: {PAPER_BUDGET}.", ""]
    return "\n".join(parts)


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
                         + ". Install them, or run with --no-figures.")


def make_figures(args, data):
    """fig1_profile.png (the paper's Fig. 1) and fig2_dynamics.png (its Fig. 2).

    Fig. 1: mean norms of the deltas and of the per-step weight gradients vs
    backpropagation depth before training, temporal order T = 100 (h = 100
    as in the paper), 100 sequences, for sigma in {0.01, 0.1, 0.5} with a
    dense recurrent matrix (the paper's literal init) and for the init of
    this run. Fig. 2: delta norms per depth and mean / median |activation|
    during the training of one network (random_state ``--seed``, trained by
    ``record_dynamics``: continuous momentum, no validation, so not
    identical to the table's network 0) on the first task at the longest
    length, one column per method, from the same initial weights,
    ``--fig-updates`` minibatches, recorded every 50 on 100 validation
    sequences. The methods run in parallel.
    """
    from joblib import Parallel, delayed

    from sksgr.diagnostics import gradient_norm_profile, init_network
    from sksgr.plotting import plot_dynamics, plot_gradient_profile

    out = args.out
    T = 100
    X, y = make_data("temporal_order", 100, T,
                     data_seed(args.seed, "temporal_order", T, "val"), args.convention)
    inits = {f"sigma = {s:g}, dense": {"init": "normal", "sigma": s} for s in (0.01, 0.1, 0.5)}
    if args.init != "normal" or args.spectral_radius or args.recurrent_nonzeros:
        inits[f"this run: {describe_init(args)}".replace("`", "")] = init_params(args)
    profiles = {}
    for label, init in inits.items():
        net = init_network(profile_estimator(args, init), X, y, random_state=args.seed)
        profiles["\n".join(_wrap(label, 40))] = gradient_norm_profile(net, X, y)
    fig = plot_gradient_profile(profiles)
    fig.suptitle(f"Initial gradients, temporal order T = {T}, {args.n_hidden} hidden units")
    fig.savefig(out / "fig1_profile.png", dpi=100)

    task, T = args.tasks[0], max(args.lengths)
    # the cell's shared sets (with --fresh-data they are not in memory: made here)
    d = data.get((task, T)) or cell_data(task, T, args, splits=("train", "val"))
    n_updates = args.fig_updates
    (X, y), (X_val, y_val) = d["train"], d["val"]
    probe = min(100, len(X_val))
    runs = Parallel(n_jobs=min(args.n_jobs, len(args.methods)))(
        delayed(_record_dynamics)(task, m, X, y, X_val[:probe], y_val[:probe], n_updates, args)
        for m in args.methods)
    fig = plot_dynamics({METHOD_LABELS[m]: r for m, r in zip(args.methods, runs)})
    fig.suptitle(f"{TASK_TITLES[task]}, T = {T}: one network (random_state {args.seed}), "
                 f"same initial weights for each method; {n_updates:,} candidate "
                 f"minibatches, lr {args.learning_rate:g}", fontsize="medium")
    fig.savefig(out / "fig2_dynamics.png", dpi=100)
    summary = (f"Fig. 2 run: {TASK_TITLES[task]}, T = {T}, {n_updates:,} candidate minibatches, "
               f"init {describe_init(args)}, lr {args.learning_rate:g}, minibatch "
               f"{args.batch_size}; probe of {probe} validation sequences.\n\n"
               + dynamics_summary(runs, args.methods))
    (out / "fig2_summary.md").write_text(summary + "\n")
    print(summary, flush=True)
    return runs


def profile_estimator(args, init):
    """The paper's network whose initial gradient profile Fig. 1 draws, with ``init``'s
    draw (the estimators' defaults read out pooled states from a ridge start: another
    network, with other gradients)."""
    from sksgr import SRNClassifier

    return SRNClassifier(n_hidden=args.n_hidden, readout="last", output_init="random", **init)


def _record_dynamics(task, method, X, y, X_probe, y_probe, n_updates, args):
    from sksgr.diagnostics import record_dynamics

    est = make_estimator(task, method, args.seed, args)
    est.set_params(warm_start=False, max_iter=200, shuffle=True)
    dyn = record_dynamics(est, X, y, n_candidates=n_updates, every=50,
                          X_probe=X_probe, y_probe=y_probe)
    dyn.estimator = None  # not needed: do not send the network back
    return dyn


def _wrap(text, width):
    import textwrap

    return textwrap.wrap(text, width)


# --------------------------------------------------------------------------
def report_only(args):
    """--report: merge run directories' CSVs into the tables."""
    rows, configs = {}, []
    for d in args.report:
        path = d / "results.csv" if d.is_dir() else d
        cfg = (path.parent / "config.json")
        if cfg.exists():
            configs.append(json.loads(cfg.read_text())["config"])
        for r in read_rows(path):
            key = (r["task"], r["T"], r["method"], r["net"])
            if key in rows and any(rows[key][c] != r[c] for c in CSV_COLUMNS
                                   if c not in TIMING_COLUMNS):
                raise SystemExit(f"error: --report: {key} differs between the inputs")
            rows[key] = r
    if configs and any(c != configs[0] for c in configs[1:]):
        raise SystemExit("error: --report: the runs have different configurations")
    if configs:  # the table describes the runs' configuration, not the flags
        for key, value in configs[0].items():
            if key in ("lengths", "tasks", "methods") or not hasattr(args, key):
                continue
            setattr(args, key, value)
    rows = list(rows.values())
    args.tasks = [t for t in TASKS if any(r["task"] == t for r in rows)]
    args.lengths = sorted({r["T"] for r in rows})
    args.methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    args.out.mkdir(parents=True, exist_ok=True)
    merge_curves(args.report, args.out, [(t, T) for t in args.tasks for T in args.lengths])
    report = markdown_report(rows, args, None, baselines(args))
    (args.out / "table1.md").write_text(report)
    print(report)
    if not args.no_figures:
        curve_figures(args)
    return rows


def merge_curves(dirs, out, cells):
    """--report: the curve files of the run directories, merged into --out."""
    for task, T in cells:
        merged = {}
        for d in dirs:
            path = curve_path(d if d.is_dir() else d.parent, task, T)
            if path.exists():
                merged.update(read_curves(path))
        target = curve_path(out, task, T)
        if not merged or all(curve_path(d if d.is_dir() else d.parent, task, T) == target
                             for d in dirs):
            continue  # nothing to merge, or --out is the one run directory
        tmp = target.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        for (net, method), points in sorted(merged.items()):
            append_curves(tmp, net, method, [tuple(p[k] for k in CURVE_COLUMNS[2:])
                                             for p in points])
        tmp.replace(target)


def curve_figures(args):
    """curves_<task>_T<T>.png from the curve files in --out (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        print("no matplotlib: the curve figures are not made", flush=True)
        return []

    def summary(task, T, n_networks):
        of = f" of {args.n_nets}" if n_networks < args.n_nets else ""
        return (f"{n_networks}{of} networks, {args.updates:,} candidates, init {args.init}"
                + (", fresh data per network" if args.fresh_data else ""))

    return plot_curve_files(args.out, [(t, T) for t in args.tasks for T in args.lengths],
                            METHOD_LABELS, TASK_TITLES, summary)


def main(argv=None):
    args = parse_args(argv)
    if args.report:
        return report_only(args)
    check_library()
    check_sgr_params(args)
    if not args.no_figures:
        check_figures_available()
    commit = code_commit()
    tic = time.perf_counter()
    if args.figures_only:
        args.out.mkdir(parents=True, exist_ok=True)
        make_figures(args, {})
        print(f"figures written to {args.out} in {time.perf_counter() - tic:.0f} s")
        return []
    config = configuration(args)
    env = environment()
    rows = prepare_out(args, config, commit, env)
    finished = finished_units(rows, args.methods)
    units = pending_units(args, finished)
    print(f"Table 1, protocol {args.protocol}: tasks {' '.join(args.tasks)}; "
          f"T = {' '.join(map(str, args.lengths))}; methods {' '.join(args.methods)}; "
          f"{args.n_nets} nets; {args.updates:,} "
          f"{'candidates' if args.budget == 'candidates' else 'applied updates'}; "
          f"init {describe_init(args)}; "
          f"--n-jobs {args.n_jobs}; code {commit}; {len(units)} units to train"
          + (f" ({len(rows)} rows already in {args.out})" if rows else ""), flush=True)
    print(f"environment: {describe_environment(env)}", flush=True)
    if args.resume:
        skipped = [u for u in shard_units(args) if u in finished]
        print(f"skipping {len(skipped)} finished unit{'' if len(skipped) == 1 else 's'}"
              + (f": {describe_units(skipped)}" if skipped else ""), flush=True)
    data = make_datasets(args)
    print(f"data sets made in {time.perf_counter() - tic:.1f} s", flush=True)

    progress = Progress(len(units), tic, args.n_jobs)
    if units:
        print(f"progress: 0/{len(units)} units done, {progress.status()}", flush=True)
    for unit_rows in run_units(args, data, units, commit, progress):
        for row in unit_rows:  # curves first: a unit is finished once its rows are written
            append_curves(curve_path(args.out, row["task"], row["T"]), row["net"],
                          row["method"], row.pop("curve"))
        _append_rows(unit_rows, args.out / "results.csv")
        rows.extend(unit_rows)
        progress.finished(unit_rows)
        status = progress.status()
        for row in unit_rows:
            print(f"[{progress.done:>3}/{len(units)}] {row['task']:<19} T={row['T']:<4} "
                  f"{row['method']:<7} net {row['net']:<2}: test "
                  f"{format_percent(row['test_accuracy']):>6}, best val "
                  f"{format_percent(row['best_validation']):>6}"
                  f" at {row['best_at']:,}, updates {row['updates']:,}, skipped "
                  f"{row['skipped']:,}, radius {row['spectral_radius']:.2f}, "
                  f"{row['wall_time_s']:.1f} s  ({status})"
                  + (f"  [{row['notes']}]" if row["notes"] else ""), flush=True)
    train_time = time.perf_counter() - tic

    wanted = {(t, T, n) for t, T, n in all_units(args)}
    rows = [r for r in rows if (r["task"], r["T"], r["net"]) in wanted]
    write_csv(rows, args.out / "results.csv")
    report = markdown_report(rows, args, train_time if not args.resume else None,
                             baselines(args))
    (args.out / "table1.md").write_text(report)
    print()
    print(report)
    if not args.no_figures:
        curve_figures(args)

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
