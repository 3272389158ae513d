"""Initial weights and the flat parameter layout shared with the kernels."""

import numpy as np

# Names of the fitted weight attributes, in the order of the flat vector the
# kernels use: [W_in (F, H), W_rec (H, H), b (H,), W_out (H, O), b_out (O,)].
WEIGHT_ATTRIBUTES = (
    "input_weights_",
    "recurrent_weights_",
    "hidden_bias_",
    "output_weights_",
    "output_bias_",
)


def weight_shapes(n_features, n_hidden, n_outputs):
    """Shapes of the five parameter arrays, in ``WEIGHT_ATTRIBUTES`` order."""
    F, H, O = n_features, n_hidden, n_outputs
    return [(F, H), (H, H), (H,), (H, O), (O,)]


def unpack(coef, n_features, n_hidden, n_outputs):
    """Views of the flat vector ``coef`` as the five parameter arrays."""
    out, start = [], 0
    for shape in weight_shapes(n_features, n_hidden, n_outputs):
        size = int(np.prod(shape))
        out.append(coef[start : start + size].reshape(shape))
        start += size
    return out


def pack(arrays, dtype):
    """The flat, C-contiguous parameter vector from the five arrays."""
    return np.concatenate([np.asarray(a, dtype=dtype).ravel() for a in arrays])


# The initialisations ``init_coef`` draws (the estimators' ``init`` parameter),
# with the recurrent sparsity and spectral radius each implies by default.
INIT_DEFAULTS = {
    "normal": {"recurrent_nonzeros": None, "spectral_radius": None},
    "pascanu": {"recurrent_nonzeros": 15, "spectral_radius": 0.95},
    "xavier_uniform": {"recurrent_nonzeros": None, "spectral_radius": None},
}


def init_coef(n_features, n_hidden, n_outputs, *, init="normal", sigma, spectral_radius=None,
              recurrent_nonzeros=None, rng, dtype):
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

    ``recurrent_nonzeros=k`` (keep k entries per recurrent row) and
    ``spectral_radius=r`` (rescale the recurrent matrix after the draw)
    override the init's own choice (``INIT_DEFAULTS``) when not None.
    """
    F, H, O = n_features, n_hidden, n_outputs
    defaults = INIT_DEFAULTS[init]
    if recurrent_nonzeros is None:
        recurrent_nonzeros = defaults["recurrent_nonzeros"]
    if spectral_radius is None:
        spectral_radius = defaults["spectral_radius"]

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
    W_out = draw((H, O))
    return pack([W_in, W_rec, np.zeros(H), W_out, np.zeros(O)], dtype)
