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

from . import kernels
from .stats import SufficientStats

__all__ = [
    "ProfiledCriterion",
    "ThetaLayout",
    "make_layout",
    "Evaluation",
    "evaluate",
    "deviance",
    "deviance_and_gradient",
    "DevianceFunction",
    "varpar_deviance",
    "varpar_gradient",
    "vcov_jacobian",
]

LOG2PI = kernels.LOG2PI


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
    def block_index(self) -> np.ndarray:
        """(q,) the covariance block of each random-effect column."""
        return np.repeat(np.arange(len(self.block_sizes)), self.block_sizes)

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
        return np.asarray(theta, dtype=float) * self.column_signs(theta)

    def column_signs(self, theta: np.ndarray) -> np.ndarray:
        """(k,) -1 for the elements of columns whose diagonal is negative, else 1.

        The deviance is invariant under these flips, so its gradient at the
        flipped point is the gradient times the same signs.
        """
        diag_of_col = np.flatnonzero(self.is_diag)  # theta index of each column's diagonal
        return np.where(np.asarray(theta)[diag_of_col] < 0, -1.0, 1.0)[self.cols]


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


class ProfiledCriterion:
    """The profiled deviance and sigma^2 of an evaluation (any layout of the random effects).

    Needs ``ldL2``, ``ldRX2``, ``r2``, ``nobs``, ``p`` and ``ok``.
    """

    def deviance(self, reml: bool) -> float:
        if not self.ok:
            return np.inf
        return float(kernels.profiled_deviance(self.ldL2, self.ldRX2, self.r2, self.nobs,
                                               self.p, reml))

    def sigma2(self, reml: bool) -> float:
        return self.r2 / (self.nobs - self.p if reml else self.nobs)


@dataclass
class Evaluation(ProfiledCriterion):
    """Everything one theta determines (in the shifted coordinates of the stats)."""

    theta: np.ndarray
    Lam: np.ndarray  # (q, q)
    L: np.ndarray  # (J, q, q) per-group Cholesky factors
    sol: np.ndarray  # (J, q, 1+p+q) L_j^{-1} Lambda' [Z_j'y, Z_j'X, Z_j'Z_j] = [c, C, K]
    A: np.ndarray  # (p, p) R_X'R_X = X'V0^{-1}X
    LX: np.ndarray  # (p, p) lower Cholesky factor of A (= R_X')
    gamma: np.ndarray  # (p,) fixed effects in shifted coordinates
    r2: float  # penalised residual sum of squares
    ldL2: float  # log|L|^2
    ldRX2: float  # log|R_X|^2
    nobs: int
    p: int
    ok: bool = True

    @property
    def c(self) -> np.ndarray:
        """(J, q) L_j^{-1} Lambda' Z_j'y."""
        return self.sol[:, :, 0]

    @property
    def C(self) -> np.ndarray:
        """(J, q, p) L_j^{-1} Lambda' Z_j'X."""
        return self.sol[:, :, 1 : 1 + self.p]

    @property
    def K(self) -> np.ndarray:
        """(J, q, q) L_j^{-1} Lambda' Z_j'Z_j."""
        return self.sol[:, :, 1 + self.p :]


def evaluate(stats: SufficientStats, layout: ThetaLayout, theta: np.ndarray) -> Evaluation:
    """Solve the penalised least-squares problem for one theta (no row access)."""
    theta = np.asarray(theta, dtype=float)
    Lam = layout.make_lambda(theta)
    J, q, p = stats.ngroups, layout.q, stats.p
    L = np.zeros((J, q, q))
    sol = np.zeros((J, q, 1 + p + q))
    CtC, Ctc, ctc, ldL2, ok = kernels.group_pass(Lam, stats.ZtZ, stats.ZtX, stats.Zty, L, sol)
    nobs = stats.nobs
    if ok:
        A, LX, gamma, r2, ldRX2, ok = kernels.fixed_pass(stats.XtX, stats.Xty, stats.yty,
                                                         CtC, Ctc, ctc)
    else:
        A, LX, gamma, r2, ldRX2 = (np.full((p, p), np.nan), np.full((p, p), np.nan),
                                   np.full(p, np.nan), np.nan, np.nan)
    return Evaluation(theta, Lam, L, sol, A, LX, gamma, float(r2), float(ldL2),
                      float(ldRX2), nobs, p, ok=bool(ok))


