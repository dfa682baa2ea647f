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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..spec import ModelSpec

#: eigenvalues of I - H_jj below this are treated as 0 (pseudo-inverse root)
EIGEN_TOL = 1e-10


def inverse_sqrt_psd(S: np.ndarray, tol: float = EIGEN_TOL) -> np.ndarray:
    """Symmetric (pseudo-)inverse square root of a positive semi-definite matrix."""
    w, V = np.linalg.eigh(S)
    keep = w > tol * max(1.0, float(w.max(initial=0.0)))
    inv = np.zeros_like(w)
    inv[keep] = 1.0 / np.sqrt(w[keep])
    return (V * inv) @ V.T


@dataclass(frozen=True)
class Cr2Fit:
    """OLS coefficients with what CR2 inference needs."""

    beta: np.ndarray
    bread: np.ndarray  # (X'X)^{-1}
    vcov: np.ndarray  # CR2
    AX: list[np.ndarray]  # A_j X_j per cluster
    X_blocks: list[np.ndarray]
    e_blocks: list[np.ndarray]

    def contrast(self, c: np.ndarray) -> tuple[float, float, float]:
        """Estimate, CR2 standard error and Bell-McCaffrey df of c'beta."""
        c = np.asarray(c, dtype=float)
        Bc = self.bread @ c
        g = [ax @ Bc for ax in self.AX]
        gX = np.vstack([gj @ Xj for gj, Xj in zip(g, self.X_blocks)])  # (J, p)
        M = np.diag([float(gj @ gj) for gj in g]) - gX @ self.bread @ gX.T
        df = float(np.trace(M) ** 2 / np.sum(M * M))
        var = float(sum(float(gj @ ej) ** 2 for gj, ej in zip(g, self.e_blocks)))
        return float(c @ self.beta), float(np.sqrt(var)), df


def adjusted_block(Xj: np.ndarray, rinv: np.ndarray, tol: float = EIGEN_TOL) -> np.ndarray:
    """A_j X_j with A_j = (I - H_jj)^{-1/2}, from the thin SVD of K = X_j R^{-1}.

    H_jj = K K' = U S^2 U' has rank at most p, so A_j = I + U diag((1 - s^2)^{-1/2} - 1) U';
    directions with 1 - s^2 at 0 (a cluster that alone fixes a coefficient)
    get the pseudo-inverse's 0, as `inverse_sqrt_psd` would.
    """
    U, s, _ = np.linalg.svd(Xj @ rinv, full_matrices=False)
    rest = 1.0 - s * s
    scale = np.where(rest > tol, 1.0 / np.sqrt(np.where(rest > tol, rest, 1.0)), 0.0) - 1.0
    return Xj + U @ (scale[:, None] * (U.T @ Xj))


def cr2_fit(X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> Cr2Fit:
    """OLS of y on X with CR2 covariance for the clusters in `codes`."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    q, r = np.linalg.qr(X)
    beta = np.linalg.solve(r, q.T @ y)
    rinv = np.linalg.solve(r, np.eye(r.shape[0]))
    bread = rinv @ rinv.T
    e = y - X @ beta
    codes = np.asarray(codes)
    order = np.argsort(codes, kind="stable")
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    AX, Xb, eb = [], [], []
    meat = np.zeros((X.shape[1], X.shape[1]))
    for idx in np.split(order, bounds):
        Xj, ej = X[idx], e[idx]
        AXj = adjusted_block(Xj, rinv)
        s = AXj.T @ ej
        meat += np.outer(s, s)
        AX.append(AXj)
        Xb.append(Xj)
        eb.append(ej)
    return Cr2Fit(beta, bread, bread @ meat @ bread, AX, Xb, eb)


def pooled_design(data: pd.DataFrame, spec: ModelSpec) -> tuple[np.ndarray, list[str]]:
    """Pooled OLS columns `1, x, F[T.other], x:F[T.other]` (formulaic's order)."""
    levels = [str(v) for v in data[spec.level2_factor].cat.categories]
    x = data[spec.predictor].to_numpy(dtype=float)
    cols, terms = [np.ones_like(x), x], ["Intercept", spec.predictor]
    f = data[spec.level2_factor].astype(str).to_numpy()
    for lv in levels[1:]:
        w = (f == lv).astype(float)
        cols.append(w)
        terms.append(f"{spec.level2_factor}[T.{lv}]")
    for lv in levels[1:]:
        cols.append(x * (f == lv))
        terms.append(f"{spec.predictor}:{spec.level2_factor}[T.{lv}]")
    return np.column_stack(cols), terms


def pooled_ols_cr2_slope_gap(data: pd.DataFrame, spec: ModelSpec) -> tuple[float, float, float]:
    """Pooled OLS estimate of the slope gap with its CR2 SE and Bell-McCaffrey df."""
    X, terms = pooled_design(data, spec)
    codes = pd.factorize(data[spec.group])[0]
    fit = cr2_fit(X, data[spec.response].to_numpy(dtype=float), codes)
    c = np.zeros(len(terms))
    c[-1] = 1.0
    return fit.contrast(c)
