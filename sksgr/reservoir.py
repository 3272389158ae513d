"""An untrained simple recurrent network as a random feature map: :class:`SRNFeatures`.

An echo-state network (Jaeger 2001) keeps the recurrent part of an SRN
fixed at a random draw, its *reservoir*, and trains only a linear readout
of the hidden states. :class:`SRNFeatures` is that reservoir as a
scikit-learn transformer: ``fit`` draws the weights and learns nothing
else, ``transform`` runs the compiled forward pass over each sequence and
returns its pooled hidden states, so that any tabular estimator can sit
after it in a pipeline (a ridge regression makes it an echo-state network).

:func:`readout_feature_names` (from :mod:`sksgr.network`) names the readout
features; the trained estimators name theirs the same way.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._compat import CallbackSupportMixin, Interval, _fit_context
from ._init import draw_reservoir, pack
from ._sequences import SEQUENCES, check_sequences
from ._training import single_blas_thread
from .network import HEAD_IDENTITY, Network, check_readout, readout_feature_names


def sequence_features(estimator, net, coef, X):
    """The readout features of the network ``(net, coef)`` on sequences ``X``, parsed
    as ``estimator`` was fitted (its input form and number of features)."""
    Xp, lengths = check_sequences(estimator, X, reset=False)
    Xp = np.ascontiguousarray(Xp, dtype=coef.dtype)
    # one BLAS thread: the same features whatever else runs at the same time
    with single_blas_thread(nested=True):
        return net.features(Xp, lengths, coef)


def check_input_features(estimator, input_features):
    """``input_features`` checked against what ``fit`` saw, as scikit-learn's transformers do."""
    if input_features is None:
        return
    input_features = np.asarray(input_features, dtype=object)
    names_in = getattr(estimator, "feature_names_in_", None)
    if names_in is not None and not np.array_equal(names_in, input_features):
        raise ValueError("input_features is not equal to feature_names_in_")
    if len(input_features) != estimator.n_features_in_:
        raise ValueError(
            f"input_features should have length equal to number of features "
            f"({estimator.n_features_in_}), got {len(input_features)}"
        )


