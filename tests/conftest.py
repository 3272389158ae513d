"""Fixtures shared by the test modules."""

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import sksgr

ROOT = Path(__file__).resolve().parents[1]  # the repository (or a copy of it without sksgr/)
# sksgr's own files (.py, .pyx, .pxd, .pxi, .h), for the tests that read them: the source
# tree's, or the installed package's where the tests run without the source tree
# (.ci/wheel_test.sh runs them against the installed wheel, which ships these files)
PACKAGE_DIR = ROOT / "sksgr" if (ROOT / "sksgr").is_dir() else Path(sksgr.__file__).resolve().parent


def pytest_report_header(config):
    import joblib
    import scipy
    import sklearn
    import threadpoolctl

    return (f"sksgr {sksgr.__version__} imported from {Path(sksgr.__file__).resolve().parent}; "
            f"numpy {np.__version__}, scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
            f"joblib {joblib.__version__}, threadpoolctl {threadpoolctl.__version__}")

# Small networks that learn the tests' tasks in a second; their budget
# (max_iter=20) is deliberately short, so such fits may end with the
# max_iter ConvergenceWarning, which the tests that use them silence.
FAST = dict(n_hidden=12, sigma=0.3, learning_rate=1e-2, max_iter=20, random_state=0)

# The paper's configuration (SGD with momentum, a Gaussian init, minibatches
# of 10, MLP's patience, 100 units). The defaults are for users (an echo-state start
# with pooled readouts and a ridge output layer, then Adam);
# tests of the paper's SGD training start from this instead.
PAPER_SGD = dict(n_hidden=100, init="normal", solver="sgd", batch_size=10,
                 n_iter_no_change=10, readout="last", output_init="random")
FAST = {**PAPER_SGD, **FAST}


def nan_padded(seqs):
    """A list of (T_i, F) sequences as one NaN-padded (n, max T_i, F) array."""
    T = max(len(s) for s in seqs)
    out = np.full((len(seqs), T, seqs[0].shape[1]), np.nan)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out


def sign_task(n=120, T=6, F=2, seed=0):
    """Sequences (n, T, F) of Gaussian noise; the class is the sign at step 1."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F))
    return X, (X[:, 1, 0] > 0).astype(int)


@pytest.fixture
def issue_data():
    """The data of the issue that listed the defects: X (200, 10, 3), a
    regression target y and a binary target yc."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10, 3))
    return X, X[:, :, 0].sum(1), (X[:, :, 1].mean(1) > 0).astype(int)


@pytest.fixture
def run_isolated(tmp_path):
    """Run Python code in a fresh interpreter (for what may crash or must not
    share this process's state); returns the CompletedProcess.

    By default it runs in an empty directory: ``python -c`` puts its working
    directory first on ``sys.path``, and from the repository's root that
    would import the source tree instead of the installed package.
    """

    def run(code, *, setup="", cwd=None, timeout=120):
        source = textwrap.dedent(setup) + textwrap.dedent(code)
        return subprocess.run([sys.executable, "-c", source], cwd=cwd or tmp_path,
                              capture_output=True, text=True, timeout=timeout)

    return run


def train_minibatches(X, Y, lengths, order, starts, coef, state, work, losses, n_hidden, head,
                      bptt_depth, learning_rate, momentum, nesterov, alpha, clip_norm=0.0,
                      max_abs_weight=0.0, *, solver=0, beta_1=0.9, beta_2=0.999,
                      epsilon=1e-8, sgr=False, selection=0, exact=False, q_min=-1.0,
                      q_max=1.0, ds_max=0.0, q_depth=0, max_skips=0, ds_momentum=True,
                      steer_q=False, readout=("last",), **kernel_kwargs):
    """The kernel's training call through the front door, with its settings spelt out
    as the kernel tests write them (one keyword per setting)."""
    from sksgr.network import (
        DS_MODES,
        STEERS,
        Network,
        Optimizer,
        SGRSettings,
    )

    net = Network(X.shape[2], n_hidden, Y.shape[1], head, tuple(readout))
    optimizer = Optimizer(solver=solver, learning_rate=learning_rate, momentum=momentum,
                          nesterov=nesterov, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
    settings = None
    if sgr:
        settings = SGRSettings(
            selection=selection, ds_mode=DS_MODES["exact" if exact else "linear"], q_min=q_min,
            q_max=q_max, ds_max=ds_max, q_depth=q_depth, max_skips=max_skips,
            ds_momentum=ds_momentum, steer=STEERS["dQ" if steer_q else "dS"])
    return net.train(X, Y, lengths, order, starts, coef, state, work, losses, optimizer,
                     settings, bptt_depth=bptt_depth, alpha=alpha, clip_norm=clip_norm,
                     max_abs_weight=max_abs_weight, **kernel_kwargs)


def assert_decisions_follow_the_rule(est, q_range=(-1.0, 1.0)):
    """Every candidate a fitted SGR estimator applied obeys the selection rule on its
    recorded Q and dS, or was forced by the max_skips guard; none it skipped obeys it."""
    from sksgr._bptt_fast import accept_candidate

    q, ds, used = est.q_history_, est.ds_history_, est.used_history_
    by_rule = np.array([accept_candidate(a, 1.0, b, *q_range) for a, b in zip(q, ds)])
    assert np.count_nonzero(used & ~by_rule) == est.n_guarded_
    assert not np.any(~used & by_rule)
