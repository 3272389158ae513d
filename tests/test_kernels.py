"""The Cython kernels against finite differences and the NumPy reference."""

import numpy as np
import pytest

from sksgr import _bptt_fast
from sksgr._bptt_fast import HEAD_IDENTITY, HEAD_SOFTMAX
from sksgr._init import PARAMETER_NAMES, n_params, pack_dict, parameter_slices, penalized

from conftest import train_minibatches
from numpy_reference import (
    PARAM_NAMES,
    adam_step,
    forward,
    init_params,
    loss_and_gradients,
    output_error,
    sgd_momentum_step,
)

HEADS = {"softmax": HEAD_SOFTMAX, "identity": HEAD_IDENTITY}


def _problem(head, *, n=6, T=7, F=3, H=5, O=4, variable=True, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    params = init_params(F, H, O, rng, scale=0.5)
    X = rng.normal(size=(n, T, F))
    lengths = rng.integers(1, T + 1, size=n).astype(np.int32) if variable else np.full(n, T, np.int32)
    lengths[0] = T
    for i, L in enumerate(lengths):
        X[i, L:] = 0.0
    if head == "softmax":
        Y = np.eye(O)[rng.integers(0, O, size=n)]
    else:
        Y = rng.normal(size=(n, O))
    coef = pack_dict(params)
    return params, X.astype(dtype), lengths, Y.astype(dtype), coef.astype(dtype)


def _kernel_loss_grad(X, Y, lengths, coef, H, head, depth=0, alpha=0.0):
    grad = np.empty_like(coef)
    loss = _bptt_fast.forward_backward(X, Y, lengths, coef, grad, H, HEADS[head], depth, alpha)
    return loss, grad


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("depth", [None, 1, 3])
@pytest.mark.parametrize("variable", [False, True])
def test_gradient_matches_central_differences(head, depth, variable):
    _, X, lengths, Y, coef = _problem(head, variable=variable)
    H = 5
    alpha = 0.01
    loss, grad = _kernel_loss_grad(X, Y, lengths, coef, H, head, depth or 0, alpha)
    if depth is not None:
        # truncated BPTT is not the gradient of the loss: compare with the
        # untruncated gradient only where truncation cannot matter
        full_loss, full_grad = _kernel_loss_grad(X, Y, lengths, coef, H, head, 0, alpha)
        assert loss == full_loss
        out = parameter_slices(3, H, 4)["W_out"].start  # W_out, b_out: not truncated
        np.testing.assert_allclose(grad[out:], full_grad[out:], rtol=1e-12)
        if depth == 1:
            assert not np.allclose(grad[:out], full_grad[:out])
        return
    eps = 1e-6
    num = np.empty_like(coef)
    for i in range(coef.size):
        e = np.zeros_like(coef)
        e[i] = eps
        lp, _ = _kernel_loss_grad(X, Y, lengths, coef + e, H, head, 0, alpha)
        lm, _ = _kernel_loss_grad(X, Y, lengths, coef - e, H, head, 0, alpha)
        num[i] = (lp - lm) / (2 * eps)
    rel = np.linalg.norm(grad - num) / np.linalg.norm(num)
    assert rel <= 1e-6, rel


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("depth", [None, 2, 4])
def test_kernel_matches_numpy_reference(head, depth):
    params, X, lengths, Y, coef = _problem(head, n=9, T=11, H=6, seed=3)
    loss, grad = _kernel_loss_grad(X, Y, lengths, coef, 6, head, depth or 0)
    ref_loss, ref = loss_and_gradients(params, X, lengths, Y, head, depth)
    ref_grad = pack_dict(ref)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-14)


def test_reference_truncation_by_hand():
    """The reference's truncation itself (which the kernel is matched against):
    depth >= every length is the full gradient; depth=1 gives W_rec only
    z(L-2)^T delta(L-1), summed over the sequences.
    """
    params, X, lengths, Y, _ = _problem("identity", variable=True)
    full = loss_and_gradients(params, X, lengths, Y, "identity", None)[1]
    deep = loss_and_gradients(params, X, lengths, Y, "identity", X.shape[1])[1]
    for k in PARAM_NAMES:
        np.testing.assert_allclose(deep[k], full[k])
    _, one = loss_and_gradients(params, X, lengths, Y, "identity", 1)
    Z, z_last, logits = forward(params, X, lengths)
    _, err = output_error(logits, Y, "identity")
    err = err / len(X)
    d_last = err @ params["W_out"].T * (1 - z_last**2)
    n = np.arange(len(X))
    z_prev = Z[lengths - 1, n]  # z(L-2), zero for length-1 sequences
    np.testing.assert_allclose(one["W_rec"], z_prev.T @ d_last, atol=1e-14)


