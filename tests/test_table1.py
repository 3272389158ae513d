"""benchmarks/table1.py (the paper's Table 1) end to end, on a tiny budget."""

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import PACKAGE_DIR

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "table1.py"

TASKS = ["temporal_order", "adding"]
TITLES = ["Temporal order", "Adding"]
LENGTHS = [10, 12]
N_NETS = 2
TINY = ["--protocol", "pascanu", "--methods", "off", "on", "--tasks", *TASKS,
        "--lengths", *map(str, LENGTHS), "--n-nets", str(N_NETS),
        "--updates", "40", "--validation-interval", "10", "--n-train", "200",
        "--n-val", "50", "--n-test", "100", "--n-hidden", "20", "--n-jobs", "2"]
COLUMNS = ["net", "seed", "task", "T", "method", "best_validation", "best_at",
           "test_accuracy", "candidates", "updates", "skipped", "guarded", "spectral_radius",
           "wall_time_s", "cpu_time_s", "notes", "epochs", "train_time_s", "validation_time_s",
           "code_commit"]


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
    assert "Not the paper's setting" in md and "init='pascanu'" in md
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
    assert "Protocol `pascanu`" in md
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
    summary = (tmp_path / "fig2_summary.md").read_text()
    for label in ("| grad. reg. OFF |", "| grad. reg. ON |"):
        line = next(x for x in summary.splitlines() if x.startswith(label))
        cells = [c.strip() for c in line.strip("|").split("|")]
        start, minimum = float(cells[1]), float(cells[3])
        assert 0 < minimum <= start  # the minimum over the records includes the start
        assert cells[4] == "never" or cells[4].startswith("candidate ")


def _module():
    spec = importlib.util.spec_from_file_location("table1", SCRIPT)
    table1 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(table1)
    return table1


def test_table1_parse_args_full_budget():
    table1 = _module()
    args = table1.parse_args(["--full", "--protocol", "pascanu"])
    assert (args.n_nets, args.updates, args.lengths) == (10, 100_000, [100, 150])
    assert (args.n_train, args.n_val, args.n_test) == (20_000, 1_000, 10_000)
    assert args.tasks == list(table1.TASKS) and args.methods == ["off", "on", "clip"]
    est = table1.make_estimator("adding", "off", 3, args)
    assert (est.max_candidates, est.tol, est.validation_interval, est.random_state) == (
        100_000, None, 50, 3)
    assert (est.batch_size, est.momentum, est.n_hidden, est.n_jobs) == (10, 0.9, 100, 1)
    assert (est.learning_rate, est.init, est.clip_norm) == (1e-3, "pascanu", None)
    # --sgr reaches the ON runs only; clip differs from OFF only in clip_norm
    on = table1.make_estimator("temporal_order", "on", 3, table1.parse_args(
        ["--sgr", "ds_mode=exact", "max_skips=None", "q_range=(-2, 2)"]))
    assert on.get_params()["gradient_regularization"] is True
    assert (on.ds_mode, on.max_skips, on.q_range) == ("exact", None, (-2, 2))
    assert est.get_params()["gradient_regularization"] is False
    clip = table1.make_estimator("adding", "clip", 3, args)
    assert clip.clip_norm == 1.0 and clip.gradient_regularization is False
    assert {k: repr(v) for k, v in clip.get_params().items() if k != "clip_norm"} == {
        k: repr(v) for k, v in est.get_params().items() if k != "clip_norm"}
    # data sets: fixed per (task, T, split), distinct across them
    assert table1.data_seed(0, "adding", 30, "train") == table1.data_seed(0, "adding", 30, "train")
    assert len({table1.data_seed(0, t, T, s) for t in table1.TASKS for T in (30, 60)
                for s in ("train", "val", "test")}) == 24


def test_table1_chernodub_protocol_settings():
    table1 = _module()
    args = table1.parse_args([])  # the quick default: the authors' protocol
    assert args.protocol == "chernodub" and args.convention == "chernodub"
    assert (args.learning_rate, args.batch_size, args.init) == (2e-3, 20, "pascanu")
    assert (args.select_by, args.stop_at, args.epoch_size) == ("loss", 0.99, 50)
    assert args.tolerances == {"adding": 0.08, "multiplication": 0.04} and args.inclusive
    est = table1.make_estimator("adding", "off", 0, args)
    assert est.warm_start and est.max_iter == 1 and not est.shuffle and est.tol is None
    # every piece is overridable by its own flag
    args = table1.parse_args(["--learning-rate", "1e-3", "--batch-size", "10", "--init",
                              "xavier_uniform", "--select-by", "score", "--stop-at", "2",
                              "--tolerance", "0.04"])
    assert (args.learning_rate, args.batch_size, args.init, args.select_by, args.stop_at) == (
        1e-3, 10, "xavier_uniform", "score", 2.0)
    assert args.tolerances == {"adding": 0.04, "multiplication": 0.04}


