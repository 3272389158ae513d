"""Starting output layers: the target mean as bias, or ridge regression in closed form.

A network's readout features are fixed once its recurrent part is drawn, so
the output layer that best fits them in the least-squares sense is a ridge
regression away (the echo-state network's readout). Fitted before BPTT
starts, it gives training a start that is already a working model, and with
``max_iter=0`` it is the model.
"""

import numpy as np
from sklearn.linear_model import RidgeCV

# The penalties the closed-form start chooses from (by generalised cross-validation).
DEFAULT_ALPHAS = tuple(np.logspace(-3, 3, 13))


def ridge_targets(Y, softmax):
    """What the ridge regression fits: real targets as they are; one-hot classes as
    +-1 codes (as RidgeClassifierCV), so the scores are logits with the right argmax."""
    return 2.0 * Y - 1.0 if softmax else Y


def ridge_output_layer(features, Y, *, softmax, sample_weight=None, alphas=DEFAULT_ALPHAS):
    """``(W_out, b_out, alpha)`` of a ridge regression of ``Y`` on the readout features.

    The features are standardised (zero mean, unit variance over the
    training sequences, constant ones left as they are) before the penalty
    applies, and the standardisation is folded back into the weights, so the
    network computes ``features @ W_out + b_out`` unchanged. The penalty is
    the one of ``alphas`` with the smallest leave-one-out error, computed in
    closed form from one decomposition (scikit-learn's ``RidgeCV``, GCV).

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Real targets, or one-hot classes when ``softmax``.
    softmax : bool
        Whether ``Y`` is one-hot (the softmax head): the ridge fits +-1 codes.
    sample_weight : ndarray of shape (n_samples,), default=None
    alphas : sequence of float

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> F = rng.normal(size=(200, 5)); Y = F @ np.arange(5.0)[:, None] + 3.0
    >>> W, b, alpha = ridge_output_layer(F, Y, softmax=False)
    >>> bool(np.allclose(F @ W + b, Y, atol=0.05))
    True
    """
    features = np.asarray(features, dtype=np.float64)
    # weighted moments: a weight k is k copies of the sequence
    mean = np.average(features, axis=0, weights=sample_weight)
    scale = np.sqrt(np.average((features - mean) ** 2, axis=0, weights=sample_weight))
    scale[~(scale > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
    Z = (features - mean) / scale
    ridge = RidgeCV(alphas=alphas, fit_intercept=True).fit(
        Z, ridge_targets(np.asarray(Y, dtype=np.float64), softmax),
        sample_weight=sample_weight)
    coef = np.atleast_2d(ridge.coef_).T  # (n_features, n_outputs)
    W_out = coef / scale[:, None]
    b_out = np.atleast_1d(ridge.intercept_) - mean @ W_out
    return W_out, b_out, float(ridge.alpha_)


def mean_output_bias(Y, *, softmax, sample_weight=None):
    """The output bias of a network that predicts the training targets' mean
    (regression) or the log of the classes' frequencies (softmax)."""
    p = np.average(np.asarray(Y, dtype=np.float64), axis=0, weights=sample_weight)
    if softmax:
        return np.log(np.maximum(p, 1e-12))
    return p


def softmax_temperature(scores, Y, sample_weight=None):
    """The factor ``tau`` that minimises the (weighted) mean cross-entropy of
    ``softmax(tau * scores)`` against the one-hot ``Y`` (the argmax is unchanged):
    ridge scores on the scale of +-1 codes made calibrated logits."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    Y = np.asarray(Y, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)

    def loss(log_tau):
        ce = -np.sum(Y * log_softmax(np.exp(log_tau) * scores, axis=1), axis=1)
        return float(np.average(ce, weights=sample_weight))

    return float(np.exp(minimize_scalar(loss, bounds=(-5.0, 8.0), method="bounded").x))
