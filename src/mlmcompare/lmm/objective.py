"""The profiled (RE)ML objective over the relative covariance factor theta.

This module owns the mathematics of one evaluation:

* ``ThetaLayout``: where each theta element sits in the q x q lower-triangular
  relative covariance factor Lambda (one unstructured block per random-term
  group of columns; lme4's order: lower triangle of each block, column by
  column), which elements are diagonal (bounded below by 0 in lme4);
* ``evaluate``: for a theta, the per-group Cholesky factors
  L_j = chol(Lambda' Z_j'Z_j Lambda + I), the fixed-effects solution, the
  penalised residual sum of squares and both deviances, from the sufficient
  statistics only (batched over groups; no loop over groups);
* ``deviance_and_gradient``: the profiled deviance and its analytic
  gradient in theta;
* ``varpar_deviance`` / ``varpar_gradient``: the deviance as a function of
  (theta, sigma), not profiled over sigma, as lmerTest uses it for
  Satterthwaite's df; and ``vcov_jacobian``, the derivative of
  sigma^2 (X'V^{-1}X)^{-1} in (theta, sigma).

The objective accepts any real theta, including negative diagonal values:
the likelihood depends on Lambda Lambda' only, and flipping the sign of a
whole column of Lambda leaves it unchanged.

Gradient derivation (D = Lambda Lambda', V0_j = I + Z_j D Z_j'): with
M = sum_j Z_j'V0_j^{-1}Z_j, w_j = Z_j'V0_j^{-1}(y_j - X_j beta),
P_j = Z_j'V0_j^{-1}X_j and A = X'V0^{-1}X = R_X'R_X, the matrix derivative
of the profiled deviance with respect to D is
  ML:   M - (n / r2) sum_j w_j w_j'
  REML: M - ((n-p) / r2) sum_j w_j w_j' - sum_j P_j A^{-1} P_j'
(beta and u enter through the envelope theorem), and
d/d theta_k = 2 (G_D Lambda)[row_k, col_k].  All three pieces come from
K_j = L_j^{-1} Lambda' Z_j'Z_j by Woodbury:
Z_j'V0_j^{-1}(.) = Z_j'(.) - K_j' L_j^{-1} Lambda' Z_j'(.).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .stats import SufficientStats

__all__ = [
    "ThetaLayout",
    "make_layout",
    "Evaluation",
    "evaluate",
    "deviance",
    "deviance_and_gradient",
    "varpar_deviance",
    "varpar_gradient",
    "vcov_jacobian",
]

LOG2PI = float(np.log(2.0 * np.pi))


@dataclass(frozen=True)
class ThetaLayout:
    """Positions of the theta elements in Lambda (block-diagonal, lower-triangular)."""

    q: int
    block_sizes: tuple[int, ...]
    rows: np.ndarray  # (k,) row of each theta element in Lambda
    cols: np.ndarray  # (k,) column
    block_of: np.ndarray  # (k,) block index of each theta element

    @property
    def k(self) -> int:
        return int(self.rows.shape[0])

    @property
    def is_diag(self) -> np.ndarray:
        return self.rows == self.cols

    @property
    def lower(self) -> np.ndarray:
        """lme4's bounds: 0 for diagonal elements, -inf for the others."""
        return np.where(self.is_diag, 0.0, -np.inf)

    def start(self) -> np.ndarray:
        """lme4's default start: Lambda = identity."""
        return self.is_diag.astype(float)

    def make_lambda(self, theta: np.ndarray) -> np.ndarray:
        Lam = np.zeros((self.q, self.q))
        Lam[self.rows, self.cols] = theta
        return Lam

    def theta_from_lambda(self, Lam: np.ndarray) -> np.ndarray:
        return Lam[self.rows, self.cols].copy()

    def normalize(self, theta: np.ndarray) -> np.ndarray:
        """Flip the sign of every Lambda column whose diagonal is negative.

        Lambda Lambda' (hence the likelihood) is unchanged; the result has
        a non-negative diagonal as lme4 reports it.
        """
        Lam = self.make_lambda(theta)
        d = np.diag(Lam)
        Lam = Lam * np.where(d < 0, -1.0, 1.0)[None, :]
        return self.theta_from_lambda(Lam)


def make_layout(block_sizes: Sequence[int]) -> ThetaLayout:
    rows, cols, blk = [], [], []
    start = 0
    for b, size in enumerate(block_sizes):
        for c in range(size):
            for r in range(c, size):
                rows.append(start + r)
                cols.append(start + c)
                blk.append(b)
        start += size
    return ThetaLayout(
        q=start,
        block_sizes=tuple(int(s) for s in block_sizes),
        rows=np.array(rows, dtype=np.intp),
        cols=np.array(cols, dtype=np.intp),
        block_of=np.array(blk, dtype=np.intp),
    )


