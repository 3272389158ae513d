"""benchmarks/table1.py (the paper's Table 1) end to end, on a tiny budget."""

import csv
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "table1.py"

TASKS = ["temporal_order", "adding"]
TITLES = ["Temporal order", "Adding"]
LENGTHS = [10, 12]
N_NETS = 2
TINY = ["--tasks", *TASKS, "--lengths", *map(str, LENGTHS), "--n-nets", str(N_NETS),
        "--updates", "40", "--validation-interval", "10", "--n-train", "200",
        "--n-val", "50", "--n-test", "100", "--n-hidden", "20", "--n-jobs", "2"]
COLUMNS = ["net", "seed", "task", "T", "method", "best_validation", "best_at",
           "test_accuracy", "candidates", "updates", "skipped", "guarded", "spectral_radius",
           "wall_time_s", "cpu_time_s", "notes"]


def _run(args, tmp_path):
    env = dict(os.environ)
    # the sksgr this test imports, also for the script and its worker processes
    import sksgr

    pkg_parent = str(Path(sksgr.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([pkg_parent, env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, str(SCRIPT), *args, "--out", str(tmp_path)],
                          check=False, capture_output=True, text=True, env=env,
                          timeout=120)


def _percent(cell):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", cell.strip())
    assert m, f"not a percentage: {cell!r}"
    value = float(m.group(1))
    assert 0 <= value <= 100
    return value


def _check_table(md, methods):
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    assert header == [""] + [f"{t} {s}" for t in TITLES for s in ("best", "mean")]
    assert re.fullmatch(r"\|---\|(---:\|){4}", lines[start + 1])
    rows = {}
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(header)
        rows[cells[0]] = [_percent(c) for c in cells[1:]]
    expected = [f"T={T}, grad. reg. {m.upper()}" for T in LENGTHS for m in methods]
    assert list(rows) == expected
    for best_mean in rows.values():  # best >= mean for each task
        for best, mean in zip(best_mean[::2], best_mean[1::2]):
            assert best >= mean
    # the paper's table is there, with its own numbers
    assert "T=150, grad. reg. ON | 72% | 42% | 47% | 13% |" in md
    assert "Not the paper's setting" in md and "--init pascanu" in md
    return rows


def _check_csv(path, methods):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == COLUMNS
        rows = list(reader)
    assert len(rows) == len(TASKS) * len(LENGTHS) * len(methods) * N_NETS
    keys = {(r["task"], int(r["T"]), r["method"], int(r["net"])) for r in rows}
    assert keys == {(t, T, m, n) for t in TASKS for T in LENGTHS for m in methods
                    for n in range(N_NETS)}
    for r in rows:
        assert 0 <= float(r["best_validation"]) <= 1
        assert 0 <= float(r["test_accuracy"]) <= 1
        assert int(r["candidates"]) == 40  # --updates: candidate minibatches
        assert int(r["updates"]) + int(r["skipped"]) == 40
        assert 0 <= int(r["guarded"]) <= int(r["updates"])
        assert 0 < int(r["best_at"]) <= 40
        assert float(r["spectral_radius"]) > 0
        assert float(r["wall_time_s"]) > 0
        assert int(r["seed"]) == int(r["net"])  # --seed 0: network i has seed i
        if r["method"] == "off":
            assert int(r["skipped"]) == int(r["guarded"]) == 0
    return rows


@pytest.mark.slow
def test_table1_off_end_to_end(tmp_path):
    proc = _run([*TINY, "--methods", "off", "--no-figures"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "table1.md").read_text()
    assert md.strip() in proc.stdout  # printed and written
    _check_table(md, ["off"])
    _check_csv(tmp_path / "results.csv", ["off"])
    # one progress line per network
    assert len(re.findall(r"^\[\s*\d+/8\]", proc.stdout, flags=re.MULTILINE)) == 8


@pytest.mark.slow
def test_table1_off_on_end_to_end(tmp_path):
    pytest.importorskip("matplotlib")
    proc = _run(TINY, tmp_path)
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "table1.md").read_text()
    _check_table(md, ["off", "on"])
    rows = _check_csv(tmp_path / "results.csv", ["off", "on"])
    # OFF and ON start from the same networks: same seeds per network index
    seeds = {(r["task"], r["T"], r["net"], r["method"]): r["seed"] for r in rows}
    for (task, T, net, _), seed in seeds.items():
        assert seeds[task, T, net, "off"] == seed
    for name in ("fig1_profile.png", "fig2_dynamics.png"):
        png = tmp_path / name
        assert png.exists() and png.stat().st_size > 1000
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table1_parse_args_full_budget():
    spec = importlib.util.spec_from_file_location("table1", SCRIPT)
    table1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table1)
    args = table1.parse_args(["--full"])
    assert (args.n_nets, args.updates, args.lengths) == (10, 100_000, [100, 150])
    assert (args.n_train, args.n_val, args.n_test) == (20_000, 1_000, 10_000)
    assert args.tasks == list(table1.TASKS) and args.methods == ["off", "on"]
    est = table1.make_estimator("adding", "off", 3, args)
    assert (est.max_candidates, est.tol, est.validation_interval, est.random_state) == (
        100_000, None, 50, 3)
    assert (est.batch_size, est.momentum, est.n_hidden, est.n_jobs) == (10, 0.9, 100, 1)
    # --sgr reaches the ON runs only
    on = table1.make_estimator("temporal_order", "on", 3, table1.parse_args(
        ["--sgr", "ds_mode=exact", "max_skips=None", "q_range=(-2, 2)"]))
    assert on.get_params()["gradient_regularization"] is True
    assert (on.ds_mode, on.max_skips, on.q_range) == ("exact", None, (-2, 2))
    assert est.get_params()["gradient_regularization"] is False
    paper = table1.parse_args(["--init", "paper"])
    assert paper.init_params == {"sigma": 0.01, "spectral_radius": None, "recurrent_nonzeros": None}
    pascanu = table1.parse_args([])
    assert pascanu.init_params == {"sigma": 0.01, "spectral_radius": 0.95, "recurrent_nonzeros": 15}
    # data sets: fixed per (task, T, split), distinct across them
    assert table1.data_seed(0, "adding", 30, "train") == table1.data_seed(0, "adding", 30, "train")
    assert len({table1.data_seed(0, t, T, s) for t in table1.TASKS for T in (30, 60)
                for s in ("train", "val", "test")}) == 24


@pytest.mark.slow
@pytest.mark.dask
def test_table1_on_a_dask_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    proc = _run([*TINY, "--methods", "off", "--no-figures", "--dask-workers", "2"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "dask:" in proc.stdout and "2 workers" in proc.stdout
    rows = _check_csv(tmp_path / "results.csv", ["off"])
    # the same numbers as the run on joblib processes
    local = tmp_path / "local"
    assert _run([*TINY, "--methods", "off", "--no-figures"], local).returncode == 0
    ref = {(r["task"], r["T"], r["net"]): r["test_accuracy"]
           for r in _check_csv(local / "results.csv", ["off"])}
    assert {(r["task"], r["T"], r["net"]): r["test_accuracy"] for r in rows} == ref
