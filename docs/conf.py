"""Sphinx configuration of the sksgr documentation.

Build from the root of the repository (``pip install ".[docs]"`` first)::

    sphinx-build -W --keep-going -b html docs docs/_build/html

The gallery's examples (``examples/plot_*.py``) run during the build.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# An in-place build (python setup.py build_ext --inplace, pip install -e .) is
# imported from the source tree; an installed package is imported otherwise.
if (ROOT / "sksgr" / "_version.py").exists() and any((ROOT / "sksgr").glob("_bptt_fast*.so")):
    sys.path.insert(0, str(ROOT))

import sksgr  # noqa: E402

os.environ.setdefault("MPLBACKEND", "Agg")

project = "sksgr"
copyright = "the sksgr developers"
author = "the sksgr developers"
release = sksgr.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip"]
templates_path = ["_templates"]

# The API reference: one page per public object, from its numpydoc docstring.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

myst_heading_anchors = 3
myst_enable_extensions = []

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "reset_modules": ("matplotlib",),
    "plot_gallery": "True",
}

html_theme = "pydata_sphinx_theme"
html_title = f"sksgr {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_show_sourcelink = False
# Pages without sub-pages get no (empty) section navigation: room for their wide tables.
html_sidebars = {page: [] for page in ("index", "reproduction", "realdata", "forecasting",
                                            "development", "api")}


def _skip_scikit_learn_members(app, what, name, obj, skip, options):
    """Leave out the methods a class inherits from scikit-learn.

    ``get_params``, ``set_params``, ``score``, ``fit_transform``,
    ``set_output`` and the generated ``set_*_request`` methods: their
    docstrings are scikit-learn's and cite its own glossary, which this site
    does not have; scikit-learn's documentation describes them. The methods
    sksgr defines, its base class's included, stay.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    func = getattr(obj, "fget", obj)
    func = getattr(func, "__func__", func)
    module = getattr(func, "__module__", None)
    if what == "class" and callable(func) and module and not module.startswith("sksgr"):
        return True
    return skip


def setup(app):
    app.connect("autodoc-skip-member", _skip_scikit_learn_members)
