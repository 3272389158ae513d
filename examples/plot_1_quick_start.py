"""
Quick start
===========

Fit an :class:`~sksgr.SRNClassifier` and an :class:`~sksgr.SRNRegressor` with
their defaults on two of the synthetic long-term-dependency tasks of
:mod:`sksgr.datasets`, then look at the training loss.

The data are batch-first, ``(n_samples, n_timesteps, n_features)``; see
:doc:`/user_guide/data`.
"""

# %%
# Temporal order: a classification task
# --------------------------------------
# Each sequence of length 20 holds two marked symbols, A or B, among
# distractors; the class (one of four) is their order. The defaults start
# from an echo-state network whose output layer is fitted in closed form,
# then train with Adam (see :doc:`/user_guide/defaults`).
import matplotlib.pyplot as plt
import numpy as np
from sklearn.pipeline import make_pipeline

from sksgr import SequenceScaler, SRNClassifier, SRNRegressor
from sksgr.datasets import make_adding, make_temporal_order

X, y = make_temporal_order(500, 20, random_state=0)
X_test, y_test = make_temporal_order(500, 20, random_state=1)
print("X:", X.shape, "classes:", np.unique(y))

clf = make_pipeline(SequenceScaler(), SRNClassifier(random_state=0))
clf.fit(X, y)
print(f"test accuracy {clf.score(X_test, y_test):.3f} after {clf[-1].n_iter_} epochs")

# %%
# The adding problem: a regression task
# -------------------------------------
# Two input channels, values and markers; the target is the sum of the two
# marked values.
X, y = make_adding(500, 10, random_state=0)
reg = SRNRegressor(random_state=0).fit(X, y)
print(f"test R^2 {reg.score(*make_adding(500, 10, random_state=1)):.3f}")

# %%
# The training loss
# -----------------
# ``loss_curve_`` holds the mean training loss of every epoch.
fig, axes = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
axes[0].plot(clf[-1].loss_curve_)
axes[0].set(title="temporal order, T = 20", xlabel="epoch", ylabel="cross-entropy")
axes[1].plot(reg.loss_curve_)
axes[1].set(title="adding, T = 10", xlabel="epoch", ylabel="half squared error")
plt.show()
