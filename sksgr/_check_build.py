"""A message that says what to do when the compiled kernels cannot be imported.

The usual cause: Python found the *source tree* of sksgr before the installed
package (the current directory comes first on ``sys.path`` with
``python -m pytest`` or ``python -c``, and ``PYTHONPATH=.`` puts it there),
and the source tree has no compiled extension.
"""

import os


def raise_build_error(exc):
    """Raise an ImportError that explains ``exc`` (the failed import of ``_bptt_fast``)."""
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    built = [f for f in os.listdir(here)
             if f.startswith("_bptt_fast.") and f.endswith((".so", ".pyd"))]
    if built:  # there, but not importable: report Python's reason
        raise ImportError(
            f"sksgr's compiled kernels ({', '.join(built)} in {here}) cannot be imported: "
            f"{exc}\nRebuild them for this Python: `pip install .` (or, in a source tree, "
            "`python setup.py build_ext --inplace`)."
        ) from exc
    if os.path.exists(os.path.join(here, "_bptt_fast.pyx")) and os.path.exists(
        os.path.join(root, "setup.py")
    ):
        advice = (
            f"Python imported sksgr from its source tree ({here}), where the Cython "
            "extension is not built; the source tree shadows any installed sksgr when it "
            "is the current directory (python -m pytest, python -c) or on PYTHONPATH. "
            "Either run from outside the source tree so that the installed package is "
            "imported (e.g. `pytest` instead of `python -m pytest`; no PYTHONPATH=.), or "
            "build the source tree in place: `pip install -e .` or "
            "`python setup.py build_ext --inplace`."
        )
    else:
        advice = (
            "This installation of sksgr is incomplete or was built for another Python; "
            "reinstall it with `pip install sksgr` from source (a C compiler is needed)."
        )
    # Python's own message for this case blames a circular import: misleading, left out
    raise ImportError(f"sksgr's compiled kernels (sksgr._bptt_fast) are not built.\n{advice}"
                      ) from None
