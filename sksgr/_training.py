"""Training of one network: the Python loop around the Cython SGD kernel.

The kernel runs many minibatches without the GIL; this loop only cuts the
epochs into chunks (up to the next validation), validates, keeps the best
weights, stops early, and notices divergence and Ctrl-C between chunks.

It knows nothing of the estimators: it takes a plain :class:`TrainingConfig`,
the arrays (:class:`TrainingData`), a start ``(coef, velocity)`` and, for
validation, a ``score(coef)`` callback (as scikit-learn's ``_plain_sgd``
takes its validation callback).
"""

import ctypes
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import ThreadpoolController, threadpool_info

from ._init import penalized
from ._steps import real_steps, repeat_per_step
from .network import HEAD_SOFTMAX, Network, Optimizer, SGRSettings

# Control returns from the kernel to Python (to notice Ctrl-C, validate, print
# progress) after about WORK_PER_CHUNK multiply-adds: ~0.1 s of compute at the
# ~1e10 multiply-adds per second a core sustains here (3e10 unloaded at the
# paper's size), so a Ctrl-C is noticed within a fraction of a second whatever
# the sequence length. At least one minibatch, at most MAX_CHUNK (the call
# overhead is then negligible).
WORK_PER_CHUNK = 1e9
MAX_CHUNK = 256


