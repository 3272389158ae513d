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
  ``0.5 * alpha * ||W||^2`` over the three weight matrices (not the biases);
  with per-sequence weights ``w`` the weighted mean ``sum_b w_b l_b / sum_b w_b``
  (``sample_weight=None`` runs the unweighted code unchanged).

Python allocates every array; the kernels fill them without the GIL.
"""
from libc.math cimport exp, log, log10, isfinite, sqrt, fabs, pow, INFINITY, NAN
from libc.string cimport memcpy, memset
from cython cimport floating

from ._blas cimport gemm, dot
from ._fast_tanh cimport tanh_inplace

# The enumerations Head and Selection are declared once, in _bptt_fast.pxd,
# and used by name here; their members are module attributes for Python too.
globals().update(Head.__members__)
globals().update(Selection.__members__)
globals().update(Solver.__members__)
globals().update(Pool.__members__)
globals().update(DSMode.__members__)
globals().update(Steer.__members__)

# The readout of the paper: the last state alone.
READOUT_LAST = POOL_LAST
cdef enum:
    MAX_POOLS = 3
    # an output at every step, read from that step's state (sequence to sequence)
    STEPS_CODE = 64  # 4 ** MAX_POOLS: above every pool code
READOUT_STEPS = STEPS_CODE


cdef struct Readout:
    int n             # pools, 1 ... MAX_POOLS
    int pool[3]       # POOL_LAST / POOL_MEAN / POOL_MAX, in the order of the features
    bint has_max      # whether any pool is POOL_MAX (the arg-max steps are kept)
    bint per_step     # READOUT_STEPS: outputs and targets at every real step


cdef Readout _readout(int code) noexcept nogil:
    """The pools of a readout code ``p0 + 4 p1 + 16 p2`` (checked by ``_check_readout``).

    ``READOUT_STEPS`` reads each step's own state (one pool of H features per
    step, ``per_step``).
    """
    cdef Readout r
    r.n = 0
    r.pool[0] = r.pool[1] = r.pool[2] = 0
    r.has_max = False
    r.per_step = code == STEPS_CODE
    if r.per_step:
        r.n = 1
        r.pool[0] = POOL_LAST
        return r
    while code > 0 and r.n < MAX_POOLS:
        r.pool[r.n] = code % 4
        r.has_max = r.has_max or code % 4 == POOL_MAX
        r.n += 1
        code //= 4
    return r


cdef int _check_readout(int code) except -1:
    cdef int c = code, k, seen = 0, n = 0
    if code == STEPS_CODE:
        return 1
    if code < 1 or code >= 4 ** MAX_POOLS:
        raise ValueError(f"readout code must be in [1, {4 ** MAX_POOLS - 1}], got {code}")
    while c > 0:
        k = c % 4
        if k == 0 or seen & (1 << k):
            raise ValueError(f"readout code {code}: each pool (1 last, 2 mean, 3 max) at most "
                             "once, with no gap")
        seen |= 1 << k
        n += 1
        c //= 4
    return n


def readout_pools(int code):
    """The number of pools of a readout code (validated); see ``Pool``."""
    return _check_readout(code)


cdef Py_ssize_t _n_outputs(str y_name, Py_ssize_t columns, Py_ssize_t T, int code) except -1:
    """Outputs per step of targets / outputs with ``columns`` columns.

    Many-to-one: one row of O values per sequence. ``READOUT_STEPS``: a row
    holds the T steps' values, step-major (the (n, T, O) array as (n, T O)).
    """
    if code != STEPS_CODE:
        return columns
    if T < 1 or columns % T:
        raise ValueError(f"{y_name} has {columns} columns, not a multiple of the {T} steps "
                         "(per-step values are passed as (n, T * n_outputs))")
    return columns // T


cdef inline Py_ssize_t _n_params(Py_ssize_t F, Py_ssize_t H, Py_ssize_t O,
                                 Py_ssize_t R=1) noexcept nogil:
    """Parameters of a network whose readout has R pools (W_out is (R H, O))."""
    return F * H + H * H + H + R * H * O + O


def n_params(Py_ssize_t n_features, Py_ssize_t n_hidden, Py_ssize_t n_outputs,
             int readout=READOUT_LAST):
    """Length of the flat parameter vector."""
    return _n_params(n_features, n_hidden, n_outputs, _check_readout(readout))


def workspace_size(Py_ssize_t batch_size, Py_ssize_t n_timesteps, Py_ssize_t n_features,
                   Py_ssize_t n_hidden, Py_ssize_t n_outputs, bint sgr=False,
                   int readout=READOUT_LAST):
    """Length of the scratch vector the kernels need for these sizes.

    ``sgr=True`` adds the buffers of the gradient regularization (dS).
    """
    _check_readout(readout)
    cdef Layout L = _layout(batch_size, n_timesteps, n_features, n_hidden, n_outputs,
                            _readout(readout))
    return L.end_sgr if sgr else L.end


# -- checks at the boundary: once per call, before any pointer is taken --------

cdef int _check_data(str x_name, Py_ssize_t n, Py_ssize_t T, Py_ssize_t F,
                     str y_name, Py_ssize_t n_y, const int[::1] lengths) except -1:
    """X is (n, T, F) with n, T, F >= 1; Y has n rows; lengths has n entries in [1, T]."""
    cdef Py_ssize_t i
    if n < 1 or T < 1 or F < 1:
        raise ValueError(f"{x_name} must have at least one sequence, step and feature, "
                         f"got shape ({n}, {T}, {F})")
    if y_name is not None and n_y != n:
        raise ValueError(f"{y_name} has {n_y} rows but {x_name} has {n} sequences")
    if lengths.shape[0] != n:
        raise ValueError(f"lengths has {lengths.shape[0]} entries but {x_name} has {n} sequences")
    for i in range(n):
        if lengths[i] < 1 or lengths[i] > T:
            raise ValueError(f"lengths[{i}] = {lengths[i]} is outside [1, {T}] "
                             f"({T} steps in {x_name})")
    return 0


cdef int _check_size(str name, Py_ssize_t size, Py_ssize_t expected, str what,
                     bint at_least=False) except -1:
    if size < expected or (size != expected and not at_least):
        raise ValueError(f"{name} has {size} entries but {what} needs "
                         f"{'at least ' if at_least else ''}{expected}")
    return 0


cdef int _check_enums(int head, int selection) except -1:
    if head != HEAD_SOFTMAX and head != HEAD_IDENTITY:
        raise ValueError(f"head must be HEAD_SOFTMAX ({<int> HEAD_SOFTMAX}) or HEAD_IDENTITY "
                         f"({<int> HEAD_IDENTITY}), got {head}")
    if selection != SELECT_MINIBATCH and selection != SELECT_EXAMPLE:
        raise ValueError(f"selection must be SELECT_MINIBATCH or SELECT_EXAMPLE, got {selection}")
    return 0


cdef int _check_weights(const floating[::1] sample_weight, Py_ssize_t n,
                        bint positive_sum) except -1:
    """None, or n finite non-negative per-sequence weights (with ``positive_sum``: not all 0)."""
    cdef Py_ssize_t i
    cdef double total = 0.0
    if sample_weight is None:
        return 0
    if sample_weight.shape[0] != n:
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} entries but X has "
                         f"{n} sequences")
    for i in range(n):
        if not (isfinite(sample_weight[i]) and sample_weight[i] >= 0):
            raise ValueError(f"sample_weight[{i}] = {sample_weight[i]} is not a finite "
                             "number >= 0")
        total += sample_weight[i]
    if positive_sum and not total > 0.0:
        raise ValueError("sample_weight sums to 0: the weighted mean loss is undefined")
    return 0


cdef int _check_network(Py_ssize_t P, Py_ssize_t F, int n_hidden, Py_ssize_t O,
                        int readout=POOL_LAST) except -1:
    cdef int R = _check_readout(readout)
    if n_hidden < 1 or O < 1:
        raise ValueError(f"n_hidden and the number of outputs must be >= 1, "
                         f"got {n_hidden} and {O}")
    _check_size("coef", P, _n_params(F, n_hidden, O, R),
                f"n_params(n_features={F}, n_hidden={n_hidden}, n_outputs={O}, "
                f"readout={readout})")
    return 0


def parameter_layout(Py_ssize_t n_features, Py_ssize_t n_hidden, Py_ssize_t n_outputs,
                     int readout=READOUT_LAST):
    """Offsets of the five parameter arrays in the flat vector, as the kernels use them.

    ``{"W_in": (start, stop), "W_rec": ..., "b": ..., "W_out": ..., "b_out": ...}``;
    the tests hold ``sksgr._init.parameter_slices`` (the one definition the
    Python side uses) to it.
    """
    _check_readout(readout)
    cdef Layout L = _layout(0, 0, n_features, n_hidden, n_outputs, _readout(readout))
    return {"W_in": (L.w_in, L.w_rec), "W_rec": (L.w_rec, L.b), "b": (L.b, L.w_out),
            "W_out": (L.w_out, L.b_out), "b_out": (L.b_out, L.n_params)}


cdef struct Layout:
    # the readout, and R H features per sequence (R = r.n pools)
    Readout r
    Py_ssize_t RH
    # offsets into the flat parameter vector
    Py_ssize_t w_in, w_rec, b, w_out, b_out, n_params
    # offsets into the workspace: training, then the extra buffers of dS.
    # feats: the readout features (B, R H); arg: arg-max steps (B, H), as numbers;
    # dz: dE/dfeats (B, R H). Per step (r.per_step): err (T, B, O) and dz (T, B, H),
    # time-major, the outputs' errors and their injections at every step
    Py_ssize_t grad, U, Z, D, feats, arg, err, dz, inj, end
    # dS; per step also Dl: the deltas of the last steps' errors alone (T, B, H),
    # el: those errors (B, O)
    Py_ssize_t dW, P, Ad, tmp, od, Dl, el, end_sgr
    # the targets of the errors dS measures: each sequence's last step of (n, T_all, O)
    bint y_at_last


cdef inline Layout _layout(Py_ssize_t B, Py_ssize_t T, Py_ssize_t F,
                           Py_ssize_t H, Py_ssize_t O, Readout r) noexcept nogil:
    cdef Layout L
    L.r = r
    L.RH = r.n * H
    L.w_in = 0
    L.w_rec = F * H
    L.b = L.w_rec + H * H
    L.w_out = L.b + H
    L.b_out = L.w_out + L.RH * O
    L.n_params = L.b_out + O
    L.grad = 0
    L.U = L.n_params
    L.Z = L.U + T * B * F
    L.D = L.Z + (T + 1) * B * H
    L.feats = L.D + T * B * H
    L.arg = L.feats + B * L.RH
    L.err = L.arg + (B * H if r.has_max else 0)
    L.dz = L.err + (T * B * O if r.per_step else B * O)
    L.inj = L.dz + (T * B * H if r.per_step else B * L.RH)  # (H,): one step's injected error
    L.end = L.inj + H
    L.dW = L.end
    L.P = L.dW + H * H          # (T + 1) slots: see _norm_change
    L.Ad = L.P + (T + 1) * B * H
    L.tmp = L.Ad + T * B * H    # (B, R H): see _norm_change
    L.od = L.tmp + B * L.RH
    L.Dl = L.od + B * O
    L.el = L.Dl + (T * B * H if r.per_step else 0)
    L.end_sgr = L.el + (B * O if r.per_step else 0)
    L.y_at_last = False
    return L


cdef void _readout_features(const floating *Z, const int *lengths, const Py_ssize_t *idx,
                            Py_ssize_t B, Py_ssize_t H, Layout L, floating *feats,
                            floating *arg) noexcept nogil:
    """The readout features ``feats`` (B, R H) of the states ``Z`` (time-major, Z[0] = 0).

    Pool p fills columns ``p H ... (p + 1) H``: the state at each sequence's
    own last step, or the mean or the unit-wise maximum over its real steps
    (padding excluded). For a max pool, ``arg`` (B, H) receives the step of
    each maximum (the first on ties), the step the error flows back to.
    """
    cdef Py_ssize_t b, t, j, p, n
    cdef floating *f
    cdef floating *m
    cdef const floating *z
    for b in range(B):
        n = lengths[idx[b]]
        for p in range(L.r.n):
            f = feats + b * L.RH + p * H
            memcpy(f, Z + ((n if L.r.pool[p] == POOL_LAST else 1) * B + b) * H,
                   H * sizeof(floating))
            if L.r.pool[p] == POOL_MEAN:
                for t in range(2, n + 1):
                    z = Z + (t * B + b) * H
                    for j in range(H):
                        f[j] += z[j]
                for j in range(H):
                    f[j] /= <floating> n
            elif L.r.pool[p] == POOL_MAX:
                m = arg + b * H
                for j in range(H):
                    m[j] = 0
                for t in range(2, n + 1):
                    z = Z + (t * B + b) * H
                    for j in range(H):
                        if z[j] > f[j]:
                            f[j] = z[j]
                            m[j] = <floating> (t - 1)


cdef const floating *_injection(const floating *src, Layout L, Py_ssize_t t, Py_ssize_t n,
                                const floating *arg, Py_ssize_t H,
                                floating *buf) noexcept nogil:
    """The error the readout injects at step ``t`` of a sequence of ``n`` steps, or NULL.

    ``src``: the sequence's error on its readout features (R H); ``arg``: its
    arg-max steps (H); ``buf``: H of scratch. The last-state pool injects at
    step n - 1, the mean pool ``src / n`` at every real step, the max pool
    each unit's error at that unit's arg-max step.
    """
    cdef Py_ssize_t p, j
    cdef const floating *e
    cdef bint found = False
    if t >= n:
        return NULL
    if L.r.n == 1 and L.r.pool[0] == POOL_LAST:  # the paper's readout: no copy
        return src if t == n - 1 else NULL
    for p in range(L.r.n):
        e = src + p * H
        if L.r.pool[p] == POOL_LAST and t != n - 1:
            continue
        if L.r.pool[p] == POOL_MAX:
            for j in range(H):
                if arg[j] == <floating> t:
                    if not found:
                        memset(buf, 0, H * sizeof(floating))
                        found = True
                    buf[j] += e[j]
            continue
        if not found:
            memset(buf, 0, H * sizeof(floating))
            found = True
        if L.r.pool[p] == POOL_LAST:
            for j in range(H):
                buf[j] += e[j]
        else:
            for j in range(H):
                buf[j] += e[j] / <floating> n
    return buf if found else NULL


cdef void _forward(const floating *X, Py_ssize_t T_all, Py_ssize_t F,
                   const int *lengths, const Py_ssize_t *idx, Py_ssize_t B,
                   Py_ssize_t Tm, const floating *coef, Py_ssize_t H, Py_ssize_t O,
                   Layout L, floating *work, floating *out) noexcept nogil:
    """Forward pass of one minibatch: fills U, Z, the readout features and ``out`` (B, O).

    ``out=NULL``: the features only (no output layer; ``coef`` may then hold
    only W_in, W_rec and b). Per step (``L.r.per_step``): ``out`` is (Tm, B, O),
    time-major, the output of every step (past a sequence's end too: the
    loss and the callers read only real steps), and no features are formed.
    """
    cdef floating *U = work + L.U
    cdef floating *Z = work + L.Z
    cdef floating *feats = work + L.feats
    cdef const floating *bias = coef + L.b
    cdef floating *zt
    cdef Py_ssize_t b, t

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
    if L.r.per_step:
        if out != NULL:
            for t in range(Tm * B):
                memcpy(out + t * O, coef + L.b_out, O * sizeof(floating))
            gemm(False, False, <int> (Tm * B), <int> O, <int> H, <floating> 1.0, Z + B * H,
                 <int> H, coef + L.w_out, <int> O, <floating> 1.0, out, <int> O)
        return
    _readout_features(Z, lengths, idx, B, H, L, feats, work + L.arg)
    if out == NULL:
        return
    for b in range(B):
        memcpy(out + b * O, coef + L.b_out, O * sizeof(floating))
    gemm(False, False, <int> B, <int> O, <int> L.RH, <floating> 1.0, feats, <int> L.RH,
         coef + L.w_out, <int> O, <floating> 1.0, out, <int> O)


cdef double _weight_sum(const floating *sw, const Py_ssize_t *idx, Py_ssize_t B) noexcept nogil:
    """Sum of the minibatch's sequence weights ``sw[idx[b]]``; ``B`` when ``sw`` is NULL."""
    cdef Py_ssize_t b
    cdef double W = 0.0
    if sw == NULL:
        return <double> B
    for b in range(B):
        W += sw[idx[b]]
    return W