def test_train_minibatches_matches_reference_sgd():
    """Several SGD-momentum updates (both momentum forms) agree with the reference."""
    for nesterov in (False, True):
        params, X, lengths, Y, coef = _problem("softmax", n=12, T=9, H=5, seed=5)
        velocity = np.zeros_like(coef)
        order = np.array([3, 1, 4, 0, 5, 9, 2, 6, 11, 7, 8, 10], dtype=np.intp)
        starts = np.array([0, 4, 8, 11, 12], dtype=np.intp)
        losses = np.empty(4)
        work = np.empty(_bptt_fast.workspace_size(4, 9, 3, 5, 4))
        done = train_minibatches(
            X, Y, lengths, order, starts, coef, velocity, work, losses,
            5, HEAD_SOFTMAX, 0, 0.05, 0.9, nesterov, 0.0,
        )
        assert done == 4
        ref_v = {k: np.zeros_like(v) for k, v in params.items()}
        for b in range(4):
            idx = order[starts[b] : starts[b + 1]]
            ref_loss, g = loss_and_gradients(params, X[idx], lengths[idx], Y[idx], "softmax")
            assert losses[b] == pytest.approx(ref_loss, rel=1e-12)
            sgd_momentum_step(params, ref_v, g, 0.05, 0.9, nesterov)
        ref_coef = pack_dict(params)
        np.testing.assert_allclose(coef, ref_coef, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-10), (np.float32, 2e-4)])
def test_train_minibatches_matches_reference_adam(dtype, rtol):
    """Several Adam updates agree with the reference (scikit-learn's Adam rule)."""
    params, X, lengths, Y, coef = _problem("identity", n=12, T=9, H=5, seed=6, dtype=dtype)
    P = coef.size
    state = np.zeros(_bptt_fast.optimizer_state_size(P, _bptt_fast.SOLVER_ADAM), dtype=dtype)
    assert state.size == 2 * P + 1
    order = np.array([3, 1, 4, 0, 5, 9, 2, 6, 11, 7, 8, 10], dtype=np.intp)
    starts = np.array([0, 4, 8, 11, 12], dtype=np.intp)
    work = np.empty(_bptt_fast.workspace_size(4, 9, 3, 5, 4), dtype=dtype)
    done = train_minibatches(
        X, Y, lengths, order, starts, coef, state, work, np.empty(4),
        5, HEAD_IDENTITY, 0, 0.01, 0.9, False, 0.0,
        solver=_bptt_fast.SOLVER_ADAM, beta_1=0.8, beta_2=0.99, epsilon=1e-6,
    )
    assert done == 4
    params = {k: v.astype(np.float64) for k, v in params.items()}
    ref = {"m": {k: np.zeros_like(v) for k, v in params.items()},
           "s": {k: np.zeros_like(v) for k, v in params.items()}, "t": 0}
    for b in range(4):
        idx = order[starts[b] : starts[b + 1]]
        _, g = loss_and_gradients(params, X[idx].astype(np.float64), lengths[idx],
                                  Y[idx].astype(np.float64), "identity")
        adam_step(params, ref, g, 0.01, 0.8, 0.99, 1e-6)
    np.testing.assert_allclose(coef, pack_dict(params), rtol=rtol, atol=rtol * 1e-2)
    # the state: [m, s, t]
    np.testing.assert_allclose(state[:P], pack_dict(ref["m"]), rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(state[P:2 * P], pack_dict(ref["s"]), rtol=rtol,
                               atol=rtol * 1e-4)
    assert state[-1] == 4


def test_train_minibatches_rejects_a_state_of_the_wrong_size():
    _, X, lengths, Y, coef = _problem("identity", n=4, T=5, H=5)
    with pytest.raises(ValueError, match="velocity"):
        train_minibatches(
            X, Y, lengths, np.arange(4, dtype=np.intp), np.array([0, 4], dtype=np.intp), coef,
            np.zeros_like(coef), np.empty(_bptt_fast.workspace_size(4, 5, 3, 5, 4)),
            np.empty(1), 5, HEAD_IDENTITY, 0, 0.01, 0.9, False, 0.0,
            solver=_bptt_fast.SOLVER_ADAM)
    with pytest.raises(ValueError, match="solver"):
        _bptt_fast.optimizer_state_size(10, 7)


def test_train_minibatches_stops_before_a_non_finite_step():
    _, X, lengths, Y, coef = _problem("identity", variable=False)
    Y = Y.copy()
    Y[2] = 1e200  # squared error overflows for any minibatch holding sample 2
    velocity = np.zeros_like(coef)
    order = np.arange(6, dtype=np.intp)
    starts = np.array([0, 2, 4, 6], dtype=np.intp)
    losses = np.empty(3)
    work = np.empty(_bptt_fast.workspace_size(2, 7, 3, 5, 4))
    first = coef.copy()  # the same start, trained on the first minibatch only
    assert train_minibatches(X, Y, lengths, order, starts[:2], first, np.zeros_like(coef),
                             work, np.empty(1), 5, HEAD_IDENTITY, 0, 0.01, 0.9, False,
                             0.0) == 1
    done = train_minibatches(
        X, Y, lengths, order, starts, coef, velocity, work, losses,
        5, HEAD_IDENTITY, 0, 0.01, 0.9, False, 0.0,
    )
    assert done == 1
    # the first minibatch was applied, the second (non-finite) one was not
    np.testing.assert_array_equal(coef, first)


def test_float32_kernel_agrees_with_float64():
    params, X, lengths, Y, coef = _problem("softmax", seed=7)
    l64, g64 = _kernel_loss_grad(X, Y, lengths, coef, 5, "softmax")
    l32, g32 = _kernel_loss_grad(
        X.astype(np.float32), Y.astype(np.float32), lengths, coef.astype(np.float32),
        5, "softmax",
    )
    assert g32.dtype == np.float32
    assert l32 == pytest.approx(l64, rel=1e-5)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-5)


