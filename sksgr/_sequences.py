"""Parsing and validation of sequence input.

Accepted forms of ``X`` (batch first, like tslearn and PyTorch's
``batch_first=True``; sktime and aeon put channels first and must be
transposed):

- a 3-D array ``(n_samples, n_timesteps, n_features)``; shorter sequences are
  padded with NaN at the end (tslearn's convention);
- a 2-D array ``(n_samples, n_timesteps)``: univariate sequences, validated
  with scikit-learn's ``validate_data`` so that feature names and the
  ``n_features_in_`` contract of tabular estimators hold (``n_features_in_``
  is then the number of columns, i.e. the sequence length);
- a list of sequences of different lengths, each ``(n_timesteps_i,
  n_features)`` or ``(n_timesteps_i,)``. A list whose items all have the same
  shape is the same as the array it converts to.

NaN marks padding only: a step is padding when all its features are NaN, and
padding must come after the last real step. Anything else with NaN, and any
infinity, is an error.
"""

import numpy as np
from sklearn.utils.validation import check_array, validate_data

FLOAT_DTYPES = (np.float64, np.float32)

# How the estimator was fitted: on a 2-D table of univariate sequences, whose
# width predict must match, or on 3-D / list input with any length.
TABULAR = "tabular"
SEQUENCES = "sequences"


def _ragged_to_padded(X):
    """Stack a list of sequences of different lengths into a NaN-padded 3-D array."""
    seqs = []
    for i, s in enumerate(X):
        a = np.asarray(s)
        if a.dtype.kind == "c":
            raise ValueError(f"Complex data not supported (sequence {i} of X is complex).")
        if a.dtype.kind not in "biuf":
            try:
                a = a.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"Sequence {i} of X is not numeric: {exc}") from None
        if a.ndim == 1:
            a = a[:, None]
        if a.ndim != 2:
            raise ValueError(
                f"Sequence {i} of X has ndim={a.ndim}; each sequence must be "
                "(n_timesteps,) or (n_timesteps, n_features)."
            )
        seqs.append(a)
    widths = {a.shape[1] for a in seqs}
    if len(widths) > 1:
        raise ValueError(
            f"The sequences of X have different numbers of features per step: {sorted(widths)}."
        )
    dtype = np.result_type(*seqs) if seqs else np.float64
    dtype = dtype if dtype in FLOAT_DTYPES else np.float64
    T = max((a.shape[0] for a in seqs), default=0)
    out = np.full((len(seqs), T, widths.pop() if widths else 0), np.nan, dtype=dtype)
    for i, a in enumerate(seqs):
        out[i, : a.shape[0]] = a
    return out


def _padding_to_lengths(X):
    """Validate NaN padding of a 3-D array; return zero-filled data and lengths."""
    n, T, F = X.shape
    if n == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required.")
    if T == 0 or F == 0:
        raise ValueError(
            f"Found array with 0 timesteps or 0 features (shape={X.shape}) while a minimum of 1 is required."
        )
    if np.isinf(X).any():
        i, t, _ = np.argwhere(np.isinf(X))[0]
        raise ValueError(f"Input X contains infinity (sample {i}, step {t}); inf is not allowed.")
    nan = np.isnan(X)
    if not nan.any():
        return np.ascontiguousarray(X), np.full(n, T, dtype=np.int32)
    step_nan = nan.all(axis=2)
    partial = nan.any(axis=2) & ~step_nan
    if partial.any():
        i, t = np.argwhere(partial)[0]
        raise ValueError(
            f"Input X contains NaN in some but not all features of sample {i} at step {t}: "
            "NaN is only allowed as padding, where a whole step is NaN."
        )
    lengths = T - np.argmin(step_nan[:, ::-1], axis=1)
    lengths[step_nan.all(axis=1)] = 0
    empty = np.flatnonzero(lengths == 0)
    if empty.size:
        raise ValueError(f"Input X contains an empty sequence (sample {empty[0]} is all NaN).")
    inside = step_nan & (np.arange(T)[None, :] < lengths[:, None])
    if inside.any():
        i, t = np.argwhere(inside)[0]
        raise ValueError(
            f"Input X contains NaN inside sample {i} at step {t}, before its last real step: "
            "NaN is only allowed as trailing padding."
        )
    return np.where(nan, 0, X).astype(X.dtype, copy=False), lengths.astype(np.int32)


def as_array_or_ragged(X):
    """A list of sequences as one array, or ``(None, True)`` if their shapes differ."""
    try:
        arr = np.asarray(X)
    except ValueError:  # inhomogeneous shapes
        return None, True
    if arr.dtype == object and arr.ndim == 1:
        return None, True
    return arr, False


def check_sequences(estimator, X, *, reset):
    """Validate ``X`` for ``estimator``; return ``(X_padded, lengths)``.

    ``X_padded`` is a C-contiguous float32/float64 array ``(n_samples,
    n_timesteps, n_features)`` with zeros after each sequence's end,
    ``lengths`` an int32 array. With ``reset=True`` the input form,
    ``n_features_in_`` (and feature names, for 2-D input) are recorded on the
    estimator; otherwise they are checked against it.
    """
    if isinstance(X, (list, tuple)):
        arr, ragged = as_array_or_ragged(X)
        X = _ragged_to_padded(X) if ragged else arr
    ndim = getattr(X, "ndim", None)
    if ndim is None or ndim <= 2 or not hasattr(X, "shape"):
        fitted_on_sequences = not reset and getattr(estimator, "_input_form", None) == SEQUENCES
        if fitted_on_sequences:
            X = check_array(X, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan")
            if estimator.n_features_in_ != 1:
                raise ValueError(
                    f"X is 2-D (univariate sequences), but {type(estimator).__name__} was fitted "
                    f"on sequences with {estimator.n_features_in_} features per step; pass a 3-D "
                    "array (n_samples, n_timesteps, n_features) or a list of sequences."
                )
        else:
            X = validate_data(
                estimator, X, reset=reset, dtype=FLOAT_DTYPES, ensure_all_finite="allow-nan"
            )
            if reset:
                estimator._input_form = TABULAR
        X = X[:, :, None]
    elif ndim == 3:
        X = np.asarray(X)
        if X.dtype.kind == "c":
            raise ValueError("Complex data not supported.")
        if X.dtype not in FLOAT_DTYPES:
            X = X.astype(np.float64)
        n_features = X.shape[2]
        if reset:
            estimator._input_form = SEQUENCES
            estimator.n_features_in_ = n_features
            if hasattr(estimator, "feature_names_in_"):
                del estimator.feature_names_in_
        elif n_features != estimator.n_features_in_ and not (
            estimator._input_form == TABULAR and n_features == 1
        ):
            expected = 1 if estimator._input_form == TABULAR else estimator.n_features_in_
            raise ValueError(
                f"X has {n_features} features per step, but {type(estimator).__name__} "
                f"is expecting {expected} features per step as input."
            )
    else:
        raise ValueError(
            f"Expected a 2-D (n_samples, n_timesteps) or 3-D (n_samples, n_timesteps, "
            f"n_features) array or a list of sequences, got an array with ndim={ndim}."
        )
    return _padding_to_lengths(X)

