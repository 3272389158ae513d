"""SRNClassifier and SRNRegressor: simple recurrent networks (tanh Elman RNNs)."""

import inspect

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.utils import assert_all_finite
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight
from sklearn.utils.extmath import softmax
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, column_or_1d

from ._base import BaseSRN
from ._compat import StrOptions, _check_partial_fit_first_call, _fit_context
from .network import HEAD_IDENTITY, HEAD_SOFTMAX

_PARAMETERS = """
    The defaults are chosen for a user's first fit, by cross-validation on
    the training splits of real sequence data and the adding problem (see
    the user guide's "The defaults"): an echo-state start (``init="reservoir"``, the last, mean
    and max hidden states read out, the output layer fitted in closed form
    by ridge regression), then Adam at 3e-4 with minibatches of 16 and MLP's
    stopping rule with a patience of 20 epochs. Inputs should be
    standardised (:class:`sksgr.SequenceScaler`). The paper's configuration
    is ``n_hidden=100``, ``readout="last"``, ``output_init="random"``, ``init="pascanu"`` (or
    ``"normal"``, its literal text), ``solver="sgd"``,
    ``learning_rate=1e-3``, ``momentum=0.9``, ``batch_size=10``,
    ``n_iter_no_change=10``; the Table 1 benchmark passes it explicitly.

    Parameters
    ----------
    n_hidden : int, default={n_hidden}
        Number of hidden (recurrent) units; the paper uses 100. {n_hidden_note}
    readout : {{"last", "mean", "max"}} or tuple of them, default=("last", "mean", "max")
        What the output layer reads from the hidden states ``z(0 ... T_i - 1)``
        of each sequence: "last" the state at its own last step (the
        paper's eq. 1), "mean" and "max" their mean and unit-wise maximum
        over its real steps (padding excluded); a tuple concatenates them in
        its order, e.g. ``("last", "mean", "max")`` (``len(readout) *
        n_hidden`` features, see :meth:`transform`). Backpropagation sends
        every real step its share of the output error: the mean pool ``1 /
        T_i`` of it at each step, the max pool each unit's error to the step
        of its maximum.
        Only used when ``return_sequences=False``.
    return_sequences : bool, default=False
        Sequence to sequence (Keras's name): an output at every step, read
        from that step's own hidden state (``readout`` is not used: a pool
        over the whole sequence would see the future). ``y`` then holds a
        target per step, shaped and padded like ``X`` (``(n_samples,
        n_timesteps)``, for the regressor also ``(n_samples, n_timesteps,
        n_outputs)``, entries past each sequence's end ignored; or a list of
        per-sequence arrays). The loss is the mean over all real steps (a
        sequence's ``sample_weight`` weighs each of its steps); ``predict``,
        ``predict_proba`` and ``score`` work per step, and the ``score`` that
        ``GridSearchCV`` and ``cross_val_score`` use by default counts every
        real step. Every step's error is backpropagated through the whole
        sequence (``bptt_depth`` must be None); the gradient regularization
        measures Q and dS on the deltas of each sequence's last-step error
        alone, the quantities of the many-to-one network (see Notes).
    output_init : {{"random", "mean", "ridge"}}, default="ridge"
        How the output layer starts. "random": drawn by ``init``, bias 0
        (the paper's). "mean": drawn, with the bias at the training targets'
        mean (regression) or the log of the class frequencies. "ridge": the
        output weights and bias fitted in closed form by ridge regression
        of the targets (classes as +-1 codes) on the initial network's
        standardised readout features, the penalty chosen among
        ``ridge_alphas`` by generalised cross-validation (as
        :class:`~sklearn.linear_model.RidgeCV`): an echo-state network's
        readout, from which training continues; after training, the output
        layer of the network kept is fitted again the same way on its trained
        readout features (the classifier's scores scaled by one softmax
        temperature, fitted on the training loss, so that ``predict_proba``
        is calibrated). The start is kept as it is, without that refit, when
        training does not beat it: on validation with ``early_stopping``, on
        the training loss otherwise (``kept_start_``). ``max_iter=0``
        returns it untrained.
    ridge_alphas : array-like of float, default=None
        The penalties ``output_init="ridge"`` chooses from; None:
        ``numpy.logspace(-3, 3, 13)``.
    init : {{"normal", "pascanu", "xavier_uniform", "reservoir"}}, default="reservoir"
        How the initial weights are drawn (biases start at zero).
        "normal": every weight from N(0, sigma^2), the paper's literal
        text. "pascanu": the same draw, then 15 entries per recurrent row
        kept and the recurrent matrix rescaled to spectral radius 0.95
        (Pascanu et al. 2013, code ``pascanur/trainingRNNs``): the paper's
        "sigma = 0.01 as in [10]" most likely means this whole init, since
        its Fig. 2 remark (a long-term gradient norm still above 1e-7 at
        depth 100 before training) holds for it and not for a dense
        sigma = 0.01 draw. "xavier_uniform": each matrix from U[-a, a],
        ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010), the init
        of the paper's authors' public code for their sibling 2016 paper;
        ``sigma`` is then unused. "reservoir": an echo-state network's
        recurrent part, the weights of :class:`sksgr.SRNFeatures` (input
        weights U[-0.5, 0.5], hidden biases U[-0.2, 0.2], a dense Gaussian
        recurrent matrix at spectral radius 0.95 unless ``spectral_radius``
        or ``recurrent_nonzeros`` say otherwise), the output layer as
        "xavier_uniform"; made for standardised inputs
        (:class:`sksgr.SequenceScaler`) and ``output_init="ridge"``.
    sigma : float, default=0.01
        Standard deviation of the Gaussian initial weights (paper: 0.01),
        used by ``init="normal"`` and ``"pascanu"``.
    spectral_radius : float, default=None
        If set, the recurrent matrix is rescaled to this spectral radius
        after the draw; ``None`` keeps the init's own choice (0.95 for
        "pascanu", no rescaling otherwise). With ``init="normal"``,
        ``sigma=0.01`` and 100 units the radius is about 0.1, and the
        gradient of step 1 is ~1e-99 of the last step's at T = 100.
    recurrent_nonzeros : int, default=None
        If set, only this many randomly placed entries per row of the
        recurrent matrix are kept before the rescaling; ``None`` keeps the
        init's own choice (15 for "pascanu", dense otherwise).
    solver : {{"sgd", "adam"}}, default="adam"
        The optimizer. "sgd": SGD with momentum (the paper's). "adam": Adam
        (Kingma & Ba 2015), the same rule as scikit-learn's MLP. With the
        gradient regularization a candidate's step is the step the optimizer
        would apply, and a skipped candidate changes no optimizer state.
    learning_rate : float, default=3e-4
        Step size (paper: 1e-5 ... 1e-3 for SGD); for Adam the base step
        size before its bias correction.
    momentum : float, default=0.9
        Momentum of SGD, in [0, 1) (paper: 0.9). Only used when
        ``solver="sgd"``.
    nesterov : bool, default=False
        Use Nesterov's momentum, as scikit-learn's MLP does. Only used when
        ``solver="sgd"``.
    beta_1, beta_2 : float, default=0.9, 0.999
        Decay rates of Adam's first and second moment estimates, in [0, 1).
        Only used when ``solver="adam"``.
    epsilon : float, default=1e-8
        Adam's numerical-stability term. Only used when ``solver="adam"``.
    alpha : float, default=0.0
        L2 penalty ``0.5 * alpha * ||W||^2`` on the three weight matrices
        (not the biases), added to the minibatch mean loss.
    batch_size : int, default=16
        Sequences per minibatch (paper: 10).
    shuffle : bool, default=True
        Shuffle the training sequences before each epoch.
    max_iter : int, default=200
        Maximum number of epochs (passes over the training data); 0 trains
        nothing (with ``output_init="ridge"``: the closed-form model).
    max_candidates : int, default=None
        If set, training also stops after this many candidate minibatches:
        every minibatch whose gradient was computed, including those the
        gradient regularization skipped (``n_updates_`` counts the updates
        applied; without regularization the two are equal).
    validation_interval : int, default=None
        With validation data, validate every this many candidate minibatches
        (the paper validates every 50); ``None`` validates at the end of each
        epoch.
    tol : float or None, default=1e-4
        Training stops when more than ``n_iter_no_change`` consecutive checks
        fail to beat the best validation score (with validation) or the
        lowest epoch training loss (without) by ``tol``: scikit-learn MLP's
        criterion. ``None`` trains the whole budget.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training data (stratified for
        the classifier), or use ``X_val, y_val`` passed to ``fit``, score it
        with ``scoring``, and keep the network with the best score seen
        during training (the paper's protocol, with ``tol=None``).
    validation_fraction : float, default=0.1
        Share of the training data held out when ``early_stopping`` is True.
    n_iter_no_change : int, default=20
        Training stops once more than this many consecutive checks did not
        improve by ``tol`` (validations, or epochs without validation data).
    scoring : str, callable or None, default=None
        Validation score (greater is better); ``None`` uses the estimator's
        ``score``: {default_score}.
    bptt_depth : int, default=None
        Truncated BPTT: the error reaches only the last ``bptt_depth`` steps
        of each sequence. ``None`` backpropagates through whole sequences.
    n_restarts : int, default=1
        Number of independently initialised networks to train; the best by
        validation score (or, without validation data, by final training
        loss) is kept. They run in parallel with ``n_jobs``.
    n_jobs : int, default=None
        Number of restarts trained at once by joblib (threads by default:
        the kernels release the GIL; any joblib backend works, e.g. dask).
        Results do not depend on it: each restart's seed is drawn up front
        and every network uses one BLAS thread.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split.
    verbose : int, default=0
        If positive, print one line per epoch: loss, validation score and
        updates per second.
    warm_start : bool, default=False
        Continue training the kept network on the next ``fit``. As in
        scikit-learn's MLP, each ``fit`` starts a fresh optimizer state (the
        momentum starts at zero); ``partial_fit`` keeps it between calls.
    clip_norm : float, default=None
        Rescale the whole gradient to this norm when it is longer (Pascanu et
        al. 2013's clipping): the usual baseline for SGR, usable with it.
    gradient_regularization : bool, default=False
        Sampling-based gradient regularization (SGR, Chernodub & Nowicki
        2016). Each minibatch becomes a candidate: its Q-factor
        ``Q = log10(||delta(T)|| / ||delta(T-h)||)`` and the first-order change
        ``dS`` of ``S = 0.5 ||delta(T-h)||^2`` along the step it would apply to
        the recurrent weights decide whether it is applied. ``False`` is the
        paper's "OFF" row.
    q_range : (float, float), default=(-1.0, 1.0)
        Only used when ``gradient_regularization=True``.
        The safe range [Q_min, Q_max] (paper: [-1, 1]). Inside it every
        candidate is used. Above it (Q > Q_max: the gradient vanishes) only
        candidates with dS > 0 are used; below it (exploding) only dS < 0.
        This follows the paper's text; its pseudo-code box pairs the signs
        the other way round, which contradicts the text and the definition of
        Q.
    ds_mode : {{"linear", "exact"}}, default="linear"
        Only used when ``gradient_regularization=True``.
        "linear": the paper's Lemma 1, activation derivatives held fixed.
        "exact": the true directional derivative of S (tangent forward and
        backward passes, including f'' and the output layer).
    ds_max : float, default=None
        Only used when ``gradient_regularization=True``.
        Skip candidates with ``|dS| > ds_max * S`` (the paper's advice to skip
        large leaps), relative to S so that it does not depend on the loss
        scale.
    q_depth : int, default=None
        Only used when ``gradient_regularization=True``.
        Depth h of Q and S; ``None`` uses each whole sequence; a sequence
        shorter than h + 1 uses its own length - 1. Must be smaller than
        ``bptt_depth`` when that is set.
    selection : {{"minibatch", "example"}}, default="minibatch"
        Only used when ``gradient_regularization=True``.
        "minibatch": Algorithm 1 on whole minibatches. "example": each
        sequence of the candidate is judged by its own Q and its own
        contribution to dS, and the update uses the mean gradient of the
        accepted ones (a candidate with none accepted is skipped).
    max_skips : int or None, default=10
        Only used when ``gradient_regularization=True``.
        Guard against starvation: after this many consecutive skipped
        candidates, the most favourable of them (largest dS when vanishing,
        smallest when exploding) is applied. ``None``: Algorithm 1 as is.
    ds_momentum : bool, default=True
        Only used when ``gradient_regularization=True``.
        Whether the candidate step along which dS is taken includes the
        momentum term (``momentum * v - learning_rate * g``) or is the
        gradient step ``-learning_rate * g`` alone. Either way it is the
        signed step, after clipping. With ``solver="adam"`` the step is
        always Adam's, and this parameter is not used.
    steer : {{"dS", "dQ"}}, default="dS"
        Only used when ``gradient_regularization=True``.
        What the rule steers: the long-term norm S by the sign of dS (the
        paper), or Q itself by its first-order change
        ``dQ ~ dE/E - dS/S`` (E = 0.5 ||delta(T)||^2): a step may lower the
        long-term norm and still move Q toward the safe range. With
        ``ds_mode="linear"`` delta(T) is held fixed, so both steer alike;
        they differ with ``ds_mode="exact"``.
"""

