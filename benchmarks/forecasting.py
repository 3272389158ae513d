"""One-step-ahead forecasting of real series: SRNs against naive and ridge baselines.

The series are the ones sktime ships inside its package (no download):

- **airline**: monthly international airline passengers 1949-1960 (144
  values), trend and yearly seasonality. Modelled as the first difference of
  its logarithm, ``d_t = log y_t - log y_{t-1}``; a forecast ``d^_{t+1}``
  becomes ``y^_{t+1} = y_t * exp(d^_{t+1})``.
- **lynx**: yearly Canadian lynx trappings 1821-1934 (114 values), a cycle of
  about 10 years. Modelled as ``log y_t`` (no differencing); forecasts are
  exponentiated back.

Evaluation is rolling-origin: ``TimeSeriesSplit(n_splits=--splits,
test_size=...)`` (12 months for airline, 10 years for lynx). In each fold
every model and the standardisation of its input are fitted on the training
part only; then every step of the test part is forecast one step ahead from
the true observations before it (the forecast of ``y_{t+1}`` uses
``y_0 .. y_t`` only). Scores are on the original scale: RMSE, and MASE
scaled by the in-sample MAE of the one-step naive forecast on the fold's
training part (``m = 1`` for both series), averaged over the folds.

Methods (``L`` lags: 13 for airline, one year and one month of the
differenced log series; 11 for lynx, the order of Tong's classic AR(11)):

- **naive**: the last value, ``y^_{t+1} = y_t``;
- **seasonal naive** (airline only): the value a year before, ``y_{t-11}``;
- **ridge**: ``RidgeCV(alphas=np.logspace(-3, 3, 13))`` on the last ``L``
  values of the modelled series (inputs standardised);
- **srn-window**: ``SRNRegressor()`` with the library's defaults,
  many-to-one, on the same windows of ``L`` standardised values as one
  sequence each (``(n, L, 1)``), target the next standardised value;
- **srn-window-cv**: the same with ``n_hidden`` chosen from 10, 30 and 100
  (the default) by an inner ``TimeSeriesSplit(3)`` on the training part's
  windows (``GridSearchCV``, mean squared error), then refitted on all of
  them: the one setting tuned, and only on the training part (the defaults
  fit the ~90 training windows to a training R^2 of 0.9998);
- **srn-stream**: ``SRNRegressor(return_sequences=True)`` with the defaults
  otherwise, sequence-to-sequence: trained on all sub-sequences of length
  ``2 L`` of the training part (input the standardised value at ``t``,
  target the one at ``t + 1``), then run with ``start_stream`` /
  ``predict_stream`` over the whole series, the hidden state warmed on the
  training part and carried through the test part;
- **srnfeatures**: an *untrained* SRN as a fixed random feature map,
  ``make_pipeline(SRNFeatures(), StandardScaler(), RidgeCV(alphas=...))``
  (200 units, the default echo-state reservoir) on the same windows, the
  reservoir's seed varying with the run's seed.

No setting was tuned on the test folds: the SRNs use the defaults (but for
srn-window-cv's inner choice), the lags and the window length are the fixed
choices above. The SRNs are fitted with
``--seeds`` seeds (``random_state``); their rows give the mean +- sd over
seeds of the fold-averaged scores. A Markdown table is printed and written
with a CSV of every (series, method, seed, fold) to ``--out``.

The default command::

    python benchmarks/forecasting.py

(see ``docs/forecasting.md`` for its measured wall time and results).
"""

import argparse
import csv
import os
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sksgr import SRNFeatures, SRNRegressor

# series: (loader name, log, difference, lags L, test size per fold, seasonal period or None)
SERIES = {
    "airline": dict(loader="load_airline", log=True, diff=True, lags=13, test_size=12, season=12),
    "lynx": dict(loader="load_lynx", log=True, diff=False, lags=11, test_size=10, season=None),
    "shampoo": dict(loader="load_shampoo_sales", log=True, diff=True, lags=3, test_size=3,
                    season=None),
}
METHODS = ["naive", "seasonal-naive", "ridge", "srn-window", "srn-window-cv", "srn-stream",
           "srnfeatures"]
