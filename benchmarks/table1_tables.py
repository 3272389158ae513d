"""The tables of benchmarks/table1.py: Table 1's layout, statistics and summaries.

Pure functions of the result rows (dicts, one per network and method, as
``results.csv`` holds them); ``table1.py`` runs the networks and assembles
the report from these.
"""

import numpy as np
from paired_stats import holm, sign_flip_test, summarize

TASK_TITLES = {
    "adding": "Adding",
    "multiplication": "Multiplication",
    "temporal_order": "Temporal order",
    "temporal_order_3bit": "Temporal order 3-bit",
}
METHOD_LABELS = {"off": "grad. reg. OFF", "on": "grad. reg. ON", "clip": "clipping",
                 "on+clip": "grad. reg. ON + clipping"}

# Table 1 of Chernodub & Nowicki (2016), copied as printed: (T, method) ->
# {task: (best, mean)}. "N/A": not reported for multiplication at T = 150.
PAPER_TABLE1 = {
    (100, "off"): {"adding": ("99%", "68%"), "multiplication": (">99%", "72%"),
                   "temporal_order": ("96%", "44%"), "temporal_order_3bit": ("99%", "50%")},
    (100, "on"): {"adding": (">99%", "96%"), "multiplication": (">99%", "68%"),
                  "temporal_order": (">99%", "60%"), "temporal_order_3bit": (">99%", "62%")},
    (150, "off"): {"adding": ("34%", "11%"), "multiplication": ("N/A", "N/A"),
                   "temporal_order": ("51%", "30%"), "temporal_order_3bit": ("32%", "24%")},
    (150, "on"): {"adding": ("47%", "13%"), "multiplication": ("N/A", "N/A"),
                  "temporal_order": ("72%", "42%"), "temporal_order_3bit": ("37%", "30%")},
}
PAPER_BUDGET = ("10 networks per task and length, 100,000 updates (2,000 epochs of 50), "
                "train / val / test = 20,000 / 1,000 / 10,000, lr 1e-5 ... 1e-3, "
                "sigma = 0.01, safe range Q in [-1, 1]")


def format_percent(x):
    return f"{100 * x:.1f}%"


def _row_label(T, method):
    return f"T={T}, {METHOD_LABELS[method]}"


def _header(tasks):
    cols = [f"{TASK_TITLES[t]} {stat}" for t in tasks for stat in ("best", "mean")]
    return ("| | " + " | ".join(cols) + " |", "|---|" + "---:|" * len(cols))


def _cell(rows, task, T, method):
    return [r["test_accuracy"] for r in rows
            if r["task"] == task and r["T"] == T and r["method"] == method]


