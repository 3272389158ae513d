"""Synthetic long-term-dependency benchmarks for recurrent networks.

The four generators in this module produce the sequence problems that
Chernodub & Nowicki (2016, section 4) [1]_ use to evaluate sampling-based gradient
regularization. They follow the definitions of Pascanu, Mikolov & Bengio
(2013) [2]_ as implemented in their code ``pascanur/trainingRNNs`` (files
``addition.py``, ``multiplication.py``, ``tempOrder.py`` and
``tempOrder3bit.py``), which the paper follows:

========================  =======  =================================  ==========
generator                 inputs   marked positions (l = length)      target
========================  =======  =================================  ==========
make_adding               2        [0, 0.1 l), [0.1 l, 0.5 l)         regression
make_multiplication       2        [0, 0.1 l), [0.1 l, 0.5 l)         regression
make_temporal_order       6        [0.1 l, 0.2 l), [0.5 l, 0.6 l)     4 classes
make_temporal_order_3bit  6        [0.1 l, 0.2 l), [0.3 l, 0.4 l),    8 classes
                                   [0.6 l, 0.7 l)
========================  =======  =================================  ==========

Every range is an integer range computed as in Pascanu's code: a range given
as ``(start, width)`` in tenths of ``l`` is
``[floor(start * l / 10), floor(start * l / 10) + floor(width * l / 10))``.
For the adding and multiplication tasks the second range is therefore
``[floor(0.1 l), floor(0.1 l) + floor(0.4 l))``, which can end one step
before ``floor(0.5 l)`` (for example ``l = 19`` gives ``[1, 8)``).

The problems themselves go back to Hochreiter & Schmidhuber (1997) [3]_.

All generators return ``X`` of shape ``(n_samples, n_timesteps, n_features)``
in float64: batch first, then time, then the features of one step (the order
used by tslearn and by PyTorch with ``batch_first=True``; sktime and aeon put
the channels before time). The target of each sequence is read at its last
step.

Departure from Pascanu's code: his training loop draws a new length for every
minibatch, and the adding and multiplication tasks stretch that length by a
random amount of up to 10 %. Here a data set has one fixed length,
``n_timesteps``, for all its sequences.

Two conventions (``convention=``), for every generator:

- ``"pascanu"`` (default): the definitions above.
- ``"chernodub"``: the definitions of the paper's authors' own public
  experiment code (MATLAB, repository ``achernodub/oplu_adding``, files
  ``synthetic_problems/get_*_problem.m``, written for their sibling 2016
  paper on orthogonal permutation linear units and run with the same
  protocol as the SGR paper). Adding and multiplication values are drawn
  from U[-1, 1) (centred), and with ``T' = ceil(1.1 l)`` computed in doubles
  the 1-based, inclusive windows are ``p0 in [1, round(T'/10)]`` and
  ``p1 in [round(T'/10 + 1), round(T'/2)]`` (l = 100: 1...11 and 12...56;
  l = 150: 1...17 and 18...83). Temporal order uses
  ``[round(l/10), round(2l/10)]`` and ``[round(4l/10), round(5l/10)]``,
  3-bit ``[round(l/10), round(2l/10)]``, ``[round(3l/10), round(4l/10)]``,
  ``[round(6l/10), round(7l/10)]``. ``round`` is MATLAB's (halves away from
  zero). Their success criteria differ too: ``|error| <= 0.08`` for adding and
  ``<= 0.04`` for multiplication (see :mod:`sksgr.metrics`). The channel order
  (``[marker, value]``; symbols A, B, then distractors) and the class
  numbering are the library's for both conventions. :func:`position_ranges`
  returns the 0-based ranges of either convention.

References
----------
.. [1] A. Chernodub and D. Nowicki, "Sampling-based gradient regularization
   for capturing long-term dependencies in recurrent neural networks", 2016.
.. [2] R. Pascanu, T. Mikolov and Y. Bengio, "On the difficulty of training
   recurrent neural networks", ICML 2013; code at
   https://github.com/pascanur/trainingRNNs.
.. [3] S. Hochreiter and J. Schmidhuber, "Long short-term memory", Neural
   Computation 9(8):1735-1780, 1997.
"""

