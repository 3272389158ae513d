#!/usr/bin/env bash
# The lowest declared versions: a fresh virtual environment with every lower
# bound of pyproject.toml pinned (the dependencies, and the build requirements:
# sksgr is compiled there, without build isolation, with the lowest Cython,
# setuptools and SciPy), then the default suite against that installation,
# from a copy of the repository without sksgr/. The [test] extra's packages
# are left to pip, within those pins. The newest versions are what the
# first step of .ci/run installs (a plain `pip install ".[test]"`).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
step() { echo "== lowest_versions: $1 (${SECONDS}s so far)"; }

step "pin the lower bounds"
python - > "$work/lowest.txt" <<'EOF'
import re, tomllib
meta = tomllib.load(open("pyproject.toml", "rb"))
# the build requirements within their lowest release series (setuptools 77.0.0 is
# yanked: 77.* gives 77.0.3), the dependencies at exactly their lower bounds
for specs, series in [(meta["build-system"]["requires"], ".*"), (meta["project"]["dependencies"], "")]:
    for spec in specs:
        name, low = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9.]+)", spec.split("#")[0].strip()).groups()
        print(f"{name}=={low}{series}")
EOF
cat "$work/lowest.txt"

step "install at the lower bounds"
mkdir "$work/src" "$work/tree"
# a clean copy: no C file, build/ or kernels of an earlier build in the clone get reused
git ls-files -z | xargs -0 cp --parents -t "$work/src"
git ls-files -z | grep -zv '^sksgr/' | xargs -0 cp --parents -t "$work/tree"
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q -c "$work/lowest.txt" setuptools Cython scipy
"$work/venv/bin/pip" install -q --no-build-isolation -c "$work/lowest.txt" "$work/src[test]"
"$work/venv/bin/pip" list | grep -iE '^(numpy|scipy|scikit-learn|joblib|threadpoolctl|cython|setuptools) '

step "the default suite at the lower bounds"
cd "$work/tree"
"$work/venv/bin/pytest" -p no:cacheprovider
step "done"
