"""The learning curves of benchmarks/table1.py: one CSV and one figure per (task, T) cell.

A curve row is one validation of one network trained by one method (the
chernodub protocol validates after every epoch): the candidates so far, the
validation loss and success, and since the previous row the candidates that
clipping rescaled, that were applied and that SGR skipped. Rows are appended
unit by unit as the run goes (so a resumed run keeps them); reading keeps the
last row of each (network, method, epoch), so a unit trained twice (a crash
between its curve and its results) counts once.
"""

import csv
import math
import os
import warnings
from pathlib import Path

import numpy as np
from table1_tables import COMPARISONS, METHOD_LABELS, TASK_TITLES

COLUMNS = ("net", "method", "epoch", "candidates", "val_loss", "val_success",
           "clipped", "applied", "skipped")
_INTS = ("net", "epoch", "candidates")
_FLOATS = ("val_loss", "val_success", "clipped", "applied", "skipped")


def curve_path(out, task, T):
    """The curve file of one cell."""
    return Path(out) / f"curves_{task}_T{T}.csv"


def _format(value):
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    value = float(value)
    return "nan" if math.isnan(value) else f"{value:.6g}"


def append_curves(path, net, method, curve):
    """Append one network's curve (tuples of COLUMNS[2:]) to ``path``, fsynced."""
    new = not Path(path).exists()
    with open(path, "a", newline="") as f:
        writer = csv.writer(f)
        if new:
            writer.writerow(COLUMNS)
        for point in curve:
            writer.writerow([net, method, *(_format(v) for v in point)])
        f.flush()
        os.fsync(f.fileno())


def read_curves(path):
    """{(net, method): structured rows sorted by epoch} from a curve file."""
    rows = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: columns {reader.fieldnames}, expected {list(COLUMNS)}")
        for r in reader:
            key = (int(r["net"]), r["method"])
            point = {k: int(r[k]) for k in _INTS if k != "net"}
            point.update({k: float(r[k]) for k in _FLOATS})
            rows.setdefault(key, {})[point["epoch"]] = point
    return {key: [by_epoch[e] for e in sorted(by_epoch)] for key, by_epoch in rows.items()}


def _grid(curves, key, carry):
    """(candidates, values of shape (networks, points)) on the longest network's epochs.

    ``carry``: a network that stopped early keeps its last value (validation
    measures: it stopped because it had learned); otherwise NaN (counts).
    """
    longest = max(curves, key=len)
    x = np.array([p["candidates"] for p in longest], dtype=float)
    values = np.full((len(curves), len(longest)), np.nan)
    for i, curve in enumerate(curves):
        v = [p[key] for p in curve]
        values[i, :len(v)] = v
        if carry and v:
            values[i, len(v):] = v[-1]
    return x, values


