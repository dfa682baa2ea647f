"""Compiled loops of the engine: the pass over the rows and the pass over the groups.

This module owns the arithmetic that runs once per row (building the
sufficient statistics) and once per group per objective evaluation (the
per-group Cholesky factors and solves, and the sums the gradient needs).
Each loop is written out in scalar form and compiled by numba, because the
per-group matrices are tiny (q x q with q = 1..4, p = 2..10 columns): numpy
would spend its time in call overhead, one batched call per small step, and
an evaluation on 160 groups would cost ~200 us instead of a few.

The mathematics is documented where it is used (:mod:`.objective`,
:mod:`.stats`); the functions here only follow it:

* :func:`accumulate_rows`: per-group Z'Z, Z'X, Z'y, y'y, sums and totals, in
  one pass over the rows in their given order (no sort);
* :func:`group_pass`: L_j = chol(Lambda' Z_j'Z_j Lambda + I) and
  L_j^{-1} Lambda' [Z_j'y, Z_j'X, Z_j'Z_j] for every group, with the sums
  over groups that the fixed-effects step needs;
* :func:`fixed_pass`: the p x p step (Cholesky of X'V0^{-1}X, beta, r^2);
* :func:`gradient_pieces`: M, W and sum_j P_j A^{-1} P_j' of the gradient;
* :func:`deviance_gradient`: the three above fused, for the optimizer;
* :func:`varpar_gradient`: the same in (theta, sigma), for Satterthwaite's df;
* :func:`quasi_newton`: the optimizer's main search (BFGS) around it;
* :func:`moment_sums`: per-group least squares of y on Z, summed (for the start).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "accumulate_rows",
    "group_pass",
    "fixed_pass",
    "gradient_pieces",
    "deviance_gradient",
    "varpar_gradient",
    "profiled_deviance",
    "quasi_newton",
    "moment_sums",
]

LOG2PI = float(np.log(2.0 * np.pi))

# cache=True keeps the machine code next to this file, so a new process (a
# Snakemake step, a test worker) loads it instead of compiling again
_jit = numba.njit(cache=True, nogil=True)

# The pass over the rows takes the caller's arrays as they come: a
# Fortran-order design, pandas' read-only arrow-backed columns, C-order
# simulations. Left to itself numba compiles one version per layout and
# flag, and a cold pipeline job paid for each new one; a copy to one layout
# costs about as much as the strided reads (15% of a 2-million-row fit). So
# its signature is given: any layout, read-only inputs, C-order outputs, one
# version, compiled and cached at install.
_ANY = {d: numba.types.Array(numba.float64, d, "A", readonly=True) for d in (1, 2)}
_OUT = {d: numba.types.Array(numba.float64, d, "C") for d in (1, 2, 3)}
_ROWS_SIGNATURE = (numba.types.Array(numba.intp, 1, "A", readonly=True), _ANY[2], _ANY[2], _ANY[1], _ANY[1],
                   numba.float64, _OUT[1], _OUT[3], _OUT[1], _OUT[1], _OUT[2], _OUT[2], _OUT[1])


@numba.njit([_ROWS_SIGNATURE], cache=True, nogil=True)
def accumulate_rows(codes, X, Z, y, x_shift, y_shift, n_j, ZW, yty_j, ysum_j, zsum_j, XtX, Xty):
    """Add the rows' contributions to the per-group arrays and totals (in place).

    ZW[g] holds Z_g'[Z_g, X_g - x_shift, y_g - y_shift] (q x (q+p+1)).
    Returns the rows' sum of (y - y_shift)^2.  Any memory layout of X and Z,
    read-only or not (one compiled version, see _ROWS_SIGNATURE).
    """
    n, p = X.shape
    q = Z.shape[1]
    m = q + p + 1
    w = np.empty(m)
    yty = 0.0
    for r in range(n):
        g = codes[r]
        for a in range(q):
            w[a] = Z[r, a]
        for a in range(p):
            w[q + a] = X[r, a] - x_shift[a]
        yc = y[r] - y_shift
        w[m - 1] = yc
        n_j[g] += 1.0
        for a in range(q):
            za = w[a]
            zsum_j[g, a] += za
            for b in range(m):
                ZW[g, a, b] += za * w[b]
        yty_j[g] += yc * yc
        ysum_j[g] += yc
        for a in range(p):
            xa = w[q + a]
            Xty[a] += xa * yc
            for b in range(p):
                XtX[a, b] += xa * w[q + b]
        yty += yc * yc
    return yty


@_jit
def _cholesky_in_place(M) -> bool:
    """Lower Cholesky factor of the symmetric M, written over M; False if not positive definite."""
    k = M.shape[0]
    for j in range(k):
        s = M[j, j]
        for t in range(j):
            s -= M[j, t] * M[j, t]
        if not s > 0.0:
            return False
        d = np.sqrt(s)
        M[j, j] = d
        for i in range(j + 1, k):
            s = M[i, j]
            for t in range(j):
                s -= M[i, t] * M[j, t]
            M[i, j] = s / d
        for i in range(j):
            M[i, j] = 0.0
    return True


@_jit
def group_pass(Lam, ZtZ, ZtX, Zty, L, sol):
    """Per-group factors and solves, written into L (J, q, q) and sol (J, q, 1+p+q).

    sol[j] = L_j^{-1} Lambda' [Z_j'y, Z_j'X, Z_j'Z_j] = [c_j, C_j, K_j].
    Returns (sum_j C_j'C_j, sum_j C_j'c_j, sum_j c_j'c_j, log|L|^2, ok).
    """
    J, q = ZtZ.shape[0], ZtZ.shape[1]
    p = ZtX.shape[2]
    m = 1 + p + q
    CtC = np.zeros((p, p))
    Ctc = np.zeros(p)
    ctc = 0.0
    ld = 0.0
    T = np.empty((q, q))
    for j in range(J):
        # T = Lambda' S_j; L_j <- T Lambda + I
        for a in range(q):
            for b in range(q):
                s = 0.0
                for c in range(q):
                    s += Lam[c, a] * ZtZ[j, c, b]
                T[a, b] = s
        for a in range(q):
            for b in range(q):
                s = 1.0 if a == b else 0.0
                for c in range(q):
                    s += T[a, c] * Lam[c, b]
                L[j, a, b] = s
        if not _cholesky_in_place(L[j]):
            return CtC, Ctc, ctc, ld, False
        for a in range(q):
            s = 0.0
            for c in range(q):
                s += Lam[c, a] * Zty[j, c]
            sol[j, a, 0] = s
            for b in range(p):
                s = 0.0
                for c in range(q):
                    s += Lam[c, a] * ZtX[j, c, b]
                sol[j, a, 1 + b] = s
            for b in range(q):
                sol[j, a, 1 + p + b] = T[a, b]
        det = 1.0
        for i in range(q):
            lii = L[j, i, i]
            det *= lii
            inv = 1.0 / lii  # one division per row instead of one per column
            for col in range(m):
                s = sol[j, i, col]
                for t in range(i):
                    s -= L[j, i, t] * sol[j, t, col]
                sol[j, i, col] = s * inv
        ld += 2.0 * np.log(det)  # one logarithm per group (det >= 1: no underflow)
        for i in range(q):
            ci = sol[j, i, 0]
            ctc += ci * ci
            for a in range(p):
                Cia = sol[j, i, 1 + a]
                Ctc[a] += Cia * ci
                for b in range(a + 1):  # lower triangle; mirrored below
                    CtC[a, b] += Cia * sol[j, i, 1 + b]
    for a in range(p):
        for b in range(a):
            CtC[b, a] = CtC[a, b]
    return CtC, Ctc, ctc, ld, True


@_jit
def fixed_pass(XtX, Xty, yty, CtC, Ctc, ctc):
    """The fixed-effects step: A = X'V0^{-1}X, its factor, gamma, r^2 and log|R_X|^2."""
    p = XtX.shape[0]
    A = XtX - CtC
    LX = A.copy()
    gamma = np.full(p, np.nan)
    if not _cholesky_in_place(LX):
        return A, LX, gamma, np.nan, np.nan, False
    rx = Xty - Ctc
    z = np.empty(p)
    for i in range(p):
        s = rx[i]
        for t in range(i):
            s -= LX[i, t] * z[t]
        z[i] = s / LX[i, i]
    for i in range(p - 1, -1, -1):
        s = z[i]
        for t in range(i + 1, p):
            s -= LX[t, i] * gamma[t]
        gamma[i] = s / LX[i, i]
    r2 = yty - ctc
    ldRX2 = 0.0
    for i in range(p):
        r2 -= z[i] * z[i]
        ldRX2 += 2.0 * np.log(LX[i, i])
    return A, LX, gamma, r2, ldRX2, True


@_jit
def _inverse_into(L, Linv, Ainv):
    """Ainv <- (L L')^{-1} for a lower-triangular L, through Linv = L^{-1} (scratch)."""
    k = L.shape[0]
    for c in range(k):
        for i in range(c):
            Linv[i, c] = 0.0
        for i in range(c, k):
            s = 1.0 if i == c else 0.0
            for t in range(c, i):
                s -= L[i, t] * Linv[t, c]
            Linv[i, c] = s / L[i, i]
    for a in range(k):
        for b in range(k):
            s = 0.0
            for t in range(max(a, b), k):
                s += Linv[t, a] * Linv[t, b]
            Ainv[a, b] = s


@_jit
def inverse_from_factor(LX):
    """A^{-1} from the lower Cholesky factor of A."""
    p = LX.shape[0]
    Ainv = np.empty((p, p))
    _inverse_into(LX, np.empty((p, p)), Ainv)
    return Ainv


@_jit
def gradient_pieces(ZtZ, ZtX, Zty, sol, gamma, Ainv, with_pap, P):
    """M = sum_j Z_j'V0_j^{-1}Z_j, W = sum_j w_j w_j', PAP = sum_j P_j A^{-1} P_j'.

    P_j = Z_j'V0_j^{-1}X_j is written into P (J, q, p) (pass a (0, q, p)
    array when it is not wanted); PAP is computed only when ``with_pap``.
    """
    J, q = ZtZ.shape[0], ZtZ.shape[1]
    p = ZtX.shape[2]
    keep_P = P.shape[0] == J
    M = np.zeros((q, q))
    W = np.zeros((q, q))
    PAP = np.zeros((q, q))
    Pj = np.empty((q, p))
    PA = np.empty((q, p))
    r = np.empty(q)
    w = np.empty(q)
    for j in range(J):
        # r_j = c_j - C_j gamma;  w_j = (Z_j'y - Z_j'X gamma) - K_j' r_j
        for i in range(q):
            s = sol[j, i, 0]
            for b in range(p):
                s -= sol[j, i, 1 + b] * gamma[b]
            r[i] = s
        for a in range(q):
            s = Zty[j, a]
            for b in range(p):
                s -= ZtX[j, a, b] * gamma[b]
            for i in range(q):
                s -= sol[j, i, 1 + p + a] * r[i]
            w[a] = s
        for a in range(q):
            for b in range(a + 1):  # lower triangles; mirrored below
                s = ZtZ[j, a, b]
                for i in range(q):
                    s -= sol[j, i, 1 + p + a] * sol[j, i, 1 + p + b]
                M[a, b] += s
                W[a, b] += w[a] * w[b]
            for b in range(p):
                s = ZtX[j, a, b]
                for i in range(q):
                    s -= sol[j, i, 1 + p + a] * sol[j, i, 1 + b]
                Pj[a, b] = s
                if keep_P:
                    P[j, a, b] = s
        if with_pap:
            for a in range(q):
                for b in range(p):
                    s = 0.0
                    for t in range(p):
                        s += Pj[a, t] * Ainv[t, b]
                    PA[a, b] = s
            for a in range(q):
                for b in range(a + 1):
                    s = 0.0
                    for t in range(p):
                        s += PA[a, t] * Pj[b, t]
                    PAP[a, b] += s
    for a in range(q):
        for b in range(a):
            M[b, a] = M[a, b]
            W[b, a] = W[a, b]
            PAP[b, a] = PAP[a, b]
    return M, W, PAP


@_jit
def profiled_deviance(ldL2, ldRX2, r2, nobs, p, reml):
    """-2 (restricted) log-likelihood profiled over sigma; inf where undefined."""
    if not r2 > 0.0:
        return np.inf
    if reml:
        m = nobs - p
        return ldL2 + ldRX2 + m * (1.0 + LOG2PI + np.log(r2 / m))
    return ldL2 + nobs * (1.0 + LOG2PI + np.log(r2 / nobs))


@_jit
def deviance_gradient(theta, rows, cols, q, ZtZ, ZtX, Zty, XtX, Xty, yty, nobs, reml, L, sol):
    """Profiled deviance and its gradient in theta (see :mod:`.objective`).

    L and sol are scratch arrays of shapes (J, q, q) and (J, q, 1+p+q).
    """
    k = theta.shape[0]
    p = XtX.shape[0]
    grad = np.full(k, np.nan)
    Lam = np.zeros((q, q))
    for i in range(k):
        Lam[rows[i], cols[i]] = theta[i]
    CtC, Ctc, ctc, ldL2, ok = group_pass(Lam, ZtZ, ZtX, Zty, L, sol)
    if not ok:
        return np.inf, grad
    A, LX, gamma, r2, ldRX2, ok = fixed_pass(XtX, Xty, yty, CtC, Ctc, ctc)
    if not ok:
        return np.inf, grad
    f = profiled_deviance(ldL2, ldRX2, r2, nobs, p, reml)
    if not np.isfinite(f):
        return f, grad
    with_pap = reml and p > 0
    Ainv = inverse_from_factor(LX) if with_pap else np.zeros((p, p))
    M, W, PAP = gradient_pieces(ZtZ, ZtX, Zty, sol, gamma, Ainv, with_pap,
                                np.empty((0, q, p)))
    m = nobs - p if reml else nobs
    G = M - (m / r2) * W - PAP
    GL = G @ Lam
    for i in range(k):
        grad[i] = 2.0 * GL[rows[i], cols[i]]
    return f, grad


@_jit
def varpar_gradient(theta, sigma, rows, cols, q, ZtZ, ZtX, Zty, XtX, Xty, yty, nobs, reml, L, sol):
    """Gradient of the (RE)ML deviance in (theta, sigma), not profiled over sigma
    (see :func:`mlmcompare.lmm.objective.varpar_gradient`); nan where undefined.

    L and sol are scratch arrays of shapes (J, q, q) and (J, q, 1+p+q).
    """
    k = theta.shape[0]
    p = XtX.shape[0]
    grad = np.full(k + 1, np.nan)
    Lam = np.zeros((q, q))
    for i in range(k):
        Lam[rows[i], cols[i]] = theta[i]
    CtC, Ctc, ctc, ldL2, ok = group_pass(Lam, ZtZ, ZtX, Zty, L, sol)
    if not ok:
        return grad
    A, LX, gamma, r2, ldRX2, ok = fixed_pass(XtX, Xty, yty, CtC, Ctc, ctc)
    if not ok:
        return grad
    with_pap = reml and p > 0
    Ainv = inverse_from_factor(LX) if with_pap else np.zeros((p, p))
    M, W, PAP = gradient_pieces(ZtZ, ZtX, Zty, sol, gamma, Ainv, with_pap,
                                np.empty((0, q, p)))
    s2 = sigma * sigma
    G = M - W / s2 - PAP
    GL = G @ Lam
    for i in range(k):
        grad[i] = 2.0 * GL[rows[i], cols[i]]
    m = nobs - p if reml else nobs
    grad[k] = -2.0 * r2 / (s2 * sigma) + 2.0 * m / sigma
    return grad


@_jit
def _cubic_step(t0, f0, d0, t1, f1, d1):
    """Minimiser of the cubic through (t0, f0, slope d0) and (t1, f1, slope d1); nan if none."""
    if t0 == t1:
        return np.nan
    a = d0 + d1 - 3.0 * (f0 - f1) / (t0 - t1)
    disc = a * a - d0 * d1
    if disc < 0.0:
        return np.nan
    b = np.sqrt(disc) * (1.0 if t1 > t0 else -1.0)
    den = d1 - d0 + 2.0 * b
    if den == 0.0:
        return np.nan
    return t1 - (t1 - t0) * (d1 + b - a) / den


@_jit
def quasi_newton(x0, max_iter, gtol, rows, cols, q, ZtZ, ZtX, Zty, XtX, Xty, yty, nobs, reml,
                 L, sol):
    """Minimise :func:`deviance_gradient` over unbounded theta by BFGS, compiled.

    The objective is cheap (microseconds), so an optimizer driven from
    Python would spend most of its time in its own bookkeeping; here the
    whole search runs in machine code.  Inverse-Hessian BFGS with a weak
    Wolfe line search (safeguarded cubic interpolation, Armijo c1 = 1e-4,
    curvature c2 = 0.9); the first step is scaled to a move of 0.1 in theta, after
    which the inverse Hessian starts from the Shanno-Phua scaling.

    Stops when max |gradient| < gtol, when the line search cannot lower the
    deviance any more (double precision is exhausted: the Newton polish
    takes it from there), or after max_iter iterations.  Returns
    (x, f, g, evaluations, status) with status 0 = gradient small,
    1 = no further decrease possible, 2 = iteration limit, 3 = start not finite.
    """
    k = x0.shape[0]
    x = x0.copy()
    f, g = deviance_gradient(x, rows, cols, q, ZtZ, ZtX, Zty, XtX, Xty, yty, nobs, reml, L, sol)
    nev = 1
    if not np.isfinite(f):
        return x, f, g, nev, 3
    H = np.eye(k)
    first = True
    for _ in range(max_iter):
        gmax = np.max(np.abs(g))
        if gmax < gtol:
            return x, f, g, nev, 0
        d = -(H @ g)
        slope = g @ d
        if not slope < 0.0:  # lost descent: start the curvature memory again
            H = np.eye(k)
            d = -g.copy()
            slope = g @ d
            first = True
        t = 1.0
        if first:
            t = 0.1 / np.max(np.abs(d))
        lo, hi = 0.0, np.inf
        accepted = False
        xt = x.copy()
        ft = f
        gt = g.copy()
        tp, fp, dp = 0.0, f, slope  # the previous trial, for cubic interpolation
        for _ls in range(60):
            xt = x + t * d
            ft, gt = deviance_gradient(xt, rows, cols, q, ZtZ, ZtX, Zty, XtX, Xty, yty, nobs,
                                       reml, L, sol)
            nev += 1
            dt = gt @ d
            if not (np.isfinite(ft) and ft <= f + 1e-4 * t * slope):
                hi = t
            elif dt < 0.9 * slope:
                lo = t
            else:
                accepted = True
                break
            t_new = _cubic_step(tp, fp, dp, t, ft, dt) if np.isfinite(ft) else np.nan
            tp, fp, dp = t, ft, dt
            if hi < np.inf:  # keep the trial well inside the bracket
                a, b = lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo)
                t = t_new if (np.isfinite(t_new) and a <= t_new <= b) else 0.5 * (lo + hi)
            else:  # extrapolate, by a factor between 2 and 10
                t = min(max(t_new, 2.0 * lo), 10.0 * lo) if np.isfinite(t_new) else 2.0 * lo
            # a step this small cannot change theta in double precision, or the
            # decrease it promises is below the rounding of a deviance of this size
            if (t * np.max(np.abs(d)) <= 1e-13 * (1.0 + np.max(np.abs(x)))
                    or -t * slope <= 1e-13 * abs(f)):
                break
        if not accepted:
            if lo > 0.0:  # the sufficient-decrease point found last
                xt = x + lo * d
                ft, gt = deviance_gradient(xt, rows, cols, q, ZtZ, ZtX, Zty, XtX, Xty, yty,
                                           nobs, reml, L, sol)
                nev += 1
            if not (np.isfinite(ft) and ft < f):
                return x, f, g, nev, 1
        s = xt - x
        y = gt - g
        sy = s @ y
        if first and sy > 0.0:
            H = np.eye(k) * (sy / (y @ y))
        if sy > 1e-12 * np.sqrt((s @ s) * (y @ y)):
            rho = 1.0 / sy
            Hy = H @ y
            H = H + (rho * rho * (y @ Hy) + rho) * np.outer(s, s) \
                - rho * (np.outer(Hy, s) + np.outer(s, Hy))
        first = False
        decrease = f - ft
        x, f, g = xt, ft, gt
        if decrease <= 1e-15 * max(abs(f), 1.0) and np.max(np.abs(g)) < 1e3 * gtol:
            return x, f, g, nev, 1
    return x, f, g, nev, 2


