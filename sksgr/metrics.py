"""Accuracy of a regressor within a tolerance.

For the regression benchmarks (adding, multiplication) the literature reports
an *accuracy*: the share of test sequences whose prediction error is below a
tolerance. Two conventions are in use, both with tolerance 0.04:

- ``criterion="absolute"`` (default): ``|y - y_pred| < tol``, as counted by
  Hochreiter & Schmidhuber (1997) and Martens & Sutskever (2011);
- ``criterion="squared"``: ``(y - y_pred) ** 2 < tol``, as counted by the
  code of Pascanu, Mikolov & Bengio (2013), ``pascanur/trainingRNNs``
  (``RNN.py``), whose results Chernodub & Nowicki (2016) compare against.

The paper's authors' own experiment code (MATLAB, ``achernodub/oplu_adding``,
``synthetic_problems/error_regression.m`` and ``error_success_rate.m``; the
``convention="chernodub"`` of :mod:`sksgr.datasets`) counts
``|y - y_pred| <= tol`` (``inclusive=True``) with ``tol=0.08`` for the adding
problem and ``tol=0.04`` for multiplication. With its centred targets on
[-1, 1], predicting 0 scores about 16 % (adding, within 0.08) and 17 %
(multiplication, within 0.04).

:func:`tolerance_accuracy_score` computes it, :data:`tolerance_scorer` and
:func:`make_tolerance_scorer` wrap it for ``scoring=`` in
:class:`~sklearn.model_selection.GridSearchCV` or
:func:`~sklearn.model_selection.cross_val_score` (greater is better).

References
----------
.. [1] S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural
   Computation 9(8):1735-1780, 1997.
.. [2] J. Martens and I. Sutskever, "Learning recurrent neural networks with
   Hessian-free optimization", ICML 2011.
.. [3] R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training
   recurrent neural networks", ICML 2013; code at
   https://github.com/pascanur/trainingRNNs.
"""

import numbers

import numpy as np
from sklearn.metrics import make_scorer
from sklearn.utils import check_array, check_consistent_length

__all__ = [
    "make_tolerance_scorer",
    "tolerance_accuracy_score",
    "tolerance_scorer",
]

_CRITERIA = ("absolute", "squared")


def _check_tol_criterion(tol, criterion):
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real):
        raise TypeError(
            f"tol must be a real number, got {tol!r} of type "
            f"{type(tol).__qualname__}."
        )
    if not (np.isfinite(tol) and tol > 0):
        raise ValueError(f"tol must be a positive finite number, got {tol!r}.")
    if not isinstance(criterion, str) or criterion not in _CRITERIA:
        raise ValueError(
            f"criterion must be one of {_CRITERIA}, got {criterion!r}."
        )


def _as_2d_target(y, name):
    y = check_array(y, ensure_2d=False, dtype="numeric", input_name=name)
    if y.ndim == 1:
        y = y.reshape(-1, 1)
    return y