SEEDED = {"srn-window", "srn-window-cv", "srn-stream", "srnfeatures"}
N_HIDDEN_GRID = [10, 30, 100]  # srn-window-cv's choices, picked on the training part only
ALPHAS = np.logspace(-3, 3, 13)


def load_series(name):
    """The bundled series ``name`` as a float array (no network access)."""
    import sktime.datasets

    return getattr(sktime.datasets, SERIES[name]["loader"])().to_numpy(dtype=float)


class Transform:
    """The modelled series ``w`` of ``y`` (log, then optionally differenced) and back.

    ``w[t]`` is defined from observations up to ``t`` only; ``w`` is NaN where
    it is not defined (``t = 0`` with differencing).
    """

    def __init__(self, log=True, diff=False):
        self.log, self.diff = log, diff

    def forward(self, y):
        z = np.log(y) if self.log else np.asarray(y, dtype=float)
        if not self.diff:
            return z
        return np.concatenate([[np.nan], np.diff(z)])

    def inverse_next(self, y_prev, w_next):
        """The forecast of ``y_{t+1}`` from ``y_t`` and a forecast of ``w_{t+1}``."""
        if self.diff:
            z = (np.log(y_prev) if self.log else y_prev) + w_next
        else:
            z = w_next
        return np.exp(z) if self.log else z


def lag_windows(w, lags, targets):
    """Windows ``w[t-lags+1 .. t]`` (rows, oldest first) for each ``t + 1`` in ``targets``."""
    return np.stack([w[t - lags:t] for t in targets])


def forecast(method, y, train, test, cfg, seed=0, srn_params=None):
    """One-step-ahead forecasts of ``y[test]`` by ``method`` fitted on ``y[train]``.

    ``train`` and ``test`` are consecutive index ranges; the forecast of
    ``y[t]`` reads ``y[:t]`` only. ``srn_params`` overrides the SRNs' defaults
    (the tests use it for small, fast networks; the benchmark does not).
    """
    srn_params = {} if srn_params is None else srn_params
    train, test = np.asarray(train), np.asarray(test)
    if method == "naive":
        return y[test - 1]
    if method == "seasonal-naive":
        return y[test - cfg["season"]]
    tf = Transform(cfg["log"], cfg["diff"])
    n_known = test[-1]  # y[:n_known] is all the forecasts may read
    w = tf.forward(y[:n_known])
    first = 1 if cfg["diff"] else 0  # first defined value of w
    w_train = w[first:train[-1] + 1]
    mu, sd = w_train.mean(), w_train.std()
    s = (w - mu) / sd
    L = cfg["lags"]
    if method in ("ridge", "srn-window", "srn-window-cv", "srnfeatures"):
        fit_t = np.arange(first + L, train[-1] + 1)  # targets inside the training part
        X_fit, y_fit = lag_windows(s, L, fit_t), s[fit_t]
        X_test = lag_windows(s, L, test)
        if method == "ridge":
            model = RidgeCV(alphas=ALPHAS).fit(X_fit, y_fit)
        elif method == "srnfeatures":
            model = make_pipeline(SRNFeatures(random_state=seed), StandardScaler(),
                                  RidgeCV(alphas=ALPHAS)).fit(X_fit[:, :, None], y_fit)
            X_test = X_test[:, :, None]
        else:
            model = SRNRegressor(random_state=seed, **srn_params)
            if method == "srn-window-cv":
                model = GridSearchCV(model, {"n_hidden": N_HIDDEN_GRID}, cv=TimeSeriesSplit(3),
                                     scoring="neg_mean_squared_error")
            model.fit(X_fit[:, :, None], y_fit)
            X_test = X_test[:, :, None]
        s_hat = model.predict(X_test)
    elif method == "srn-stream":
        T = 2 * L
        s_tr = s[first:train[-1] + 1]
        starts = range(len(s_tr) - T)
        X_fit = np.stack([s_tr[i:i + T] for i in starts])[:, :, None]
        Y_fit = np.stack([s_tr[i + 1:i + T + 1] for i in starts])
        model = SRNRegressor(return_sequences=True, random_state=seed,
                             **srn_params).fit(X_fit, Y_fit)
        state = model.start_stream(1)
        # inputs s[first .. test[-1] - 1]: the output at input t forecasts s[t + 1]
        out, _ = model.predict_stream(s[first:n_known][None, :, None], state)
        out = np.asarray(out).reshape(-1)
        s_hat = out[test - 1 - first]
    else:
        raise ValueError(f"unknown method {method!r}")
    return tf.inverse_next(y[test - 1], s_hat * sd + mu)


