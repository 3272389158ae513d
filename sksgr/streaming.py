"""Step-by-step prediction with a carried state.

A fitted network can be fed its input one step (or one chunk of steps) at
a time: :class:`StreamState` carries what the next step needs, for a batch
of sequences that advance together: the hidden state ``z``, and for the
pooled readouts the running sum and maximum of the states so far. Each
step's output is the network's output for the sequence *ending at that
step*:

- with ``return_sequences=True``, the output of that step, as ``predict``
  gives it on the whole sequence;
- for a many-to-one network, the output ``predict`` gives on the prefix up
  to that step; at a sequence's last step, the output for the whole
  sequence. Every readout streams this way: the last state is the current
  one, and the mean and the maximum over the steps so far are updated step
  by step. What a stream cannot give early is the whole sequence's pooled
  output: a mean or maximum over steps not yet seen is only known at the end.

The estimators' ``start_stream``, ``predict_stream`` (and the classifier's
``predict_proba_stream``) are the user's interface; this module holds the
recurrence's state. The steps run in the compiled kernel (the recurrence of
``predict``, one step at a time, without the GIL), so a call costs a few
microseconds besides its arithmetic.

Examples
--------
>>> import numpy as np
>>> from sksgr import SRNRegressor
>>> rng = np.random.RandomState(0)
>>> X = rng.normal(size=(50, 12, 1)); y = X[:, -3, 0]
>>> reg = SRNRegressor(n_hidden=8, max_iter=5, tol=None, random_state=0).fit(X, y)
>>> state = reg.start_stream(n_sequences=2)
>>> for t in range(12):                        # one step at a time
...     out, state = reg.predict_stream(X[:2, t:t + 1], state)
>>> np.allclose(out[:, -1], reg.predict(X[:2]))   # the last step: the whole sequence
True
"""

import numbers
from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class StreamState:
    """What a batch of streamed sequences carries from one step to the next.

    The state also holds the network it was started for (its weights as
    they were then): a stream goes on with the model it began with, even if
    the estimator is fitted again meanwhile.

    Attributes
    ----------
    z : ndarray of shape (n_sequences, n_hidden)
        The hidden state after the last step fed (zeros before the first).
    total : ndarray of shape (n_sequences, n_hidden)
        Sum of the hidden states so far (for a mean readout).
    peak : ndarray of shape (n_sequences, n_hidden)
        Unit-wise maximum of the hidden states so far (-inf before the first step).
    n_steps : int
        Steps fed so far.
    """

    z: np.ndarray
    total: np.ndarray
    peak: np.ndarray
    n_steps: int = 0
    network: object = field(default=None, repr=False)  # sksgr.network.Network
    coef: np.ndarray = field(default=None, repr=False)  # its flat parameters

    @classmethod
    def start(cls, n_sequences, network, coef):
        """The state of ``n_sequences`` sequences before their first step of ``network``."""
        if isinstance(n_sequences, bool) or not isinstance(n_sequences, numbers.Integral) \
                or n_sequences < 1:
            raise ValueError(f"n_sequences must be an int >= 1, got {n_sequences!r}.")
        shape = (int(n_sequences), network.n_hidden)
        dtype = coef.dtype
        return cls(np.zeros(shape, dtype), np.zeros(shape, dtype),
                   np.full(shape, -np.inf, dtype), 0, network, coef.copy())

    @property
    def n_sequences(self):
        return self.z.shape[0]

    def advance(self, U):
        """Outputs ``(n, t, n_outputs)`` of the next steps ``U`` ``(n, t, n_features)``
        (finite) and the state after them; this state is left as it is."""
        if U.shape[0] != self.n_sequences:
            raise ValueError(f"the chunk has {U.shape[0]} sequences but the stream carries "
                             f"{self.n_sequences}: start one with n_sequences={U.shape[0]}.")
        if U.shape[2] != self.network.n_features:
            raise ValueError(f"the chunk has {U.shape[2]} features per step but the network "
                             f"{self.network.n_features}.")
        z, total, peak = self.z.copy(), self.total.copy(), self.peak.copy()
        U = np.ascontiguousarray(U, dtype=self.coef.dtype)
        out = self.network.stream(U, self.coef, z, total, peak, self.n_steps)
        return out, replace(self, z=z, total=total, peak=peak, n_steps=self.n_steps + U.shape[1])