GOLDEN = ROOT / "tests" / "data" / "table1_pascanu_golden.csv"
GOLDEN_ARGS = ["--protocol", "pascanu", "--methods", "off", "on", "--tasks", "temporal_order",
               "adding", "multiplication", "temporal_order_3bit", "--lengths", "10", "12",
               "--n-nets", "2", "--updates", "60", "--validation-interval", "10",
               "--n-train", "200", "--n-val", "50", "--n-test", "100", "--n-hidden", "20",
               "--n-jobs", "1", "--no-figures", "--learning-rate", "0.01"]
# the columns whose numbers the golden file pins (timings and notes aside)
PINNED = COLUMNS[:13]


def _pinned(path):
    with open(path, newline="") as f:
        return sorted(tuple(r[c] for c in PINNED) for r in csv.DictReader(f))


def test_table1_pascanu_protocol_numbers_unchanged(tmp_path):
    """A tiny --protocol pascanu run equals the golden CSV made before the protocols."""
    _module().main([*GOLDEN_ARGS, "--out", str(tmp_path)])
    assert _pinned(tmp_path / "results.csv") == _pinned(GOLDEN)


CHERNODUB_TINY = ["--tasks", "temporal_order", "adding", "--lengths", "10", "--n-nets", "3",
                  "--updates", "120", "--epoch-size", "20", "--batch-size", "5",
                  "--n-train", "300", "--n-val", "60", "--n-test", "100", "--n-hidden", "10",
                  "--learning-rate", "0.05", "--n-jobs", "1", "--no-figures"]
CHERNODUB_GOLDEN = ROOT / "tests" / "data" / "table1_chernodub_golden.csv"


def test_table1_chernodub_with_clip_end_to_end(tmp_path):
    rows = _module().main([*CHERNODUB_TINY, "--out", str(tmp_path)])
    md = (tmp_path / "table1.md").read_text()
    assert "Protocol `chernodub`" in md and "with replacement" in md
    for T_label in ("T=10, grad. reg. OFF", "T=10, grad. reg. ON", "T=10, clipping"):
        assert f"| {T_label} |" in md
    assert "CLIP − OFF" in md and "ON − CLIP" in md and "p (Holm)" in md
    assert len(rows) == 2 * 3 * 3
    for r in rows:
        assert r["candidates"] <= 120 and r["updates"] + r["skipped"] == r["candidates"]
        assert 0 < r["best_at"] <= r["candidates"] and r["epochs"] >= 1
        assert r["train_time_s"] > 0 and r["validation_time_s"] > 0
        if r["candidates"] < 120:  # only an early stop ends a run before its budget
            assert "stopped" in r["notes"]
    # the same networks for every method; clipping changes the trained weights
    by = {(r["task"], r["net"], r["method"]): r for r in rows}
    assert any(by[t, n, "clip"]["spectral_radius"] != by[t, n, "off"]["spectral_radius"]
               for t in ("adding", "temporal_order") for n in range(3))
    # and the numbers are those of the golden run (made when the protocol was written)
    assert _pinned(tmp_path / "results.csv") == _pinned(CHERNODUB_GOLDEN)


