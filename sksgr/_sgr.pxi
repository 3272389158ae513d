# Sampling-based gradient regularization (Chernodub & Nowicki 2016): the norm
# S of the long-term deltas, its first-order change dS along a candidate
# update of W_rec, and the Q-factor. Included by _bptt_fast.pyx so that it
# shares the forward/backward buffers of the minibatch.
#
# For sequence b with last step e_b and measuring depth h_b = min(h, e_b),
# s_b = e_b - h_b:
#     S_b  = 0.5 ||delta_b(s_b)||^2          E_b = 0.5 ||delta_b(e_b)||^2
#     dS_b = <delta_b(s_b), d delta_b(s_b)>  along dW = the signed candidate step
# Minibatch: S = sum S_b, dS = sum dS_b, Q = log10 sqrt(sum E_b / sum S_b)
# (norms over the minibatch as a whole; Q > 0 means vanishing).
#
# With sequence weights w_b the deltas of sequence b carry the factor w_b / W
# (W the loss's normaliser: sum_b w_b, or B) instead of 1 / B, so the squared
# norms carry (w_b / W)^2; S_b, dS_b, E_b and dE_b are divided by w_b (0 for
# w_b = 0), which makes them those of w_b copies of the sequence, each with
# the factor 1 / W: with W = sum_b w_b a weighted minibatch has the S, dS and
# Q of the minibatch that repeats its sequences. Unweighted, nothing is divided.
#
# d delta follows the tangent of the backward recursion
#     eps(t-1) = delta(t) W^T (+ dE/dz at the end),  delta(t) = eps(t) * f'(t)
#     d eps(t-1) = d delta(t) W^T + delta(t) dW^T (+ d(dE/dz) at the end)
#     d delta(t) = d eps(t) * f'(t) - 2 delta(t) * z(t) * d a(t)
# "linear" (paper's Lemma 1) holds the activations fixed: d a = 0 and the
# output error does not move. "exact" adds the tangent forward pass
#     d a(t) = d z(t-1) W + z(t-1) dW,  d z = f' d a
# and the tangent of the output error, so dS is the true derivative.
#
# The rule steers either S by dS (the paper) or Q by its first-order change:
# with E = 0.5 ||delta(T)||^2, d ln(||delta(T-h)|| / ||delta(T)||) =
# (dS/S - dE/E) / 2, i.e. g = dS/S - dE/E > 0 lowers Q (the long-term norm
# grows relative to the short-term one). In linear mode dE = 0 and g has the
# sign of dS, so the two steer alike.
#
# Per-step outputs (READOUT_STEPS): every step injects its own error, so the
# total delta(T-h) holds the errors of the steps T-h ... T as well as what
# flows back from T, and its norm says little about how the error of a late
# step decays on its way back. S, E, dS and Q are therefore measured on the
# deltas of each sequence's LAST step's error alone (delta^T, the deltas the
# paper's many-to-one network has): delta^T(t) = (delta^T(t+1) W^T + [t = e]
# dE/dz(e)) * f'(t). That is the network read as a last-step readout whose
# output error is the per-step loss's error at the last step (the same
# weights and normaliser), so the code below runs on it unchanged
# (_measured_norms builds that view). The update itself is the full per-step
# gradient.


