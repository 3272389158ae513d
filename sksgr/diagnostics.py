"""Diagnostics of the gradient flow and the hidden dynamics of an SRN.

Tools to reproduce the measurements of Chernodub & Nowicki (2016, section 4):

- :func:`init_network` -- an initialised, untrained network (the starting
  point of ``fit``), for "initial gradients";
- :func:`gradient_norm_profile` -- average norms of the backpropagated local
  gradients ``delta(t)`` and of the per-step weight gradients as a function of
  the backpropagation depth (the paper's Fig. 1);
- :func:`record_dynamics` -- train a network in chunks and record, after each
  chunk, the delta norms per depth and statistics of the hidden activations
  (the paper's Fig. 2);
- :func:`norm_change` and :func:`q_factor` -- the quantities the gradient
  regularization decides with: ``S = 0.5 ||delta(T-h)||^2``, its first-order
  change ``dS`` along any direction of the recurrent weights, and the
  Q-factor, for the sequences taken together as one minibatch, exactly as
  training computes them (but from each sequence's mean-loss deltas).

:mod:`sksgr.plotting` draws the results.

Conventions
-----------
Depth ``h`` counts steps back from each sequence's **own** last step
``T_i - 1``: depth 0 is the step where the output is read, depth ``h`` is
step ``T_i - 1 - h``. A sequence contributes to depth ``h`` only if it is long
enough (``T_i > h``); averages are over those sequences (``n_sequences``).

Deltas are those of each sequence's own loss, ``delta_i(t) = dL_i / da_i(t)``
(cross-entropy or half squared error of sequence ``i``), so they do not depend
on how many sequences are measured together. Norms are Euclidean norms per
sequence, then averaged over sequences (never the norm of a whole minibatch).
The per-step weight gradients ``u(t)^T delta(t)`` and ``z(t-1)^T delta(t)``
are outer products, whose Frobenius norms are ``||u(t)|| ||delta(t)||`` and
``||z(t-1)|| ||delta(t)||``. Backpropagation always runs through whole
sequences (the estimator's ``bptt_depth`` is ignored) and in float64,
whatever the estimator's dtype, so that small norms underflow as late as
possible; norms that do underflow are 0.

Only the fitted weight attributes (``input_weights_``, ``recurrent_weights_``,
``hidden_bias_``, ``output_weights_``, ``output_bias_``) are read, so edited
attributes take effect.
"""

import copy
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from ._base import continue_training, fitted_network, initialized_network, kernel_targets
from ._sequences import check_sequences

__all__ = [
    "GradientProfile",
    "Dynamics",
    "init_network",
    "gradient_norm_profile",
    "record_dynamics",
    "norm_change",
    "q_factor",
]

# Memory for the states and deltas of one block of sequences (float64).
_BLOCK_BYTES = 64 * 2**20


# -----------------------------------------------------------------------------
# An initialised, untrained network
# -----------------------------------------------------------------------------

def init_network(estimator, X, y, *, random_state=None):
    """An initialised, untrained copy of ``estimator``.

    The copy is a :func:`~sklearn.base.clone` whose fitted attributes are set
    as ``fit`` would set them before its first update: input form,
    ``n_features_in_``, ``classes_`` (classifier) or ``n_outputs_``
    (regressor) and the weights drawn by the estimator's initialisation
    (``sigma``, ``spectral_radius``, ``recurrent_nonzeros``). It can
    predict, be measured by :func:`gradient_norm_profile`, or be trained
    further with ``warm_start=True`` (its momentum starts at zero).

    Parameters
    ----------
    estimator : SRNClassifier or SRNRegressor
        Supplies the hyperparameters; it is not modified.
    X : array-like or list of arrays
        Sequences, in any form ``fit`` accepts. They fix the input width
        (and the classes or number of outputs, with ``y``).
    y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Targets, as for ``fit``.
    random_state : int, RandomState instance or None, default=None
        If not None, replaces the copy's ``random_state`` parameter before
        the draw. Otherwise the estimator's own ``random_state`` is used: with
        an int and ``early_stopping=False`` the weights are exactly those
        ``fit`` starts from.

    Returns
    -------
    network : estimator of the same class
        The initialised network, with ``n_updates_ == 0``.

    Examples
    --------
    >>> from sksgr import SRNClassifier
    >>> from sksgr.datasets import make_temporal_order
    >>> from sksgr.diagnostics import init_network
    >>> X, y = make_temporal_order(50, 20, random_state=0)
    >>> net = init_network(SRNClassifier(n_hidden=10, random_state=0), X, y)
    >>> net.recurrent_weights_.shape, net.n_updates_
    ((10, 10), 0)
    >>> net.predict(X[:3]).shape
    (3,)
    """
    net = clone(estimator)
    if random_state is not None:
        net.set_params(random_state=random_state)
    return initialized_network(net, X, y)


