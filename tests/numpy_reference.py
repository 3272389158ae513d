"""Pure-NumPy reference of the SRN forward pass and BPTT.

Readable, slow and independent of the Cython kernels: the tests check the
kernels against it, and ``benchmarks/bench_update.py`` times it as the NumPy
baseline. It follows the same conventions as the kernels:

- ``X`` is ``(n_samples, n_timesteps, n_features)``, zero-filled after each
  sequence's own ``lengths[i]`` steps; the output is read from the readout
  features: by default the state at step ``lengths[i] - 1``; ``readout``
  names up to three pools, concatenated: ``"last"``, ``"mean"`` and
  ``"max"`` over the sequence's own steps (the max's gradient flows to the
  first arg-max step of each unit);
- ``a(t) = u(t) @ W_in + z(t-1) @ W_rec + b``, ``z(t) = tanh(a(t))``,
  ``z(-1) = 0`` (paper eq. 1);
- the loss is the mean over the minibatch of the per-sequence loss:
  softmax cross-entropy (``head="softmax"``, ``Y`` one-hot) or
  ``0.5 * ||y - y_hat||^2`` (``head="identity"``); with ``sample_weight``
  the weighted mean ``sum_b w_b l_b / sum_b w_b``;
- ``bptt_depth=h`` lets the error reach only the last ``h`` steps of each
  sequence (``None``: all of them);
- per-step outputs (``step_loss_and_gradients``): an output
  ``z(t) @ W_out + b_out`` at every real step, targets ``Y`` of shape
  ``(n, T, O)``, the loss the mean over all real steps (with
  ``sample_weight``, each step of sequence b weighted by ``w_b``).

Examples
--------
>>> import numpy as np
>>> from numpy_reference import init_params, loss_and_gradients
>>> rng = np.random.default_rng(0)
>>> params = init_params(n_features=2, n_hidden=4, n_outputs=1, rng=rng)
>>> X = rng.normal(size=(3, 5, 2)); Y = rng.normal(size=(3, 1))
>>> loss, grads = loss_and_gradients(params, X, np.array([5, 3, 4]), Y, "identity")
>>> sorted(grads)
['W_in', 'W_out', 'W_rec', 'b', 'b_out']
"""

import numpy as np

from sksgr._init import PARAMETER_NAMES as PARAM_NAMES
from sksgr._init import weight_shapes


def init_params(n_features, n_hidden, n_outputs, rng, scale=0.3, n_pools=1):
    """Random parameters (a dict keyed by ``PARAM_NAMES``) for tests and benchmarks."""
    shapes = weight_shapes(n_features, n_hidden, n_outputs, n_pools)
    return {k: scale * rng.standard_normal(s) for k, s in zip(PARAM_NAMES, shapes)}


def readout_features(Z, lengths, readout=("last",)):
    """The readout features ``(n, R H)`` of the states ``Z`` (``(T + 1, n, H)``)."""
    lengths = np.asarray(lengths)
    feats = []
    for pool in readout:
        if pool == "last":
            feats.append(Z[lengths, np.arange(Z.shape[1])])
        elif pool == "mean":
            feats.append(np.stack([Z[1:n + 1, i].mean(axis=0) for i, n in enumerate(lengths)]))
        elif pool == "max":
            feats.append(np.stack([Z[1:n + 1, i].max(axis=0) for i, n in enumerate(lengths)]))
        else:
            raise ValueError(f"unknown pool {pool!r}")
    return np.concatenate(feats, axis=1)


def forward(params, X, lengths, readout=("last",)):
    """Hidden states ``Z`` of shape ``(T + 1, n, H)`` (``Z[0] = 0``) and outputs.

    Returns ``Z, feats, logits`` where ``feats`` are the readout features
    (``feats[i] = Z[lengths[i], i]`` for the default ``readout=("last",)``).
    """
    n, T, _ = X.shape
    H = params["W_rec"].shape[0]
    Z = np.zeros((T + 1, n, H), dtype=X.dtype)
    for t in range(T):
        Z[t + 1] = np.tanh(X[:, t] @ params["W_in"] + Z[t] @ params["W_rec"] + params["b"])
    feats = readout_features(Z, lengths, readout)
    return Z, feats, feats @ params["W_out"] + params["b_out"]


