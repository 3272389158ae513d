"""sksgr/_compat.py is the only module that imports private scikit-learn names, its
fallbacks behave as the scikit-learn helpers they replace, and a private name
without a fallback fails at import, naming itself and the scikit-learn version."""

import ast
import importlib
import importlib.util
import inspect
import sys
import types
from numbers import Integral
from pathlib import Path

import numpy as np
import pytest
import sklearn
import sklearn.base
import sklearn.utils._param_validation
import sklearn.utils.multiclass
import sklearn.utils.validation
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, InvalidParameterError, StrOptions
from sklearn.utils.multiclass import _check_partial_fit_first_call
from sklearn.utils.validation import _check_sample_weight

import sksgr._compat as compat

PACKAGE = Path(compat.__file__).resolve().parent


# --- only _compat.py imports private scikit-learn names ---------------------------


def _private(dotted):
    """Whether a dotted name has a private part (a leading underscore, not a dunder)."""
    return any(part.startswith("_") and not part.endswith("__") for part in dotted.split("."))


def _attribute_of(module, name):
    """``module.name``; None if the module is not in this scikit-learn (``sklearn.callback``
    before 1.9: _compat imports it with a fallback)."""
    try:
        return getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None


def private_sklearn_uses(source):
    """The private scikit-learn names a module's source imports: ``from sklearn... import``,
    ``import sklearn...``, ``importlib.import_module("sklearn...")``, and attributes of
    scikit-learn modules bound by an import (``sklearn.base._fit_context``)."""
    tree = ast.parse(source)
    found, modules = [], {}  # modules: local name -> the scikit-learn module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None \
                and node.module.split(".")[0] == "sklearn":
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                if _private(name):
                    found.append(name)
                elif inspect.ismodule(_attribute_of(node.module, alias.name)):
                    modules[alias.asname or alias.name] = name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sklearn":
                    if _private(alias.name):
                        found.append(alias.name)
                    if alias.asname:
                        modules[alias.asname] = alias.name
                    else:
                        modules["sklearn"] = "sklearn"
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) \
                and node.args[0].value.split(".")[0] == "sklearn" and _private(node.args[0].value):
            found.append(node.args[0].value)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
            parts, inner = [node.attr], node.value
            while isinstance(inner, ast.Attribute):
                parts.append(inner.attr)
                inner = inner.value
            if isinstance(inner, ast.Name) and inner.id in modules:
                name = ".".join([modules[inner.id], *reversed(parts)])
                if _private(name):
                    found.append(name)
    return sorted(set(found))


def test_checker_finds_every_form_of_private_import():
    source = """
import sklearn.base
import sklearn.utils._param_validation as pv
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import validation
from sklearn.utils._param_validation import Interval
import importlib
importlib.import_module("sklearn.utils._testing")
sklearn.base._is_fitted(None)
validation._check_y(None)
sklearn.base.__file__, validation.check_array, BaseEstimator._validate_params
"""
    assert private_sklearn_uses(source) == [
        "sklearn.base._fit_context",
        "sklearn.base._is_fitted",
        "sklearn.utils._param_validation",
        "sklearn.utils._param_validation.Interval",
        "sklearn.utils._testing",
        "sklearn.utils.validation._check_y",
    ]


def test_only_compat_imports_private_sklearn_names():
    modules = sorted(PACKAGE.glob("*.py"))
    assert len(modules) > 5
    uses = {path.name: private_sklearn_uses(path.read_text()) for path in modules}
    assert {name: found for name, found in uses.items() if found and name != "_compat.py"} == {}
    # ... and _compat does import them (the check above is not vacuous)
    assert "sklearn.base._fit_context" in uses["_compat.py"]


# scikit-learn >= 1.7: rejects all-zero weights unless allow_all_zero_weights (the
# behaviour sksgr relies on); 1.6 (sksgr's lower bound) accepts them, so _compat uses the fallback
SKLEARN_REJECTS_ZERO_WEIGHTS = "allow_all_zero_weights" in inspect.signature(
    _check_sample_weight).parameters