_CLASS_WEIGHT = """    class_weight : dict, "balanced" or None, default=None
        Weights of the classes, multiplied into ``sample_weight`` (see
        ``fit``): ``{class_label: weight}`` (classes not named weigh 1), or
        "balanced", ``n_samples / (n_classes * np.bincount(y))`` over the
        ``y`` passed to ``fit`` (scikit-learn's ``compute_sample_weight``).
        ``partial_fit`` takes a dict only: for "balanced" there, compute the
        weights with ``sklearn.utils.class_weight.compute_class_weight`` on
        a large enough sample of ``y`` and pass them as a dict.
"""

_ATTRIBUTES = """
    Attributes
    ----------
    input_weights_ : ndarray of shape (n_features, n_hidden)
    recurrent_weights_ : ndarray of shape (n_hidden, n_hidden)
        With ``hidden_bias_``: ``a(t) = u(t) @ input_weights_ + z(t-1) @
        recurrent_weights_ + hidden_bias_``, ``z(t) = tanh(a(t))``, ``z(-1) = 0``.
    hidden_bias_ : ndarray of shape (n_hidden,)
    output_weights_ : ndarray of shape (n_hidden, n_outputs)
    output_bias_ : ndarray of shape (n_outputs,)
        The output is ``z(T_i - 1) @ output_weights_ + output_bias_``, read at
        each sequence's own last step. Predictions read these attributes, so
        edits to them take effect.
    loss_curve_ : list of float
        Mean minibatch loss of each epoch (weighted with ``sample_weight``
        or ``class_weight``, see the Notes).
    validation_scores_ : list of float or None
        Score of each validation; None without validation data.
    best_validation_score_ : float or None
        Best validation score; its network is the one kept.
    restart_scores_ : ndarray of shape (n_restarts,)
        Best validation score of each restart, or minus its last epoch's
        loss without validation data.
    n_iter_ : int
        Epochs run.
    n_updates_ : int
        Weight updates applied.
    n_candidates_ : int
        Candidate minibatches processed (equals ``n_updates_`` without
        gradient regularization). ``max_candidates`` and ``validation_interval``
        count candidates.
    kept_start_ : bool
        Whether the last fit kept its start (the closed-form output layer of
        ``output_init="ridge"``) because training did not beat it: on
        validation with ``early_stopping``, on the training loss otherwise.
    n_clipped_ : int
        Candidate minibatches whose gradient ``clip_norm`` rescaled (0
        without clipping). With gradient regularization, the clipped step is
        the candidate whose dS is taken.
    q_history_ : ndarray of shape (``n_candidates_``,) or None
        With gradient regularization, the Q of every candidate minibatch (the
        minibatch as a whole, in both selection modes; +inf when the
        long-term deltas underflow to zero). None without.
    ds_history_ : ndarray of shape (``n_candidates_``,) or None
        dS of every candidate minibatch along its full candidate step. With
        ``sample_weight`` it is measured on the weights as training uses them
        (scaled to mean 1, each minibatch's loss divided by its number of
        sequences), so it is the dS of the minibatch that repeats its sequences
        up to a positive factor per minibatch; Q and the decisions do not
        depend on that factor.
    used_history_ : ndarray of bool, shape (``n_candidates_``,) or None
        Whether the candidate led to an update (in "example" mode: whether
        any of its sequences was accepted; by the rule or the guard).
    n_skipped_ : int
        Candidates skipped by the regularization.
    n_guarded_ : int
        Candidates applied by the ``max_skips`` guard.
    n_features_in_ : int
        For 2-D input, the number of columns (the sequence length, which
        predict must then match); for 3-D or list input, the features per
        step (any length may be predicted).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only for 2-D input with string column names.
"""