# -----------------------------------------------------------------------------
# Gradient norm profile (Fig. 1)
# -----------------------------------------------------------------------------

@dataclass
class GradientProfile:
    """Average gradient norms as a function of the backpropagation depth.

    Every array has one entry per depth ``h = 0 ... T - 1`` (``T`` the
    longest sequence), counted back from each sequence's own last step.

    Attributes
    ----------
    depth : ndarray of shape (T,)
        ``0, 1, ..., T - 1``.
    delta_norm : ndarray of shape (T,)
        Mean over sequences of ``||delta_i(T_i - 1 - h)||``.
    input_grad_norm : ndarray of shape (T,)
        Mean of the Frobenius norm of the step's contribution to
        ``dL_i/dW_in``: ``u_i(t)^T delta_i(t)`` at ``t = T_i - 1 - h``.
    recurrent_grad_norm : ndarray of shape (T,)
        Same for ``dL_i/dW_rec``: ``z_i(t-1)^T delta_i(t)`` (zero at the first
        step, where ``z(-1) = 0``).
    n_sequences : ndarray of shape (T,)
        Number of sequences long enough to reach each depth.
    loss : float
        Mean loss of the sequences (no L2 penalty).
    """

    depth: np.ndarray
    delta_norm: np.ndarray
    input_grad_norm: np.ndarray
    recurrent_grad_norm: np.ndarray
    n_sequences: np.ndarray
    loss: float

    def q_factor(self, depth=None):
        """Q-factor of the averaged delta norms (paper eq. 16).

        ``Q = log10(delta_norm[0] / delta_norm[depth])``: positive when the
        gradient vanishes with depth, negative when it explodes; ``inf`` when
        the norm at ``depth`` underflowed to 0.

        Parameters
        ----------
        depth : int, default=None
            Depth ``h``; ``None`` is the deepest, ``T - 1``.

        Returns
        -------
        q : float
        """
        h = len(self.depth) - 1 if depth is None else int(depth)
        with np.errstate(divide="ignore"):
            return float(np.log10(self.delta_norm[0]) - np.log10(self.delta_norm[h]))


def _norms(A, axis):
    """Euclidean norms along ``axis``, scaled so that tiny values do not underflow."""
    m = np.max(np.abs(A), axis=axis, keepdims=True)
    safe = np.where(m > 0, m, 1.0)
    return np.squeeze(m, axis) * np.sqrt(np.sum((A / safe) ** 2, axis=axis))


def _inputs(estimator, X, y):
    """Validated float64 kernel inputs for a fitted estimator."""
    check_is_fitted(estimator, "recurrent_weights_")
    Xp, lengths = check_sequences(estimator, X, reset=False)
    y, Y = kernel_targets(estimator, y)
    if len(y) != len(Xp):
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {len(Xp)} sequences and "
            f"{len(y)} targets."
        )
    return _trimmed(Xp, lengths, Y)


def _trimmed(Xp, lengths, Y):
    """Contiguous float64 arrays, cut after the longest sequence's end."""
    Xp = np.ascontiguousarray(Xp[:, : lengths.max()], dtype=np.float64)
    Y = np.ascontiguousarray(Y, dtype=np.float64)
    return Xp, np.ascontiguousarray(lengths, dtype=np.int32), Y


def _network64(estimator):
    """``(network, coef)`` of the fitted estimator, its parameters in float64."""
    net, coef = fitted_network(estimator)
    return net, np.ascontiguousarray(coef, dtype=np.float64)


