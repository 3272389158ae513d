"""sksgr.export.to_onnx: the ONNX model gives the estimator's outputs under onnxruntime."""

import sys

import numpy as np
import onnx  # noqa: E402  ([test] installs onnx and onnxruntime: a missing one is a failure)
import onnxruntime as ort  # noqa: E402
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sksgr import SequenceScaler, SRNClassifier, SRNFeatures, SRNRegressor
from sksgr.export import to_onnx

READOUTS = ["last", "mean", "max", ("last", "mean", "max")]
# tiny fits: a few epochs of a few units (tol=None: no max_iter warning)
TINY = dict(n_hidden=5, max_iter=2, tol=None, learning_rate=0.05, random_state=0)
# float32 fits: the model's float32 arithmetic against the float32 kernels
TIGHT = dict(rtol=1e-5, atol=1e-6)
# float64 fits: the model rounds the weights and computes in float32
LOOSE = dict(rtol=1e-4, atol=1e-5)


def sequences(n=12, T=6, F=2, *, ragged=True, seed=0):
    """NaN-padded sequences (n, T, F), the first one full, the others of 1 ... T steps."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F))
    lengths = rng.randint(1, T + 1, size=n) if ragged else np.full(n, T)
    lengths[0] = T
    X[np.arange(T)[None, :] >= lengths[:, None]] = np.nan
    return X


def run(model, X, *, outputs=None):
    """Run ``model`` on NaN-padded ``X``: zeros for the padding, and the lengths."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    lengths = (~np.isnan(X).all(axis=2)).sum(axis=1).astype(np.int32)
    return session.run(outputs, {"X": np.nan_to_num(X).astype(np.float32),
                                 "sequence_lens": lengths})


def with_features(model):
    """A copy of ``model`` that also outputs its readout features (the tensor "features")."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    model.graph.output.append(onnx.helper.make_tensor_value_info("features",
                                                                 onnx.TensorProto.FLOAT, None))
    return model


def labels(n, kind="int"):
    y = np.arange(n) % 3
    return {"int": y, "str": np.array(["cat", "dog", "emu"])[y], "int7": 7 + 5 * y}[kind]


@pytest.mark.parametrize("dtype, tol", [(np.float32, TIGHT), (np.float64, LOOSE)],
                         ids=["float32", "float64"])
@pytest.mark.parametrize("readout", READOUTS, ids=str)
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_classifier_round_trip(readout, dtype, tol, ragged):
    X = sequences(ragged=ragged).astype(dtype)
    clf = SRNClassifier(readout=readout, **TINY).fit(X, labels(len(X)))
    label, proba, features = run(with_features(to_onnx(clf)), X)
    assert proba.dtype == np.float32 and proba.shape == (len(X), 3)
    np.testing.assert_allclose(features, clf.transform(X), **tol)
    np.testing.assert_allclose(proba, clf.predict_proba(X), **tol)
    np.testing.assert_array_equal(label, clf.predict(X))
    assert label.dtype == clf.classes_.dtype


@pytest.mark.parametrize("dtype, tol", [(np.float32, TIGHT), (np.float64, LOOSE)],
                         ids=["float32", "float64"])
@pytest.mark.parametrize("readout", READOUTS, ids=str)
@pytest.mark.parametrize("n_outputs", [1, 3])
def test_regressor_round_trip(readout, dtype, tol, n_outputs):
    X = sequences().astype(dtype)
    y = np.nan_to_num(X).sum(axis=1)[:, [0, 1, 0][:n_outputs]]
    reg = SRNRegressor(readout=readout, **TINY).fit(X, y[:, 0] if n_outputs == 1 else y)
    variable, features = run(with_features(to_onnx(reg)), X)
    assert variable.dtype == np.float32 and variable.shape == (len(X), n_outputs)
    np.testing.assert_allclose(features, reg.transform(X), **tol)
    np.testing.assert_allclose(variable, reg.predict(X).reshape(len(X), -1), **tol)


def step_labels(X, kind="int"):
    """A label at every step (the padding's labels are never read)."""
    y = (np.nan_to_num(X[:, :, 0]) > 0).astype(int) + (np.arange(X.shape[1]) % 2)[None, :]
    return {"int": y, "str": np.array(["cat", "dog", "emu"])[y]}[kind]


def real(X):
    """(n, T) boolean: the real steps of NaN-padded ``X``."""
    return ~np.isnan(X).all(axis=2)


@pytest.mark.parametrize("dtype, tol", [(np.float32, TIGHT), (np.float64, LOOSE)],
                         ids=["float32", "float64"])
@pytest.mark.parametrize("kind", ["int", "str"])
@pytest.mark.parametrize("ragged", [False, True], ids=["full", "ragged"])
def test_per_step_classifier_round_trip(dtype, tol, kind, ragged):
    X = sequences(ragged=ragged).astype(dtype)
    clf = SRNClassifier(return_sequences=True, **TINY).fit(X, step_labels(X, kind))
    model = to_onnx(clf)
    assert [d.dim_param or d.dim_value for d in
            model.graph.output[1].type.tensor_type.shape.dim] == ["batch", "time", 3]
    label, proba, states = run(with_features(model), X)
    mask = real(X)
    assert label.shape == X.shape[:2] and proba.shape == X.shape[:2] + (3,)
    np.testing.assert_allclose(proba[mask], clf.predict_proba(X)[mask], **tol)
    np.testing.assert_allclose(states[mask], clf.transform(X)[mask], **tol)
    np.testing.assert_array_equal(label[mask], clf.predict(X)[mask])


@pytest.mark.parametrize("n_outputs", [1, 2])
def test_per_step_regressor_round_trip(n_outputs):
    X = sequences(T=9).astype(np.float32)
    y = np.cumsum(np.nan_to_num(X[:, :, :n_outputs]), axis=1)
    pipe = make_pipeline(SequenceScaler(), SRNRegressor(return_sequences=True, **TINY))
    pipe.fit(X, y[:, :, 0] if n_outputs == 1 else y)
    (variable,) = run(to_onnx(pipe), X)
    mask = real(X)
    assert variable.shape == X.shape[:2] + (n_outputs,)
    expected = pipe.predict(X).reshape(X.shape[:2] + (n_outputs,))
    np.testing.assert_allclose(variable[mask], expected[mask], **TIGHT)


@pytest.mark.parametrize("kind", ["str", "int7"])
def test_class_labels_keep_their_type(kind):
    X = sequences().astype(np.float32)
    y = labels(len(X), kind)
    clf = SRNClassifier(**TINY).fit(X, y)
    label, proba = run(to_onnx(clf), X)
    np.testing.assert_array_equal(label, clf.predict(X))
    if kind == "str":
        assert label.dtype == object and isinstance(label[0], str)
    else:
        assert label.dtype == clf.classes_.dtype
    assert [o.name for o in to_onnx(clf).graph.output] == ["label", "probabilities"]


def test_binary_and_boolean_labels():
    X = sequences().astype(np.float32)
    y = np.nan_to_num(X)[:, 1, 0] > 0
    clf = SRNClassifier(**TINY).fit(X, y)
    label, proba = run(to_onnx(clf), X)
    assert label.dtype == bool and proba.shape == (len(X), 2)
    np.testing.assert_array_equal(label, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), **TIGHT)


