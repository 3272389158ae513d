"""Export of fitted networks to ONNX: :func:`to_onnx`.

The fitted network becomes an ONNX graph built around ONNX's own ``RNN``
operator (tanh), so that any ONNX runtime can serve it without sksgr,
Cython or scikit-learn. ``onnx`` is an optional dependency, imported only
when :func:`to_onnx` is called (``pip install "sksgr[onnx]"`` installs it
with ``onnxruntime``).

The graph is built in stages, each a function of this module: the scalers
(``Sub``/``Div``), the recurrence (``RNN``, whose per-step states ``Y`` a
many-to-many head could read as well), the readout's pools over each
sequence's real steps, the output layer (``MatMul``/``Add``) and the head's
outputs (labels and probabilities, or values).
"""

import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from ._base import fitted_network
from ._estimators import SRNClassifier, SRNRegressor
from .preprocessing import SequenceScaler

# The opset of the graph by default, and the oldest one the graph can be
# written in (axes as inputs of ReduceSum, Squeeze and Unsqueeze).
DEFAULT_OPSET = 18
MIN_OPSET = 13

# Names of the graph's inputs and outputs (the outputs as skl2onnx names them).
INPUT = "X"
LENGTHS = "sequence_lens"
LABEL, PROBABILITIES, VARIABLE = "label", "probabilities", "variable"
# Internal tensors with stable names: the readout features (what ``transform``
# returns) and the network's outputs (the classifier's logits).
FEATURES, OUTPUTS = "features", "outputs"