def _measure(estimator, Xp, lengths, Y, *, activations=False):
    """Blockwise forward/backward; per-depth sums and (optionally) activation stats."""
    # One BLAS thread, as in training: the products are small.
    with threadpool_limits(limits=1, user_api="blas"):
        return _measure_blocks(estimator, Xp, lengths, Y, activations)


def _measure_blocks(estimator, Xp, lengths, Y, activations):
    n, T, F = Xp.shape
    net, coef = _network64(estimator)
    H = net.n_hidden
    W_in = estimator.input_weights_.astype(np.float64)
    W_rec = estimator.recurrent_weights_.astype(np.float64)
    b = estimator.hidden_bias_.astype(np.float64)
    block = int(np.clip(_BLOCK_BYTES // ((2 * T + 1) * H * 8), 1, n))
    sums = np.zeros((3, T))
    counts = np.zeros(T, dtype=np.int64)
    loss = 0.0
    abs_a = []
    for start in range(0, n, block):
        part = slice(start, start + block)
        X_b, L_b, Y_b = Xp[part], lengths[part], Y[part]
        m = len(X_b)
        loss_b, _, Z, D = net.forward_backward(X_b, Y_b, L_b, coef, return_states=True)
        loss += loss_b * m
        # Per (step, sequence) norms; deltas of the sequence's own loss (E is the block mean).
        d = _norms(D, axis=2) * m                      # (T, m)
        u = _norms(X_b, axis=2).T                      # (T, m)
        z = _norms(Z[:-1], axis=2)                     # (T, m): ||z(t-1)||
        t = L_b[:, None] - 1 - np.arange(T)[None, :]   # (m, T): step at depth h
        valid = t >= 0
        t = np.where(valid, t, 0)
        seq = np.arange(m)[:, None]
        for k, v in enumerate((d, d * u, d * z)):
            sums[k] += np.where(valid, v[t, seq], 0.0).sum(axis=0)
        counts += valid.sum(axis=0)
        if activations:
            # a(t) = u(t) W_in + z(t-1) W_rec + b, at the real steps only.
            A = (X_b.transpose(1, 0, 2).reshape(T * m, F) @ W_in
                 + Z[:-1].reshape(T * m, H) @ W_rec + b).reshape(T, m, H)
            real = np.arange(T)[:, None] < L_b[None, :]              # (T, m)
            abs_a.append(np.abs(A[real]).ravel())
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    profile = GradientProfile(
        depth=np.arange(T), delta_norm=means[0], input_grad_norm=means[1],
        recurrent_grad_norm=means[2], n_sequences=counts, loss=loss / n,
    )
    if not activations:
        return profile
    return profile, np.concatenate(abs_a)


def gradient_norm_profile(estimator, X, y):
    """Average norms of the backpropagated gradients vs depth (paper Fig. 1).

    Runs one forward and backward pass of the (fitted or
    :func:`init_network`-initialised) network over all of ``X`` and averages,
    for each depth ``h`` counted back from each sequence's own last step, the
    norms of the local gradient ``delta(t) = dL/da(t)`` and of the step's
    contributions to ``dL/dW_in`` and ``dL/dW_rec``. See the module notes for
    the conventions.

    Parameters
    ----------
    estimator : fitted SRNClassifier or SRNRegressor
        The network; only its weight attributes and head are used.
    X : array-like or list of arrays
        Sequences, in any form ``predict`` accepts.
    y : array-like
        Targets, with the classes / number of outputs of the estimator.

    Returns
    -------
    profile : GradientProfile
        Arrays indexed by depth: ``delta_norm``, ``input_grad_norm``,
        ``recurrent_grad_norm``, ``n_sequences``.

    Examples
    --------
    With the paper's ``sigma = 0.01`` the gradient vanishes with depth; with
    the recurrent matrix rescaled to spectral radius 1.5 it grows:

    >>> from sksgr import SRNClassifier
    >>> from sksgr.datasets import make_temporal_order
    >>> from sksgr.diagnostics import init_network, gradient_norm_profile
    >>> X, y = make_temporal_order(20, 30, random_state=0)
    >>> paper = dict(init="normal", readout="last", output_init="random")  # eq. 1's network
    >>> net = init_network(SRNClassifier(n_hidden=50, **paper, random_state=0), X, y)
    >>> p = gradient_norm_profile(net, X, y)
    >>> p.delta_norm.shape
    (30,)
    >>> bool(p.delta_norm[-1] < 1e-20 * p.delta_norm[0])
    True
    >>> net = init_network(SRNClassifier(n_hidden=50, **paper, spectral_radius=1.5,
    ...                                  random_state=0), X, y)
    >>> p = gradient_norm_profile(net, X, y)
    >>> bool(p.q_factor() < -1)
    True
    """
    Xp, lengths, Y = _inputs(estimator, X, y)
    return _measure(estimator, Xp, lengths, Y)


# -----------------------------------------------------------------------------
# Dynamics during training (Fig. 2)
# -----------------------------------------------------------------------------

@dataclass
class Dynamics:
    """Gradient and activation statistics recorded during training.

    One record before training (candidate 0) and one after each chunk of
    ``every`` candidate minibatches, all measured on the same probe set.

    Attributes
    ----------
    candidates : ndarray of shape (n_records,)
        Candidate minibatches processed before each record (``0, every,
        2 every, ...`` and ``n_candidates``): the training clock that
        ``max_candidates`` counts. Without gradient regularization every
        candidate is an update.
    applied : ndarray of shape (n_records,)
        Weight updates applied before each record (``n_updates_``); smaller
        than ``candidates`` when gradient regularization skips minibatches.
    delta_norms : ndarray of shape (n_records, T)
        ``GradientProfile.delta_norm`` of each record: mean per-sequence
        ``||delta||`` at depth ``h = 0 ... T - 1`` of the probe set.
    activation_mean, activation_median : ndarray of shape (n_records,)
        Mean and median of ``|a(t)|``, the absolute hidden pre-activations
        (paper: "mean and median values of activations a(k)"), over all real
        steps, probe sequences and hidden units. The absolute value is taken
        because ``a`` is nearly symmetric around 0; large values mean
        saturated units (``tanh'(a)`` small), the paper's symptom of stalled
        training.
    saturation : ndarray of shape (n_records,)
        Share of those pre-activations with ``tanh'(a) < 0.1``
        (``|a| > 1.82``).
    spectral_radius : ndarray of shape (n_records,)
        Spectral radius of ``recurrent_weights_``.
    probe_loss : ndarray of shape (n_records,)
        Mean loss on the probe set (without the L2 penalty).
    estimator : estimator
        The trained network (a clone of the estimator passed in).
    """

    candidates: np.ndarray
    applied: np.ndarray
    delta_norms: np.ndarray
    activation_mean: np.ndarray
    activation_median: np.ndarray
    saturation: np.ndarray
    spectral_radius: np.ndarray
    probe_loss: np.ndarray
    estimator: object = field(repr=False, default=None)

    @property
    def depth(self):
        """Depths ``0 ... T - 1`` of the columns of ``delta_norms``."""
        return np.arange(self.delta_norms.shape[1])


def _spectral_radius(W):
    with threadpool_limits(limits=1, user_api="blas"):
        return float(np.max(np.abs(np.linalg.eigvals(W.astype(np.float64)))))


# tanh'(a) = 1 - tanh(a)^2 < 0.1  <=>  |a| > artanh(sqrt(0.9))
_SATURATED = float(np.arctanh(np.sqrt(0.9)))

def record_dynamics(estimator, X, y, *, n_candidates, every=50, X_probe=None, y_probe=None):
    """Train a copy of ``estimator`` and record its internal dynamics (paper Fig. 2).

    The copy starts from :func:`init_network` and is trained in chunks of
    ``every`` candidate minibatches until ``n_candidates`` are done, as one
    uninterrupted training would be: the momentum carries over between the
    chunks (whatever a ``warm_start`` fit does with it), and every chunk
    reshuffles differently: the copy's ``random_state`` is one ``RandomState`` shared
    by the initialisation and all chunks, seeded from the estimator's
    ``random_state``. Before training and after each chunk, the probe set is
    measured: delta norms per depth as in :func:`gradient_norm_profile`,
    mean and median of the absolute pre-activations ``|a(t)|``, the share of
    saturated units, the recurrent spectral radius and the probe loss.

    All other hyperparameters (learning rate, momentum, batch size, ...,
    and any gradient-regularization setting) are the estimator's. Training
    uses all of ``X``, without validation or ``tol`` (each chunk would
    otherwise keep its own best weights or stop early); the copy's parameters
    are the estimator's. If training diverges, it warns and recording stops
    at that chunk.

    Parameters
    ----------
    estimator : SRNClassifier or SRNRegressor
        Supplies the hyperparameters; it is not modified.
    X, y : training sequences and targets, in any form ``fit`` accepts.
    n_candidates : int
        Number of candidate minibatches to train on, counted as
        ``max_candidates`` counts them: with ``gradient_regularization=True``
        skipped candidates count too (then ``Dynamics.applied`` and the estimator's
        ``n_updates_`` give the updates actually applied).
    every : int, default=50
        Minibatches between records (the paper validates every 50).
    X_probe, y_probe : sequences and targets, default=None
        Probe set for the measurements; default: the first ``min(100,
        n_samples)`` training sequences.

    Returns
    -------
    dynamics : Dynamics
        ``1 + ceil(n_candidates / every)`` records (fewer if training diverged)
        and the trained estimator, whose ``n_candidates_`` is ``n_candidates``
        (the minibatches of all chunks) and, without gradient
        regularization, so is its ``n_updates_``.

    Examples
    --------
    >>> from sksgr import SRNClassifier
    >>> from sksgr.datasets import make_temporal_order
    >>> from sksgr.diagnostics import record_dynamics
    >>> X, y = make_temporal_order(60, 20, random_state=0)
    >>> clf = SRNClassifier(n_hidden=10, spectral_radius=0.95, learning_rate=0.01,
    ...                     random_state=0)
    >>> dyn = record_dynamics(clf, X, y, n_candidates=25, every=10)
    >>> dyn.candidates
    array([ 0, 10, 20, 25])
    >>> dyn.delta_norms.shape, dyn.estimator.n_updates_
    ((4, 20), 25)
    """
    n_candidates, every = int(n_candidates), int(every)
    if n_candidates < 1 or every < 1:
        raise ValueError(
            f"n_candidates and every must be >= 1, got {n_candidates} and {every}.")
    if (X_probe is None) != (y_probe is None):
        raise ValueError("X_probe and y_probe must be passed together.")
    rs = estimator.random_state
    # One generator for the initial draw and every chunk; a copy of an
    # instance, so that the caller's is not advanced.
    rng = copy.deepcopy(rs) if isinstance(rs, np.random.RandomState) else np.random.RandomState(rs)
    est = init_network(estimator, X, y, random_state=rng)

    Xp, lengths, Y = _inputs(est, X, y)
    if X_probe is None:
        k = min(100, len(Xp))
        Xp, lengths, Y = _trimmed(Xp[:k], lengths[:k], Y[:k])
    else:
        Xp, lengths, Y = _inputs(est, X_probe, y_probe)

    records = []

    def record(processed):
        profile, abs_a = _measure(est, Xp, lengths, Y, activations=True)
        records.append((
            processed, est.n_updates_, profile.delta_norm, abs_a.mean(), np.median(abs_a),
            np.mean(abs_a > _SATURATED), _spectral_radius(est.recurrent_weights_),
            profile.loss,
        ))

    # max_epochs=every: every epoch processes at least one minibatch, so a
    # chunk always ends at max_candidates.
    processed = 0
    record(processed)
    while processed < n_candidates:
        chunk = min(every, n_candidates - processed)
        # keeps the momentum whatever a warm_start fit does with it
        continue_training(est, X, y, max_candidates=chunk, max_epochs=every, random_state=rng)
        done = est.n_candidates_ - processed  # n_candidates_ adds up over the chunks
        processed = est.n_candidates_
        record(processed)
        if done < chunk:  # diverged or interrupted: training has warned
            break
    est.set_params(random_state=rs)

    cols = list(zip(*records))
    return Dynamics(
        candidates=np.array(cols[0], dtype=np.int64),
        applied=np.array(cols[1], dtype=np.int64),
        delta_norms=np.vstack(cols[2]),
        activation_mean=np.array(cols[3]),
        activation_median=np.array(cols[4]),
        saturation=np.array(cols[5]),
        spectral_radius=np.array(cols[6]),
        probe_loss=np.array(cols[7]),
        estimator=est,
    )


# -----------------------------------------------------------------------------
# S, dS and Q as the gradient regularization computes them
# -----------------------------------------------------------------------------

def _norm_change(estimator, X, y, direction, depth, exact):
    Xp, lengths, Y = _inputs(estimator, X, y)
    net, coef = _network64(estimator)
    H = net.n_hidden
    direction = np.ascontiguousarray(direction, dtype=np.float64)
    if direction.shape != (H, H):
        raise ValueError(f"direction must have shape ({H}, {H}), got {direction.shape}.")
    if depth is not None and (int(depth) != depth or depth < 1):
        raise ValueError(f"depth must be a positive integer or None, got {depth!r}.")
    with threadpool_limits(limits=1, user_api="blas"):
        return net.norm_change(Xp, Y, lengths, coef, direction, q_depth=int(depth or 0),
                               exact=exact)


def norm_change(estimator, X, y, direction, *, depth=None, mode="exact"):
    """``S = 0.5 ||delta(T-h)||^2`` and its first-order change along ``direction``.

    The sequences are one minibatch, as in training: ``S`` sums over them
    (each at its own last step ``T_i``, ``h`` capped at ``T_i - 1``) and the
    deltas are those of the minibatch's mean loss.

    Parameters
    ----------
    estimator : fitted SRNClassifier or SRNRegressor
        Its weight attributes are read (edits take effect).
    X, y : sequences and targets, in any form ``fit`` accepts.
    direction : ndarray of shape (n_hidden, n_hidden)
        Direction of change of ``recurrent_weights_``.
    depth : int, default=None
        ``h``; None measures over each whole sequence.
    mode : {"exact", "linear"}, default="exact"
        "exact" is the true directional derivative of S; "linear" is the
        paper's Lemma 1 (activation derivatives held fixed).

    Returns
    -------
    S : float
    dS : float

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr import SRNRegressor
    >>> from sksgr.datasets import make_adding
    >>> from sksgr.diagnostics import norm_change
    >>> X, y = make_adding(20, 10, random_state=0)
    >>> reg = SRNRegressor(n_hidden=8, max_iter=1, random_state=0).fit(X, y)
    >>> D = np.eye(8)
    >>> S, dS = norm_change(reg, X, y, D)
    >>> reg.recurrent_weights_ += 1e-6 * D          # a finite difference agrees
    >>> S_plus, _ = norm_change(reg, X, y, D)
    >>> bool(abs((S_plus - S) / 1e-6 - dS) < 1e-3 * abs(dS))
    True
    """
    if mode not in ("exact", "linear"):
        raise ValueError(f"mode must be 'exact' or 'linear', got {mode!r}.")
    S, dS, *_ = _norm_change(estimator, X, y, direction, depth, mode == "exact")
    return float(S), float(dS)


def q_factor(estimator, X, y, *, depth=None):
    """The Q-factor ``log10(||delta(T)|| / ||delta(T-h)||)`` of the sequences as one minibatch.

    Norms are over the minibatch as a whole (as in training): Q > 0 means the
    gradient vanishes with depth, Q < 0 that it explodes; +inf when the
    deltas at depth h underflow to zero.

    Examples
    --------
    >>> from sksgr import SRNClassifier
    >>> from sksgr.datasets import make_temporal_order
    >>> from sksgr.diagnostics import init_network, q_factor
    >>> X, y = make_temporal_order(50, 30, random_state=0)
    >>> net = init_network(SRNClassifier(n_hidden=20, init="normal", readout="last",
    ...                                  output_init="random", random_state=0),
    ...                    X, y)      # sigma=0.01, dense, last state: the paper's network
    >>> q_factor(net, X, y) > 10      # the gradient vanishes
    True
    """
    H = fitted_network(estimator)[0].n_hidden
    return float(_norm_change(estimator, X, y, np.zeros((H, H)), depth, False)[2])
