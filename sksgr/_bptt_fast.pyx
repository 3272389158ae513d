# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Forward pass, backpropagation through time and SGD for simple recurrent networks.

Conventions (shared with ``sksgr._numpy_reference``, which the tests check
these kernels against):

- data ``X`` is ``(n_samples, n_timesteps, n_features)``, zero-filled after
  each sequence's ``lengths[i]`` steps; the output is read at step
  ``lengths[i] - 1``;
- all parameters live in one flat vector ``coef`` laid out as
  ``[W_in (F, H), W_rec (H, H), b (H), W_out (H, O), b_out (O)]``, row-major,
  with ``a(t) = u(t) @ W_in + z(t-1) @ W_rec + b``, ``z = tanh(a)``,
  ``z(-1) = 0``;
- inside a minibatch everything is time-major: ``U[t, b, :]`` is the input of
  the b-th sequence at step t, ``Z[t + 1, b, :]`` its state (``Z[0] = 0``),
  ``D[t, b, :] = dE/da(t)``. The input projection and the weight gradients
  are single GEMMs over all steps; only the recurrence is per step;
- the loss is the mean over the minibatch of the per-sequence loss,
  softmax cross-entropy (``head == HEAD_SOFTMAX``, ``Y`` one-hot) or
  ``0.5 * ||y - y_hat||^2`` (``head == HEAD_IDENTITY``), plus
  ``0.5 * alpha * ||W||^2`` over the three weight matrices (not the biases).

