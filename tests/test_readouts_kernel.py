"""Pooled readouts in the kernels: forward, BPTT and dS against the NumPy reference
and finite differences."""

import numpy as np
import pytest

from sksgr import _bptt_fast
from sksgr._bptt_fast import HEAD_IDENTITY, HEAD_SOFTMAX
from sksgr._init import pack_dict, parameter_slices
from sksgr.network import readout_code

from numpy_reference import (
    backward_deltas,
    forward,
    init_params,
    loss_and_gradients,
    output_error,
    readout_features,
    zero_padded_sequences,
)

HEADS = {"softmax": HEAD_SOFTMAX, "identity": HEAD_IDENTITY}
READOUTS = [("last",), ("mean",), ("max",), ("last", "mean", "max"), ("max", "last")]
F, H, O = 3, 5, 4


def _problem(head, readout, *, n=6, T=8, seed=0, scale=0.5):
    rng = np.random.default_rng(seed)
    params = init_params(F, H, O, rng, scale=scale, n_pools=len(readout))
    X, lengths = zero_padded_sequences(rng, n, T, F)
    Y = np.eye(O)[rng.integers(0, O, size=n)] if head == "softmax" else rng.normal(size=(n, O))
    return params, X, lengths, Y, pack_dict(params)


def _loss_grad(X, Y, lengths, coef, head, readout, depth=0, sample_weight=None):
    grad = np.empty_like(coef)
    loss = _bptt_fast.forward_backward(X, Y, lengths, coef, grad, H, HEADS[head], depth, 0.0,
                                       False, sample_weight, readout=readout_code(readout))
    return loss, grad