def test_predict_outputs_matches_reference_forward_in_blocks():
    params, X, lengths, _, coef = _problem("identity", n=23, T=8, seed=11)
    out = np.empty((23, 4))
    work = np.empty(_bptt_fast.workspace_size(5, 8, 3, 5, 4))
    _bptt_fast.predict_outputs(X, lengths, coef, out, work, 5, 5)
    np.testing.assert_allclose(out, forward(params, X, lengths)[2], rtol=1e-12)


@pytest.mark.parametrize("dtype, ulps", [(np.float64, 4), (np.float32, 1)])
def test_fast_tanh_is_accurate_everywhere(dtype, ulps):
    x = np.concatenate([
        np.linspace(-40, 40, 400_001),
        np.logspace(-300 if dtype == np.float64 else -37, 1.5, 20_000),
        -np.logspace(-300 if dtype == np.float64 else -37, 1.5, 20_000),
        [0.0, -0.0, 0.625, -0.625, np.nextafter(0.625, 0), 22.0, 1e300 if dtype == np.float64 else 1e30],
    ]).astype(dtype)
    y = x.copy()
    _bptt_fast.tanh_inplace_array(y)
    ref = np.tanh(x.astype(np.float64)).astype(dtype)
    err = np.abs(y.astype(np.float64) - ref) / np.spacing(np.abs(ref).astype(dtype)).astype(np.float64)
    assert err.max() <= ulps


def test_fast_tanh_special_values():
    y = np.array([np.nan, np.inf, -np.inf, -0.0])
    _bptt_fast.tanh_inplace_array(y)
    assert np.isnan(y[0])
    assert y[1] == 1.0 and y[2] == -1.0
    assert y[3] == 0.0 and np.signbit(y[3])


def test_forward_backward_returns_the_reference_states_and_deltas():
    from numpy_reference import backward_deltas

    params, X, lengths, Y, coef = _problem("identity", seed=2)
    grad = np.empty_like(coef)
    _, Z, D = _bptt_fast.forward_backward(X, Y, lengths, coef, grad, 5, HEAD_IDENTITY, 0, 0.0, True)
    Z_ref, z_last, logits = forward(params, X, lengths)
    _, err = output_error(logits, Y, "identity")
    D_ref = backward_deltas(params, Z_ref, lengths, err / len(X) @ params["W_out"].T)
    np.testing.assert_allclose(Z, Z_ref, rtol=1e-12)
    np.testing.assert_allclose(D, D_ref, rtol=1e-10, atol=1e-15)


