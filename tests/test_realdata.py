"""benchmarks/realdata.py: layout of the loaded data, the torch baseline, the CLI."""

import importlib.util
import os

import numpy as np
import pytest

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "realdata.py")
_spec = importlib.util.spec_from_file_location("realdata", _PATH)
realdata = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(realdata)


def _ragged_problem(n=40, seed=0):
    """Unequal lengths; the class is the sign of the last step's first feature."""
    rng = np.random.RandomState(seed)
    X = [rng.normal(size=(t, 2)) for t in rng.randint(3, 9, size=n)]
    y = np.array(["a" if s[-1, 0] > 0 else "b" for s in X])
    return X, y


def test_cv_mode_on_the_adding_problem_needs_no_extra(tmp_path):
    rows = realdata.main(["--cv", "2", "--datasets", "Adding10", "--seeds", "1", "--no-torch",
                          "--params", "max_iter=2", "n_hidden=4", "--out", str(tmp_path)])
    # the trained model and the SRNFeatures -> ridge pipeline, one row each
    assert [(r["dataset"], r["method"]) for r in rows] == [("Adding10", "sksgr-cv"),
                                                           ("Adding10", "SRNFeatures-cv")]
    assert all(0.5 < r["score"] <= 1 for r in rows)  # R^2 of both
    assert (tmp_path / "realdata_cv.md").read_text().count("| Adding10 |") == 1
    assert (tmp_path / "realdata_cv.csv").read_text().startswith("dataset,method,seed,score")


def test_params_are_python_literals():
    assert realdata._parse_params(["tol=None", "learning_rate=0.01", "init=xavier_uniform",
                                   "init2='normal'"]) == {
        "tol": None, "learning_rate": 0.01, "init": "xavier_uniform", "init2": "normal"}


def test_score_is_accuracy_rmse_or_r2():
    assert realdata._score(False, np.array(["a", "b"]), np.array(["a", "a"])) == 0.5
    y = np.array([0.0, 2.0])
    assert realdata._score(True, y, np.array([1.0, 1.0])) == 1.0  # RMSE
    assert realdata._score(True, y, np.array([1.0, 1.0]), r2=True) == 0.0


def test_padded_marks_lengths():
    X, _ = _ragged_problem(5)
    arr, lengths = realdata._padded(X)
    assert arr.shape == (5, max(len(s) for s in X), 2)
    assert list(lengths) == [len(s) for s in X]
    padded = np.full(arr.shape, np.nan)
    for i, s in enumerate(X):
        padded[i, : len(s)] = s
    arr2, lengths2 = realdata._padded(padded)
    np.testing.assert_array_equal(lengths2, lengths)
    np.testing.assert_allclose(arr2, arr, rtol=1e-6)


@pytest.mark.slow
def test_torch_baseline_reads_each_sequences_last_step():
    pytest.importorskip("torch")
    X, y = _ragged_problem(120)
    score, fit_time, epochs = realdata.fit_torch(X, y, X, y, False, seed=0, epochs=30)
    assert epochs == 30 and fit_time > 0
    assert score > 0.9  # a readout of the padded end would not see the informative step
    rmse, _, _ = realdata.fit_torch(X, np.array([s[-1, 0] for s in X]), X,
                                    np.array([s[-1, 0] for s in X]), True, seed=0, epochs=2)
    assert np.isfinite(rmse)
    # The pooled readout averages the real steps only: padding does not change it.
    score, _, _ = realdata.fit_torch(X, y, X, y, False, seed=0, epochs=1, readout="mean")
    padded = np.full((len(X), 12, 2), np.nan)
    for i, s in enumerate(X):
        padded[i, : len(s)] = s
    score_padded, _, _ = realdata.fit_torch(padded, y, padded, y, False, seed=0, epochs=1,
                                            readout="mean")
    assert score == score_padded


@pytest.mark.slow
def test_sktime_sets_load_batch_first():
    pytest.importorskip("sktime")
    X, y = realdata.load("ItalyPowerDemand", "train")
    assert X.shape == (67, 24, 1) and len(y) == 67
    X, y = realdata.load("BasicMotions", "test")
    assert X.shape == (40, 100, 6)
    X, y = realdata.load("JapaneseVowels", "train")
    assert isinstance(X, list) and len(X) == 270
    assert {s.shape[1] for s in X} == {12} and len({len(s) for s in X}) > 1
    X, y = realdata.load("Tecator", "test")
    assert X.shape == (43, 100, 1) and y.dtype == np.float64


@pytest.mark.slow
def test_panel_smoke(tmp_path):
    pytest.importorskip("sktime")
    torch = importlib.util.find_spec("torch") is not None
    argv = ["--datasets", "ItalyPowerDemand", "Tecator", "--seeds", "1", "--epochs", "1",
            "--params", "max_iter=2", "--out", str(tmp_path)] + ([] if torch else ["--no-torch"])
    rows = realdata.main(argv)
    expected = {"sksgr", "SRNFeatures"} | ({"torch nn.RNN"} if torch else set())
    assert {r["method"] for r in rows} == expected
    text = (tmp_path / "realdata.md").read_text()
    assert "mean predictor" in text and "1-NN DTW" in text
