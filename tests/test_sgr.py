"""Sampling-based gradient regularization: dS, Q, the selection rule, training."""

from functools import partial

import numpy as np
import pytest

from sksgr import SRNClassifier as _SRNClassifier
from sksgr import SRNRegressor as _SRNRegressor
from sksgr._bptt_fast import HEAD_IDENTITY, HEAD_SOFTMAX, accept_candidate, norm_change
from sksgr._init import pack_dict, parameter_slices
from sksgr.datasets import make_temporal_order

from conftest import PAPER_SGD, assert_decisions_follow_the_rule
from numpy_reference import (
    backward_deltas,
    forward,
    init_params,
    output_error,
)

F, H, O = 3, 6, 4

# This module tests the paper's SGD training: every network starts from the
# paper's configuration (explicit arguments still override it).
SRNClassifier = partial(_SRNClassifier, **PAPER_SGD)
SRNRegressor = partial(_SRNRegressor, **PAPER_SGD)


def _problem(head, seed=0):
    rng = np.random.default_rng(seed)
    params = init_params(F, H, O, rng, scale=0.5)
    X = rng.normal(size=(5, 9, F))
    lengths = np.array([9, 4, 7, 2, 9], dtype=np.int32)
    for i, L in enumerate(lengths):
        X[i, L:] = 0
    Y = np.eye(O)[rng.integers(0, O, 5)] if head == HEAD_SOFTMAX else rng.normal(size=(5, O))
    coef = pack_dict(params)
    return params, X, lengths, Y, coef, rng.normal(size=(H, H))


def _with_rec(coef, delta):
    c = coef.copy()
    c[parameter_slices(F, H, O)["W_rec"]] += delta.ravel()
    return c


@pytest.mark.parametrize("head", [HEAD_SOFTMAX, HEAD_IDENTITY])
@pytest.mark.parametrize("q_depth", [0, 1, 3, 6])
def test_exact_ds_matches_central_differences(head, q_depth):
    _, X, lengths, Y, coef, direction = _problem(head)
    S, dS, *_ = norm_change(X, Y, lengths, coef, direction, H, head, q_depth, True)
    eps = 1e-6
    zero = np.zeros_like(direction)
    s_plus = norm_change(X, Y, lengths, _with_rec(coef, eps * direction), zero, H, head, q_depth, True)[0]
    s_minus = norm_change(X, Y, lengths, _with_rec(coef, -eps * direction), zero, H, head, q_depth, True)[0]
    fd = (s_plus - s_minus) / (2 * eps)
    assert abs(dS - fd) <= 1e-6 * abs(fd)


@pytest.mark.parametrize("head", [HEAD_SOFTMAX, HEAD_IDENTITY])
def test_exact_de_of_the_last_delta_matches_central_differences(head):
    """dE (for steering by dQ) is the derivative of E = 0.5 sum ||delta_b(T_b)||^2."""
    _, X, lengths, Y, coef, direction = _problem(head, seed=4)
    out = norm_change(X, Y, lengths, coef, direction, H, head, 0, True)
    dE = out[6].sum()
    eps = 1e-6
    zero = np.zeros_like(direction)
    E = [norm_change(X, Y, lengths, _with_rec(coef, sign * eps * direction), zero, H, head, 0,
                     True)[5].sum() for sign in (1, -1)]
    assert abs(dE - (E[0] - E[1]) / (2 * eps)) <= 1e-6 * abs(dE)
    assert np.all(norm_change(X, Y, lengths, coef, direction, H, head, 0, False)[6] == 0)


def test_steering_by_dq_can_disagree_with_ds():
    # vanishing (Q = 3): S grows (dS > 0) but E grows faster, so Q rises further
    args = dict(Q=3.0, S=1.0, dS=0.1, q_min=-1.0, q_max=1.0, E=1.0, dE=0.5)
    assert accept_candidate(**args) is True
    assert accept_candidate(**args, by_q=True) is False
    # exploding (Q = -3): S shrinks less than E does; Q falls further, dQ says no
    args = dict(Q=-3.0, S=1.0, dS=-0.1, q_min=-1.0, q_max=1.0, E=1.0, dE=-0.5)
    assert accept_candidate(**args) is True
    assert accept_candidate(**args, by_q=True) is False