def test_table1_resume_equals_one_run_and_refuses_another_configuration(tmp_path):
    table1 = _module()
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    table1.main([*CHERNODUB_TINY, "--out", str(whole)])
    # an interrupted run: only every second unit, then --resume finishes it
    first = table1.main([*CHERNODUB_TINY, "--out", str(parts), "--shard", "1/2"])
    assert len(first) == 3 * 3  # units 1, 3, 5 of 6, all three methods each
    table1.main([*CHERNODUB_TINY, "--out", str(parts), "--resume"])
    assert _pinned(parts / "results.csv") == _pinned(whole / "results.csv")
    # config.json records where each start and each resume ran
    sessions = json.loads((parts / "config.json").read_text())["sessions"]
    assert len(sessions) == 2 and len(json.loads((whole / "config.json").read_text())["sessions"]) == 1
    for env in sessions:
        assert env["numpy"] == np.__version__ and env["cpu"] and env["started"].endswith("UTC")
        assert env["blas"] and all(b.split()[0] in ("openblas", "mkl", "blis") for b in env["blas"])
    # another configuration is refused, and so is another code commit
    with pytest.raises(SystemExit, match="another configuration"):
        table1.main([*CHERNODUB_TINY, "--learning-rate", "0.01", "--out", str(parts),
                     "--resume"])
    config = (parts / "config.json").read_text()
    (parts / "config.json").write_text(config.replace('"code_commit": "', '"code_commit": "x'))
    with pytest.raises(SystemExit, match="code commit"):
        table1.main([*CHERNODUB_TINY, "--out", str(parts), "--resume"])


def test_table1_budget_of_applied_updates(tmp_path):
    """--budget applied: SGR draws candidates until it has applied the budget."""
    table1 = _module()
    args = [*CHERNODUB_TINY, "--tasks", "temporal_order", "--n-nets", "2", "--stop-at", "2",
            "--sgr", "max_skips=3"]
    cand = table1.main([*args, "--out", str(tmp_path / "candidates")])
    applied = table1.main([*args, "--budget", "applied", "--out", str(tmp_path / "applied")])
    by = {(r["net"], r["method"]): r for r in applied}
    for r in cand:
        if r["method"] != "on":  # OFF and clipping apply every candidate: the same rows
            assert table1_row_numbers(by[r["net"], r["method"]]) == table1_row_numbers(r)
            continue
        assert r["candidates"] == 120 and r["skipped"] > 0  # SGR skipped some candidates
        on = by[r["net"], "on"]
        assert on["updates"] == 120 and on["candidates"] == 120 + on["skipped"]
        assert on["candidates"] > 120 and "stopped" not in on["notes"]
    md = (tmp_path / "applied" / "table1.md").read_text()
    assert "120 applied weight updates per network (SGR: up to 2,400 candidates)" in md
    # the candidate cap ends a run that cannot apply its budget
    capped = table1.main([*args, "--methods", "on", "--sgr", "max_skips=None",
                          "q_range=(-1e-9, 1e-9)", "--n-nets", "1", "--budget", "applied",
                          "--out", str(tmp_path / "capped")])
    assert capped[0]["candidates"] == 2400 and capped[0]["updates"] < 120
    assert "stopped: 2,400 candidates" in capped[0]["notes"]


def table1_row_numbers(row):
    return tuple(row[c] for c in PINNED)


def test_table1_resume_accepts_a_run_made_before_a_setting_existed(tmp_path):
    """A setting added later resumes runs that have its default (stage 1's config.json)."""
    table1 = _module()
    first = table1.main([*CHERNODUB_TINY, "--out", str(tmp_path), "--shard", "1/2"])
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["config"].pop("budget") == "candidates"
    assert len(saved.pop("sessions")) == 1  # stage 1's and 1b's config.json predate it
    (tmp_path / "config.json").write_text(json.dumps(saved))
    with pytest.raises(SystemExit, match="budget: 'candidates' there, 'applied' now"):
        table1.main([*CHERNODUB_TINY, "--out", str(tmp_path), "--resume", "--budget", "applied"])
    rest = table1.main([*CHERNODUB_TINY, "--out", str(tmp_path), "--resume"])
    assert len(first) == 9 and len(rest) == len(_pinned(tmp_path / "results.csv")) == 18
    assert len(json.loads((tmp_path / "config.json").read_text())["sessions"]) == 1


def test_table1_progress_estimate_and_unit_descriptions():
    table1 = _module()
    progress = table1.Progress(total=8, start=100.0, n_jobs=2)
    assert progress.status(now=103.2) == "elapsed 3 s, ETA unknown"
    progress.finished([{"wall_time_s": 4.0}, {"wall_time_s": 6.0}])  # a unit's rows: 10 s
    progress.finished([{"wall_time_s": 20.0}])
    # 15 s per unit on average, 6 units left, 2 at once
    assert progress.done == 2 and progress.status(now=130) == "elapsed 30 s, ETA 45 s"
    for _ in range(5):
        progress.finished([{"wall_time_s": 15.0}])
    assert progress.time_left() == pytest.approx(15.0)  # the last unit runs alone
    progress.finished([{"wall_time_s": 15.0}])
    assert progress.status(now=100 + 7200) == "elapsed 2.0 h, ETA 0 s"
    assert [table1.format_duration(s) for s in (59.6, 150, 7199, 3 * 86400)] == \
        ["60 s", "2 min", "2.0 h", "3.0 d"]
    units = [("temporal_order", 100, 1), ("adding", 100, 0), ("adding", 100, 1),
             ("temporal_order", 100, 0), ("adding", 50, 3), ("adding", 50, 5), ("adding", 50, 6)]
    assert table1.describe_units(units) == \
        "adding T=50 nets 3, 5-6; adding T=100 nets 0-1; temporal_order T=100 nets 0-1"
    assert table1.describe_units([("adding", 10, 2)]) == "adding T=10 net 2"


