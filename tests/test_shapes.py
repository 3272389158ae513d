"""Every array's size is checked: at the kernel boundary, and the fitted weights
against each other (the network's size is that of its weights, not n_hidden).

The crash reproductions run in a subprocess: without the checks they read past
the weight and workspace arrays and can kill the interpreter.
"""

import numpy as np
import pytest

from sksgr import SRNClassifier, SRNRegressor, _bptt_fast
from sksgr._bptt_fast import HEAD_IDENTITY

SETUP = """
import numpy as np
from sksgr import SRNRegressor, SRNClassifier, _bptt_fast
rng = np.random.default_rng(0)
X = rng.normal(size=(200, 10, 3))
y = X[:, :, 0].sum(1)
"""


def _data():
    """The data of the issue (the ``issue_data`` fixture), for module-scoped fixtures."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 10, 3))
    return X, X[:, :, 0].sum(1), (X[:, :, 1].mean(1) > 0).astype(int)


@pytest.fixture(scope="module")
def regressor():
    X, y, _ = _data()
    with pytest.warns(Warning, match="maximum iterations"):  # max_iter=3 on purpose
        return SRNRegressor(n_hidden=16, max_iter=3, random_state=0).fit(X, y)


def test_predict_uses_the_fitted_size_whatever_n_hidden_says(run_isolated):
    proc = run_isolated(setup=SETUP, code="""
        import warnings
        warnings.simplefilter("ignore")
        r = SRNRegressor(n_hidden=16, max_iter=3, random_state=0).fit(X, y)
        p = r.predict(X)
        for h in (8, 17, 64, 1000):
            assert np.array_equal(r.set_params(n_hidden=h).predict(X), p), h
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


@pytest.mark.parametrize("name, shape, match", [
    ("recurrent_weights_", (4, 4), r"recurrent_weights_ has shape \(4, 4\) but input_weights_ "
                                   r"implies n_hidden=16"),
    ("input_weights_", (3, 8), r"recurrent_weights_ has shape \(16, 16\) but input_weights_ "
                               r"implies n_hidden=8"),
    ("input_weights_", (2, 16), r"input_weights_ has shape \(2, 16\) but the model was fitted "
                                r"on 3 feature"),
    ("input_weights_", (48,), r"input_weights_ must be 2-D"),
    ("output_weights_", (16, 2), r"output_weights_ has shape \(16, 2\).*1 output"),
    ("hidden_bias_", (15,), r"hidden_bias_ has shape \(15,\)"),
    ("output_bias_", (), r"output_bias_ has shape \(\)"),
])
def test_weights_of_the_wrong_shape_are_named(regressor, name, shape, match):
    X, y, _ = _data()
    reg = SRNRegressor(**regressor.get_params())
    reg.__dict__.update(regressor.__dict__)
    setattr(reg, name, np.zeros(shape))
    with pytest.raises(ValueError, match=match):
        reg.predict(X)
    with pytest.raises(ValueError, match=match):
        reg.set_params(warm_start=True).fit(X, y)


def test_warm_start_after_changing_n_hidden_says_what_is_wrong(regressor):
    X, y, _ = _data()
    reg = SRNRegressor(**regressor.get_params())
    reg.__dict__.update(regressor.__dict__)
    reg.set_params(n_hidden=8, warm_start=True)
    with pytest.raises(ValueError, match=r"n_hidden=8: the fitted network has 16 hidden units"):
        reg.fit(X, y)
    clf = SRNClassifier(n_hidden=6, max_iter=1).partial_fit(X, y > 0, classes=[False, True])
    clf.set_params(n_hidden=7)
    with pytest.raises(ValueError, match=r"n_hidden=7: the fitted network has 6 hidden units"):
        clf.partial_fit(X, y > 0)


