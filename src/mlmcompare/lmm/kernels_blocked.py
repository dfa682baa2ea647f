"""Compiled loops of the objective with several grouping factors (the blocked Cholesky).

The mathematics is in :mod:`.blocked`; this module only follows it.  The
random effects are split in two: the levels of the first factor (the one
with most levels; its block of Omega = Lambda'Z'Z Lambda + I is
block-diagonal, one q1 x q1 block per level) and "the rest" (every level of
every other factor: one *node* of q_t scalar columns each, in a
fill-reducing elimination order).  The rest's block is stored either dense
(column-major, lower triangle; LAPACK factors it at the Python level) or as
a sparse lower triangle in compressed columns with a pattern fixed once,
factored here.  Every write into the rest's block goes through a position
computed once (``*_pos`` arrays), so the same loops serve both storages.

Block layouts: a block M_{a,b} of q_a x q_b numbers is stored row-major from
its offset; Lambda is the template matrix whose diagonal blocks are the
factors' lambda_t (lower-triangular), factor t from column ``off_t``.

* :func:`fill_rest`: Lambda' M_rr Lambda + I and Lambda'[Z'y, Z'X] for the rest;
* :func:`first_factor_pass`: per level j of the first factor, L_jj, the
  solves L_jj^{-1} lambda_1'[Z_j'y, Z_j'X], the blocks L_{R_j,j} to the rest
  nodes R_j that share rows with j, and the Schur complement updates;
* :func:`sparse_cholesky`, :func:`sparse_forward`, :func:`sparse_backward`,
  :func:`sparse_selected_inverse` (Takahashi's equations on the pattern of
  L), :func:`dense_forward`, :func:`dense_backward`;
* :func:`backward_first`, :func:`random_products` (Z'[y X] - M Lambda x),
  :func:`first_selected_inverse` and :func:`rest_f_sums`: what the analytic
  gradient needs after a factorisation;
* :func:`schur_positions`, :func:`sparse_position`: the positions, once.
"""

from __future__ import annotations

import numba
import numpy as np

from .kernels import _cholesky_in_place

__all__ = [
    "fill_rest",
    "first_factor_pass",
    "sparse_cholesky",
    "sparse_forward",
    "sparse_backward",
    "sparse_selected_inverse",
    "dense_forward",
    "dense_backward",
    "backward_first",
    "random_products",
    "first_selected_inverse",
    "rest_f_sums",
    "schur_positions",
    "block_positions",
    "log_diagonal",
]

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _sandwich(Lam, oa, qa, ob, qb, val, base, out):
    """out (qa x qb) = lambda_a' M lambda_b, M (qa x qb) row-major in val from base."""
    for i in range(qa):
        for k in range(qb):
            s = 0.0
            for c in range(i, qa):
                t = 0.0
                for d in range(k, qb):
                    t += val[base + c * qb + d] * Lam[ob + d, ob + k]
                s += Lam[oa + c, oa + i] * t
            out[i, k] = s


