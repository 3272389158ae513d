"""Tests for sksgr.datasets (the synthetic long-term-dependency tasks)."""

import doctest

import numpy as np
import pytest

import sksgr.datasets
from sksgr.datasets import (
    make_adding,
    make_multiplication,
    make_temporal_order,
    make_temporal_order_3bit,
    position_ranges,
)

REGRESSION = [make_adding, make_multiplication]
TEMPORAL = [make_temporal_order, make_temporal_order_3bit]
ALL = REGRESSION + TEMPORAL

# Expected marked-position ranges [lo, hi), written out by hand from
# Pascanu's code (int(l*.1), int(l*.4) + int(l*.1), ...) for a few lengths.
# l = 19 shows the adding quirk: p1 ends at 1 + 7 = 8, not at int(0.5 * 19) = 9.
EXPECTED_RANGES = {
    "make_adding": {
        10: [(0, 1), (1, 5)],
        19: [(0, 1), (1, 8)],
        37: [(0, 3), (3, 17)],
        150: [(0, 15), (15, 75)],
    },
    "make_temporal_order": {
        10: [(1, 2), (5, 6)],
        19: [(1, 2), (9, 10)],
        37: [(3, 6), (18, 21)],
        150: [(15, 30), (75, 90)],
    },
    "make_temporal_order_3bit": {
        10: [(1, 2), (3, 4), (6, 7)],
        19: [(1, 2), (5, 6), (11, 12)],
        37: [(3, 6), (11, 14), (22, 25)],
        150: [(15, 30), (45, 60), (90, 105)],
    },
}
EXPECTED_RANGES["make_multiplication"] = EXPECTED_RANGES["make_adding"]


def _marker_positions(X, func):
    """Marked time steps per sequence, read from X only: (n_samples, n_marks)."""
    if func in REGRESSION:
        marked = X[:, :, 0] == 1.0
    else:
        marked = X[:, :, :2].sum(axis=2) == 1.0  # symbol A or B
    n_marks = marked.sum(axis=1)
    assert np.all(n_marks == n_marks[0])
    return np.nonzero(marked)[1].reshape(len(X), n_marks[0])  # sorted by time


# --------------------------------------------------------------------------
# shapes, dtypes, value domains


@pytest.mark.parametrize("func", ALL)
def test_shapes_and_dtypes(func):
    X, y = func(n_samples=7, n_timesteps=23, random_state=0)
    n_features = 2 if func in REGRESSION else 6
    assert X.shape == (7, 23, n_features)
    assert X.dtype == np.float64
    assert X.flags.c_contiguous
    assert y.shape == (7,)
    assert y.dtype == (np.float64 if func in REGRESSION else np.int64)


@pytest.mark.parametrize("func", ALL)
def test_defaults(func):
    X, y = func(random_state=0)
    assert X.shape[:2] == (1000, 100)
    assert y.shape == (1000,)


@pytest.mark.parametrize("func", REGRESSION)
def test_regression_inputs(func):
    X, _ = func(n_samples=2000, n_timesteps=50, random_state=1)
    marker, value = X[:, :, 0], X[:, :, 1]
    assert set(np.unique(marker)) == {0.0, 1.0}
    np.testing.assert_array_equal(marker.sum(axis=1), 2.0)
    assert value.min() >= 0.0 and value.max() < 1.0
    # U[0, 1): mean 1/2, variance 1/12, also at the marked steps
    assert abs(value.mean() - 0.5) < 0.005
    assert abs(value.var() - 1 / 12) < 0.002
    assert abs(value[marker == 1].mean() - 0.5) < 0.02


@pytest.mark.parametrize("func", TEMPORAL)
def test_temporal_inputs_are_one_hot(func):
    X, _ = func(n_samples=2000, n_timesteps=50, random_state=1)
    assert set(np.unique(X)) == {0.0, 1.0}
    np.testing.assert_array_equal(X.sum(axis=2), 1.0)
    # distractors 2..5 are uniform over the unmarked steps
    symbols = X.argmax(axis=2)
    distractors = symbols[symbols >= 2]
    n_bits = 2 if func is make_temporal_order else 3
    assert distractors.size == 2000 * (50 - n_bits)
    freq = np.bincount(distractors, minlength=6)[2:] / distractors.size
    assert np.all(np.abs(freq - 0.25) < 0.005)


# --------------------------------------------------------------------------
# marked positions


@pytest.mark.parametrize("func", ALL)
@pytest.mark.parametrize("n_timesteps", [10, 19, 37, 150])
def test_marker_positions_cover_exactly_their_ranges(func, n_timesteps):
    expected = EXPECTED_RANGES[func.__name__][n_timesteps]
    X, _ = func(n_samples=3000, n_timesteps=n_timesteps, random_state=2)
    positions = _marker_positions(X, func)
    assert positions.shape == (3000, len(expected))
    for k, (lo, hi) in enumerate(expected):
        # every position in [lo, hi) is reached, nothing outside
        np.testing.assert_array_equal(np.unique(positions[:, k]), np.arange(lo, hi))