import numbers

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "position_ranges",
    "make_adding",
    "make_multiplication",
    "make_temporal_order",
    "make_temporal_order_3bit",
]

# Marked-position ranges as (start, width) in tenths of the sequence length l:
# position k is drawn uniformly from
# [start * l // 10, start * l // 10 + width * l // 10).
# For these fractions the integer floors equal Pascanu's ``int(l * .1)`` etc.
# (checked for every l up to 10**6).
_MARKED_REGRESSION_RANGES = ((0, 1), (1, 4))
_TEMPORAL_ORDER_RANGES = ((1, 1), (5, 1))
_TEMPORAL_ORDER_3BIT_RANGES = ((1, 1), (3, 1), (6, 1))

# Temporal order: symbols 0 (A) and 1 (B) carry the bits, 2..5 are distractors.
_N_SYMBOLS = 6
_N_RELEVANT_SYMBOLS = 2


_CONVENTIONS = ("pascanu", "chernodub")

# The authors' windows, 1-based and inclusive, as MATLAB expressions of the
# length: (lo, hi) of each marked position, before rounding. ``L`` is T for the
# temporal-order tasks and T' = ceil(1.1 T) for adding and multiplication.
_CHERNODUB_WINDOWS = {
    "adding": ((lambda L: 1, lambda L: L / 10), (lambda L: L / 10 + 1, lambda L: L / 2)),
    "temporal order": ((lambda L: L / 10, lambda L: 2 * L / 10),
                       (lambda L: 4 * L / 10, lambda L: 5 * L / 10)),
    "temporal order 3-bit": ((lambda L: L / 10, lambda L: 2 * L / 10),
                             (lambda L: 3 * L / 10, lambda L: 4 * L / 10),
                             (lambda L: 6 * L / 10, lambda L: 7 * L / 10)),
}
_CHERNODUB_WINDOWS["multiplication"] = _CHERNODUB_WINDOWS["adding"]
_PASCANU_RANGES = {
    "adding": _MARKED_REGRESSION_RANGES,
    "multiplication": _MARKED_REGRESSION_RANGES,
    "temporal order": _TEMPORAL_ORDER_RANGES,
    "temporal order 3-bit": _TEMPORAL_ORDER_3BIT_RANGES,
}
# Both conventions need n_timesteps >= 10 (every window holds a step then).
_MIN_TIMESTEPS = 10


def _matlab_round(x):
    """MATLAB's ``round`` for x >= 0: halves away from zero."""
    return int(np.floor(x + 0.5))


def position_ranges(task, n_timesteps, convention="pascanu"):
    """Half-open, 0-based ranges ``[lo, hi)`` of the marked positions of ``task``.

    Parameters
    ----------
    task : {"adding", "multiplication", "temporal order", "temporal order 3-bit"}
    n_timesteps : int
    convention : {"pascanu", "chernodub"}, default="pascanu"

    Returns
    -------
    ranges : list of (int, int)
        One ``(lo, hi)`` per marked position; position ``k`` is uniform on
        ``lo_k, ..., hi_k - 1``.

    Examples
    --------
    >>> from sksgr.datasets import position_ranges
    >>> position_ranges("adding", 100, "chernodub")
    [(0, 11), (11, 56)]
    >>> position_ranges("temporal order", 100, "chernodub")
    [(9, 20), (39, 50)]
    >>> position_ranges("temporal order", 100)
    [(10, 20), (50, 60)]
    """
    T = n_timesteps
    if convention == "pascanu":
        return [(start * T // 10, start * T // 10 + width * T // 10)
                for start, width in _PASCANU_RANGES[task]]
    # MATLAB: randi([round(lo), round(hi)]) on 1-based indices; T' = ceil(1.1 T)
    # computed in doubles as ``ceil((11/10) * T)``.
    L = int(np.ceil((11 / 10) * T)) if task in ("adding", "multiplication") else T
    return [(_matlab_round(lo(L)) - 1, _matlab_round(hi(L)))
            for lo, hi in _CHERNODUB_WINDOWS[task]]


def _check_params(n_samples, n_timesteps, convention, task):
    """Validate the size arguments and the convention; return the sizes as ints."""
    for name, value in (("n_samples", n_samples), ("n_timesteps", n_timesteps)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, numbers.Integral
        ):
            raise TypeError(
                f"{name} must be an int, got {value!r} of type "
                f"{type(value).__qualname__}."
            )
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}.")
    if convention not in _CONVENTIONS:
        raise ValueError(
            f"convention must be one of {_CONVENTIONS}, got {convention!r}."
        )
    if n_timesteps < _MIN_TIMESTEPS:
        if convention == "pascanu":
            windows = _format_ranges(_PASCANU_RANGES[task])
        else:
            windows = "tenths of the length"
        raise ValueError(
            f"n_timesteps={n_timesteps} is too short for the {task} task: it "
            f"needs n_timesteps >= {_MIN_TIMESTEPS} so that every marked-position "
            f"range ({windows}) holds at least one time step."
        )
    return int(n_samples), int(n_timesteps)