def test_compat_exports_the_real_names_here():
    # the installed scikit-learn has every name: no fallback is in use
    assert compat._fit_context is _fit_context
    assert (compat._check_sample_weight is _check_sample_weight) == SKLEARN_REJECTS_ZERO_WEIGHTS
    assert (compat._check_sample_weight is compat._check_sample_weight_fallback) \
        != SKLEARN_REJECTS_ZERO_WEIGHTS
    assert compat._check_partial_fit_first_call is _check_partial_fit_first_call
    assert compat.InvalidParameterError is InvalidParameterError
    assert compat.Interval is Interval and compat.StrOptions is StrOptions


def test_compat_exports_the_callback_api_where_scikit_learn_has_it():
    try:
        import sklearn.callback as api
    except ImportError:
        assert compat.CALLBACK_API is False
        assert compat.CallbackSupportMixin is compat.CallbackSupportMixin_fallback
        assert compat.with_callbacks is compat.with_callbacks_fallback
    else:
        assert compat.CALLBACK_API is True
        assert compat.CallbackSupportMixin is api.CallbackSupportMixin
        assert compat.with_callbacks is api.with_callbacks


# --- the fallbacks behave as the real helpers --------------------------------------


def _fit_context_behaviour(fit_context):
    class Toy(BaseEstimator):
        _parameter_constraints = {"a": [Interval(Integral, 1, None, closed="left")]}

        def __init__(self, a=1):
            self.a = a

        @fit_context(prefer_skip_nested_validation=True)
        def fit(self, X=None, y=None):
            """Fit the toy."""
            self.nested_skip_ = get_config()["skip_parameter_validation"]
            return self

        @fit_context(prefer_skip_nested_validation=False)
        def partial_fit(self, X=None, y=None):
            self.nested_skip_ = get_config()["skip_parameter_validation"]
            return self

    def outcome(call):
        try:
            return call().nested_skip_
        except Exception as exc:
            return type(exc), str(exc)

    fitted = Toy().partial_fit()
    fitted.a = 0
    with config_context(skip_parameter_validation=True):
        skipped = outcome(Toy(a=0).fit), outcome(Toy(a=0).partial_fit)
    return dict(
        fit=outcome(Toy().fit),
        partial_fit=outcome(Toy().partial_fit),
        invalid_fit=outcome(Toy(a=0).fit),
        invalid_first_partial_fit=outcome(Toy(a=0).partial_fit),
        invalid_later_partial_fit=outcome(fitted.partial_fit),  # not validated again
        invalid_refit=outcome(fitted.fit),
        globally_skipped=skipped,
        wrapped=(Toy.fit.__name__, Toy.fit.__doc__),
    )


def test_fit_context_fallback():
    fallback = _fit_context_behaviour(compat._fit_context_fallback)
    assert fallback == _fit_context_behaviour(_fit_context)
    assert fallback["fit"] is True and fallback["partial_fit"] is False
    assert fallback["invalid_fit"][0] is InvalidParameterError
    assert fallback["invalid_later_partial_fit"] is False
    assert fallback["globally_skipped"] == (True, True)


SAMPLE_WEIGHT_CASES = [
    dict(sample_weight=None),
    dict(sample_weight=None, dtype=np.float32),
    dict(sample_weight=2.5),
    dict(sample_weight=3, dtype=np.float64),
    dict(sample_weight=[1, 2, 3, 4]),
    dict(sample_weight=np.array([1, 2, 3, 4], dtype=np.float32)),
    dict(sample_weight=np.array([1, 2, 3, 4], dtype=np.float32), dtype=np.float64),
    dict(sample_weight=np.array([1, 2, 3, 4]), dtype=np.int64),
    dict(sample_weight=np.arange(8.0)[::2]),  # not contiguous
    dict(sample_weight=np.ones(4), copy=True),
    dict(sample_weight=np.ones((4, 1))),
    dict(sample_weight=np.ones(3)),
    dict(sample_weight=np.zeros(4)),
    dict(sample_weight=np.zeros(4), allow_all_zero_weights=True),
    dict(sample_weight=0.0),
    dict(sample_weight=np.array([1.0, -1.0, 1.0, 1.0])),
    dict(sample_weight=np.array([1.0, -1.0, 1.0, 1.0]), ensure_non_negative=True),
    dict(sample_weight=np.array([1.0, np.nan, 1.0, 1.0])),
    dict(sample_weight=["a", "b", "c", "d"]),
]