def test_train_minibatches_does_not_apply_a_step_beyond_max_abs_weight():
    _, X, lengths, Y, coef = _problem("identity", variable=False)
    velocity = np.zeros_like(coef)
    order = np.arange(6, dtype=np.intp)
    starts = np.array([0, 2, 4, 6], dtype=np.intp)
    work = np.empty(_bptt_fast.workspace_size(2, 7, 3, 5, 4))
    args = (X, Y, lengths, order, starts)
    tail = (5, HEAD_IDENTITY, 0, 1e3, 0.9, False, 0.0)
    free = coef.copy()
    assert train_minibatches(*args, free, np.zeros_like(coef), work, np.empty(3),
                                        *tail) == 3
    bound = 0.5 * (np.abs(coef).max() + np.abs(free).max())  # crossed at some step
    start = coef.copy()
    done = train_minibatches(*args, coef, velocity, work, np.empty(3), *tail,
                                        max_abs_weight=bound)
    assert 0 < done < 3  # the bound is crossed after at least one step (this problem: 2)
    assert np.abs(coef).max() <= bound  # the step that crossed it was not applied
    # the steps before it were: the same as a run over those minibatches only
    unbounded = start.copy()
    assert train_minibatches(X, Y, lengths, order, starts[:done + 1], unbounded,
                             np.zeros_like(coef), work, np.empty(done), *tail) == done
    np.testing.assert_array_equal(coef, unbounded)


@pytest.mark.parametrize("sizes", [(1, 1, 1), (3, 5, 4), (7, 100, 2)])
def test_one_parameter_layout_for_the_kernels_and_python(sizes):
    """The kernels' C layout is the one _init.PARAMETERS defines (order, offsets)."""
    kernel = _bptt_fast.parameter_layout(*sizes)
    python = parameter_slices(*sizes)
    assert list(kernel) == list(python) == list(PARAMETER_NAMES) == list(PARAM_NAMES)
    assert {k: (s.start, s.stop) for k, s in python.items()} == kernel
    assert _bptt_fast.n_params(*sizes) == n_params(*sizes)
    # the L2 penalty of the kernel covers the entries _init marks as penalized
    F, H, O = sizes
    coef = np.random.default_rng(0).normal(size=n_params(*sizes))
    X, Y = np.zeros((1, 2, F)), np.zeros((1, O))
    grad0, grad1 = np.empty_like(coef), np.empty_like(coef)
    l0 = _bptt_fast.forward_backward(X, Y, np.full(1, 2, np.int32), coef, grad0, H, HEAD_IDENTITY)
    l1 = _bptt_fast.forward_backward(X, Y, np.full(1, 2, np.int32), coef, grad1, H, HEAD_IDENTITY,
                                     0, 1.0)
    np.testing.assert_allclose(grad1 - grad0, np.where(penalized(*sizes), coef, 0.0), atol=1e-12)
    assert l1 - l0 == pytest.approx(0.5 * np.sum(coef[penalized(*sizes)] ** 2))


# -- per-sequence weights ------------------------------------------------------

