"""How the cost of one training update grows with T, n_hidden and the minibatch.

For each point of three sweeps around the paper's configuration (T = 100,
100 hidden units, minibatch 10, 2 inputs, 1 linear output, float64, one BLAS
thread) it measures, in the same run:

- sksgr: time per update of the Cython kernel (``train_minibatches``, the
  loop ``fit`` runs), and its memory: the workspace it allocates (exactly
  ``(T+1)·B·H + 2·T·B·H + ...`` values, the stored activations and deltas)
  and the peak traced by ``tracemalloc`` during a ``fit`` of the same size;
- PyTorch (when importable): ``nn.RNN`` + ``nn.Linear`` + SGD with momentum,
  time per update.

Expected shape: time linear in T, about quadratic in n_hidden (the per-step
products are B·H² and the weight gradient GEMM T·B·H²), sub-linear in the
minibatch until the GEMMs are large enough to run at peak; memory
O(T·B·H). Each table ends with the fitted exponent (slope of log time over
log size). A PNG plot is written when matplotlib is installed::

    python benchmarks/bench_scaling.py                 # ~3 minutes
    python benchmarks/bench_scaling.py --long          # adds T = 10,000 (once)
"""

import argparse
import os
import time
import tracemalloc
import warnings

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from sksgr import SRNRegressor
from sksgr.network import HEAD_IDENTITY, Network, Optimizer

BASE = dict(T=100, H=100, B=10)
SWEEPS = {
    "T": [10, 30, 100, 300, 1000],
    "H": [32, 64, 128, 256, 512],
    "B": [1, 4, 16, 64, 256],
}
F, O = 2, 1


def _timeit(fn, min_seconds):
    fn()  # warm-up
    n, total = 0, 0.0
    while total < min_seconds or n < 2:
        tic = time.perf_counter()
        fn()
        total += time.perf_counter() - tic
        n += 1
    return total / n


def sksgr_point(T, H, B, min_seconds, rng):
    n_batches = 20
    X = rng.uniform(size=(B * n_batches, T, F))
    Y = rng.uniform(size=(B * n_batches, O))
    lengths = np.full(len(X), T, dtype=np.int32)
    net = Network(F, H, O, HEAD_IDENTITY)
    coef = rng.normal(0, 0.1, net.n_params)
    velocity = np.zeros_like(coef)
    work = net.workspace(B, T, np.float64)
    size = work.size
    optimizer = Optimizer(learning_rate=1e-6, momentum=0.9)
    order = np.arange(len(X), dtype=np.intp)
    starts = np.arange(0, len(X) + 1, B, dtype=np.intp)
    losses = np.empty(n_batches)

    def run():
        net.train(X, Y, lengths, order, starts, coef, velocity, work, losses, optimizer)

    seconds = _timeit(run, min_seconds) / n_batches
    tracemalloc.start()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        SRNRegressor(n_hidden=H, batch_size=B, readout="last", output_init="random",
                     solver="sgd", max_iter=1, tol=None, random_state=0).fit(
            X[: 2 * B], Y[: 2 * B, 0]
        )
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, size * 8, peak


def torch_point(T, H, B, min_seconds, rng):
    import torch

    torch.set_num_threads(1)
    rnn = torch.nn.RNN(F, H, nonlinearity="tanh", batch_first=True).double()
    lin = torch.nn.Linear(H, O).double()
    opt = torch.optim.SGD(list(rnn.parameters()) + list(lin.parameters()), lr=1e-6,
                          momentum=0.9)
    X = torch.from_numpy(rng.uniform(size=(B, T, F)))
    Y = torch.from_numpy(rng.uniform(size=(B, O)))

    def run():
        opt.zero_grad()
        out, _ = rnn(X)
        loss = 0.5 * ((lin(out[:, -1]) - Y) ** 2).sum(1).mean()
        loss.backward()
        opt.step()

    return _timeit(run, min_seconds)


def _torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _exponent(xs, ys):
    return np.polyfit(np.log(xs), np.log(ys), 1)[0]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--min-seconds", type=float, default=0.5)
    p.add_argument("--long", action="store_true", help="add one run at T = 10,000")
    p.add_argument("--quick", action="store_true", help="two tiny points per sweep (a smoke test)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--png", default="benchmarks/results/scaling.png")
    args = p.parse_args(argv)
    use_torch = not args.no_torch and _torch_available()
    rng = np.random.default_rng(0)
    sweeps = {k: list(v) for k, v in SWEEPS.items()}
    if args.quick:
        sweeps = {"T": [5, 10], "H": [8, 16], "B": [1, 4]}
    if args.long:
        sweeps["T"].append(10_000)
    results = {}
    with threadpool_limits(limits=1, user_api="blas"):
        blas = {(i["internal_api"], i.get("architecture")) for i in threadpool_info()
                if i["user_api"] == "blas"}
        print(f"BLAS: {sorted(blas)}; float64, one thread; "
              f"torch: {'yes' if use_torch else 'not importable or disabled'}")
        for name, values in sweeps.items():
            rows = []
            print(f"\n### time per update vs {name} (others: {BASE})\n")
            print(f"| {name} | sksgr ms/update | workspace MB | traced peak MB (fit) | "
                  "torch ms/update | torch / sksgr |")
            print("|---|---|---|---|---|---|")
            for value in values:
                point = {**BASE, name: value}
                secs, work, peak = sksgr_point(**point, min_seconds=args.min_seconds, rng=rng)
                tsecs = (torch_point(**point, min_seconds=args.min_seconds, rng=rng)
                         if use_torch and value <= 1000 else None)
                rows.append((value, secs, work, peak, tsecs))
                t_s = "–" if tsecs is None else f"{tsecs * 1e3:.3f}"
                r_s = "–" if tsecs is None else f"{tsecs / secs:.2f}"
                print(f"| {value} | {secs * 1e3:.3f} | {work / 2**20:.1f} | {peak / 2**20:.1f} | "
                      f"{t_s} | {r_s} |", flush=True)
            xs = [r[0] for r in rows]
            line = f"\nexponent of time: sksgr {_exponent(xs, [r[1] for r in rows]):.2f}"
            if use_torch:
                tr = [r for r in rows if r[4] is not None]
                line += f", torch {_exponent([r[0] for r in tr], [r[4] for r in tr]):.2f}"
            line += f"; of workspace memory: {_exponent(xs, [r[2] for r in rows]):.2f}"
            print(line)
            results[name] = rows
    _plot(results, args.png)
    return results


def _plot(results, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        print("matplotlib not installed: no plot (pip install sksgr[bench])")
        return
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    for ax, (name, rows) in zip(fig.subplots(1, len(results)), results.items()):
        xs = [r[0] for r in rows]
        ax.loglog(xs, [r[1] * 1e3 for r in rows], "o-", label="sksgr")
        tr = [r for r in rows if r[4] is not None]
        if tr:
            ax.loglog([r[0] for r in tr], [r[4] * 1e3 for r in tr], "s--", label="PyTorch")
        ax.set_xlabel(name)
        ax.set_ylabel("ms per update")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fig.savefig(path, dpi=100)
    print(f"plot: {path}")


if __name__ == "__main__":
    main()