def to_onnx(estimator, *, opset=None):
    """An ONNX model computing a fitted estimator's predictions.

    Supported are a fitted :class:`~sksgr.SRNClassifier` or
    :class:`~sksgr.SRNRegressor`, and a :class:`~sklearn.pipeline.Pipeline`
    of :class:`~sksgr.SequenceScaler` steps (or ``"passthrough"``) followed
    by one of them, e.g. ``make_pipeline(SequenceScaler(),
    SRNClassifier())``; a scaler becomes ``Sub`` and ``Div`` nodes in front
    of the network.

    The model computes in float32 whatever the estimator's dtype: a network
    fitted on float32 data gives the estimator's outputs to float32
    rounding, one fitted on float64 data to about 1e-6 relative.

    Parameters
    ----------
    estimator : SRNClassifier, SRNRegressor or Pipeline
        The fitted estimator (or pipeline).
    opset : int, default=None
        The ONNX opset of the default domain, from 13 to the newest one the
        installed ``onnx`` knows; None: 18. The runtime must support it.

    Returns
    -------
    model : onnx.ModelProto
        A checked model (``onnx.checker.check_model``) with two inputs:

        - ``X``: float32, shape ``(batch, time, n_features)``, batch-first
          like the estimators' 3-D input (a model fitted on a 2-D table of
          univariate sequences takes ``(batch, time, 1)``). Batch and time
          are dynamic; unlike the estimator, the model does not check
          them. Padding after a sequence's end must be finite, e.g. zeros,
          not the estimators' NaN (``numpy.nan_to_num(X)``).
        - ``sequence_lens``: int32, shape ``(batch,)``: the number of real
          steps of each sequence, from 1 to ``time``; pass ``time`` for every
          sequence of a full batch. Steps beyond a sequence's length are
          ignored; the model does not check the lengths.

        The outputs are named as skl2onnx names them:

        - classifier: ``label`` of shape ``(batch,)``, the predicted class
          as in ``predict`` (``classes_``' values: strings as strings,
          numbers in the dtype of ``classes_``), and ``probabilities``,
          float32 of shape ``(batch, n_classes)``, as ``predict_proba``;
        - regressor: ``variable``, float32 of shape ``(batch, n_outputs)``,
          ``predict`` as a 2-D array (also for a 1-D ``y``).

        With ``return_sequences=True`` every output gains a time axis after
        the batch: ``label`` ``(batch, time)``, ``probabilities`` ``(batch,
        time, n_classes)``, ``variable`` ``(batch, time, n_outputs)``. Past a
        sequence's length they hold the output of a zero state (``RNN``'s
        ``Y`` is zero there), where ``predict`` has NaN: mask them with
        ``sequence_lens``.

    Raises
    ------
    ImportError
        If ``onnx`` is not installed.
    TypeError
        If ``estimator`` is of a type or a pipeline of a form not supported.
    sklearn.exceptions.NotFittedError
        If the estimator (or a scaler of the pipeline) is not fitted.
    ValueError
        If ``opset`` is out of range or the weights are not finite.

    Notes
    -----
    The graph: ``X`` is scaled (a pipeline's scalers), transposed to the
    time-major layout of ONNX's ``RNN`` operator (onnxruntime implements
    only ``layout=0``) and run through ``RNN`` with a tanh activation, ``W =
    input_weights_.T``, ``R = recurrent_weights_.T``, ``B = [hidden_bias_,
    0]`` and ``sequence_lens``. The readout's pools are concatenated in its
    order: "last" is the operator's ``Y_h`` (each sequence's state at its
    own last step), "mean" and "max" reduce the states ``Y`` over the steps
    ``t < sequence_lens`` (a ``Less`` mask: ``Where`` then ``ReduceSum``
    divided by the length, ``Where`` with ``-inf`` then ``ReduceMax``). The
    output layer is ``MatMul`` and ``Add`` (per step on ``Y``, transposed to
    batch-first, at every step); the classifier's label is the
    ``ArgMax`` of its logits, looked up in a constant of ``classes_``
    (``Gather``), its probabilities their ``Softmax``.

    Examples
    --------
    >>> import numpy as np
    >>> from sksgr import SRNClassifier
    >>> from sksgr.export import to_onnx
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(20, 5, 2)).astype(np.float32)
    >>> y = np.where(X[:, 1, 0] > 0, "up", "down")
    >>> clf = SRNClassifier(n_hidden=4, readout=("last", "mean"), max_iter=2, tol=None,
    ...                     random_state=0).fit(X, y)
    >>> model = to_onnx(clf)
    >>> model.graph.input[0].name, model.graph.input[1].name
    ('X', 'sequence_lens')
    >>> [output.name for output in model.graph.output]
    ['label', 'probabilities']

    With onnxruntime (not run here), on a batch padded with zeros:

    >>> import onnxruntime as ort                                # doctest: +SKIP
    >>> session = ort.InferenceSession(model.SerializeToString(),
    ...                                providers=["CPUExecutionProvider"])  # doctest: +SKIP
    >>> lengths = np.array([5, 3], dtype=np.int32)
    >>> batch = X[:2].copy(); batch[1, 3:] = 0.0
    >>> label, proba = session.run(None, {"X": batch, "sequence_lens": lengths})  # doctest: +SKIP
    """
    onnx = _import_onnx()
    opset = _check_opset(onnx, opset)
    scalers, network_estimator = _split(estimator)
    net, coef = fitted_network(network_estimator)
    W_in, W_rec, b, W_out, b_out = (np.asarray(w, dtype=np.float32) for w in net.unpack(coef))

    graph = _GraphBuilder(onnx, opset)
    x = graph.input(INPUT, onnx.TensorProto.FLOAT, ["batch", "time", net.n_features])
    lengths = graph.input(LENGTHS, onnx.TensorProto.INT32, ["batch"])
    for i, scaler in enumerate(scalers):
        x = _scaler_nodes(graph, scaler, x, f"scaler{i}")
    states, last = _recurrence_nodes(graph, x, lengths, W_in, W_rec, b)
    if net.per_step:  # every step's state, batch-first
        features = graph.node("Transpose", [states], name=FEATURES, perm=[1, 0, 2])
    else:
        features = _readout_nodes(graph, net.readout, states, last, lengths)
    outputs = _output_layer_nodes(graph, features, W_out, b_out)
    axes = ["batch", "time"] if net.per_step else ["batch"]
    if isinstance(network_estimator, SRNClassifier):
        _classifier_outputs(graph, outputs, network_estimator.classes_, axes)
    else:
        _regressor_outputs(graph, outputs, net.n_outputs, axes)
    name = type(estimator).__name__
    if scalers:
        name = "_".join([*(type(s).__name__ for s in scalers), type(network_estimator).__name__])
    what = "outputs at every step" if net.per_step else f"readout {'+'.join(net.readout)}"
    return graph.model(name, doc=f"{name} ({what}) exported by sksgr")


# -- what is exported ----------------------------------------------------------

def _import_onnx():
    try:
        import onnx
        import onnx.checker
        import onnx.helper
        import onnx.numpy_helper
    except ImportError as exc:
        raise ImportError(
            "sksgr.export.to_onnx needs the onnx package (and onnxruntime to run the "
            'model): pip install "sksgr[onnx]"'
        ) from exc
    return onnx


def _check_opset(onnx, opset):
    newest = onnx.defs.onnx_opset_version()
    if opset is None:
        return min(DEFAULT_OPSET, newest)
    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)) or not (
            MIN_OPSET <= opset <= newest):
        raise ValueError(
            f"opset must be an int from {MIN_OPSET} to {newest} (the newest opset of the "
            f"installed onnx {onnx.__version__}), got {opset!r}."
        )
    return int(opset)