def test_kernels_reject_arrays_of_the_wrong_size_without_crashing(run_isolated):
    proc = run_isolated(setup=SETUP, code="""
        from sksgr._bptt_fast import HEAD_IDENTITY
        X = np.ascontiguousarray(X[:20])
        lengths = np.full(20, 10, dtype=np.int32)
        Y = y[:20, None].copy()
        F, H, O = 3, 16, 1
        P = _bptt_fast.n_params(F, H, O)
        coef = np.zeros(P)
        order = np.arange(20, dtype=np.intp)
        starts = np.array([0, 10, 20], dtype=np.intp)

        def train(**kw):
            a = dict(X=X, Y=Y, lengths=lengths, order=order, batch_starts=starts, coef=coef.copy(),
                     velocity=np.zeros(P), work=np.empty(_bptt_fast.workspace_size(10, 10, F, H, O)),
                     losses=np.empty(2))
            a.update(kw)
            optimizer = dict(solver=0, learning_rate=1e-3, momentum=0.9, nesterov=False,
                             beta_1=0.9, beta_2=0.999, epsilon=1e-8)
            return _bptt_fast.train_minibatches(
                a["X"], a["Y"], a["lengths"], a["order"], a["batch_starts"], a["coef"],
                a["velocity"], a["work"], a["losses"], H, HEAD_IDENTITY, 1, optimizer)

        cases = {
            "work": dict(work=np.empty(100)),
            "coef": dict(coef=np.zeros(P - 1)),
            "velocity": dict(velocity=np.zeros(P + 1)),
            "Y": dict(Y=Y[:5]),
            "lengths": dict(lengths=lengths[:5]),
            "lengths[3]": dict(lengths=np.where(np.arange(20) == 3, 11, 10).astype(np.int32)),
            "order[": dict(order=np.arange(20, dtype=np.intp) + 5),
            "losses": dict(losses=np.empty(1)),
            "batch_starts": dict(batch_starts=np.array([0, 10, 30], dtype=np.intp)),
        }
        for name, kw in cases.items():
            try:
                train(**kw)
            except ValueError as exc:
                assert name in str(exc), (name, str(exc))
            else:
                raise AssertionError(f"{name} accepted")
        assert train() == 2

        out = np.empty((20, O))
        for name, args in {
            "work": (X, lengths, coef, out, np.empty(10), H, 5),
            "coef": (X, lengths, np.zeros(5 * P), out, np.empty(10**6), H, 5),
            "out": (X, lengths, coef, np.empty((3, O)), np.empty(10**6), H, 5),
            "lengths": (X, lengths[:3], coef, out, np.empty(10**6), H, 5),
        }.items():
            try:
                _bptt_fast.predict_outputs(*args)
            except ValueError as exc:
                assert name in str(exc), (name, str(exc))
            else:
                raise AssertionError(f"predict_outputs: {name} accepted")
        for name, args in {
            "coef": (X, Y, lengths, np.zeros(P + 3), np.zeros(P + 3), H, HEAD_IDENTITY),
            "grad": (X, Y, lengths, coef, np.zeros(3), H, HEAD_IDENTITY),
            "Y": (X, Y[:3], lengths, coef, np.zeros(P), H, HEAD_IDENTITY),
        }.items():
            try:
                _bptt_fast.forward_backward(*args)
            except ValueError as exc:
                assert name in str(exc), (name, str(exc))
            else:
                raise AssertionError(f"forward_backward: {name} accepted")
        try:
            _bptt_fast.norm_change(X, Y, lengths, np.zeros(P - 1), np.zeros((H, H)), H,
                                   HEAD_IDENTITY, 0, False)
        except ValueError as exc:
            assert "coef" in str(exc)
        else:
            raise AssertionError("norm_change: coef accepted")
        print("ok")
    """)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "ok"


def test_kernel_error_names_the_workspace_size():
    X, y, _ = _data()
    X = np.ascontiguousarray(X[:4])
    out = np.empty((4, 1))
    coef = np.zeros(_bptt_fast.n_params(3, 5, 1))
    with pytest.raises(ValueError, match=r"work has 7 entries but workspace_size\(block=2"):
        _bptt_fast.predict_outputs(X, np.full(4, 10, np.int32), coef, out, np.empty(7), 5, 2)
    with pytest.raises(ValueError, match="n_hidden"):
        _bptt_fast.forward_backward(X, out, np.full(4, 10, np.int32), coef, coef.copy(), 0,
                                    HEAD_IDENTITY)