_NOTES = """
    Notes
    -----
    The network is paper eq. 1 of Chernodub & Nowicki (2016), many-to-one.
    Training is minibatch SGD with momentum on the minibatch mean of the
    per-sequence loss ({loss}), by backpropagation through time in typed
    Cython kernels (BLAS from SciPy, one BLAS thread per network).

    ``X`` is batch-first: ``(n_samples, n_timesteps, n_features)`` (the
    order of tslearn and PyTorch's ``batch_first``; sktime and aeon put
    channels first). Sequences of different lengths are NaN-padded at the
    end or given as a list; NaN anywhere else, and inf, are errors.

    Norms for Q and S are taken over the minibatch as a whole:
    ``S = sum_b S_b``, ``Q = log10 sqrt(sum_b ||delta_b(T_b)||^2 /
    sum_b ||delta_b(T_b - h)||^2)``, each sequence at its own last step.
    With a pooled ``readout`` the deltas ``delta(t) = dE/da(t)`` are those of
    the loss actually trained, so Q and S keep these definitions (still at
    ``T_b`` and ``T_b - h``); what changes is that the output error enters at
    every pooled step, not only at ``T_b``, so ``delta(T_b - h)`` carries the
    error injected there as well as what flowed back from later steps. dS
    differentiates that S along the candidate step: in "linear" mode with
    the activation derivatives and the injected errors held fixed, in
    "exact" mode through the tangents of the pooled features too.

    With ``return_sequences=True`` every step injects its own error, so the
    total ``delta(T_b - h)`` would mostly hold the errors of the last ``h``
    steps and say little about how an error decays on its way back. Q, S and
    dS are therefore taken on the deltas of each sequence's last-step error
    alone, ``delta^T(t) = (delta^T(t + 1) W_rec^T + [t = T_b] dE/dz(T_b)) *
    f'(a(t))``: exactly the many-to-one network's quantities, with the
    per-step loss's error at the last step as its output error. The
    candidate step itself is the gradient of the whole per-step loss.

    Divergence (a non-finite loss or gradient, or a step that would take a
    weight beyond 1e6 times the scale of the initial weights and targets)
    stops training before that step and emits one ``ConvergenceWarning``. The
    weights kept are the last (or best validated) ones before the divergence
    if their training loss is not above that of the initial weights, the
    initial weights otherwise; the momentum restarts at zero, so a
    ``warm_start`` fit at a smaller learning rate can continue. A first
    Ctrl-C ends ``fit`` after the current chunk of minibatches and keeps the
    best validated weights (with validation) or the last ones.

    With ``sample_weight`` (and the classifier's ``class_weight``) the
    weights are scaled to mean 1 over the training sequences and a
    minibatch's loss is ``sum_b w_b l_b / B``: an estimate of the weighted
    mean loss of the whole training set, so a weight counts relative to all
    sequences, not only to those of its minibatch (unlike scikit-learn's MLP,
    which normalises each minibatch by its own weights: there a class weight
    does nothing in a minibatch of one class). Equal weights give the
    unweighted results bit for bit, an integer weight k is k copies of the
    sequence with one minibatch per epoch, and sequences of weight 0 are left
    out of training. The regularization
    judges the weighted loss: its ``S_b``, ``dS_b`` and ``E_b`` are divided by
    the sequence's weight, so that S, dS and Q are those of the minibatch
    with the copies. Minibatches are drawn from the sequences, not by weight,
    so with several minibatches per epoch a weight k is not the same as k
    copies, which would fall into other minibatches (as in scikit-learn's
    SGD estimators).

    With scikit-learn >= 1.9 the estimator supports its callback API
    (``sklearn.callback``): ``set_callbacks(ProgressBar())`` shows the
    epochs of ``fit`` and ``partial_fit``, and ``ScoringMonitor`` records a
    score after each epoch, computed on the training sequences with that
    epoch's weights (the early-stopping scores are ``validation_scores_``).
    With ``n_restarts > 1`` the fit has one task per restart, each with its
    epochs, trained in parallel. Under ``Pipeline`` or ``GridSearchCV`` set
    the callbacks on the outermost estimator: ``ProgressBar()`` reaches the
    epochs in a ``Pipeline``, ``ProgressBar(max_propagation_depth=2)`` (or
    None) in ``GridSearchCV(Pipeline(...))``. A callback whose
    ``on_fit_task_end`` returns True stops training after that epoch; other
    callbacks do not change the fitted model. Without the callback API
    (older scikit-learn) there is no ``set_callbacks`` and everything else
    is the same.
"""