cdef inline double _log_sum_exp(const floating *o, Py_ssize_t O) noexcept nogil:
    """``log(sum_k exp(o[k]))``, shifted by the largest ``o[k]``."""
    cdef Py_ssize_t k
    cdef double m = o[0], s = 0.0
    for k in range(1, O):
        if o[k] > m:
            m = o[k]
    for k in range(O):
        s += exp(o[k] - m)
    return m + log(s)


cdef double _output_error(floating *out, const floating *Y, const Py_ssize_t *idx,
                          Py_ssize_t B, Py_ssize_t O, int head,
                          const floating *sw, double W) noexcept nogil:
    """Mean minibatch loss; replaces ``out`` by dloss/doutput (already / B).

    With per-sequence weights ``sw`` (indexed like ``Y``; NULL: unweighted)
    ``sum_b w_b l_b / W`` and ``w_b dl_b / W``, ``W`` the normaliser: the
    weights' sum (a weighted mean) or ``B`` (see ``train_minibatches``'s
    ``batch_mean``); a minibatch whose weights sum to 0 gets zero error and
    loss 0.
    Weights of one give the unweighted numbers bit for bit (``1 * x`` and
    ``W == B`` are exact); NULL takes the unweighted loop below as it was.
    """
    cdef Py_ssize_t b, k
    cdef double loss = 0.0, m, lse
    cdef floating *o
    cdef const floating *y
    if sw != NULL:
        return _weighted_output_error(out, Y, idx, B, O, head, sw, W)
    for b in range(B):
        o = out + b * O
        y = Y + idx[b] * O
        if head == HEAD_SOFTMAX:
            lse = _log_sum_exp(o, O)
            for k in range(O):
                loss -= y[k] * (o[k] - lse)
                o[k] = <floating> ((exp(o[k] - lse) - y[k]) / B)
        else:
            for k in range(O):
                m = o[k] - y[k]
                loss += 0.5 * m * m
                o[k] = <floating> (m / B)
    return loss / B


