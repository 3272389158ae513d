"""scikit-learn's estimator checks on both estimators."""

import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksgr import SRNClassifier, SRNRegressor

# scikit-learn's checks fit with the default budget on tiny data sets, and some
# do not converge within it: expected, not what these checks are about.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# With the paper's literal initialisation (sigma=0.01, so the recurrent
# matrix has spectral radius ~0.1), information from more than a few steps
# back is lost before training can use it. check_regressors_train reads a
# 2-D X of 10 columns as 10-step univariate sequences whose only informative
# value sits at an early step, and requires R^2 > 0.5: a long-memory task for
# this init. The same check passes with a larger sigma (second list below).
PAPER_DEFAULTS_FAILS = {
    "check_regressors_train": (
        "sigma=0.01 (paper default) forgets the informative early step of the "
        "check's 10-step sequences; passes with sigma=0.3 below"
    ),
}


def _expected_failures(estimator):
    if isinstance(estimator, SRNRegressor) and estimator.sigma == 0.01:
        return PAPER_DEFAULTS_FAILS
    return {}


@parametrize_with_checks(
    [
        SRNClassifier(),
        SRNRegressor(),
        SRNClassifier(n_hidden=16, sigma=0.3, learning_rate=1e-2),
        SRNRegressor(n_hidden=16, sigma=0.3, learning_rate=1e-2),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
