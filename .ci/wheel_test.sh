#!/usr/bin/env bash
# The release-shaped package, tested as installed. From the root of a clone:
# 1. `python -m build`: the sdist, then the wheel built from the sdist (a file
#    missing from the sdist breaks that build);
# 2. both archives hold every tracked file of sksgr/ (.pyx, .pxd, .pxi, .h:
#    the wheel ships them for cimport), the wheel the compiled kernels, and
#    neither the C file Cython generates;
# 3. the wheel, with the [test] extra, goes into a fresh virtual environment;
# 4. the default suite runs there from a copy of the repository without
#    sksgr/, so every test imports the installed package (checked first).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "== wheel_test: $1 (${SECONDS}s so far)"; }

step "build the sdist and the wheel"
before=$(git status --porcelain)
python -m venv "$work/build-env"
"$work/build-env/bin/pip" install -q build
"$work/build-env/bin/python" -m build --outdir "$work/dist" .
sdist=$(ls "$work"/dist/sksgr-*.tar.gz)
wheel=$(ls "$work"/dist/sksgr-*.whl)
test "$(git status --porcelain)" = "$before"  # the build left no file in the clone that git sees

step "check the archives' contents"
git ls-files sksgr > "$work/package-files"
python - "$sdist" "$wheel" "$work/package-files" <<'EOF'
import sys, tarfile, zipfile
sdist, wheel, listing = sys.argv[1:]
tracked = set(open(listing).read().split())
in_sdist = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
in_wheel = set(zipfile.ZipFile(wheel).namelist())
for name, files, extra in [("sdist", in_sdist, {"LICENSE", "README.md", "setup.py", "pyproject.toml",
                                                 "tests/conftest.py", "tests/numpy_reference.py"}),
                           ("wheel", in_wheel, set())]:
    missing = sorted((tracked | extra) - files)
    assert not missing, f"the {name} lacks {missing}"
    generated = sorted(f for f in files if f.endswith(".c"))
    assert not generated, f"the {name} ships the generated {generated}"
assert any(f.startswith("sksgr/_bptt_fast.") and f.endswith(".so") for f in in_wheel), "no kernels"
assert any(f.endswith(".dist-info/licenses/LICENSE") for f in in_wheel), "no LICENSE"
assert not any(f.startswith(("tests/", "benchmarks/")) for f in in_wheel), "tests in the wheel"
print(f"sdist: {len(in_sdist)} files, wheel: {len(in_wheel)} files, all of sksgr/'s "
      f"{len(tracked)} tracked files in both")
EOF

step "install the wheel into a fresh virtual environment"
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q "$wheel[test]"

step "the default suite against the installed wheel"
mkdir "$work/tree"
git ls-files -z | grep -zv '^sksgr/' | xargs -0 cp --parents -t "$work/tree"
cd "$work/tree"
"$work/venv/bin/python" - <<'EOF'
import sysconfig
from pathlib import Path
import sksgr
where = Path(sksgr.__file__).resolve()
site = Path(sysconfig.get_paths()["platlib"]).resolve()
assert site in where.parents, f"sksgr imported from {where}, not from {site}"
print(f"sksgr {sksgr.__version__} from {where.parent}")
EOF
"$work/venv/bin/pytest" -p no:cacheprovider
step "done"