cdef void _norm_change(const int *lengths, const Py_ssize_t *idx, const floating *Y,
                       Py_ssize_t T_all, Py_ssize_t B, Py_ssize_t Tm, const floating *coef, Py_ssize_t H,
                       Py_ssize_t O, Py_ssize_t qdepth, bint exact, int head, Layout L,
                       floating *work, double *S_b, double *dS_b, double *E_b,
                       double *dE_b, const floating *sw, double sw_sum) noexcept nogil:
    """Per-sequence S_b, dS_b, E_b, dE_b after _forward, _output_error and _backward.

    The candidate step of W_rec must be in the workspace at ``L.dW``. ``sw``
    and ``sw_sum``: the sequence weights (NULL if unweighted) and the loss's
    normaliser (their sum, or the minibatch size), as ``_output_error`` used them.
    ``Y`` holds T_all steps per row if ``L.y_at_last`` (the target of sequence
    b's error is then that of its last step), else one row of O per sequence.
    """
    cdef floating *Z = work + L.Z
    cdef floating *D = work + L.D
    cdef floating *dW = work + L.dW
    cdef floating *P = work + L.P
    cdef floating *Ad = work + L.Ad
    # d delta(t) overwrites P(t+1), which step t is the last to read: slot t+1
    cdef floating *Dd = P + B * H
    cdef floating *tmp = work + L.tmp
    cdef floating *err = work + L.err
    cdef floating *od = work + L.od
    cdef const floating *W = coef + L.w_rec
    cdef const floating *y
    cdef floating *row
    cdef const floating *src
    cdef const floating *z
    cdef const floating *d
    cdef const floating *a
    cdef Py_ssize_t b, t, j, k, e, s, p, t_lo = Tm
    cdef double acc, ssq, dot_pd, pk, wb
    cdef floating r  # in the type of err, as B below: weights of 1 change no bit
    # the normaliser in the type of err (unweighted: B, or the real steps' number)
    cdef floating nb = <floating> sw_sum

    for b in range(B):
        e = lengths[idx[b]] - 1
        s = e - (qdepth if qdepth < e else e)
        if s < t_lo:
            t_lo = s
    # P(t) = delta(t) dW^T for every step the recursion reads (t > t_lo) at once
    gemm(False, True, <int> ((Tm - t_lo - 1) * B), <int> H, <int> H, <floating> 1.0,
         D + (t_lo + 1) * B * H, <int> H, dW, <int> H, <floating> 0.0,
         P + (t_lo + 1) * B * H, <int> H)

    if exact:
        # tangent forward pass: Ad[t] = d a(t)
        gemm(False, False, <int> (Tm * B), <int> H, <int> H, <floating> 1.0, Z, <int> H,
             dW, <int> H, <floating> 0.0, Ad, <int> H)
        for t in range(1, Tm):
            z = Z + t * B * H          # z(t-1)
            a = Ad + (t - 1) * B * H   # d a(t-1)
            for j in range(B * H):
                tmp[j] = (1 - z[j] * z[j]) * a[j]
            gemm(False, False, <int> B, <int> H, <int> H, <floating> 1.0, tmp, <int> H,
                 W, <int> H, <floating> 1.0, Ad + t * B * H, <int> H)
        # tangent of the readout features (into tmp, (B, R H)): d z = f' d a at the
        # last step, its mean over the real steps, or at each unit's arg-max step
        for b in range(B):
            e = lengths[idx[b]] - 1
            for p in range(L.r.n):
                row = tmp + b * L.RH + p * H
                if L.r.pool[p] == POOL_LAST:
                    z = Z + ((e + 1) * B + b) * H
                    a = Ad + (e * B + b) * H
                    for j in range(H):
                        row[j] = (1 - z[j] * z[j]) * a[j]
                elif L.r.pool[p] == POOL_MEAN:
                    memset(row, 0, H * sizeof(floating))
                    for t in range(e + 1):
                        z = Z + ((t + 1) * B + b) * H
                        a = Ad + (t * B + b) * H
                        for j in range(H):
                            row[j] += (1 - z[j] * z[j]) * a[j]
                    for j in range(H):
                        row[j] /= <floating> (e + 1)
                else:
                    for j in range(H):
                        t = <Py_ssize_t> work[L.arg + b * H + j]
                        z = Z + ((t + 1) * B + b) * H
                        a = Ad + (t * B + b) * H
                        row[j] = (1 - z[j] * z[j]) * a[j]
        # then of the output error, and of dE/dfeats (into tmp)
        gemm(False, False, <int> B, <int> O, <int> L.RH, <floating> 1.0, tmp, <int> L.RH,
             coef + L.w_out, <int> O, <floating> 0.0, od, <int> O)
        for b in range(B):
            y = Y + ((idx[b] * T_all + lengths[idx[b]] - 1) * O if L.y_at_last else idx[b] * O)
            if sw != NULL:
                # err = w_b (p - y) / sw_sum, so p = (sw_sum / w_b) err + y (no error if
                # w_b = 0); d err = w_b p (d o - <p, d o>) / sw_sum, or w_b d o / sw_sum
                wb = sw[idx[b]]
                if wb == 0.0:
                    for k in range(O):
                        od[b * O + k] = 0
                elif head == HEAD_SOFTMAX:
                    r = <floating> (sw_sum / wb)
                    dot_pd = 0.0
                    for k in range(O):
                        dot_pd += (r * err[b * O + k] + y[k]) * od[b * O + k]
                    for k in range(O):
                        pk = r * err[b * O + k] + y[k]
                        od[b * O + k] = <floating> (wb * (pk * (od[b * O + k] - dot_pd)) / sw_sum)
                else:
                    for k in range(O):
                        od[b * O + k] = (<floating> wb * od[b * O + k]) / <floating> sw_sum
            elif head == HEAD_SOFTMAX:
                # err = (p - y) / B, so p = B err + y; d err = p (d o - <p, d o>) / B
                # (B: the normaliser nb, the real steps' number per step)
                dot_pd = 0.0
                for k in range(O):
                    dot_pd += (nb * err[b * O + k] + y[k]) * od[b * O + k]
                for k in range(O):
                    pk = nb * err[b * O + k] + y[k]
                    od[b * O + k] = <floating> (pk * (od[b * O + k] - dot_pd) / sw_sum)
            else:
                for k in range(O):
                    od[b * O + k] = od[b * O + k] / nb
        gemm(False, True, <int> B, <int> L.RH, <int> O, <floating> 1.0, od, <int> O,
             coef + L.w_out, <int> O, <floating> 0.0, tmp, <int> L.RH)

    # tangent backward pass: Dd[t] = d delta(t)
    for t in range(Tm - 1, t_lo - 1, -1):
        row = Dd + t * B * H
        if t == Tm - 1:
            memset(row, 0, B * H * sizeof(floating))
        else:  # row holds P(t+1) already
            gemm(False, True, <int> B, <int> H, <int> H, <floating> 1.0, Dd + (t + 1) * B * H,
                 <int> H, W, <int> H, <floating> 1.0, row, <int> H)
        for b in range(B):
            e = lengths[idx[b]] - 1
            if t > e:
                continue  # nothing flows before the sequence's end (rows stay zero)
            row = Dd + (t * B + b) * H
            z = Z + ((t + 1) * B + b) * H
            if exact:
                d = D + (t * B + b) * H
                a = Ad + (t * B + b) * H
                src = _injection(tmp + b * L.RH, L, t, e + 1, work + L.arg + b * H, H,
                                 work + L.inj)
                if src != NULL:
                    for j in range(H):
                        row[j] = (row[j] + src[j]) * (1 - z[j] * z[j]) - 2 * d[j] * z[j] * a[j]
                else:
                    for j in range(H):
                        row[j] = row[j] * (1 - z[j] * z[j]) - 2 * d[j] * z[j] * a[j]
            else:
                for j in range(H):
                    row[j] = row[j] * (1 - z[j] * z[j])

    for b in range(B):
        e = lengths[idx[b]] - 1
        s = e - (qdepth if qdepth < e else e)
        d = D + (s * B + b) * H
        row = Dd + (s * B + b) * H
        ssq = 0.0
        acc = 0.0
        for j in range(H):
            ssq += d[j] * d[j]
            acc += d[j] * row[j]
        S_b[b] = 0.5 * ssq
        dS_b[b] = acc
        d = D + (e * B + b) * H
        row = Dd + (e * B + b) * H
        ssq = 0.0
        acc = 0.0
        for j in range(H):
            ssq += d[j] * d[j]
            acc += d[j] * row[j]
        E_b[b] = 0.5 * ssq
        dE_b[b] = acc  # zero in linear mode: delta(T) is held fixed
        if sw != NULL:
            wb = sw[idx[b]]
            if wb > 0.0:
                S_b[b] /= wb
                dS_b[b] /= wb
                E_b[b] /= wb
                dE_b[b] /= wb
            else:
                S_b[b] = dS_b[b] = E_b[b] = dE_b[b] = 0.0


