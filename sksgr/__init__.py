"""sksgr: simple recurrent networks with sampling-based gradient regularization.

Scikit-learn compatible estimators (:class:`SRNClassifier`,
:class:`SRNRegressor`) backed by Cython kernels for backpropagation through
time, after Chernodub & Nowicki (2016).
"""

from ._estimators import SRNClassifier, SRNRegressor
from ._version import __version__
from .preprocessing import SequenceScaler

__all__ = ["SequenceScaler", "SRNClassifier", "SRNRegressor", "__version__"]
