"""sksgr: simple recurrent networks with sampling-based gradient regularization.

Scikit-learn compatible estimators (:class:`SRNClassifier`,
:class:`SRNRegressor`) backed by Cython kernels for backpropagation through
time, after Chernodub & Nowicki (2016).
"""

try:
    # the front door to the compiled kernels: fail early, and clearly, if they are not built
    from . import network  # noqa: F401
except ImportError as exc:
    from ._check_build import raise_build_error

    raise_build_error(exc)

from ._estimators import SRNClassifier, SRNRegressor  # noqa: E402
from ._version import __version__
from .preprocessing import SequenceScaler
from .reservoir import SRNFeatures

__all__ = ["SequenceScaler", "SRNClassifier", "SRNFeatures", "SRNRegressor", "__version__"]
