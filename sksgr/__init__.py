"""sksgr: simple recurrent networks with sampling-based gradient regularization.

Scikit-learn compatible estimators (:class:`SRNClassifier`,
:class:`SRNRegressor`) backed by Cython kernels for backpropagation through
time, after Chernodub & Nowicki (2016).
"""

try:
    from . import _bptt_fast  # noqa: F401  (the compiled kernels: fail early, and clearly)
except ImportError as exc:
    from ._check_build import raise_build_error

    raise_build_error(exc)

from ._estimators import SRNClassifier, SRNRegressor  # noqa: E402
from ._version import __version__
from .preprocessing import SequenceScaler

__all__ = ["SequenceScaler", "SRNClassifier", "SRNRegressor", "__version__"]