def _format_ranges(ranges):
    return ", ".join(
        f"[{start / 10:g} l, {(start + width) / 10:g} l)" for start, width in ranges
    )


def _draw_positions(rng, n_samples, ranges):
    """Draw one marked position per range and sequence.

    Returns an int array of shape ``(len(ranges), n_samples)``; row ``k``
    is uniform on ``[lo_k, hi_k)``.
    """
    positions = np.empty((len(ranges), n_samples), dtype=np.intp)
    for k, (lo, hi) in enumerate(ranges):
        positions[k] = rng.randint(hi - lo, size=n_samples)
        positions[k] += lo
    return positions


def _make_marked_regression(n_samples, n_timesteps, random_state, combine, task,
                            convention):
    """Shared body of the adding and multiplication tasks.

    ``combine(a, b)`` maps the two marked values to the target.
    """
    n_samples, n_timesteps = _check_params(n_samples, n_timesteps, convention, task)
    rng = check_random_state(random_state)

    positions = _draw_positions(rng, n_samples, position_ranges(task, n_timesteps, convention))
    X = np.zeros((n_samples, n_timesteps, 2), dtype=np.float64)
    if convention == "pascanu":
        X[:, :, 1] = rng.uniform(size=(n_samples, n_timesteps))
    else:
        X[:, :, 1] = rng.uniform(-1.0, 1.0, size=(n_samples, n_timesteps))
    rows = np.arange(n_samples)
    X[rows, positions, 0] = 1.0  # broadcasts to (2, n_samples)
    first, second = X[rows, positions, 1]
    return X, combine(first, second)


def _make_temporal_order(n_samples, n_timesteps, random_state, task, convention):
    """Shared body of the two temporal-order tasks.

    One bit per range: symbol A (0) or B (1) is shown at the drawn position,
    a uniform distractor from {2, 3, 4, 5} everywhere else; the class is
    ``sum_k bit_k * 2**k``.
    """
    n_samples, n_timesteps = _check_params(n_samples, n_timesteps, convention, task)
    rng = check_random_state(random_state)

    ranges = position_ranges(task, n_timesteps, convention)
    positions = _draw_positions(rng, n_samples, ranges)
    bits = rng.randint(_N_RELEVANT_SYMBOLS, size=(len(ranges), n_samples))
    symbols = rng.randint(
        _N_RELEVANT_SYMBOLS, _N_SYMBOLS, size=(n_samples, n_timesteps)
    )
    symbols[np.arange(n_samples), positions] = bits

    X = np.zeros((n_samples, n_timesteps, _N_SYMBOLS), dtype=np.float64)
    np.put_along_axis(X, symbols[:, :, np.newaxis], 1.0, axis=2)
    weights = 2 ** np.arange(len(ranges), dtype=np.int64)
    y = weights @ bits.astype(np.int64)
    return X, y