@_jit
def moment_sums(ZtZ, Zty, yty_j, n_j, rel_tol):
    """Sums over groups of per-group least squares of y on Z, for a moment estimate.

    A group counts when it has more rows than columns and the Cholesky
    pivots of Z_j'Z_j / trace stay above ``rel_tol`` (not near-singular).
    Returns (m groups counted, sum b_j, sum b_j b_j', sum (Z_j'Z_j)^{-1},
    sum of RSS, sum of residual df), with b_j the group's coefficients.
    """
    J, q = ZtZ.shape[0], ZtZ.shape[1]
    S = np.empty((q, q))
    Linv = np.empty((q, q))
    Si = np.empty((q, q))
    bj = np.empty(q)
    sb = np.zeros(q)
    sbb = np.zeros((q, q))
    sSi = np.zeros((q, q))
    rss = 0.0
    df = 0.0
    m = 0
    for j in range(J):
        tr = 0.0
        for a in range(q):
            tr += ZtZ[j, a, a]
        if not (n_j[j] > q and tr > 0.0):
            continue
        for a in range(q):
            for c in range(q):
                S[a, c] = ZtZ[j, a, c] / tr
        if not _cholesky_in_place(S):
            continue
        ok = True
        for a in range(q):
            if S[a, a] * S[a, a] <= rel_tol:
                ok = False
        if not ok:
            continue
        # (Z_j'Z_j)^{-1} = (L L')^{-1} / tr, with L = chol(Z_j'Z_j / tr)
        _inverse_into(S, Linv, Si)
        for a in range(q):
            for c in range(q):
                Si[a, c] /= tr
        fit = 0.0
        for a in range(q):
            v = 0.0
            for c in range(q):
                v += Si[a, c] * Zty[j, c]
            bj[a] = v
            fit += v * Zty[j, a]
        m += 1
        rss += yty_j[j] - fit
        df += n_j[j] - q
        for a in range(q):
            sb[a] += bj[a]
            for c in range(q):
                sbb[a, c] += bj[a] * bj[c]
                sSi[a, c] += Si[a, c]
    return m, sb, sbb, sSi, rss, df
