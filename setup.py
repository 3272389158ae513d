"""Build the Cython kernels of sksgr.

The metadata lives in pyproject.toml; this file only declares the extension
modules. BLAS comes from scipy.linalg.cython_blas at import time, so nothing
links against a BLAS library here.

Flags: -O3 vectorises the activation loops. -fno-trapping-math (Clang's
default) lets GCC execute both halves of the branch-free tanh and select
between them; it changes no computed value, only the assumption that
floating-point exceptions trap, which nothing here enables.
-ffp-contract=off keeps a*b+c as two roundings, so the tanh clones that GCC
builds for AVX-512, AVX2 and the baseline (runtime dispatch, see
_fast_tanh.h) compute the same values on every x86-64 machine. No
-march=native (the build must run on any machine of its architecture) and
no -ffast-math (IEEE values are relied on: NaN detection, the tanh range
reduction).

SKSGR_NO_TARGET_CLONES=1 in the environment builds the tanh loops once, for
the baseline instruction set, as every platform but GCC >= 11 on x86-64
Linux gets (to measure that fallback; see _fast_tanh.h).
"""
import os
import sys

from Cython.Build import cythonize
from setuptools import Extension, setup

EXTENSIONS = ["_bptt_fast"]
compile_args = [] if sys.platform == "win32" else ["-O3", "-fno-trapping-math", "-ffp-contract=off"]

ext_modules = [
    Extension(
        f"sksgr.{name}",
        [f"sksgr/{name}.pyx"],
        include_dirs=["sksgr"],
        extra_compile_args=compile_args,
        define_macros=[("SKSGR_NO_TARGET_CLONES", "1")]
        if os.environ.get("SKSGR_NO_TARGET_CLONES") == "1" else [],
    )
    for name in EXTENSIONS
]

setup(
    ext_modules=cythonize(
        ext_modules,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )
)