def make_adding(n_samples=1000, n_timesteps=100, *, convention="pascanu",
                random_state=None):
    """Generate the adding problem.

    Each sequence has two inputs per step, in Pascanu's order
    ``[marker, value]``. The value is drawn from U[0, 1) at every step. The
    marker is 1 at exactly two steps, ``p0`` and ``p1``, and 0 elsewhere. The
    target is the mean of the two marked values, ``(x[p0] + x[p1]) / 2``.

    With ``l = n_timesteps`` the marked positions are uniform on the integer
    ranges (as in Pascanu's ``addition.py``)::

        p0 in [0, floor(0.1 l))
        p1 in [floor(0.1 l), floor(0.1 l) + floor(0.4 l))

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, at least 1.

    n_timesteps : int, default=100
        Length ``l`` of every sequence, at least 10 (so that
        ``floor(0.1 l) >= 1``).

    convention : {"pascanu", "chernodub"}, default="pascanu"
        Whose definition to follow. "pascanu": the ranges above and values
        from U[0, 1). "chernodub": the paper's authors' own code (see the
        module docstring): values from U[-1, 1), so targets in [-1, 1]
        (centred), and with ``T' = ceil(1.1 l)`` (in doubles) the 1-based,
        inclusive windows ``p0 in [1, round(T'/10)]``,
        ``p1 in [round(T'/10 + 1), round(T'/2)]``, MATLAB rounding (halves
        away from zero): for l = 100, p0 in 1...11 and p1 in 12...56.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation. Pass an int for reproducible
        output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 2), dtype float64
        The sequences; ``X[:, :, 0]`` is the marker, ``X[:, :, 1]`` the value.

    y : ndarray of shape (n_samples,), dtype float64
        The targets, in [0, 1) ([-1, 1] with ``convention="chernodub"``).

    Raises
    ------
    ValueError
        If ``n_samples < 1``, ``n_timesteps < 10`` or ``convention`` is
        unknown.
    TypeError
        If ``n_samples`` or ``n_timesteps`` is not an integer.

    See Also
    --------
    make_multiplication : Same inputs, the target is the product.

    Notes
    -----
    The problem is from Hochreiter & Schmidhuber (1997); this variant is
    Pascanu, Mikolov & Bengio (2013), code ``pascanur/trainingRNNs``, used by
    Chernodub & Nowicki (2016). Pascanu's code stretches each minibatch's
    length by a random amount of up to 10 %; here every sequence has exactly
    ``n_timesteps`` steps.

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr.datasets import make_adding
    >>> X, y = make_adding(n_samples=5, n_timesteps=50, random_state=0)
    >>> X.shape, y.shape
    ((5, 50, 2), (5,))
    >>> X[:, :, 0].sum(axis=1)
    array([2., 2., 2., 2., 2.])
    >>> bool(np.allclose(y, (X[:, :, 0] * X[:, :, 1]).sum(axis=1) / 2))
    True
    """
    return _make_marked_regression(
        n_samples,
        n_timesteps,
        random_state,
        combine=lambda a, b: (a + b) / 2.0,
        task="adding",
        convention=convention,
    )