def chunk_length(n_timesteps, batch_size, n_features, n_hidden, n_outputs, sgr=False):
    """Minibatches per kernel call: about ``WORK_PER_CHUNK`` multiply-adds of work.

    A minibatch costs about ``T B H (3 H + 2 F + 3 O)`` multiply-adds (forward
    pass, deltas, weight gradients); the gradient regularization about doubles it.
    """
    T, B, F, H, O = n_timesteps, batch_size, n_features, n_hidden, n_outputs
    work = T * B * H * (3.0 * H + 2.0 * F + 3.0 * O) * (2 if sgr else 1)
    return int(np.clip(WORK_PER_CHUNK // max(work, 1.0), 1, MAX_CHUNK))

# Divergence: a step that would take any weight beyond this many times
# max(1, the largest initial weight, the largest target) in absolute value is
# not applied and ends training. Far above what a tanh network that learns
# needs (its units saturate at |a| ~ 20), and far below overflow, so the
# weights kept are still usable.
BLOWUP_FACTOR = 1e6


class StopFlag:
    """A flag shared by the threads training restarts; set on Ctrl-C.

    Pickling gives a fresh, unset flag, so a copy sent to another process
    (joblib's loky or dask backends) is harmless: there Ctrl-C reaches the
    worker's own process instead.
    """

    def __init__(self):
        self._event = threading.Event()

    def set(self):
        self._event.set()

    def is_set(self):
        return self._event.is_set()

    def __reduce__(self):
        return (StopFlag, ())


_blas_lock = threading.Lock()
_openblas = []  # empty until looked up; then [list of setters] or [None]
_blas_users = 0
_blas_restore = None


def _openblas_setters():
    """ctypes setters of each loaded OpenBLAS's thread count that return the previous one.

    ``openblas_set_num_threads_local`` (OpenBLAS >= 0.3.27) returns the
    previous count; with pthreads (the OpenBLAS that scipy and numpy ship) it
    sets the process-wide count. None if any loaded BLAS is not such an
    OpenBLAS (MKL, BLIS, an older OpenBLAS).
    """
    with _blas_lock:
        if not _openblas:
            setters = []
            for info in threadpool_info():
                if info["user_api"] != "blas":
                    continue
                fn = None
                if info["internal_api"] == "openblas":
                    fn = getattr(ctypes.CDLL(info["filepath"]), "openblas_set_num_threads_local",
                                 None)
                if fn is None:
                    setters = None
                    break
                fn.restype, fn.argtypes = ctypes.c_int, [ctypes.c_int]
                setters.append(fn)
            _openblas.append(setters)
        return _openblas[0]


_fallback = []  # empty until looked up; then [list of threadpoolctl's setters]


def _threadpoolctl_setters():
    """Setters of each loaded BLAS's thread count that return the previous one,
    through threadpoolctl (any BLAS it knows: MKL, BLIS, an older OpenBLAS).

    The controller inspects the loaded libraries once; each setter is then a
    get and a set of the library's count, made under ``_blas_lock``.
    """

    def setter(lib):
        def set_num_threads(n):
            previous = lib.get_num_threads()
            lib.set_num_threads(n)
            return previous
        return set_num_threads

    with _blas_lock:
        if not _fallback:
            blas = ThreadpoolController().select(user_api="blas")
            _fallback.append([setter(lib) for lib in blas.lib_controllers])
        return _fallback[0]


@contextmanager
def single_blas_thread(*, nested=False):
    """One BLAS thread in the whole process while any training is inside this block.

    BLAS thread limits are per process (threadpoolctl's too), so fits running
    in several Python threads share one count of users: the first sets one
    thread, the last restores the previous count. The GEMMs of one network
    are small; parallelism comes from training several networks at once
    (restarts, grid searches), and results then do not depend on how busy
    the BLAS thread pool is. Without an OpenBLAS whose count can be read
    back (MKL, BLIS, OpenBLAS < 0.3.27 as in NumPy 1.x and SciPy < 1.14
    wheels), threadpoolctl's setters of the same counts do it, counted the
    same way. ``nested`` (a block inside a fit, or a predict) is counted like
    any other block.
    """
    global _blas_users, _blas_restore
    setters = _openblas_setters()
    if setters is None:
        setters = _threadpoolctl_setters()
    with _blas_lock:
        if _blas_users == 0:
            _blas_restore = [f(1) for f in setters]
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                for f, previous in zip(setters, _blas_restore):
                    f(previous)


@contextmanager
def stop_on_sigint():
    """Within the block, the first Ctrl-C sets the yielded flag instead of raising.

    Training then ends after its current chunk (about 0.1 s of compute, see
    ``chunk_length``) and keeps the best validated weights so far, or the
    last ones without validation. A second Ctrl-C raises KeyboardInterrupt as usual. Outside the main
    thread, signal handlers cannot be installed and the flag is never set.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return
    previous = signal.getsignal(signal.SIGINT)

    def handler(signum, frame):
        if flag.is_set():
            raise KeyboardInterrupt
        flag.set()

    signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class TrainingData:
    """Arrays shared (read-only) by every restart."""

    X: np.ndarray  # (n, T, F) zero-padded, float32/float64
    lengths: np.ndarray  # (n,) int32
    Y: np.ndarray  # (n, O) kernel targets (one-hot or regression targets)
    train_idx: np.ndarray  # indices of the training sequences (intp)
    sample_weight: np.ndarray = None  # (n,) per-sequence weights in X's dtype, or None

    def training_part(self):
        """``(X, lengths, Y, weights)`` of the training sequences: contiguous copies,
        the weights in float64 (None without)."""
        idx = self.train_idx
        weights = (None if self.sample_weight is None
                   else self.sample_weight[idx].astype(np.float64))
        return (np.ascontiguousarray(self.X[idx]), np.ascontiguousarray(self.lengths[idx]),
                self.Y[idx], weights)

    def kernel_weights(self):
        """The weights scaled to mean 1 over the training sequences (None without).

        The kernel divides a minibatch's weighted loss by its number of
        sequences, so with these weights every minibatch estimates the
        weighted mean loss of the whole training set, and a sequence's weight
        acts relative to all the others, not only to its minibatch's (class
        weights then count in a minibatch of one class too). Weights of 1
        stay exactly 1.
        """
        if self.sample_weight is None:
            return None
        mean = float(np.mean(self.sample_weight[self.train_idx], dtype=np.float64))
        return (self.sample_weight / mean).astype(self.sample_weight.dtype)


@dataclass(frozen=True)
class TrainingConfig:
    """Everything the training loop needs to know, as plain values.

    ``network`` (sizes, readout, head), ``optimizer`` and ``sgr`` (None: no
    gradient regularization) go to the kernel as they are; ``None`` means
    "not set" for ``bptt_depth``, ``clip_norm``, ``max_candidates``,
    ``validation_interval`` and ``tol`` (as the estimators' parameters).
    """

    network: Network
    optimizer: Optimizer = Optimizer()
    sgr: SGRSettings = None
    alpha: float = 0.0
    batch_size: int = 10
    shuffle: bool = True
    bptt_depth: int = None
    clip_norm: float = None
    max_candidates: int = None  # candidate minibatches, skipped SGR candidates included
    validation_interval: int = None  # candidates between validations; None: every epoch
    tol: float = None
    n_iter_no_change: int = 10
    verbose: int = 0
    # the start is a model already: it is kept unless training beats it, on validation
    # (with a score: the start is validated first) or else on the training loss
    keep_start: bool = False


@dataclass
class TrainingResult:
    coef: np.ndarray
    velocity: np.ndarray
    loss_curve: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    best_validation_score: float = -np.inf
    n_iter: int = 0
    n_updates: int = 0
    n_candidates: int = 0
    n_clipped: int = 0  # candidates whose gradient clip_norm rescaled
    q_history: list = field(default_factory=list)
    ds_history: list = field(default_factory=list)
    used_history: list = field(default_factory=list)
    diverged_at: int = None  # candidate that diverged (not applied)
    kept: str = None  # after divergence: "last" (or "best validated") or "initial"
    kept_loss: float = None  # after divergence: training loss of the kept weights
    candidate_loss: float = None  # after divergence: that of the weights before it
    initial_loss: float = None  # after divergence: training loss of the initial weights
    interrupted: bool = False
    converged: bool = False
    kept_start: bool = False  # training did not beat the start (validation or training loss)

    @property
    def rank_score(self):
        """Higher is better: best validation score, else minus the last loss."""
        if self.validation_scores:
            score = self.best_validation_score
        elif self.kept_loss is not None:
            score = -self.kept_loss
        else:
            score = -self.loss_curve[-1] if self.loss_curve else -np.inf
        return score if np.isfinite(score) else -np.inf


def should_stop(values, *, tol, n_iter_no_change):
    """Whether training stops after the checks ``values`` (greater is better).

    One criterion for the validation scores and for the training losses
    (pass ``-loss``), scikit-learn MLP's: a check that does not beat the best
    value before it by ``tol`` counts as no improvement, any other resets the
    count, and training stops once the count exceeds ``n_iter_no_change``.
    ``tol=None`` never stops. A NaN value counts as no improvement.
    """
    if tol is None:
        return False
    best, count = -np.inf, 0
    for value in values:
        count = 0 if value >= best + tol else count + 1
        if value > best:
            best = value
    return count > n_iter_no_change


def train_network(config, data, start, seed, **kwargs):
    """Train one network from ``start = (coef, velocity)`` (see ``_train_network``).

    Runs with one BLAS thread in the thread that runs it (a joblib worker).
    """
    with single_blas_thread(nested=True):
        return _train_network(config, data, start, seed, **kwargs)


def _train_network(config, data, start, seed, *, score=None, max_epochs, stop_flag=None,
                   label="", epochs=None):
    """Train one network from ``start = (coef, velocity)`` with the settings ``config``.

    ``start`` is a tuple on purpose: joblib's dask backend scatters large
    weak-referenceable arguments (arrays) to a single worker, and loses them
    if that worker dies; a tuple travels with its task and is recomputed.

    ``score(coef)``, if given, is the validation score (greater is better) of
    the network with parameters ``coef``; it is called every
    ``config.validation_interval`` candidates (or every epoch), and the best
    validated network is the one returned. ``stop_flag.is_set()`` is polled
    between chunks of about ``WORK_PER_CHUNK`` of work. ``epochs``, if given,
    gets the callback hooks of each epoch (``sksgr._callbacks.EpochHooks``);
    an epoch's end hook returning True stops training after that epoch. Returns a
    :class:`TrainingResult` whose ``coef`` is the best validated state when
    there is a ``score``, the last state otherwise (see ``_after_divergence``
    for what a divergence keeps).
    """
    cfg = config
    net = cfg.network
    coef, velocity = (np.array(a, copy=True) for a in start)
    rng = np.random.RandomState(seed)
    X, lengths, Y = data.X, data.lengths, data.Y
    n_train = len(data.train_idx)
    batch_size = min(cfg.batch_size, n_train)
    sgr = cfg.sgr is not None
    guard = {}
    if sgr:  # the guard's buffers: best rejected candidate, [skips, its favour]
        guard = dict(best_grad=np.zeros(coef.size, dtype=X.dtype), guard_state=np.zeros(2))
    work = net.workspace(batch_size, X.shape[1], X.dtype, sgr)
    chunk = chunk_length(X.shape[1], batch_size, X.shape[2], net.n_hidden,
                         net.n_pools * net.n_outputs, sgr)
    validate = score is not None
    interval = cfg.validation_interval if validate else None
    depth = cfg.bptt_depth or 0
    max_candidates = cfg.max_candidates
    start_coef = coef.copy()
    kernel_weights = data.kernel_weights()
    max_abs_weight = BLOWUP_FACTOR * max(1.0, float(np.max(np.abs(coef), initial=0.0)),
                                         float(np.max(np.abs(Y), initial=0.0)))

    result = TrainingResult(coef=coef, velocity=velocity)
    best_coef = None
    since_check = 0
    stop = False

    def check():
        nonlocal best_coef, stop
        value = float(score(coef))
        if value > result.best_validation_score or best_coef is None:
            result.best_validation_score = value
            best_coef = coef.copy()
        result.validation_scores.append(value)
        if should_stop(result.validation_scores, tol=cfg.tol,
                       n_iter_no_change=cfg.n_iter_no_change):
            result.converged = stop = True

    if validate and cfg.keep_start:
        check()  # the start competes: training must beat it on validation
    for _ in range(max_epochs):
        if epochs is not None:
            epochs.begin(coef, data)
        tic = time.perf_counter()
        order = data.train_idx[rng.permutation(n_train)] if cfg.shuffle else data.train_idx
        starts = np.append(np.arange(0, n_train, batch_size), n_train).astype(np.intp)
        n_batches = len(starts) - 1
        losses = np.empty(n_batches)
        k = 0
        while k < n_batches and not stop:
            m = min(n_batches - k, chunk)
            if interval is not None:
                m = min(m, interval - since_check)
            if max_candidates is not None:
                m = min(m, max_candidates - result.n_candidates)
            history = {}
            if cfg.clip_norm:
                history["grad_norm_history"] = np.empty(m)
            if sgr:
                history.update(q_history=np.empty(m), ds_history=np.empty(m),
                               used_history=np.zeros(m, dtype=np.int8))
            done = net.train(
                X, Y, lengths, order, starts[k : k + m + 1], coef, velocity, work, losses[k:],
                cfg.optimizer, cfg.sgr, bptt_depth=depth, alpha=cfg.alpha,
                clip_norm=cfg.clip_norm or 0.0, max_abs_weight=max_abs_weight, **guard,
                **history, sample_weight=kernel_weights, batch_mean=True,
            )
            k += done
            since_check += done
            result.n_candidates += done
            if cfg.clip_norm:
                norms = history.pop("grad_norm_history")[:done]
                result.n_clipped += int(np.count_nonzero(norms > cfg.clip_norm))
            if sgr:
                for name, values in history.items():
                    getattr(result, name).append(values[:done])
                result.n_updates += int(np.count_nonzero(history["used_history"][:done]))
            else:
                result.n_updates += done
            if done < m:  # the next candidate diverged and was not applied
                result.diverged_at = result.n_candidates + 1
                stop = True
                break
            if interval is not None and since_check >= interval:
                since_check = 0
                check()
            if max_candidates is not None and result.n_candidates >= max_candidates:
                stop = True
            if stop_flag is not None and stop_flag.is_set():
                result.interrupted = stop = True
        if epochs is not None and epochs.end(coef if k else None, data):
            stop = True
        if k == 0:
            break
        result.n_iter += 1
        result.loss_curve.append(float(losses[:k].mean()))
        if validate and interval is None and result.diverged_at is None:
            check()
        elif not validate and should_stop([-loss for loss in result.loss_curve], tol=cfg.tol,
                                          n_iter_no_change=cfg.n_iter_no_change):
            result.converged = stop = True
        if cfg.verbose:
            rate = k / max(time.perf_counter() - tic, 1e-12)
            val = (f", validation score = {result.validation_scores[-1]:.6f}"
                   if result.validation_scores else "")
            if sgr and result.used_history:
                used = result.used_history[-1]
                val += (f", Q = {result.q_history[-1][-1]:.2f}, "
                        f"skipped {np.mean(used == 0):.0%} of the last {len(used)}")
            print(f"{label}Epoch {result.n_iter}: loss = {result.loss_curve[-1]:.6f}{val}, "
                  f"{rate:.0f} updates/s", flush=True)
        if stop:
            break

    if interval is not None and since_check > 0:
        check()  # the candidates after the last check are validated too
    if best_coef is not None and not np.array_equal(best_coef, coef):
        # the kept network is an earlier state: its momentum is unknown
        result.coef = best_coef
        result.velocity = np.zeros_like(velocity)
    if result.diverged_at is not None:
        _after_divergence(result, start_coef, data, net, cfg.alpha)
    elif validate and cfg.keep_start:
        result.kept_start = bool(np.array_equal(result.coef, start_coef))
    elif not validate and cfg.keep_start and result.n_candidates:
        _keep_start_unless_beaten(result, start_coef, data, net, cfg.alpha)
    if epochs is not None:
        epochs.close(result.coef, data)
    return result


def _keep_start_unless_beaten(result, start_coef, data, net, alpha):
    """Restore the start if the trained network's training loss is not below it.

    For a start that is a model already (the closed-form output layer):
    training must not leave the network worse on its own objective than it
    began.
    """
    initial = training_loss(start_coef, data, net, alpha)
    final = training_loss(result.coef, data, net, alpha)
    if not final < initial:
        result.coef = start_coef
        result.velocity = np.zeros_like(result.velocity)
        result.kept_loss = initial
        result.kept_start = True


def _after_divergence(result, start_coef, data, net, alpha):
    """Keep the weights before the divergence only if they are no worse than the start.

    The candidate (the best validated or the last weights before the
    divergence) is kept if its predictions are finite and its training loss
    is not above that of the initial weights; otherwise the initial weights
    are restored. The momentum restarts at zero either way, so that a
    ``warm_start`` fit continues calmly from what is kept.
    """
    result.initial_loss = training_loss(start_coef, data, net, alpha)
    loss = result.candidate_loss = training_loss(result.coef, data, net, alpha)
    if np.isfinite(loss) and loss <= result.initial_loss:
        result.kept = "best validated" if result.validation_scores else "last"
        result.kept_loss = loss
    else:
        result.kept = "initial"
        result.kept_start = True
        result.coef = start_coef
        result.kept_loss = result.initial_loss
    result.velocity = np.zeros_like(result.velocity)


def training_loss(coef, data, net, alpha=0.0):
    """Mean loss (with the L2 penalty) of the network ``net`` with parameters ``coef``
    on the training sequences.

    The weighted mean with ``data.sample_weight``. ``inf`` if any output is not finite.
    """
    X, lengths, Y, weights = data.training_part()
    with np.errstate(all="ignore"):
        out = net.outputs(X, lengths, coef).astype(np.float64)
        if net.per_step:  # every real step is a term of the mean
            out, Y = real_steps(out, lengths), real_steps(Y, lengths)
            weights = repeat_per_step(weights, lengths)
        if not np.isfinite(out).all():
            return np.inf
        sw, total = 1.0, len(Y)  # weighted: each sequence's term times w_i, over sum w_i
        if weights is not None:
            sw = weights[:, None]
            total = np.sum(sw)
        if net.head == HEAD_SOFTMAX:
            out -= out.max(axis=1, keepdims=True)
            log_p = out - np.log(np.exp(out).sum(axis=1, keepdims=True))
            loss = -np.sum(sw * Y * log_p) / total
        else:
            loss = 0.5 * np.sum(sw * (out - Y) ** 2) / total
        if alpha:
            w = coef[penalized(*net.sizes)].astype(np.float64)
            loss += 0.5 * alpha * float(np.dot(w, w))
    return float(loss) if np.isfinite(loss) else np.inf