def _split(estimator):
    """``(scalers, network_estimator)``: the supported forms, a clear TypeError otherwise."""
    supported = (SRNClassifier, SRNRegressor)
    if isinstance(estimator, supported):
        return [], estimator
    if isinstance(estimator, Pipeline):
        *front, (_, last) = estimator.steps
        scalers = [step for _, step in front if step not in (None, "passthrough")]
        if isinstance(last, supported) and all(isinstance(s, SequenceScaler) for s in scalers):
            for scaler in scalers:
                check_is_fitted(scaler, "n_steps_seen_")
            return scalers, last
        steps = [type(step).__name__ if not isinstance(step, str) else step
                 for _, step in estimator.steps]
        raise TypeError(
            "to_onnx supports a Pipeline of SequenceScaler steps followed by an "
            f"SRNClassifier or SRNRegressor, got a Pipeline of {steps}."
        )
    raise TypeError(
        "to_onnx supports a fitted SRNClassifier or SRNRegressor, or a Pipeline of "
        f"SequenceScaler steps followed by one, got {type(estimator).__name__}."
    )


# -- the stages of the graph ----------------------------------------------------

def _scaler_nodes(graph, scaler, x, name):
    """``(x - mean_) / scale_`` per feature, as :class:`SequenceScaler` transforms."""
    if scaler.with_mean:
        x = graph.node("Sub", [x, graph.const(f"{name}_mean", scaler.mean_, np.float32)])
    if scaler.with_std:
        x = graph.node("Div", [x, graph.const(f"{name}_scale", scaler.scale_, np.float32)])
    return x


def _recurrence_nodes(graph, x, lengths, W_in, W_rec, b):
    """ONNX's RNN on batch-first ``x``: states ``Y`` (time, batch, H) and the last ``(batch, H)``.

    sksgr multiplies row vectors on the left (``u @ W_in``); the operator
    computes ``W u`` with ``W`` (hidden, input), hence the transposes. The
    operator's two biases add up: the hidden bias goes in ``Wb``, zeros in
    ``Rb``. ``Y`` is time-major and zero after each sequence's end.
    """
    H = W_rec.shape[0]
    W = graph.const("W", W_in.T[None])
    R = graph.const("R", W_rec.T[None])
    B = graph.const("B", np.concatenate([b, np.zeros(H, dtype=np.float32)])[None])
    time_major = graph.node("Transpose", [x], perm=[1, 0, 2])
    Y, Y_h = graph.node("RNN", [time_major, W, R, B, lengths], n_outputs=2, hidden_size=H,
                        activations=["Tanh"])
    states = graph.node("Squeeze", [Y, graph.const("axis1", [1], np.int64)])  # one direction
    last = graph.node("Squeeze", [Y_h, graph.const("axis0", [0], np.int64)])
    return states, last


def _step_mask(graph, states, lengths):
    """Boolean ``(time, batch, 1)``: step ``t`` is real for sequence ``b`` (``t < length``)."""
    T = graph.node("Gather", [graph.node("Shape", [states]), graph.const("zero", 0, np.int64)])
    steps = graph.node("Range", [graph.const("zero", 0, np.int64), T,
                                 graph.const("one", 1, np.int64)])
    lengths = graph.node("Cast", [lengths], to=graph.onnx.TensorProto.INT64)
    real = graph.node("Less", [graph.node("Unsqueeze", [steps, graph.const("axis1", [1], np.int64)]),
                               graph.node("Unsqueeze", [lengths,
                                                        graph.const("axis0", [0], np.int64)])])
    return graph.node("Unsqueeze", [real, graph.const("axis2", [2], np.int64)])


def _readout_nodes(graph, readout, states, last, lengths):
    """The readout features ``(batch, len(readout) * H)``: the pools in ``readout``'s order."""
    mask = None
    if {"mean", "max"} & set(readout):
        mask = _step_mask(graph, states, lengths)
    time_axis = graph.const("axis0", [0], np.int64)
    pools = []
    for pool in readout:
        if pool == "last":
            pools.append(last)
        elif pool == "mean":
            real = graph.node("Where", [mask, states, graph.const("zero_f", 0.0, np.float32)])
            total = graph.node("ReduceSum", [real, time_axis], keepdims=0)
            count = graph.node("Cast", [graph.node("Unsqueeze", [lengths,
                                                                 graph.const("axis1", [1],
                                                                             np.int64)])],
                               to=graph.onnx.TensorProto.FLOAT)
            pools.append(graph.node("Div", [total, count]))
        elif pool == "max":
            real = graph.node("Where", [mask, states,
                                        graph.const("minus_inf", -np.inf, np.float32)])
            if graph.opset >= 18:
                pools.append(graph.node("ReduceMax", [real, time_axis], keepdims=0))
            else:  # axes an attribute before opset 18
                pools.append(graph.node("ReduceMax", [real], axes=[0], keepdims=0))
        else:  # pragma: no cover - check_readout admits no other pool
            raise ValueError(f"Unknown pool {pool!r}.")
    return graph.node("Concat", pools, name=FEATURES, axis=1)


