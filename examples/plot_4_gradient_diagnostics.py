"""
Gradient diagnostics: the paper's Fig. 1 and Fig. 2
===================================================

:mod:`sksgr.diagnostics` measures what the gradient regularization reacts
to, and :mod:`sksgr.plotting` draws it:

- :func:`~sksgr.diagnostics.gradient_norm_profile`: the mean norm of the
  backpropagated local gradients ``delta(t)`` and of the per-step weight
  gradients against the depth ``h`` back from the last step (Fig. 1);
- :func:`~sksgr.diagnostics.record_dynamics`: train in chunks and record,
  after each, the delta norms per depth and the size of the
  pre-activations (Fig. 2), here without and with SGR.

The networks are the paper's (last-state readout, drawn output layer, SGD)
on temporal order at T = 30, small enough to run in seconds. The same
figures at the paper's size are on :doc:`/reproduction`.
"""

# %%
# Initial gradients against depth (Fig. 1)
# ----------------------------------------
# The paper's literal ``sigma = 0.01`` draw gives a recurrent matrix of
# spectral radius about 0.1: the gradient vanishes within a few steps.
# Pascanu's init (sparse, rescaled to spectral radius 0.95) keeps it alive;
# a radius of 1.5 makes it grow with depth.
import matplotlib.pyplot as plt

from sksgr import SRNClassifier
from sksgr.datasets import make_temporal_order
from sksgr.diagnostics import gradient_norm_profile, init_network, record_dynamics
from sksgr.plotting import plot_dynamics, plot_gradient_profile

X, y = make_temporal_order(200, 30, random_state=0)
paper = dict(n_hidden=50, readout="last", output_init="random", solver="sgd",
             learning_rate=1e-2, batch_size=10, random_state=0)
inits = {
    "normal, sigma = 0.01": dict(init="normal"),
    "pascanu (radius 0.95)": dict(init="pascanu"),
    "normal, radius 1.5": dict(init="normal", spectral_radius=1.5),
}
profiles = {}
for title, init in inits.items():
    net = init_network(SRNClassifier(**paper, **init), X, y)
    profiles[title] = gradient_norm_profile(net, X, y)
    print(f"{title}: Q = {profiles[title].q_factor():.2f}")

fig, axes = plt.subplots(1, 3, figsize=(10, 3), layout="constrained")
plot_gradient_profile(profiles, ax=axes)
plt.show()

# %%
# Gradient norms during training, without and with SGR (Fig. 2)
# --------------------------------------------------------------
# 300 candidate minibatches of 10 from Pascanu's init, recorded every 25.
# With SGR, a candidate whose Q-factor is outside ``q_range`` is applied only
# if it moves the long-term gradient norm the right way.
runs = {}
for title, sgr in {"SGR off": False, "SGR on": True}.items():
    clf = SRNClassifier(**paper, init="pascanu", gradient_regularization=sgr)
    runs[title] = record_dynamics(clf, X, y, n_candidates=300, every=25)
    trained = runs[title].estimator
    print(f"{title}: {trained.n_updates_} of {trained.n_candidates_} candidates applied")

fig, axes = plt.subplots(2, 2, figsize=(10, 5), layout="constrained")
plot_dynamics(runs, axes=axes)
plt.show()