def test_table1_prints_eta_and_what_resume_skips(tmp_path, capsys):
    table1 = _module()
    row_line = r"\[\s*(\d+)/3\] .*\((elapsed \d+ s, ETA \d+ s)\)"
    for args, skip_line in ((["--shard", "1/2"], None),
                            (["--resume"], "skipping 3 finished units: temporal_order T=10 nets 0-2")):
        table1.main([*CHERNODUB_TINY, "--out", str(tmp_path), *args])
        out = capsys.readouterr().out.splitlines()
        # before training: nothing finished, no estimate
        start = next(i for i, line in enumerate(out) if line.startswith("progress: "))
        assert re.fullmatch(r"progress: 0/3 units done, elapsed \d+ s, ETA unknown", out[start])
        # then a line per row (three methods a unit), each with the unit counter and the estimate
        rows = [re.match(row_line, line) for line in out[start + 1:] if line.startswith("[")]
        assert all(rows) and [int(m.group(1)) for m in rows] == [1, 1, 1, 2, 2, 2, 3, 3, 3]
        assert rows[-1].group(2).endswith("ETA 0 s")
        if skip_line is None:
            assert not any(line.startswith("skipping") for line in out)
        else:
            assert [line for line in out if line.startswith("skipping")] == [skip_line]
            assert out.index(skip_line) < start
    assert len(_pinned(tmp_path / "results.csv")) == 18


def test_table1_report_merges_shards(tmp_path):
    table1 = _module()
    for k in (1, 2):
        table1.main([*CHERNODUB_TINY, "--out", str(tmp_path / f"s{k}"), "--shard", f"{k}/2"])
    merged = table1.main(["--report", str(tmp_path / "s1"), str(tmp_path / "s2"),
                          "--out", str(tmp_path / "merged")])
    assert len(merged) == 18
    md = (tmp_path / "merged" / "table1.md").read_text()
    assert "| T=10, clipping |" in md and "(n=3)" in md


def test_paired_statistics():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from paired_stats import holm, sign_flip_test

    assert sign_flip_test([0.1] * 10) == pytest.approx(2 / 1024)
    assert sign_flip_test([0.0] * 5) == 1.0
    # brute force on a small case with ties and a zero
    d = [0.2, -0.1, 0.1, 0.0, 0.3]
    import itertools

    obs = abs(sum(d))
    hits = sum(abs(sum(s * x for s, x in zip(signs, d))) >= obs - 1e-12
               for signs in itertools.product((1, -1), repeat=5))
    assert sign_flip_test(d) == pytest.approx(hits / 32)
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert holm([0.5, 0.001]) == [0.5, 0.002]


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


def test_table1_data_seeds_follow_task_names_not_positions(monkeypatch):
    table1 = _module()
    # the shared sets keep the derivation stage 1 and the golden CSVs were made with
    # (the task's place in TASKS as it then was)
    for i, task in enumerate(("adding", "multiplication", "temporal_order",
                              "temporal_order_3bit")):
        ss = np.random.SeedSequence([0, i, 100, 1])
        assert table1.data_seed(0, task, 100, "val") == int(ss.generate_state(1)[0] & 0x7FFFFFFF)
    before = {(t, s, n): table1.data_seed(3, t, 50, s, n) for t in table1.TASKS
              for s in ("train", "val", "test") for n in (None, 0, 1, 7)}
    # inserting or reordering tasks changes no seed
    monkeypatch.setattr(table1, "TASKS", ("new_task", *reversed(table1.TASKS)))
    assert {k: table1.data_seed(3, *k[:1], 50, *k[1:]) for k in before} == before
    # every network has its own sets, distinct from the shared ones and across splits
    assert len(set(before.values())) == len(before)
    args = table1.parse_args([*CHERNODUB_TINY, "--fresh-data"])
    sets = [table1.cell_data("temporal_order", 10, args, net)["train"][0] for net in (0, 1)]
    assert sets[0].shape == sets[1].shape == (300, 10, 6)
    assert not np.array_equal(sets[0], sets[1])
    np.testing.assert_array_equal(
        sets[1], table1.cell_data("temporal_order", 10, args, 1)["train"][0])