cdef double _normaliser(Layout L, const floating *sw, const int *lengths,
                        const Py_ssize_t *idx, Py_ssize_t B, bint batch_mean) noexcept nogil:
    """What the minibatch's loss is divided by.

    Many-to-one: the weights' sum (a weighted mean; ``B`` unweighted), or ``B``
    with ``batch_mean``. Per step, each real step counts: ``sum_b w_b n_b``
    (``sum_b n_b`` unweighted or with ``batch_mean``).
    """
    cdef Py_ssize_t b
    cdef double W = 0.0
    if not L.r.per_step:
        return <double> B if batch_mean else _weight_sum(sw, idx, B)
    for b in range(B):
        W += lengths[idx[b]] * (1.0 if sw == NULL or batch_mean else sw[idx[b]])
    return W


cdef double _loss_error(Layout L, floating *out, const floating *Y, Py_ssize_t T_all,
                        const int *lengths, const Py_ssize_t *idx, Py_ssize_t B, Py_ssize_t Tm,
                        Py_ssize_t O, int head, const floating *sw, double W) noexcept nogil:
    """The minibatch's loss; replaces the outputs ``out`` by dloss/doutput.

    Many-to-one: ``_output_error``. Per step: ``_step_output_error``.
    """
    if L.r.per_step:
        return _step_output_error(out, Y, T_all, lengths, idx, B, Tm, O, head, sw, W)
    return _output_error(out, Y, idx, B, O, head, sw, W)


cdef double _step_output_error(floating *out, const floating *Y, Py_ssize_t T_all,
                               const int *lengths, const Py_ssize_t *idx, Py_ssize_t B,
                               Py_ssize_t Tm, Py_ssize_t O, int head, const floating *sw,
                               double W) noexcept nogil:
    """Per-step loss ``sum_b w_b sum_{t < n_b} l_bt / W`` of time-major outputs (Tm, B, O).

    ``Y`` is (n, T_all, O); ``W`` the normaliser (``_normaliser``). The error
    of step t of sequence b is ``w_b dl_bt / W``, zero past its end. A
    minibatch whose weights are all 0 gets zero error and loss 0.
    """
    cdef Py_ssize_t b, t, n
    cdef double loss = 0.0, wb
    cdef floating *o
    if not W > 0.0:
        memset(out, 0, Tm * B * O * sizeof(floating))
        return 0.0
    for b in range(B):
        n = lengths[idx[b]]
        wb = 1.0 if sw == NULL else sw[idx[b]]
        for t in range(Tm):
            o = out + (t * B + b) * O
            if t >= n:
                memset(o, 0, O * sizeof(floating))
                continue
            _weighted_row_error(o, Y + (idx[b] * T_all + t) * O, O, head, wb, W, &loss)
    return loss / W


