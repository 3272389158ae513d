"""Real sequence data: sksgr in a pipeline against PyTorch's nn.RNN and 1-NN DTW.

The panel is the UCR/UEA data sets that sktime ships inside its package (no
download): ItalyPowerDemand, GunPoint (univariate), JapaneseVowels (12
features, unequal lengths 7..29: passed as a list of sequences),
BasicMotions (6 features) and the Tecator regression set, each with its
official train/test split. sktime's channels-first ``(n, channels, T)`` is
transposed to sksgr's batch-first ``(n, T, features)``.

Rows, per data set:

- **sksgr**: ``make_pipeline(SequenceScaler(), SRNClassifier())`` (or
  ``SRNRegressor()``) with the library defaults, or with the settings given
  by ``--params KEY=VALUE ...`` (values are Python literals, e.g.
  ``--params init='xavier_uniform' learning_rate=0.01 tol=None``);
- **SRNFeatures**: an *untrained* SRN as a fixed random feature map (an
  echo-state network's reservoir) with a closed-form readout,
  ``make_pipeline(SequenceScaler(), SRNFeatures(), StandardScaler(),
  RidgeClassifierCV(alphas=np.logspace(-3, 3, 13)))`` (``RidgeCV`` for
  regression), the reservoir seed varying with the run's seed;
- **torch**: a PyTorch ``nn.RNN`` in the same run (tanh, 100 hidden units,
  the paper's size and the regressor's default, where the classifier's has
  200; last-step readout through a linear layer, Adam at lr 1e-3,
  minibatch 16, ``--epochs`` epochs, no early stopping, inputs standardised
  by the same ``SequenceScaler`` fitted on the training split, CPU, one
  thread); unequal lengths are packed so that the readout is each
  sequence's own last step, as in sksgr;
- **reference**: the published 1-NN DTW test accuracy (see ``DTW`` below for
  the variant and source of each number); for Tecator the RMSE of the mean
  predictor (training mean), computed in the run.

Scores are on the official test split: accuracy for classification, RMSE for
Tecator; mean +- sd over ``--seeds`` seeds, with the mean fit time (seconds)
and, for sksgr, the mean number of epochs run. A Markdown table is printed
and written with a CSV of every fit to ``--out``.

``--cv K`` instead scores by K-fold cross-validation (stratified for
classification; R^2 for regression) on the training split only, never
touching the test split: the mode used to compare settings. With it,
``--datasets`` may also name ``Adding10``, the adding problem at T = 10
(``make_adding(2000, 10)``). ``--torch-lr`` and ``--torch-readout mean``
(the mean of the hidden states over each sequence's real steps instead of
the last one) vary the baseline, e.g. to see what Adam at another rate or a
pooled readout would do before sksgr has them; ``--no-sksgr`` runs the
baseline alone. ``--scale-target`` lets sksgr fit a standardised target
(regression).

Needs the ``realdata`` extra (``pip install -e ".[realdata]"``: sktime and
torch, pinned; without torch use ``--no-torch``). The default command::

    python benchmarks/realdata.py        # 5 seeds, torch 200 epochs

took 4.7 minutes on the project's 2-core machine while other jobs shared it
(3.6 CPU-minutes; about three quarters of it in the torch baseline).
"""

import argparse
import ast
import os
import time
import warnings
from functools import partial

import numpy as np
from joblib import Parallel, delayed
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeClassifierCV, RidgeCV
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksgr import SequenceScaler, SRNClassifier, SRNFeatures, SRNRegressor

PANEL = ["ItalyPowerDemand", "GunPoint", "JapaneseVowels", "BasicMotions", "Tecator"]
EXTRA = ["Adding10"]  # --cv only: no official test split
REGRESSION = {"Tecator", "Adding10"}

# Published 1-NN DTW test accuracies on the same splits.
# Univariate sets: full-window DTW ("DTW (w=100)"), 1 - error rate from the
# UCR archive's DataSummary table, 2018 release (Dau et al., "The UCR Time
# Series Classification Archive", 2018).
# Multivariate sets: DTW_D (dependent) and DTW_I (independent) from the
# benchmark table of Bagnall et al., "The UEA multivariate time series
# classification archive, 2018", arXiv:1811.00075.
DTW = {
    "ItalyPowerDemand": ("0.950", "1-NN DTW, full window (UCR archive 2018, DataSummary)"),
    "GunPoint": ("0.907", "1-NN DTW, full window (UCR archive 2018, DataSummary)"),
    "JapaneseVowels": ("0.949 / 0.959",
                       "1-NN DTW_D / DTW_I (Bagnall et al. 2018, arXiv:1811.00075)"),
    "BasicMotions": ("0.975 / 1.000",
                     "1-NN DTW_D / DTW_I (Bagnall et al. 2018, arXiv:1811.00075)"),
}

