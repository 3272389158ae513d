"""Tests for sksgr.metrics (accuracy within a tolerance and its scorers)."""

import doctest

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

import sksgr.metrics
from sksgr.metrics import (
    make_tolerance_scorer,
    tolerance_accuracy_score,
    tolerance_scorer,
)

# errors 0.02, 0.1, 0.3, -0.01, -0.19 around y_true = 1:
#   |e| < 0.04   -> 0.02, -0.01                    -> 2/5
#   e**2 < 0.04  -> 0.02, 0.1, -0.01, -0.19        -> 4/5
Y_TRUE = np.ones(5)
Y_PRED = Y_TRUE + np.array([0.02, 0.1, 0.3, -0.01, -0.19])


def test_absolute_default():
    assert tolerance_accuracy_score(Y_TRUE, Y_PRED) == pytest.approx(2 / 5)
    assert tolerance_accuracy_score(
        Y_TRUE, Y_PRED, criterion="absolute"
    ) == pytest.approx(2 / 5)


def test_squared():
    assert tolerance_accuracy_score(
        Y_TRUE, Y_PRED, criterion="squared"
    ) == pytest.approx(4 / 5)


@pytest.mark.parametrize("tol, criterion, expected", [
    (0.15, "absolute", 3 / 5),   # 0.02, 0.1, -0.01
    (0.5, "absolute", 1.0),
    (0.001, "absolute", 0.0),
    (0.05, "squared", 4 / 5),    # 0.0004, 0.01, 0.0001, 0.0361
    (0.01, "squared", 2 / 5),    # 0.1**2 is not < 0.01
    (0.1, "squared", 1.0),       # 0.09 < 0.1
])
def test_tol_is_used(tol, criterion, expected):
    score = tolerance_accuracy_score(Y_TRUE, Y_PRED, tol=tol, criterion=criterion)
    assert score == pytest.approx(expected)


def test_strict_inequality_at_the_tolerance():
    # exactly representable values: error == tol is not within tolerance
    assert tolerance_accuracy_score([0.0], [0.25], tol=0.25) == 0.0
    assert tolerance_accuracy_score([0.0], [0.125], tol=0.25) == 1.0
    assert tolerance_accuracy_score([0.0], [0.5], tol=0.25, criterion="squared") == 0.0
    assert tolerance_accuracy_score([0.0], [0.25], tol=0.25, criterion="squared") == 1.0


def test_sign_of_error_does_not_matter():
    assert tolerance_accuracy_score([0.0, 0.0], [0.03, -0.03]) == 1.0
    assert tolerance_accuracy_score([0.0, 0.0], [0.05, -0.05]) == 0.0


def test_returns_python_float_and_accepts_lists():
    score = tolerance_accuracy_score([1.0, 2.0], [1.0, 2.5])
    assert type(score) is float
    assert score == 0.5


def test_integer_targets():
    assert tolerance_accuracy_score([1, 2, 3], [1, 2, 4]) == pytest.approx(2 / 3)


def test_multi_output_needs_every_output_within_tolerance():
    y_true = np.zeros((4, 2))
    y_pred = np.array([[0.01, -0.01],   # both in
                       [0.01, 0.5],     # second out
                       [0.5, 0.01],     # first out
                       [0.5, 0.5]])     # both out
    # per-sample "all outputs" rule: 1/4 (an element-wise mean would give 3/8)
    assert tolerance_accuracy_score(y_true, y_pred) == pytest.approx(1 / 4)
    assert tolerance_accuracy_score(y_true, y_pred, tol=0.3,
                                    criterion="squared") == pytest.approx(1.0)


def test_1d_and_column_vector_are_interchangeable():
    col = Y_PRED.reshape(-1, 1)
    expected = tolerance_accuracy_score(Y_TRUE, Y_PRED)
    assert tolerance_accuracy_score(Y_TRUE, col) == expected
    assert tolerance_accuracy_score(Y_TRUE.reshape(-1, 1), Y_PRED) == expected


def test_squared_overflow_counts_as_wrong_without_warning():
    with np.errstate(all="raise"):
        assert tolerance_accuracy_score([0.0, 0.0], [1e300, 0.0],
                                        criterion="squared") == 0.5


# --------------------------------------------------------------------------
# errors


def test_inconsistent_lengths():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        tolerance_accuracy_score([1.0, 2.0, 3.0], [1.0, 2.0])


