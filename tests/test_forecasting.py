"""benchmarks/forecasting.py: no look-ahead, the baselines, the transforms, the CLI."""

import importlib.util
import os

import numpy as np
import pytest

_PATH = os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks", "forecasting.py")
_spec = importlib.util.spec_from_file_location("forecasting", _PATH)
forecasting = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(forecasting)

# the series come from the data sets bundled in sktime (the [realdata] extra; CI installs
# it for these tests): the tests that load one need it, the others do not
needs_sktime = pytest.mark.skipif(importlib.util.find_spec("sktime") is None,
                                  reason="sktime (the [realdata] extra) is not installed")

TINY = dict(n_hidden=4, max_iter=3, tol=None)  # small fast SRNs: the test is about data flow


@needs_sktime
@pytest.mark.parametrize("name", ["airline", "lynx"])
@pytest.mark.parametrize("method", ["naive", "seasonal-naive", "ridge", "srn-window", "srn-stream",
                                    "srnfeatures"])
def test_forecasts_do_not_read_the_future(name, method):
    cfg = forecasting.SERIES[name]
    if method == "seasonal-naive" and cfg["season"] is None:
        pytest.skip("no seasonal period")
    y = forecasting.load_series(name)
    train, test = forecasting.folds(len(y), 2, cfg["test_size"])[0]
    before = forecasting.forecast(method, y, train, test, cfg, srn_params=TINY)
    assert before.shape == test.shape and np.all(np.isfinite(before))
    k = 3  # alter every value from the 4th test step on
    altered = y.copy()
    altered[test[k]:] *= 3.0
    after = forecasting.forecast(method, altered, train, test, cfg, srn_params=TINY)
    # the forecast of y[t] reads y[:t]: those up to test[k] are unchanged
    np.testing.assert_array_equal(after[:k + 1], before[:k + 1])
    if method != "seasonal-naive":  # which reads a year back: not yet the altered values
        assert not np.allclose(after[k + 1:], before[k + 1:])


def test_naive_baselines_on_toy_series():
    y = np.arange(1.0, 41.0)
    train, test = np.arange(30), np.arange(30, 40)
    y_hat = forecasting.forecast("naive", y, train, test, {})
    np.testing.assert_array_equal(y_hat, y[29:39])
    # a straight line: the naive error is 1 at every step, in and out of sample
    assert forecasting.scores(y[test], y_hat, y[train]) == (1.0, 1.0)
    season = 100 + 10 * np.sin(2 * np.pi * np.arange(48) / 12)
    y_hat = forecasting.forecast("seasonal-naive", season, np.arange(36), np.arange(36, 48),
                                 {"season": 12})
    np.testing.assert_allclose(y_hat, season[36:], atol=1e-9)


@needs_sktime
@pytest.mark.parametrize("diff", [False, True])
def test_transform_inverts_a_perfect_forecast(diff):
    y = forecasting.load_series("airline")[:30]
    tf = forecasting.Transform(log=True, diff=diff)
    w = tf.forward(y)
    assert np.isnan(w[0]) == diff
    np.testing.assert_allclose(tf.inverse_next(y[:-1], w[1:]), y[1:])


def test_rolling_origin_folds_are_consecutive():
    splits = forecasting.folds(144, 4, 12)
    assert [len(tr) for tr, _ in splits] == [96, 108, 120, 132]
    for train, test in splits:
        assert test[0] == train[-1] + 1 and len(test) == 12


@needs_sktime
def test_main_baselines_end_to_end(tmp_path):
    rows = forecasting.main(["--series", "lynx", "--methods", "naive", "ridge", "--splits", "2",
                             "--out", str(tmp_path)])
    assert [(r["method"], r["fold"]) for r in rows] == [("naive", 0), ("naive", 1),
                                                        ("ridge", 0), ("ridge", 1)]
    md = (tmp_path / "forecasting.md").read_text()
    assert "| lynx | ridge |" in md and "wall time" in md
    assert (tmp_path / "forecasting.csv").read_text().count("\n") == 5


@pytest.mark.slow
@needs_sktime
def test_main_with_the_srns_end_to_end(tmp_path):
    methods = ["naive", "seasonal-naive", "srn-stream", "srnfeatures"]
    rows = forecasting.main(["--series", "airline", "--splits", "2", "--seeds", "2",
                             "--methods", *methods, "--out", str(tmp_path)])
    assert [r["seed"] for r in rows if r["method"] == "srn-stream"] == [0, 0, 1, 1]
    assert {r["method"] for r in rows} == set(methods)
    assert all(np.isfinite(r["rmse"]) and r["mase"] > 0 for r in rows)
    assert "±" in (tmp_path / "forecasting.md").read_text()