def _weights(n, seed=0):
    """Non-negative weights with a zero and a non-integer among them."""
    w = np.random.default_rng(seed).uniform(0.2, 3.0, size=n)
    w[1] = 0.0
    return w


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("variable", [False, True])
def test_weighted_gradient_matches_central_differences(head, variable):
    """The weighted kernel gradient is the derivative of its weighted mean loss."""
    _, X, lengths, Y, coef = _problem(head, variable=variable)
    w = _weights(len(X))
    H, alpha, eps = 5, 0.01, 1e-6

    def loss_grad(c):
        grad = np.empty_like(c)
        loss = _bptt_fast.forward_backward(X, Y, lengths, c, grad, H, HEADS[head], 0, alpha,
                                           False, w)
        return loss, grad

    loss, grad = loss_grad(coef)
    num = np.empty_like(coef)
    for i in range(coef.size):
        e = np.zeros_like(coef)
        e[i] = eps
        num[i] = (loss_grad(coef + e)[0] - loss_grad(coef - e)[0]) / (2 * eps)
    rel = np.linalg.norm(grad - num) / np.linalg.norm(num)
    assert rel <= 1e-6, rel
    # and the loss is the weighted mean of the per-sequence losses (plus the penalty)
    per_seq = [_kernel_loss_grad(X[i:i + 1], Y[i:i + 1], lengths[i:i + 1], coef, H, head)[0]
               for i in range(len(X))]
    penalty = 0.5 * alpha * np.sum(coef[penalized(3, H, 4)] ** 2)
    assert loss == pytest.approx(np.dot(w, per_seq) / w.sum() + penalty, rel=1e-12)


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("depth", [None, 2])
def test_weighted_kernel_matches_numpy_reference(head, depth):
    params, X, lengths, Y, coef = _problem(head, n=9, T=11, H=6, seed=3)
    w = _weights(9, seed=1)
    grad = np.empty_like(coef)
    loss = _bptt_fast.forward_backward(X, Y, lengths, coef, grad, 6, HEADS[head], depth or 0,
                                       0.0, False, w)
    ref_loss, ref = loss_and_gradients(params, X, lengths, Y, head, depth, sample_weight=w)
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, pack_dict(ref), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("head", ["softmax", "identity"])
def test_integer_weights_equal_repeated_sequences_and_zero_removes(head):
    """Weight 2 is the sequence twice in the minibatch; weight 0 removes it."""
    _, X, lengths, Y, coef = _problem(head, n=7, seed=4)
    w = np.array([2, 0, 1, 3, 1, 0, 2], dtype=np.float64)
    rep = np.repeat(np.arange(7), w.astype(int))
    g_w = np.empty_like(coef)
    loss_w = _bptt_fast.forward_backward(X, Y, lengths, coef, g_w, 5, HEADS[head], 0, 0.1,
                                         False, w)
    loss_r, g_r = _kernel_loss_grad(X[rep], Y[rep], lengths[rep], coef, 5, head, 0, 0.1)
    assert loss_w == pytest.approx(loss_r, rel=1e-13)
    np.testing.assert_allclose(g_w, g_r, rtol=1e-12, atol=1e-15)


def _train(X, Y, lengths, coef, order, starts, head, sample_weight=None, sgr=None, lr=0.05):
    """``train_minibatches`` from ``coef`` with zero momentum; returns its outputs."""
    coef = coef.copy()
    velocity = np.zeros_like(coef)
    n_batches = len(starts) - 1
    B = int(np.max(np.diff(starts)))
    work = np.empty(_bptt_fast.workspace_size(B, X.shape[1], X.shape[2], 5, Y.shape[1],
                                              sgr is not None), dtype=X.dtype)
    losses = np.empty(n_batches)
    extra = {}
    if sgr is not None:
        extra = dict(sgr=True, **sgr, best_grad=np.zeros_like(coef), guard_state=np.zeros(2),
                     q_history=np.empty(n_batches), ds_history=np.empty(n_batches),
                     used_history=np.zeros(n_batches, dtype=np.int8))
    done = train_minibatches(
        X, Y, lengths, np.asarray(order, dtype=np.intp), np.asarray(starts, dtype=np.intp),
        coef, velocity, work, losses, 5, HEADS[head], 0, lr, 0.9, False, 0.001,
        sample_weight=sample_weight, **extra,
    )
    return done, coef, velocity, losses, extra