def test_table1_on_clip_fresh_data_and_learning_curves(tmp_path):
    """--methods ... on+clip with --fresh-data: rows, curve files, and --report from them."""
    table1 = _module()
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from table1_curves import read_curves

    args = [*CHERNODUB_TINY, "--n-nets", "2", "--methods", "off", "on", "clip", "on+clip",
            "--fresh-data", "--init", "xavier_uniform", "--clip-threshold", "0.5"]
    rows = table1.main([*args, "--out", str(tmp_path / "run")])
    assert len(rows) == 2 * 2 * 4 and all("curve" not in r for r in rows)
    with open(tmp_path / "run" / "results.csv", newline="") as f:
        assert {r["method"] for r in csv.DictReader(f)} == {"off", "on", "clip", "on+clip"}
    by = {(r["task"], r["net"], r["method"]): r for r in rows}
    # SGR on top of clipping skips candidates; it starts from clip's network and data
    assert sum(by[t, n, "on+clip"]["skipped"] for t in ("adding", "temporal_order")
               for n in (0, 1)) > 0
    # fresh data: the two networks' baselines and shared-data runs differ
    shared = table1.main([a for a in args if a != "--fresh-data"]
                         + ["--methods", "off", "--out", str(tmp_path / "shared")])
    assert ({(r["task"], r["net"]): r["test_accuracy"] for r in shared}
            != {(t, n): by[t, n, "off"]["test_accuracy"] for t, n, m in by if m == "off"})
    md = (tmp_path / "run" / "table1.md").read_text()
    assert "a fresh training / validation / test set for every network" in md
    assert "| T=10, grad. reg. ON + clipping |" in md and "ON+CLIP − CLIP" in md
    for task in ("adding", "temporal_order"):
        curves = read_curves(tmp_path / "run" / f"curves_{task}_T10.csv")
        assert set(curves) == {(n, m) for n in (0, 1) for m in ("off", "on", "clip", "on+clip")}
        for (net, method), points in curves.items():
            r = by[task, net, method]
            assert [p["epoch"] for p in points] == list(range(1, r["epochs"] + 1))
            assert points[-1]["candidates"] == r["candidates"]
            assert sum(p["applied"] for p in points) == r["updates"]
            assert sum(p["skipped"] for p in points) == r["skipped"]
            assert all(np.isfinite(p["val_loss"]) and 0 <= p["val_success"] <= 1
                       for p in points)
            # the best validation success is one of the curve's points
            assert r["best_validation"] in [pytest.approx(p["val_success"], rel=1e-5) for p in points]
            if method in ("off", "on"):
                assert all(p["clipped"] == 0 for p in points)
            if method in ("off", "clip"):
                assert all(p["skipped"] == 0 for p in points)
        assert sum(p["clipped"] for (_, m), pts in curves.items() if m == "clip"
                   for p in pts) > 0
    # --report reads the curves back and merges them into its own directory
    merged = table1.main(["--report", str(tmp_path / "run"), "--out", str(tmp_path / "rep")])
    assert len(merged) == len(rows)
    for task in ("adding", "temporal_order"):
        assert (read_curves(tmp_path / "rep" / f"curves_{task}_T10.csv")
                == read_curves(tmp_path / "run" / f"curves_{task}_T10.csv"))
        if importlib.util.find_spec("matplotlib"):
            png = tmp_path / "rep" / f"curves_{task}_T10.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (tmp_path / "rep" / "table1.md").read_text()
    assert "ON+CLIP − CLIP" in report
    per_net = report[report.index("### Per network"):report.index("### Learning curves")]
    assert [line.split("|")[1:4] for line in per_net.splitlines() if line.startswith("| A")] == [
        [" Adding ", " 10 ", f" {n} "] for n in (0, 1)]
    # the learning-curve table: a row per task and method, and the baseline's loss
    section = report[report.index("### Learning curves"):]
    for task in ("Adding", "Temporal order"):
        assert sum(line.startswith(f"| {task} | 10 | grad. reg.") or
                   line.startswith(f"| {task} | 10 | clipping |")
                   for line in section.splitlines()) == 4
        assert re.search(rf"\| {task} \| 10 \| baseline \| \| \d", section)


