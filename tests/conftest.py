"""Fixtures shared by the test modules."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

# Small networks that learn the tests' tasks in a second; their budget
# (max_iter=20) is deliberately short, so such fits may end with the
# max_iter ConvergenceWarning, which the tests that use them silence.
FAST = dict(n_hidden=12, sigma=0.3, learning_rate=1e-2, max_iter=20, random_state=0)


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