class SRNClassifier(ClassifierMixin, BaseSRN):
    _head = HEAD_SOFTMAX

    _parameter_constraints: dict = {
        **BaseSRN._parameter_constraints,
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(self, n_hidden=200, *, class_weight=None, **params):
        # BaseSRN's parameters, then class_weight: the signature below is built
        # from BaseSRN.__init__, so that it lists them all without repeating them
        super().__init__(n_hidden, **params)
        self.class_weight = class_weight

    def _check_params(self):
        super()._check_params()
        if self.return_sequences and self.class_weight is not None:
            raise ValueError(
                "class_weight is not supported with return_sequences=True (the kernel weighs "
                "whole sequences); pass sample_weight per sequence instead."
            )

    def _training_weights(self, sample_weight, y, *, partial=False):
        if self.class_weight is None:
            weights = sample_weight
        else:
            if partial and self.class_weight == "balanced":
                raise ValueError(
                    "class_weight 'balanced' is not supported for partial_fit: the class "
                    "frequencies of one call's y are not those of the data. Compute the "
                    "weights with sklearn.utils.class_weight.compute_class_weight('balanced', "
                    "classes=classes, y=y) on a large enough sample of y and pass them as "
                    "class_weight={class: weight}."
                )
            if partial:  # a dict, over all classes_ (one call's y may lack some)
                weights = compute_class_weight(self.class_weight, classes=self.classes_, y=y)
                weights = weights[np.searchsorted(self.classes_, y)]
            else:
                weights = compute_sample_weight(self.class_weight, y)
            if not (np.isfinite(weights).all() and (weights >= 0).all()):
                raise ValueError(
                    f"class_weight must give finite non-negative weights, got "
                    f"{self.class_weight!r}."
                )
            if sample_weight is not None:
                weights = weights * sample_weight
        if weights is not None and not partial:
            present = np.unique(y[weights > 0]).tolist()
            if len(present) < 2:
                which = f"only class {present[0]!r} has" if present else "no class has"
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes with a "
                    f"non-zero weight (sample_weight times class_weight), but {which} any."
                )
        return weights

    def _encode_targets(self, y, *, reset, classes=None, partial=False):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = column_or_1d(y, warn=True)
        assert_all_finite(y, input_name="y")  # before NumPy casts NaN to int with a warning
        check_classification_targets(y)
        if partial:  # classes are required on the first call, and must not change
            _check_partial_fit_first_call(self, classes)
        elif reset:
            self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                f"but the data contains only one class: {self.classes_[0]!r}."
            )
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(f"y contains labels not in classes_ {self.classes_}: {unseen}.")
        Y = np.zeros((len(y), len(self.classes_)))
        Y[np.arange(len(y)), np.searchsorted(self.classes_, y)] = 1.0
        return y, Y

    def _split_validation(self, y, rng):
        return train_test_split(
            np.arange(len(y)), test_size=self.validation_fraction, random_state=rng, stratify=y
        )

    def _n_fitted_outputs(self):
        return len(self.classes_)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch of training on ``(X, y)``, continuing the current network.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, in any of the forms ``fit`` accepts.
        y : array-like of shape (n_samples,)
            Class labels.
        classes : array-like of shape (n_classes,), default=None
            All classes; required on the first call.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the sequences, as in ``fit`` (times a dict
            ``class_weight``).

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, classes=classes, sample_weight=sample_weight)

    def decision_function(self, X):
        """Logits at each sequence's last step (per step: at every step).

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,)
            For two classes, the logit of ``classes_[1]`` minus that of
            ``classes_[0]``. With ``return_sequences=True`` one row per step:
            ``(n_samples, n_timesteps[, n_classes])``, NaN past each end.
        """
        return self._predictions(X, _decision)

    def predict_proba(self, X):
        """Class probabilities (softmax of the logits), shape (n_samples, n_classes).

        With ``return_sequences=True``: ``(n_samples, n_timesteps, n_classes)``,
        NaN past each sequence's end.
        """
        return self._predictions(X, _probabilities)

    def predict_log_proba(self, X):
        """Logarithm of ``predict_proba``."""
        return self._predictions(X, _log_probabilities)

    def predict(self, X):
        """Predicted class of each sequence, shape (n_samples,).

        With ``return_sequences=True`` the class of every step, shape
        ``(n_samples, n_timesteps)``, NaN past each sequence's end (labels
        then become floats, or objects if they are not numbers; sequences
        of one length keep the labels' dtype).
        """
        return self._predictions(X, self._labels)

    def _labels(self, out):
        return self.classes_[np.argmax(out, axis=1)]

    _decide = _labels

    def predict_proba_stream(self, X, state):
        """Class probabilities for the next step(s) of streamed sequences, and the new state.

        As :meth:`predict_stream`, with the probabilities of :meth:`predict_proba`.

        Parameters
        ----------
        X : array-like of shape (n_sequences, n_steps, n_features)
            The next steps of each sequence (see :meth:`predict_stream`).
        state : :class:`sksgr.streaming.StreamState`
            From :meth:`start_stream` or the previous call.

        Returns
        -------
        probabilities : ndarray of shape (n_sequences, n_steps, n_classes)
        state : :class:`sksgr.streaming.StreamState`
        """
        out, state = self._stream(X, state)
        return self._stream_decided(out, _probabilities), state

    def score(self, X, y, sample_weight=None):
        """Mean accuracy on ``(X, y)``; with ``return_sequences=True`` over every real step.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, in any of the forms ``fit`` accepts.
        y : array-like of shape (n_samples,)
            True labels; per step ``(n_samples, n_timesteps)`` padded past each
            sequence's end, or a list of per-sequence arrays.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the sequences (per step: of each of their steps).

        Returns
        -------
        score : float
        """
        if not self._per_step:
            return super().score(X, y, sample_weight)
        return self._step_score(X, y, sample_weight, accuracy_score, self._labels)


