"""
Grid search over ``sigma`` and ``q_range``
==========================================

The estimators are ordinary scikit-learn estimators, so
:class:`~sklearn.model_selection.GridSearchCV` tunes them like any other.
Here: the scale of the paper's Gaussian initial weights (``sigma``, used by
``init="normal"``) and the safe range of the Q-factor (``q_range``) of the
sampling-based gradient regularization (``gradient_regularization=True``),
on the temporal-order task at T = 10 with a deliberately small budget. See
:doc:`/user_guide/sgr` for what the parameters do.
"""

# %%
# The search
# ----------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from sksgr import SRNClassifier
from sksgr.datasets import make_temporal_order

X, y = make_temporal_order(300, 10, random_state=0)

# The paper's network: the last hidden state read out, a drawn output layer,
# SGD with momentum; SGR on.
paper = dict(readout="last", output_init="random", init="normal", solver="sgd",
             learning_rate=3e-2, batch_size=10)
estimator = SRNClassifier(n_hidden=20, gradient_regularization=True, max_iter=20, tol=None,
                          random_state=0, **paper)
grid = {"sigma": [0.01, 0.1, 0.3], "q_range": [(-0.5, 0.5), (-1.0, 1.0), (-2.0, 2.0)]}
search = GridSearchCV(estimator, grid, cv=3).fit(X, y)
print("best:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# How often SGR skipped a candidate minibatch
# --------------------------------------------
# The refitted best model keeps the regularization's counters.
best = search.best_estimator_
print(f"{best.n_candidates_} candidates, {best.n_updates_} applied, {best.n_skipped_} skipped, "
      f"{best.n_guarded_} applied by the max_skips guard")

# %%
# The cross-validated accuracy of every cell
# ------------------------------------------
scores = search.cv_results_["mean_test_score"].reshape(len(grid["q_range"]), len(grid["sigma"]))
fig, ax = plt.subplots(figsize=(5, 3.2), layout="constrained")
image = ax.imshow(scores, cmap="viridis", vmin=0.25, vmax=1.0)
ax.set_xticks(range(len(grid["sigma"])), [str(s) for s in grid["sigma"]])
ax.set_yticks(range(len(grid["q_range"])), [str(q) for q in grid["q_range"]])
ax.set(xlabel="sigma", ylabel="q_range", title="3-fold CV accuracy (chance 0.25)")
for (i, j), value in np.ndenumerate(scores):
    ax.text(j, i, f"{value:.2f}", ha="center", va="center", color="w")
fig.colorbar(image, ax=ax)
plt.show()
