"""The one door to the compiled kernel.

No other module of sksgr imports ``_bptt_fast``: this one owns a network's
sizes, readout and output head (:class:`Network`), allocates the kernel's
workspace, and offers the three calls the library needs:

- :meth:`Network.train`: a number of minibatches of SGD or Adam, with or
  without the gradient regularization, without the GIL;
- :meth:`Network.outputs` / :meth:`Network.features`: the forward pass to
  the outputs or to the readout features, in memory-bounded blocks;
- :meth:`Network.forward_backward` and :meth:`Network.norm_change`: one
  forward-backward pass over all sequences (loss, gradient, states), and
  S, dS and Q, for the diagnostics.

The settings of the optimizer and of the regularization are the dataclasses
:class:`Optimizer` and :class:`SGRSettings`, mirrored field by field (same
names) by the kernel's structs in ``_bptt_fast.pxd``; the kernel receives
them as dicts.

This is the library's low-level layer (the estimators, the diagnostics and
the benchmarks use it); most users want :class:`sksgr.SRNClassifier` and
:class:`sksgr.SRNRegressor` instead.

Examples
--------
>>> import numpy as np
>>> from sksgr.network import HEAD_IDENTITY, Network, Optimizer
>>> net = Network(n_features=2, n_hidden=8, n_outputs=1, head=HEAD_IDENTITY,
...               readout=("last", "mean"))
>>> net.n_readout_features, net.n_params          # W_out reads 2 x 8 features
(16, 105)
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(40, 10, 2)); Y = X[:, :, :1].sum(axis=1)
>>> lengths = np.full(40, 10, dtype=np.int32)
>>> coef = 0.1 * rng.standard_normal(net.n_params)
>>> state = np.zeros(Optimizer().state_size(net.n_params))
>>> order = np.arange(40, dtype=np.intp); starts = np.arange(0, 41, 10, dtype=np.intp)
>>> losses = np.empty(4)
>>> net.train(X, Y, lengths, order, starts, coef, state, net.workspace(10, 10, np.float64),
...           losses, Optimizer(learning_rate=0.01))
4
>>> net.outputs(X, lengths, coef).shape, net.features(X, lengths, coef).shape
((40, 1), (40, 16))
"""

import dataclasses
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from . import _bptt_fast
from ._init import n_params as _n_params
from ._init import parameter_slices, unpack

HEAD_SOFTMAX = _bptt_fast.HEAD_SOFTMAX  # softmax cross-entropy on one-hot targets
HEAD_IDENTITY = _bptt_fast.HEAD_IDENTITY  # half squared error on real targets

SOLVERS = {"sgd": _bptt_fast.SOLVER_SGD, "adam": _bptt_fast.SOLVER_ADAM}
SELECTIONS = {"minibatch": _bptt_fast.SELECT_MINIBATCH, "example": _bptt_fast.SELECT_EXAMPLE}
DS_MODES = {"linear": _bptt_fast.DS_LINEAR, "exact": _bptt_fast.DS_EXACT}
STEERS = {"dS": _bptt_fast.STEER_DS, "dQ": _bptt_fast.STEER_DQ}
# The readout's pools, by name, as the kernel codes them.
POOLS = {"last": _bptt_fast.POOL_LAST, "mean": _bptt_fast.POOL_MEAN, "max": _bptt_fast.POOL_MAX}

# Memory for the hidden states of one forward block (sequences per block are
# chosen so that (T + 1) * block * n_hidden values fit in it).
BLOCK_BYTES = 32 * 2**20


def readout_feature_names(readout, n_hidden, prefix):
    """Names of the readout features: ``{prefix}_{pool}{unit}``, pool by pool.

    The readout's features are the ``n_hidden`` units of each pool in turn
    (the order of ``readout``), as :meth:`sksgr.network.Network.features`
    returns them.

    Parameters
    ----------
    readout : str or tuple of str
        Pool names from ``("last", "mean", "max")``, in feature order.
    n_hidden : int
        Number of hidden units.
    prefix : str
        Prefix of every name, e.g. the estimator's lower-cased class name.

    Returns
    -------
    names : ndarray of str objects, shape (len(readout) * n_hidden,)

    Examples
    --------
    >>> from sksgr.network import readout_feature_names
    >>> readout_feature_names(("last", "max"), 2, "srnfeatures").tolist()
    ['srnfeatures_last0', 'srnfeatures_last1', 'srnfeatures_max0', 'srnfeatures_max1']
    """
    pools = check_readout(readout)
    return np.asarray([f"{prefix}_{pool}{unit}" for pool in pools for unit in range(n_hidden)],
                      dtype=object)