def test_table1_fig1_profiles_the_papers_network():
    """Fig. 1's networks are the paper's (last state, random output layer) with each
    init's draw, not the estimators' defaults (pooled readout, ridge start)."""
    table1 = _module()
    args = table1.parse_args(["--full"])
    est = table1.profile_estimator(args, {"init": "normal", "sigma": 0.01})
    assert (est.readout, est.output_init, est.n_hidden) == ("last", "random", 100)
    assert (est.init, est.sigma) == ("normal", 0.01)


def test_table1_per_network_table():
    """Every network's row, SGR's skipped share and the early stops, from the rows."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from table1_tables import per_network_table

    def row(net, method, acc, candidates=100, skipped=0, notes=""):
        return {"task": "adding", "T": 50, "net": net, "method": method, "test_accuracy": acc,
                "candidates": candidates, "skipped": skipped, "notes": notes}

    rows = [row(1, "off", 0.5), row(1, "on", 0.25, skipped=40), row(0, "off", 0.125),
            row(0, "clip", 0.995, candidates=1200, notes="stopped: validation success > 0.99")]
    lines = per_network_table(rows, ["adding"], [50], ["off", "on", "clip"]).splitlines()
    assert lines[0] == "| task | T | network | grad. reg. OFF | grad. reg. ON | clipping |"
    assert lines[2:] == ["| Adding | 50 | 0 | 12.5 % | – | 99.5 % [1,200] |",
                         "| Adding | 50 | 1 | 50.0 % | 25.0 % (40 % skipped) | – |"]


def test_table1_curve_table_counts_losses_clipping_and_pairs():
    """The curve summary on hand-made curves: the lowest finite loss per network, the
    networks below half the baseline, clipping totals, and the paired loss counts."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from table1_curves import curve_table, run_summaries

    def curve(losses, clipped):
        return [{"epoch": i + 1, "candidates": 10 * (i + 1), "val_loss": loss,
                 "val_success": 0.0, "clipped": c, "applied": 10.0, "skipped": 0.0}
                for i, (loss, c) in enumerate(zip(losses, clipped))]

    curves = {(0, "off"): curve([0.2, 0.05, 0.3], [0, 0, 0]),
              (1, "off"): curve([0.2, float("nan"), 0.15], [0, 0, 0]),
              (0, "clip"): curve([0.2, 0.04], [3, 4]),
              (1, "clip"): curve([0.2, 0.15, 0.16], [0, 0, 0])}  # never clipped
    assert run_summaries(curves, "off") == {0: (0.05, 0.0), 1: (0.15, 0.0)}
    assert run_summaries(curves, "clip") == {0: (0.04, 7.0), 1: (0.15, 0.0)}
    md = curve_table({("adding", 100): curves}, {("adding", 100): 0.2}, ["off", "clip"])
    lines = md.splitlines()
    assert "| Adding | 100 | grad. reg. OFF | 2 | 0.1 (0.05 – 0.15) | 1 of 2 | – | – |" in lines
    assert "| Adding | 100 | clipping | 2 | 0.095 (0.04 – 0.15) | 1 of 2 | 4 | 1 of 2 |" in lines
    assert "| Adding | 100 | baseline | | 0.2 | | | |" in lines
    # clip lower on network 0, a tie on network 1
    assert "| Adding | 100 | CLIP − OFF | 2 | 1 | 0 | -0.005 |" in lines


STAGE1B_TINY = [*CHERNODUB_TINY, "--methods", "off", "on", "clip", "on+clip", "--init",
                "xavier_uniform", "--fresh-data", "--clip-threshold", "0.5"]
STAGE1B_GOLDEN = ROOT / "tests" / "data" / "table1_stage1b_golden.csv"


def test_table1_stage1b_configuration_numbers_unchanged(tmp_path):
    """Stage 1b's configuration (Xavier init, fresh data, four methods) computes what
    the tagged commit it runs from computed (golden CSV made there, ``stage1b-start``):
    the later changes of the library leave its numbers bit for bit unchanged."""
    _module().main([*STAGE1B_TINY, "--out", str(tmp_path)])
    assert _pinned(tmp_path / "results.csv") == _pinned(STAGE1B_GOLDEN)


