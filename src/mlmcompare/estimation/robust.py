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

The Bell-McCaffrey df of a contrast c'b: write the CR2 variance as
sum_j (g_j'y)^2, with g_j = (I - H)' E_j A_j X_j B c (E_j the columns of the
identity for cluster j). Under y ~ N(X beta, sigma^2 I), its mean is
sigma^2 sum_j g_j'g_j and its variance 2 sigma^4 sum_jk (g_j'g_k)^2, so the
Satterthwaite df is (tr M)^2 / ||M||_F^2 with M_jk = g_j'g_k.

These repair the *standard errors* of the OLS coefficients; they do not change
the coefficients, so they cannot change what the coefficients estimate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from formulaic import model_matrix

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


def cr2_adjustments(parts: OlsParts) -> list[np.ndarray]:
    """A_j = (I - X_j B X_j')^{-1/2} for each cluster (symmetric root)."""
    out = []
    for j in range(parts.n_clusters):
        Xj = parts.X[parts.codes == j]
        M = np.eye(len(Xj)) - Xj @ parts.bread @ Xj.T
        vals, vecs = np.linalg.eigh(M)
        inv_root = np.where(vals > 1e-12, 1.0 / np.sqrt(np.clip(vals, 1e-300, None)), 0.0)
        out.append((vecs * inv_root) @ vecs.T)
    return out


def vcov_cr2(parts: OlsParts, A: list[np.ndarray]) -> np.ndarray:
    adjusted = np.empty_like(parts.resid)
    for j, Aj in enumerate(A):
        idx = parts.codes == j
        adjusted[idx] = Aj @ parts.resid[idx]
    return sandwich(parts, cluster_scores(parts, adjusted))


def bell_mccaffrey_df(parts: OlsParts, A: list[np.ndarray], c: np.ndarray) -> float:
    """Satterthwaite df of the CR2 variance of c'b under a working model of
    independent homoskedastic errors (see module docstring)."""
    Bc = parts.bread @ c
    J, N = parts.n_clusters, parts.n
    G = np.zeros((J, N))
    for j, Aj in enumerate(A):
        idx = np.flatnonzero(parts.codes == j)
        w = Aj @ (parts.X[idx] @ Bc)  # n_j vector
        # g_j = E_j w - X B X_j' w  (= (I - H) E_j w)
        G[j] = -(parts.X @ (parts.bread @ (parts.X[idx].T @ w)))
        G[j, idx] += w
    M = G @ G.T
    return float(np.trace(M) ** 2 / np.sum(M * M))


def robust_table(parts: OlsParts, model: str) -> pd.DataFrame:
    """broom rows per vcov type and term: OLS, HC0-HC3 (df N - k), CR1 (df
    J - 1), CR2 (Bell-McCaffrey df per term)."""
    N, k, J = parts.n, parts.k, parts.n_clusters
    A = cr2_adjustments(parts)
    vcovs = {"OLS": (vcov_ols(parts), N - k)}
    for kind in ("HC0", "HC1", "HC2", "HC3"):
        vcovs[kind] = (vcov_hc(parts, kind), N - k)
    vcovs["CR1"] = (vcov_cr1(parts), J - 1)
    eye = np.eye(k)
    vcovs["CR2"] = (vcov_cr2(parts, A), np.array([bell_mccaffrey_df(parts, A, eye[i]) for i in range(k)]))
    frames = []
    for kind, (V, df) in vcovs.items():
        t = tidy_coef("pooled_ols", model, parts.terms, parts.beta, np.sqrt(np.diag(V)), df)
        t.insert(0, "vcov_type", kind)
        frames.append(t.drop(columns="method"))
    return pd.concat(frames, ignore_index=True)


def pooled_robust(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Pooled OLS `y ~ x * F` with every standard error of `VCOV_TYPES`."""
    formula = f"{spec.response} ~ {spec.predictor} * {spec.level2_factor}"
    mm = model_matrix(formula, data)
    parts = ols_parts(mm.rhs.to_numpy(), mm.lhs.to_numpy().ravel(), data[spec.group].to_numpy(), list(mm.rhs.columns))
    return robust_table(parts, formula)
