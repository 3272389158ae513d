"""Per-step targets and outputs (``return_sequences=True``): from the user's padded or
ragged forms to the real steps, and back.

A sequence-to-sequence estimator has one target per real step. The user
passes them like ``X``: an array ``(n_samples, n_timesteps)`` or
``(n_samples, n_timesteps, n_outputs)`` whose entries past each sequence's
end are padding (NaN by convention; they are never read), or a list of
per-sequence arrays ``(n_timesteps_i,)`` / ``(n_timesteps_i, n_outputs)``.
Inside, the real steps are laid end to end, sequence by sequence
(``real_steps``), so that the estimators' per-sample validation, encoding
and metrics apply to steps unchanged; the kernel gets them back as a
zero-padded ``(n, T, O)`` array and predictions go back NaN-padded
(``padded_steps``).
"""

import numpy as np


def step_mask(lengths, n_timesteps):
    """``(n, T)`` boolean: True at the real steps of each sequence."""
    return np.arange(n_timesteps)[None, :] < np.asarray(lengths)[:, None]


def real_steps(values, lengths):
    """The values ``(n, T, ...)`` of the real steps, end to end: ``(sum(lengths), ...)``."""
    return values[step_mask(lengths, values.shape[1])]


def padded_steps(flat, lengths, n_timesteps, fill=np.nan):
    """Back from ``real_steps``: ``(n, T, ...)`` with ``fill`` past each sequence's end.

    Without padding (every sequence ``n_timesteps`` long) the dtype of ``flat``
    is kept; otherwise it becomes one that holds ``fill`` (float, or object for
    labels that are not numbers).
    """
    lengths = np.asarray(lengths)
    mask = step_mask(lengths, n_timesteps)
    dtype = flat.dtype
    if not mask.all():
        if dtype.kind in "biu":  # integers and booleans: floats hold them and NaN
            dtype = np.result_type(dtype, np.float64)
        elif dtype.kind != "f":
            dtype = object
    shape = (len(lengths), n_timesteps) + flat.shape[1:]
    out = np.empty(shape, dtype=dtype) if mask.all() else np.full(shape, fill, dtype=dtype)
    out[mask] = flat
    return out


def step_targets(y, lengths, n_timesteps, *, y_name="y", x_name="X"):
    """The targets of every real step, end to end: ``(sum(lengths),)`` or ``(..., n_outputs)``.

    ``y``: a list (or tuple) of per-sequence arrays of exactly ``lengths[i]``
    steps, or an array-like ``(n, T_y)`` / ``(n, T_y, n_outputs)`` with
    ``T_y >= lengths[i]`` whose steps past each end are ignored. A clear
    ValueError names what does not fit.
    """
    lengths = np.asarray(lengths)
    n = len(lengths)
    if y is None:
        raise ValueError(f"{y_name} is required: per-step targets (return_sequences=True).")
    if isinstance(y, (list, tuple)):
        if len(y) != n:
            raise ValueError(f"{x_name} and {y_name} have inconsistent numbers of samples: "
                             f"{n} sequences and {len(y)} target sequences.")
        parts = [np.asarray(yi) for yi in y]
        for i, (part, length) in enumerate(zip(parts, lengths)):
            if part.ndim not in (1, 2) or len(part) != length:
                raise ValueError(
                    f"{y_name}[{i}] must hold one target per step of {x_name}[{i}] "
                    f"({length} steps, shape ({length},) or ({length}, n_outputs)), "
                    f"got shape {part.shape}.")
        if len({part.shape[1:] for part in parts}) > 1:
            raise ValueError(f"the sequences of {y_name} have different numbers of outputs: "
                             f"{sorted({part.shape[1:] for part in parts})}.")
        return np.concatenate(parts, axis=0)
    y = np.asarray(y)
    if y.ndim not in (2, 3):
        raise ValueError(
            f"With return_sequences=True, {y_name} must hold a target per step: shape "
            f"(n_samples, n_timesteps) or (n_samples, n_timesteps, n_outputs), padded past each "
            f"sequence's end like {x_name}, or a list of per-sequence arrays; got shape {y.shape}.")
    if len(y) != n:
        raise ValueError(f"{x_name} and {y_name} have inconsistent numbers of samples: "
                         f"{n} sequences and {len(y)} target sequences.")
    if n and y.shape[1] < lengths.max():
        i = int(np.argmax(lengths > y.shape[1]))
        raise ValueError(f"{y_name} has {y.shape[1]} steps, but {x_name}[{i}] has "
                         f"{lengths[i]}: every real step needs a target.")
    return real_steps(y, lengths)


def take_sequences(y, idx):
    """The targets of the sequences ``idx``: rows of an array, or items of a list."""
    if isinstance(y, (list, tuple)):
        return [y[i] for i in idx]
    return np.asarray(y)[idx]


def repeat_per_step(sample_weight, lengths):
    """Per-sequence weights repeated at each real step (None stays None)."""
    return None if sample_weight is None else np.repeat(sample_weight, lengths)
