"""The one module of sksgr that imports private scikit-learn names.

scikit-learn may rename, move or drop its private helpers in any release, so
every such import is made here and nowhere else (``tests/test_compat.py``
checks this). Each name either falls back to a small re-implementation kept
importable beside it (``<name>_fallback``, tested against the real one; also
used where the installed scikit-learn's helper lacks behaviour sksgr relies
on, as scikit-learn 1.6's ``_check_sample_weight``), or, where no fallback is
reasonable, fails at import with an ImportError that names
the missing name and the installed scikit-learn version.

No fallback exists for ``Interval`` and ``StrOptions``: the constraints in
``_parameter_constraints`` are checked by ``BaseEstimator._validate_params``,
which accepts only scikit-learn's own constraint classes.

The callback API (``sklearn.callback``, experimental, scikit-learn >= 1.9) is
public but version-dependent, so it is imported here too: without it,
``CallbackSupportMixin`` is a mixin whose callback context does nothing and
that has no ``set_callbacks`` (as scikit-learn's own estimators before it).
"""

import functools
import inspect
import numbers

import numpy as np
import sklearn
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_array, check_is_fitted, check_non_negative

__all__ = [
    "CALLBACK_API",
    "CallbackSupportMixin",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "_check_partial_fit_first_call",
    "_check_sample_weight",
    "_fit_context",
    "with_callbacks",
]


def _missing(name, module, exc=None):
    """The ImportError for a private scikit-learn name sksgr needs and cannot replace."""
    reason = f" ({exc})" if exc is not None else ""
    return ImportError(
        f"sksgr needs {name} from {module}, which scikit-learn {sklearn.__version__} "
        f"(at {sklearn.__path__[0]}) does not provide{reason}, and sksgr has no fallback "
        f"for it. Install a scikit-learn version within the bounds in sksgr's "
        f"pyproject.toml, or report this at sksgr's issue tracker."
    )


# BaseEstimator._validate_params: both _fit_context and its fallback call it, and
# SRN's partial_fit calls it directly.
if not hasattr(BaseEstimator, "_validate_params"):
    raise _missing("BaseEstimator._validate_params", "sklearn.base")


# --- Interval, StrOptions: no fallback -------------------------------------------

try:
    from sklearn.utils._param_validation import Interval
except ImportError as exc:
    raise _missing("Interval", "sklearn.utils._param_validation", exc) from exc

try:
    from sklearn.utils._param_validation import StrOptions
except ImportError as exc:
    raise _missing("StrOptions", "sklearn.utils._param_validation", exc) from exc


# --- InvalidParameterError ---------------------------------------------------------


class InvalidParameterError_fallback(ValueError, TypeError):
    """A parameter has an invalid type or value (scikit-learn's definition)."""


try:
    from sklearn.utils._param_validation import InvalidParameterError
except ImportError:
    InvalidParameterError = InvalidParameterError_fallback


# --- the callback API: CallbackSupportMixin, with_callbacks ---------------------------


class _NoCallbackContext:
    """The callback context without the callback API: every hook does nothing."""

    def subcontext(self, task_name="", task_id=None, max_subtasks=0, sequential_subtasks=True):
        return self

    def call_on_fit_task_begin(self, *, estimator, X=None, y=None, metadata=None,
                               reconstruction_attributes=None):
        return self

    def call_on_fit_task_end(self, *, estimator, X=None, y=None, metadata=None,
                             reconstruction_attributes=None):
        return False  # no callback asks to stop


_NO_CALLBACK_CONTEXT = _NoCallbackContext()


class CallbackSupportMixin_fallback:
    """``sklearn.callback.CallbackSupportMixin`` where scikit-learn has no callback API.

    No ``set_callbacks`` (scikit-learn's estimators have none there either);
    ``_init_callback_context`` gives a context whose hooks do nothing, so a
    fit written for the callback API runs unchanged.
    """

    def _init_callback_context(self, task_name="fit", task_id=0, max_subtasks=0,
                               sequential_subtasks=True):
        return _NO_CALLBACK_CONTEXT


def with_callbacks_fallback(method):
    """``sklearn.callback.with_callbacks`` without the callback API: the method itself."""
    return method


try:
    from sklearn.callback import CallbackSupportMixin, with_callbacks

    CALLBACK_API = True
except ImportError:
    CallbackSupportMixin = CallbackSupportMixin_fallback
    with_callbacks = with_callbacks_fallback
    CALLBACK_API = False


# --- _fit_context --------------------------------------------------------------------


