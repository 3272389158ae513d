"""Preprocessing of sequence input: :class:`SequenceScaler`.

scikit-learn's scalers reject 3-D input and would treat the columns of a 2-D
table of univariate sequences (its time steps) as separate features. The
transformer here accepts every form the estimators accept and standardises
each feature over all steps of all sequences, so that it can sit in front of
:class:`~sksgr.SRNClassifier` or :class:`~sksgr.SRNRegressor` in a pipeline.
"""

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._compat import CallbackSupportMixin, _fit_context
from ._sequences import as_array_or_ragged, check_sequences


def _valid_steps(lengths, n_timesteps):
    """Boolean mask (n_samples, n_timesteps): True where a step is real data."""
    return np.arange(n_timesteps)[None, :] < lengths[:, None]


class SequenceScaler(CallbackSupportMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Standardise each feature over all steps of all sequences.

    The mean and standard deviation of feature ``j`` are taken over the
    values of ``j`` at every real (non-padding) step of every training
    sequence; ``transform`` then computes ``(x - mean_) / scale_`` at every
    step. It is the sequence counterpart of
    :class:`~sklearn.preprocessing.StandardScaler`: on the steps stacked into
    a 2-D table ``(n_steps_total, n_features)`` both give the same numbers.

    Input may be given in any form the estimators accept, and the output has
    the same form:

    - a 3-D array ``(n_samples, n_timesteps, n_features)``, shorter sequences
      padded with NaN at the end: a 3-D array, the padding still NaN;
    - a 2-D array ``(n_samples, n_timesteps)`` of univariate sequences: a 2-D
      array; all columns share one mean and one scale, as they are steps of
      one feature, not separate features;
    - a list of sequences ``(n_timesteps_i, n_features)`` or
      ``(n_timesteps_i,)`` of different lengths: a list of arrays of the same
      shapes. A list whose items all have one shape is the array it converts
      to (as in the estimators), and gives that array's form: a list of
      lists of numbers is a 2-D table.

    NaN is allowed only as trailing padding (whole steps), as in the
    estimators; infinity is an error.

    Parameters
    ----------
    copy : bool, default=True
        If False, a float 2-D or 3-D NumPy array of a supported dtype
        (float32 or float64) is scaled in place and returned; other input is
        always copied.
    with_mean : bool, default=True
        Centre each feature (subtract ``mean_``).
    with_std : bool, default=True
        Scale each feature to unit variance (divide by ``scale_``).

    Attributes
    ----------
    mean_ : ndarray of shape (n_step_features,) or None
        Mean of each feature over all real steps of the training sequences.
        None when both ``with_mean`` and ``with_std`` are False.
        ``n_step_features`` is the number of features per step: 1 for a 2-D
        table of univariate sequences, ``n_features_in_`` otherwise.
    var_ : ndarray of shape (n_step_features,) or None
        Variance of each feature (population variance, ``ddof=0``, as in
        StandardScaler). None when ``with_std`` is False.
    scale_ : ndarray of shape (n_step_features,) or None
        ``sqrt(var_)``; a feature of zero variance gets scale 1, so that it
        is centred but not blown up. None when ``with_std`` is False.
    n_steps_seen_ : int
        Number of real steps (over all sequences) the statistics were
        computed on.
    n_features_in_ : int
        As in the estimators: for 2-D input the number of columns (the
        sequence length, which ``transform`` must then match); for 3-D or
        list input the number of features per step (any length may be
        transformed).
    feature_names_in_ : ndarray of shape (``n_features_in_``,)
        Only for 2-D input with string column names.

    See Also
    --------
    sklearn.preprocessing.StandardScaler : The same for tabular data, one
        statistic per column.

    Notes
    -----
    With scikit-learn >= 1.9 it supports scikit-learn's callback API
    (``sklearn.callback``) as ``StandardScaler`` does: ``fit`` is one task,
    so callbacks set on a ``Pipeline`` or ``GridSearchCV`` pass through it to
    the estimator after it.

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr.preprocessing import SequenceScaler
    >>> X = [np.array([[0.0, 10.0], [2.0, 30.0]]),      # two steps, two features
    ...      np.array([[4.0, 20.0]])]                  # one step
    >>> scaler = SequenceScaler().fit(X)
    >>> scaler.mean_, scaler.scale_.round(3)
    (array([ 2., 20.]), array([1.633, 8.165]))
    >>> Xt = scaler.transform(X)                       # a list, as given
    >>> [x.shape for x in Xt]
    [(2, 2), (1, 2)]
    >>> np.vstack(Xt).mean(axis=0).round(12) + 0, np.vstack(Xt).std(axis=0).round(12)
    (array([0., 0.]), array([1., 1.]))

    In a pipeline, in front of an estimator:

    >>> from sklearn.pipeline import make_pipeline
    >>> from sksgr import SRNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = 50 + 10 * rng.normal(size=(100, 5, 1))    # far from zero mean
    >>> y = (X[:, -1, 0] > 50).astype(int)
    >>> model = make_pipeline(SequenceScaler(),
    ...                       SRNClassifier(n_hidden=8, sigma=0.3, learning_rate=0.01,
    ...                                     max_iter=50, tol=None, random_state=0))
    >>> model.fit(X, y).score(X, y) > 0.9
    True
    """

    _parameter_constraints: dict = {
        "copy": ["boolean"],
        "with_mean": ["boolean"],
        "with_std": ["boolean"],
    }

    def __init__(self, *, copy=True, with_mean=True, with_std=True):
        self.copy = copy
        self.with_mean = with_mean
        self.with_std = with_std

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Compute the mean and standard deviation of each feature.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences: ``(n_samples, n_timesteps, n_features)`` NaN-padded,
            ``(n_samples, n_timesteps)`` univariate, or a list of
            ``(n_timesteps_i, n_features)`` arrays.
        y : None
            Ignored.

        Returns
        -------
        self : object
            Fitted scaler.
        """
        Xp, lengths = check_sequences(self, X, reset=True)
        # one callback task, as StandardScaler's: nothing iterates
        callback_ctx = self._init_callback_context()
        callback_ctx.call_on_fit_task_begin(estimator=self, X=X, y=y)
        steps = Xp[_valid_steps(lengths, Xp.shape[1])].astype(np.float64)
        self.n_steps_seen_ = steps.shape[0]
        mean = steps.mean(axis=0)
        if self.with_std:
            self.var_ = steps.var(axis=0)
            scale = np.sqrt(self.var_)
            # Constant features (variance at rounding level of the mean) keep scale 1.
            constant = self.var_ <= (10 * np.finfo(np.float64).eps * np.abs(mean)) ** 2
            scale[constant] = 1.0
            self.scale_ = scale
        else:
            self.var_ = None
            self.scale_ = None
        self.mean_ = mean if (self.with_mean or self.with_std) else None
        callback_ctx.call_on_fit_task_end(estimator=self, X=X, y=y, reconstruction_attributes={})
        return self

    def transform(self, X, copy=None):
        """Standardise ``X``; the output has the form of the input.

        Parameters
        ----------
        X : array-like or list of arrays
            Sequences in any form ``fit`` accepts, with the same number of
            features per step (and, for 2-D input, the same number of
            columns) as in ``fit``.
        copy : bool, default=None
            Overrides ``self.copy`` when given.

        Returns
        -------
        X_scaled : ndarray or list of ndarray
            Same form, shape and padding as ``X``.
        """
        check_is_fitted(self, "n_steps_seen_")
        return self._apply(X, copy, inverse=False)

    def inverse_transform(self, X, copy=None):
        """Undo :meth:`transform`: ``x * scale_ + mean_`` at every step.

        Parameters
        ----------
        X : array-like or list of arrays
            Scaled sequences, in any form ``fit`` accepts.
        copy : bool, default=None
            Overrides ``self.copy`` when given.

        Returns
        -------
        X_original : ndarray or list of ndarray
            Same form, shape and padding as ``X``.
        """
        check_is_fitted(self, "n_steps_seen_")
        return self._apply(X, copy, inverse=True)

    def _apply(self, X, copy, *, inverse):
        copy = self.copy if copy is None else copy
        form = "3d" if getattr(X, "ndim", None) == 3 else "2d"
        if isinstance(X, (list, tuple)):
            arr, ragged = as_array_or_ragged(X)
            if ragged:
                form = "list"
                shapes = [np.shape(s) for s in X]
            else:  # items of one shape: the same as the array they make
                X = arr
                form = "3d" if X.ndim == 3 else "2d"
        Xp, lengths = check_sequences(self, X, reset=False)
        in_place = (
            not copy
            and form != "list"
            and isinstance(X, np.ndarray)
            and X.dtype == Xp.dtype
            and X.flags.writeable
        )
        if in_place:
            # NaN padding stays NaN under the affine map, so X can be used as is.
            out = X if form == "3d" else X[:, :, None]
        else:
            # Never write into the caller's data: validation may return a view of it
            # (an ndarray, or a DataFrame's values).
            source = None if form == "list" else np.asarray(X)
            fresh = Xp.flags.writeable and (source is None or not np.may_share_memory(Xp, source))
            out = Xp if fresh else Xp.copy()
        mean = self.mean_ if self.with_mean else None
        scale = self.scale_ if self.with_std else None
        if inverse:
            if scale is not None:
                out *= scale.astype(out.dtype)
            if mean is not None:
                out += mean.astype(out.dtype)
        else:
            if mean is not None:
                out -= mean.astype(out.dtype)
            if scale is not None:
                out /= scale.astype(out.dtype)
        if in_place:
            return X
        out[~_valid_steps(lengths, out.shape[1])] = np.nan
        if form == "list":
            return [out[i, : shape[0]].reshape(shape) for i, shape in enumerate(shapes)]
        return out if form == "3d" else out[:, :, 0]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        tags.input_tags.allow_nan = False
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
