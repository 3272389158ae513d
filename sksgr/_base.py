"""What SRNClassifier and SRNRegressor share: parameters, fit, restarts, prediction."""

import copy
import os
import sys
import warnings
from abc import ABCMeta, abstractmethod
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
import sklearn.base
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._callbacks import NO_CALLBACKS, CallbackSupportMixin, FitCallbacks
from ._compat import Interval, InvalidParameterError, StrOptions, _check_sample_weight, _fit_context
from ._init import WEIGHT_ATTRIBUTES, init_coef, pack, weight_shapes
from ._output_layer import (
    DEFAULT_ALPHAS,
    mean_output_bias,
    ridge_output_layer,
    softmax_temperature,
)
from ._sequences import SEQUENCES, TABULAR, check_sequences
from ._steps import padded_steps, real_steps, repeat_per_step, step_targets, take_sequences
from ._training import (
    BLOWUP_FACTOR,
    TrainingConfig,
    TrainingData,
    single_blas_thread,
    stop_on_sigint,
    train_network,
)
from .network import (
    DS_MODES,
    HEAD_SOFTMAX,
    SELECTIONS,
    SOLVERS,
    STEERS,
    Network,
    Optimizer,
    SGRSettings,
    check_readout,
    readout_feature_names,
)
from .reservoir import check_input_features, sequence_features
from .streaming import StreamState

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_stacklevel():
    """``stacklevel`` for a warning issued by the caller of this function that points
    at the first frame outside sksgr and scikit-learn's fit wrapper (the user's
    call of ``fit`` or ``partial_fit``, or a meta-estimator's)."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (
        os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR
        or frame.f_code.co_filename == sklearn.base.__file__
    ):
        frame, level = frame.f_back, level + 1
    return level


class BaseSRN(CallbackSupportMixin, TransformerMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the simple recurrent network estimators.

    Not for direct use: see :class:`SRNClassifier` and :class:`SRNRegressor`.
    """

    _parameter_constraints: dict = {
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "readout": [str, tuple, list],
        "output_init": [StrOptions({"random", "mean", "ridge"})],
        "ridge_alphas": ["array-like", None],
        "init": [StrOptions({"normal", "pascanu", "xavier_uniform", "reservoir"})],
        "sigma": [Interval(Real, 0, None, closed="left")],
        "spectral_radius": [Interval(Real, 0, None, closed="neither"), None],
        "recurrent_nonzeros": [Interval(Integral, 1, None, closed="left"), None],
        "solver": [StrOptions({"sgd", "adam"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "nesterov": ["boolean"],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "max_candidates": [Interval(Integral, 1, None, closed="left"), None],
        "validation_interval": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "scoring": [str, callable, None],
        "bptt_depth": [Interval(Integral, 1, None, closed="left"), None],
        "n_restarts": [Interval(Integral, 1, None, closed="left")],
        "n_jobs": [Integral, None],
        "return_sequences": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "gradient_regularization": ["boolean"],
        "q_range": [tuple, list],
        "ds_mode": [StrOptions({"linear", "exact"})],
        "ds_max": [Interval(Real, 0, None, closed="neither"), None],
        "q_depth": [Interval(Integral, 1, None, closed="left"), None],
        "selection": [StrOptions({"minibatch", "example"})],
        "max_skips": [Interval(Integral, 1, None, closed="left"), None],
        "ds_momentum": ["boolean"],
        "steer": [StrOptions({"dS", "dQ"})],
    }

    def __init__(
        self,
        n_hidden=100,
        *,
        readout=("last", "mean", "max"),
        return_sequences=False,
        output_init="ridge",
        ridge_alphas=None,
        init="reservoir",
        sigma=0.01,
        spectral_radius=None,
        recurrent_nonzeros=None,
        solver="adam",
        learning_rate=3e-4,
        momentum=0.9,
        nesterov=False,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        alpha=0.0,
        batch_size=16,
        shuffle=True,
        max_iter=200,
        max_candidates=None,
        validation_interval=None,
        tol=1e-4,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=20,
        scoring=None,
        bptt_depth=None,
        n_restarts=1,
        n_jobs=None,
        random_state=None,
        verbose=0,
        warm_start=False,
        clip_norm=None,
        gradient_regularization=False,
        q_range=(-1.0, 1.0),
        ds_mode="linear",
        ds_max=None,
        q_depth=None,
        selection="minibatch",
        max_skips=10,
        ds_momentum=True,
        steer="dS",
    ):
        self.n_hidden = n_hidden
        self.readout = readout
        self.return_sequences = return_sequences
        self.output_init = output_init
        self.ridge_alphas = ridge_alphas
        self.init = init
        self.sigma = sigma
        self.spectral_radius = spectral_radius
        self.recurrent_nonzeros = recurrent_nonzeros
        self.solver = solver
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.alpha = alpha
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.max_iter = max_iter
        self.max_candidates = max_candidates
        self.validation_interval = validation_interval
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.scoring = scoring
        self.bptt_depth = bptt_depth
        self.n_restarts = n_restarts
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.clip_norm = clip_norm
        self.gradient_regularization = gradient_regularization
        self.q_range = q_range
        self.ds_mode = ds_mode
        self.ds_max = ds_max
        self.q_depth = q_depth
        self.selection = selection
        self.max_skips = max_skips
        self.ds_momentum = ds_momentum
        self.steer = steer

    # -- what the two heads do differently ---------------------------------
    _head = None  # HEAD_SOFTMAX or HEAD_IDENTITY (sksgr.network)

    @abstractmethod
    def _encode_targets(self, y, *, reset, classes=None, partial=False):
        """Validate ``y``; return it (validated) and the kernel targets (n, O).

        ``partial``: called by ``partial_fit``, whose ``classes`` fix the classes.
        """

    @abstractmethod
    def _n_fitted_outputs(self):
        """Number of network outputs of the fitted model (classes or targets)."""

    @abstractmethod
    def _split_validation(self, y, rng):
        """Indices (train, validation) of the internal validation split."""

    def _optimizer(self):
        """The optimizer's settings, as the kernel takes them."""
        return Optimizer(solver=SOLVERS[self.solver], learning_rate=self.learning_rate,
                         momentum=self.momentum, nesterov=self.nesterov, beta_1=self.beta_1,
                         beta_2=self.beta_2, epsilon=self.epsilon)

    def _sgr_settings(self):
        """The regularization's settings as the kernel takes them; None when it is off."""
        if not self.gradient_regularization:
            return None
        q_min, q_max = self._q_range()
        return SGRSettings(selection=SELECTIONS[self.selection], ds_mode=DS_MODES[self.ds_mode],
                           q_min=q_min, q_max=q_max, ds_max=self.ds_max or 0.0,
                           q_depth=self.q_depth or 0, max_skips=self.max_skips or 0,
                           ds_momentum=self.ds_momentum, steer=STEERS[self.steer])

    def _training_config(self):
        """The estimator's training settings as the plain configuration of the loop."""
        return TrainingConfig(
            network=self._net, optimizer=self._optimizer(), sgr=self._sgr_settings(),
            alpha=self.alpha, batch_size=self.batch_size, shuffle=self.shuffle,
            bptt_depth=self.bptt_depth, clip_norm=self.clip_norm,
            max_candidates=self.max_candidates, validation_interval=self.validation_interval,
            tol=self.tol, n_iter_no_change=self.n_iter_no_change, verbose=self.verbose,
            # a closed-form start is a model already: training keeps it unless it does
            # better, on validation or else on the training loss
            keep_start=self.output_init == "ridge",
        )

    def _zero_state(self, coef):
        """A fresh optimizer state for the parameters ``coef`` (momentum, or Adam's moments)."""
        return np.zeros(self._optimizer().state_size(coef.size), dtype=coef.dtype)

    def _check_params(self):
        """What ``_parameter_constraints`` cannot express; every fit checks it, used or not."""
        if self.n_jobs == 0:
            raise InvalidParameterError(
                f"The 'n_jobs' parameter of {type(self).__name__} must be an int other than 0 "
                "or None. Got 0 instead."
            )
        self._q_range()
        check_readout(self.readout)
        if (self.bptt_depth is not None and self.q_depth is not None
                and self.q_depth >= self.bptt_depth):
            raise ValueError(
                f"q_depth ({self.q_depth}) must be smaller than bptt_depth ({self.bptt_depth}): "
                "the deltas that Q measures must be backpropagated."
            )
        if self.gradient_regularization and self.bptt_depth is not None and self.q_depth is None:
            raise ValueError("With bptt_depth set, set q_depth < bptt_depth as well.")
        if self.return_sequences and self.bptt_depth is not None:
            raise ValueError(
                "bptt_depth must be None with return_sequences=True: every step's error is "
                "backpropagated through the whole sequence."
            )

    def _q_range(self):
        """``(q_min, q_max)`` as floats, checked: two numbers, not NaN, q_min <= q_max."""
        try:
            q_min, q_max = (float(q) for q in self.q_range)
        except (TypeError, ValueError):
            raise ValueError(
                f"q_range must be a pair of numbers (q_min, q_max), got {self.q_range!r}."
            ) from None
        if np.isnan(q_min) or np.isnan(q_max):
            raise ValueError(f"q_range must not contain NaN, got {self.q_range!r}.")
        if not q_min <= q_max:
            raise ValueError(f"q_range must have q_min <= q_max, got {self.q_range!r}.")
        return q_min, q_max

    # -- parameters as the fitted attributes ------------------------------
    def _set_coef(self, coef):
        """Set the public weight attributes from a flat parameter vector (copied)."""
        for name, value in zip(WEIGHT_ATTRIBUTES, self._net.unpack(coef.copy())):
            setattr(self, name, value)

    def _get_coef(self):
        """The flat parameter vector, packed from the (possibly user-edited) attributes.

        Their shapes are checked first (:meth:`_fitted_network`).
        """
        self._fitted_network()
        return pack([getattr(self, name) for name in WEIGHT_ATTRIBUTES], self._dtype)

    def _fitted_network(self):
        """The fitted :class:`~sksgr.network.Network`: sizes from the weights, readout
        and head from the fit.

        The size of the network is that of the fitted weight attributes, and
        its readout the one it was fitted with, not the ``n_hidden`` and
        ``readout`` parameters (which may have been changed since). Every
        attribute is checked against the others; a mismatch raises a
        ValueError naming the attribute.
        """
        shapes = {name: np.shape(getattr(self, name)) for name in WEIGHT_ATTRIBUTES}
        W_in = shapes["input_weights_"]
        if len(W_in) != 2:
            raise ValueError(
                f"input_weights_ must be 2-D (n_features, n_hidden), got shape {W_in}."
            )
        F, H = W_in
        F_fit = self.n_features_in_ if self._input_form == SEQUENCES else 1
        if F != F_fit:
            raise ValueError(
                f"input_weights_ has shape {W_in} but the model was fitted on {F_fit} "
                f"feature(s) per step: expected ({F_fit}, n_hidden)."
            )
        O = self._n_fitted_outputs()
        readout = self._fitted_readout
        for name, expected in zip(WEIGHT_ATTRIBUTES, weight_shapes(F, H, O, len(readout))):
            if shapes[name] != expected:
                raise ValueError(
                    f"{name} has shape {shapes[name]} but input_weights_ implies "
                    f"n_hidden={H}, the model has {O} output(s) and its readout {readout} "
                    f"{len(readout)} pool(s): expected {expected}."
                )
        return Network(F, H, O, self._head, readout, per_step=self._per_step)

    @property
    def _per_step(self):
        """Whether the fitted network outputs at every step (``return_sequences`` at fit)."""
        return getattr(self, "_fitted_per_step", False)

    @property
    def _dtype(self):
        return self.recurrent_weights_.dtype

    # -- fitting ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None):
        """Fit the network to sequences ``X`` and targets ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_timesteps), or list of arrays
            Training sequences: a 3-D array padded with NaN after each
            sequence's end, a 2-D array of univariate sequences, or a list of
            ``(n_timesteps_i, n_features)`` arrays.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: class labels (classifier) or values (regressor).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the sequences (finite, non-negative, not all zero);
            ``None`` weighs them equally. Each sequence's loss is multiplied
            by its weight; the weights are scaled to mean 1 over the training
            sequences and a minibatch's loss is ``sum_b w_b l_b / B`` (the L2
            penalty is added once, as without weights), an estimate of the
            weighted mean loss of the whole training set. So only ratios of
            weights matter, equal weights give the same numbers as ``None``,
            and with one minibatch per epoch an integer weight k is the
            sequence appearing k times; a zero weight removes the sequence
            from training. The classifier multiplies in
            ``class_weight``. With ``early_stopping`` the weights follow their
            sequences into the split, and the internal validation score is
            weighted by them (as scikit-learn's MLP; not by ``class_weight``;
            a callable ``scoring`` then must accept ``sample_weight``).
            ``X_val, y_val`` are scored unweighted.
        X_val, y_val : same forms as ``X`` and ``y``, default=None
            A validation set used instead of the internal split; requires
            ``early_stopping=True`` (as HistGradientBoosting's ``fit``).

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._check_params()
        warm = self.warm_start and hasattr(self, "recurrent_weights_")
        Xp, lengths, y, Y = self._training_arrays(X, y, reset=not warm)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, Xp, dtype=np.float64,
                                                 ensure_non_negative=True)
        weights = self._sequence_weights(sample_weight, y)
        rng = check_random_state(self.random_state)

        if (X_val is None) != (y_val is None):
            raise ValueError(
                "X_val and y_val must be passed together: "
                f"got X_val={'None' if X_val is None else 'an array'} and "
                f"y_val={'None' if y_val is None else 'an array'}."
            )
        if X_val is not None and not self.early_stopping:
            raise ValueError(
                "X_val and y_val are passed to fit while early_stopping is False. "
                "Set early_stopping=True to use them for validation."
            )
        data = _training_data(Xp, lengths, Y, weights)
        validation = None
        if X_val is not None:
            self._training_arrays(X_val, y_val, reset=False, names=("X_val", "y_val"))
            validation = X_val, y_val
        elif self.early_stopping:
            if self.return_sequences:  # no one label per sequence to stratify by
                train, val = train_test_split(np.arange(len(Xp)), random_state=rng,
                                              test_size=self.validation_fraction)
            else:
                train, val = self._split_validation(y, rng)
            data.train_idx = _weighted_part(train.astype(np.intp), data.sample_weight,
                                            "training part of the early_stopping split")
            validation = _nan_padded(Xp[val], lengths[val]), take_sequences(y, val)
            if sample_weight is not None:
                if not np.any(sample_weight[val] > 0):
                    raise ValueError(
                        "The sample weights of the early_stopping validation split are all "
                        "zero; use another random_state or a larger validation_fraction."
                    )
                validation += (sample_weight[val],)

        if warm:
            # as scikit-learn's MLP: a warm fit continues the weights with a
            # fresh optimizer state (partial_fit keeps it)
            coef = self._warm_coef()
            starts = [(coef, self._zero_state(coef))]
            seeds = [rng.randint(np.iinfo(np.int32).max)]
        else:
            seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_restarts)
            starts = [(self._start_coef(seed, data), None) for seed in seeds]
            starts = [(c, self._zero_state(c)) for c, _ in starts]
        callbacks = FitCallbacks(self, self._net, data, y, sample_weight,
                                 n_networks=len(starts), max_epochs=self.max_iter)
        self._run(data, starts, seeds, max_epochs=self.max_iter, warm=warm,
                  validation=validation, refit=not warm, callbacks=callbacks)
        return self

    def _start_coef(self, seed, data):
        """The initial weights of a new network: drawn, then the output layer as
        ``output_init`` asks, fitted on the training part of ``data``."""
        coef = self._init_coef(seed, data.X.dtype)
        if self.output_init == "random":
            return coef
        if self.output_init == "mean":
            _, lengths, Y, sw = data.training_part()
            if self._net.per_step:
                Y, sw = real_steps(Y, lengths), repeat_per_step(sw, lengths)
            coef[self._net.slices()["b_out"]] = mean_output_bias(
                Y, softmax=self._net.head == HEAD_SOFTMAX, sample_weight=sw)
            return coef
        return self._ridge_output(coef, data)

    def _ridge_output(self, coef, data, *, calibrate=False):
        """``coef`` (modified) with the output layer fitted by ridge regression on the
        readout features of the training part of ``data``; ``calibrate``: the
        classifier's +-1 scores scaled to a calibrated softmax (one temperature)."""
        net = self._net
        X, lengths, Y, sw = data.training_part()
        softmax = net.head == HEAD_SOFTMAX
        slices = net.slices()
        alphas = DEFAULT_ALPHAS if self.ridge_alphas is None else self.ridge_alphas
        # one BLAS thread: the same result whatever else runs at the same time
        with single_blas_thread(nested=True):
            feats = net.features(X, lengths, coef)
            if net.per_step:  # every real step is a row of the regression
                feats, Y = real_steps(feats, lengths), real_steps(Y, lengths)
                sw = repeat_per_step(sw, lengths)
            W_out, b_out, _ = ridge_output_layer(feats, Y, softmax=softmax, sample_weight=sw,
                                                 alphas=alphas)
            if softmax and calibrate:
                tau = softmax_temperature(feats @ W_out + b_out, Y, sw)
                W_out, b_out = tau * W_out, tau * b_out
        coef[slices["W_out"]] = W_out.ravel()
        coef[slices["b_out"]] = b_out
        return coef

    def _training_weights(self, sample_weight, y, *, partial=False):
        """The per-sequence weights of the loss from the validated ``sample_weight``
        (None when all sequences weigh the same); the classifier adds ``class_weight``."""
        return sample_weight

    def _sequence_weights(self, sample_weight, y, *, partial=False):
        """``_training_weights``; per step the sequences' own weights (the classifier
        refuses ``class_weight`` there, see ``_check_params``)."""
        if self.return_sequences:
            return sample_weight
        return self._training_weights(sample_weight, y, partial=partial)

    def _warm_coef(self):
        """The fitted weights to continue from; their size must be ``n_hidden``."""
        H = self._fitted_network().n_hidden
        if H != self.n_hidden:
            raise ValueError(
                f"Cannot continue training with n_hidden={self.n_hidden}: the fitted "
                f"network has {H} hidden units (recurrent_weights_ has shape {(H, H)}). "
                f"Set n_hidden={H} to continue it, or warm_start=False to train a new network."
            )
        if not self._per_step and check_readout(self.readout) != self._fitted_readout:
            raise ValueError(
                f"Cannot continue training with readout={self.readout!r}: the fitted network "
                f"reads {self._fitted_readout!r}. Set it back, or warm_start=False to train a "
                "new network."
            )
        coef = self._get_coef()
        if not np.isfinite(coef).all():
            raise ValueError(f"The weights of this {type(self).__name__} are not finite.")
        self._net = self._fitted_network()
        return coef

    def _warm_velocity(self, dtype):
        """The optimizer state to continue with: fresh if the sizes or the solver changed."""
        velocity = getattr(self, "_velocity", None)
        n = self._optimizer().state_size(self._net.n_params)
        if velocity is None or velocity.shape != (n,):
            # other sizes, or another solver since the last fit: a fresh state
            return np.zeros(n, dtype=dtype)
        return velocity.astype(dtype, copy=True)

    def _init_coef(self, seed, dtype):
        # one BLAS thread: the spectral radius (LAPACK) then does not depend
        # on how busy OpenBLAS's shared thread pool is
        with single_blas_thread(nested=True):
            return self._draw_coef(seed, dtype)

    def _draw_coef(self, seed, dtype):
        return init_coef(
            *self._net.sizes[:3], n_pools=self._net.n_pools, init=self.init, sigma=self.sigma,
            spectral_radius=self.spectral_radius,
            recurrent_nonzeros=self.recurrent_nonzeros,
            rng=np.random.RandomState(seed), dtype=dtype,
        )

    def _continue(self, X, y, *, max_candidates, max_epochs, random_state):
        """Train the fitted network further from its weights *and momentum*, no validation.

        What a chunk of :func:`sksgr.diagnostics.record_dynamics` is: unlike a
        ``warm_start`` fit, it never restarts the optimizer state. ``tol`` is
        off; the shuffling seed is drawn from ``random_state``.
        """
        self._check_params()
        Xp, lengths, _, Y = self._training_arrays(X, y, reset=False)
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        start = (self._warm_coef(), self._warm_velocity(Xp.dtype))
        self._run(_training_data(Xp, lengths, Y), [start], [seed], max_epochs=max_epochs,
                  warm=True, overrides=dict(max_candidates=max_candidates, tol=None))
        return self

    def _run(self, data, starts, seeds, *, max_epochs, warm, validation=None, overrides=None,
             refit=False, callbacks=NO_CALLBACKS):
        """Train one network per start (in parallel) and keep the best.

        ``validation``: ``(X_val, y_val)`` scored with ``scoring``, or None.
        ``refit``: with ``output_init="ridge"``, fit the kept network's output
        layer again in closed form (a cold ``fit``).
        ``overrides``: fields of the training configuration that replace the
        estimator's parameters for this run. ``callbacks``: the fit's
        callback tasks (``sksgr._callbacks.FitCallbacks``), ended here.
        """
        config = replace(self._training_config(), **(overrides or {}))
        if warm:  # a warm fit (warm_start, partial_fit) moves on from where it is
            config = replace(config, keep_start=False)
        score = None
        if validation is not None:
            score = _ValidationScore(self, check_scoring(self, scoring=self.scoring), *validation)
        many = len(starts) > 1
        # One BLAS thread per network, whatever n_jobs: the GEMMs are small,
        # parallelism comes from restarts, and results do not depend on n_jobs.
        with single_blas_thread(), stop_on_sigint() as flag:
            results = Parallel(n_jobs=self.n_jobs if many else 1, prefer="threads")(
                delayed(train_network)(
                    config, data, start, seed, score=score, max_epochs=max_epochs,
                    stop_flag=flag, label=f"[restart {i}] " if many else "",
                    epochs=callbacks.network(i),
                )
                for i, (start, seed) in enumerate(zip(starts, seeds))
            )
        scores = np.array([r.rank_score for r in results])
        best = results[int(np.argmax(scores))]
        if refit and self.output_init == "ridge" and not best.kept_start and best.n_candidates:
            # the trained network's readout, fitted again in closed form
            best.coef = self._ridge_output(best.coef.copy(), data, calibrate=True)
        self._set_coef(best.coef)
        self._velocity = best.velocity
        validated = validation is not None
        self.restart_scores_ = scores
        # a warm fit (warm_start, partial_fit) adds to the records of the earlier ones
        keep = warm and hasattr(self, "loss_curve_")
        self.loss_curve_ = (self.loss_curve_ if keep else []) + best.loss_curve
        for name in ("n_iter", "n_updates", "n_candidates", "n_clipped"):
            setattr(self, name + "_", (getattr(self, name + "_") if keep else 0)
                    + getattr(best, name))
        used = np.concatenate(best.used_history) if best.used_history else None
        for name, new in (("q_history_", best.q_history), ("ds_history_", best.ds_history),
                          ("used_history_", [used > 0] if used is not None else [])):
            old = [getattr(self, name)] if keep and getattr(self, name) is not None else []
            setattr(self, name, np.concatenate(old + new) if old or new else None)
        counts = [0, 0] if used is None else [np.count_nonzero(used == 0),
                                             np.count_nonzero(used == 2)]
        self.n_skipped_ = int(counts[0]) + (self.n_skipped_ if keep else 0)
        self.n_guarded_ = int(counts[1]) + (self.n_guarded_ if keep else 0)
        self.kept_start_ = bool(best.kept_start)
        self.validation_scores_ = best.validation_scores if validated else None
        self.best_validation_score_ = best.best_validation_score if validated else None
        self._warn_about(results, best, max_epochs, config)
        callbacks.end()

    def _warn_about(self, results, best, max_epochs, config):
        name = type(self).__name__
        if any(r.interrupted for r in results):
            what = ("the best validated weights so far" if best.validation_scores
                    else "the last weights")
            warnings.warn(f"{name}: training interrupted by user; kept {what}.",
                          stacklevel=_caller_stacklevel())
        diverged = [r for r in results if r.diverged_at is not None]
        if diverged:
            r = best if best.diverged_at is not None else diverged[0]
            if r.kept == "initial":
                candidate = "best validated" if r.validation_scores else "last"
                what = (f"the initial weights (training loss {r.initial_loss:.4g}): the "
                        f"{candidate} weights before the divergence had a higher one "
                        f"({r.candidate_loss:.4g})")
            else:
                what = (f"the {r.kept} weights before the divergence (training loss "
                        f"{r.kept_loss:.4g}, initially {r.initial_loss:.4g})")
            where = "" if len(results) == 1 else f" in {len(diverged)} of {len(results)} networks"
            kept = "" if r is best else " (for that network; another one was kept)"
            warnings.warn(
                f"{name}: training diverged at candidate minibatch {r.diverged_at}{where} "
                "(a non-finite loss or gradient, or a step taking a weight beyond "
                f"{BLOWUP_FACTOR:.0e} times its scale); kept {what}{kept}. "
                "Try a smaller learning_rate, a smaller sigma or spectral_radius, clip_norm, "
                "or alpha > 0.",
                ConvergenceWarning,
                stacklevel=_caller_stacklevel(),
            )
        if (best.diverged_at is None and not best.converged and not best.interrupted
                and best.n_iter >= max_epochs and config.tol is not None
                and config.max_candidates is None and max_epochs > 1):
            warnings.warn(
                f"{name}: maximum iterations ({max_epochs}) reached and the optimization "
                "hasn't converged yet.",
                ConvergenceWarning,
                stacklevel=_caller_stacklevel(),
            )

    def _training_arrays(self, X, y, *, reset, classes=None, partial=False, names=("X", "y")):
        """Validate training data; with ``reset`` record the input and target shapes.

        Returns ``(X_padded, lengths, y, Y)`` with ``Y`` the kernel targets;
        without ``reset``, ``X_padded`` is in the dtype of the fitted weights.
        Per step (``return_sequences``), ``y`` is returned as given (one entry
        per sequence) and ``Y`` is ``(n, T, O)``: each real step's target
        validated and encoded by the head as a sample of its own.
        """
        Xp, lengths = check_sequences(self, X, reset=reset)
        if not reset and bool(self.return_sequences) != self._per_step:
            raise ValueError(
                f"Cannot continue training with return_sequences={self.return_sequences}: the "
                f"fitted network was trained with return_sequences={self._per_step}. Set it "
                "back, or warm_start=False to train a new network."
            )
        if self.return_sequences:
            flat = step_targets(y, lengths, Xp.shape[1], x_name=names[0], y_name=names[1])
            _, flat = self._encode_targets(flat, reset=reset, classes=classes, partial=partial)
            Y = np.zeros((len(Xp), Xp.shape[1], flat.shape[1]))
            Y[np.arange(Xp.shape[1])[None, :] < lengths[:, None]] = flat
        else:
            y, Y = self._encode_targets(y, reset=reset, classes=classes, partial=partial)
            _check_lengths(Xp, y, *names)
        if reset:
            self._fitted_per_step = bool(self.return_sequences)
            self._fitted_readout = ("last",) if self.return_sequences else check_readout(
                self.readout)
            self._net = Network(Xp.shape[2], self.n_hidden, Y.shape[-1], self._head,
                                self._fitted_readout, per_step=self._fitted_per_step)
        elif hasattr(self, "recurrent_weights_"):  # (X_val is checked before any weights)
            Xp = Xp.astype(self._dtype, copy=False)
        return Xp, lengths, y, Y

    def _initialize(self, X, y):
        """Validate ``(X, y)`` as a cold ``fit`` does and set the initial weights; no training.

        The weights are those ``fit`` starts from (its first restart) when
        ``early_stopping=False``: the seed is the first draw from
        ``check_random_state(self.random_state)``. Used by
        :func:`sksgr.diagnostics.init_network`. Returns self.
        """
        self._validate_params()
        self._check_params()
        Xp, lengths, y, Y = self._training_arrays(X, y, reset=True)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        coef = self._start_coef(seed, _training_data(Xp, lengths, Y, None))
        self._set_coef(coef)
        self._velocity = self._zero_state(coef)
        self.loss_curve_ = []
        self.n_iter_ = self.n_updates_ = self.n_candidates_ = self.n_clipped_ = 0
        self.n_skipped_ = self.n_guarded_ = 0
        self.q_history_ = self.ds_history_ = self.used_history_ = None
        self.validation_scores_ = self.best_validation_score_ = None
        self.restart_scores_ = np.array([])
        self.kept_start_ = False
        return self

    def _partial_fit(self, X, y, classes=None, sample_weight=None):
        self._check_params()
        first = not hasattr(self, "recurrent_weights_")
        Xp, lengths, y, Y = self._training_arrays(X, y, reset=first, classes=classes,
                                                  partial=True)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, Xp, dtype=np.float64,
                                                 ensure_non_negative=True)
        data = _training_data(Xp, lengths, Y,
                              self._sequence_weights(sample_weight, y, partial=True))
        if first or not hasattr(self, "_random_state"):
            self._random_state = check_random_state(self.random_state)
        if first:
            seed = self._random_state.randint(np.iinfo(np.int32).max)
            coef = self._start_coef(seed, data)
            velocity = self._zero_state(coef)
        else:
            coef = self._warm_coef()
            velocity = self._warm_velocity(coef.dtype)
        seed = self._random_state.randint(np.iinfo(np.int32).max)
        # partial_fit learns step by step: it never goes back to its start
        callbacks = FitCallbacks(self, self._net, data, y, sample_weight, n_networks=1,
                                 max_epochs=1)
        self._run(data, [(coef, velocity)], [seed], max_epochs=1, warm=not first,
                  overrides=dict(keep_start=False), callbacks=callbacks)
        return self

    # -- prediction ---------------------------------------------------------
    def transform(self, X):
        """The readout features of the fitted network: what its output layer reads.

        With ``readout="last"`` the hidden state at each sequence's last step;
        with pools, their concatenation in ``readout``'s order. A trained
        network thus feeds any scikit-learn estimator in a ``Pipeline``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_timesteps), or list of arrays
            Sequences, in any form ``fit`` accepts.

        Returns
        -------
        features : ndarray of shape (n_samples, n_readout_features)
            ``len(readout) * n_hidden`` columns, named by
            :meth:`get_feature_names_out`. With ``return_sequences=True``
            the hidden state of every step instead, shape
            ``(n_samples, n_timesteps, n_hidden)``, NaN past each sequence's end.
        """
        net, coef = fitted_network(self)
        return sequence_features(self, net, coef, X)

    def get_feature_names_out(self, input_features=None):
        """Names of the :meth:`transform` features: ``"<class>_<pool><unit>"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_`` (or ``n_features_in_``) as
            scikit-learn's transformers do; the names do not depend on it.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        net, _ = fitted_network(self)
        check_input_features(self, input_features)
        prefix = type(self).__name__.lower()
        if net.per_step:  # the state's units, at every step
            return np.asarray([f"{prefix}_state{j}" for j in range(net.n_hidden)], dtype=object)
        return readout_feature_names(net.readout, net.n_hidden, prefix)

    def _outputs(self, X, *, with_lengths=False):
        """Network outputs at each sequence's last step, shape (n_samples, n_outputs);
        per step ``(n_samples, n_timesteps, n_outputs)``, NaN past each end.

        ``with_lengths``: also the sequences' lengths.
        """
        net, coef = fitted_network(self)
        Xp, lengths = check_sequences(self, X, reset=False)
        Xp = Xp.astype(coef.dtype, copy=False)
        # one BLAS thread: the same outputs whatever else runs at the same time
        with single_blas_thread(nested=True):
            out = net.outputs(Xp, lengths, coef)
        return (out, lengths) if with_lengths else out

    def _predictions(self, X, decide):
        """``decide(outputs)`` on the outputs of each sequence; per step on those of
        every real step, returned padded with NaN past each sequence's end."""
        out, lengths = self._outputs(X, with_lengths=True)
        if not self._per_step:
            return decide(out)
        return padded_steps(decide(real_steps(out, lengths)), lengths, out.shape[1])

    # -- streaming ------------------------------------------------------------
    def start_stream(self, n_sequences=1):
        """The state of ``n_sequences`` sequences before their first step.

        Parameters
        ----------
        n_sequences : int, default=1
            Sequences fed together (a batch that advances step by step).

        Returns
        -------
        state : :class:`sksgr.streaming.StreamState`
            Pass it to :meth:`predict_stream` with the first step(s).
        """
        net, coef = fitted_network(self)
        return StreamState.start(n_sequences, net, coef)

    def predict_stream(self, X, state):
        """Predictions for the next step(s) of streamed sequences, and the new state.

        Each step's prediction is that of the sequence ending there: per
        step (``return_sequences=True``) what :meth:`predict` gives at that
        step; many-to-one, what :meth:`predict` gives on the prefix up to it
        (every readout streams: the mean and maximum run over the steps so
        far). ``state`` is not modified.

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_steps, n_features)
            The next ``n_steps`` >= 1 steps of each sequence, no NaN;
            ``(n_sequences, n_steps)`` for a network fitted on 2-D
            (univariate) input.
        state : :class:`sksgr.streaming.StreamState`
            From :meth:`start_stream` or the previous call.

        Returns
        -------
        predictions : ndarray of shape (n_sequences, n_steps) or \
                (n_sequences, n_steps, n_outputs)
            As :meth:`predict` returns them per step.
        state : :class:`sksgr.streaming.StreamState`
            The state after these steps.
        """
        out, state = self._stream(X, state)
        return self._stream_decided(out, self._decide), state

    def _stream(self, X, state):
        """The outputs of the next steps ``X`` from ``state``, and the new state.

        Checked lightly, for latency: the fitted network's sizes (not its
        weights: the state holds those it started with) and finite steps.
        """
        check_is_fitted(self, "recurrent_weights_")
        if not isinstance(state, StreamState):
            raise TypeError(f"state must be a StreamState (from start_stream), got "
                            f"{type(state).__name__}.")
        net = state.network
        if (net.n_hidden, net.n_outputs, net.head, net.per_step) != (
                self.recurrent_weights_.shape[0], self._n_fitted_outputs(), self._head,
                self._per_step):
            raise ValueError("state was started for another network: start one with this "
                             "estimator's start_stream.")
        X = np.asarray(X, dtype=state.coef.dtype)
        if X.ndim == 2 and self._input_form == TABULAR:  # a chunk of univariate steps
            X = X[:, :, None]
        if X.ndim != 3 or X.shape[1] < 1:
            raise ValueError(f"X must be (n_sequences, n_steps, n_features) with n_steps >= 1, "
                             f"got shape {X.shape}.")
        if not np.isfinite(X).all():
            raise ValueError("X must hold the same number of steps for every streamed sequence, "
                             "with no NaN or infinity.")
        return state.advance(X)

    @staticmethod
    def _stream_decided(out, decide):
        n, t = out.shape[:2]
        decided = decide(out.reshape(n * t, -1))
        return decided.reshape((n, t) + decided.shape[1:])

    def _step_score(self, X, y, sample_weight, metric, decide):
        """``metric(y_true, y_pred, sample_weight=...)`` over every real step (per step):
        each step counts as a sample, weighted by its sequence's weight."""
        out, lengths = self._outputs(X, with_lengths=True)
        y_true = step_targets(y, lengths, out.shape[1])
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, out, dtype=np.float64)
        return float(metric(y_true, decide(real_steps(out, lengths)),
                            sample_weight=repeat_per_step(sample_weight, lengths)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        return tags


# -- the internal interface of the other modules (diagnostics) to a network ------
# Only the estimator modules touch an estimator's private members; the others
# go through these functions.

def fitted_network(estimator):
    """``(network, coef)`` of a fitted estimator: its :class:`~sksgr.network.Network`
    and flat parameters, read from its weight attributes (checked, finite)."""
    check_is_fitted(estimator, "recurrent_weights_")
    net = estimator._fitted_network()
    coef = estimator._get_coef()
    if not np.isfinite(coef).all():
        raise ValueError(f"The weights of this {type(estimator).__name__} are not finite.")
    return net, coef


def kernel_targets(estimator, y):
    """``(y, Y)``: ``y`` validated for the fitted estimator and the kernel targets ``Y`` (n, O)."""
    return estimator._encode_targets(y, reset=False)


def initialized_network(estimator, X, y):
    """``estimator`` (modified) validated on ``(X, y)`` with its initial weights, untrained."""
    return estimator._initialize(X, y)


def continue_training(estimator, X, y, *, max_candidates, max_epochs, random_state):
    """Train a fitted estimator ``max_candidates`` more candidate minibatches (at most
    ``max_epochs`` epochs), keeping its momentum, without validation or ``tol``."""
    return estimator._continue(X, y, max_candidates=max_candidates, max_epochs=max_epochs,
                               random_state=random_state)


class _ValidationScore:
    """``score(coef)`` of the training loop: the scorer on a copy carrying ``coef``.

    A picklable object (not a closure), so that restarts can run on any
    joblib backend.
    """

    def __init__(self, estimator, scorer, X_val, y_val, sample_weight=None):
        self.estimator = copy.copy(estimator)
        self.scorer, self.X_val, self.y_val = scorer, X_val, y_val
        self.sample_weight = sample_weight

    def __call__(self, coef):
        net = copy.copy(self.estimator)  # one per call: restarts may score in parallel
        net._set_coef(coef)
        weighted = {} if self.sample_weight is None else {"sample_weight": self.sample_weight}
        return float(self.scorer(net, self.X_val, self.y_val, **weighted))


def _training_data(Xp, lengths, Y, sample_weight=None):
    """All sequences as training data, targets (and weights) in the dtype of the kernels.

    With weights, the sequences of zero weight are left out of training
    (``train_idx``), exactly as if they were not in ``X``.
    """
    data = TrainingData(X=Xp, lengths=lengths, Y=np.ascontiguousarray(Y, dtype=Xp.dtype),
                        train_idx=np.arange(len(Xp), dtype=np.intp))
    if sample_weight is not None:
        data.sample_weight = np.ascontiguousarray(sample_weight, dtype=Xp.dtype)
        data.train_idx = _weighted_part(data.train_idx, data.sample_weight, "training data")
    return data


def _weighted_part(idx, sample_weight, what):
    """The indices ``idx`` of the sequences of non-zero weight (all without weights)."""
    if sample_weight is None:
        return idx
    idx = idx[sample_weight[idx] > 0]
    if idx.size == 0:
        raise ValueError(f"Sample weights are zero for every sequence of the {what}.")
    return idx


def _check_lengths(Xp, y, x_name, y_name):
    if len(Xp) != len(y):
        raise ValueError(
            f"{x_name} and {y_name} have inconsistent numbers of samples: "
            f"{len(Xp)} sequences and {len(y)} targets."
        )


def _nan_padded(Xp, lengths):
    """Back from zero padding to the NaN-padded 3-D form the estimators accept."""
    X = Xp.copy()
    X[np.arange(X.shape[1])[None, :] >= lengths[:, None]] = np.nan
    return X