def _lemma1_numpy(params, X, lengths, Y, head, direction, q_depth):
    """The paper's Lemma 1 as a NumPy recursion, sequence by sequence."""
    Z, z_last, logits = forward(params, X, lengths)
    _, err = output_error(logits, Y, head)
    D = backward_deltas(params, Z, lengths, err / len(X) @ params["W_out"].T)
    W = params["W_rec"]
    S = dS = 0.0
    for b, L in enumerate(lengths):
        e = L - 1
        s = e - min(q_depth or e, e)
        gamma = np.zeros(H)
        for t in range(e, s, -1):  # gamma(t-1) from gamma(t)
            gamma = (gamma @ W.T + D[t, b] @ direction.T) * (1 - Z[t, b] ** 2)
        S += 0.5 * D[s, b] @ D[s, b]
        dS += D[s, b] @ gamma
    return S, dS


@pytest.mark.parametrize("head", [HEAD_SOFTMAX, HEAD_IDENTITY])
@pytest.mark.parametrize("q_depth", [0, 2, 5])
def test_linear_ds_matches_numpy_lemma_1(head, q_depth):
    params, X, lengths, Y, coef, direction = _problem(head, seed=1)
    S, dS, *_ = norm_change(X, Y, lengths, coef, direction, H, head, q_depth, False)
    name = "softmax" if head == HEAD_SOFTMAX else "identity"
    S_ref, dS_ref = _lemma1_numpy(params, X, lengths, Y, name, direction, q_depth)
    assert S == pytest.approx(S_ref, rel=1e-12)
    assert dS == pytest.approx(dS_ref, rel=1e-10)


def test_linear_ds_is_the_difference_of_s_with_activations_frozen():
    """Finite difference of S when every f'(a(t)) and delta(T) are held fixed."""
    params, X, lengths, Y, coef, direction = _problem(HEAD_IDENTITY, seed=2)
    Z, _, logits = forward(params, X, lengths)
    _, err = output_error(logits, Y, "identity")
    D = backward_deltas(params, Z, lengths, err / len(X) @ params["W_out"].T)

    def S_frozen(W):
        total = 0.0
        for b, L in enumerate(lengths):
            d = D[L - 1, b]
            for t in range(L - 1, 0, -1):
                d = (d @ W.T) * (1 - Z[t, b] ** 2)
            total += 0.5 * d @ d
        return total

    eps = 1e-6
    fd = (S_frozen(params["W_rec"] + eps * direction)
          - S_frozen(params["W_rec"] - eps * direction)) / (2 * eps)
    _, dS, *_ = norm_change(X, Y, lengths, coef, direction, H, HEAD_IDENTITY, 0, False)
    assert dS == pytest.approx(fd, rel=1e-6)


def test_q_factor_definition():
    params, X, lengths, Y, coef, direction = _problem(HEAD_IDENTITY, seed=3)
    S, _, Q, S_b, _, E_b, _ = norm_change(X, Y, lengths, coef, direction, H, HEAD_IDENTITY, 0, False)
    # norms over the minibatch as a whole: Q = log10 sqrt(sum E_b / sum S_b)
    assert Q == pytest.approx(0.5 * np.log10(E_b.sum() / S_b.sum()))
    assert S == pytest.approx(S_b.sum())
    # a contracting recurrent matrix makes the gradient vanish faster: Q grows
    params["W_rec"] *= 0.1
    coef = pack_dict(params)
    assert norm_change(X, Y, lengths, coef, direction, H, HEAD_IDENTITY, 0, False)[2] > Q + 0.5


@pytest.mark.parametrize(
    "Q, dS, expected",
    [
        (0.0, -5.0, True),   # safe range: always used
        (0.0, 5.0, True),
        (3.0, 1.0, True),    # vanishing: only norm-increasing steps
        (3.0, -1.0, False),
        (-3.0, -1.0, True),  # exploding: only norm-decreasing steps
        (-3.0, 1.0, False),
        (np.inf, 1.0, True),  # all gradient lost counts as vanishing
        (np.inf, -1.0, False),
        (np.nan, -1.0, True),  # undefined Q (no gradient at all): used
    ],
)
def test_selection_rule_follows_the_papers_text(Q, dS, expected):
    assert accept_candidate(Q, 1.0, dS, -1.0, 1.0) is expected


def test_ds_max_is_relative_to_s():
    assert accept_candidate(0.0, 2.0, 1.9, -1, 1, ds_max=1.0) is True
    assert accept_candidate(0.0, 2.0, 2.1, -1, 1, ds_max=1.0) is False
    assert accept_candidate(3.0, 2.0, 2.1, -1, 1, ds_max=1.0) is False


def test_training_histories_and_counts():
    X, y = make_temporal_order(300, 12, random_state=0)
    clf = SRNClassifier(n_hidden=16, spectral_radius=0.7, sigma=0.1, max_iter=3, tol=None,
                        gradient_regularization=True, random_state=0).fit(X, y)
    n = clf.n_candidates_
    assert n == 90
    assert clf.q_history_.shape == clf.ds_history_.shape == clf.used_history_.shape == (n,)
    assert clf.n_updates_ == clf.used_history_.sum() == n - clf.n_skipped_
    # every used candidate obeys the rule, or was applied by the guard
    assert_decisions_follow_the_rule(clf)
    off = SRNClassifier(n_hidden=16, max_iter=1).fit(X, y)
    assert off.q_history_ is None and off.n_skipped_ == 0


