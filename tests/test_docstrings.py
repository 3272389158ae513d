"""The Examples sections of the public modules run as written."""

import doctest
import importlib

import pytest

MODULES = ["sksgr._estimators", "sksgr._numpy_reference", "sksgr.datasets", "sksgr.metrics",
           "sksgr.diagnostics", "sksgr.plotting", "sksgr.preprocessing"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name == "sksgr.plotting":
        pytest.importorskip("matplotlib")
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0