def _output_layer_nodes(graph, features, W_out, b_out):
    """``features @ W_out + b_out``: the network's outputs (the classifier's logits)."""
    product = graph.node("MatMul", [features, graph.const("W_out", W_out)])
    return graph.node("Add", [product, graph.const("b_out", b_out)], name=OUTPUTS)


def _classifier_outputs(graph, logits, classes, axes):
    """Labels ``axes`` and probabilities ``axes + [n_classes]`` from the logits;
    ``axes``: ``["batch"]``, or ``["batch", "time"]`` per step."""
    onnx = graph.onnx
    index = graph.node("ArgMax", [logits], axis=len(axes), keepdims=0)
    labels = _class_constant(classes)
    graph.node("Gather", [graph.const("classes", labels), index], name=LABEL, axis=0)
    graph.node("Softmax", [logits], name=PROBABILITIES, axis=len(axes))
    graph.output(LABEL, onnx.helper.np_dtype_to_tensor_dtype(labels.dtype)
                 if labels.dtype != object else onnx.TensorProto.STRING, axes)
    graph.output(PROBABILITIES, onnx.TensorProto.FLOAT, [*axes, len(classes)])


def _class_constant(classes):
    """``classes_`` as an array ONNX can hold: strings as objects, numbers in their dtype."""
    classes = np.asarray(classes)
    if classes.dtype == object:  # e.g. labels given as a list of Python objects
        classes = np.asarray(classes.tolist())
    if classes.dtype.kind == "U":
        return np.asarray([str(c) for c in classes], dtype=object)
    if classes.dtype.kind not in "biuf":
        raise TypeError(f"Class labels of dtype {classes.dtype} cannot be exported to ONNX.")
    return classes


def _regressor_outputs(graph, outputs, n_outputs, axes):
    graph.node("Identity", [outputs], name=VARIABLE)
    graph.output(VARIABLE, graph.onnx.TensorProto.FLOAT, [*axes, n_outputs])


class _GraphBuilder:
    """Nodes, constants, inputs and outputs of one graph, with unique tensor names."""

    def __init__(self, onnx, opset):
        self.onnx, self.opset = onnx, opset
        self.nodes, self.initializers, self.inputs, self.outputs = [], [], [], []
        self._constants = {}  # name -> (dtype, values): a constant is stored once
        self._count = 0

    def input(self, name, elem_type, shape):
        self.inputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, shape))
        return name

    def output(self, name, elem_type, shape):
        self.outputs.append(self.onnx.helper.make_tensor_value_info(name, elem_type, shape))

    def const(self, name, value, dtype=None):
        """The name of a constant tensor (an initializer)."""
        value = np.asarray(value, dtype=dtype)
        if value.dtype.kind == "f" and dtype is None:
            value = value.astype(np.float32)
        known = self._constants.get(name)
        if known is not None:
            if known.dtype != value.dtype or not np.array_equal(known, value):
                raise AssertionError(f"Two constants named {name!r}.")  # pragma: no cover
            return name
        self._constants[name] = value
        self.initializers.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value),
                                                                   name))
        return name

    def node(self, op_type, inputs, *, name=None, n_outputs=1, **attributes):
        """Add a node; return its output's name (a list of ``n_outputs`` names)."""
        self._count += 1
        stem = name or f"{op_type.lower()}{self._count}"
        outputs = [stem] if n_outputs == 1 else [f"{stem}_{i}" for i in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, inputs, outputs,
                                                     name=f"{op_type}{self._count}",
                                                     **attributes))
        return outputs[0] if n_outputs == 1 else outputs

    def model(self, name, doc):
        from ._version import __version__

        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs,
                                  self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="sksgr",
                                  producer_version=__version__, doc_string=doc)
        # the oldest IR version for the opset, so that older runtimes load the model
        model.ir_version = helper.find_min_ir_version_for(opsets)
        self.onnx.checker.check_model(model)
        return model