def test_readout_codes():
    assert readout_code(("last",)) == _bptt_fast.POOL_LAST == 1
    assert readout_code(("last", "mean", "max")) == 1 + 4 * 2 + 16 * 3
    assert _bptt_fast.readout_pools(readout_code(("max", "last"))) == 2
    for bad in (0, 4, 5 + 16 * 1, 65, -1):  # gap, repeat, too long, negative
        with pytest.raises(ValueError, match="readout code"):
            _bptt_fast.readout_pools(bad)
    # 64 = 4 ** 3, above every pool code: an output at every step
    assert _bptt_fast.READOUT_STEPS == 64 and _bptt_fast.readout_pools(64) == 1


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("depth", [None, 3])
def test_pooled_gradient_matches_numpy_reference(readout, head, depth):
    params, X, lengths, Y, coef = _problem(head, readout)
    w = np.random.default_rng(1).uniform(0.2, 2.0, size=len(X))
    for sample_weight in (None, w):
        loss, grad = _loss_grad(X, Y, lengths, coef, head, readout, depth or 0, sample_weight)
        ref_loss, ref = loss_and_gradients(params, X, lengths, Y, head, depth,
                                           sample_weight, readout=readout)
        assert loss == pytest.approx(ref_loss, rel=1e-12)
        np.testing.assert_allclose(grad, pack_dict(ref), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("head", ["softmax", "identity"])
def test_pooled_gradient_matches_central_differences(readout, head):
    """Every real step receives its share of the output error (max: a.e. differentiable)."""
    _, X, lengths, Y, coef = _problem(head, readout, seed=2)
    _, grad = _loss_grad(X, Y, lengths, coef, head, readout)
    eps = 1e-6
    fd = np.empty_like(coef)
    for i in range(coef.size):
        e = np.zeros_like(coef)
        e[i] = eps
        fd[i] = (_loss_grad(X, Y, lengths, coef + e, head, readout)[0]
                 - _loss_grad(X, Y, lengths, coef - e, head, readout)[0]) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("block", [1, 4, 100])
def test_features_and_outputs_match_the_reference(readout, dtype, block):
    params, X, lengths, _, coef = _problem("identity", readout, n=9)
    X, coef = X.astype(dtype), coef.astype(dtype)
    R = len(readout)
    code = readout_code(readout)
    work = np.empty(_bptt_fast.workspace_size(min(block, len(X)), X.shape[1], F, H, O, False,
                                              code), dtype=dtype)
    out = np.empty((len(X), O), dtype=dtype)
    _bptt_fast.predict_outputs(X, lengths, coef, out, work, H, block, code)
    feats = np.empty((len(X), R * H), dtype=dtype)
    # features need only the recurrent part of the parameters
    rec = coef[: parameter_slices(F, H, O, R)["W_out"].start].copy()
    _bptt_fast.forward_features(X, lengths, rec, feats, work, H, block, code)
    Z, ref_feats, ref_out = forward(params, X.astype(np.float64), lengths, readout)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(feats, ref_feats, rtol=tol, atol=tol)
    np.testing.assert_allclose(out, ref_out, rtol=tol, atol=tol)
    np.testing.assert_allclose(ref_feats, readout_features(Z, lengths, readout))
    # padding is excluded: appending zero steps after the ends changes nothing
    Xp = np.concatenate([X, np.zeros((len(X), 5, F), dtype=dtype)], axis=1)
    work2 = np.empty(_bptt_fast.workspace_size(min(block, len(X)), Xp.shape[1], F, H, O,
                                               False, code), dtype=dtype)
    feats2 = np.empty_like(feats)
    _bptt_fast.forward_features(Xp, lengths, rec, feats2, work2, H, block, code)
    np.testing.assert_array_equal(feats2, feats)


def test_features_check_their_arguments():
    _, X, lengths, _, coef = _problem("identity", ("mean", "max"))
    work = np.empty(_bptt_fast.workspace_size(len(X), X.shape[1], F, H, 1, False, 2 + 4 * 3))
    with pytest.raises(ValueError, match="feats columns"):
        _bptt_fast.forward_features(X, lengths, coef, np.empty((len(X), H)), work, H, 10,
                                    2 + 4 * 3)
    with pytest.raises(ValueError, match="recurrent part"):
        _bptt_fast.forward_features(X, lengths, coef[:5], np.empty((len(X), 2 * H)), work, H,
                                    10, 2 + 4 * 3)


def _with_rec(coef, delta, R):
    c = coef.copy()
    c[parameter_slices(F, H, O, R)["W_rec"]] += delta.ravel()
    return c


@pytest.mark.parametrize("readout", READOUTS)
@pytest.mark.parametrize("head", ["softmax", "identity"])
@pytest.mark.parametrize("q_depth", [0, 2])
def test_pooled_exact_ds_matches_central_differences(readout, head, q_depth):
    """dS along a W_rec direction: the tangent of the readout enters at every pooled step."""
    _, X, lengths, Y, coef = _problem(head, readout, seed=3)
    direction = np.random.default_rng(5).normal(size=(H, H))
    code, R = readout_code(readout), len(readout)

    def nc(c, d):
        return _bptt_fast.norm_change(X, Y, lengths, c, d, H, HEADS[head], q_depth, True,
                                      None, code)

    S, dS, *_, dE_b = nc(coef, direction)
    eps = 1e-6
    zero = np.zeros_like(direction)
    plus, minus = nc(_with_rec(coef, eps * direction, R), zero), nc(
        _with_rec(coef, -eps * direction, R), zero)
    assert dS == pytest.approx((plus[0] - minus[0]) / (2 * eps), rel=1e-5)
    assert dE_b.sum() == pytest.approx((plus[5].sum() - minus[5].sum()) / (2 * eps), rel=1e-5)


@pytest.mark.parametrize("readout", READOUTS)
def test_pooled_linear_ds_holds_the_injections_fixed(readout):
    """Linear dS: the derivative of S with every f'(a(t)) and every injected error frozen."""
    params, X, lengths, Y, coef = _problem("identity", readout, seed=4)
    direction = np.random.default_rng(6).normal(size=(H, H))
    Z, feats, logits = forward(params, X, lengths, readout)
    _, err = output_error(logits, Y, "identity")
    d_feats = err / len(X) @ params["W_out"].T
    D = backward_deltas(params, Z, lengths, d_feats, readout=readout)
    from numpy_reference import readout_injection

    inj = readout_injection(Z, lengths, d_feats, readout)

    def S_frozen(W):
        total = 0.0
        for b, L in enumerate(lengths):
            d = np.zeros(H)
            for t in range(L - 1, -1, -1):
                d = (d @ W.T + inj[t, b]) * (1 - Z[t + 1, b] ** 2)
            total += 0.5 * d @ d  # q_depth 0: the delta at the first step
        return total

    assert S_frozen(params["W_rec"]) == pytest.approx(
        0.5 * sum(D[0, b] @ D[0, b] for b in range(len(X))), rel=1e-12)
    eps = 1e-6
    fd = (S_frozen(params["W_rec"] + eps * direction)
          - S_frozen(params["W_rec"] - eps * direction)) / (2 * eps)
    _, dS, *_ = _bptt_fast.norm_change(X, Y, lengths, coef, direction, H, HEAD_IDENTITY, 0,
                                       False, None, readout_code(readout))
    assert dS == pytest.approx(fd, rel=1e-6)