def readout_code(readout):
    """The kernel's code of a readout: a tuple of pool names, in feature order."""
    return sum(POOLS[name] * 4**i for i, name in enumerate(readout))


def check_readout(readout, name="readout"):
    """``readout`` as a tuple of distinct pool names; a clear ValueError otherwise.

    Accepts one name (``"last"``, ``"mean"``, ``"max"``) or a tuple / list of
    them (concatenated in that order).
    """
    pools = (readout,) if isinstance(readout, str) else readout
    try:
        pools = tuple(pools)
    except TypeError:
        pools = None
    if (not pools or len(pools) > len(POOLS) or len(set(pools)) != len(pools)
            or not all(isinstance(p, str) and p in POOLS for p in pools)):
        raise ValueError(
            f"{name} must be one of {sorted(POOLS)} or a tuple of distinct ones "
            f"(concatenated in that order), got {readout!r}."
        )
    return pools


@dataclass(frozen=True)
class Optimizer:
    """Settings of the optimizer (the kernel's ``Optimizer`` struct, field by field)."""

    solver: int = _bptt_fast.SOLVER_SGD
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-8

    def state_size(self, n_params):
        """Length of the optimizer's state: the velocity (SGD), or Adam's ``[m, s, t]``."""
        return _bptt_fast.optimizer_state_size(n_params, self.solver)


@dataclass(frozen=True)
class SGRSettings:
    """Settings of the gradient regularization (the kernel's ``SGRSettings`` struct)."""

    selection: int = _bptt_fast.SELECT_MINIBATCH
    ds_mode: int = _bptt_fast.DS_LINEAR
    q_min: float = -1.0
    q_max: float = 1.0
    ds_max: float = 0.0  # 0: no cap
    q_depth: int = 0  # 0: whole sequences
    max_skips: int = 0  # 0: no guard
    ds_momentum: bool = True
    steer: int = _bptt_fast.STEER_DS


def settings_fields():
    """The kernel's struct fields: ``{"Optimizer": [...], "SGRSettings": [...]}``."""
    return _bptt_fast.settings_fields()


