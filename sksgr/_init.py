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


def init_coef(n_features, n_hidden, n_outputs, *, sigma, spectral_radius,
              recurrent_nonzeros, rng, dtype):
    """Draw initial parameters as a flat vector.

    Every weight is drawn from N(0, sigma^2) (paper section 4); biases start
    at zero. With ``recurrent_nonzeros=k``, only k randomly placed entries per
    row of the recurrent matrix are kept, and with ``spectral_radius=r`` the
    recurrent matrix is then rescaled to that spectral radius: together these
    are Pascanu et al.'s (2013) initialisation (k = 15, r = 0.95).
    """
    F, H, O = n_features, n_hidden, n_outputs
    W_in = rng.normal(0.0, sigma, size=(F, H))
    W_rec = rng.normal(0.0, sigma, size=(H, H))
    if recurrent_nonzeros is not None and recurrent_nonzeros < H:
        keep = np.zeros((H, H), dtype=bool)
        for row in keep:
            row[rng.choice(H, size=recurrent_nonzeros, replace=False)] = True
        W_rec[~keep] = 0.0
    if spectral_radius is not None:
        radius = np.max(np.abs(np.linalg.eigvals(W_rec)))
        if radius > 0:
            W_rec *= spectral_radius / radius
    W_out = rng.normal(0.0, sigma, size=(H, O))
    return pack([W_in, W_rec, np.zeros(H), W_out, np.zeros(O)], dtype)