def make_multiplication(n_samples=1000, n_timesteps=100, *, convention="pascanu",
                        random_state=None):
    """Generate the multiplication problem.

    Same inputs as :func:`make_adding`: two inputs per step,
    ``[marker, value]``, the value drawn from U[0, 1) at every step and the
    marker set to 1 at exactly two steps ``p0`` and ``p1``. The target is the
    product of the two marked values, ``x[p0] * x[p1]``.

    With ``l = n_timesteps`` the marked positions are uniform on the integer
    ranges (as in Pascanu's ``multiplication.py``)::

        p0 in [0, floor(0.1 l))
        p1 in [floor(0.1 l), floor(0.1 l) + floor(0.4 l))

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, at least 1.

    n_timesteps : int, default=100
        Length ``l`` of every sequence, at least 10 (so that
        ``floor(0.1 l) >= 1``).

    convention : {"pascanu", "chernodub"}, default="pascanu"
        Whose definition to follow. "pascanu": the ranges above and values
        from U[0, 1). "chernodub": the paper's authors' own code (see the
        module docstring): values from U[-1, 1), so targets in [-1, 1]
        (centred), and with ``T' = ceil(1.1 l)`` (in doubles) the 1-based,
        inclusive windows ``p0 in [1, round(T'/10)]``,
        ``p1 in [round(T'/10 + 1), round(T'/2)]``, MATLAB rounding (halves
        away from zero): for l = 100, p0 in 1...11 and p1 in 12...56.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation. Pass an int for reproducible
        output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 2), dtype float64
        The sequences; ``X[:, :, 0]`` is the marker, ``X[:, :, 1]`` the value.

    y : ndarray of shape (n_samples,), dtype float64
        The targets, in [0, 1) ([-1, 1] with ``convention="chernodub"``).

    Raises
    ------
    ValueError
        If ``n_samples < 1``, ``n_timesteps < 10`` or ``convention`` is
        unknown.
    TypeError
        If ``n_samples`` or ``n_timesteps`` is not an integer.

    See Also
    --------
    make_adding : Same inputs, the target is the mean.

    Notes
    -----
    The problem is from Hochreiter & Schmidhuber (1997); this variant is
    Pascanu, Mikolov & Bengio (2013), code ``pascanur/trainingRNNs``, used by
    Chernodub & Nowicki (2016). Pascanu's code stretches each minibatch's
    length by a random amount of up to 10 %; here every sequence has exactly
    ``n_timesteps`` steps.

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr.datasets import make_multiplication
    >>> X, y = make_multiplication(n_samples=5, n_timesteps=50, random_state=0)
    >>> X.shape, y.shape
    ((5, 50, 2), (5,))
    >>> marked = np.where(X[:, :, 0] == 1, X[:, :, 1], 1.0)
    >>> bool(np.allclose(y, marked.prod(axis=1)))
    True
    """
    return _make_marked_regression(
        n_samples,
        n_timesteps,
        random_state,
        combine=np.multiply,
        task="multiplication",
        convention=convention,
    )


def make_temporal_order(n_samples=1000, n_timesteps=100, *, convention="pascanu",
                        random_state=None):
    """Generate the temporal order problem (4 classes).

    Each step is a one-hot vector over 6 symbols: index 0 is A, index 1 is B,
    indices 2 to 5 are distractors. At two steps ``p0`` and ``p1`` the symbol
    is ``v0`` resp. ``v1``, each A or B with probability 1/2; at every other
    step it is a distractor drawn uniformly from the four. The class is
    ``v0 + 2 * v1`` (A = 0, B = 1), so AA -> 0, BA -> 1, AB -> 2, BB -> 3.

    With ``l = n_timesteps`` the marked positions are uniform on the integer
    ranges (as in Pascanu's ``tempOrder.py``)::

        p0 in [floor(0.1 l), 2 floor(0.1 l))
        p1 in [floor(0.5 l), floor(0.5 l) + floor(0.1 l))

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, at least 1.

    n_timesteps : int, default=100
        Length ``l`` of every sequence, at least 10 (so that
        ``floor(0.1 l) >= 1``).

    convention : {"pascanu", "chernodub"}, default="pascanu"
        Whose definition to follow. "pascanu": the ranges above.
        "chernodub": the paper's authors' own code (see the module
        docstring): 1-based, inclusive windows ``[round(l/10), round(2l/10)]``
        and ``[round(4l/10), round(5l/10)]`` (MATLAB rounding, halves away
        from zero): for l = 100, p0 in 10...20 and p1 in 40...50.

    random_state : int, RandomState instance or None, default=None
        Determines random number generation. Pass an int for reproducible
        output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 6), dtype float64
        One-hot sequences; every row ``X[i, t]`` sums to 1.

    y : ndarray of shape (n_samples,), dtype int64
        The classes, in {0, 1, 2, 3}.

    Raises
    ------
    ValueError
        If ``n_samples < 1``, ``n_timesteps < 10`` or ``convention`` is
        unknown.
    TypeError
        If ``n_samples`` or ``n_timesteps`` is not an integer.

    See Also
    --------
    make_temporal_order_3bit : Three marked symbols, 8 classes.

    Notes
    -----
    The problem is from Hochreiter & Schmidhuber (1997); this variant is
    Pascanu, Mikolov & Bengio (2013), code ``pascanur/trainingRNNs``, used by
    Chernodub & Nowicki (2016). Pascanu's training loop draws a length per
    minibatch; here every sequence has exactly ``n_timesteps`` steps. The
    class is returned as an integer label rather than Pascanu's one-hot row.

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr.datasets import make_temporal_order
    >>> X, y = make_temporal_order(n_samples=5, n_timesteps=50, random_state=0)
    >>> X.shape, y.shape, y.dtype
    ((5, 50, 6), (5,), dtype('int64'))
    >>> bool((X.sum(axis=2) == 1).all())
    True
    >>> X[:, :, :2].sum(axis=(1, 2))
    array([2., 2., 2., 2., 2.])
    """
    return _make_temporal_order(
        n_samples,
        n_timesteps,
        random_state,
        task="temporal order",
        convention=convention,
    )