cdef void _measured_norms(const int *lengths, const Py_ssize_t *idx, const floating *Y,
                          Py_ssize_t T_all, Py_ssize_t B, Py_ssize_t Tm, const floating *coef,
                          Py_ssize_t H, Py_ssize_t O, Py_ssize_t qdepth, bint exact, int head,
                          Layout L, floating *work, double *S_b, double *dS_b, double *E_b,
                          double *dE_b, const floating *sw, double sw_sum) noexcept nogil:
    """``_norm_change`` of the errors the rule measures: per step, the last steps' alone.

    Many-to-one: ``_norm_change`` as it is. Per step: the deltas of each
    sequence's last-step error (into ``L.Dl``, with those errors gathered in
    ``L.el``), then ``_norm_change`` on the view of a last-step readout.
    """
    cdef Layout V = L
    cdef floating *Dl = work + L.Dl
    cdef floating *row
    cdef const floating *z
    cdef const floating *inj
    cdef Py_ssize_t b, t, j, e, t_lo = Tm
    if L.r.per_step:
        for b in range(B):
            e = lengths[idx[b]] - 1
            memcpy(work + L.el + b * O, work + L.err + (e * B + b) * O, O * sizeof(floating))
            e = e - (qdepth if qdepth < e else e)
            if e < t_lo:
                t_lo = e
        for t in range(Tm - 1, t_lo - 1, -1):
            row = Dl + t * B * H
            if t == Tm - 1:
                memset(row, 0, B * H * sizeof(floating))
            else:
                gemm(False, True, <int> B, <int> H, <int> H, <floating> 1.0, Dl + (t + 1) * B * H,
                     <int> H, coef + L.w_rec, <int> H, <floating> 0.0, row, <int> H)
            for b in range(B):
                row = Dl + (t * B + b) * H
                z = work + L.Z + ((t + 1) * B + b) * H
                if t == lengths[idx[b]] - 1:
                    inj = work + L.dz + (t * B + b) * H
                    for j in range(H):
                        row[j] = (row[j] + inj[j]) * (1 - z[j] * z[j])
                else:
                    for j in range(H):
                        row[j] = row[j] * (1 - z[j] * z[j])
        V.r = _readout(POOL_LAST)
        V.RH = H
        V.D = L.Dl
        V.err = L.el
        V.y_at_last = True
    _norm_change(lengths, idx, Y, T_all, B, Tm, coef, H, O, qdepth, exact, head, V, work,
                 S_b, dS_b, E_b, dE_b, sw, sw_sum)