@pytest.mark.parametrize("func", ALL)
def test_marker_positions_are_uniform(func):
    n = 20000
    X, _ = func(n_samples=n, n_timesteps=37, random_state=3)
    positions = _marker_positions(X, func)
    for k, (lo, hi) in enumerate(EXPECTED_RANGES[func.__name__][37]):
        p = 1 / (hi - lo)
        counts = np.bincount(positions[:, k] - lo, minlength=hi - lo)
        assert np.all(np.abs(counts - n * p) < 5 * np.sqrt(n * p * (1 - p)))


# --------------------------------------------------------------------------
# targets, recomputed from X alone


def test_adding_targets():
    X, y = make_adding(n_samples=500, n_timesteps=40, random_state=4)
    expected = np.array([row[row[:, 0] == 1, 1].sum() / 2 for row in X])
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-15)
    assert np.all((0 <= y) & (y < 1))


def test_multiplication_targets():
    X, y = make_multiplication(n_samples=500, n_timesteps=40, random_state=4)
    expected = np.array([np.prod(row[row[:, 0] == 1, 1]) for row in X])
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-15)
    assert np.all((0 <= y) & (y < 1))


@pytest.mark.parametrize("func, n_bits", [(make_temporal_order, 2),
                                          (make_temporal_order_3bit, 3)])
def test_temporal_order_targets(func, n_bits):
    X, y = func(n_samples=500, n_timesteps=40, random_state=4)
    expected = []
    for row in X:
        symbols = [int(np.flatnonzero(step)[0]) for step in row]
        relevant = [s for s in symbols if s in (0, 1)]  # A = 0, B = 1, in time order
        assert len(relevant) == n_bits
        expected.append(sum(bit << k for k, bit in enumerate(relevant)))
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("func, n_classes", [(make_temporal_order, 4),
                                             (make_temporal_order_3bit, 8)])
def test_class_balance(func, n_classes):
    n = 20000
    _, y = func(n_samples=n, n_timesteps=30, random_state=5)
    counts = np.bincount(y, minlength=n_classes)
    assert counts.size == n_classes  # no label outside 0..n_classes-1
    p = 1 / n_classes
    assert np.all(np.abs(counts - n * p) < 5 * np.sqrt(n * p * (1 - p)))


# --------------------------------------------------------------------------
# randomness