def scores(y, y_hat, train):
    """RMSE and MASE (scaled by the training part's in-sample one-step naive MAE)."""
    err = np.asarray(y_hat) - np.asarray(y)
    scale = np.mean(np.abs(np.diff(train)))
    return float(np.sqrt(np.mean(err ** 2))), float(np.mean(np.abs(err)) / scale)


def folds(n, n_splits, test_size):
    """The rolling-origin (train, test) index pairs."""
    return list(TimeSeriesSplit(n_splits=n_splits, test_size=test_size).split(np.arange(n)))


def run(series, methods, n_splits, n_seeds, y=None):
    """Every (series, method, seed, fold) row."""
    rows = []
    for name in series:
        cfg = SERIES[name]
        values = load_series(name) if y is None else y
        for method in methods:
            if method == "seasonal-naive" and cfg["season"] is None:
                continue
            for seed in range(n_seeds if method in SEEDED else 1):
                for k, (train, test) in enumerate(folds(len(values), n_splits, cfg["test_size"])):
                    t0 = time.perf_counter()
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        y_hat = forecast(method, values, train, test, cfg, seed)
                    fit_time = time.perf_counter() - t0
                    rmse, mase = scores(values[test], y_hat, values[train])
                    rows.append(dict(series=name, method=method, seed=seed, fold=k,
                                     n_train=len(train), n_test=len(test), rmse=rmse,
                                     mase=mase, seconds=fit_time))
    return rows


def summarize(rows):
    """Markdown table: per series and method, fold-mean RMSE and MASE (+- sd over seeds)."""
    lines = ["| series | method | RMSE | MASE | s / fold |", "|---|---|---|---|---|"]
    keys = list(dict.fromkeys((r["series"], r["method"]) for r in rows))
    for series, method in keys:
        sel = [r for r in rows if r["series"] == series and r["method"] == method]
        seeds = sorted({r["seed"] for r in sel})
        per_seed = {m: np.array([np.mean([r[m] for r in sel if r["seed"] == s]) for s in seeds])
                    for m in ("rmse", "mase")}
        secs = np.mean([r["seconds"] for r in sel])

        def cell(v, fmt):
            return format(v.mean(), fmt) + (f" ± {v.std(ddof=1):{fmt}}" if len(v) > 1 else "")

        lines.append(f"| {series} | {method} | {cell(per_seed['rmse'], '.2f')} | "
                     f"{cell(per_seed['mase'], '.3f')} | {secs:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", nargs="+", default=["airline", "lynx"], choices=list(SERIES))
    parser.add_argument("--methods", nargs="+", default=METHODS, choices=METHODS)
    parser.add_argument("--splits", type=int, default=4, help="rolling-origin folds")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the SRN fits")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                      "forecasting"))
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    rows = run(args.series, args.methods, args.splits, args.seeds)
    wall = time.perf_counter() - t0
    table = summarize(rows)
    note = (f"{args.splits} rolling-origin folds, SRN {args.seeds} seeds (mean ± sd over seeds); "
            f"wall time {wall:.0f} s")
    print(table)
    print(note)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "forecasting.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with open(os.path.join(args.out, "forecasting.md"), "w") as f:
        f.write(table + "\n\n" + note + "\n")
    return rows


if __name__ == "__main__":
    main()