def plot_cell(curves, title, labels):
    """A figure of one cell: median and range over the networks, a line per method.

    ``curves``: {(net, method): rows} of one cell (``read_curves``);
    ``labels``: {method: legend label}. Panels: validation loss (log scale),
    validation success, and per validation interval the share of candidates
    clipped and skipped.
    """
    import matplotlib.pyplot as plt

    methods = [m for m in labels if any(k[1] == m for k in curves)]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    panels = (("val_loss", "validation loss", True), ("val_success", "validation success", True),
              ("clipped", "share of candidates clipped", False),
              ("skipped", "share of candidates skipped by SGR", False))
    for ax, (key, name, carry) in zip(axes.flat, panels):
        for j, m in enumerate(methods):
            mine = [c for (_, method), c in sorted(curves.items()) if method == m and c]
            if not mine:
                continue
            x, values = _grid(mine, key, carry)
            if key in ("clipped", "skipped"):  # a share of the interval's candidates
                _, n = _grid(mine, "candidates", False)
                steps = np.diff(np.concatenate([np.zeros((len(mine), 1)), n], axis=1), axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    values = values / steps
            if np.all(np.isnan(values)):
                continue
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN intervals
                med = np.nanmedian(values, axis=0)
                lo, hi = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
            color = f"C{j}"
            ax.plot(x, med, color=color, lw=1.2, label=f"{labels[m]} (n={len(mine)})")
            ax.fill_between(x, lo, hi, color=color, alpha=0.15, lw=0)
        ax.set_title(name, fontsize="medium")
        if key == "val_loss" and ax.has_data():
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("candidate minibatches")
    handles, names = axes[0, 1].get_legend_handles_labels()
    if handles:
        axes[0, 1].legend(handles, names, fontsize="small", loc="best")
    fig.suptitle(title + "\nmedian (line) and range (band) over the networks; a network that "
                 "stopped early keeps its last validation", fontsize="medium")
    fig.tight_layout()
    return fig


def plot_curve_files(out, cells, labels, titles, summary):
    """Read each cell's curve file in ``out`` and write its figure beside it.

    ``cells``: (task, T) pairs; ``titles``: {task: title}; ``summary(task, T,
    n_networks)`` a line for the title, told how many networks the file holds
    (a run in progress has fewer than it asks for). Returns the figure paths
    written.
    """
    import matplotlib.pyplot as plt

    written = []
    for task, T in cells:
        path = curve_path(out, task, T)
        if not path.exists():
            continue
        curves = read_curves(path)
        if not curves:
            continue
        n_networks = len({net for net, _ in curves})
        fig = plot_cell(curves, f"{titles[task]}, T = {T}: {summary(task, T, n_networks)}", labels)
        png = path.with_suffix(".png")
        fig.savefig(png, dpi=90)
        plt.close(fig)
        written.append(png)
    return written


def run_summaries(curves, method):
    """{net: (lowest validation loss, candidates clipped)} of one method's networks.

    The lowest loss ignores NaN (a run without recorded losses gives NaN).
    """
    found = {}
    for (net, m), points in sorted(curves.items()):
        if m != method or not points:
            continue
        losses = np.array([p["val_loss"] for p in points], dtype=float)
        best = float(np.min(losses[np.isfinite(losses)])) if np.isfinite(losses).any() else np.nan
        found[net] = (best, float(np.nansum([p["clipped"] for p in points])))
    return found


def _spread(values):
    return f"{np.median(values):.3g} ({np.min(values):.3g} – {np.max(values):.3g})"


def curve_table(cells, baseline_losses, methods):
    """Markdown: per cell and method, the best validation loss against a baseline's, and
    how often clipping acted; then, paired over networks, which method reached the lower loss.

    ``cells``: {(task, T): curves of the cell (``read_curves``)}; ``baseline_losses``:
    {(task, T): validation loss of a network that learned nothing}. The loss is what the
    networks are trained on: squared error (regression) or cross-entropy (classifiers),
    so it shows learning that the success threshold does not count.
    """
    lines = ["| task | T | method | networks | best validation loss: median (min – max) | "
             "below half the baseline | candidates clipped per network: mean | never clipped |",
             "|---|---:|---|---:|---:|---:|---:|---:|"]
    paired = []
    for (task, T), curves in cells.items():
        base = baseline_losses.get((task, T), np.nan)
        runs = {m: run_summaries(curves, m) for m in methods}
        for m in methods:
            if not runs[m]:
                continue
            best = np.array([b for b, _ in runs[m].values()])
            clipped = np.array([c for _, c in runs[m].values()])
            finite = best[np.isfinite(best)]
            clips = "clip" in m
            lines.append(
                f"| {TASK_TITLES[task]} | {T} | {METHOD_LABELS[m]} | {len(best)} | "
                + (_spread(finite) if finite.size else "–") + " | "
                + (f"{int(np.sum(finite < base / 2))} of {len(best)}"
                   if finite.size and np.isfinite(base) else "–") + " | "
                + (f"{np.mean(clipped):,.0f}" if clips else "–") + " | "
                + (f"{int(np.sum(clipped == 0))} of {len(best)}" if clips else "–") + " |")
        lines.append(f"| {TASK_TITLES[task]} | {T} | baseline | | {base:.3g} | | | |")
        for a, b in COMPARISONS:
            if a not in methods or b not in methods:
                continue
            nets = sorted(set(runs[a]) & set(runs[b]))
            d = np.array([runs[a][n][0] - runs[b][n][0] for n in nets])
            d = d[np.isfinite(d)]
            if d.size:
                paired.append(f"| {TASK_TITLES[task]} | {T} | {a.upper()} − {b.upper()} | "
                              f"{d.size} | {int(np.sum(d < 0))} | {int(np.sum(d > 0))} | "
                              f"{np.median(d):+.3g} |")
    text = "\n".join(lines) + (
        "\n\nLoss: mean squared error (regression tasks) or cross-entropy (classification "
        "tasks) on the validation set; baseline: the loss of predicting the training mean or "
        "the training class frequencies. A method with clipping runs, on a network where "
        "clipping never acted, exactly as the same method without it (same initial weights, "
        "data and minibatches).")
    if paired:
        text += ("\n\n| task | T | comparison | networks | first lower | second lower | "
                 "median difference of best loss |\n|---|---:|---|---:|---:|---:|---:|\n"
                 + "\n".join(paired))
    return text