cdef inline double _q_factor(double E, double S) noexcept nogil:
    """log10(||delta(T)|| / ||delta(T-h)||) from the half squared norms; +inf if S == 0."""
    if S <= 0.0:
        return INFINITY if E > 0.0 else NAN
    if E <= 0.0:
        return -INFINITY
    return 0.5 * (log10(E) - log10(S))


cdef inline double _steering(double S, double dS, double E, double dE, bint by_q) noexcept nogil:
    """What the rule wants positive when the gradient vanishes: dS, or dS/S - dE/E (-dQ)."""
    if by_q and S > 0.0 and E > 0.0:
        return dS / S - dE / E
    return dS


cdef inline bint _accept(double Q, double S, double dS, double g, double q_min, double q_max,
                         double ds_max) noexcept nogil:
    """The selection rule (paper's text, not its pseudo-code box; see the docs).

    ``g`` is the steering quantity (dS, or -dQ up to a factor); the cap
    compares ``|dS|`` with ``ds_max * S``.
    """
    if ds_max > 0.0 and fabs(dS) > ds_max * S:
        return False
    if Q > q_max:   # vanishing: only steps that increase the long-term norm
        return g > 0.0
    if Q < q_min:   # exploding: only steps that decrease it
        return g < 0.0
    return True     # safe range (or Q undefined)