HIDDEN = 100


def load(name, split):
    """(X, y) of one split, batch-first: an (n, T, F) array or a list of (T_i, F)."""
    if name == "Adding10":
        from sksgr.datasets import make_adding

        if split != "train":
            raise ValueError("Adding10 has no test split; use it with --cv.")
        return make_adding(2000, 10, random_state=0)
    from sktime import datasets

    if name == "JapaneseVowels":
        X, y = datasets.load_japanese_vowels(split=split, return_X_y=True, return_type="df-list")
        return [np.ascontiguousarray(df.to_numpy(dtype=np.float64)) for df in X], np.asarray(y)
    loader = {
        "ItalyPowerDemand": datasets.load_italy_power_demand,
        "GunPoint": datasets.load_gunpoint,
        "BasicMotions": datasets.load_basic_motions,
        "Tecator": datasets.load_tecator,
    }[name]
    X, y = loader(split=split, return_X_y=True, return_type="numpy3D")
    X = np.ascontiguousarray(np.transpose(X, (0, 2, 1)), dtype=np.float64)
    y = np.asarray(y, dtype=np.float64) if name in REGRESSION else np.asarray(y)
    return X, y


def _take(X, idx):
    return [X[i] for i in idx] if isinstance(X, list) else X[idx]


def _score(task_regression, y_true, y_pred, r2=False):
    """Accuracy, or RMSE (R^2 with ``r2``) for regression."""
    if task_regression:
        y_true = np.asarray(y_true, dtype=np.float64)
        mse = np.mean((y_true - y_pred) ** 2)
        return float(1 - mse / np.var(y_true)) if r2 else float(np.sqrt(mse))
    return float(np.mean(np.asarray(y_true) == y_pred))


def sksgr_model(regression, seed, params, scale_target=False):
    Estimator = SRNRegressor if regression else SRNClassifier
    model = make_pipeline(SequenceScaler(), Estimator(random_state=seed, **params))
    if regression and scale_target:
        model = TransformedTargetRegressor(model, transformer=StandardScaler())
    return model


def _n_iter(model):
    fitted = model.regressor_ if isinstance(model, TransformedTargetRegressor) else model
    return fitted[-1].n_iter_


def fit_sksgr(Xtr, ytr, Xte, yte, regression, seed, params, r2=False, scale_target=False):
    model = sksgr_model(regression, seed, params, scale_target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        model.fit(Xtr, ytr)
        fit_time = time.perf_counter() - t0
    score = _score(regression, yte, model.predict(Xte), r2)
    return score, fit_time, _n_iter(model)


def fit_features(Xtr, ytr, Xte, yte, regression, seed, r2=False):
    """The untrained reservoir and a ridge readout: SRNFeatures -> StandardScaler -> RidgeCV."""
    alphas = np.logspace(-3, 3, 13)
    head = RidgeCV(alphas=alphas) if regression else RidgeClassifierCV(alphas=alphas)
    model = make_pipeline(SequenceScaler(), SRNFeatures(random_state=seed), StandardScaler(),
                          head)
    t0 = time.perf_counter()
    model.fit(Xtr, ytr)
    fit_time = time.perf_counter() - t0
    return _score(regression, yte, model.predict(Xte), r2), fit_time, 0


def _padded(X):
    """Zero-filled (n, T, F) float32 array and lengths of scaled input (NaN padding)."""
    if isinstance(X, list):
        T = max(len(s) for s in X)
        out = np.zeros((len(X), T, X[0].shape[1]), dtype=np.float32)
        lengths = np.array([len(s) for s in X])
        for i, s in enumerate(X):
            out[i, : len(s)] = s
        return out, lengths
    nan = np.isnan(X).all(axis=2)
    lengths = X.shape[1] - nan.sum(axis=1)
    return np.nan_to_num(X, nan=0.0).astype(np.float32), lengths


def fit_torch(Xtr, ytr, Xte, yte, regression, seed, epochs, lr=1e-3, batch_size=16,
              readout="last", r2=False):
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    scaler = SequenceScaler().fit(Xtr)
    xtr, ltr = _padded(scaler.transform(Xtr))
    xte, lte = _padded(scaler.transform(Xte))
    ragged = bool((ltr != xtr.shape[1]).any() or (lte != xte.shape[1]).any())
    if regression:
        target = torch.tensor(np.asarray(ytr, dtype=np.float32).reshape(len(ytr), -1))
        n_out, loss_fn = target.shape[1], nn.MSELoss()
    else:
        classes, codes = np.unique(ytr, return_inverse=True)
        target = torch.tensor(codes, dtype=torch.long)
        n_out, loss_fn = len(classes), nn.CrossEntropyLoss()

    rnn = nn.RNN(xtr.shape[2], HIDDEN, nonlinearity="tanh", batch_first=True)
    head = nn.Linear(HIDDEN, n_out)
    optimizer = torch.optim.Adam(list(rnn.parameters()) + list(head.parameters()), lr=lr)

    def forward(x, lengths):
        lengths_t = torch.as_tensor(lengths)
        if ragged:
            x = pack_padded_sequence(x, lengths_t, batch_first=True, enforce_sorted=False)
        states, h = rnn(x)  # h: (1, batch, hidden), the state at each sequence's last step
        if readout == "last":
            return head(h[-1])
        # "mean": the mean of the hidden states over each sequence's real steps
        if ragged:
            states, _ = pad_packed_sequence(states, batch_first=True)  # zeros after the end
        return head(states.sum(dim=1) / lengths_t[:, None].to(states.dtype))

    xtr_t = torch.tensor(xtr)
    generator = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(xtr_t), generator=generator)
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(forward(xtr_t[idx], ltr[idx.numpy()]), target[idx])
            loss.backward()
            optimizer.step()
    fit_time = time.perf_counter() - t0
    with torch.no_grad():
        out = forward(torch.tensor(xte), lte).numpy()
    pred = out.ravel() if regression else classes[np.argmax(out, axis=1)]
    return _score(regression, yte, pred, r2), fit_time, epochs