def deviance(stats: SufficientStats, layout: ThetaLayout, theta: np.ndarray, reml: bool) -> float:
    return evaluate(stats, layout, theta).deviance(reml)


def _ainv(ev: Evaluation) -> np.ndarray:
    return kernels.inverse_from_factor(ev.LX)


def _gradient_pieces(stats: SufficientStats, ev: Evaluation, reml: bool, want_P: bool = False):
    """M, W = sum w w', and (REML) sum_j P_j A^{-1} P_j' as q x q matrices; P if asked."""
    J, q, p = stats.ngroups, ev.Lam.shape[0], ev.p
    with_pap = bool(reml and p)
    P = np.empty((J if want_P else 0, q, p))
    M, W, PAP = kernels.gradient_pieces(stats.ZtZ, stats.ZtX, stats.Zty, ev.sol, ev.gamma,
                                        _ainv(ev) if with_pap else np.zeros((p, p)), with_pap, P)
    return M, W, (PAP if with_pap else None), P


class DevianceFunction:
    """The profiled deviance and its gradient in theta, as one compiled call.

    Holds the per-group scratch arrays, so that an optimizer's evaluations
    allocate nothing in proportion to the number of groups.
    """

    def __init__(self, stats: SufficientStats, layout: ThetaLayout, reml: bool):
        J, q, p = stats.ngroups, layout.q, stats.p
        self._args = (layout.rows, layout.cols, q, stats.ZtZ, stats.ZtX, stats.Zty,
                      stats.XtX, stats.Xty, float(stats.yty), int(stats.nobs), bool(reml))
        self._L = np.empty((J, q, q))
        self._sol = np.empty((J, q, 1 + p + q))

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        return kernels.deviance_gradient(np.asarray(theta, dtype=float), *self._args,
                                         self._L, self._sol)

    def minimize(self, theta0: np.ndarray, max_iter: int = 1000,
                 gtol: float = 1e-6) -> tuple[np.ndarray, float, np.ndarray, int, int]:
        """Compiled BFGS from theta0: (theta, deviance, gradient, evaluations, status).

        See :func:`~mlmcompare.lmm.kernels.quasi_newton` for the status codes.
        """
        return kernels.quasi_newton(np.asarray(theta0, dtype=float), max_iter, gtol,
                                    *self._args, self._L, self._sol)


def deviance_and_gradient(
    stats: SufficientStats, layout: ThetaLayout, theta: np.ndarray, reml: bool
) -> tuple[float, np.ndarray]:
    """Profiled deviance and its analytic gradient in theta."""
    return DevianceFunction(stats, layout, reml)(theta)


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
    """Analytic gradient of :func:`varpar_deviance` in (theta, sigma) (compiled:
    :func:`~mlmcompare.lmm.kernels.varpar_gradient`).

    With G_D the derivative of the profiled deviance in D (module docstring)
    with r2 / sigma^2 in place of the profiled (n or n-p) / r2,
    d/d theta_k = 2 (G_D Lambda)[row_k, col_k] and d/d sigma = -2 r2 / sigma^3
    + 2 m / sigma (m = n - p for REML, n for ML).
    """
    J, q, p = stats.ngroups, layout.q, stats.p
    return kernels.varpar_gradient(
        np.ascontiguousarray(varpar[:-1], dtype=float), float(varpar[-1]), layout.rows, layout.cols, q,
        stats.ZtZ, stats.ZtX, stats.Zty, stats.XtX, stats.Xty, float(stats.yty), int(stats.nobs), bool(reml),
        np.empty((J, q, q)), np.empty((J, q, 1 + p + q)))


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
    _, _, _, P = _gradient_pieces(stats, ev, reml=False, want_P=True)
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