def results_table(rows, tasks, lengths, methods):
    """Markdown table in the layout of the paper's Table 1: best / mean test accuracy."""
    lines = list(_header(tasks))
    for T in sorted(lengths):
        for method in methods:
            cells = []
            for task in tasks:
                acc = _cell(rows, task, T, method)
                cells += ([format_percent(max(acc)), format_percent(float(np.mean(acc)))]
                          if acc else ["–", "–"])
            lines.append(f"| {_row_label(T, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


# (a, b): a - b; on+clip - clip is what SGR adds to clipping.
COMPARISONS = (("on", "off"), ("clip", "off"), ("on", "clip"), ("on+clip", "clip"))


def paired_comparisons(rows, tasks, lengths, methods):
    """[(task, T, a, b, n, mean difference, p, Holm-adjusted p)] over the table."""
    found = []
    for task in tasks:
        for T in sorted(lengths):
            for a, b in COMPARISONS:
                if a not in methods or b not in methods:
                    continue
                acc = {m: {r["net"]: r["test_accuracy"] for r in rows if r["task"] == task
                           and r["T"] == T and r["method"] == m} for m in (a, b)}
                nets = sorted(set(acc[a]) & set(acc[b]))
                if not nets:
                    continue
                d = np.array([acc[a][n] - acc[b][n] for n in nets])
                found.append([task, T, a, b, len(nets), float(d.mean()), sign_flip_test(d)])
    adjusted = holm([f[-1] for f in found]) if found else []
    return [tuple(f) + (p,) for f, p in zip(found, adjusted)]


def statistics_table(rows, tasks, lengths, methods, baselines):
    """Mean +- sd per cell, the in-run baseline, and the paired comparisons."""
    lines = ["| task | T | baseline | " + " | ".join(
        f"{METHOD_LABELS[m]} mean ± sd" for m in methods) + " |",
        "|---|---:|---:|" + "---:|" * len(methods)]
    for task in tasks:
        for T in sorted(lengths):
            cells = []
            for m in methods:
                acc = _cell(rows, task, T, m)
                if acc:
                    mean, sd, _, n = summarize(acc)
                    cells.append(f"{100 * mean:.1f} ± {100 * sd:.1f} % (n={n})")
                else:
                    cells.append("–")
            base = baselines.get((task, T))
            lines.append(f"| {TASK_TITLES[task]} | {T} | "
                         f"{format_percent(base) if base is not None else '–'} | "
                         + " | ".join(cells) + " |")
    comps = paired_comparisons(rows, tasks, lengths, methods)
    if comps:
        lines += ["", "| task | T | comparison | networks | mean difference | p (sign-flip) "
                  "| p (Holm) |", "|---|---:|---|---:|---:|---:|---:|"]
        for task, T, a, b, n, diff, p, p_holm in comps:
            mark = " *" if p_holm < 0.05 else ""
            lines.append(f"| {TASK_TITLES[task]} | {T} | {a.upper()} − {b.upper()} | {n} | "
                         f"{100 * diff:+.1f} points{mark} | {p:.3g} | {p_holm:.3g} |")
        lines += ["", f"Paired over networks (same initial weights and data). p: exact "
                  f"two-sided sign-flip test of the mean difference; Holm's adjustment over "
                  f"the {len(comps)} comparisons above; * marks adjusted p < 0.05."]
    return "\n".join(lines)


def per_network_table(rows, tasks, lengths, methods):
    """Markdown: every network's test success per method, in the order of the networks.

    An SGR method's cell adds the share of its candidates that were skipped; a
    run that stopped at the validation-success threshold adds, in brackets,
    the candidates it stopped after.
    """
    lines = ["| task | T | network | " + " | ".join(METHOD_LABELS[m] for m in methods) + " |",
             "|---|---:|---:|" + "---:|" * len(methods)]
    for task in tasks:
        for T in sorted(lengths):
            mine = {(r["net"], r["method"]): r for r in rows
                    if r["task"] == task and r["T"] == T}
            for net in sorted({n for n, _ in mine}):
                cells = []
                for m in methods:
                    r = mine.get((net, m))
                    if r is None:
                        cells.append("–")
                        continue
                    cell = f"{100 * r['test_accuracy']:.1f} %"
                    if m.startswith("on"):
                        cell += f" ({100 * r['skipped'] / max(1, r['candidates']):.0f} % skipped)"
                    if "stopped: validation success" in r["notes"]:
                        cell += f" [{r['candidates']:,}]"
                    cells.append(cell)
                lines.append(f"| {TASK_TITLES[task]} | {T} | {net} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def paper_table(tasks):
    lines = list(_header(tasks))
    for (T, method), values in PAPER_TABLE1.items():
        cells = [v for task in tasks for v in values[task]]
        lines.append(f"| {_row_label(T, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost_summary(rows):
    """Mean cost per network and method, and SGR's training cost relative to OFF."""
    parts = []
    for m in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == m]
        wall = np.mean([r["wall_time_s"] for r in mine])
        train = np.mean([r["train_time_s"] for r in mine])
        val = np.mean([r["validation_time_s"] for r in mine])
        per = np.sum([r["train_time_s"] for r in mine]) / max(
            1, np.sum([r["candidates"] for r in mine]))
        text = f"{m.upper()} {wall:,.0f} s per network"
        if np.isfinite(train) and np.isfinite(val):
            text += f" ({train:,.0f} s training, {val:,.0f} s validation)"
        parts.append((m, text, per))
    per = {m: p for m, _, p in parts}
    line = "Cost, mean per network: " + "; ".join(t for _, t, _ in parts) + "."
    if "on" in per and "off" in per and per["off"] > 0 and np.isfinite(per["on"]):
        line += (f" SGR's training time per candidate minibatch is {per['on'] / per['off']:.2f}× "
                 "OFF's (the extra is the cost of SGR).")
    return line


def skipped_summary(rows):
    parts = []
    for method, label in (("on", "SGR ON"), ("on+clip", "SGR ON + clipping")):
        on = [r for r in rows if r["method"] == method]
        if not on:
            continue
        mean = {k: np.mean([r[k] for r in on]) for k in ("candidates", "updates", "skipped",
                                                           "guarded")}
        parts.append(f"{label}, per network on average: "
                     f"{mean['candidates']:,.0f} candidate minibatches, {mean['updates']:,.0f} "
                     f"weight updates applied ({mean['guarded']:,.0f} of them by the max_skips "
                     f"guard), {mean['skipped']:,.0f} skipped.")
    return " ".join(parts) or None


def dynamics_summary(runs, methods, threshold=1e-7):
    """Markdown: the long-term gradient (delta norm at the deepest depth) and saturation.

    Answers the paper's Fig. 2 remark: does the norm at depth h = T - 1 fall
    below ``threshold`` during training (with saturated units), per method?
    """
    lines = ["| method | ‖δ‖ at depth T−1: start | after ~500 | minimum | first below "
             f"{threshold:g} | saturated share: start / ~500 / end | radius at end |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for m, r in zip(methods, runs):
        deep = r.delta_norms[:, -1]
        at500 = int(np.argmin(np.abs(r.candidates - 500)))
        below = np.nonzero(deep < threshold)[0]
        first = f"candidate {r.candidates[below[0]]:,}" if below.size else "never"
        lines.append(
            f"| {METHOD_LABELS[m]} | {deep[0]:.2e} | {deep[at500]:.2e} | {deep.min():.2e} | "
            f"{first} | {r.saturation[0]:.1%} / {r.saturation[at500]:.1%} / "
            f"{r.saturation[-1]:.1%} | {r.spectral_radius[-1]:.2f} |")
    return "\n".join(lines)
