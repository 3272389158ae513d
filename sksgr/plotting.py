"""Figures of the gradient diagnostics (Chernodub & Nowicki 2016, Fig. 1 and 2).

Needs matplotlib (``pip install sksgr[plot]``), imported only when a function
is called. The functions draw on a new :class:`matplotlib.figure.Figure`
(not managed by pyplot, so nothing is shown and no figure is left open) or
on the axes passed in, and return the figure: save it with
``fig.savefig(...)``; in Jupyter it displays as the cell's result.
"""

import numpy as np

__all__ = ["plot_gradient_profile", "plot_dynamics"]

# The paper's colours for Fig. 1.
_DELTA, _W_IN, _W_REC = "tab:blue", "tab:red", "tab:green"


def _matplotlib():
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError(
            "sksgr.plotting needs matplotlib: pip install sksgr[plot]"
        ) from exc
    return Figure


def _as_dict(items, kind):
    if isinstance(items, dict):
        if not items:
            raise ValueError(f"No {kind} to plot: the dict is empty.")
        return items
    return {"": items}


def _new_axes(nrows, ncols, width, height, sharey=False):
    Figure = _matplotlib()
    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
    return fig, axes


def _given_axes(ax, shape):
    axes = np.asarray(ax, dtype=object).reshape(-1)
    if axes.size != int(np.prod(shape)):
        raise ValueError(f"Expected {int(np.prod(shape))} axes, got {axes.size}.")
    return axes[0].figure, axes.reshape(shape)


def _positive(v):
    """Values for a log axis: zeros (underflow) and NaN are left out of the line."""
    v = np.asarray(v, dtype=float)
    return np.where(v > 0, v, np.nan)


def plot_gradient_profile(profiles, ax=None):
    """Average gradient norms against backpropagation depth (paper Fig. 1).

    One panel per profile, each with three curves on a logarithmic scale:
    the mean norm of the local gradients ``delta`` (blue) and of the
    per-step gradients ``dE/dW_in`` (red) and ``dE/dW_rec`` (green). Norms
    that underflowed to 0 are not drawn.

    Parameters
    ----------
    profiles : dict of str to GradientProfile, or GradientProfile
        Profiles from :func:`sksgr.diagnostics.gradient_norm_profile`, keyed
        by the panel title (e.g. ``"sigma = 0.01"``).
    ax : matplotlib Axes or array-like of Axes, default=None
        One Axes per profile. ``None`` creates a figure with the panels in
        rows of up to three.

    Returns
    -------
    fig : matplotlib.figure.Figure

    Examples
    --------
    >>> from sksgr import SRNClassifier
    >>> from sksgr.datasets import make_temporal_order
    >>> from sksgr.diagnostics import init_network, gradient_norm_profile
    >>> from sksgr.plotting import plot_gradient_profile
    >>> X, y = make_temporal_order(20, 30, random_state=0)
    >>> def paper_net(sigma):  # the paper's network and Gaussian draw
    ...     return SRNClassifier(n_hidden=20, init="normal", sigma=sigma, readout="last",
    ...                          output_init="random", random_state=0)
    >>> profiles = {
    ...     f"sigma = {s}": gradient_norm_profile(init_network(paper_net(s), X, y), X, y)
    ...     for s in (0.01, 0.3)
    ... }
    >>> bool(profiles["sigma = 0.01"].delta_norm[-1] < profiles["sigma = 0.3"].delta_norm[-1])
    True
    >>> fig = plot_gradient_profile(profiles)
    >>> len(fig.axes)
    2
    """
    profiles = _as_dict(profiles, "profiles")
    n = len(profiles)
    if ax is None:
        ncols = min(n, 3)
        nrows = -(-n // ncols)
        fig, axes = _new_axes(nrows, ncols, 4.0, 3.2)
        for extra in axes.ravel()[n:]:
            extra.remove()
        axes = axes.ravel()[:n]
    else:
        fig, axes = _given_axes(ax, (n,))
    for a, (label, p) in zip(axes, profiles.items()):
        # delta drawn wide and first: with one-hot inputs (||u|| = 1) the
        # dE/dW_in curve coincides with it and is drawn on top.
        a.plot(p.depth, _positive(p.delta_norm), color=_DELTA, lw=3, alpha=0.6,
               label=r"$\|\delta\|$")
        a.plot(p.depth, _positive(p.input_grad_norm), color=_W_IN, lw=1.2,
               label=r"$\|\partial E/\partial W_{in}\|$")
        a.plot(p.depth, _positive(p.recurrent_grad_norm), color=_W_REC, lw=1.2,
               label=r"$\|\partial E/\partial W_{rec}\|$")
        a.set_yscale("log")
        a.set_xlabel("depth h (steps back from the last)")
        a.set_ylabel("mean norm")
        if label:
            a.set_title(str(label))
        a.grid(True, which="major", alpha=0.3)
    axes[0].legend(fontsize="small")
    return fig


def plot_dynamics(dynamics_by_label, axes=None):
    """Gradient norms and activations over training (paper Fig. 2).

    One column per run. Top: a heat map of ``log10`` of the mean delta norm
    (colour) against the update (x) and the depth (y; depth 0, the last
    step, at the bottom), with its colour bar; norms that underflowed to 0
    are blank. Bottom: mean and median of the absolute pre-activations
    ``|a|`` against the update.

    Parameters
    ----------
    dynamics_by_label : dict of str to Dynamics, or Dynamics
        Records from :func:`sksgr.diagnostics.record_dynamics`, keyed by the
        column title (e.g. ``"SGR off"``).
    axes : array-like of matplotlib Axes of shape (2, n_runs), default=None
        Top and bottom Axes of each column. ``None`` creates a figure.

    Returns
    -------
    fig : matplotlib.figure.Figure
        With ``3 * n_runs`` axes (two panels and a colour bar per run).

    Examples
    --------
    >>> from sksgr import SRNClassifier
    >>> from sksgr.datasets import make_temporal_order
    >>> from sksgr.diagnostics import record_dynamics
    >>> from sksgr.plotting import plot_dynamics
    >>> X, y = make_temporal_order(40, 20, random_state=0)
    >>> clf = SRNClassifier(n_hidden=10, spectral_radius=0.95, random_state=0)
    >>> dyn = record_dynamics(clf, X, y, n_candidates=20, every=5)
    >>> fig = plot_dynamics({"SGR off": dyn})
    >>> len(fig.axes)
    3
    """
    runs = _as_dict(dynamics_by_label, "dynamics")
    n = len(runs)
    if axes is None:
        fig, axes = _new_axes(2, n, 4.5, 3.0)
        for col in range(n):
            axes[1, col].sharex(axes[0, col])
    else:
        fig, axes = _given_axes(axes, (2, n))
    for col, (label, d) in enumerate(runs.items()):
        top, bottom = axes[0, col], axes[1, col]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(np.asarray(d.delta_norms, dtype=float))
        logs = np.ma.masked_invalid(logs)
        mesh = top.pcolormesh(d.candidates, d.depth, logs.T, shading="nearest", cmap="viridis")
        fig.colorbar(mesh, ax=top, label=r"$\log_{10}$ mean $\|\delta\|$")
        top.set_ylabel("depth h")
        if label:
            top.set_title(str(label))
        bottom.plot(d.candidates, d.activation_mean, marker=".", label="mean |a|")
        bottom.plot(d.candidates, d.activation_median, marker=".", label="median |a|")
        bottom.set_xlabel("candidate minibatches")
        bottom.set_ylabel("|a| (pre-activation)")
        bottom.legend(fontsize="small")
        bottom.grid(True, alpha=0.3)
    return fig