def readout_injection(Z, lengths, d_feats, readout=("last",)):
    """``dE/dz(t)`` that the readout injects at each step: ``(T, n, H)`` from ``dE/dfeats``."""
    T, n, H = Z.shape[0] - 1, Z.shape[1], Z.shape[2]
    inj = np.zeros((T, n, H), dtype=Z.dtype)
    for p, pool in enumerate(readout):
        d = d_feats[:, p * H:(p + 1) * H]
        for i, L in enumerate(np.asarray(lengths)):
            if pool == "last":
                inj[L - 1, i] += d[i]
            elif pool == "mean":
                inj[:L, i] += d[i] / L
            else:  # the first arg-max step of each unit
                arg = np.argmax(Z[1:L + 1, i], axis=0)
                inj[arg, i, np.arange(H)] += d[i]
    return inj


def output_error(logits, Y, head):
    """Per-sequence loss and dloss/dlogits (not yet divided by the batch size)."""
    if head == "softmax":
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -(Y * log_p).sum(axis=1), np.exp(log_p) - Y
    diff = logits - Y
    return 0.5 * (diff**2).sum(axis=1), diff


def backward_deltas(params, Z, lengths, d_feats, bptt_depth=None, readout=("last",)):
    """Deltas ``D[t] = dE/da(t)`` (shape ``(T, n, H)``) from ``d_feats = dE/dfeats``.

    With the default readout ``d_feats`` is ``dE/dz_last``.
    """
    T, n, H = Z.shape[0] - 1, Z.shape[1], Z.shape[2]
    depth = T if bptt_depth is None else bptt_depth
    inj = readout_injection(Z, lengths, d_feats, readout)
    D = np.zeros((T, n, H), dtype=Z.dtype)
    nxt = np.zeros((n, H), dtype=Z.dtype)
    for t in range(T - 1, -1, -1):
        g = nxt @ params["W_rec"].T + inj[t]
        g[t < lengths - depth] = 0.0
        D[t] = g * (1.0 - Z[t + 1] ** 2)
        nxt = D[t]
    return D


def loss_and_gradients(params, X, lengths, Y, head, bptt_depth=None, sample_weight=None,
                       readout=("last",)):
    """Mean minibatch loss and its gradients with respect to every parameter.

    ``sample_weight`` (n,): the weighted mean loss instead (weights not all 0).
    """
    lengths = np.asarray(lengths)
    n = X.shape[0]
    Z, feats, logits = forward(params, X, lengths, readout)
    per_seq, err = output_error(logits, Y, head)
    if sample_weight is None:
        err = err / n
        loss = per_seq.mean()
    else:
        share = np.asarray(sample_weight, dtype=np.float64) / np.sum(sample_weight)
        err = err * share[:, None]
        loss = share @ per_seq
    D = backward_deltas(params, Z, lengths, err @ params["W_out"].T, bptt_depth, readout)
    U = X.transpose(1, 0, 2)
    grads = {
        "W_in": np.einsum("tnf,tnh->fh", U, D),
        "W_rec": np.einsum("tni,tnj->ij", Z[:-1], D),
        "b": D.sum(axis=(0, 1)),
        "W_out": feats.T @ err,
        "b_out": err.sum(axis=0),
    }
    return loss, grads


def zero_padded_sequences(rng, n, T, F):
    """Random sequences ``(n, T, F)`` of 1 ... T steps, zero after each end (the first
    full, the second one step long), and their int32 lengths: the kernels' input."""
    X = rng.normal(size=(n, T, F))
    lengths = rng.integers(1, T + 1, size=n).astype(np.int32)
    lengths[0] = T
    lengths[1] = 1
    for i, L in enumerate(lengths):
        X[i, L:] = 0.0
    return X, lengths