class SRNFeatures(CallbackSupportMixin, TransformerMixin, BaseEstimator):
    """Random recurrent features: an untrained SRN's pooled hidden states.

    A fixed, randomly drawn tanh Elman network (an echo-state network's
    reservoir) maps each sequence ``u(1), ..., u(T_i)`` to its hidden states::

        z(t) = tanh(u(t) @ input_weights_ + z(t-1) @ recurrent_weights_ + hidden_bias_),

    with ``z(0) = 0``, and pools them over the sequence's real steps (padding
    excluded) into ``len(readout) * n_hidden`` features: ``"last"`` is
    ``z(T_i)``, ``"mean"`` and ``"max"`` the mean and maximum of each unit
    over ``t = 1, ..., T_i``. The pools are concatenated in the order of
    ``readout``.

    ``fit`` only draws the weights (the data give the number of features
    per step and the dtype); a linear model after it, e.g.
    :class:`~sklearn.linear_model.RidgeClassifierCV` on standardised
    features, is then an echo-state network. The same input always gives
    the same features. The forward pass is the compiled kernel of the
    trained estimators, run without the GIL in memory-bounded blocks of
    sequences.

    Input may be given in any form the estimators accept: a 3-D array
    ``(n_samples, n_timesteps, n_features)`` padded with NaN after each
    sequence's end, a 2-D array ``(n_samples, n_timesteps)`` of univariate
    sequences, or a list of ``(n_timesteps_i, n_features)`` arrays. NaN is
    allowed only as trailing padding (whole steps); infinity is an error.

    Parameters
    ----------
    n_hidden : int, default=200
        Number of hidden (reservoir) units.
    spectral_radius : float, default=0.95
        Spectral radius the recurrent matrix is rescaled to after the draw.
        Below 1 the reservoir forgets its input at a rate that grows as it
        decreases (the echo-state property, for small inputs); near 1 it
        remembers longer. 0 gives no recurrence.
    input_scaling : float, default=0.5
        Input weights are drawn from U[-input_scaling, input_scaling]. With
        standardised inputs, larger values drive the units further into
        tanh's saturation (more nonlinear, shorter memory).
    bias_scaling : float, default=0.2
        Hidden biases are drawn from U[-bias_scaling, bias_scaling].
    recurrent_density : float in (0, 1], default=1.0
        Share of nonzero recurrent weights: each row of the recurrent
        matrix keeps ``max(1, round(recurrent_density * n_hidden))``
        randomly placed entries, drawn from N(0, 1) before the rescaling.
    readout : {"last", "mean", "max"} or tuple of them, default=("last", "mean", "max")
        The pools of the hidden states that make the features,
        concatenated in this order.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights. Pass an int for the same reservoir on every fit.

    Attributes
    ----------
    input_weights_ : ndarray of shape (n_step_features, n_hidden)
        Input weights. ``n_step_features`` is the number of features per
        step: 1 for a 2-D table of univariate sequences, ``n_features_in_``
        otherwise.
    recurrent_weights_ : ndarray of shape (n_hidden, n_hidden)
        Recurrent weights, of spectral radius ``spectral_radius``.
    hidden_bias_ : ndarray of shape (n_hidden,)
        Hidden biases.
    n_readout_features_ : int
        Number of output features, ``len(readout) * n_hidden``.
    n_features_in_ : int
        As in the estimators: for 2-D input the number of columns (the
        sequence length, which ``transform`` must then match); for 3-D or
        list input the number of features per step (any length may be
        transformed).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only for 2-D input with string column names.

    The weights are float32 when ``fit`` was given float32 data, float64
    otherwise (they are drawn in float64 either way, so the two reservoirs
    agree to float32 rounding); ``transform`` computes and returns in their
    dtype.

    See Also
    --------
    sksgr.SRNClassifier : A trained SRN, whose ``readout`` pools the same way.
    sklearn.kernel_approximation.RBFSampler : Random features for tabular data.

    Notes
    -----
    With scikit-learn >= 1.9 it supports scikit-learn's callback API
    (``sklearn.callback``) as ``StandardScaler`` does: ``fit`` is one task,
    so callbacks set on a ``Pipeline`` or ``GridSearchCV`` pass through it to
    the estimator after it.

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr.reservoir import SRNFeatures
    >>> X = [np.array([[0.5], [-1.0], [2.0]]), np.array([[1.0]])]   # two sequences
    >>> reservoir = SRNFeatures(n_hidden=4, random_state=0).fit(X)
    >>> reservoir.transform(X).shape                   # 3 pools of 4 units
    (2, 12)
    >>> reservoir.get_feature_names_out()[[0, 4, 8]].tolist()
    ['srnfeatures_last0', 'srnfeatures_mean0', 'srnfeatures_max0']

    An echo-state network: a ridge classifier on the reservoir's features.
    The class is the sign of the input at step 2 of 10 noisy steps.

    >>> from sklearn.linear_model import RidgeClassifierCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(600, 10, 1))
    >>> y = (X[:, 1, 0] > 0).astype(int)
    >>> esn = make_pipeline(SRNFeatures(n_hidden=50, readout="last", random_state=0),
    ...                     StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 7)))
    >>> esn.fit(X[:400], y[:400]).score(X[400:], y[400:]) > 0.8   # chance: 0.5
    True
    """

    _parameter_constraints: dict = {
        "n_hidden": [Interval(Integral, 1, None, closed="left")],
        "spectral_radius": [Interval(Real, 0, None, closed="left")],
        "input_scaling": [Interval(Real, 0, None, closed="left")],
        "bias_scaling": [Interval(Real, 0, None, closed="left")],
        "recurrent_density": [Interval(Real, 0, 1, closed="right")],
        "readout": [str, tuple, list],
        "random_state": ["random_state"],
    }

    def __init__(self, n_hidden=200, *, spectral_radius=0.95, input_scaling=0.5,
                 bias_scaling=0.2, recurrent_density=1.0, readout=("last", "mean", "max"),
                 random_state=None):
        self.n_hidden = n_hidden
        self.spectral_radius = spectral_radius
        self.input_scaling = input_scaling
        self.bias_scaling = bias_scaling
        self.recurrent_density = recurrent_density
        self.readout = readout
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Draw the reservoir's weights for the input's number of features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features) or \
                (n_samples, n_timesteps), or list of arrays
            Sequences: a 3-D array padded with NaN after each sequence's
            end, a 2-D array of univariate sequences, or a list of
            ``(n_timesteps_i, n_features)`` arrays. Only their number of
            features per step and their dtype are used (and they are
            validated).
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted transformer.
        """
        readout = check_readout(self.readout)
        Xp, _ = check_sequences(self, X, reset=True)
        # one callback task, as StandardScaler's: nothing iterates
        callback_ctx = self._init_callback_context()
        callback_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y)
        F, H = Xp.shape[2], self.n_hidden
        rng = check_random_state(self.random_state)

        # one BLAS thread: the eigenproblem is small, and threads fighting over a busy
        # core made it 50 times slower (1.1 s instead of 0.02 s at n_hidden=200)
        with single_blas_thread(nested=True):
            W_in, W_rec, b = draw_reservoir(
                F, H, spectral_radius=self.spectral_radius, input_scaling=self.input_scaling,
                bias_scaling=self.bias_scaling, recurrent_density=self.recurrent_density,
                rng=rng)

        dtype = Xp.dtype
        self.input_weights_ = W_in.astype(dtype)
        self.recurrent_weights_ = W_rec.astype(dtype)
        self.hidden_bias_ = b.astype(dtype)
        self._fitted_readout = readout
        self.n_readout_features_ = len(readout) * H
        callback_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, reconstruction_attributes={})
        return self

    def _network(self):
        """The fitted network (no output layer) and its recurrent parameters as one vector."""
        W_in, W_rec, b = self.input_weights_, self.recurrent_weights_, self.hidden_bias_
        F_fit = self.n_features_in_ if self._input_form == SEQUENCES else 1
        H = W_rec.shape[0] if W_rec.ndim == 2 else -1
        if W_in.shape != (F_fit, H) or W_rec.shape != (H, H) or b.shape != (H,):
            raise ValueError(
                f"The weights of this {type(self).__name__} do not fit together: "
                f"input_weights_ {W_in.shape}, recurrent_weights_ {W_rec.shape}, hidden_bias_ "
                f"{b.shape}; expected ({F_fit}, H), (H, H) and (H,)."
            )
        net = Network(F_fit, H, 0, HEAD_IDENTITY, self._fitted_readout)
        return net, pack([W_in, W_rec, b], W_rec.dtype)

    def transform(self, X):
        """The reservoir's pooled hidden states of each sequence.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences in any form ``fit`` accepts, with the same number of
            features per step (and, for 2-D input, the same number of
            columns) as in ``fit``; any lengths otherwise.

        Returns
        -------
        X_features : ndarray of shape (n_samples, ``n_readout_features_``)
            The pools of ``readout`` in turn, ``n_hidden`` units each, in the
            dtype of the weights.
        """
        check_is_fitted(self, "recurrent_weights_")
        net, coef = self._network()
        return sequence_features(self, net, coef, X)

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: ``srnfeatures_{pool}{unit}``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the input features seen in ``fit`` (the
            output features do not depend on them).

        Returns
        -------
        feature_names_out : ndarray of str objects, shape (``n_readout_features_``,)
            ``srnfeatures_last0``, ..., ``srnfeatures_last{n_hidden - 1}``,
            then the next pool's, in the order of ``readout``.
        """
        check_is_fitted(self, "recurrent_weights_")
        check_input_features(self, input_features)
        return readout_feature_names(self._fitted_readout, self.recurrent_weights_.shape[0],
                                     type(self).__name__.lower())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