Python allocates every array; the kernels fill them without the GIL.
"""
from libc.math cimport exp, log, isfinite, sqrt
from libc.string cimport memcpy, memset
from cython cimport floating

from ._blas cimport gemm, dot
from ._fast_tanh cimport tanh_inplace

HEAD_SOFTMAX = 0
HEAD_IDENTITY = 1


cdef inline Py_ssize_t _n_params(Py_ssize_t F, Py_ssize_t H, Py_ssize_t O) noexcept nogil:
    return F * H + H * H + H + H * O + O


def n_params(Py_ssize_t n_features, Py_ssize_t n_hidden, Py_ssize_t n_outputs):
    """Length of the flat parameter vector."""
    return _n_params(n_features, n_hidden, n_outputs)


def workspace_size(Py_ssize_t batch_size, Py_ssize_t n_timesteps, Py_ssize_t n_features,
                   Py_ssize_t n_hidden, Py_ssize_t n_outputs):
    """Length of the scratch vector the kernels need for these sizes."""
    cdef Py_ssize_t B = batch_size, T = n_timesteps, F = n_features
    cdef Py_ssize_t H = n_hidden, O = n_outputs
    return (_n_params(F, H, O) + T * B * F + (T + 1) * B * H + T * B * H
            + B * H + B * O + B * H)


cdef struct Layout:
    # offsets into the flat parameter vector
    Py_ssize_t w_in, w_rec, b, w_out, b_out, n_params
    # offsets into the workspace
    Py_ssize_t grad, U, Z, D, zlast, err, dz


cdef inline Layout _layout(Py_ssize_t B, Py_ssize_t T, Py_ssize_t F,
                           Py_ssize_t H, Py_ssize_t O) noexcept nogil:
    cdef Layout L
    L.w_in = 0
    L.w_rec = F * H
    L.b = L.w_rec + H * H
    L.w_out = L.b + H
    L.b_out = L.w_out + H * O
    L.n_params = L.b_out + O
    L.grad = 0
    L.U = L.n_params
    L.Z = L.U + T * B * F
    L.D = L.Z + (T + 1) * B * H
    L.zlast = L.D + T * B * H
    L.err = L.zlast + B * H
    L.dz = L.err + B * O
    return L


cdef void _forward(const floating *X, Py_ssize_t T_all, Py_ssize_t F,
                   const int *lengths, const Py_ssize_t *idx, Py_ssize_t B,
                   Py_ssize_t Tm, const floating *coef, Py_ssize_t H, Py_ssize_t O,
                   Layout L, floating *work, floating *out) noexcept nogil:
    """Forward pass of one minibatch: fills U, Z, zlast and the outputs ``out`` (B, O)."""
    cdef floating *U = work + L.U
    cdef floating *Z = work + L.Z
    cdef floating *zlast = work + L.zlast
    cdef const floating *bias = coef + L.b
    cdef floating *zt
    cdef Py_ssize_t b, t, j
    cdef int n

    for b in range(B):
        for t in range(Tm):
            memcpy(U + (t * B + b) * F, X + (idx[b] * T_all + t) * F, F * sizeof(floating))
    memset(Z, 0, B * H * sizeof(floating))
    for t in range(Tm):
        zt = Z + (t + 1) * B * H
        for b in range(B):
            memcpy(zt + b * H, bias, H * sizeof(floating))
    # input projection of all steps at once: Z[1:] += U @ W_in
    gemm(False, False, <int> (Tm * B), <int> H, <int> F, <floating> 1.0, U, <int> F,
         coef + L.w_in, <int> H, <floating> 1.0, Z + B * H, <int> H)
    for t in range(Tm):
        zt = Z + (t + 1) * B * H
        if t > 0:
            gemm(False, False, <int> B, <int> H, <int> H, <floating> 1.0, Z + t * B * H,
                 <int> H, coef + L.w_rec, <int> H, <floating> 1.0, zt, <int> H)
        tanh_inplace(zt, B * H)
    for b in range(B):
        n = lengths[idx[b]]
        memcpy(zlast + b * H, Z + (n * B + b) * H, H * sizeof(floating))
    for b in range(B):
        memcpy(out + b * O, coef + L.b_out, O * sizeof(floating))
    gemm(False, False, <int> B, <int> O, <int> H, <floating> 1.0, zlast, <int> H,
         coef + L.w_out, <int> O, <floating> 1.0, out, <int> O)


cdef double _output_error(floating *out, const floating *Y, const Py_ssize_t *idx,
                          Py_ssize_t B, Py_ssize_t O, int head) noexcept nogil:
    """Mean minibatch loss; replaces ``out`` by dloss/doutput (already / B)."""
    cdef Py_ssize_t b, k
    cdef double loss = 0.0, m, s, lse
    cdef floating *o
    cdef const floating *y
    for b in range(B):
        o = out + b * O
        y = Y + idx[b] * O
        if head == 0:
            m = o[0]
            for k in range(1, O):
                if o[k] > m:
                    m = o[k]
            s = 0.0
            for k in range(O):
                s += exp(o[k] - m)
            lse = m + log(s)
            for k in range(O):
                loss -= y[k] * (o[k] - lse)
                o[k] = <floating> ((exp(o[k] - lse) - y[k]) / B)
        else:
            for k in range(O):
                m = o[k] - y[k]
                loss += 0.5 * m * m
                o[k] = <floating> (m / B)
    return loss / B


cdef Py_ssize_t _backward(const int *lengths, const Py_ssize_t *idx, Py_ssize_t B,
                          Py_ssize_t Tm, Py_ssize_t F, const floating *coef,
                          Py_ssize_t H, Py_ssize_t O, Py_ssize_t depth, Layout L,
                          floating *work) noexcept nogil:
    """BPTT of one minibatch after ``_forward`` and ``_output_error``.

    Fills the deltas D and the gradient (workspace ``grad``) of the data loss.
    ``depth`` steps before each sequence's end receive error. Returns the
    first step ``t_min`` with any nonzero delta.
    """
    cdef floating *U = work + L.U
    cdef floating *Z = work + L.Z
    cdef floating *D = work + L.D
    cdef floating *zlast = work + L.zlast
    cdef floating *err = work + L.err
    cdef floating *dz = work + L.dz
    cdef floating *grad = work + L.grad
    cdef floating *row
    cdef const floating *zrow
    cdef const floating *inj
    cdef Py_ssize_t b, t, j, t_min = Tm, n, first

    # output layer
    gemm(True, False, <int> H, <int> O, <int> B, <floating> 1.0, zlast, <int> H,
         err, <int> O, <floating> 0.0, grad + L.w_out, <int> O)
    memset(grad + L.b_out, 0, O * sizeof(floating))
    for b in range(B):
        for j in range(O):
            grad[L.b_out + j] += err[b * O + j]
    gemm(False, True, <int> B, <int> H, <int> O, <floating> 1.0, err, <int> O,
         coef + L.w_out, <int> O, <floating> 0.0, dz, <int> H)

    for b in range(B):
        first = lengths[idx[b]] - depth
        if first < 0:
            first = 0
        if first < t_min:
            t_min = first
    # deltas, last step first: D[t] = (D[t+1] @ W_rec^T + injection) * (1 - z^2)
    for t in range(Tm - 1, t_min - 1, -1):
        row = D + t * B * H
        if t == Tm - 1:
            memset(row, 0, B * H * sizeof(floating))
        else:
            gemm(False, True, <int> B, <int> H, <int> H, <floating> 1.0, D + (t + 1) * B * H,
                 <int> H, coef + L.w_rec, <int> H, <floating> 0.0, row, <int> H)
        for b in range(B):
            n = lengths[idx[b]]
            row = D + (t * B + b) * H
            if t < n - depth:
                memset(row, 0, H * sizeof(floating))
                continue
            zrow = Z + ((t + 1) * B + b) * H
            if t == n - 1:
                inj = dz + b * H
                for j in range(H):
                    row[j] = (row[j] + inj[j]) * (1 - zrow[j] * zrow[j])
            else:
                for j in range(H):
                    row[j] = row[j] * (1 - zrow[j] * zrow[j])

    # weight gradients: one GEMM each over all steps that received error
    n = (Tm - t_min) * B
    gemm(True, False, <int> H, <int> H, <int> n, <floating> 1.0, Z + t_min * B * H, <int> H,
         D + t_min * B * H, <int> H, <floating> 0.0, grad + L.w_rec, <int> H)
    gemm(True, False, <int> F, <int> H, <int> n, <floating> 1.0, U + t_min * B * F, <int> F,
         D + t_min * B * H, <int> H, <floating> 0.0, grad + L.w_in, <int> H)
    memset(grad + L.b, 0, H * sizeof(floating))
    for t in range(t_min * B, Tm * B):
        row = D + t * H
        for j in range(H):
            grad[L.b + j] += row[j]
    return t_min


cdef double _add_l2(const floating *coef, floating *grad, Layout L, double alpha) noexcept nogil:
    """grad += alpha * W over the weight matrices; returns 0.5 * alpha * ||W||^2."""
    cdef Py_ssize_t i
    cdef double ssq = 0.0
    if alpha == 0.0:
        return 0.0
    for i in range(L.w_in, L.b):          # W_in and W_rec are adjacent
        ssq += coef[i] * coef[i]
        grad[i] += <floating> alpha * coef[i]
    for i in range(L.w_out, L.b_out):
        ssq += coef[i] * coef[i]
        grad[i] += <floating> alpha * coef[i]
    return 0.5 * alpha * ssq


cdef Py_ssize_t _max_length(const int *lengths, const Py_ssize_t *idx, Py_ssize_t B) noexcept nogil:
    cdef Py_ssize_t b, Tm = 0
    for b in range(B):
        if lengths[idx[b]] > Tm:
            Tm = lengths[idx[b]]
    return Tm


cdef inline Py_ssize_t _depth_or_all(int bptt_depth, Py_ssize_t T) noexcept nogil:
    return T if bptt_depth <= 0 or bptt_depth > T else bptt_depth


def forward_backward(const floating[:, :, ::1] X,   # IN (n, T, F) zero after each end
                     const floating[:, ::1] Y,      # IN (n, O) one-hot or targets
                     const int[::1] lengths,        # IN (n,) steps per sequence, >= 1
                     const floating[::1] coef,      # IN flat parameters
                     floating[::1] grad,            # OUT flat gradient
                     int n_hidden, int head, int bptt_depth=0, double alpha=0.0,
                     bint return_states=False):
    """Loss over all n sequences as one minibatch, its gradient, and optionally the states.

    ``bptt_depth <= 0`` backpropagates through whole sequences. With
    ``return_states`` also returns ``Z`` (T + 1, n, H), the hidden states
    time-major with ``Z[0] = 0``, and ``D`` (T, n, H), the deltas dE/da(t).
    """
    cdef Py_ssize_t n = X.shape[0], T = X.shape[1], F = X.shape[2]
    cdef Py_ssize_t H = n_hidden, O = Y.shape[1]
    cdef Layout L = _layout(n, T, F, H, O)
    if coef.shape[0] != L.n_params or grad.shape[0] != L.n_params:
        raise ValueError("coef and grad must have n_params(F, H, O) entries")
    import numpy as np
    dtype = np.float32 if floating is float else np.float64
    work_arr = np.zeros(workspace_size(n, T, F, H, O), dtype=dtype)
    cdef floating[::1] work = work_arr
    cdef Py_ssize_t[::1] idx = np.arange(n, dtype=np.intp)
    cdef double loss
    with nogil:
        _forward(&X[0, 0, 0], T, F, &lengths[0], &idx[0], n, T, &coef[0], H, O, L,
                 &work[0], &work[L.err])
        loss = _output_error(&work[L.err], &Y[0, 0], &idx[0], n, O, head)
        _backward(&lengths[0], &idx[0], n, T, F, &coef[0], H, O,
                  _depth_or_all(bptt_depth, T), L, &work[0])
        loss += _add_l2(&coef[0], &work[0], L, alpha)
        memcpy(&grad[0], &work[0], L.n_params * sizeof(floating))
    if not return_states:
        return loss
    Z = work_arr[L.Z:L.D].reshape(T + 1, n, H).copy()
    D = work_arr[L.D:L.zlast].reshape(T, n, H).copy()
    return loss, Z, D


def predict_outputs(const floating[:, :, ::1] X,   # IN (n, T, F) zero after each end
                    const int[::1] lengths,        # IN (n,)
                    const floating[::1] coef,      # IN flat parameters
                    floating[:, ::1] out,          # OUT (n, O) outputs (logits for softmax)
                    floating[::1] work,            # scratch: workspace_size(block, T, F, H, O)
                    int n_hidden, int block):
    """Network outputs at each sequence's last step, ``block`` sequences at a time."""
    cdef Py_ssize_t n = X.shape[0], T = X.shape[1], F = X.shape[2]
    cdef Py_ssize_t H = n_hidden, O = out.shape[1]
    cdef Py_ssize_t start, B, Tm
    cdef Layout L
    import numpy as np
    cdef Py_ssize_t[::1] idx = np.arange(n, dtype=np.intp)
    if n == 0:
        return
    with nogil:
        start = 0
        while start < n:
            B = block if start + block <= n else n - start
            Tm = _max_length(&lengths[0], &idx[start], B)
            L = _layout(B, Tm, F, H, O)
            _forward(&X[0, 0, 0], T, F, &lengths[0], &idx[start], B, Tm, &coef[0], H, O,
                     L, &work[0], &out[start, 0])
            start += B