@dataclass(frozen=True)
class Network:
    """A simple recurrent network's shape: sizes, readout and output head.

    Parameters live outside, in one flat vector ``coef`` (``_init.PARAMETERS``
    order); the methods run the kernel on it.

    ``per_step=True`` makes it sequence to sequence: an output at every real
    step, read from that step's state (``readout`` must then be
    ``("last",)``); targets ``Y`` are ``(n, T, n_outputs)`` and the outputs
    and features come back per step, NaN past each sequence's end.
    """

    n_features: int
    n_hidden: int
    n_outputs: int
    head: int = HEAD_IDENTITY
    readout: tuple = ("last",)
    per_step: bool = False

    def __post_init__(self):
        if self.per_step and tuple(self.readout) != ("last",):
            raise ValueError("per-step outputs read each step's own state: readout must be "
                             f"('last',), got {self.readout!r}")

    @cached_property
    def n_pools(self):
        return len(self.readout)

    @cached_property
    def code(self):
        """The readout's code for the kernel."""
        return _bptt_fast.READOUT_STEPS if self.per_step else readout_code(self.readout)

    def _targets(self, Y):
        """Targets as the kernel takes them: per step (n, T, O) flattened to (n, T O)."""
        if self.per_step:
            Y = np.asarray(Y)
            if Y.ndim != 3:
                raise ValueError(f"per-step targets must be (n, T, n_outputs), got shape {Y.shape}")
            return Y.reshape(Y.shape[0], -1)
        return Y

    @property
    def n_readout_features(self):
        return self.n_pools * self.n_hidden

    @property
    def sizes(self):
        """``(n_features, n_hidden, n_outputs, n_pools)``, as ``_init``'s functions take them."""
        return self.n_features, self.n_hidden, self.n_outputs, self.n_pools

    @property
    def n_params(self):
        return _n_params(*self.sizes)

    def slices(self):
        return parameter_slices(*self.sizes)

    def unpack(self, coef):
        return unpack(coef, *self.sizes)

    def workspace(self, batch_size, n_timesteps, dtype, sgr=False):
        """Scratch memory for minibatches of up to ``batch_size`` sequences."""
        size = _bptt_fast.workspace_size(batch_size, n_timesteps, self.n_features,
                                         self.n_hidden, max(self.n_outputs, 1), bool(sgr),
                                         self.code)
        return np.empty(size, dtype=dtype)

    def block(self, n, n_timesteps, dtype):
        """Sequences per forward block: their states fit in ``BLOCK_BYTES``."""
        per = (n_timesteps + 1) * self.n_hidden * np.dtype(dtype).itemsize
        return int(np.clip(BLOCK_BYTES // per, 1, max(n, 1)))

    # -- the three calls ---------------------------------------------------
    def train(self, X, Y, lengths, order, starts, coef, state, work, losses, optimizer,
              sgr=None, **kwargs):
        """Train on the minibatches ``order[starts[k]:starts[k+1]]`` in turn.

        ``optimizer``: :class:`Optimizer`; ``sgr``: :class:`SGRSettings` or
        None. ``kwargs``: the kernel's other keywords (``bptt_depth``,
        ``alpha``, ``clip_norm``, ``max_abs_weight``, the guard buffers and
        histories, ``sample_weight``, ``batch_mean``). Returns the number of
        candidates processed (fewer than the minibatches: divergence).
        """
        return _bptt_fast.train_minibatches(
            X, self._targets(Y), lengths, order, starts, coef, state, work, losses, self.n_hidden,
            int(self.head), self.code, dataclasses.asdict(optimizer),
            None if sgr is None else dataclasses.asdict(sgr), **kwargs)

    def outputs(self, X, lengths, coef):
        """Outputs ``(n, n_outputs)`` of each sequence (logits for the softmax head).

        Per step: ``(n, T, n_outputs)``, NaN past each sequence's end.
        """
        n, T = X.shape[:2]
        if self.per_step:
            out = np.full((n, T, self.n_outputs), np.nan, dtype=coef.dtype)
        else:
            out = np.empty((n, self.n_outputs), dtype=coef.dtype)
        if n:
            block = self.block(n, T, coef.dtype)
            _bptt_fast.predict_outputs(X, lengths, coef, out.reshape(n, -1),
                                       self.workspace(block, T, coef.dtype), self.n_hidden,
                                       block, self.code)
        return out

    def features(self, X, lengths, coef):
        """Readout features ``(n, n_readout_features)``; ``coef`` may be the recurrent part.

        Per step: the states ``(n, T, n_hidden)``, NaN past each sequence's end.
        """
        n, T = X.shape[:2]
        if self.per_step:
            feats = np.full((n, T, self.n_hidden), np.nan, dtype=coef.dtype)
        else:
            feats = np.empty((n, self.n_readout_features), dtype=coef.dtype)
        if n:
            block = self.block(n, T, coef.dtype)
            _bptt_fast.forward_features(X, lengths, coef, feats.reshape(n, -1),
                                        self.workspace(block, T, coef.dtype), self.n_hidden,
                                        block, self.code)
        return feats

    def stream(self, X, coef, z, total, peak, n_before):
        """Outputs ``(n, t, n_outputs)`` of the next ``t`` steps ``X`` (n, t, F) of
        streamed sequences; the state arrays ``z``, ``total``, ``peak`` (n, H) are
        updated in place (see :mod:`sksgr.streaming`)."""
        n, t = X.shape[:2]
        out = np.empty((n, t, self.n_outputs), dtype=coef.dtype)
        _bptt_fast.stream_forward(X, coef, z, total, peak, n_before, out.reshape(n, -1),
                                  self.n_hidden, self.code)
        return out

    def forward_backward(self, X, Y, lengths, coef, *, bptt_depth=0, alpha=0.0,
                         sample_weight=None, return_states=False):
        """Loss and gradient over all sequences as one minibatch (and the states).

        Returns ``(loss, grad)``, or ``(loss, grad, Z, D)`` with the hidden
        states ``Z`` (T + 1, n, H) and the deltas ``D`` (T, n, H).
        """
        grad = np.empty_like(coef)
        out = _bptt_fast.forward_backward(X, self._targets(Y), lengths, coef, grad, self.n_hidden,
                                          int(self.head), bptt_depth or 0, alpha,
                                          return_states, sample_weight, self.code)
        if return_states:
            loss, Z, D = out
            return loss, grad, Z, D
        return out, grad

    def norm_change(self, X, Y, lengths, coef, direction, *, q_depth=0, exact=False,
                    sample_weight=None):
        """``(S, dS, Q, S_b, dS_b, E_b, dE_b)`` of all sequences as one minibatch."""
        return _bptt_fast.norm_change(X, self._targets(Y), lengths, coef, direction, self.n_hidden,
                                      int(self.head), q_depth or 0, exact, sample_weight,
                                      self.code)
