"""
A pipeline on a real data set from sktime
=========================================

ItalyPowerDemand (UCR archive): 24 hourly readings of Italy's electricity
demand per day, two classes (October to March, or April to September), 67
training days and 1,029 test days with the archive's official split. sktime
ships it inside its package, so nothing is downloaded.

sktime's ``numpy3D`` layout is ``(n_samples, n_channels, n_timesteps)``;
sksgr's is batch-first, ``(n_samples, n_timesteps, n_features)``: transpose.
:class:`~sksgr.SequenceScaler` then standardises each feature over all steps
of all sequences (scikit-learn's scalers would scale each step on its own).
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import RidgeClassifierCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sktime.datasets import load_italy_power_demand

from sksgr import SequenceScaler, SRNClassifier, SRNFeatures

X_train, y_train = load_italy_power_demand(split="train", return_type="numpy3D")
X_test, y_test = load_italy_power_demand(split="test", return_type="numpy3D")
X_train, X_test = X_train.transpose(0, 2, 1), X_test.transpose(0, 2, 1)
print("train", X_train.shape, "test", X_test.shape, "classes", np.unique(y_train))

# %%
# A trained network with the defaults
# -----------------------------------
model = make_pipeline(SequenceScaler(), SRNClassifier(random_state=0))
model.fit(X_train, y_train)
srn = model[-1]
print(f"SRNClassifier: test accuracy {model.score(X_test, y_test):.3f} "
      f"({srn.n_iter_} epochs, kept its closed-form start: {srn.kept_start_})")

# %%
# The untrained reservoir with a ridge readout
# --------------------------------------------
# :class:`~sksgr.SRNFeatures` is the same network left untrained, as a fixed
# feature map (an echo-state network with a ridge readout).
reservoir = make_pipeline(SequenceScaler(), SRNFeatures(random_state=0), StandardScaler(),
                          RidgeClassifierCV(alphas=np.logspace(-3, 3, 13)))
reservoir.fit(X_train, y_train)
print(f"SRNFeatures -> ridge: test accuracy {reservoir.score(X_test, y_test):.3f}")

# %%
# What the classes look like, and what the network predicts
# ---------------------------------------------------------
predicted = model.predict(X_test)
hours = np.arange(24)
fig, axes = plt.subplots(1, 2, figsize=(8, 3), sharey=True, layout="constrained")
for ax, label in zip(axes, np.unique(y_train)):
    rows = y_test == label
    ax.plot(hours, X_test[rows & (predicted == label), :, 0].T, color="tab:blue", alpha=0.05)
    ax.plot(hours, X_test[rows & (predicted != label), :, 0].T, color="tab:red", alpha=0.6)
    ax.set(title=f"class {label}: {np.mean(predicted[rows] == label):.1%} right",
           xlabel="hour")
axes[0].set_ylabel("demand (z-normalised)")
fig.suptitle("test days: correctly classified (blue), misclassified (red)")
plt.show()
