"""The benchmark scripts run end to end (tiny budgets) and print their tables."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bench_scaling_quick(tmp_path, capsys):
    results = _load("bench_scaling").main(
        ["--quick", "--min-seconds", "0.01", "--no-torch", "--png", str(tmp_path / "s.png")]
    )
    out = capsys.readouterr().out
    assert set(results) == {"T", "H", "B"}
    for rows in results.values():
        assert all(r[1] > 0 and r[2] > 0 for r in rows)
        assert rows[1][2] > rows[0][2]  # workspace grows with every size
    assert out.count("exponent of time") == 3
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sgr_ablation_tiny(capsys):
    results = _load("sgr_ablation").main(
        ["--length", "10", "--updates", "20", "--chunk", "10", "--seeds", "1", "--n-train", "100",
         "--n-val", "50", "--n-hidden", "8", "--variants", "off", "sgr linear minibatch",
         "--n-jobs", "1"]
    )
    out = capsys.readouterr().out
    assert len(results) == 2 and all(len(r["trace"]) == 2 for r in results)
    assert "| off |" in out and "| sgr linear minibatch |" in out


def test_bench_parallel_tiny(capsys):
    _load("bench_parallel").main(["--n-train", "100", "--length", "10", "--max-iter", "1",
                                  "--no-dask"])
    out = capsys.readouterr().out
    # identical models from threads: the two-fits row, the serial and the threaded search
    assert out.count("| True |") == 3 and "| False |" not in out


def test_benchmarks_time_and_train_the_papers_network():
    """The speed, parallelism and ablation benchmarks measure the paper's network (last
    state, random linear output, 100 units), not the estimators' defaults for users
    (pooled readouts, a ridge start), whose cost and behaviour differ."""
    import argparse

    update = _load("bench_update")
    ablation = _load("sgr_ablation")
    args = argparse.Namespace(n_hidden=100, sigma=0.01, spectral_radius=0.95,
                              learning_rate=1e-3, q_depth=None)
    estimators = [update.fit_estimator(update.CONFIGS["paper"]),
                  _load("bench_parallel")._estimator(),
                  ablation.make_classifier("off", 0, args),
                  ablation.make_classifier("sgr linear minibatch", 0, args)]
    for est in estimators:
        assert (est.readout, est.output_init, est.n_hidden) == ("last", "random", 100)
        assert (est.solver, est.init) == ("sgd", "normal")
    assert estimators[3].gradient_regularization and not estimators[2].gradient_regularization
    pooled = update.IMPLEMENTATIONS["sksgr fit, pooled readout"].keywords["readout"]
    assert pooled == ("last", "mean", "max")
