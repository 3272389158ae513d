"""Per-step outputs in the kernels (``READOUT_STEPS``): forward, loss, BPTT and the
regularization's S, dS and Q, against the NumPy reference and finite differences."""

import numpy as np
import pytest

from sksgr import _bptt_fast
from sksgr._bptt_fast import HEAD_IDENTITY, HEAD_SOFTMAX, READOUT_STEPS
from sksgr._init import pack_dict, parameter_slices

from numpy_reference import (
    init_params,
    last_step_deltas,
    step_forward,
    step_loss_and_gradients,
    zero_padded_sequences,
)

HEADS = {"softmax": HEAD_SOFTMAX, "identity": HEAD_IDENTITY}
F, H, O = 3, 5, 4


def _problem(head, *, n=6, T=8, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    params = init_params(F, H, O, rng, scale=scale)
    X, lengths = zero_padded_sequences(rng, n, T, F)
    if head == "softmax":
        Y = np.eye(O)[rng.integers(0, O, size=(n, T))]
    else:
        Y = rng.normal(size=(n, T, O))
    return params, X, lengths, Y, pack_dict(params)


def _flat(Y):
    return np.ascontiguousarray(Y.reshape(len(Y), -1))


def _loss_grad(X, Y, lengths, coef, head, sample_weight=None):
    grad = np.empty_like(coef)
    loss = _bptt_fast.forward_backward(X, _flat(Y), lengths, coef, grad, H, HEADS[head], 0, 0.0,
                                       False, sample_weight, readout=READOUT_STEPS)
    return loss, grad


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("weighted", [False, True])
def test_step_gradient_matches_numpy_reference(head, weighted):
    params, X, lengths, Y, coef = _problem(head)
    sw = np.random.default_rng(1).uniform(0.2, 2.0, size=len(X)) if weighted else None
    loss, grad = _loss_grad(X, Y, lengths, coef, head, sw)
    ref_loss, ref, _, _ = step_loss_and_gradients(params, X, lengths, Y, head, sw)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(grad, pack_dict(ref), rtol=1e-10, atol=1e-13)


def test_steps_past_the_end_count_for_nothing():
    """Targets past a sequence's length (here NaN) change neither the loss nor the gradient."""
    params, X, lengths, Y, coef = _problem("identity")
    padded = Y.copy()
    for i, L in enumerate(lengths):
        padded[i, L:] = np.nan
    a, ga = _loss_grad(X, Y, lengths, coef, "identity")
    b, gb = _loss_grad(X, padded, lengths, coef, "identity")
    assert a == b and np.array_equal(ga, gb)


@pytest.mark.parametrize("head", ["softmax", "identity"])
def test_step_gradient_matches_central_differences(head):
    _, X, lengths, Y, coef = _problem(head, seed=2)
    _, grad = _loss_grad(X, Y, lengths, coef, head)
    eps = 1e-6
    rng = np.random.default_rng(3)
    for i in rng.choice(len(coef), size=25, replace=False):
        c = coef.copy()
        c[i] += eps
        up = _loss_grad(X, Y, lengths, c, head)[0]
        c[i] -= 2 * eps
        down = _loss_grad(X, Y, lengths, c, head)[0]
        assert grad[i] == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block", [1, 4, 100])
def test_step_outputs_and_states_match_the_reference(dtype, block):
    params, X, lengths, _, coef = _problem("identity", n=9, seed=4)
    Z, logits = step_forward(params, X)
    X, coef = X.astype(dtype), coef.astype(dtype)
    n, T = X.shape[:2]
    out = np.full((n, T * O), np.nan, dtype=dtype)
    work = np.empty(_bptt_fast.workspace_size(min(block, n), T, F, H, O, False, READOUT_STEPS),
                    dtype=dtype)
    _bptt_fast.predict_outputs(X, lengths, coef, out, work, H, block, READOUT_STEPS)
    feats = np.full((n, T * H), np.nan, dtype=dtype)
    _bptt_fast.forward_features(X, lengths, coef, feats, work, H, block, READOUT_STEPS)
    out, feats = out.reshape(n, T, O), feats.reshape(n, T, H)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    for i, L in enumerate(lengths):
        np.testing.assert_allclose(out[i, :L], logits[:L, i], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(feats[i, :L], Z[1:L + 1, i], rtol=rtol, atol=rtol)
        assert np.isnan(out[i, L:]).all() and np.isnan(feats[i, L:]).all()


def test_step_targets_must_hold_every_step():
    _, X, lengths, Y, coef = _problem("identity")
    grad = np.empty_like(coef)
    with pytest.raises(ValueError, match="not a multiple of the 8 steps"):
        _bptt_fast.forward_backward(X, np.ascontiguousarray(_flat(Y)[:, :-1]), lengths, coef,
                                    grad, H, HEAD_IDENTITY, readout=READOUT_STEPS)


def _with_rec(coef, delta):
    c = coef.copy()
    c[parameter_slices(F, H, O)["W_rec"]] += delta.ravel()
    return c


def _norm_change(X, Y, lengths, coef, direction, head, q_depth, exact, sw=None):
    return _bptt_fast.norm_change(X, _flat(Y), lengths, coef, direction, H, HEADS[head], q_depth,
                                  exact, sw, READOUT_STEPS)


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("q_depth", [0, 2])
@pytest.mark.parametrize("weighted", [False, True])
def test_step_norms_measure_the_last_steps_error_alone(head, q_depth, weighted):
    """S and E are the half squared norms of the deltas of each last step's error."""
    params, X, lengths, Y, coef = _problem(head, seed=5)
    sw = np.random.default_rng(2).uniform(0.2, 2.0, size=len(X)) if weighted else None
    _, _, _, err = step_loss_and_gradients(params, X, lengths, Y, head, sw)
    Z, _ = step_forward(params, X)
    D = last_step_deltas(params, Z, lengths, err)
    S, _, Q, S_b, _, E_b, _ = _norm_change(X, Y, lengths, coef, np.zeros((H, H)), head, q_depth,
                                           False, sw)
    w = np.ones(len(X)) if sw is None else sw
    for b, L in enumerate(lengths):
        e = L - 1
        s = e - (min(q_depth, e) if q_depth else e)
        assert S_b[b] == pytest.approx(0.5 * D[s, b] @ D[s, b] / w[b], rel=1e-10)
        assert E_b[b] == pytest.approx(0.5 * D[e, b] @ D[e, b] / w[b], rel=1e-10)
    assert Q == pytest.approx(0.5 * np.log10(E_b.sum() / S_b.sum()), rel=1e-10)


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("q_depth", [0, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_step_exact_ds_matches_central_differences(head, q_depth, weighted):
    _, X, lengths, Y, coef = _problem(head, seed=6)
    sw = np.random.default_rng(3).uniform(0.2, 2.0, size=len(X)) if weighted else None
    direction = np.random.default_rng(7).normal(size=(H, H))
    S, dS, *_, dE_b = _norm_change(X, Y, lengths, coef, direction, head, q_depth, True, sw)
    eps = 1e-6
    zero = np.zeros_like(direction)
    plus = _norm_change(X, Y, lengths, _with_rec(coef, eps * direction), zero, head, q_depth,
                        True, sw)
    minus = _norm_change(X, Y, lengths, _with_rec(coef, -eps * direction), zero, head, q_depth,
                         True, sw)
    assert dS == pytest.approx((plus[0] - minus[0]) / (2 * eps), rel=1e-5)
    assert dE_b.sum() == pytest.approx((plus[5].sum() - minus[5].sum()) / (2 * eps), rel=1e-5)


def test_step_linear_ds_holds_activations_and_error_fixed():
    """Linear dS: the derivative of S with every f'(a(t)) and the last step's error frozen."""
    params, X, lengths, Y, coef = _problem("identity", seed=8)
    direction = np.random.default_rng(9).normal(size=(H, H))
    _, _, _, err = step_loss_and_gradients(params, X, lengths, Y, "identity")
    Z, _ = step_forward(params, X)

    def S_frozen(W):
        total = 0.0
        for b, L in enumerate(lengths):
            d = np.zeros(H)
            for t in range(L - 1, -1, -1):
                inj = err[t, b] @ params["W_out"].T if t == L - 1 else 0.0
                d = (d @ W.T + inj) * (1 - Z[t + 1, b] ** 2)
            total += 0.5 * d @ d  # q_depth 0: the delta at the first step
        return total

    S, dS, *_ = _norm_change(X, Y, lengths, coef, direction, "identity", 0, False)
    assert S == pytest.approx(S_frozen(params["W_rec"]), rel=1e-12)
    eps = 1e-6
    fd = (S_frozen(params["W_rec"] + eps * direction)
          - S_frozen(params["W_rec"] - eps * direction)) / (2 * eps)
    assert dS == pytest.approx(fd, rel=1e-6)


def _train(X, Y, lengths, coef, head, *, sgr=None, sw=None, batch_mean=False, batch=3):
    n = len(X)
    order = np.arange(n, dtype=np.intp)
    starts = np.arange(0, n + batch, batch, dtype=np.intp).clip(max=n)
    starts = np.unique(starts)
    velocity = np.zeros_like(coef)
    work = np.empty(_bptt_fast.workspace_size(batch, X.shape[1], F, H, O, sgr is not None,
                                              READOUT_STEPS))
    n_b = len(starts) - 1
    losses = np.empty(n_b)
    kw = {}
    if sgr is not None:
        kw = dict(best_grad=np.zeros_like(coef), guard_state=np.zeros(2), q_history=np.empty(n_b),
                  ds_history=np.empty(n_b), used_history=np.empty(n_b, dtype=np.int8))
    optimizer = dict(solver=_bptt_fast.SOLVER_SGD, learning_rate=0.1, momentum=0.0,
                     nesterov=False, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    done = _bptt_fast.train_minibatches(X, _flat(Y), lengths, order, starts, coef, velocity, work,
                                        losses, H, HEADS[head], READOUT_STEPS, optimizer, sgr,
                                        sample_weight=sw, batch_mean=batch_mean, **kw)
    return done, losses, kw


@pytest.mark.parametrize("head", ["softmax", "identity"])
def test_step_training_takes_the_reference_steps(head):
    params, X, lengths, Y, coef = _problem(head, seed=10)
    done, losses, _ = _train(X, Y, lengths, coef, head)
    assert done == 2
    ref = {k: v.copy() for k, v in params.items()}
    for k, sl in enumerate([slice(0, 3), slice(3, 6)]):
        loss, grads, _, _ = step_loss_and_gradients(ref, X[sl], lengths[sl], Y[sl], head)
        assert losses[k] == pytest.approx(loss, rel=1e-12)
        for name in ref:
            ref[name] -= 0.1 * grads[name]
    np.testing.assert_allclose(coef, pack_dict(ref), rtol=1e-10, atol=1e-13)


def test_step_batch_mean_divides_by_the_real_steps():
    """With weights of mean 1, ``batch_mean`` divides each minibatch by its real steps."""
    params, X, lengths, Y, coef = _problem("identity", seed=11)
    sw = np.random.default_rng(4).uniform(0.2, 2.0, size=len(X))
    _, losses, _ = _train(X, Y, lengths, coef.copy(), "identity", sw=sw, batch_mean=True,
                          batch=len(X))
    loss_w, _, _, _ = step_loss_and_gradients(params, X, lengths, Y, "identity", sw)
    assert losses[0] == pytest.approx(loss_w * np.sum(sw * lengths) / np.sum(lengths), rel=1e-12)


@pytest.mark.parametrize("selection", ["minibatch", "example"])
def test_step_training_with_regularization_records_q_and_ds(selection):
    params, X, lengths, Y, coef = _problem("softmax", seed=12)
    sgr = dict(selection=_bptt_fast.SELECT_EXAMPLE if selection == "example"
               else _bptt_fast.SELECT_MINIBATCH, ds_mode=_bptt_fast.DS_LINEAR, q_min=-1.0,
               q_max=1.0, ds_max=0.0, q_depth=0, max_skips=0, ds_momentum=False,
               steer=_bptt_fast.STEER_DS)
    start = coef.copy()
    done, losses, kw = _train(X, Y, lengths, coef, "softmax", sgr=sgr)
    assert done == 2 and np.isfinite(losses).all()
    # the Q the kernel recorded is that of the last steps' deltas, before the step
    first = _norm_change(X[:3], Y[:3], lengths[:3], start, np.zeros((H, H)), "softmax", 0, False)
    assert kw["q_history"][0] == pytest.approx(first[2], rel=1e-12)
    assert np.isfinite(kw["ds_history"]).all()
    # and its dS is the linear change along the candidate step -lr g (no momentum in dW)
    _, grad = _loss_grad(X[:3], Y[:3], lengths[:3], start, "softmax")
    step = -0.1 * grad[parameter_slices(F, H, O)["W_rec"]].reshape(H, H)
    along = _norm_change(X[:3], Y[:3], lengths[:3], start, step, "softmax", 0, False)
    assert kw["ds_history"][0] == pytest.approx(along[1], rel=1e-10)
