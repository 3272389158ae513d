"""Pure-NumPy reference of the SRN forward pass and BPTT.

Readable, slow and independent of the Cython kernels: the tests check the
kernels against it, and ``benchmarks/bench_update.py`` times it as the NumPy
baseline. It follows the same conventions as the kernels:

- ``X`` is ``(n_samples, n_timesteps, n_features)``, zero-filled after each
  sequence's own ``lengths[i]`` steps; the output is read at step
  ``lengths[i] - 1``;
- ``a(t) = u(t) @ W_in + z(t-1) @ W_rec + b``, ``z(t) = tanh(a(t))``,
  ``z(-1) = 0`` (paper eq. 1);
- the loss is the mean over the minibatch of the per-sequence loss:
  softmax cross-entropy (``head="softmax"``, ``Y`` one-hot) or
  ``0.5 * ||y - y_hat||^2`` (``head="identity"``);
- ``bptt_depth=h`` lets the error reach only the last ``h`` steps of each
  sequence (``None``: all of them).

Examples
--------
>>> import numpy as np
>>> from sksgr._numpy_reference import init_params, loss_and_gradients
>>> rng = np.random.default_rng(0)
>>> params = init_params(n_features=2, n_hidden=4, n_outputs=1, rng=rng)
>>> X = rng.normal(size=(3, 5, 2)); Y = rng.normal(size=(3, 1))
>>> loss, grads = loss_and_gradients(params, X, np.array([5, 3, 4]), Y, "identity")
>>> sorted(grads)
['W_in', 'W_out', 'W_rec', 'b', 'b_out']
"""

import numpy as np

from ._init import PARAMETER_NAMES as PARAM_NAMES
from ._init import weight_shapes


def init_params(n_features, n_hidden, n_outputs, rng, scale=0.3):
    """Random parameters (a dict keyed by ``PARAM_NAMES``) for tests and benchmarks."""
    shapes = weight_shapes(n_features, n_hidden, n_outputs)
    return {k: scale * rng.standard_normal(s) for k, s in zip(PARAM_NAMES, shapes)}


def forward(params, X, lengths):
    """Hidden states ``Z`` of shape ``(T + 1, n, H)`` (``Z[0] = 0``) and outputs.

    Returns ``Z, z_last, logits`` where ``z_last[i] = Z[lengths[i], i]``.
    """
    n, T, _ = X.shape
    H = params["W_rec"].shape[0]
    Z = np.zeros((T + 1, n, H), dtype=X.dtype)
    for t in range(T):
        Z[t + 1] = np.tanh(X[:, t] @ params["W_in"] + Z[t] @ params["W_rec"] + params["b"])
    z_last = Z[lengths, np.arange(n)]
    return Z, z_last, z_last @ params["W_out"] + params["b_out"]


def output_error(logits, Y, head):
    """Per-sequence loss and dloss/dlogits (not yet divided by the batch size)."""
    if head == "softmax":
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -(Y * log_p).sum(axis=1), np.exp(log_p) - Y
    diff = logits - Y
    return 0.5 * (diff**2).sum(axis=1), diff


def backward_deltas(params, Z, lengths, d_last, bptt_depth=None):
    """Deltas ``D[t] = dE/da(t)`` (shape ``(T, n, H)``) from ``d_last = dE/dz_last``."""
    T, n, H = Z.shape[0] - 1, Z.shape[1], Z.shape[2]
    depth = T if bptt_depth is None else bptt_depth
    D = np.zeros((T, n, H), dtype=Z.dtype)
    nxt = np.zeros((n, H), dtype=Z.dtype)
    for t in range(T - 1, -1, -1):
        g = nxt @ params["W_rec"].T
        g[lengths - 1 == t] += d_last[lengths - 1 == t]
        g[t < lengths - depth] = 0.0
        D[t] = g * (1.0 - Z[t + 1] ** 2)
        nxt = D[t]
    return D


def loss_and_gradients(params, X, lengths, Y, head, bptt_depth=None):
    """Mean minibatch loss and its gradients with respect to every parameter."""
    lengths = np.asarray(lengths)
    n = X.shape[0]
    Z, z_last, logits = forward(params, X, lengths)
    per_seq, err = output_error(logits, Y, head)
    err = err / n
    D = backward_deltas(params, Z, lengths, err @ params["W_out"].T, bptt_depth)
    U = X.transpose(1, 0, 2)
    grads = {
        "W_in": np.einsum("tnf,tnh->fh", U, D),
        "W_rec": np.einsum("tni,tnj->ij", Z[:-1], D),
        "b": D.sum(axis=(0, 1)),
        "W_out": z_last.T @ err,
        "b_out": err.sum(axis=0),
    }
    return per_seq.mean(), grads


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