class SRNRegressor(RegressorMixin, BaseSRN):
    _head = HEAD_IDENTITY

    def _encode_targets(self, y, *, reset, classes=None, partial=False):
        if y is None:
            raise ValueError(
                f"{type(self).__name__} requires y to be passed, but the target y is None."
            )
        y = check_array(y, ensure_2d=False, dtype=(np.float64, np.float32), input_name="y")
        if y.ndim > 2:
            raise ValueError(f"y must be (n_samples,) or (n_samples, n_outputs), got {y.shape}.")
        Y = y.reshape(len(y), -1)
        if reset:
            self._y_1d = y.ndim == 1
            self.n_outputs_ = Y.shape[1]
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, but the model has {self.n_outputs_}.")
        return y, Y

    def _split_validation(self, y, rng):
        return train_test_split(np.arange(len(y)), test_size=self.validation_fraction,
                                random_state=rng)

    def _n_fitted_outputs(self):
        return self.n_outputs_

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch of training on ``(X, y)``, continuing the current network.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, in any of the forms ``fit`` accepts.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Target values.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the sequences, as in ``fit``.

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, sample_weight=sample_weight)

    def predict(self, X):
        """Predicted values, shape (n_samples,) or (n_samples, n_outputs) as ``y`` in fit.

        With ``return_sequences=True`` the values of every step,
        ``(n_samples, n_timesteps)`` or ``(n_samples, n_timesteps, n_outputs)``,
        NaN past each sequence's end.
        """
        return self._predictions(X, self._values)

    def _values(self, out):
        return out.ravel() if self._y_1d else out

    _decide = _values

    def score(self, X, y, sample_weight=None):
        """R^2 on ``(X, y)``; with ``return_sequences=True`` over every real step.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences, in any of the forms ``fit`` accepts.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            True values; per step ``(n_samples, n_timesteps[, n_outputs])``
            padded past each sequence's end, or a list of per-sequence arrays.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the sequences (per step: of each of their steps).

        Returns
        -------
        score : float
            As :func:`sklearn.metrics.r2_score` (outputs averaged uniformly).
        """
        if not self._per_step:
            return super().score(X, y, sample_weight)
        return self._step_score(X, y, sample_weight, r2_score, self._values)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _decision(out):
    return out[:, 1] - out[:, 0] if out.shape[1] == 2 else out


