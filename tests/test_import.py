"""Importing sksgr from an unbuilt source tree says what to do."""

import shutil

from conftest import PACKAGE_DIR, ROOT


def test_unbuilt_source_tree_explains_itself(tmp_path, run_isolated):
    # a copy of the source tree without the compiled extension, as after a
    # fresh clone (or a non-editable `pip install .`, which builds elsewhere)
    tree = tmp_path / "clone"
    shutil.copytree(PACKAGE_DIR, tree / "sksgr",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "*.c", "__pycache__"))
    shutil.copy(ROOT / "setup.py", tree / "setup.py")
    # Only the standard finders: an editable install of another sksgr tree in
    # this environment (setuptools' finder) would otherwise supply the extension.
    proc = run_isolated("""
        import sys
        sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
        import sksgr
    """, cwd=tree)
    assert proc.returncode != 0
    assert "circular import" not in proc.stderr
    assert "source tree" in proc.stderr
    assert "python setup.py build_ext --inplace" in proc.stderr
    assert "instead of `python -m pytest`" in proc.stderr