@pytest.mark.slow
def test_table1_fresh_data_with_figures(tmp_path):
    """With --fresh-data no shared sets are in memory; the figures make their own."""
    pytest.importorskip("matplotlib")
    args = [a for a in STAGE1B_TINY if a != "--no-figures"]
    rows = _module().main([*args, "--n-nets", "1", "--tasks", "temporal_order",
                           "--fig-updates", "50", "--out", str(tmp_path)])
    assert len(rows) == 4
    for name in ("fig1_profile.png", "fig2_dynamics.png", "curves_temporal_order_T10.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _copy_sources(table1, dest):
    """The loaded package's source files, as an installed copy holds them."""
    import sksgr

    loaded = Path(sksgr.__file__).resolve().parent
    dest.mkdir(parents=True)
    for pattern in table1._LIBRARY_SOURCES:
        for path in loaded.glob(pattern):
            shutil.copy2(path, dest / path.name)
    return dest


def test_table1_refuses_a_library_from_another_checkout(tmp_path, monkeypatch):
    """Rows carry the commit of the script's checkout, so ``import sksgr`` must load
    that checkout's code: stage 1b's first run took the script from a worktree and
    the library from an editable install of another checkout."""
    table1 = _module()
    package = _copy_sources(table1, tmp_path / "sksgr")
    table1.check_library(tmp_path)  # the same sources, elsewhere (an installed copy): passes
    assert table1.library_fingerprint(package) == table1.library_fingerprint(PACKAGE_DIR)
    table1.check_library(tmp_path / "no_checkout")  # no sksgr/ beside the script: no check

    network = package / "network.py"
    network.write_text(network.read_text() + "\n# a later change\n")
    assert table1.library_fingerprint(package) != table1.library_fingerprint(PACKAGE_DIR)
    with pytest.raises(SystemExit, match=r"loads .*sources differ.*PYTHONPATH="):
        table1.check_library(tmp_path)
    # main() checks before it trains or writes anything
    monkeypatch.setattr(table1, "__file__", str(tmp_path / "benchmarks" / "table1.py"))
    with pytest.raises(SystemExit, match="sources differ"):
        table1.main([*STAGE1B_TINY, "--out", str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()


def test_table1_refuses_a_stale_in_place_kernel(tmp_path):
    table1 = _module()
    pyx, so = tmp_path / "_bptt_fast.pyx", tmp_path / "_bptt_fast.cpython-311-x86_64-linux-gnu.so"
    pyx.write_text("# source")
    so.write_bytes(b"")
    os.utime(pyx, (2e9, 2e9))
    os.utime(so, (1e9, 1e9))  # built before the source's last change
    assert table1.stale_extensions(tmp_path) == [so.name]
    os.utime(so, (3e9, 3e9))
    assert table1.stale_extensions(tmp_path) == []


def test_table1_curve_figure_title_counts_the_networks_in_the_file(tmp_path):
    """A run in progress: the figure's title line is told how many networks the curve
    file holds, and table1's summary says "2 of 10 networks", not the 10 it asks for."""
    pytest.importorskip("matplotlib")
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from table1_curves import append_curves, curve_path, plot_curve_files

    for net in (0, 3):
        append_curves(curve_path(tmp_path, "adding", 10), net, "off",
                      [(1, 50, 0.2, 0.1, 0, 50, 0), (2, 100, 0.1, 0.2, 0, 50, 0)])
    told = []
    written = plot_curve_files(tmp_path, [("adding", 10), ("temporal_order", 10)],
                               {"off": "OFF"}, {"adding": "Adding"},
                               lambda task, T, n: told.append((task, T, n)) or f"{n} nets")
    assert told == [("adding", 10, 2)]  # no file for temporal order: no figure
    assert written == [tmp_path / "curves_adding_T10.png"]
    table1 = _module()
    args = table1.parse_args([*CHERNODUB_TINY, "--n-nets", "10", "--out", str(tmp_path)])
    assert args.n_nets == 10
    from unittest import mock

    import matplotlib.pyplot as plt

    titles = []
    real = plt.Figure.suptitle
    with mock.patch.object(plt.Figure, "suptitle",
                           lambda self, t, **kw: titles.append(t) or real(self, t, **kw)):
        table1.curve_figures(args)
    assert len(titles) == 1 and titles[0].startswith("Adding, T = 10: 2 of 10 networks, ")