cdef inline void _weighted_row_error(floating *o, const floating *y, Py_ssize_t O, int head,
                                     double wb, double W, double *loss) noexcept nogil:
    """One output row's loss term times ``wb``, added to ``loss``; ``o`` becomes
    ``wb dl/do / W`` (the weighted loops' body, one definition)."""
    cdef Py_ssize_t k
    cdef double m, lse
    if head == HEAD_SOFTMAX:
        lse = _log_sum_exp(o, O)
        for k in range(O):
            loss[0] -= wb * (y[k] * (o[k] - lse))
            o[k] = <floating> (wb * (exp(o[k] - lse) - y[k]) / W)
    else:
        for k in range(O):
            m = o[k] - y[k]
            loss[0] += wb * (0.5 * m * m)
            o[k] = <floating> (wb * m / W)


cdef double _weighted_output_error(floating *out, const floating *Y, const Py_ssize_t *idx,
                                   Py_ssize_t B, Py_ssize_t O, int head,
                                   const floating *sw, double W) noexcept nogil:
    """``_output_error`` with weights: each term of the unweighted loop times ``w_b``,
    then divided by the normaliser ``W`` instead of ``B``."""
    cdef Py_ssize_t b
    cdef double loss = 0.0
    if not _weight_sum(sw, idx, B) > 0.0:
        memset(out, 0, B * O * sizeof(floating))
        return 0.0
    for b in range(B):
        _weighted_row_error(out + b * O, Y + idx[b] * O, O, head, sw[idx[b]], W, &loss)
    return loss / W


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
    cdef floating *feats = work + L.feats
    cdef floating *err = work + L.err
    cdef floating *dz = work + L.dz
    cdef floating *grad = work + L.grad
    cdef floating *row
    cdef const floating *zrow
    cdef const floating *inj
    cdef Py_ssize_t b, t, j, t_min = Tm, n, first

    # output layer: its inputs are the readout features, or per step the states
    # of all steps (Z[1:], time-major like the errors)
    cdef Py_ssize_t rows = Tm * B if L.r.per_step else B
    if L.r.per_step:
        depth = Tm  # every step's error flows back to the start (see the estimators)
    gemm(True, False, <int> L.RH, <int> O, <int> rows, <floating> 1.0,
         Z + B * H if L.r.per_step else feats, <int> L.RH,
         err, <int> O, <floating> 0.0, grad + L.w_out, <int> O)
    memset(grad + L.b_out, 0, O * sizeof(floating))
    for b in range(rows):
        for j in range(O):
            grad[L.b_out + j] += err[b * O + j]
    gemm(False, True, <int> rows, <int> L.RH, <int> O, <floating> 1.0, err, <int> O,
         coef + L.w_out, <int> O, <floating> 0.0, dz, <int> L.RH)

    for b in range(B):
        first = lengths[idx[b]] - depth
        if first < 0:
            first = 0
        if first < t_min:
            t_min = first
    # deltas, last step first: D[t] = (D[t+1] @ W_rec^T + injection) * (1 - z^2),
    # the injection being the readout's error at step t (see _injection)
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
            if L.r.per_step:
                inj = dz + (t * B + b) * H if t < n else NULL
            else:
                inj = _injection(dz + b * L.RH, L, t, n, work + L.arg + b * H, H,
                                 work + L.inj)
            if inj != NULL:
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
                     bint return_states=False,
                     const floating[::1] sample_weight=None,  # IN (n,) weights or None
                     int readout=READOUT_LAST):
    """Loss over all n sequences as one minibatch, its gradient, and optionally the states.

    ``bptt_depth <= 0`` backpropagates through whole sequences. With
    ``return_states`` also returns ``Z`` (T + 1, n, H), the hidden states
    time-major with ``Z[0] = 0``, and ``D`` (T, n, H), the deltas dE/da(t).
    With ``sample_weight`` the loss is the weighted mean of the sequences'
    losses (the weights must not all be 0). ``readout=READOUT_STEPS``: ``Y``
    holds every step's targets, (n, T O), and the loss is the mean over real steps.
    """
    cdef Py_ssize_t n = X.shape[0], T = X.shape[1], F = X.shape[2]
    cdef Py_ssize_t H = n_hidden, O = _n_outputs("Y", Y.shape[1], T, readout)
    _check_enums(head, SELECT_MINIBATCH)
    _check_data("X", n, T, F, "Y", Y.shape[0], lengths)
    _check_network(coef.shape[0], F, n_hidden, O, readout)
    _check_size("grad", grad.shape[0], coef.shape[0], "coef")
    _check_weights(sample_weight, n, True)
    cdef Layout L = _layout(n, T, F, H, O, _readout(readout))
    import numpy as np
    dtype = np.float32 if floating is float else np.float64
    work_arr = np.zeros(workspace_size(n, T, F, H, O, False, readout), dtype=dtype)
    cdef floating[::1] work = work_arr
    cdef Py_ssize_t[::1] idx = np.arange(n, dtype=np.intp)
    cdef double loss
    cdef const floating *sw = NULL if sample_weight is None else &sample_weight[0]
    with nogil:
        _forward(&X[0, 0, 0], T, F, &lengths[0], &idx[0], n, T, &coef[0], H, O, L,
                 &work[0], &work[L.err])
        loss = _loss_error(L, &work[L.err], &Y[0, 0], T, &lengths[0], &idx[0], n, T, O, head,
                           sw, _normaliser(L, sw, &lengths[0], &idx[0], n, False))
        _backward(&lengths[0], &idx[0], n, T, F, &coef[0], H, O,
                  _depth_or_all(bptt_depth, T), L, &work[0])
        loss += _add_l2(&coef[0], &work[0], L, alpha)
        memcpy(&grad[0], &work[0], L.n_params * sizeof(floating))
    if not return_states:
        return loss
    Z = work_arr[L.Z:L.D].reshape(T + 1, n, H).copy()
    D = work_arr[L.D:L.feats].reshape(T, n, H).copy()
    return loss, Z, D


def predict_outputs(const floating[:, :, ::1] X,   # IN (n, T, F) zero after each end
                    const int[::1] lengths,        # IN (n,)
                    const floating[::1] coef,      # IN flat parameters
                    floating[:, ::1] out,          # OUT (n, O) outputs (logits for softmax)
                    floating[::1] work,            # scratch: workspace_size(block, T, F, H, O)
                    int n_hidden, int block, int readout=READOUT_LAST):
    """Network outputs of each sequence, ``block`` sequences at a time, without the GIL.

    ``readout=READOUT_STEPS``: ``out`` is (n, T O), every real step's outputs
    (entries past a sequence's end are left as they are).
    """
    cdef Py_ssize_t n = X.shape[0]
    if n == 0 and out.shape[0] == 0:
        return
    _check_data("X", n, X.shape[1], X.shape[2], "out", out.shape[0], lengths)
    cdef Py_ssize_t O = _n_outputs("out", out.shape[1], X.shape[1], readout)
    _check_network(coef.shape[0], X.shape[2], n_hidden, O, readout)
    _forward_blocks(X, lengths, coef, &out[0, 0], O, work, n_hidden, block, readout)


