"""scikit-learn's estimator checks on both estimators."""

import pytest
from sklearn.utils.estimator_checks import (
    check_sample_weight_equivalence_on_dense_data,
    parametrize_with_checks,
)

from sksgr import SRNClassifier, SRNRegressor

from conftest import PAPER_SGD

# scikit-learn's checks fit with the default budget on tiny data sets, and some
# do not converge within it: expected, not what these checks are about.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# The paper's configuration (SGD, sigma=0.01 Gaussian init, so the recurrent
# matrix has spectral radius ~0.1): information from more than a few steps
# back is lost before training can use it. check_regressors_train reads a
# 2-D X of 10 columns as 10-step univariate sequences whose only informative
# value sits at an early step, and requires R^2 > 0.5: a long-memory task for
# this init. The defaults (Adam, Xavier init) pass it, and so does SGD with
# sigma=0.3 (the last instance).
PAPER_FAILS = {
    "check_regressors_train": (
        "the paper's sigma=0.01 init forgets the informative early step of the "
        "check's 10-step sequences; the defaults and sigma=0.3 pass"
    ),
}
PAPER = dict(PAPER_SGD, sigma=0.01)


# scikit-learn declares this check an expected failure of its own minibatch SGD
# estimators (SGDClassifier, SGDRegressor, Perceptron, ...) with the reason
# quoted below: with minibatches smaller than the data (the defaults' 16, the
# paper's 10) the check's repeated samples and its weighted
# samples fall into different minibatches (different numbers of them, shuffled
# differently), so the two fits take different steps. With one minibatch per
# epoch the check passes: test_sample_weight_equivalence_with_full_batches.
MINIBATCH_FAILS = {
    "check_sample_weight_equivalence_on_dense_data": (
        "sample_weight is not equivalent to removing/repeating samples (as for "
        "scikit-learn's SGD estimators): repeated and weighted samples fall into "
        "different shuffled minibatches"
    ),
}


def _expected_failures(estimator):
    fails = dict(MINIBATCH_FAILS) if estimator.batch_size < 100 else {}
    if isinstance(estimator, SRNRegressor) and estimator.get_params()["init"] == "normal" \
            and estimator.sigma == 0.01:
        fails.update(PAPER_FAILS)
    return fails


@parametrize_with_checks(
    [
        SRNClassifier(),
        SRNRegressor(),
        SRNClassifier(**PAPER),
        SRNRegressor(**PAPER),
        SRNClassifier(**{**PAPER_SGD, "n_hidden": 16}, sigma=0.3, learning_rate=1e-2),
        SRNRegressor(**{**PAPER_SGD, "n_hidden": 16}, sigma=0.3, learning_rate=1e-2),
        # the defaults read ("last", "mean", "max") from a closed-form output layer (the
        # first two instances); here the last state alone from it, and the pooled
        # readouts from a drawn output layer (smaller networks: the API is what is checked)
        SRNClassifier(n_hidden=32, readout="last"),
        SRNRegressor(n_hidden=32, readout="last"),
        SRNClassifier(n_hidden=32, readout=("last", "mean", "max"), output_init="random"),
        SRNRegressor(n_hidden=32, readout=("last", "mean", "max"), output_init="random"),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [
    # the default ridge start with one penalty: its weighted standardisation and fit
    # are those of the repeated samples (choosing the penalty by leave-one-out is not:
    # leaving out one of k copies is not leaving out a weight-k sample)
    SRNClassifier(batch_size=100, ridge_alphas=[1.0]),
    SRNRegressor(batch_size=100, ridge_alphas=[1.0]),
    SRNClassifier(**{**PAPER_SGD, "batch_size": 100, "n_hidden": 16}, sigma=0.3,
                  learning_rate=1e-2),
    SRNRegressor(**{**PAPER_SGD, "batch_size": 100, "n_hidden": 16}, sigma=0.3,
                 learning_rate=1e-2, gradient_regularization=True, ds_mode="exact"),
], ids=repr)
def test_sample_weight_equivalence_with_full_batches(estimator):
    """The check expected to fail above passes once every epoch is one minibatch
    (batch_size >= the check's 15 weighted and at most 60 repeated samples)."""
    check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)