@pytest.mark.parametrize("func", ALL)
def test_deterministic_with_int_and_random_state(func):
    X1, y1 = func(n_samples=50, n_timesteps=20, random_state=42)
    X2, y2 = func(n_samples=50, n_timesteps=20, random_state=42)
    X3, y3 = func(n_samples=50, n_timesteps=20,
                  random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(X1, X3)
    np.testing.assert_array_equal(y1, y3)


@pytest.mark.parametrize("func", ALL)
def test_random_state_instance_is_advanced(func):
    rng = np.random.RandomState(0)
    X1, _ = func(n_samples=50, n_timesteps=20, random_state=rng)
    X2, _ = func(n_samples=50, n_timesteps=20, random_state=rng)
    assert not np.array_equal(X1, X2)


@pytest.mark.parametrize("func", ALL)
def test_different_seeds_differ(func):
    X1, y1 = func(n_samples=50, n_timesteps=20, random_state=0)
    X2, y2 = func(n_samples=50, n_timesteps=20, random_state=1)
    assert not np.array_equal(X1, X2)
    assert not np.array_equal(y1, y2)


# --------------------------------------------------------------------------
# argument validation


@pytest.mark.parametrize("func", ALL)
def test_minimum_length(func):
    X, y = func(n_samples=3, n_timesteps=10, random_state=0)
    assert X.shape[1] == 10
    with pytest.raises(ValueError, match=r"n_timesteps=9 is too short.*>= 10"):
        func(n_samples=3, n_timesteps=9)


@pytest.mark.parametrize("func", ALL)
@pytest.mark.parametrize("n_samples", [0, -1])
def test_bad_n_samples_value(func, n_samples):
    with pytest.raises(ValueError, match="n_samples must be >= 1"):
        func(n_samples=n_samples)


@pytest.mark.parametrize("func", ALL)
@pytest.mark.parametrize("kwargs", [{"n_samples": 2.0}, {"n_samples": True},
                                    {"n_timesteps": 20.0}, {"n_timesteps": "20"}])
def test_bad_argument_types(func, kwargs):
    with pytest.raises(TypeError, match=next(iter(kwargs)) + " must be an int"):
        func(**kwargs)


@pytest.mark.parametrize("func", ALL)
def test_numpy_integers_accepted(func):
    X, y = func(n_samples=np.int64(4), n_timesteps=np.int32(12), random_state=0)
    assert X.shape[:2] == (4, 12)
    assert y.shape == (4,)


def test_n_samples_one():
    X, y = make_temporal_order(n_samples=1, n_timesteps=10, random_state=0)
    assert X.shape == (1, 10, 6)
    assert y.shape == (1,)


def test_docstring_examples():
    result = doctest.testmod(sksgr.datasets, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# -- convention="chernodub": the paper's authors' own definitions -----------------
# 1-based inclusive windows from their MATLAB code, written out by hand for
# T = 100 and 150 (adding / multiplication use T' = ceil(1.1 T): 111 and 166).
CHERNODUB_WINDOWS_1BASED = {
    ("adding", 100): [(1, 11), (12, 56)],
    ("adding", 150): [(1, 17), (18, 83)],
    ("temporal order", 100): [(10, 20), (40, 50)],
    ("temporal order", 150): [(15, 30), (60, 75)],
    ("temporal order 3-bit", 100): [(10, 20), (30, 40), (60, 70)],
    ("temporal order 3-bit", 150): [(15, 30), (45, 60), (90, 105)],
}
CHERNODUB_MAKERS = {
    "adding": make_adding,
    "multiplication": make_multiplication,
    "temporal order": make_temporal_order,
    "temporal order 3-bit": make_temporal_order_3bit,
}


@pytest.mark.parametrize("task, T", sorted(CHERNODUB_WINDOWS_1BASED))
def test_chernodub_position_ranges_match_the_authors_windows(task, T):
    expected = [(lo - 1, hi) for lo, hi in CHERNODUB_WINDOWS_1BASED[task, T]]
    assert position_ranges(task, T, "chernodub") == expected
    if task == "adding":
        assert position_ranges("multiplication", T, "chernodub") == expected


def _marked_positions(task, X):
    if task in ("adding", "multiplication"):
        rows, pos = np.nonzero(X[:, :, 0] == 1)
    else:
        rows, pos = np.nonzero(X[:, :, :2].sum(axis=2) == 1)
    return pos.reshape(len(X), -1)  # in time order


@pytest.mark.parametrize("task", sorted(CHERNODUB_MAKERS))
@pytest.mark.parametrize("T", [100, 150])
def test_chernodub_generators_fill_exactly_their_windows(task, T):
    X, y = CHERNODUB_MAKERS[task](6000, T, convention="chernodub", random_state=0)
    pos = _marked_positions(task, X)
    windows = [(lo - 1, hi - 1) for lo, hi in CHERNODUB_WINDOWS_1BASED[
        "adding" if task == "multiplication" else task, T]]
    assert pos.shape[1] == len(windows)
    for k, (lo, hi) in enumerate(windows):  # every step of the window is drawn
        np.testing.assert_array_equal(np.unique(pos[:, k]), np.arange(lo, hi + 1))


@pytest.mark.parametrize("task", ["adding", "multiplication"])
def test_chernodub_regression_values_are_centred_and_targets_recomputed(task):
    X, y = CHERNODUB_MAKERS[task](3000, 100, convention="chernodub", random_state=1)
    values = X[:, :, 1]
    assert values.min() >= -1 and values.max() < 1 and values.min() < -0.99
    assert abs(values.mean()) < 0.01
    marked = np.where(X[:, :, 0] == 1, values, np.nan)
    a, b = (marked[i][~np.isnan(marked[i])] for i in range(2))
    rows = [m[~np.isnan(m)] for m in marked]
    expected = np.array([(r[0] + r[1]) / 2 if task == "adding" else r[0] * r[1] for r in rows])
    np.testing.assert_array_equal(y, expected)
    assert len(a) == len(b) == 2
    assert y.min() < -0.8 and y.max() > 0.8  # targets span [-1, 1]


@pytest.mark.parametrize("task, n_classes", [("temporal order", 4), ("temporal order 3-bit", 8)])
def test_chernodub_temporal_order_targets_recomputed(task, n_classes):
    X, y = CHERNODUB_MAKERS[task](2000, 100, convention="chernodub", random_state=2)
    pos = _marked_positions(task, X)
    bits = np.take_along_axis(X[:, :, 1], pos, axis=1)  # 1 where the symbol is B
    np.testing.assert_array_equal(y, bits @ (2 ** np.arange(pos.shape[1])))
    assert set(np.unique(y)) == set(range(n_classes))
    assert (X.sum(axis=2) == 1).all()


@pytest.mark.parametrize("make", list(CHERNODUB_MAKERS.values()))
def test_chernodub_generators_are_deterministic_and_differ_from_pascanu(make):
    X1, y1 = make(50, 30, convention="chernodub", random_state=3)
    X2, y2 = make(50, 30, convention="chernodub", random_state=3)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    Xp, _ = make(50, 30, random_state=3)
    assert not np.array_equal(X1, Xp)


def test_pascanu_convention_is_the_default_and_unchanged():
    X, y = make_adding(20, 30, random_state=0)
    Xp, yp = make_adding(20, 30, convention="pascanu", random_state=0)
    np.testing.assert_array_equal(X, Xp)
    assert position_ranges("adding", 30) == [(0, 3), (3, 15)]


def test_unknown_convention_is_an_error():
    with pytest.raises(ValueError, match="convention must be one of"):
        make_temporal_order(10, 20, convention="matlab")