SGR_MODES = [
    None,
    dict(exact=False, q_min=-0.5, q_max=0.5, max_skips=3),
    dict(exact=True, q_min=-0.5, q_max=0.5, max_skips=3),
    dict(exact=True, selection=_bptt_fast.SELECT_EXAMPLE, q_min=-0.2, q_max=0.2, max_skips=2),
]


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("sgr", SGR_MODES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weights_of_one_give_the_unweighted_results_bit_for_bit(head, sgr, dtype):
    """All-ones weights take the weighted code path and still reproduce the
    unweighted one (``sample_weight=None``) exactly: every weight, loss, Q and dS."""
    _, X, lengths, Y, coef = _problem(head, n=12, T=9, seed=6, dtype=dtype)
    order = np.random.default_rng(0).permutation(12)
    starts = [0, 4, 8, 11, 12]
    plain = _train(X, Y, lengths, coef, order, starts, head, None, sgr)
    ones = _train(X, Y, lengths, coef, order, starts, head, np.ones(12, dtype=dtype), sgr)
    assert plain[0] == ones[0] == 4
    for a, b in zip(plain[1:4], ones[1:4]):
        np.testing.assert_array_equal(a, b)
    for name in ("q_history", "ds_history", "used_history"):
        if sgr is not None:
            np.testing.assert_array_equal(plain[4][name], ones[4][name])
    grads = [np.empty_like(coef) for _ in range(2)]
    l0 = _bptt_fast.forward_backward(X, Y, lengths, coef, grads[0], 5, HEADS[head], 0, 0.1)
    l1 = _bptt_fast.forward_backward(X, Y, lengths, coef, grads[1], 5, HEADS[head], 0, 0.1,
                                     False, np.ones(12, dtype=dtype))
    assert l0 == l1
    np.testing.assert_array_equal(grads[0], grads[1])


@pytest.mark.parametrize("sgr", SGR_MODES)
def test_a_minibatch_of_zero_weight_makes_no_step(sgr):
    """It changes neither the weights nor the momentum: training is that of the others."""
    _, X, lengths, Y, coef = _problem("softmax", n=12, T=9, seed=8)
    w = np.ones(12)
    w[[4, 5, 6, 7]] = 0.0
    order = np.arange(12)
    with_empty = _train(X, Y, lengths, coef, order, [0, 4, 8, 12], "softmax", w, sgr)
    without = _train(X, Y, lengths, coef, order[[0, 1, 2, 3, 8, 9, 10, 11]], [0, 4, 8],
                     "softmax", w, sgr)
    assert with_empty[0] == 3
    np.testing.assert_array_equal(with_empty[1], without[1])
    np.testing.assert_array_equal(with_empty[2], without[2])
    assert np.isnan(with_empty[3][1])
    np.testing.assert_array_equal(with_empty[3][[0, 2]], without[3])
    if sgr is not None:
        assert with_empty[4]["used_history"][1] == 0
        assert np.isnan(with_empty[4]["q_history"][1])


@pytest.mark.parametrize("bad, match", [
    (-np.ones(6), "not a finite number >= 0"),
    (np.full(6, np.nan), "not a finite number >= 0"),
    (np.ones(5), "5 entries but X has 6"),
    (np.zeros(6), "sums to 0"),
])
def test_kernels_reject_bad_weights(bad, match):
    _, X, lengths, Y, coef = _problem("identity")
    with pytest.raises(ValueError, match=match):
        _bptt_fast.forward_backward(X, Y, lengths, coef, np.empty_like(coef), 5, HEAD_IDENTITY,
                                    0, 0.0, False, bad)
    if match != "sums to 0":  # training passes over such minibatches instead
        with pytest.raises(ValueError, match=match):
            _train(X, Y, lengths, coef, np.arange(6), [0, 3, 6], "identity", bad)


@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("sgr", SGR_MODES)
def test_weighted_steps_equal_steps_on_repeated_sequences(head, sgr):
    """Minibatches with integer weights make the steps (and the regularization's
    decisions) of the minibatches that repeat their sequences instead."""
    _, X, lengths, Y, coef = _problem(head, n=8, T=9, seed=9)
    w = np.array([2, 1, 0, 3, 1, 1, 2, 0], dtype=np.float64)
    order = np.array([5, 0, 3, 7, 1, 2, 6, 4])
    starts = [0, 3, 6, 8]
    rep_order = np.concatenate([np.repeat(order[a:b], w[order[a:b]].astype(int))
                                for a, b in zip(starts[:-1], starts[1:])])
    rep_starts = np.cumsum([0] + [int(w[order[a:b]].sum()) for a, b in zip(starts[:-1],
                                                                           starts[1:])])
    weighted = _train(X, Y, lengths, coef, order, starts, head, w, sgr)
    repeated = _train(X, Y, lengths, coef, rep_order, rep_starts, head, None, sgr)
    assert weighted[0] == repeated[0] == 3
    np.testing.assert_allclose(weighted[1], repeated[1], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(weighted[3], repeated[3], rtol=1e-12)
    if sgr is not None:
        np.testing.assert_array_equal(weighted[4]["used_history"], repeated[4]["used_history"])
        np.testing.assert_allclose(weighted[4]["q_history"], repeated[4]["q_history"],
                                   rtol=1e-10)
        np.testing.assert_allclose(weighted[4]["ds_history"], repeated[4]["ds_history"],
                                   rtol=1e-8)