def make_temporal_order_3bit(n_samples=1000, n_timesteps=100, *, convention="pascanu",
                             random_state=None):
    """Generate the 3-bit temporal order problem (8 classes).

    As :func:`make_temporal_order`, with three marked steps ``p0``, ``p1``,
    ``p2`` showing ``v0``, ``v1``, ``v2`` in {A, B}; the class is
    ``v0 + 2 * v1 + 4 * v2`` (A = 0, B = 1).

    With ``l = n_timesteps`` the marked positions are uniform on the integer
    ranges (as in Pascanu's ``tempOrder3bit.py``)::

        p0 in [floor(0.1 l), 2 floor(0.1 l))
        p1 in [floor(0.3 l), floor(0.3 l) + floor(0.1 l))
        p2 in [floor(0.6 l), floor(0.6 l) + floor(0.1 l))

    Parameters
    ----------
    n_samples : int, default=1000
        Number of sequences, at least 1.

    n_timesteps : int, default=100
        Length ``l`` of every sequence, at least 10 (so that
        ``floor(0.1 l) >= 1``).

    convention : {"pascanu", "chernodub"}, default="pascanu"
        Whose definition to follow. "pascanu": the ranges above.
        "chernodub": the paper's authors' own code (see the module
        docstring): 1-based, inclusive windows ``[round(l/10), round(2l/10)]``,
        ``[round(3l/10), round(4l/10)]`` and ``[round(6l/10), round(7l/10)]``
        (MATLAB rounding, halves away from zero).

    random_state : int, RandomState instance or None, default=None
        Determines random number generation. Pass an int for reproducible
        output across multiple function calls.

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps, 6), dtype float64
        One-hot sequences; every row ``X[i, t]`` sums to 1.

    y : ndarray of shape (n_samples,), dtype int64
        The classes, in {0, ..., 7}.

    Raises
    ------
    ValueError
        If ``n_samples < 1``, ``n_timesteps < 10`` or ``convention`` is
        unknown.
    TypeError
        If ``n_samples`` or ``n_timesteps`` is not an integer.

    See Also
    --------
    make_temporal_order : Two marked symbols, 4 classes.

    Notes
    -----
    This variant is Pascanu, Mikolov & Bengio (2013), code
    ``pascanur/trainingRNNs``, used by Chernodub & Nowicki (2016). Pascanu's
    training loop draws a length per minibatch; here every sequence has
    exactly ``n_timesteps`` steps. The class is returned as an integer label
    rather than Pascanu's one-hot row.

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr.datasets import make_temporal_order_3bit
    >>> X, y = make_temporal_order_3bit(n_samples=5, n_timesteps=50,
    ...                                 random_state=0)
    >>> X.shape, y.shape, y.dtype
    ((5, 50, 6), (5,), dtype('int64'))
    >>> X[:, :, :2].sum(axis=(1, 2))
    array([3., 3., 3., 3., 3.])
    >>> bool(((0 <= y) & (y < 8)).all())
    True
    """
    return _make_temporal_order(
        n_samples,
        n_timesteps,
        random_state,
        task="temporal order 3-bit",
        convention=convention,
    )