def test_different_numbers_of_outputs():
    with pytest.raises(ValueError, match=r"different numbers of outputs \(2 != 3\)"):
        tolerance_accuracy_score(np.zeros((4, 2)), np.zeros((4, 3)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_y_pred(bad):
    with pytest.raises(ValueError, match="y_pred"):
        tolerance_accuracy_score([1.0, 2.0], [1.0, bad])


def test_non_finite_y_true():
    with pytest.raises(ValueError, match="y_true"):
        tolerance_accuracy_score([np.nan, 2.0], [1.0, 2.0])


def test_three_dimensional_input():
    with pytest.raises(ValueError, match="dim 3"):
        tolerance_accuracy_score(np.zeros((2, 2, 2)), np.zeros((2, 2, 2)))


def test_empty_input():
    with pytest.raises(ValueError, match="0 sample"):
        tolerance_accuracy_score([], [])


@pytest.mark.parametrize("tol", [0, 0.0, -0.1, np.nan, np.inf])
def test_bad_tol_value(tol):
    with pytest.raises(ValueError, match="tol must be a positive finite number"):
        tolerance_accuracy_score(Y_TRUE, Y_PRED, tol=tol)
    with pytest.raises(ValueError, match="tol must be a positive finite number"):
        make_tolerance_scorer(tol=tol)


@pytest.mark.parametrize("tol", ["0.04", None, True, [0.04]])
def test_bad_tol_type(tol):
    with pytest.raises(TypeError, match="tol must be a real number"):
        tolerance_accuracy_score(Y_TRUE, Y_PRED, tol=tol)
    with pytest.raises(TypeError, match="tol must be a real number"):
        make_tolerance_scorer(tol=tol)


@pytest.mark.parametrize("criterion", ["abs", "Squared", "", None, ["squared"]])
def test_bad_criterion(criterion):
    with pytest.raises(ValueError, match="criterion must be one of"):
        tolerance_accuracy_score(Y_TRUE, Y_PRED, criterion=criterion)
    with pytest.raises(ValueError, match="criterion must be one of"):
        make_tolerance_scorer(criterion=criterion)


def test_tol_accepts_numpy_scalar():
    score = tolerance_accuracy_score(Y_TRUE, Y_PRED, tol=np.float32(0.15))
    assert score == pytest.approx(3 / 5)


# --------------------------------------------------------------------------
# scorers


@pytest.fixture
def regression_data():
    rng = np.random.RandomState(0)
    X = rng.uniform(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    return X, y


def test_scorer_calls_metric_on_predictions(regression_data):
    X, y = regression_data
    est = Ridge(alpha=5.0).fit(X, y)
    y_pred = est.predict(X)
    for tol, criterion in [(0.04, "absolute"), (0.04, "squared"), (0.3, "absolute")]:
        scorer = make_tolerance_scorer(tol=tol, criterion=criterion)
        expected = tolerance_accuracy_score(y, y_pred, tol=tol, criterion=criterion)
        assert scorer(est, X, y) == pytest.approx(expected)
    assert tolerance_scorer(est, X, y) == pytest.approx(
        tolerance_accuracy_score(y, y_pred)
    )
    # the parameters really differ here, so the checks above are not vacuous
    assert tolerance_scorer(est, X, y) != make_tolerance_scorer(
        criterion="squared")(est, X, y)


def test_cross_val_score_matches_manual_folds(regression_data):
    X, y = regression_data
    cv = KFold(n_splits=4)
    est = Ridge(alpha=5.0)
    scores = cross_val_score(est, X, y, cv=cv, scoring=tolerance_scorer)
    manual = [
        tolerance_accuracy_score(y[test], Ridge(alpha=5.0).fit(X[train], y[train])
                                 .predict(X[test]))
        for train, test in cv.split(X)
    ]
    np.testing.assert_allclose(scores, manual)
    assert np.all((0.0 <= scores) & (scores < 1.0))


def test_cross_val_score_perfect_fit(regression_data):
    X, y = regression_data
    scores = cross_val_score(Ridge(alpha=1e-8), X, y, cv=4, scoring=tolerance_scorer)
    np.testing.assert_array_equal(scores, 1.0)


def test_grid_search_picks_the_accurate_model(regression_data):
    X, y = regression_data
    search = GridSearchCV(
        Ridge(),
        {"alpha": [100.0, 1e-8, 5.0]},
        cv=4,
        scoring=make_tolerance_scorer(tol=0.01),
    ).fit(X, y)
    # greater is better: the nearly unregularised model wins with a perfect score
    assert search.best_params_ == {"alpha": 1e-8}
    assert search.best_score_ == 1.0
    assert search.cv_results_["mean_test_score"][0] < 1.0


def test_docstring_examples():
    result = doctest.testmod(sksgr.metrics, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