def _is_fitted(estimator):
    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def _fit_context_fallback(*, prefer_skip_nested_validation):
    """Decorator for fit methods, as ``sklearn.base._fit_context``.

    Validates the estimator's parameters (``self._validate_params()``) unless
    the global ``skip_parameter_validation`` is set or the method is a
    ``partial_fit`` of a fitted estimator, then runs the method with nested
    validation skipped if ``prefer_skip_nested_validation`` and, with the
    callback API, tears the estimator's callbacks down after it
    (``with_callbacks``, as scikit-learn's ``_fit_context`` does).
    """

    def decorator(fit_method):
        fit_method = with_callbacks(fit_method)

        @functools.wraps(fit_method)
        def wrapper(estimator, *args, **kwargs):
            global_skip_validation = get_config().get("skip_parameter_validation", False)
            partial_fit_and_fitted = fit_method.__name__ == "partial_fit" and _is_fitted(estimator)
            if not global_skip_validation and not partial_fit_and_fitted:
                estimator._validate_params()
            with config_context(
                skip_parameter_validation=prefer_skip_nested_validation or global_skip_validation
            ):
                return fit_method(estimator, *args, **kwargs)

        return wrapper

    return decorator


try:
    from sklearn.base import _fit_context
except ImportError:
    _fit_context = _fit_context_fallback


# --- _check_sample_weight ------------------------------------------------------------


def _check_sample_weight_fallback(sample_weight, X, *, dtype=None, ensure_non_negative=False,
                                  copy=False, allow_all_zero_weights=False):
    """Validate sample weights for NumPy input, as ``sklearn.utils.validation._check_sample_weight``.

    ``None`` gives ones, a number gives that value for every sample, anything
    else must be one value per sample (a 1-D array of length ``len(X)``).
    The result is C-contiguous, ``dtype`` if that is float32 or float64,
    else float64 (an array's float32 or float64 dtype is kept when ``dtype`` is None).
    """
    n_samples = X.shape[0] if hasattr(X, "shape") else len(X)
    float_dtypes = (np.float64, np.float32)
    if dtype is not None and dtype not in float_dtypes:
        dtype = np.float64
    if sample_weight is None:
        sample_weight = np.ones(n_samples, dtype=dtype)
    elif isinstance(sample_weight, numbers.Number):
        sample_weight = np.full(n_samples, sample_weight, dtype=dtype)
    else:
        sample_weight = check_array(sample_weight, accept_sparse=False, ensure_2d=False,
                                    dtype=list(float_dtypes) if dtype is None else dtype,
                                    order="C", copy=copy, input_name="sample_weight")
        if sample_weight.ndim != 1:
            raise ValueError(
                f"Sample weights must be 1D array or scalar, got {sample_weight.ndim}D array. "
                f"Expected either a scalar value or a 1D array of length {n_samples}."
            )
        if sample_weight.shape != (n_samples,):
            raise ValueError(f"sample_weight.shape == {sample_weight.shape}, expected {(n_samples,)}!")
    if not allow_all_zero_weights and np.all(sample_weight == 0):
        raise ValueError("Sample weights must contain at least one non-zero number.")
    if ensure_non_negative:
        check_non_negative(sample_weight, "`sample_weight`")
    return sample_weight


try:
    from sklearn.utils.validation import _check_sample_weight
except ImportError:
    _check_sample_weight = _check_sample_weight_fallback
else:
    # scikit-learn 1.6's version has no allow_all_zero_weights and accepts weights that
    # are all zero, which sksgr rejects (a fit on them has no loss to minimise)
    if "allow_all_zero_weights" not in inspect.signature(_check_sample_weight).parameters:
        _check_sample_weight = _check_sample_weight_fallback


# --- _check_partial_fit_first_call -------------------------------------------------------


def _check_partial_fit_first_call_fallback(clf, classes=None):
    """Set ``clf.classes_`` on the first ``partial_fit`` call and return True, as
    ``sklearn.utils.multiclass._check_partial_fit_first_call``.

    Later calls return False; ``classes`` is then optional but must match.
    """
    if getattr(clf, "classes_", None) is None and classes is None:
        raise ValueError("classes must be passed on the first call to partial_fit.")
    if classes is not None:
        if getattr(clf, "classes_", None) is None:
            clf.classes_ = unique_labels(classes)
            return True
        if not np.array_equal(clf.classes_, unique_labels(classes)):
            raise ValueError(
                f"`classes={classes!r}` is not the same as on last call to partial_fit, "
                f"was: {clf.classes_!r}"
            )
    return False


try:
    from sklearn.utils.multiclass import _check_partial_fit_first_call
except ImportError:
    _check_partial_fit_first_call = _check_partial_fit_first_call_fallback