@dataclass
class Evaluation:
    """Everything one theta determines (in the shifted coordinates of the stats)."""

    theta: np.ndarray
    Lam: np.ndarray  # (q, q)
    L: np.ndarray  # (J, q, q) per-group Cholesky factors
    c: np.ndarray  # (J, q)  L_j^{-1} Lambda' Z_j'y
    C: np.ndarray  # (J, q, p) L_j^{-1} Lambda' Z_j'X
    K: np.ndarray  # (J, q, q) L_j^{-1} Lambda' Z_j'Z_j
    A: np.ndarray  # (p, p) R_X'R_X = X'V0^{-1}X
    LX: np.ndarray  # (p, p) lower Cholesky factor of A (= R_X')
    gamma: np.ndarray  # (p,) fixed effects in shifted coordinates
    r2: float  # penalised residual sum of squares
    ldL2: float  # log|L|^2
    ldRX2: float  # log|R_X|^2
    nobs: int
    p: int
    ok: bool = True

    def deviance(self, reml: bool) -> float:
        if not self.ok or not self.r2 > 0:
            return np.inf
        n, p = self.nobs, self.p
        if reml:
            m = n - p
            return float(self.ldL2 + self.ldRX2 + m * (1.0 + LOG2PI + np.log(self.r2 / m)))
        return float(self.ldL2 + n * (1.0 + LOG2PI + np.log(self.r2 / n)))

    def sigma2(self, reml: bool) -> float:
        return self.r2 / (self.nobs - self.p if reml else self.nobs)


#: up to this many random terms, the per-group Cholesky factors and solves run
#: as a loop over the q columns, each step vectorised over the groups (for
#: the usual q = 1..3 this is several times faster than np.linalg's batched
#: routines, which factor and solve each tiny matrix through LAPACK calls)
SMALL_Q = 4