cdef inline double _favour(double Q, double g, double q_min, double q_max) noexcept nogil:
    """How much a rejected candidate moves the norm the wanted way (larger is better)."""
    if Q > q_max:
        return g
    if Q < q_min:
        return -g
    return -fabs(g)


def norm_change(const floating[:, :, ::1] X,   # IN (n, T, F) zero after each end
                const floating[:, ::1] Y,      # IN (n, O)
                const int[::1] lengths,        # IN (n,)
                const floating[::1] coef,      # IN flat parameters
                const floating[:, ::1] direction,  # IN (H, H) direction for W_rec
                int n_hidden, int head, int q_depth, bint exact,
                const floating[::1] sample_weight=None,  # IN (n,) weights or None
                int readout=READOUT_LAST):     # the readout's pools (see Pool)
    """S, dS, Q of all n sequences taken as one minibatch, and the per-sequence arrays.

    ``q_depth <= 0`` measures over whole sequences. Returns
    ``(S, dS, Q, S_b, dS_b, E_b, dE_b)`` with ``E = 0.5 ||delta(T)||^2``.
    With ``sample_weight`` (not all 0), those of the weighted mean loss,
    per sequence divided by its weight (see above). ``READOUT_STEPS``: ``Y``
    is (n, T O), and the deltas measured are the last steps' errors' (above).
    """
    import numpy as np
    cdef Py_ssize_t n = X.shape[0], T = X.shape[1], F = X.shape[2]
    cdef Py_ssize_t H = n_hidden, O = _n_outputs("Y", Y.shape[1], T, readout), b
    _check_enums(head, SELECT_MINIBATCH)
    _check_data("X", n, T, F, "Y", Y.shape[0], lengths)
    _check_network(coef.shape[0], F, n_hidden, O, readout)
    _check_weights(sample_weight, n, True)
    cdef const floating *sw = NULL if sample_weight is None else &sample_weight[0]
    cdef Layout L = _layout(n, T, F, H, O, _readout(readout))
    if direction.shape[0] != H or direction.shape[1] != H:
        raise ValueError(f"direction must have shape ({H}, {H})")
    dtype = np.float32 if floating is float else np.float64
    cdef floating[::1] work = np.zeros(workspace_size(n, T, F, H, O, True, readout),
                                       dtype=dtype)
    cdef Py_ssize_t[::1] idx = np.arange(n, dtype=np.intp)
    cdef double[::1] S_b = np.zeros(n), dS_b = np.zeros(n), E_b = np.zeros(n)
    cdef double[::1] dE_b = np.zeros(n)
    cdef double S = 0, dS = 0, E = 0, W
    cdef Py_ssize_t depth = T if q_depth <= 0 else q_depth
    with nogil:
        _forward(&X[0, 0, 0], T, F, &lengths[0], &idx[0], n, T, &coef[0], H, O, L,
                 &work[0], &work[L.err])
        W = _normaliser(L, sw, &lengths[0], &idx[0], n, False)
        _loss_error(L, &work[L.err], &Y[0, 0], T, &lengths[0], &idx[0], n, T, O, head, sw, W)
        _backward(&lengths[0], &idx[0], n, T, F, &coef[0], H, O, T, L, &work[0])
        memcpy(&work[L.dW], &direction[0, 0], H * H * sizeof(floating))
        _measured_norms(&lengths[0], &idx[0], &Y[0, 0], T, n, T, &coef[0], H, O, depth, exact,
                        head, L, &work[0], &S_b[0], &dS_b[0], &E_b[0], &dE_b[0], sw, W)
        for b in range(n):
            S += S_b[b]
            dS += dS_b[b]
            E += E_b[b]
    return (S, dS, _q_factor(E, S), np.asarray(S_b), np.asarray(dS_b), np.asarray(E_b),
            np.asarray(dE_b))


def accept_candidate(double Q, double S, double dS, double q_min, double q_max, double ds_max=0.0,
                     double E=0.0, double dE=0.0, bint by_q=False):
    """The selection rule for one candidate, exposed for tests and documentation."""
    return _accept(Q, S, dS, _steering(S, dS, E, dE, by_q), q_min, q_max, ds_max)
