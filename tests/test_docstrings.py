"""The Examples sections run as written, and the docs cite only what exists."""

import doctest
import importlib
import re
import warnings
from pathlib import Path

import pytest

from conftest import PACKAGE_DIR, ROOT

MODULES = ["sksgr._estimators", "sksgr.network", "sksgr.datasets", "sksgr.metrics",
           "sksgr.diagnostics", "sksgr.plotting", "sksgr.preprocessing", "sksgr.reservoir",
           "sksgr.export", "sksgr.streaming"]
DOC_FILES = sorted(
    [ROOT / "README.md", ROOT / "pyproject.toml", ROOT / "setup.py"]
    + [p for d in (PACKAGE_DIR, *(ROOT / name for name in ("benchmarks", "tests", ".ci", "docs",
                                                           "examples")))
       if d.exists() for p in d.rglob("*")
       if p.is_file() and p.suffix in {".py", ".pyx", ".pxi", ".pxd", ".h", ".md", ".rst", ""}
       and p.name != Path(__file__).name and "__pycache__" not in p.parts
       and not {"_build", "generated", "auto_examples"} & set(p.parts)]
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name == "sksgr.plotting":
        pytest.importorskip("matplotlib")
    if name == "sksgr.export":  # builds a model: needs onnx (not onnxruntime)
        pytest.importorskip("onnx")
    module = importlib.import_module(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an example that warns is not run "as written"
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_docs_cite_only_files_of_the_repository():
    """The repository stands alone: no design notes outside it, no missing test files."""
    for path in DOC_FILES:
        text = path.read_text(errors="replace")
        # (spelt in two parts, so that this file does not cite them itself)
        assert "DES" + "IGN" not in text, path
        assert "../" + "shared" not in text, path
        for cited in re.findall(r"\b((?:tests|benchmarks|sksgr)/[\w/]+\.(?:py|pyx|pxi|pxd|h))\b",
                                text):
            assert (ROOT / cited).exists() or (PACKAGE_DIR.parent / cited).exists(), \
                f"{path} cites {cited}"