# ------------------------------------------------------------------ positions
@_jit
def sparse_position(cp, ri, i, k):
    """Position of entry (i, k), i >= k, in a compressed-column lower triangle; -1 if absent."""
    lo, hi = cp[k], cp[k + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        r = ri[mid]
        if r == i:
            return mid
        if r < i:
            lo = mid + 1
        else:
            hi = mid
    return -1


@_jit
def _position(dense, nr, cp, ri, i, k):
    if i < k:
        i, k = k, i
    if dense:
        return k * nr + i
    return sparse_position(cp, ri, i, k)


@_jit
def block_positions(dense, nr, cp, ri, rs_start, rs_q, blk_a, blk_b, blk_ptr, total):
    """Position (lower triangle) of every entry (i, k) of every rest block M_{a,b}."""
    pos = np.empty(total, dtype=np.int64)
    for blk in range(blk_a.shape[0]):
        a, b = blk_a[blk], blk_b[blk]
        qa, qb = rs_q[a], rs_q[b]
        base = blk_ptr[blk]
        for i in range(qa):
            for k in range(qb):
                pos[base + i * qb + k] = _position(dense, nr, cp, ri, rs_start[a] + i,
                                                   rs_start[b] + k)
    return pos


@_jit
def schur_positions(dense, nr, cp, ri, nb_ptr, nb_node, rs_start, rs_q):
    """Positions of the pairs (i >= k) of rest rows of each first-factor level, in loop order.

    Returns (sch_ptr, sch_pos); the order is that of :func:`first_factor_pass`.
    """
    l1 = nb_ptr.shape[0] - 1
    sch_ptr = np.zeros(l1 + 1, dtype=np.int64)
    for j in range(l1):
        m = 0
        for e in range(nb_ptr[j], nb_ptr[j + 1]):
            m += rs_q[nb_node[e]]
        sch_ptr[j + 1] = sch_ptr[j] + m * (m + 1) // 2
    sch_pos = np.empty(sch_ptr[l1], dtype=np.int64)
    for j in range(l1):
        t = sch_ptr[j]
        for e1 in range(nb_ptr[j], nb_ptr[j + 1]):
            v1 = nb_node[e1]
            for a in range(rs_q[v1]):
                i = rs_start[v1] + a
                for e2 in range(nb_ptr[j], nb_ptr[j + 1]):
                    v2 = nb_node[e2]
                    for b in range(rs_q[v2]):
                        k = rs_start[v2] + b
                        if i >= k:
                            sch_pos[t] = _position(dense, nr, cp, ri, i, k)
                            t += 1
    return sch_ptr, sch_pos


# -------------------------------------------------------------- the rest part
@_jit
def fill_rest(Lam, rs_start, rs_q, rs_off, rb_a, rb_b, rb_ptr, rb_val, rb_pos, diag_pos,
              Xr, yr, Sval, rhs):
    """Sval <- Lambda' M_rr Lambda + I (scattered); rhs <- Lambda'[Z'y, Z'X] of the rest rows."""
    Sval[:] = 0.0
    qmax = 1
    for v in range(rs_q.shape[0]):
        qmax = max(qmax, rs_q[v])
    G = np.empty((qmax, qmax))
    for blk in range(rb_a.shape[0]):
        a, b = rb_a[blk], rb_b[blk]
        qa, qb = rs_q[a], rs_q[b]
        base = rb_ptr[blk]
        _sandwich(Lam, rs_off[a], qa, rs_off[b], qb, rb_val, base, G)
        for i in range(qa):
            for k in range(qb):
                if a != b or i >= k:  # a node's own block: its lower triangle only
                    Sval[rb_pos[base + i * qb + k]] += G[i, k]
    for r in range(diag_pos.shape[0]):
        Sval[diag_pos[r]] += 1.0
    p = Xr.shape[1]
    for v in range(rs_start.shape[0]):
        s0, q, off = rs_start[v], rs_q[v], rs_off[v]
        for a in range(q):
            s = 0.0
            for c in range(a, q):
                s += Lam[off + c, off + a] * yr[s0 + c]
            rhs[s0 + a, 0] = s
            for b in range(p):
                s = 0.0
                for c in range(a, q):
                    s += Lam[off + c, off + a] * Xr[s0 + c, b]
                rhs[s0 + a, 1 + b] = s


@_jit
def first_factor_pass(Lam, M1, X1, y1, nb_ptr, nb_node, nb_vptr, nb_val, sch_ptr, sch_pos,
                      rs_start, rs_q, rs_off, L1, sol1, Lnb, Sval, rhs):
    """The first factor's levels: factors, solves, Schur updates of the rest (see module doc).

    L1 (l1, q1, q1), sol1 (l1, q1, 1+p) and Lnb (like nb_val) are written;
    Sval and rhs are updated.  Returns (log|L_11|^2, ok); the sums over levels
    of the solves' cross-products are one matrix product afterwards.
    """
    l1, q1 = M1.shape[0], M1.shape[1]
    p = X1.shape[2]
    ld = 0.0
    qmax = q1
    for v in range(rs_q.shape[0]):
        qmax = max(qmax, rs_q[v])
    T = np.empty((q1, q1))
    G = np.empty((qmax, q1))
    for j in range(l1):
        # L_jj = chol(lambda1' M_jj lambda1 + I)
        for a in range(q1):
            for b in range(q1):
                s = 0.0
                for c in range(a, q1):
                    s += Lam[c, a] * M1[j, c, b]
                T[a, b] = s
        for a in range(q1):
            for b in range(q1):
                s = 1.0 if a == b else 0.0
                for c in range(b, q1):
                    s += T[a, c] * Lam[c, b]
                L1[j, a, b] = s
        if not _cholesky_in_place(L1[j]):
            return ld, False
        # sol1[j] = L_jj^{-1} lambda1' [Z'y, Z'X]
        for a in range(q1):
            s = 0.0
            for c in range(a, q1):
                s += Lam[c, a] * y1[j, c]
            sol1[j, a, 0] = s
            for b in range(p):
                s = 0.0
                for c in range(a, q1):
                    s += Lam[c, a] * X1[j, c, b]
                sol1[j, a, 1 + b] = s
        det = 1.0
        for i in range(q1):
            lii = L1[j, i, i]
            det *= lii
            for col in range(1 + p):
                s = sol1[j, i, col]
                for t in range(i):
                    s -= L1[j, i, t] * sol1[j, t, col]
                sol1[j, i, col] = s / lii
        ld += 2.0 * np.log(det)
        # L_{v,j} = (lambda_v' M_{v,j} lambda1) L_jj^{-T}
        for e in range(nb_ptr[j], nb_ptr[j + 1]):
            v = nb_node[e]
            qv = rs_q[v]
            base = nb_vptr[e]
            _sandwich(Lam, rs_off[v], qv, 0, q1, nb_val, base, G)
            for a in range(qv):
                for k in range(q1):
                    s = G[a, k]
                    for m in range(k):
                        s -= Lnb[base + a * q1 + m] * L1[j, k, m]
                    Lnb[base + a * q1 + k] = s / L1[j, k, k]
        # Schur complement: S_RR -= L_Rj L_Rj'; rhs_R -= L_Rj sol_j
        t = sch_ptr[j]
        for e1 in range(nb_ptr[j], nb_ptr[j + 1]):
            v1 = nb_node[e1]
            b1 = nb_vptr[e1]
            for a in range(rs_q[v1]):
                i = rs_start[v1] + a
                for e2 in range(nb_ptr[j], nb_ptr[j + 1]):
                    v2 = nb_node[e2]
                    b2 = nb_vptr[e2]
                    for b in range(rs_q[v2]):
                        if i >= rs_start[v2] + b:
                            s = 0.0
                            for m in range(q1):
                                s += Lnb[b1 + a * q1 + m] * Lnb[b2 + b * q1 + m]
                            Sval[sch_pos[t]] -= s
                            t += 1
                for col in range(1 + p):
                    s = 0.0
                    for m in range(q1):
                        s += Lnb[b1 + a * q1 + m] * sol1[j, m, col]
                    rhs[i, col] -= s
    return ld, True


# ---------------------------------------------------------- sparse factor
@_jit
def sparse_cholesky(cp, ri, rl_ptr, rl_col, rl_pos, Lval, work, tail) -> bool:
    """Left-looking Cholesky in place on a compressed-column lower triangle (fixed pattern).

    Lval holds S on entry and L on exit; rows are sorted, the diagonal first
    in each column; rl_* list, for each row j, the earlier columns k with
    L[j, k] in the pattern and the position of that entry.  work (n) is scratch.
    Columns from ``tail`` on (a dense trailing block, factored by LAPACK
    afterwards) only receive the updates of the columns before it.
    """
    n = cp.shape[0] - 1
    for j in range(n):
        for q in range(cp[j], cp[j + 1]):
            work[ri[q]] = Lval[q]
        for t in range(rl_ptr[j], rl_ptr[j + 1]):
            k = rl_col[t]
            if k >= tail:
                break  # row lists are sorted by column
            pk = rl_pos[t]
            ljk = Lval[pk]
            for q in range(pk, cp[k + 1]):
                work[ri[q]] -= Lval[q] * ljk
        if j >= tail:
            for q in range(cp[j], cp[j + 1]):
                Lval[q] = work[ri[q]]
            continue
        d = work[j]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        Lval[cp[j]] = d
        for q in range(cp[j] + 1, cp[j + 1]):
            Lval[q] = work[ri[q]] / d
    return True


@_jit
def sparse_forward(cp, ri, Lval, B):
    """B <- L^{-1} B (B: n x m), L sparse lower."""
    n, m = B.shape
    for j in range(n):
        d = Lval[cp[j]]
        for c in range(m):
            B[j, c] /= d
        for q in range(cp[j] + 1, cp[j + 1]):
            r = ri[q]
            lq = Lval[q]
            for c in range(m):
                B[r, c] -= lq * B[j, c]


@_jit
def sparse_backward(cp, ri, Lval, B):
    """B <- L^{-T} B (B: n x m), L sparse lower."""
    n, m = B.shape
    for j in range(n - 1, -1, -1):
        for q in range(cp[j] + 1, cp[j + 1]):
            r = ri[q]
            lq = Lval[q]
            for c in range(m):
                B[j, c] -= lq * B[r, c]
        d = Lval[cp[j]]
        for c in range(m):
            B[j, c] /= d


@_jit
def sparse_selected_inverse(cp, ri, Lval, Zval, acc, mark, where, tail):
    """Zval <- (L L')^{-1} on the pattern of L (Takahashi's equations), backwards by column.

    Z[i, j] = -(1/L_jj) sum_k Z[i, k] L[k, j] over k in the structure of
    column j, which the filled pattern closes; acc, mark, where are n-scratch.
    Columns from ``tail`` on hold Z already (the dense block's inverse).
    """
    mark[:] = -1
    for j in range(tail - 1, -1, -1):
        dj = Lval[cp[j]]
        for q in range(cp[j] + 1, cp[j + 1]):
            r = ri[q]
            mark[r] = j
            where[r] = q
            acc[r] = 0.0
        for q in range(cp[j] + 1, cp[j + 1]):
            k = ri[q]
            lkj = Lval[q]
            if k >= tail:
                # a full column of the dense tail: Z[i, k] for the rows i >= k of
                # column j's structure sits at cp[k] + (i - k)
                for q2 in range(q, cp[j + 1]):
                    i = ri[q2]
                    z = Zval[cp[k] + (i - k)]
                    acc[i] += z * lkj
                    if i != k:
                        acc[k] += z * Lval[q2]
                continue
            for s in range(cp[k], cp[k + 1]):
                i = ri[s]
                if mark[i] == j:
                    acc[i] += Zval[s] * lkj
                    if i != k:
                        acc[k] += Zval[s] * Lval[where[i]]
        diag = 1.0 / (dj * dj)
        for q in range(cp[j] + 1, cp[j + 1]):
            z = -acc[ri[q]] / dj
            Zval[q] = z
            diag -= z * Lval[q] / dj
        Zval[cp[j]] = diag


@_jit
def log_diagonal(Lval, diag_pos):
    s = 0.0
    for r in range(diag_pos.shape[0]):
        s += np.log(Lval[diag_pos[r]])
    return 2.0 * s


# ------------------------------------------------------------ dense solves
@_jit
def dense_forward(Lf, B):
    """B <- L^{-1} B, L the lower triangle of the column-major Lf (n x n, Fortran order)."""
    n, m = B.shape
    for j in range(n):
        d = Lf[j, j]
        for c in range(m):
            B[j, c] /= d
        for r in range(j + 1, n):
            lq = Lf[r, j]
            for c in range(m):
                B[r, c] -= lq * B[j, c]


@_jit
def dense_backward(Lf, B):
    """B <- L^{-T} B, L the lower triangle of Lf."""
    n, m = B.shape
    for j in range(n - 1, -1, -1):
        for r in range(j + 1, n):
            lq = Lf[r, j]
            for c in range(m):
                B[j, c] -= lq * B[r, c]
        d = Lf[j, j]
        for c in range(m):
            B[j, c] /= d


# ------------------------------------------------------------- for the gradient
@_jit
def backward_first(L1, Lnb, nb_ptr, nb_node, nb_vptr, rs_start, rs_q, sol1, xr, x1):
    """x1[j] = L_jj^{-T} (sol1[j] - L_{R_j,j}' x_R): the first factor's part of L^{-T}."""
    l1, q1 = L1.shape[0], L1.shape[1]
    m = sol1.shape[2]
    for j in range(l1):
        for a in range(q1):
            for c in range(m):
                x1[j, a, c] = sol1[j, a, c]
        for e in range(nb_ptr[j], nb_ptr[j + 1]):
            v = nb_node[e]
            base = nb_vptr[e]
            for b in range(rs_q[v]):
                r = rs_start[v] + b
                for a in range(q1):
                    lv = Lnb[base + b * q1 + a]
                    for c in range(m):
                        x1[j, a, c] -= lv * xr[r, c]
        for a in range(q1 - 1, -1, -1):
            for c in range(m):
                s = x1[j, a, c]
                for t in range(a + 1, q1):
                    s -= L1[j, t, a] * x1[j, t, c]
                x1[j, a, c] = s / L1[j, a, a]


@_jit
def random_products(Lam, M1, X1, y1, nb_ptr, nb_node, nb_vptr, nb_val, rs_start, rs_q, rs_off,
                    rb_a, rb_b, rb_ptr, rb_val, Xr, yr, x1, xr, Q1, Qr):
    """Q = Z'[y X] - M Lambda x for x = (x1, xr), M = Z'Z in all its blocks."""
    l1, q1 = M1.shape[0], M1.shape[1]
    m = x1.shape[2]
    p = m - 1
    # Lambda x, first factor and rest
    lx1 = np.zeros((l1, q1, m))
    for j in range(l1):
        for a in range(q1):
            for c in range(m):
                s = 0.0
                for t in range(a + 1):
                    s += Lam[a, t] * x1[j, t, c]
                lx1[j, a, c] = s
    nr = xr.shape[0]
    lxr = np.zeros((nr, m))
    for v in range(rs_start.shape[0]):
        s0, q, off = rs_start[v], rs_q[v], rs_off[v]
        for a in range(q):
            for c in range(m):
                s = 0.0
                for t in range(a + 1):
                    s += Lam[off + a, off + t] * xr[s0 + t, c]
                lxr[s0 + a, c] = s
    for j in range(l1):
        for a in range(q1):
            Q1[j, a, 0] = y1[j, a]
            for c in range(p):
                Q1[j, a, 1 + c] = X1[j, a, c]
            for b in range(q1):
                mab = M1[j, a, b]
                for c in range(m):
                    Q1[j, a, c] -= mab * lx1[j, b, c]
    for r in range(nr):
        Qr[r, 0] = yr[r]
        for c in range(p):
            Qr[r, 1 + c] = Xr[r, c]
    for j in range(l1):
        for e in range(nb_ptr[j], nb_ptr[j + 1]):
            v = nb_node[e]
            base = nb_vptr[e]
            for b in range(rs_q[v]):
                r = rs_start[v] + b
                for a in range(q1):
                    mv = nb_val[base + b * q1 + a]
                    for c in range(m):
                        Q1[j, a, c] -= mv * lxr[r, c]
                        Qr[r, c] -= mv * lx1[j, a, c]
    for blk in range(rb_a.shape[0]):
        a, b = rb_a[blk], rb_b[blk]
        qa, qb = rs_q[a], rs_q[b]
        base = rb_ptr[blk]
        for i in range(qa):
            ri_ = rs_start[a] + i
            for k in range(qb):
                rk = rs_start[b] + k
                mv = rb_val[base + i * qb + k]
                for c in range(m):
                    Qr[ri_, c] -= mv * lxr[rk, c]
                if a != b:
                    for c in range(m):
                        Qr[rk, c] -= mv * lxr[ri_, c]


@_jit
def first_selected_inverse(Lam, M1, nb_ptr, nb_node, nb_vptr, nb_val, sch_ptr, sch_pos,
                           rs_start, rs_q, rs_off, L1, Lnb, Zval, Z1, F1, Fr):
    """The first factor's blocks of Omega^{-1} and their part of the F sums.

    Z_{R,j} = -Z_RR L_{R,j} L_jj^{-1} and Z_jj = L_jj^{-T}(I + L_{R,j}'Z_RR L_{R,j})L_jj^{-1},
    with Z_RR read from Zval (the rest's selected inverse) at the Schur
    positions.  Z1[j] = Z_jj is written; F1 (q1 x q1) gets
    sum_j [Z_jj lambda1' M_jj + sum_v Z_{j,v} lambda_v' M_{v,j}], and Fr (nr x qmax)
    the rows Z_{v,j} lambda1' M_{j,v} for each rest node v (a q_v x q_v block
    at its rows).
    """
    l1, q1 = M1.shape[0], M1.shape[1]
    mmax = 0
    for j in range(l1):
        m = 0
        for e in range(nb_ptr[j], nb_ptr[j + 1]):
            m += rs_q[nb_node[e]]
        mmax = max(mmax, m)
    Y = np.zeros((max(mmax, 1), q1))
    ZR = np.zeros((max(mmax, 1), q1))
    YH = np.empty((q1, q1))
    Li = np.empty((q1, q1))
    W = np.empty((q1, q1))
    lm = np.empty((q1, q1))
    qmax = 1
    for v in range(rs_q.shape[0]):
        qmax = max(qmax, rs_q[v])
    tmp = np.empty((q1, qmax))
    for j in range(l1):
        e0, e1_ = nb_ptr[j], nb_ptr[j + 1]
        m = 0
        for e in range(e0, e1_):
            m += rs_q[nb_node[e]]
        for r in range(m):
            for a in range(q1):
                Y[r, a] = 0.0
        # Y = Z_RR H, H = L_{R,j}; pairs (i >= k) in the Schur order
        t = sch_ptr[j]
        ii = 0
        for ea in range(e0, e1_):
            va = nb_node[ea]
            ba = nb_vptr[ea]
            for a in range(rs_q[va]):
                i = rs_start[va] + a
                kk = 0
                for eb in range(e0, e1_):
                    vb = nb_node[eb]
                    bb = nb_vptr[eb]
                    for b in range(rs_q[vb]):
                        if i >= rs_start[vb] + b:
                            z = Zval[sch_pos[t]]
                            t += 1
                            for c in range(q1):
                                Y[ii, c] += z * Lnb[bb + b * q1 + c]
                            if i != rs_start[vb] + b:
                                for c in range(q1):
                                    Y[kk, c] += z * Lnb[ba + a * q1 + c]
                        kk += 1
                ii += 1
        # Li = L_jj^{-1}
        for c in range(q1):
            for i in range(q1):
                if i < c:
                    Li[i, c] = 0.0
                else:
                    s = 1.0 if i == c else 0.0
                    for k in range(c, i):
                        s -= L1[j, i, k] * Li[k, c]
                    Li[i, c] = s / L1[j, i, i]
        # ZR = -Y Li (m x q1); YH = I + H'Y
        for r in range(m):
            for c in range(q1):
                s = 0.0
                for k in range(c, q1):
                    s += Y[r, k] * Li[k, c]
                ZR[r, c] = -s
        for a in range(q1):
            for b in range(q1):
                YH[a, b] = 1.0 if a == b else 0.0
        ii = 0
        for e in range(e0, e1_):
            v = nb_node[e]
            base = nb_vptr[e]
            for a in range(rs_q[v]):
                for c in range(q1):
                    for d in range(q1):
                        YH[c, d] += Lnb[base + a * q1 + c] * Y[ii, d]
                ii += 1
        # Z_jj = Li' YH Li
        for a in range(q1):
            for b in range(q1):
                s = 0.0
                for k in range(q1):
                    s += YH[a, k] * Li[k, b]
                W[a, b] = s
        for a in range(q1):
            for b in range(q1):
                s = 0.0
                for k in range(q1):
                    s += Li[k, a] * W[k, b]
                Z1[j, a, b] = s
        # F1 += Z_jj lambda1' M_jj
        for a in range(q1):
            for b in range(q1):
                s = 0.0
                for c in range(a, q1):
                    s += Lam[c, a] * M1[j, c, b]
                lm[a, b] = s
        for a in range(q1):
            for b in range(q1):
                s = 0.0
                for k in range(q1):
                    s += Z1[j, a, k] * lm[k, b]
                F1[a, b] += s
        # neighbours: F1 += Z_{j,v} lambda_v' M_{v,j};  Fr[v] += Z_{v,j} lambda1' M_{j,v}
        ii = 0
        for e in range(e0, e1_):
            v = nb_node[e]
            qv = rs_q[v]
            base = nb_vptr[e]
            off = rs_off[v]
            # tmp (q1 x qv) = Z_{j,v} lambda_v' = ZR[ii:ii+qv]' lambda_v'
            for a in range(q1):
                for c in range(qv):
                    s = 0.0
                    for k in range(c + 1):  # (lambda_v')[k, c] = lambda_v[c, k], lower: k <= c
                        s += ZR[ii + k, a] * Lam[off + c, off + k]
                    tmp[a, c] = s
            for a in range(q1):
                for b in range(q1):
                    s = 0.0
                    for c in range(qv):
                        s += tmp[a, c] * nb_val[base + c * q1 + b]
                    F1[a, b] += s
            # Z_{v,j} lambda1' M_{j,v}: (qv x q1)(q1 x q1)(q1 x qv)
            for a in range(qv):
                for b in range(qv):
                    s = 0.0
                    for c in range(q1):
                        lmv = 0.0
                        for d in range(c, q1):
                            lmv += Lam[d, c] * nb_val[base + b * q1 + d]
                        s += ZR[ii + a, c] * lmv
                    Fr[rs_start[v] + a, b] += s
            ii += qv


@_jit
def rest_f_sums(Lam, rs_start, rs_q, rs_off, rb_a, rb_b, rb_ptr, rb_val, rb_pos, Zval, Fr):
    """Fr[v] += sum over rest blocks of Z_{v,w} lambda_w' M_{w,v} (q_v x q_v at v's rows)."""
    qmax = 1
    for v in range(rs_q.shape[0]):
        qmax = max(qmax, rs_q[v])
    Zab = np.empty((qmax, qmax))
    for blk in range(rb_a.shape[0]):
        a, b = rb_a[blk], rb_b[blk]
        qa, qb = rs_q[a], rs_q[b]
        oa, ob = rs_off[a], rs_off[b]
        base = rb_ptr[blk]
        for i in range(qa):
            for k in range(qb):
                Zab[i, k] = Zval[rb_pos[base + i * qb + k]]
        # Fr[a] += Z_ab lambda_b' M_ab'
        for i in range(qa):
            for k in range(qa):
                s = 0.0
                for c in range(qb):
                    t = 0.0
                    for d in range(c, qb):
                        t += Lam[ob + d, ob + c] * rb_val[base + k * qb + d]
                    s += Zab[i, c] * t
                Fr[rs_start[a] + i, k] += s
        if a != b:
            # Fr[b] += Z_ab' lambda_a' M_ab
            for i in range(qb):
                for k in range(qb):
                    s = 0.0
                    for c in range(qa):
                        t = 0.0
                        for d in range(c, qa):
                            t += Lam[oa + d, oa + c] * rb_val[base + d * qb + k]
                        s += Zab[c, i] * t
                    Fr[rs_start[b] + i, k] += s


# ------------------------------------------------------------ the rows, once
@_jit
def accumulate_cross(pair, Zs, Zt, out):
    """out[pair[r]] += Zs[r]' Zt[r] over the rows: Z_s'Z_t per pair of levels."""
    n = pair.shape[0]
    qs, qt = Zs.shape[1], Zt.shape[1]
    for r in range(n):
        g = pair[r]
        for a in range(qs):
            za = Zs[r, a]
            for b in range(qt):
                out[g, a, b] += za * Zt[r, b]


# ------------------------------------------------------------- the ordering
@_jit
def minimum_degree_dense(indptr, indices, V):
    """Minimum-degree elimination order of a symmetric pattern (boolean adjacency, V <= a few 1000).

    Returns (order, later_ptr, later) with the later neighbours of each node
    at its elimination (the node-level pattern of L), in elimination order.
    Ties go to the lower index.  Cost: V^2 bits and sum of squared degrees.
    """
    adj = np.zeros((V, V), dtype=np.bool_)
    deg = np.zeros(V, dtype=np.int64)
    for v in range(V):
        for t in range(indptr[v], indptr[v + 1]):
            u = indices[t]
            if u != v and not adj[v, u]:
                adj[v, u] = True
                deg[v] += 1
    done = np.zeros(V, dtype=np.bool_)
    order = np.empty(V, dtype=np.int64)
    later_ptr = np.zeros(V + 1, dtype=np.int64)
    later = np.empty(0, dtype=np.int64)
    cap = 0
    nb = np.empty(V, dtype=np.int64)
    for step in range(V):
        v = -1
        best = V + 1
        for u in range(V):
            if not done[u] and deg[u] < best:
                best = deg[u]
                v = u
        done[v] = True
        order[step] = v
        m = 0
        for u in range(V):
            if adj[v, u] and not done[u]:
                nb[m] = u
                m += 1
        if later_ptr[step] + m > cap:
            cap = max(2 * cap, later_ptr[step] + m + 1024)
            grown = np.empty(cap, dtype=np.int64)
            grown[:later_ptr[step]] = later[:later_ptr[step]]
            later = grown
        for i in range(m):
            later[later_ptr[step] + i] = nb[i]
        later_ptr[step + 1] = later_ptr[step] + m
        for i in range(m):
            u = nb[i]
            deg[u] -= 1  # v is gone
            for k in range(m):
                w = nb[k]
                if w != u and not adj[u, w]:
                    adj[u, w] = True
                    deg[u] += 1
    return order, later_ptr, later[:later_ptr[V]]


@_jit
def scalar_pattern(order_q, order_start, position, later_ptr, later):
    """Compressed columns of L (scalar rows) from the node-level pattern, nodes in elimination order.

    Node k (elimination position) has q = order_q[k] scalar columns from
    order_start[k]; its later neighbours are nodes (original ids) whose
    positions ``position`` give their rows.  Rows sorted, the diagonal first.
    """
    V = order_q.shape[0]
    nr = 0
    for k in range(V):
        nr += order_q[k]
    counts = np.zeros(nr, dtype=np.int64)
    total = 0
    for k in range(V):
        rows_after = 0
        for t in range(later_ptr[k], later_ptr[k + 1]):
            rows_after += order_q[position[later[t]]]
        q = order_q[k]
        for a in range(q):
            counts[order_start[k] + a] = (q - a) + rows_after
            total += (q - a) + rows_after
    cp = np.zeros(nr + 1, dtype=np.int64)
    for c in range(nr):
        cp[c + 1] = cp[c] + counts[c]
    ri = np.empty(total, dtype=np.int64)
    pos = np.empty(V, dtype=np.int64)
    for k in range(V):
        m = later_ptr[k + 1] - later_ptr[k]
        for i in range(m):
            pos[i] = position[later[later_ptr[k] + i]]
        srt = np.sort(pos[:m])
        q = order_q[k]
        for a in range(q):
            c = order_start[k] + a
            t = cp[c]
            for b in range(a, q):
                ri[t] = order_start[k] + b
                t += 1
            for i in range(m):
                w = srt[i]
                for b in range(order_q[w]):
                    ri[t] = order_start[w] + b
                    t += 1
    return cp, ri