def _sample_weight_outcome(check, case, X):
    case = dict(case)
    weight = case.pop("sample_weight")
    try:
        out = check(weight, X, **case)
    except Exception as exc:
        return type(exc), str(exc)
    return (out.tolist(), out.dtype, out.flags.c_contiguous,
            isinstance(weight, np.ndarray) and np.shares_memory(out, weight))


@pytest.mark.parametrize("case", SAMPLE_WEIGHT_CASES, ids=range(len(SAMPLE_WEIGHT_CASES)))
@pytest.mark.parametrize("X", [np.zeros((4, 3, 2)), [np.zeros((3, 2))] * 4], ids=["array", "list"])
@pytest.mark.skipif(not SKLEARN_REJECTS_ZERO_WEIGHTS,
                    reason=f"scikit-learn {sklearn.__version__}'s _check_sample_weight predates the "
                           "behaviour the fallback follows (all-zero weights rejected)")
def test_check_sample_weight_fallback(case, X):
    expected = _sample_weight_outcome(_check_sample_weight, case, X)
    assert _sample_weight_outcome(compat._check_sample_weight_fallback, case, X) == expected


def _partial_fit_first_call_outcomes(check):
    outcomes = []
    clf = types.SimpleNamespace()
    for classes in [None, [2, 0, 1, 0], None, [0, 1, 2], np.array([1, 2, 0]), [0, 1], ["a"]]:
        try:
            outcomes.append(check(clf, classes))
        except ValueError as exc:
            outcomes.append(str(exc))
        outcomes.append(getattr(clf, "classes_", None))
    return outcomes


def test_check_partial_fit_first_call_fallback():
    fallback = _partial_fit_first_call_outcomes(compat._check_partial_fit_first_call_fallback)
    real = _partial_fit_first_call_outcomes(_check_partial_fit_first_call)
    assert len(fallback) == len(real)
    for got, expected in zip(fallback, real):
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(got, expected)
        else:
            assert got == expected
    assert fallback[0].startswith("classes must be passed")
    assert fallback[2] is True and fallback[4] is False and fallback[6] is False
    assert "is not the same as on last call" in fallback[10]


def test_callback_support_fallback_does_nothing():
    class Toy(compat.CallbackSupportMixin_fallback, BaseEstimator):
        @compat.with_callbacks_fallback
        def fit(self, X=None, y=None):
            ctx = self._init_callback_context(max_subtasks=2)
            assert ctx.call_on_fit_task_begin(estimator=self, X=X, y=y) is ctx
            sub = ctx.subcontext(task_name="epoch")
            sub.call_on_fit_task_begin(estimator=self)
            self.stop_ = sub.call_on_fit_task_end(estimator=self, reconstruction_attributes={})
            ctx.call_on_fit_task_end(estimator=self, X=X, y=y, reconstruction_attributes={})
            return self

    toy = Toy().fit()
    assert toy.stop_ is False  # no callback ever asks to stop
    # scikit-learn's estimators have no set_callbacks before the callback API
    assert not hasattr(toy, "set_callbacks")
    assert not hasattr(toy, "_callback_fit_ctx")