def batched_cholesky(M: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack of symmetric positive-definite (J, q, q) matrices."""
    q = M.shape[-1]
    if q > SMALL_Q:
        return np.linalg.cholesky(M)
    L = np.zeros_like(M)
    for j in range(q):
        d = M[:, j, j] - np.einsum("gk,gk->g", L[:, j, :j], L[:, j, :j])
        if np.any(d <= 0.0):
            raise np.linalg.LinAlgError("matrix is not positive definite")
        L[:, j, j] = np.sqrt(d)
        for i in range(j + 1, q):
            L[:, i, j] = (M[:, i, j] - np.einsum("gk,gk->g", L[:, i, :j], L[:, j, :j])) / L[:, j, j]
    return L


def batched_forward_solve(L: np.ndarray, R: np.ndarray) -> np.ndarray:
    """X with L_g X_g = R_g for a stack of lower-triangular L (J, q, q), R (J, q, m)."""
    q = L.shape[-1]
    if q > SMALL_Q:
        return np.linalg.solve(L, R)
    X = np.empty_like(R)
    for i in range(q):
        acc = R[:, i, :] - np.einsum("gk,gkm->gm", L[:, i, :i], X[:, :i, :])
        X[:, i, :] = acc / L[:, i, i, None]
    return X


def evaluate(stats: SufficientStats, layout: ThetaLayout, theta: np.ndarray) -> Evaluation:
    """Solve the penalised least-squares problem for one theta (no row access)."""
    theta = np.asarray(theta, dtype=float)
    Lam = layout.make_lambda(theta)
    q, p = layout.q, stats.p
    LamT = Lam.T
    LtS = LamT @ stats.ZtZ  # (J, q, q) = Lambda' Z_j'Z_j
    Lmat = batched_cholesky(LtS @ Lam + np.eye(q))
    rhs = np.concatenate([(LamT @ stats.Zty[:, :, None]), LamT @ stats.ZtX, LtS], axis=2)
    sol = batched_forward_solve(Lmat, rhs)  # one batched solve for c, C and K
    c = sol[:, :, 0]
    C = sol[:, :, 1 : 1 + p]
    K = sol[:, :, 1 + p :]
    J = c.shape[0]
    Cf = C.reshape(J * q, p)
    A = stats.XtX - Cf.T @ Cf
    rx = stats.Xty - Cf.T @ c.reshape(J * q)
    ldL2 = 2.0 * float(np.log(np.diagonal(Lmat, axis1=1, axis2=2)).sum())
    nobs = stats.nobs
    try:
        LX = np.linalg.cholesky(A) if p else np.zeros((0, 0))
    except np.linalg.LinAlgError:
        nan = np.full(p, np.nan)
        return Evaluation(theta, Lam, Lmat, c, C, K, A, np.full((p, p), np.nan), nan,
                          np.nan, ldL2, np.nan, nobs, p, ok=False)
    # beta-part of the forward solve: z = LX^{-1} rx, gamma = LX^{-T} z
    z = np.linalg.solve(LX, rx) if p else np.zeros(0)
    gamma = np.linalg.solve(LX.T, z) if p else np.zeros(0)
    r2 = float(stats.yty - c.ravel() @ c.ravel() - z @ z)
    ldRX2 = 2.0 * float(np.log(np.diag(LX)).sum()) if p else 0.0
    return Evaluation(theta, Lam, Lmat, c, C, K, A, LX, gamma, r2, ldL2, ldRX2, nobs, p)


def deviance(stats: SufficientStats, layout: ThetaLayout, theta: np.ndarray, reml: bool) -> float:
    return evaluate(stats, layout, theta).deviance(reml)


def _ainv(ev: Evaluation) -> np.ndarray:
    Linv = np.linalg.solve(ev.LX, np.eye(ev.p))
    return Linv.T @ Linv


def _gradient_pieces(stats: SufficientStats, ev: Evaluation, reml: bool):
    """M, W = sum w w', and (REML) sum_j P_j A^{-1} P_j' as q x q matrices; also P."""
    K, C, c, g = ev.K, ev.C, ev.c, ev.gamma
    J, q = c.shape
    # Z_j'V0_j^{-1}Z_j = S_j - K_j'K_j
    M = stats.ZtZ.sum(axis=0) - np.einsum("jaq,jar->qr", K, K)
    # P_j (q x p) = Z_j'V0_j^{-1}X_j
    P = stats.ZtX - np.swapaxes(K, 1, 2) @ C
    # w_j = Z_j'V0_j^{-1}(y_j - X_j gamma)
    w = (stats.Zty - stats.ZtX @ g) - np.einsum("jaq,ja->jq", K, c - C @ g)
    W = w.T @ w
    PAP = None
    if reml and ev.p:
        Ai = _ainv(ev)
        PAP = np.einsum("jqa,ab,jrb->qr", P, Ai, P)
    return M, W, PAP, P


def _to_theta(G: np.ndarray, ev: Evaluation, layout: ThetaLayout) -> np.ndarray:
    GL = G @ ev.Lam
    return 2.0 * GL[layout.rows, layout.cols]


def deviance_and_gradient(
    stats: SufficientStats, layout: ThetaLayout, theta: np.ndarray, reml: bool
) -> tuple[float, np.ndarray]:
    """Profiled deviance and its analytic gradient in theta."""
    ev = evaluate(stats, layout, theta)
    f = ev.deviance(reml)
    if not np.isfinite(f):
        return f, np.full(layout.k, np.nan)
    M, W, PAP, _ = _gradient_pieces(stats, ev, reml)
    m = ev.nobs - ev.p if reml else ev.nobs
    G = M - (m / ev.r2) * W
    if PAP is not None:
        G = G - PAP
    return f, _to_theta(G, ev, layout)


# ---------------------------------------------------------------------------
# deviance in (theta, sigma), as lmerTest's devfun_vp, for Satterthwaite's df


def varpar_deviance(
    stats: SufficientStats, layout: ThetaLayout, varpar: np.ndarray, reml: bool
) -> float:
    """-2 log-likelihood (REML: restricted) at (theta, sigma), beta profiled."""
    theta, sigma = varpar[:-1], float(varpar[-1])
    ev = evaluate(stats, layout, theta)
    s2 = sigma * sigma
    n, p = ev.nobs, ev.p
    dev = ev.ldL2 + ev.r2 / s2 + n * (LOG2PI + np.log(s2))
    if reml:
        dev += ev.ldRX2 - p * (LOG2PI + np.log(s2))
    return float(dev)


def varpar_gradient(
    stats: SufficientStats, layout: ThetaLayout, varpar: np.ndarray, reml: bool
) -> np.ndarray:
    """Analytic gradient of :func:`varpar_deviance` in (theta, sigma)."""
    theta, sigma = varpar[:-1], float(varpar[-1])
    ev = evaluate(stats, layout, theta)
    M, W, PAP, _ = _gradient_pieces(stats, ev, reml)
    s2 = sigma * sigma
    G = M - W / s2
    if PAP is not None:
        G = G - PAP
    m = ev.nobs - ev.p if reml else ev.nobs
    g_sigma = -2.0 * ev.r2 / (s2 * sigma) + 2.0 * m / sigma
    return np.append(_to_theta(G, ev, layout), g_sigma)


def vcov_jacobian(
    stats: SufficientStats, layout: ThetaLayout, varpar: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """C(varpar) = sigma^2 A(theta)^{-1} and dC/d varpar as (k+1, p, p), analytic.

    dA/dtheta_k = -sum_j P_j' dD_k P_j with dD_k = E_k Lambda' + Lambda E_k'
    (P_j = Z_j'V0_j^{-1}X_j, q x p), so dC/dtheta_k = sigma^2 A^{-1}(sum_j
    P_j' dD_k P_j)A^{-1} and dC/dsigma = 2 sigma A^{-1}.
    """
    theta, sigma = varpar[:-1], float(varpar[-1])
    ev = evaluate(stats, layout, theta)
    _, _, _, P = _gradient_pieces(stats, ev, reml=False)
    Ai = _ainv(ev)
    PL = np.swapaxes(P, 1, 2) @ ev.Lam  # (J, p, q): P_j' Lambda
    # S[r, c] = sum_j P_j'[:, r] (P_j' Lambda)[:, c]'
    S = np.einsum("jra,jbc->rcab", P, PL)
    s2 = sigma * sigma
    jac = np.empty((layout.k + 1, ev.p, ev.p))
    for i, (r, c) in enumerate(zip(layout.rows, layout.cols)):
        B = S[r, c] + S[r, c].T
        jac[i] = s2 * Ai @ B @ Ai
    jac[-1] = 2.0 * sigma * Ai
    return s2 * Ai, jac
