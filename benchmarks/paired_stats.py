"""Paired comparisons of methods that start from the same networks.

Table 1 trains every network index once per method from the same initial
weights and the same data, so the per-network differences of test accuracy
are paired. With ten networks per cell the exact sign-flip (randomisation)
test enumerates all 2**n sign patterns of the differences: it assumes only
that, under the null hypothesis, each difference is as likely to have
either sign (symmetric around 0), and it handles ties and zero differences
without the corrections Wilcoxon's test needs.

Several cells and comparisons are tested at once, so the p-values are
adjusted with Holm's step-down method (family-wise error rate).

Examples
--------
>>> from paired_stats import sign_flip_test, holm
>>> sign_flip_test([0.1] * 10)        # ten networks, all better: 2 / 1024
0.001953125
>>> holm([0.01, 0.04, 0.03])
[0.03, 0.06, 0.06]
"""

import itertools

import numpy as np

__all__ = ["holm", "sign_flip_test", "summarize"]

# Above this many pairs the 2**n patterns are sampled, not enumerated.
_EXACT_MAX = 20
_SAMPLES = 200_000


def sign_flip_test(differences, *, random_state=0):
    """Two-sided p-value of the paired sign-flip test on the mean difference.

    Parameters
    ----------
    differences : array-like of shape (n,)
        Per-pair differences (method A minus method B).
    random_state : int, default=0
        Used only when n > 20 (Monte Carlo over sign patterns).

    Returns
    -------
    p : float
        Share of sign patterns whose |mean| is at least the observed |mean|
        (1.0 when every difference is 0, or n = 0).
    """
    d = np.asarray(differences, dtype=float)
    n = d.size
    if n == 0 or not np.any(d):
        return 1.0
    observed = abs(d.mean())
    if n <= _EXACT_MAX:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=n)))
    else:
        rng = np.random.default_rng(random_state)
        signs = rng.choice((1.0, -1.0), size=(_SAMPLES, n))
    means = np.abs(signs @ d) / n
    # a small tolerance: patterns equal to the observed one up to rounding count
    return float(np.mean(means >= observed * (1 - 1e-12)))


def holm(pvalues):
    """Holm's step-down adjustment of a family of p-values (same order back)."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return [float(round(a, 12)) for a in adjusted]


def summarize(values):
    """(mean, sample standard deviation, best, n) of a list of accuracies."""
    v = np.asarray(values, dtype=float)
    sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
    return float(v.mean()), sd, float(v.max()), int(v.size)