def step_forward(params, X):
    """Hidden states ``Z`` ``(T + 1, n, H)`` and the outputs of every step ``(T, n, O)``."""
    Z, _, _ = forward(params, X, np.full(X.shape[0], X.shape[1]))
    return Z, Z[1:] @ params["W_out"] + params["b_out"]


def step_loss_and_gradients(params, X, lengths, Y, head, sample_weight=None):
    """Per-step outputs: mean loss over the real steps and its gradients.

    ``Y`` is ``(n, T, O)``; steps at or past a sequence's length count for
    nothing. Returns ``loss, grads, D, err`` with the deltas ``D`` (T, n, H)
    and the outputs' errors ``err`` (T, n, O), already divided by the
    normaliser ``sum_b w_b n_b``.
    """
    lengths = np.asarray(lengths)
    n, T = X.shape[:2]
    Z, logits = step_forward(params, X)
    real = np.arange(T)[:, None] < lengths[None, :]            # (T, n)
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    per_step, err = output_error(logits.reshape(T * n, -1), Y.transpose(1, 0, 2).reshape(T * n, -1),
                                 head)
    per_step, err = per_step.reshape(T, n), err.reshape(T, n, -1)
    share = real * w[None, :] / np.sum(w * lengths)            # (T, n)
    loss = float((share * per_step).sum())
    err = err * share[:, :, None]
    inj = err @ params["W_out"].T
    D = np.zeros((T, n, Z.shape[2]))
    nxt = np.zeros((n, Z.shape[2]))
    for t in range(T - 1, -1, -1):
        D[t] = (nxt @ params["W_rec"].T + inj[t]) * (1.0 - Z[t + 1] ** 2)
        nxt = D[t]
    U = X.transpose(1, 0, 2)
    grads = {
        "W_in": np.einsum("tnf,tnh->fh", U, D),
        "W_rec": np.einsum("tni,tnj->ij", Z[:-1], D),
        "b": D.sum(axis=(0, 1)),
        "W_out": np.einsum("tnh,tno->ho", Z[1:], err),
        "b_out": err.sum(axis=(0, 1)),
    }
    return loss, grads, D, err


def last_step_deltas(params, Z, lengths, err):
    """Deltas of each sequence's last-step error alone (what SGR measures per step).

    ``err`` (T, n, O) are the per-step errors of ``step_loss_and_gradients``.
    """
    lengths = np.asarray(lengths)
    T, n, H = Z.shape[0] - 1, Z.shape[1], Z.shape[2]
    D = np.zeros((T, n, H))
    for i, L in enumerate(lengths):
        d = np.zeros(H)
        for t in range(L - 1, -1, -1):
            inj = err[t, i] @ params["W_out"].T if t == L - 1 else 0.0
            d = (d @ params["W_rec"].T + inj) * (1.0 - Z[t + 1, i] ** 2)
            D[t, i] = d
    return D


def sgd_momentum_step(params, velocity, grads, learning_rate, momentum, nesterov=False):
    """One in-place SGD-with-momentum update, the same rule as the kernels.

    ``v <- momentum * v - learning_rate * g``; the step is ``v`` (classical) or
    ``momentum * v - learning_rate * g`` (Nesterov, as scikit-learn's MLP).
    """
    for k in PARAM_NAMES:
        velocity[k] *= momentum
        velocity[k] -= learning_rate * grads[k]
        if nesterov:
            params[k] += momentum * velocity[k] - learning_rate * grads[k]
        else:
            params[k] += velocity[k]


def adam_step(params, state, grads, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-8):
    """One in-place Adam update, the same rule as the kernels and scikit-learn's MLP.

    ``state`` is ``{"m": {...}, "s": {...}, "t": int}``: the first and second
    moments per parameter and the number of steps taken.
    """
    state["t"] += 1
    t = state["t"]
    rate = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    for k in PARAM_NAMES:
        state["m"][k] = beta_1 * state["m"][k] + (1 - beta_1) * grads[k]
        state["s"][k] = beta_2 * state["s"][k] + (1 - beta_2) * grads[k] ** 2
        params[k] += -rate * state["m"][k] / (np.sqrt(state["s"][k]) + epsilon)