def _probabilities(out):
    return softmax(out.astype(np.float64))


def _log_probabilities(out):
    out = out.astype(np.float64)
    out -= out.max(axis=1, keepdims=True)
    return out - np.log(np.exp(out).sum(axis=1, keepdims=True))


def _signature_with(init, name, default, **defaults):
    """The signature of ``init`` with a keyword-only parameter ``name`` appended
    and the defaults of the parameters named in ``defaults`` replaced."""
    signature = inspect.signature(init)
    parameters = [p.replace(default=defaults[p.name]) if p.name in defaults else p
                  for p in signature.parameters.values()]
    extra = inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default)
    return signature.replace(parameters=[*parameters, extra])


def _default(function, name):
    """The default value of parameter ``name`` in ``function``'s signature."""
    return inspect.signature(function).parameters[name].default


# Each estimator's own default size, chosen by cross-validation (user guide, "The defaults").
_CLASSIFIER_SIZE = """Chosen
        by cross-validation on classification sets: 200 units beat 100 and 300
        (the regressor's default is 100; see the user guide's "The defaults")."""
_REGRESSOR_SIZE = """Chosen
        by cross-validation on regression sets, where 200 units overfit (the
        classifier's default is 200; see the user guide's "The defaults")."""

# scikit-learn reads an estimator's parameters from the signature of __init__
SRNClassifier.__init__.__signature__ = _signature_with(
    BaseSRN.__init__, "class_weight", None,
    n_hidden=_default(SRNClassifier.__init__, "n_hidden"),
)

