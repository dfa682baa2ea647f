"""Pooled OLS with CR2 cluster-robust standard errors and Bell-McCaffrey df.

For OLS b = B X'y with bread B = (X'X)^{-1} and residuals e, the CR2
estimator (Bell and McCaffrey 2002; Pustejovsky and Tipton 2018) is

    V = B [ sum_j X_j' A_j e_j e_j' A_j X_j ] B,   A_j = (I - H_jj)^{-1/2},

with H_jj cluster j's block of the hat matrix. The adjustment A_j makes V
unbiased when errors are independent with constant variance (the working
model). A contrast c'b is tested with t on Satterthwaite df under that
working model: c'Vc = sum_j (g_j'e_j)^2 with g_j = A_j X_j B c, a quadratic
form in y whose matrix has Gram matrix

    M_jk = [j = k] g_j'g_j - (g_j'X_j) B (X_k'g_k),

so df = (tr M)^2 / ||M||_F^2. The study's own implementation, checked
against R's clubSandwich (`vcovCR(type = "CR2")`, `coef_test(test =
"Satterthwaite")`).

Everything is a function of the per-cluster blocks X_j'X_j and X_j'y_j: with
R'R = X'X and K_j = X_j R^{-1}, H_jj = K_j K_j'; if K_j'K_j = V diag(lam) V',
then A_j X_j = X_j M_j with the p x p matrix

    M_j = I + R^{-1} V diag(f(lam)) V' R^{-T} X_j'X_j,   f(lam) = ((1 - lam)^{-1/2} - 1) / lam,

so g_j = X_j M_j B c, g_j'g_j, g_j'X_j and g_j'e_j = (M_j B c)'(X_j'y_j -
X_j'X_j b) need no row of the data. Directions with 1 - lam at 0 (a cluster
that alone fixes a coefficient) get the pseudo-inverse's 0 in A_j.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ..methods.common import level_term
from ..methods.schools import Moments, SchoolStats, interaction_blocks, interaction_terms

#: eigenvalues of I - H_jj below this are treated as 0 (pseudo-inverse root)
EIGEN_TOL = 1e-10


@dataclass(frozen=True)
class Cr2Fit:
    """OLS coefficients with what CR2 inference needs, per cluster."""

    beta: np.ndarray
    bread: np.ndarray  # (X'X)^{-1}
    vcov: np.ndarray  # CR2
    xtx: np.ndarray  # (J, p, p) X_j'X_j
    adjust: np.ndarray  # (J, p, p) M_j, with A_j X_j = X_j M_j
    resid_score: np.ndarray  # (J, p) X_j'e_j

    def contrast(self, c: np.ndarray) -> tuple[float, float, float]:
        """Estimate, CR2 standard error and Bell-McCaffrey df of c'beta."""
        c = np.asarray(c, dtype=float)
        h = self.adjust @ (self.bread @ c)  # g_j = X_j h_j
        gX = np.einsum("jp,jpq->jq", h, self.xtx)  # g_j'X_j
        M = np.diag(np.einsum("jq,jq->j", gX, h)) - gX @ self.bread @ gX.T
        df = float(np.trace(M) ** 2 / np.sum(M * M))
        var = float(np.sum(np.einsum("jp,jp->j", h, self.resid_score) ** 2))
        return float(c @ self.beta), float(np.sqrt(var)), df


def adjustment_factor(lam: np.ndarray, tol: float = EIGEN_TOL) -> np.ndarray:
    """f(lam) = ((1 - lam)^{-1/2} - 1) / lam, written without cancellation; -1/lam where 1 - lam <= tol."""
    rest = 1.0 - lam
    root = np.sqrt(np.where(rest > tol, rest, 1.0))
    with np.errstate(divide="ignore"):
        return np.where(rest > tol, 1.0 / (root * (1.0 + root)), -1.0 / lam)


def cr2_from_blocks(xtx: np.ndarray, xty: np.ndarray) -> Cr2Fit:
    """OLS with CR2 covariance from each cluster's X_j'X_j (J, p, p) and X_j'y_j (J, p)."""
    XtX, Xty = xtx.sum(axis=0), xty.sum(axis=0)
    R = linalg.cholesky(XtX)  # upper: R'R = X'X
    rinv = linalg.solve_triangular(R, np.eye(len(R)))
    bread = rinv @ rinv.T
    beta = bread @ Xty
    resid_score = xty - xtx @ beta
    lam, V = np.linalg.eigh(rinv.T @ xtx @ rinv)  # K_j'K_j
    W = rinv @ V
    adjust = np.eye(len(R)) + (W * adjustment_factor(lam)[:, None, :]) @ np.swapaxes(W, 1, 2) @ xtx
    s = np.einsum("jqp,jq->jp", adjust, resid_score)  # (A_j X_j)'e_j = M_j' X_j'e_j
    return Cr2Fit(beta, bread, bread @ (s.T @ s) @ bread, xtx, adjust, resid_score)


def cluster_blocks(X: np.ndarray, y: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-cluster X_j'X_j and X_j'y_j from rows (`clusters`: any labels)."""
    X = np.asarray(X, dtype=float)
    codes = np.unique(np.asarray(clusters), return_inverse=True)[1].ravel()
    J, p = int(codes.max()) + 1, X.shape[1]
    xtx, xty = np.zeros((J, p, p)), np.zeros((J, p))
    np.add.at(xtx, codes, X[:, :, None] * X[:, None, :])
    np.add.at(xty, codes, X * np.asarray(y, dtype=float)[:, None])
    return xtx, xty


def cr2_fit(X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> Cr2Fit:
    """OLS of y on X with CR2 covariance for the clusters in `codes` (rows given)."""
    return cr2_from_blocks(*cluster_blocks(X, y, codes))


def pooled_ols_cr2_slope_gap(stats: SchoolStats) -> tuple[float, float, float]:
    """Pooled OLS `y ~ x * F` estimate of the slope gap (first non-reference level
    minus the reference) with its CR2 SE and Bell-McCaffrey df, from the
    per-school moments (x and y about their overall means: the slope gap, its
    SE and df do not depend on where x and y are centred)."""
    spec, levels, m = stats.spec, stats.levels, stats.moments
    x0, y0 = (float(np.sum(m.n * v) / np.sum(m.n)) for v in (m.x_mean, m.y_mean))
    centred = Moments(m.n, m.x_mean - x0, m.y_mean - y0, m.sxx, m.sxy, m.syy)
    fit = cr2_from_blocks(*interaction_blocks(centred, stats.level, len(levels)))
    terms = interaction_terms([spec.predictor], levels, spec.level2_factor)
    c = np.zeros(len(terms))
    c[terms.index(f"{spec.predictor}:{level_term(spec, levels[1])}")] = 1.0
    return fit.contrast(c)
