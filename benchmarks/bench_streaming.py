"""Streaming speed: steps per second of step-by-step prediction with a carried state.

sksgr's ``predict_stream`` (one step per call, the state carried between
calls) against the same loop in PyTorch (``nn.RNN`` + ``nn.Linear`` with the
hidden state carried, ``torch.no_grad()``), for one sequence and for a batch
of 100, at 100 hidden units; both on one thread, timed in the same run so
that the ratio survives a busy machine. The networks have the same weights
(sksgr's copied into PyTorch), and the outputs are checked equal.

Run: ``python benchmarks/bench_streaming.py`` (needs torch; about a minute).
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from sksgr import SRNRegressor


def fitted(n_hidden, n_features, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(64, 20, n_features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return SRNRegressor(n_hidden=n_hidden, readout="last", return_sequences=True,
                            max_iter=1, random_state=0).fit(X, X[:, :, 0])


def time_sksgr(reg, X, repeats):
    best = np.inf
    for _ in range(repeats):
        state = reg.start_stream(len(X))
        start = time.perf_counter()
        for t in range(X.shape[1]):
            out, state = reg.predict_stream(X[:, t:t + 1], state)
        best = min(best, time.perf_counter() - start)
    return best, out[:, -1]


def time_torch(reg, X, repeats):
    import torch

    torch.set_num_threads(1)
    H, F = reg.n_hidden, X.shape[2]
    rnn = torch.nn.RNN(F, H, nonlinearity="tanh", batch_first=True).double()
    head = torch.nn.Linear(H, 1).double()
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(reg.input_weights_.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(reg.recurrent_weights_.T))
        rnn.bias_ih_l0.copy_(torch.from_numpy(reg.hidden_bias_))
        rnn.bias_hh_l0.zero_()
        head.weight.copy_(torch.from_numpy(reg.output_weights_.T))
        head.bias.copy_(torch.from_numpy(reg.output_bias_))
    Xt = torch.from_numpy(X)
    best = np.inf
    with torch.no_grad():
        for _ in range(repeats):
            h = torch.zeros(1, len(X), H, dtype=torch.float64)
            start = time.perf_counter()
            for t in range(X.shape[1]):
                z, h = rnn(Xt[:, t:t + 1], h)
                out = head(z[:, 0])
            best = min(best, time.perf_counter() - start)
    return best, out[:, 0].numpy()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=100)
    parser.add_argument("--features", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true")
    args = parser.parse_args(argv)
    reg = fitted(args.hidden, args.features)
    rows = []
    print(f"Streaming one step per call, {args.hidden} hidden units, {args.features} "
          f"feature(s), {args.steps} steps, best of {args.repeats}, one thread\n")
    print("| batch | sksgr steps/s | torch steps/s | sksgr / torch |")
    print("|---|---|---|---|")
    with threadpool_limits(1):
        for batch in args.batches:
            X = np.random.default_rng(batch).normal(size=(batch, args.steps, args.features))
            t_sk, out_sk = time_sksgr(reg, X, args.repeats)
            row = {"batch": batch, "sksgr": args.steps / t_sk}
            if not args.no_torch:
                t_th, out_th = time_torch(reg, X, args.repeats)
                np.testing.assert_allclose(out_sk, out_th, rtol=1e-8, atol=1e-10)
                row["torch"] = args.steps / t_th
            rows.append(row)
            torch_rate = f"{row['torch']:,.0f}" if "torch" in row else "-"
            ratio = f"{row['sksgr'] / row['torch']:.2f}" if "torch" in row else "-"
            print(f"| {batch} | {row['sksgr']:,.0f} | {torch_rate} | {ratio} |")
    return rows


if __name__ == "__main__":
    main()
