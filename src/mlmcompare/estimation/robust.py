"""Heteroskedasticity-robust and cluster-robust standard errors for OLS.

For the OLS fit b = (X'X)^{-1} X'y with residuals e, every estimator here is
a sandwich B M B with bread B = (X'X)^{-1} and a meat M built from the
residuals:

- HC0 (White): M = sum_i e_i^2 x_i x_i';
- HC1: HC0 times N / (N - k);
- HC2: e_i^2 / (1 - h_ii) in place of e_i^2 (h_ii the leverage);
- HC3: e_i^2 / (1 - h_ii)^2 (close to the jackknife);
- CR0: M = sum_j X_j' e_j e_j' X_j, one term per cluster j;
- CR1 (Stata's small-sample factor): CR0 times [J/(J-1)] [(N-1)/(N-k)],
  tested with J - 1 df, as Stata's `regress, vce(cluster)` does;
- CR2 (Bell and McCaffrey): e_j replaced by A_j e_j with
  A_j = (I - H_jj)^{-1/2}, H_jj the cluster's block of the hat matrix, which
  makes the meat unbiased when the errors are independent and homoskedastic;
  each coefficient is tested with Bell and McCaffrey's Satterthwaite df.

CR2 and the Bell-McCaffrey df of a contrast c'b are computed from each
cluster's X_j'X_j and X_j'y_j alone (`cr2_from_blocks`), so that the Monte
Carlo study gets them from per-school moments without rows. The CR2
variance of c'b is sum_j (g_j'e_j)^2 with g_j = A_j X_j B c; under
y ~ N(X beta, sigma^2 I) it is a quadratic form in y whose matrix has Gram
matrix M_jk = [j = k] g_j'g_j - (g_j'X_j) B (X_k'g_k), and the Satterthwaite
df is (tr M)^2 / ||M||_F^2. With R'R = X'X, K_j = X_j R^{-1} and
K_j'K_j = V diag(lam) V', H_jj = K_j K_j' and A_j X_j = X_j M_j with

    M_j = I + R^{-1} V diag(f(lam)) V' R^{-T} X_j'X_j,   f(lam) = ((1 - lam)^{-1/2} - 1) / lam;

directions with 1 - lam at 0 (a cluster that alone fixes a coefficient) get
the pseudo-inverse's 0 in A_j. Checked against R's clubSandwich.

These repair the *standard errors* of the OLS coefficients; they do not change
the coefficients, so they cannot change what the coefficients estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg

from .. import models
from ..methods.common import tidy_coef
from ..spec import ModelSpec

VCOV_TYPES = ["OLS", "HC0", "HC1", "HC2", "HC3", "CR1", "CR2"]


@dataclass(frozen=True)
class OlsParts:
    """What every sandwich needs: X, y, b, residuals, bread, leverages, clusters."""

    X: np.ndarray
    y: np.ndarray
    terms: list[str]
    beta: np.ndarray
    resid: np.ndarray
    bread: np.ndarray  # (X'X)^{-1}
    hat_diag: np.ndarray
    codes: np.ndarray  # cluster index 0..J-1 per row

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def k(self) -> int:
        return self.X.shape[1]

    @property
    def n_clusters(self) -> int:
        return int(self.codes.max()) + 1


def ols_parts(X: np.ndarray, y: np.ndarray, clusters: np.ndarray, terms: list[str]) -> OlsParts:
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    bread = np.linalg.inv(X.T @ X)
    beta = bread @ X.T @ y
    resid = y - X @ beta
    hat_diag = np.einsum("ij,jk,ik->i", X, bread, X)
    codes = pd.factorize(np.asarray(clusters), sort=True)[0]
    return OlsParts(X, y, list(terms), beta, resid, bread, hat_diag, codes)


def sandwich(parts: OlsParts, scores: np.ndarray) -> np.ndarray:
    """B (S'S) B for a score matrix S whose rows are the meat's pieces."""
    meat = scores.T @ scores
    return parts.bread @ meat @ parts.bread


def vcov_ols(parts: OlsParts) -> np.ndarray:
    s2 = float(parts.resid @ parts.resid) / (parts.n - parts.k)
    return s2 * parts.bread


def vcov_hc(parts: OlsParts, kind: str) -> np.ndarray:
    """HC0 to HC3 (see module docstring)."""
    e, h = parts.resid, parts.hat_diag
    weights = {"HC0": e, "HC1": e, "HC2": e / np.sqrt(1 - h), "HC3": e / (1 - h)}
    if kind not in weights:
        raise ValueError(f"unknown HC type {kind!r}; known: HC0, HC1, HC2, HC3")
    V = sandwich(parts, parts.X * weights[kind][:, None])
    return V * parts.n / (parts.n - parts.k) if kind == "HC1" else V


def cluster_scores(parts: OlsParts, resid: np.ndarray) -> np.ndarray:
    """J x k matrix of per-cluster sums X_j' r_j."""
    S = np.zeros((parts.n_clusters, parts.k))
    np.add.at(S, parts.codes, parts.X * resid[:, None])
    return S


def vcov_cr1(parts: OlsParts) -> np.ndarray:
    """CR0 times Stata's factor [J/(J-1)] [(N-1)/(N-k)]."""
    J, N, k = parts.n_clusters, parts.n, parts.k
    return sandwich(parts, cluster_scores(parts, parts.resid)) * (J / (J - 1)) * ((N - 1) / (N - k))


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


def robust_table(parts: OlsParts, model: str) -> pd.DataFrame:
    """broom rows per vcov type and term: OLS, HC0-HC3 (df N - k), CR1 (df
    J - 1), CR2 (Bell-McCaffrey df per term)."""
    N, k, J = parts.n, parts.k, parts.n_clusters
    cr2 = cr2_fit(parts.X, parts.y, parts.codes)
    vcovs = {"OLS": (vcov_ols(parts), N - k)}
    for kind in ("HC0", "HC1", "HC2", "HC3"):
        vcovs[kind] = (vcov_hc(parts, kind), N - k)
    vcovs["CR1"] = (vcov_cr1(parts), J - 1)
    vcovs["CR2"] = (cr2.vcov, np.array([cr2.contrast(c)[2] for c in np.eye(k)]))
    frames = []
    for kind, (V, df) in vcovs.items():
        t = tidy_coef("pooled_ols", model, parts.terms, parts.beta, np.sqrt(np.diag(V)), df)
        t.insert(0, "vcov_type", kind)
        frames.append(t.drop(columns="method"))
    return pd.concat(frames, ignore_index=True)


def pooled_robust(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Pooled OLS `y ~ x * F` with every standard error of `VCOV_TYPES`."""
    from formulaic import model_matrix  # here only: the study's CR2 (cr2_from_blocks) needs no formula

    formula = models.formula("pooled", spec)
    mm = model_matrix(formula, data)
    parts = ols_parts(mm.rhs.to_numpy(), mm.lhs.to_numpy().ravel(), data[spec.group].to_numpy(), list(mm.rhs.columns))
    return robust_table(parts, formula)
