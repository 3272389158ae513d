"""Initial weights and the flat parameter layout shared with the kernels.

``PARAMETERS`` is the one definition of the flat parameter vector on the
Python side (estimators, training loop, NumPy reference, tests); the
kernels' ``Layout`` mirrors it in C, and ``_bptt_fast.parameter_layout``
exposes that mirror so that the tests hold the two together.
"""

import numpy as np

# In the order of the flat vector: (name in the kernels and the NumPy
# reference, fitted attribute, shape for (n_features F, n_hidden H,
# n_outputs O), whether the L2 penalty ``alpha`` applies). Row-major, with
# a(t) = u(t) @ W_in + z(t-1) @ W_rec + b and output z @ W_out + b_out.
# With a readout of R pools the output layer reads R H features: W_out is (R H, O).
PARAMETERS = (
    ("W_in", "input_weights_", lambda F, H, O, R: (F, H), True),
    ("W_rec", "recurrent_weights_", lambda F, H, O, R: (H, H), True),
    ("b", "hidden_bias_", lambda F, H, O, R: (H,), False),
    ("W_out", "output_weights_", lambda F, H, O, R: (R * H, O), True),
    ("b_out", "output_bias_", lambda F, H, O, R: (O,), False),
)
PARAMETER_NAMES = tuple(p[0] for p in PARAMETERS)
WEIGHT_ATTRIBUTES = tuple(p[1] for p in PARAMETERS)


def weight_shapes(n_features, n_hidden, n_outputs, n_pools=1):
    """Shapes of the five parameter arrays, in ``PARAMETERS`` order."""
    return [shape(n_features, n_hidden, n_outputs, n_pools) for _, _, shape, _ in PARAMETERS]


def parameter_slices(n_features, n_hidden, n_outputs, n_pools=1):
    """``{name: slice}`` of each parameter array in the flat vector."""
    out, start = {}, 0
    for name, shape in zip(PARAMETER_NAMES,
                           weight_shapes(n_features, n_hidden, n_outputs, n_pools)):
        size = int(np.prod(shape))
        out[name] = slice(start, start + size)
        start += size
    return out


def n_params(n_features, n_hidden, n_outputs, n_pools=1):
    """Length of the flat parameter vector."""
    return parameter_slices(n_features, n_hidden, n_outputs, n_pools)["b_out"].stop


def penalized(n_features, n_hidden, n_outputs, n_pools=1):
    """Boolean mask of the entries of the flat vector under the L2 penalty (the matrices)."""
    slices = parameter_slices(n_features, n_hidden, n_outputs, n_pools)
    mask = np.zeros(n_params(n_features, n_hidden, n_outputs, n_pools), dtype=bool)
    for name, _, _, l2 in PARAMETERS:
        mask[slices[name]] = l2
    return mask


def unpack(coef, n_features, n_hidden, n_outputs, n_pools=1):
    """Views of the flat vector ``coef`` as the five parameter arrays."""
    slices = parameter_slices(n_features, n_hidden, n_outputs, n_pools)
    return [coef[slices[name]].reshape(shape) for name, shape in
            zip(PARAMETER_NAMES, weight_shapes(n_features, n_hidden, n_outputs, n_pools))]


def pack(arrays, dtype=None):
    """The flat, C-contiguous parameter vector from the five arrays (``PARAMETERS`` order)."""
    return np.concatenate([np.asarray(a, dtype=dtype).ravel() for a in arrays])


def pack_dict(params, dtype=None):
    """The flat vector from a dict keyed by ``PARAMETER_NAMES`` (the NumPy reference's form)."""
    return pack([params[name] for name in PARAMETER_NAMES], dtype)


# The initialisations ``init_coef`` draws (the estimators' ``init`` parameter),
# with the recurrent sparsity and spectral radius each implies by default.
INIT_DEFAULTS = {
    "normal": {"recurrent_nonzeros": None, "spectral_radius": None},
    "pascanu": {"recurrent_nonzeros": 15, "spectral_radius": 0.95},
    "xavier_uniform": {"recurrent_nonzeros": None, "spectral_radius": None},
    "reservoir": {"recurrent_nonzeros": None, "spectral_radius": 0.95},
}
# The reservoir's input and bias scales (echo-state practice for standardised inputs).
RESERVOIR_INPUT_SCALING = 0.5
RESERVOIR_BIAS_SCALING = 0.2