cdef inline bint _all_finite(const floating *x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating s = 0
    for i in range(n):
        s += x[i] * 0
    return s == 0


def train_minibatches(
        const floating[:, :, ::1] X,       # IN (n, T, F) zero after each end
        const floating[:, ::1] Y,          # IN (n, O) one-hot classes or targets
        const int[::1] lengths,            # IN (n,) steps per sequence, >= 1
        const Py_ssize_t[::1] order,       # IN sample indices of the minibatches in turn
        const Py_ssize_t[::1] batch_starts,  # IN (n_batches + 1,): batch k = order[s[k]:s[k+1]]
        floating[::1] coef,                # IN/OUT flat parameters
        floating[::1] velocity,            # IN/OUT momentum, same layout as coef
        floating[::1] work,                # scratch: workspace_size(max batch, T, F, H, O)
        double[::1] losses,                # OUT (n_batches,) loss of each minibatch
        int n_hidden, int head, int bptt_depth,
        double learning_rate, double momentum, bint nesterov, double alpha):
    """SGD with momentum over consecutive minibatches, without the GIL.

    Returns the number of minibatches applied. Fewer than ``n_batches`` means
    the next one had a non-finite loss or gradient (divergence): it was not
    applied, so ``coef`` is still the last finite state.
    """
    cdef Py_ssize_t n_batches = batch_starts.shape[0] - 1
    cdef Py_ssize_t T = X.shape[1], F = X.shape[2], H = n_hidden, O = Y.shape[1]
    cdef Py_ssize_t P = _n_params(F, H, O)
    cdef Py_ssize_t k, i, B, Tm
    cdef const Py_ssize_t *idx
    cdef floating *grad
    cdef floating *w = &coef[0]
    cdef floating *v = &velocity[0]
    cdef floating lr = <floating> learning_rate, mu = <floating> momentum
    cdef double loss
    cdef Py_ssize_t n_done = n_batches
    cdef Layout L
    if coef.shape[0] != P or velocity.shape[0] != P:
        raise ValueError("coef and velocity must have n_params(F, H, O) entries")
    if losses.shape[0] < n_batches:
        raise ValueError("losses is shorter than the number of minibatches")
    with nogil:
        for k in range(n_batches):
            B = batch_starts[k + 1] - batch_starts[k]
            idx = &order[batch_starts[k]]
            Tm = _max_length(&lengths[0], idx, B)
            L = _layout(B, Tm, F, H, O)
            grad = &work[0] + L.grad
            _forward(&X[0, 0, 0], T, F, &lengths[0], idx, B, Tm, w, H, O, L, &work[0],
                     &work[0] + L.err)
            loss = _output_error(&work[0] + L.err, &Y[0, 0], idx, B, O, head)
            _backward(&lengths[0], idx, B, Tm, F, w, H, O, _depth_or_all(bptt_depth, Tm),
                      L, &work[0])
            loss += _add_l2(w, grad, L, alpha)
            losses[k] = loss
            if not isfinite(loss) or not _all_finite(grad, P):
                n_done = k
                break
            for i in range(P):
                v[i] = mu * v[i] - lr * grad[i]
            if nesterov:
                for i in range(P):
                    w[i] += mu * v[i] - lr * grad[i]
            else:
                for i in range(P):
                    w[i] += v[i]
    return n_done


def tanh_inplace_array(floating[::1] x):
    """Apply the kernels' vectorised tanh to ``x`` in place (exposed for tests)."""
    if x.shape[0]:
        with nogil:
            tanh_inplace(&x[0], x.shape[0])