def cross_validate(fit, X, y, regression, seed, n_splits):
    """Mean K-fold score (R^2 or accuracy) of ``fit`` on the training split only.

    Returns the mean score, the total fit time and the mean number of epochs.
    """
    splitter = (KFold(n_splits, shuffle=True, random_state=seed) if regression
                else StratifiedKFold(n_splits, shuffle=True, random_state=seed))
    results = [fit(_take(X, train), y[train], _take(X, test), y[test], regression, seed, r2=True)
               for train, test in splitter.split(np.zeros(len(y)), y)]
    scores, times, epochs = zip(*results)
    return float(np.mean(scores)), float(np.sum(times)), float(np.mean(epochs))


def _parse_params(items):
    params = {}
    for item in items or []:
        key, _, value = item.partition("=")
        try:
            params[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            params[key] = value
    return params


def _ms(values, digits=3):
    values = np.asarray(values, dtype=float)
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1) if len(values) > 1 else 0.0:.{digits}f}"


def _methods(args, params):
    """[(name, fit function)] of the run, in table order."""
    methods = [] if args.no_sksgr else [
        ("sksgr", partial(fit_sksgr, params=params, scale_target=args.scale_target))]
    if not args.no_features:
        methods.append(("SRNFeatures", fit_features))
    if not args.no_torch:
        methods.append(("torch nn.RNN", partial(fit_torch, epochs=args.epochs, lr=args.torch_lr,
                                                readout=args.torch_readout)))
    return methods