SRNClassifier.__doc__ = (
    """Simple recurrent network classifier (tanh Elman RNN, softmax output).
"""
    + _PARAMETERS.format(default_score="accuracy", n_hidden=_default(SRNClassifier, "n_hidden"),
                        n_hidden_note=_CLASSIFIER_SIZE)
    + _CLASS_WEIGHT
    + _ATTRIBUTES
    + """    classes_ : ndarray of shape (n_classes,)
        Class labels.
"""
    + _NOTES.format(loss="softmax cross-entropy")
    + """
    Examples
    --------
    >>> import numpy as np
    >>> from sksgr import SRNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 8, 1))
    >>> y = (X[:, 2, 0] > 0).astype(int)      # the sign at step 2
    >>> clf = SRNClassifier(n_hidden=16, learning_rate=0.01,
    ...                     max_iter=100, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.predict_proba(X[:2]).shape
    (2, 2)
"""
)

SRNRegressor.__doc__ = (
    """Simple recurrent network regressor (tanh Elman RNN, linear output).
"""
    + _PARAMETERS.format(default_score="R^2", n_hidden=_default(SRNRegressor, "n_hidden"),
                        n_hidden_note=_REGRESSOR_SIZE)
    + _ATTRIBUTES
    + """    n_outputs_ : int
        Number of outputs.
"""
    + _NOTES.format(loss="half squared error")
    + """
    Examples
    --------
    >>> import numpy as np
    >>> from sksgr import SRNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(size=(300, 6, 1))
    >>> y = X[:, 1, 0] - X[:, 4, 0]
    >>> reg = SRNRegressor(n_hidden=16, learning_rate=0.01,
    ...                    max_iter=100, random_state=0).fit(X, y)
    >>> reg.score(X, y) > 0.9
    True
"""
)