@pytest.mark.parametrize("estimator", [SRNClassifier, SRNRegressor])
def test_pipeline_with_sequence_scaler(estimator):
    X = 5.0 + 3.0 * sequences(F=3).astype(np.float32)
    y = labels(len(X)) if estimator is SRNClassifier else np.nan_to_num(X)[:, 1, 0]
    pipe = make_pipeline(SequenceScaler(), estimator(readout=("last", "max"), **TINY)).fit(X, y)
    model = to_onnx(pipe)
    assert {"Sub", "Div"} <= {node.op_type for node in model.graph.node}
    if estimator is SRNClassifier:
        label, proba = run(model, X)
        np.testing.assert_allclose(proba, pipe.predict_proba(X), **TIGHT)
        np.testing.assert_array_equal(label, pipe.predict(X))
    else:
        (variable,) = run(model, X)
        np.testing.assert_allclose(variable[:, 0], pipe.predict(X), **TIGHT)


def test_pipeline_of_two_scalers():
    X = 5.0 + 3.0 * sequences().astype(np.float32)
    pipe = make_pipeline(SequenceScaler(), SequenceScaler(with_mean=False),
                         SRNClassifier(**TINY)).fit(X, labels(len(X)))
    label, proba = run(to_onnx(pipe), X)
    np.testing.assert_allclose(proba, pipe.predict_proba(X), **TIGHT)


@pytest.mark.parametrize("with_mean, with_std", [(True, False), (False, True)])
def test_pipeline_scaler_options_and_passthrough(with_mean, with_std):
    X = 5.0 + 3.0 * sequences().astype(np.float32)
    y = np.nan_to_num(X)[:, 1, 0]
    pipe = Pipeline([("skip", "passthrough"),
                     ("scale", SequenceScaler(with_mean=with_mean, with_std=with_std)),
                     ("srn", SRNRegressor(readout="mean", **TINY))]).fit(X, y)
    ops = [node.op_type for node in to_onnx(pipe).graph.node]
    assert ("Sub" in ops) == with_mean and ops.count("Div") == with_std + 1  # + the mean pool
    (variable,) = run(to_onnx(pipe), X)
    np.testing.assert_allclose(variable[:, 0], pipe.predict(X), **TIGHT)


def test_batch_and_time_other_than_in_training():
    """One model serves any batch size and length: shorter, longer, one sequence."""
    X = sequences(n=10, T=5).astype(np.float32)
    clf = SRNClassifier(readout=("last", "mean", "max"), **TINY).fit(X, labels(len(X)))
    model = to_onnx(clf)
    for n, T in [(1, 1), (1, 30), (4, 3), (23, 17)]:
        Xn = sequences(n=n, T=T, F=2, seed=n + T).astype(np.float32)
        label, proba = run(model, Xn)
        np.testing.assert_allclose(proba, clf.predict_proba(Xn), **TIGHT)
        np.testing.assert_array_equal(label, clf.predict(Xn))