def _callback_lifecycle(fit_context):
    """The hooks a callback sees around a fit decorated with ``fit_context``."""
    api = pytest.importorskip("sklearn.callback")
    events = []

    class Recorder:
        def setup(self, estimator, context):
            events.append("setup")

        def teardown(self, estimator, context):
            events.append("teardown")

        def on_fit_task_begin(self, estimator, context):
            events.append("begin")

        def on_fit_task_end(self, estimator, context):
            events.append("end")

    class Toy(api.CallbackSupportMixin, BaseEstimator):
        _parameter_constraints = {}

        @fit_context(prefer_skip_nested_validation=True)
        def fit(self, X=None, y=None, fail=False):
            ctx = self._init_callback_context()
            ctx.call_on_fit_task_begin(estimator=self)
            if fail:
                raise RuntimeError("fit failed")
            ctx.call_on_fit_task_end(estimator=self)
            return self

    toy = Toy().set_callbacks(Recorder()).fit()
    left = hasattr(toy, "_callback_fit_ctx")
    with pytest.raises(RuntimeError):
        toy.fit(fail=True)
    return events, left


def test_fit_context_fallback_tears_callbacks_down():
    fallback = _callback_lifecycle(compat._fit_context_fallback)
    assert fallback == _callback_lifecycle(_fit_context)
    # torn down after a fit, also after one that fails
    assert fallback == (["setup", "begin", "end", "teardown", "setup", "begin", "teardown"],
                        False)


def test_invalid_parameter_error_fallback():
    assert compat.InvalidParameterError_fallback.__bases__ == InvalidParameterError.__bases__
    with pytest.raises(ValueError):
        raise compat.InvalidParameterError_fallback("bad")
    with pytest.raises(TypeError):
        raise compat.InvalidParameterError_fallback("bad")


# --- without the private names ----------------------------------------------------


def _import_fresh_compat():
    """Execute sksgr/_compat.py again as a new module (not put into sys.modules)."""
    spec = importlib.util.spec_from_file_location("_sksgr_compat_probe", PACKAGE / "_compat.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_missing_names_with_a_fallback_use_it(monkeypatch):
    monkeypatch.delattr(sklearn.base, "_fit_context")
    monkeypatch.delattr(sklearn.utils.validation, "_check_sample_weight")
    monkeypatch.delattr(sklearn.utils.multiclass, "_check_partial_fit_first_call")
    monkeypatch.delattr(sklearn.utils._param_validation, "InvalidParameterError")
    monkeypatch.setitem(sys.modules, "sklearn.callback", None)  # scikit-learn < 1.9
    fresh = _import_fresh_compat()
    assert fresh.CALLBACK_API is False
    assert fresh.CallbackSupportMixin is fresh.CallbackSupportMixin_fallback
    assert fresh.with_callbacks is fresh.with_callbacks_fallback
    assert fresh._fit_context is fresh._fit_context_fallback
    assert fresh._check_sample_weight is fresh._check_sample_weight_fallback
    assert fresh._check_partial_fit_first_call is fresh._check_partial_fit_first_call_fallback
    assert fresh.InvalidParameterError is fresh.InvalidParameterError_fallback


@pytest.mark.parametrize("name", ["Interval", "StrOptions"])
def test_missing_name_without_fallback_fails_loudly(monkeypatch, name):
    monkeypatch.delattr(sklearn.utils._param_validation, name)
    with pytest.raises(ImportError) as info:
        _import_fresh_compat()
    message = str(info.value)
    assert f"sksgr needs {name} from sklearn.utils._param_validation" in message
    assert f"scikit-learn {sklearn.__version__}" in message


def test_missing_private_module_fails_loudly(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.utils._param_validation", None)
    with pytest.raises(ImportError, match=rf"Interval .*scikit-learn {sklearn.__version__}"):
        _import_fresh_compat()


def test_missing_validate_params_fails_loudly(monkeypatch):
    monkeypatch.delattr(BaseEstimator, "_validate_params")
    with pytest.raises(ImportError, match=rf"BaseEstimator._validate_params .*{sklearn.__version__}"):
        _import_fresh_compat()
