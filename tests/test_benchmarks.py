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
    if (tmp_path / "s.png").exists():
        assert (tmp_path / "s.png").stat().st_size > 0


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
    assert "| True |" in out  # identical models from threads
    assert out.count("| True |") >= 2