def test_padding_values_do_not_matter():
    """Steps beyond sequence_lens are ignored, whatever their (finite) values."""
    X = sequences().astype(np.float32)
    reg = SRNRegressor(readout=("last", "mean", "max"), **TINY).fit(X, np.arange(len(X)))
    session = ort.InferenceSession(to_onnx(reg).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    lengths = (~np.isnan(X).all(axis=2)).sum(axis=1).astype(np.int32)
    zeros = session.run(None, {"X": np.nan_to_num(X), "sequence_lens": lengths})[0]
    big = session.run(None, {"X": np.nan_to_num(X, nan=1e3), "sequence_lens": lengths})[0]
    np.testing.assert_array_equal(zeros, big)


def test_univariate_table_fit_takes_one_feature_per_step():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(12, 6)).astype(np.float32)  # 2-D: 12 univariate sequences
    reg = SRNRegressor(**TINY).fit(X, X.sum(axis=1))
    model = to_onnx(reg)
    assert model.graph.input[0].type.tensor_type.shape.dim[2].dim_value == 1
    (variable,) = run(model, X[:, :, None])
    np.testing.assert_allclose(variable[:, 0], reg.predict(X), **TIGHT)


@pytest.mark.parametrize("opset", [13, 17, 18, None])
def test_opsets(opset):
    X = sequences().astype(np.float32)
    clf = SRNClassifier(readout=("last", "mean", "max"), **TINY).fit(X, labels(len(X)))
    model = to_onnx(clf, opset=opset)
    assert model.opset_import[0].version == (opset or 18)
    onnx.checker.check_model(model, full_check=True)
    label, proba = run(model, X)
    np.testing.assert_allclose(proba, clf.predict_proba(X), **TIGHT)


def test_model_interface():
    X = sequences(F=3).astype(np.float32)
    reg = SRNRegressor(**TINY).fit(X, np.nan_to_num(X)[:, :, :2].sum(axis=1))
    model = to_onnx(reg)
    inputs = {i.name: i.type.tensor_type for i in model.graph.input}
    assert list(inputs) == ["X", "sequence_lens"]
    assert inputs["X"].elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in inputs["X"].shape.dim] == ["batch", "time", 3]
    assert inputs["sequence_lens"].elem_type == onnx.TensorProto.INT32
    (output,) = model.graph.output
    assert output.name == "variable"
    assert [d.dim_param or d.dim_value for d in output.type.tensor_type.shape.dim] == ["batch", 2]
    assert "RNN" in {node.op_type for node in model.graph.node}
    assert model.producer_name == "sksgr"


def test_edited_weights_are_exported():
    """The model reads the weight attributes, as predict does."""
    X = sequences().astype(np.float32)
    reg = SRNRegressor(**TINY).fit(X, np.arange(len(X)))
    reg.output_bias_ = reg.output_bias_ + 100.0
    (variable,) = run(to_onnx(reg), X)
    np.testing.assert_allclose(variable[:, 0], reg.predict(X), **TIGHT)


# -- errors ------------------------------------------------------------------

def test_unfitted_estimator():
    with pytest.raises(NotFittedError):
        to_onnx(SRNClassifier())
    with pytest.raises(NotFittedError):
        to_onnx(make_pipeline(SequenceScaler(), SRNRegressor()))


def test_unfitted_scaler_in_a_pipeline():
    X = sequences().astype(np.float32)
    reg = SRNRegressor(**TINY).fit(X, np.arange(len(X)))
    with pytest.raises(NotFittedError):
        to_onnx(Pipeline([("scale", SequenceScaler()), ("srn", reg)]))


@pytest.mark.parametrize("estimator", [
    make_pipeline(FunctionTransformer(), SRNClassifier()),
    make_pipeline(SequenceScaler(), SRNFeatures()),
    make_pipeline(SRNRegressor(), SequenceScaler()),
    SRNFeatures(),
    SequenceScaler(),
])
def test_unsupported_estimators(estimator):
    with pytest.raises(TypeError, match="to_onnx supports .*SRNClassifier or SRNRegressor"):
        to_onnx(estimator)


@pytest.mark.parametrize("opset", [12, 10_000, 17.0, True, "18"])
def test_bad_opset(opset):
    X = sequences()
    clf = SRNClassifier(**TINY).fit(X, labels(len(X)))
    with pytest.raises(ValueError, match="opset must be an int from 13"):
        to_onnx(clf, opset=opset)


def test_missing_onnx_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    with pytest.raises(ImportError, match=r'pip install "sksgr\[onnx\]"'):
        to_onnx(SRNClassifier())


def test_importing_sksgr_does_not_import_onnx(run_isolated):
    proc = run_isolated("""
        import sys
        import sksgr, sksgr.export
        assert "onnx" not in sys.modules and "onnxruntime" not in sys.modules, "imported"
    """)
    assert proc.returncode == 0, proc.stderr