def draw_reservoir(n_features, n_hidden, *, spectral_radius, input_scaling, bias_scaling,
                   recurrent_density, rng):
    """``(W_in, W_rec, b)`` of an echo-state reservoir, in float64.

    Input weights and biases from U[-input_scaling, input_scaling] and
    U[-bias_scaling, bias_scaling]; the recurrent matrix from N(0, 1) with
    ``max(1, round(recurrent_density * n_hidden))`` randomly placed entries
    kept per row, rescaled to ``spectral_radius``.
    """
    F, H = n_features, n_hidden
    W_in = rng.uniform(-input_scaling, input_scaling, size=(F, H))
    W_rec = rng.standard_normal(size=(H, H))
    k = max(1, int(round(recurrent_density * H)))
    if k < H:
        # k randomly placed entries per row: the columns of the k smallest of H uniforms
        keep = np.zeros((H, H), dtype=bool)
        np.put_along_axis(keep, np.argsort(rng.uniform(size=(H, H)), axis=1)[:, :k], True,
                          axis=1)
        W_rec[~keep] = 0.0
    radius = np.max(np.abs(np.linalg.eigvals(W_rec)))
    if radius > 0:  # every row has a nonzero, so the radius is almost surely positive
        W_rec *= spectral_radius / radius
    b = rng.uniform(-bias_scaling, bias_scaling, size=H)
    return W_in, W_rec, b


def init_coef(n_features, n_hidden, n_outputs, *, n_pools=1, init="normal", sigma,
              spectral_radius=None, recurrent_nonzeros=None, rng, dtype):
    """Draw initial parameters as a flat vector.

    ``init`` chooses how the three weight matrices are drawn; biases always
    start at zero:

    - ``"normal"``: every weight from N(0, sigma^2) (the paper's section 4).
    - ``"pascanu"``: as ``"normal"``, then only 15 randomly placed entries per
      row of the recurrent matrix are kept and it is rescaled to spectral
      radius 0.95: Pascanu et al.'s (2013) initialisation, which the paper's
      "sigma = 0.01 as in [10]" refers to.
    - ``"xavier_uniform"``: each matrix from U[-a, a] with
      ``a = sqrt(6 / (fan_in + fan_out))`` (Glorot & Bengio 2010); ``sigma`` is
      not used.
    - ``"reservoir"``: the recurrent part of an echo-state network
      (:func:`draw_reservoir`: inputs U[-0.5, 0.5], biases U[-0.2, 0.2], a
      Gaussian recurrent matrix at spectral radius 0.95), the output layer
      as ``"xavier_uniform"``; ``sigma`` is not used.

    ``recurrent_nonzeros=k`` (keep k entries per recurrent row) and
    ``spectral_radius=r`` (rescale the recurrent matrix after the draw)
    override the init's own choice (``INIT_DEFAULTS``) when not None.
    ``n_pools``: the readout's pools; the output layer reads ``n_pools *
    n_hidden`` features.
    """
    F, H, O = n_features, n_hidden, n_outputs
    defaults = INIT_DEFAULTS[init]
    if recurrent_nonzeros is None:
        recurrent_nonzeros = defaults["recurrent_nonzeros"]
    if spectral_radius is None:
        spectral_radius = defaults["spectral_radius"]

    if init == "reservoir":
        density = 1.0 if recurrent_nonzeros is None else min(1.0, recurrent_nonzeros / H)
        W_in, W_rec, b = draw_reservoir(
            F, H, spectral_radius=spectral_radius, input_scaling=RESERVOIR_INPUT_SCALING,
            bias_scaling=RESERVOIR_BIAS_SCALING, recurrent_density=density, rng=rng)
        a = np.sqrt(6.0 / (n_pools * H + O))
        W_out = rng.uniform(-a, a, size=(n_pools * H, O))
        return pack([W_in, W_rec, b, W_out, np.zeros(O)], dtype)

    if init == "xavier_uniform":
        def draw(shape):
            a = np.sqrt(6.0 / (shape[0] + shape[1]))
            return rng.uniform(-a, a, size=shape)
    else:
        def draw(shape):
            return rng.normal(0.0, sigma, size=shape)

    W_in = draw((F, H))
    W_rec = draw((H, H))
    if recurrent_nonzeros is not None and recurrent_nonzeros < H:
        keep = np.zeros((H, H), dtype=bool)
        for row in keep:
            row[rng.choice(H, size=recurrent_nonzeros, replace=False)] = True
        W_rec[~keep] = 0.0
    if spectral_radius is not None:
        radius = np.max(np.abs(np.linalg.eigvals(W_rec)))
        if radius > 0:
            W_rec *= spectral_radius / radius
    W_out = draw((n_pools * H, O))
    return pack([W_in, W_rec, np.zeros(H), W_out, np.zeros(O)], dtype)