def forward_features(const floating[:, :, ::1] X,   # IN (n, T, F) zero after each end
                     const int[::1] lengths,        # IN (n,)
                     const floating[::1] coef,      # IN W_in, W_rec, b (more is ignored)
                     floating[:, ::1] feats,        # OUT (n, R H) readout features
                     floating[::1] work,            # scratch: workspace_size(block, T, F, H, 1)
                     int n_hidden, int block, int readout=READOUT_LAST):
    """The readout features of each sequence (no output layer), ``block`` at a time.

    ``coef`` needs only the recurrent part of the flat vector (its first
    ``F H + H H + H`` entries): a reservoir has no output layer.
    ``readout=READOUT_STEPS``: ``feats`` is (n, T H), the states of every
    real step (entries past a sequence's end are left as they are).
    """
    cdef Py_ssize_t n = X.shape[0], F = X.shape[2], H = n_hidden
    cdef int R = _check_readout(readout) * (X.shape[1] if readout == STEPS_CODE else 1)
    if n == 0 and feats.shape[0] == 0:
        return
    _check_data("X", n, X.shape[1], F, "feats", feats.shape[0], lengths)
    if H < 1:
        raise ValueError(f"n_hidden must be >= 1, got {H}")
    _check_size("coef", coef.shape[0], F * H + H * H + H,
                f"the recurrent part (n_features={F}, n_hidden={H})", at_least=True)
    _check_size("feats columns", feats.shape[1], R * H,
                f"{R} pools (or steps) of {H} units")
    _forward_blocks(X, lengths, coef, &feats[0, 0], 0, work, n_hidden, block, readout)


def stream_forward(const floating[:, :, ::1] X,   # IN (n, t, F) the next t steps, no padding
                   const floating[::1] coef,        # IN flat parameters
                   floating[:, ::1] z,              # IN/OUT (n, H) the state after the last step
                   floating[:, ::1] total,          # IN/OUT (n, H) sum of the states so far
                   floating[:, ::1] peak,           # IN/OUT (n, H) their maximum (-inf at first)
                   Py_ssize_t n_before,             # IN steps fed before these
                   floating[:, ::1] out,            # OUT (n, t O) the outputs of these steps
                   int n_hidden, int readout=READOUT_LAST):
    """The next ``t`` steps of ``n`` streamed sequences, from their carried state.

    Each step's output is the network's output for the sequence ending at
    that step: the readout's pools over the steps so far (the last state,
    their running mean and maximum), or per step (``READOUT_STEPS``) that
    step's state. The same recurrence as ``_forward``, one step at a time,
    without the GIL.
    """
    cdef Py_ssize_t n = X.shape[0], t = X.shape[1], F = X.shape[2], H = n_hidden
    cdef int R = _check_readout(readout)
    cdef Readout r = _readout(readout)
    cdef Py_ssize_t O, s, b, i, p, RH = R * H
    if n < 1 or t < 1:
        raise ValueError(f"X must hold at least one sequence and one step, got shape "
                         f"({n}, {t}, {F})")
    O = _n_outputs("out", out.shape[1], t, STEPS_CODE)
    _check_network(coef.shape[0], F, n_hidden, O, readout)
    for name, arr in (("z", z), ("total", total), ("peak", peak)):
        if arr.shape[0] != n or arr.shape[1] != H:
            raise ValueError(f"{name} must have shape ({n}, {H}), got ({arr.shape[0]}, "
                             f"{arr.shape[1]})")
    if out.shape[0] != n:
        raise ValueError(f"out has {out.shape[0]} rows but X has {n} sequences")
    cdef Layout L = _layout(0, 0, F, H, O, r)
    import numpy as np
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] work = np.empty(n * H + n * RH, dtype=dtype)
    cdef floating *zn = &work[0]
    cdef floating *feats = &work[n * H]
    cdef floating *f
    cdef floating count
    with nogil:
        for s in range(t):
            for b in range(n):
                memcpy(zn + b * H, &coef[L.b], H * sizeof(floating))
            gemm(False, False, <int> n, <int> H, <int> F, <floating> 1.0, &X[0, s, 0],
                 <int> (t * F), &coef[L.w_in], <int> H, <floating> 1.0, zn, <int> H)
            if n_before + s > 0:
                gemm(False, False, <int> n, <int> H, <int> H, <floating> 1.0, &z[0, 0], <int> H,
                     &coef[L.w_rec], <int> H, <floating> 1.0, zn, <int> H)
            tanh_inplace(zn, n * H)
            memcpy(&z[0, 0], zn, n * H * sizeof(floating))
            for i in range(n * H):
                (&total[0, 0])[i] += zn[i]
                if zn[i] > (&peak[0, 0])[i]:
                    (&peak[0, 0])[i] = zn[i]
            count = <floating> (n_before + s + 1)
            for b in range(n):
                for p in range(r.n):
                    f = feats + b * RH + p * H
                    if r.pool[p] == POOL_LAST:
                        memcpy(f, zn + b * H, H * sizeof(floating))
                    elif r.pool[p] == POOL_MEAN:
                        for i in range(H):
                            f[i] = total[b, i] / count
                    else:
                        memcpy(f, &peak[b, 0], H * sizeof(floating))
                memcpy(&out[b, s * O], &coef[L.b_out], O * sizeof(floating))
            gemm(False, False, <int> n, <int> O, <int> RH, <floating> 1.0, feats, <int> RH,
                 &coef[L.w_out], <int> O, <floating> 1.0, &out[0, s * O], <int> (t * O))
    return n_before + t


cdef int _forward_blocks(const floating[:, :, ::1] X, const int[::1] lengths,
                         const floating[::1] coef, floating *out, Py_ssize_t O,
                         floating[::1] work, int n_hidden, int block, int readout) except -1:
    """Forward passes of ``block`` sequences at a time, without the GIL.

    ``O > 0``: the outputs (n, O) into ``out``; ``O == 0``: the readout
    features (n, R H) instead. Per step: (n, T, O) outputs or (n, T, H)
    states, real steps only.
    """
    cdef Py_ssize_t n = X.shape[0], T = X.shape[1], F = X.shape[2]
    cdef Py_ssize_t H = n_hidden, O_work = O if O > 0 else 1
    cdef Py_ssize_t start, B, Tm, b, t, width, src
    cdef Readout r = _readout(readout)
    cdef Layout L
    import numpy as np
    cdef Py_ssize_t[::1] idx
    if block < 1:
        raise ValueError(f"block must be >= 1, got {block}")
    _check_size("work", work.shape[0],
                workspace_size(min(block, n), T, F, H, O_work, False, readout),
                f"workspace_size(block={min(block, n)}, T={T}, F={F}, H={H}, O={O_work}, "
                f"readout={readout})", at_least=True)
    idx = np.arange(n, dtype=np.intp)
    with nogil:
        start = 0
        while start < n:
            B = block if start + block <= n else n - start
            Tm = _max_length(&lengths[0], &idx[start], B)
            L = _layout(B, Tm, F, H, O_work, r)
            if r.per_step:
                # outputs (err buffer) or states (Z[1:]), time-major, to (n, T, width)
                width = O if O > 0 else H
                src = L.err if O > 0 else L.Z + B * H
                _forward(&X[0, 0, 0], T, F, &lengths[0], &idx[start], B, Tm, &coef[0], H,
                         O_work, L, &work[0], &work[L.err] if O > 0 else NULL)
                for b in range(B):
                    for t in range(lengths[start + b]):
                        memcpy(out + ((start + b) * T + t) * width,
                               &work[src + (t * B + b) * width], width * sizeof(floating))
            elif O > 0:
                _forward(&X[0, 0, 0], T, F, &lengths[0], &idx[start], B, Tm, &coef[0], H, O,
                         L, &work[0], out + start * O)
            else:
                _forward(&X[0, 0, 0], T, F, &lengths[0], &idx[start], B, Tm, &coef[0], H, O,
                         L, &work[0], NULL)
                memcpy(out + start * L.RH, &work[L.feats], B * L.RH * sizeof(floating))
            start += B
    return 0