def tolerance_accuracy_score(y_true, y_pred, *, tol=0.04, criterion="absolute",
                             inclusive=False):
    """Share of samples predicted within a tolerance.

    A sample counts as correct when its error is strictly below ``tol``
    (at most ``tol`` with ``inclusive=True``):
    ``|y_true - y_pred| < tol`` for ``criterion="absolute"`` or
    ``(y_true - y_pred) ** 2 < tol`` for ``criterion="squared"``. With several
    outputs a sample counts only if every output is within the tolerance.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Ground-truth targets.

    y_pred : array-like of shape (n_samples,) or (n_samples, n_outputs)
        Predicted targets. A 1-D array and an array with one column are
        interchangeable.

    tol : float, default=0.04
        Positive, finite tolerance. 0.04 is the value used by all sources
        below, for either criterion.

    criterion : {"absolute", "squared"}, default="absolute"
        Which error is compared with ``tol``. ``"absolute"`` follows
        Hochreiter & Schmidhuber (1997) and Martens & Sutskever (2011);
        ``"squared"`` follows the code of Pascanu, Mikolov & Bengio (2013),
        which counts a sequence as wrong when its squared error exceeds 0.04
        (so ``tol=0.04, criterion="squared"`` is the same as
        ``tol=0.2, criterion="absolute"``, up to rounding).

    inclusive : bool, default=False
        Count an error equal to ``tol`` as correct (``<=``), as the paper's
        authors' code does (``tol=0.08`` for adding, ``0.04`` for
        multiplication).

    Returns
    -------
    score : float
        Fraction of correct samples, in [0, 1]; higher is better.

    Raises
    ------
    ValueError
        If the inputs have different numbers of samples or outputs, contain
        NaN or infinity, or if ``tol`` or ``criterion`` is invalid.
    TypeError
        If ``tol`` is not a real number.

    Notes
    -----
    With one output, Pascanu's code counts a sequence as correct when its
    squared error is ``<= 0.04``; here the comparison is strict for both
    criteria, which differs only for errors exactly at the tolerance. With
    several outputs his code compares the *sum* of squared errors with the
    tolerance, whereas here every output must be within ``tol`` on its own.

    Examples
    --------
    >>> from sksgr.metrics import tolerance_accuracy_score
    >>> y_true = [0.5, 0.5, 0.5, 0.5]
    >>> y_pred = [0.51, 0.45, 0.6, 0.9]
    >>> tolerance_accuracy_score(y_true, y_pred)
    0.25
    >>> tolerance_accuracy_score(y_true, y_pred, criterion="squared")
    0.75
    >>> tolerance_accuracy_score([[0, 1], [0, 1]], [[0, 1.01], [0, 1.5]])
    0.5
    """
    _check_tol_criterion(tol, criterion)
    check_consistent_length(y_true, y_pred)
    y_true = _as_2d_target(y_true, "y_true")
    y_pred = _as_2d_target(y_pred, "y_pred")
    if y_true.shape[1] != y_pred.shape[1]:
        raise ValueError(
            "y_true and y_pred have different numbers of outputs "
            f"({y_true.shape[1]} != {y_pred.shape[1]})."
        )

    error = np.abs(y_true - y_pred)
    if criterion == "squared":
        with np.errstate(over="ignore"):  # an overflow to inf is simply wrong
            error = error * error
    correct = np.all(error <= tol if inclusive else error < tol, axis=1)
    return float(np.mean(correct))


def make_tolerance_scorer(tol=0.04, criterion="absolute", inclusive=False):
    """Make a scorer from :func:`tolerance_accuracy_score`.

    Parameters
    ----------
    tol : float, default=0.04
        Positive, finite tolerance, see :func:`tolerance_accuracy_score`.

    criterion : {"absolute", "squared"}, default="absolute"
        Which error is compared with ``tol``, see
        :func:`tolerance_accuracy_score`.

    inclusive : bool, default=False
        Count an error equal to ``tol`` as correct, see
        :func:`tolerance_accuracy_score`.

    Returns
    -------
    scorer : callable
        A scorer ``scorer(estimator, X, y)`` for ``scoring=`` in
        :class:`~sklearn.model_selection.GridSearchCV`,
        :func:`~sklearn.model_selection.cross_val_score` and friends; greater
        is better. It scores ``estimator.predict(X)``.

    Raises
    ------
    ValueError, TypeError
        If ``tol`` or ``criterion`` is invalid (checked here, not at scoring
        time).

    See Also
    --------
    tolerance_scorer : The scorer with the defaults ``tol=0.04``,
        ``criterion="absolute"``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LinearRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from sksgr.metrics import make_tolerance_scorer
    >>> X = np.arange(20.0).reshape(-1, 1)
    >>> y = 0.5 * X.ravel() + 1.0
    >>> scorer = make_tolerance_scorer(tol=0.01, criterion="squared")
    >>> cross_val_score(LinearRegression(), X, y, cv=2, scoring=scorer)
    array([1., 1.])
    """
    _check_tol_criterion(tol, criterion)
    return make_scorer(tolerance_accuracy_score, tol=tol, criterion=criterion,
                       inclusive=bool(inclusive))


#: Scorer for :func:`tolerance_accuracy_score` with the defaults ``tol=0.04``,
#: ``criterion="absolute"``; pass it as ``scoring=tolerance_scorer``.
tolerance_scorer = make_scorer(tolerance_accuracy_score)