def run_panel(args, params):
    methods = _methods(args, params)
    data = {name: (load(name, "train"), load(name, "test")) for name in args.datasets}
    tasks = []
    for name in args.datasets:
        (Xtr, ytr), (Xte, yte) = data[name]
        regression = name in REGRESSION
        for seed in range(args.seeds):
            for method, fit in methods:
                tasks.append((name, method, seed,
                              delayed(fit)(Xtr, ytr, Xte, yte, regression, seed)))
    results = Parallel(n_jobs=args.n_jobs)(t[3] for t in tasks)
    rows = [dict(dataset=n, method=m, seed=s, score=r[0], fit_time=r[1], epochs=r[2])
            for (n, m, s, _), r in zip(tasks, results)]

    header = ["data set", "metric"]
    for method, _ in methods:
        header += [method, "fit s"] + (["epochs run"] if method == "sksgr" else [])
    header += ["reference"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in args.datasets:
        regression = name in REGRESSION
        (_, ytr), (_, yte) = data[name]

        def pick(method, key, rows=rows, name=name):
            return [r[key] for r in rows if r["dataset"] == name and r["method"] == method]

        if regression:
            baseline = np.sqrt(np.mean((yte - ytr.mean()) ** 2))
            reference = f"{baseline:.3f} (mean predictor)"
        else:
            value, source = DTW[name]
            reference = f"{value} ({source})"
        cells = [name, "RMSE" if regression else "accuracy"]
        for method, _ in methods:
            cells += [_ms(pick(method, "score")), f"{np.mean(pick(method, 'fit_time')):.1f}"]
            if method == "sksgr":
                cells.append(f"{np.mean(pick(method, 'epochs')):.0f}")
        cells.append(reference)
        lines.append("| " + " | ".join(cells) + " |")
    times = {m: sum(r["fit_time"] for r in rows if r["method"] == m) for m, _ in methods}
    if "sksgr" in times and "torch nn.RNN" in times and times["sksgr"] > 0:
        lines += ["", f"Fit time, all data sets and seeds: sksgr {times['sksgr']:.0f} s, "
                  f"torch {times['torch nn.RNN']:.0f} s (torch / sksgr = "
                  f"{times['torch nn.RNN'] / times['sksgr']:.2f}, same run)."]
    return rows, lines


def run_cv(args, params):
    methods = _methods(args, params)
    rows = []
    for name in args.datasets:
        X, y = load(name, "train")
        regression = name in REGRESSION
        for method, fit in methods:
            results = Parallel(n_jobs=args.n_jobs)(
                delayed(cross_validate)(fit, X, y, regression, seed, args.cv)
                for seed in range(args.seeds)
            )
            rows += [dict(dataset=name, method=method + "-cv", seed=s, score=r[0],
                          fit_time=r[1], epochs=r[2]) for s, r in enumerate(results)]
    header = ["data set"]
    for method, _ in methods:
        header += [f"{method}: {args.cv}-fold CV on train (R^2 / accuracy)", "fit s (all folds)",
                   "epochs run"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name in args.datasets:
        cells = [name]
        for method, _ in methods:
            mine = [r for r in rows if r["dataset"] == name and r["method"] == method + "-cv"]
            cells += [_ms([r["score"] for r in mine]),
                      f"{np.mean([r['fit_time'] for r in mine]):.1f}",
                      f"{np.mean([r['epochs'] for r in mine]):.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return rows, lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=PANEL, choices=PANEL + EXTRA)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=200, help="torch baseline's epochs")
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    parser.add_argument("--no-sksgr", action="store_true", help="skip the trained sksgr model")
    parser.add_argument("--no-features", action="store_true",
                        help="skip the SRNFeatures -> ridge pipeline")
    parser.add_argument("--torch-lr", type=float, default=1e-3, help="torch baseline's Adam lr")
    parser.add_argument("--torch-readout", choices=["last", "mean"], default="last",
                        help="torch baseline's readout: the last step's state or the mean "
                             "of the states over the real steps")
    parser.add_argument("--n-jobs", type=int, default=1, help="fits run at once (joblib)")
    parser.add_argument("--params", nargs="*", metavar="KEY=VALUE",
                        help="sksgr estimator parameters, values as Python literals")
    parser.add_argument("--cv", type=int, default=None, metavar="K",
                        help="score sksgr by K-fold CV on the training splits instead")
    parser.add_argument("--scale-target", action="store_true",
                        help="regression: sksgr fits the standardised target "
                             "(TransformedTargetRegressor with StandardScaler)")
    parser.add_argument("--tag", default=None, help="suffix of the output files")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                       "realdata"))
    args = parser.parse_args(argv)
    params = _parse_params(args.params)
    if args.cv is None and set(args.datasets) & set(EXTRA):
        parser.error(f"{sorted(set(args.datasets) & set(EXTRA))} can only be used with --cv")

    t0 = time.perf_counter()
    rows, lines = (run_cv if args.cv else run_panel)(args, params)
    wall = time.perf_counter() - t0

    setting = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
    if args.scale_target:
        setting += "; standardised target"
    mode = f"{args.cv}-fold CV on the training splits" if args.cv else "official test splits"
    torch_setting = (f"; torch {args.epochs} epochs, Adam lr {args.torch_lr:g}, "
                     f"{args.torch_readout} readout")
    title = (("" if args.no_sksgr else f"sksgr ({setting}); ")
             + f"{mode}; seeds 0..{args.seeds - 1}"
             + ("" if args.no_torch else torch_setting)
             + f"; wall time {wall / 60:.1f} min")
    text = "\n".join([title, "", *lines]) + "\n"
    print(text)
    os.makedirs(args.out, exist_ok=True)
    stem = "realdata" + ("_cv" if args.cv else "") + (f"_{args.tag}" if args.tag else "")
    with open(os.path.join(args.out, stem + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, stem + ".csv"), "w") as f:
        f.write("dataset,method,seed,score,fit_time,epochs\n")
        for r in rows:
            f.write(f"{r['dataset']},{r['method']},{r['seed']},{r['score']:.6g},"
                    f"{r['fit_time']:.4g},{r['epochs']}\n")
    return rows


if __name__ == "__main__":
    main()