def test_skipped_candidates_change_nothing():
    """With a cap that rejects everything and no guard, the weights stay put."""
    X, y = make_temporal_order(100, 12, random_state=0)
    kw = dict(n_hidden=8, sigma=0.1, max_iter=1, random_state=0)
    ref = SRNClassifier(**kw, learning_rate=1e-300).fit(X, y)  # effectively no update
    clf = SRNClassifier(**kw, gradient_regularization=True, ds_max=1e-300,
                        max_skips=None).fit(X, y)
    assert clf.n_updates_ == 0 and clf.n_skipped_ == 10
    np.testing.assert_array_equal(clf.recurrent_weights_, ref.recurrent_weights_)
    np.testing.assert_array_equal(clf._velocity, 0)


def test_guard_keeps_training_moving():
    X, y = make_temporal_order(100, 12, random_state=0)
    clf = SRNClassifier(n_hidden=8, sigma=0.1, max_iter=3, random_state=0, tol=None,
                        gradient_regularization=True, ds_max=1e-300, max_skips=4).fit(X, y)
    assert clf.n_guarded_ == clf.n_updates_ == 30 // 4


VARIANTS = [(selection, ds_mode, steer) for selection in ("minibatch", "example")
            for ds_mode, steer in (("linear", "dS"), ("exact", "dS"), ("exact", "dQ"))]


def test_all_variants_train_and_regressor_too():
    """Every variant reaches the kernel: from the same start and first minibatch, the
    first candidate's Q is the same for all, its dS depends on ds_mode only, and the
    variants' training differs; the regressor records every candidate."""
    X, y = make_temporal_order(300, 12, random_state=0)
    paper = dict(init="normal", sigma=0.2, readout="last", output_init="random", solver="sgd",
                 batch_size=10)
    fits = {}
    for selection, ds_mode, steer in VARIANTS:
        clf = SRNClassifier(n_hidden=16, learning_rate=1e-2, max_iter=3, tol=None, **paper,
                            gradient_regularization=True, selection=selection,
                            ds_mode=ds_mode, steer=steer, random_state=0).fit(X, y)
        n = clf.n_candidates_
        assert clf.q_history_.shape == clf.ds_history_.shape == (n,) and n == 90
        assert clf.n_updates_ + clf.n_skipped_ == n and clf.n_updates_ > 0
        fits[selection, ds_mode, steer] = clf
    first_q = {v: f.q_history_[0] for v, f in fits.items()}
    first_ds = {v: f.ds_history_[0] for v, f in fits.items()}
    assert np.allclose(list(first_q.values()), first_q[VARIANTS[0]], rtol=1e-12)
    for v in VARIANTS:  # dS of the same step: the same in each mode, not across modes
        same = first_ds["minibatch", v[1], "dS"]
        assert abs(first_ds[v] - same) <= 1e-10 * abs(same)
    linear, exact = first_ds["minibatch", "linear", "dS"], first_ds["minibatch", "exact", "dS"]
    assert abs(linear - exact) > 1e-3 * abs(exact)
    # the variants train differently, except that here linear and exact dS of the
    # minibatch rule make the same decisions (their dS differ, not where it matters)
    weights = {v: f.recurrent_weights_.tobytes() for v, f in fits.items()}
    assert len(set(weights.values())) == len(VARIANTS) - 1
    lin, ex = fits["minibatch", "linear", "dS"], fits["minibatch", "exact", "dS"]
    np.testing.assert_array_equal(lin.used_history_, ex.used_history_)
    assert np.any(lin.ds_history_ != ex.ds_history_)
    assert weights["minibatch", "linear", "dS"] == weights["minibatch", "exact", "dS"]
    for selection, ds_mode, _ in VARIANTS:
        reg = SRNRegressor(n_hidden=8, max_iter=2, tol=None, gradient_regularization=True, **paper,
                           ds_mode=ds_mode, selection=selection, q_depth=5, random_state=0)
        reg.fit(X, y.astype(float))
        assert reg.n_candidates_ == 60 and reg.q_history_.shape == (60,)
        assert reg.n_updates_ + reg.n_skipped_ == 60 and np.isfinite(reg.q_history_).all()