cdef inline bint _all_finite(const floating *x, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating s = 0
    for i in range(n):
        s += x[i] * 0
    return s == 0


include "_sgr.pxi"


cdef double _clip(floating *grad, Py_ssize_t P, double clip_norm) noexcept nogil:
    """Rescale grad to norm clip_norm if it is longer (Pascanu et al. 2013); returns its norm."""
    cdef double norm = sqrt(dot(<int> P, grad, grad))
    cdef Py_ssize_t i
    cdef floating scale
    if clip_norm > 0.0 and norm > clip_norm:
        scale = <floating> (clip_norm / norm)
        for i in range(P):
            grad[i] *= scale
    return norm


# -- the optimizer's step: one definition for the update, its bound check and
#    the candidate step along which the regularization takes dS. The state
#    vector holds the velocity (SGD, n_params values) or Adam's first and
#    second moments and its step count ([m, s, t], 2 n_params + 1 values).

def optimizer_state_size(Py_ssize_t n_params, int solver):
    """Length of the optimizer's state vector for ``n_params`` parameters."""
    if solver == SOLVER_ADAM:
        return 2 * n_params + 1
    if solver == SOLVER_SGD:
        return n_params
    raise ValueError(f"solver must be SOLVER_SGD ({SOLVER_SGD}) or SOLVER_ADAM "
                     f"({SOLVER_ADAM}), got {solver}")


def settings_fields():
    """The field names of the kernel's settings structs (for the tests of their mirrors)."""
    cdef Optimizer o
    cdef SGRSettings s
    memset(&o, 0, sizeof(o))
    memset(&s, 0, sizeof(s))
    return {"Optimizer": list(o), "SGRSettings": list(s)}


cdef inline double _step_rate(Optimizer o, const floating *v, Py_ssize_t P) noexcept nogil:
    """What a step needs besides the gradient: Adam's bias-corrected step size for its
    next step (the state holds the steps taken at ``v[2 P]``); nothing for SGD."""
    if o.solver == SOLVER_ADAM:
        return o.learning_rate * sqrt(1.0 - pow(o.beta_2, v[2 * P] + 1.0)) / (
            1.0 - pow(o.beta_1, v[2 * P] + 1.0))
    return 0.0


cdef inline floating _param_step(Optimizer o, const floating *v, Py_ssize_t i, Py_ssize_t P,
                                 floating g, floating rate, floating *new) noexcept nogil:
    """The one dispatch point of the optimizer: the change of parameter ``i`` for the
    gradient ``g``, with its new state in ``new`` (SGD: the velocity; Adam: the moments).

    SGD with momentum: ``v' = mu v - lr g``, change ``v'`` (or Nesterov's
    ``mu v' - lr g``, as scikit-learn's MLP). Adam (as scikit-learn's
    AdamOptimizer): ``m' = b1 m + (1 - b1) g``, ``s' = b2 s + (1 - b2) g^2``,
    change ``-rate m' / (sqrt(s') + eps)``.
    """
    cdef floating lr, mu
    if o.solver == SOLVER_ADAM:
        new[0] = <floating> o.beta_1 * v[i] + <floating> (1.0 - o.beta_1) * g
        new[1] = <floating> o.beta_2 * v[P + i] + <floating> (1.0 - o.beta_2) * g * g
        return -rate * new[0] / (sqrt(new[1]) + <floating> o.epsilon)
    lr = <floating> o.learning_rate
    mu = <floating> o.momentum
    new[0] = mu * v[i] - lr * g
    if o.nesterov:
        return mu * new[0] - lr * g
    return new[0]


cdef void _apply_step(floating *w, floating *v, const floating *g, Py_ssize_t P,
                      Optimizer o) noexcept nogil:
    """Apply the step of gradient ``g``: weights and optimizer state."""
    cdef Py_ssize_t i
    cdef floating rate = <floating> _step_rate(o, v, P)
    cdef floating new[2]
    for i in range(P):
        w[i] += _param_step(o, v, i, P, g[i], rate, new)
        v[i] = new[0]
        if o.solver == SOLVER_ADAM:
            v[P + i] = new[1]
    if o.solver == SOLVER_ADAM:
        v[2 * P] += 1.0


cdef bint _step_within(const floating *w, const floating *v, const floating *g, Py_ssize_t P,
                       Optimizer o, double bound) noexcept nogil:
    """Whether the step from gradient ``g`` keeps every weight finite and within bound.

    Computes exactly what ``_apply_step`` would, without writing anything.
    """
    cdef Py_ssize_t i
    cdef floating wi
    cdef floating rate = <floating> _step_rate(o, v, P)
    cdef floating new[2]
    for i in range(P):
        wi = w[i] + _param_step(o, v, i, P, g[i], rate, new)
        if not fabs(wi) <= bound:  # also false for NaN
            return False
    return True


cdef void _candidate_step(const floating *v, const floating *g, Py_ssize_t offset,
                          Py_ssize_t n, Py_ssize_t P, Optimizer o, bint with_momentum,
                          floating *step) noexcept nogil:
    """The signed step a candidate would apply to parameters ``offset ... offset + n - 1``.

    SGD: with the momentum term (``with_momentum``) or ``-lr g`` alone (the
    step with momentum 0). Adam: always the step Adam would apply.
    """
    cdef Py_ssize_t i
    cdef floating rate = <floating> _step_rate(o, v, P)
    cdef floating new[2]
    if not with_momentum:
        o.momentum = 0.0
        o.nesterov = False
    for i in range(offset, offset + n):
        step[i - offset] = _param_step(o, v, i, P, g[i], rate, new)


# -- the gradient regularization's decision on one candidate

cdef signed char _sgr_select(
        const int *lengths, const Py_ssize_t *idx, const floating *Y, Py_ssize_t T_all,
        Py_ssize_t B, Py_ssize_t Tm, Py_ssize_t F, const floating *w, const floating *v, Py_ssize_t H,
        Py_ssize_t O, Py_ssize_t P, Py_ssize_t depth, int head, double alpha, double clip_norm,
        Optimizer opt, SGRSettings s, Layout L, floating *work,
        floating *bg, double *guard_state, double *S_b, double *dS_b, double *E_b,
        double *dE_b, double *Q_out, double *dS_out,
        const floating *sw, double W) noexcept nogil:
    """Whether to apply the candidate whose gradient (clipped) is in the workspace.

    After ``_forward``, ``_output_error``, ``_backward``, the L2 term and the
    clipping. Returns 0 (skipped), 1 (applied: the workspace gradient, which
    per-example selection recomputes over the kept examples) or 2 (applied
    by the guard: the gradient to apply is ``bg``). Writes Q and dS of the
    minibatch to ``Q_out`` and ``dS_out`` and updates the guard's state.
    ``sw``, ``W``: the sequence weights (NULL if unweighted) and the loss's
    normaliser (their sum, or ``B``).
    """
    cdef floating *grad = work + L.grad
    cdef double S = 0.0, dS = 0.0, E = 0.0, dE = 0.0, Q, g_steer, fav, scale, W_kept, W_all
    cdef Py_ssize_t b, i, t
    cdef signed char use
    _candidate_step(v, grad, L.w_rec, H * H, P, opt, s.ds_momentum, work + L.dW)
    _measured_norms(lengths, idx, Y, T_all, B, Tm, w, H, O, s.q_depth, s.ds_mode == DS_EXACT,
                    head, L, work, S_b, dS_b, E_b, dE_b, sw, W)
    for b in range(B):
        S += S_b[b]
        dS += dS_b[b]
        E += E_b[b]
        dE += dE_b[b]
    Q = _q_factor(E, S)
    g_steer = _steering(S, dS, E, dE, s.steer == STEER_DQ)
    Q_out[0] = Q
    dS_out[0] = dS
    if s.selection == SELECT_EXAMPLE:
        # keep the examples whose own contribution moves the norm the right way
        W_kept = 0.0  # their weight: their number when unweighted
        for b in range(B):
            if _accept(_q_factor(E_b[b], S_b[b]), S_b[b], dS_b[b],
                       _steering(S_b[b], dS_b[b], E_b[b], dE_b[b], s.steer == STEER_DQ),
                       s.q_min, s.q_max, s.ds_max):
                # the kept loss terms' weight: sequences, or per step their real steps
                W_kept += ((1.0 if sw == NULL else sw[idx[b]])
                           * (lengths[idx[b]] if L.r.per_step else 1))
                S_b[b] = 1.0
            else:
                S_b[b] = 0.0
        use = W_kept > 0.0
        W_all = _normaliser(L, sw, lengths, idx, B, False)
        if 0.0 < W_kept < W_all:
            # gradient of the (weighted) mean loss over the kept examples only
            scale = W_all / W_kept
            for b in range(B):  # per step: the errors of every step of sequence b
                for t in range(Tm if L.r.per_step else 1):
                    for i in range(O):
                        work[L.err + (t * B + b) * O + i] *= <floating> (S_b[b] * scale)
            _backward(lengths, idx, B, Tm, F, w, H, O, depth, L, work)
            _add_l2(w, grad, L, alpha)
            _clip(grad, P, clip_norm)
    else:
        use = _accept(Q, S, dS, g_steer, s.q_min, s.q_max, s.ds_max)
    if not use:
        guard_state[0] += 1
        fav = _favour(Q, g_steer, s.q_min, s.q_max)
        if guard_state[0] == 1 or fav > guard_state[1]:
            guard_state[1] = fav
            memcpy(bg, grad, P * sizeof(floating))
        if s.max_skips > 0 and guard_state[0] >= s.max_skips:
            use = 2
    if use:
        guard_state[0] = 0
    return use


def train_minibatches(
        const floating[:, :, ::1] X,       # IN (n, T, F) zero after each end
        const floating[:, ::1] Y,          # IN (n, O) one-hot classes or targets
        const int[::1] lengths,            # IN (n,) steps per sequence, >= 1
        const Py_ssize_t[::1] order,       # IN sample indices of the minibatches in turn
        const Py_ssize_t[::1] batch_starts,  # IN (n_batches + 1,): batch k = order[s[k]:s[k+1]]
        floating[::1] coef,                # IN/OUT flat parameters
        floating[::1] velocity,            # IN/OUT optimizer state: optimizer_state_size(P, solver)
        floating[::1] work,                # scratch: workspace_size(max batch, T, F, H, O, sgr)
        double[::1] losses,                # OUT (n_batches,) loss of each candidate minibatch
        int n_hidden, int head, int readout,  # the network: hidden units, head, readout code
        Optimizer optimizer,               # IN the optimizer's settings (a dict of its fields)
        sgr=None,                          # IN SGRSettings as a dict, or None: no regularization
        int bptt_depth=0, double alpha=0.0, double clip_norm=0.0, double max_abs_weight=0.0,
        floating[::1] best_grad=None,      # IN/OUT (n_params,) guard: best rejected candidate
        double[::1] guard_state=None,      # IN/OUT [consecutive skips, favour of best_grad]
        double[::1] q_history=None,        # OUT (n_batches,) Q of each candidate
        double[::1] ds_history=None,       # OUT (n_batches,) dS of each candidate
        signed char[::1] used_history=None,  # OUT (n_batches,) 0 skipped, 1 used, 2 by guard
        double[::1] grad_norm_history=None,  # OUT (n_batches,) gradient norm before clipping
        const floating[::1] sample_weight=None,  # IN (n,) per-sequence weights or None
        bint batch_mean=False,             # weighted loss / B (True) or / sum of weights
        ):
    """SGD with momentum, or Adam, over consecutive minibatches, without the GIL.

    ``optimizer`` and ``sgr`` are dicts with exactly the fields of the
    structs ``Optimizer`` and ``SGRSettings`` (``_bptt_fast.pxd``), as
    ``sksgr._network`` builds them. With ``sgr`` each minibatch is a
    candidate: its Q-factor and dS decide whether it is applied (see ``_sgr.pxi`` and the estimators' docs). A
    skipped candidate changes no weight and no optimizer state. After ``max_skips``
    consecutive skips (if > 0) the most favourable rejected candidate since
    the last update is applied.

    Returns the number of candidates processed. Fewer than ``n_batches`` means
    the next one diverged: its loss or gradient was not finite, or its step
    would have made a weight non-finite or (``max_abs_weight > 0``) larger
    than ``max_abs_weight`` in absolute value. That candidate was not applied,
    so ``coef`` and ``velocity`` are still the last state within bounds.

    The optimizer's state ``velocity`` is the momentum (SGD) or Adam's
    ``[m, s, t]`` (moments of the gradient and the number of steps taken).

    ``grad_norm_history``, if given, receives the Euclidean norm of each
    candidate's gradient (L2 term included) before clipping: with
    ``clip_norm > 0`` the candidate was clipped where it exceeds ``clip_norm``.

    ``sample_weight`` (finite, >= 0) makes each minibatch's loss the weighted
    mean ``sum_b w_b l_b / sum_b w_b`` (None: the plain mean, computed as
    without weights), or with ``batch_mean`` ``sum_b w_b l_b / B``: with
    weights scaled to mean 1 over the training set (as the estimators pass
    them), each minibatch then estimates the weighted mean loss of the whole
    set, and a weight counts relative to every sequence, not only to those
    of its minibatch. A minibatch whose weights sum to 0 is passed over: no
    forward pass, no step, momentum and guard unchanged; its loss (and with
    ``sgr`` its Q and dS) are NaN and it counts as skipped (``used = 0``).

    ``readout=READOUT_STEPS`` trains on every step: ``Y`` is (n, T O), the
    loss the mean over the minibatch's real steps (each step of sequence b
    weighted by ``w_b``; ``batch_mean`` divides by the number of real steps),
    and BPTT runs over whole sequences (``bptt_depth`` is not used). The
    regularization then measures the error of each sequence's last step
    alone (see ``_sgr.pxi``).
    """
    cdef Py_ssize_t n_batches = batch_starts.shape[0] - 1
    cdef Py_ssize_t T = X.shape[1], F = X.shape[2], H = n_hidden
    cdef Py_ssize_t O = _n_outputs("Y", Y.shape[1], T, readout)
    cdef Py_ssize_t P = _n_params(F, H, O, _check_readout(readout))
    cdef Readout r = _readout(readout)
    cdef Py_ssize_t k, B, Tm, depth
    cdef const Py_ssize_t *idx
    cdef floating *grad
    cdef floating *w = &coef[0]
    cdef floating *v = &velocity[0]
    cdef floating *g
    cdef floating *bg = NULL
    cdef Optimizer opt = optimizer
    cdef double loss, W, norm, grad_norm
    cdef double *gn = NULL
    cdef double[::1] S_b, dS_b, E_b, dE_b
    cdef const floating *sw = NULL
    cdef signed char use
    cdef Py_ssize_t n_done = n_batches
    cdef double bound = max_abs_weight if max_abs_weight > 0.0 else INFINITY
    cdef SGRSettings settings
    cdef bint use_sgr = sgr is not None
    cdef Layout L
    import numpy as np
    _check_enums(head, SELECT_MINIBATCH)
    _check_data("X", X.shape[0], T, F, "Y", Y.shape[0], lengths)
    _check_network(coef.shape[0], F, n_hidden, O, readout)
    _check_size("velocity", velocity.shape[0], optimizer_state_size(P, opt.solver),
                "the optimizer's state for coef")
    _check_weights(sample_weight, X.shape[0], False)
    if sample_weight is not None:
        sw = &sample_weight[0]
    if n_batches < 0 or batch_starts[0] < 0 or batch_starts[n_batches] > order.shape[0]:
        raise ValueError(f"batch_starts must lie in [0, {order.shape[0]}] (the length of order)")
    for k in range(n_batches):
        if batch_starts[k + 1] <= batch_starts[k]:
            raise ValueError(f"batch_starts must increase: batch {k} is empty")
    for k in range(batch_starts[0], batch_starts[n_batches]):
        if order[k] < 0 or order[k] >= X.shape[0]:
            raise ValueError(f"order[{k}] = {order[k]} is not a sequence index of X "
                             f"(0 ... {X.shape[0] - 1})")
    _check_size("losses", losses.shape[0], n_batches, "the number of minibatches",
                at_least=True)
    if use_sgr:
        settings = sgr
        _check_enums(head, settings.selection)
        if settings.ds_mode != DS_LINEAR and settings.ds_mode != DS_EXACT:
            raise ValueError(f"ds_mode must be DS_LINEAR or DS_EXACT, got {settings.ds_mode}")
        if settings.steer != STEER_DS and settings.steer != STEER_DQ:
            raise ValueError(f"steer must be STEER_DS or STEER_DQ, got {settings.steer}")
        if settings.q_depth <= 0 or settings.q_depth > T:
            settings.q_depth = T
    if use_sgr:
        if (best_grad is None or best_grad.shape[0] != P or guard_state is None
                or guard_state.shape[0] < 2
                or q_history is None or ds_history is None or used_history is None
                or q_history.shape[0] < n_batches or ds_history.shape[0] < n_batches
                or used_history.shape[0] < n_batches):
            raise ValueError("gradient regularization needs best_grad, guard_state and histories")
        bg = &best_grad[0]
    if grad_norm_history is not None:
        _check_size("grad_norm_history", grad_norm_history.shape[0], n_batches,
                    "the number of minibatches", at_least=True)
        gn = &grad_norm_history[0] if n_batches > 0 else NULL
    n_max = 0
    for k in range(n_batches):
        n_max = max(n_max, batch_starts[k + 1] - batch_starts[k])
    _check_size("work", work.shape[0], workspace_size(n_max, T, F, H, O, use_sgr, readout),
                f"workspace_size(batch_size={n_max}, T={T}, F={F}, H={H}, O={O}, "
                f"sgr={use_sgr}, "
                f"readout={readout})",
                at_least=True)
    S_b = np.zeros(max(n_max, 1))
    dS_b = np.zeros(max(n_max, 1))
    E_b = np.zeros(max(n_max, 1))
    dE_b = np.zeros(max(n_max, 1))
    with nogil:
        for k in range(n_batches):
            B = batch_starts[k + 1] - batch_starts[k]
            idx = &order[batch_starts[k]]
            W = _weight_sum(sw, idx, B)
            if not W > 0.0:  # only with weights: nothing to learn from
                losses[k] = NAN
                if use_sgr:
                    q_history[k] = NAN
                    ds_history[k] = NAN
                    used_history[k] = 0
                if gn != NULL:
                    gn[k] = NAN
                continue
            Tm = _max_length(&lengths[0], idx, B)
            L = _layout(B, Tm, F, H, O, r)
            norm = _normaliser(L, sw, &lengths[0], idx, B, batch_mean)
            grad = &work[0] + L.grad
            depth = _depth_or_all(bptt_depth, Tm)
            _forward(&X[0, 0, 0], T, F, &lengths[0], idx, B, Tm, w, H, O, L, &work[0],
                     &work[0] + L.err)
            loss = _loss_error(L, &work[0] + L.err, &Y[0, 0], T, &lengths[0], idx, B, Tm, O,
                               head, sw, norm)
            _backward(&lengths[0], idx, B, Tm, F, w, H, O, depth, L, &work[0])
            loss += _add_l2(w, grad, L, alpha)
            losses[k] = loss
            if not isfinite(loss) or not _all_finite(grad, P):
                n_done = k
                break
            grad_norm = _clip(grad, P, clip_norm)
            if gn != NULL:
                gn[k] = grad_norm
            use = 1
            if use_sgr:
                use = _sgr_select(&lengths[0], idx, &Y[0, 0], T, B, Tm, F, w, v, H, O, P, depth,
                                  head, alpha, clip_norm, opt, settings, L,
                                  &work[0], bg, &guard_state[0], &S_b[0], &dS_b[0], &E_b[0],
                                  &dE_b[0], &q_history[k], &ds_history[k], sw, norm)
                used_history[k] = use
            if use:
                g = bg if use == 2 else grad
                if not _step_within(w, v, g, P, opt, bound):
                    n_done = k
                    break
                _apply_step(w, v, g, P, opt)
    return n_done


def tanh_inplace_array(floating[::1] x):
    """Apply the kernels' vectorised tanh to ``x`` in place (exposed for tests)."""
    if x.shape[0]:
        with nogil:
            tanh_inplace(&x[0], x.shape[0])