def test_bad_sgr_parameters():
    X, y = make_temporal_order(50, 12, random_state=0)
    with pytest.raises(ValueError, match="q_min <= q_max"):
        SRNClassifier(gradient_regularization=True, q_range=(1, -1)).fit(X, y)
    with pytest.raises(ValueError, match="q_depth .* must be smaller than bptt_depth"):
        SRNClassifier(gradient_regularization=True, bptt_depth=3, q_depth=3).fit(X, y)


def test_regularization_keeps_q_in_range_where_off_does_not():
    """Mildly vanishing regime (T = 20, spectral radius 0.7, lr 1e-2).

    OFF is SGR with an infinite safe range (every candidate used, Q recorded).
    Measured: OFF keeps Q in [-1, 1] for ~18% of candidates and stays at
    chance; ON for ~90% and solves the task (see the docs).
    """
    X, y = make_temporal_order(2000, 20, random_state=0)
    kw = dict(spectral_radius=0.7, sigma=0.1, learning_rate=1e-2, max_iter=10, tol=None,
              gradient_regularization=True, random_state=0)
    off = SRNClassifier(**kw, q_range=(-np.inf, np.inf)).fit(X, y)
    on = SRNClassifier(**kw).fit(X, y)
    share = lambda q: np.mean(np.abs(q) <= 1.0)  # noqa: E731
    assert off.n_skipped_ == 0
    assert share(on.q_history_) > share(off.q_history_) + 0.3
    assert on.score(X, y) > 0.9 > 0.5 > off.score(X, y)


@pytest.mark.parametrize("head", [HEAD_SOFTMAX, HEAD_IDENTITY])
@pytest.mark.parametrize("exact", [False, True])
@pytest.mark.parametrize("q_depth", [0, 3])
def test_weighted_s_ds_q_equal_those_of_repeated_sequences(head, exact, q_depth):
    """S, dS, E, dE and Q of a weighted minibatch are those of the minibatch that
    repeats each sequence as often as its (integer) weight says; weight 0 removes it."""
    _, X, lengths, Y, coef, direction = _problem(head, seed=5)
    w = np.array([2.0, 0.0, 1.0, 3.0, 1.0])
    rep = np.repeat(np.arange(5), w.astype(int))
    weighted = norm_change(X, Y, lengths, coef, direction, H, head, q_depth, exact, w)
    repeated = norm_change(X[rep], Y[rep], lengths[rep], coef, direction, H, head, q_depth,
                           exact)
    for a, b in zip(weighted[:3], repeated[:3]):  # S, dS, Q
        assert a == pytest.approx(b, rel=1e-12)
    for a, b in zip(weighted[3:], repeated[3:]):  # per sequence: the copies' sum
        np.testing.assert_allclose(a, np.bincount(rep, weights=b, minlength=5), rtol=1e-12,
                                   atol=1e-300)
    assert weighted[3][1] == weighted[4][1] == 0.0
    ones = norm_change(X, Y, lengths, coef, direction, H, head, q_depth, exact, np.ones(5))
    plain = norm_change(X, Y, lengths, coef, direction, H, head, q_depth, exact)
    for a, b in zip(ones, plain):
        np.testing.assert_array_equal(a, b)  # weights of 1: the same bits


@pytest.mark.parametrize("ds_mode", ["linear", "exact"])
def test_clipping_comes_before_the_candidate_step_and_ds(ds_mode):
    """SGR with clip_norm: gradient -> clipped -> candidate step -> dS along it.

    dS is linear in the step, and the first candidate of a fit has no
    momentum, so its step is -lr times the clipped gradient: two thresholds
    below the gradient's norm give dS in the ratio of the thresholds, one
    above it the dS of the unclipped run. Had dS been taken before clipping,
    the three would be equal. Q does not depend on the step.
    """
    X, y = make_temporal_order(40, 12, random_state=0)
    kw = dict(n_hidden=8, sigma=0.3, max_iter=1, batch_size=40, shuffle=False,
              random_state=0, gradient_regularization=True, ds_mode=ds_mode)
    fits = {c: SRNClassifier(**kw, clip_norm=c).fit(X, y) for c in (None, 1e-3, 2e-3, 1e6)}
    ds = {c: f.ds_history_[0] for c, f in fits.items()}
    q = {c: f.q_history_[0] for c, f in fits.items()}
    assert ds[None] != 0
    assert ds[2e-3] == pytest.approx(2 * ds[1e-3], rel=1e-9)
    assert abs(ds[1e-3]) < 1e-2 * abs(ds[None])  # the norm is far above 1e-3
    assert ds[1e6] == ds[None]  # never clipped: the same candidate
    assert len(set(q.values())) == 1
    assert [fits[c].n_clipped_ for c in (None, 1e-3, 2e-3, 1e6)] == [0, 1, 1, 0]
