"""Satterthwaite degrees of freedom for contrasts of the fixed effects.

This module owns the small-sample df, computed as lmerTest does:

* variance parameters varpar = (theta, sigma) (theta and sigma, not
  variances: at a boundary fit such as theta_3 = 0 the deviance is even in
  theta_3, so two-sided derivatives exist and match lmerTest at singular
  fits);
* H = Hessian of the deviance (REML or ML, matching the fit) as a function of
  varpar, not profiled over sigma, at the optimum; A = 2 H^+ (the
  Moore-Penrose inverse over eigenvalues > 1e-8, as lmerTest);
* for a contrast l: var_c = l' C l with C(varpar) = sigma^2 (X'V0^{-1}X)^{-1},
  g = d var_c / d varpar, and df = 2 var_c^2 / (g' A g).

H comes from Richardson-extrapolated central differences of the *analytic*
gradient (:func:`~mlmcompare.lmm.objective.varpar_gradient`); dC/dvarpar is
analytic (:func:`~mlmcompare.lmm.objective.vcov_jacobian`).  All of this
works in the shifted coordinates of the sufficient statistics (a contrast on
beta is mapped to gamma by ``L @ T``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .objective import ThetaLayout, varpar_gradient, vcov_jacobian
from .stats import SufficientStats, z_scale

__all__ = ["SatterthwaiteInfo", "satterthwaite_setup", "satterthwaite_info", "contrast_df",
           "richardson_jacobian"]

#: eigenvalues of H at or below this are dropped from its inverse (lmerTest's tol)
EIG_TOL = 1e-8


@dataclass
class SatterthwaiteInfo:
    varpar: np.ndarray  # (k+1,) theta then sigma
    hessian: np.ndarray  # (k+1, k+1)
    A: np.ndarray  # (k+1, k+1) asymptotic covariance of varpar, 2 H^+
    C: np.ndarray  # (p, p) covariance of gamma at the optimum
    jac: np.ndarray  # (k+1, p, p) dC / d varpar
    warnings: list[str] = field(default_factory=list)


def richardson_jacobian(
    fun: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rel_step: float = 1e-2,
    min_step: float = 1e-3, levels: int = 2, scale: np.ndarray | None = None,
) -> np.ndarray:
    """Jacobian of a vector function by central differences with Richardson extrapolation.

    Column i uses steps h, h/2, ... (``levels`` of them; h = max(rel_step |x_i|,
    min_step scale_i), scale_i the natural size of x_i, default 1) and
    eliminates the leading error terms h^2, h^4, ...  Two levels agree with
    three to ~1e-8 relative on the golden fits, far below what Satterthwaite's
    df need.
    """
    x = np.asarray(x, dtype=float)
    k = x.shape[0]
    scale = np.ones(k) if scale is None else np.asarray(scale, dtype=float)
    cols = []
    for i in range(k):
        h = max(rel_step * abs(x[i]), min_step * scale[i])
        D = []
        for lev in range(levels):
            e = np.zeros(k)
            e[i] = h / 2**lev
            D.append((np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * e[i]))
        for m in range(1, levels):
            f = 4.0**m
            D = [(f * D[j + 1] - D[j]) / (f - 1.0) for j in range(len(D) - 1)]
        cols.append(D[0])
    return np.column_stack(cols)


def varpar_scale(z_rms: np.ndarray, layout: ThetaLayout, sigma: float) -> np.ndarray:
    """The natural size of each (theta, sigma) element, for difference steps.

    Lambda[r, c] turns a unit-variance effect into random effect r in units of
    sigma per unit of z_r, so its size is 1 / rms(z_r) (``z_rms``: the root
    mean square of each random-effect column); sigma's is sigma.
    Steps that follow the data's units keep the df invariant when a column
    is rescaled (ses in millionths gives the same df as ses).
    """
    return np.append(1.0 / np.asarray(z_rms)[layout.rows], abs(sigma) if sigma > 0 else 1.0)


def satterthwaite_setup(
    stats: SufficientStats, layout: ThetaLayout, theta: np.ndarray, sigma: float, reml: bool
) -> SatterthwaiteInfo:
    """Hessian of the (theta, sigma) deviance, its pseudo-inverse and dC/dvarpar (one factor)."""
    return satterthwaite_info(
        layout, theta, sigma,
        gradient=lambda v: varpar_gradient(stats, layout, v, reml),
        jacobian=lambda v: vcov_jacobian(stats, layout, v),
        z_rms=z_scale(stats),
    )


def satterthwaite_info(
    layout: ThetaLayout, theta: np.ndarray, sigma: float,
    gradient: Callable[[np.ndarray], np.ndarray],
    jacobian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    z_rms: np.ndarray,
) -> SatterthwaiteInfo:
    """The Satterthwaite set-up from an engine's gradient and vcov Jacobian in (theta, sigma).

    ``gradient(varpar)`` is the analytic gradient of the (RE)ML deviance in
    (theta, sigma); ``jacobian(varpar)`` returns C and dC/dvarpar; any number
    of grouping factors.
    """
    varpar = np.append(np.asarray(theta, dtype=float), float(sigma))
    T = varpar_scale(z_rms, layout, float(sigma))
    H = richardson_jacobian(gradient, varpar, scale=T)
    H = 0.5 * (H + H.T)
    # lmerTest's eigenvalue cut-off is applied to the Hessian in units of the
    # data's own scale (T = diag of the natural sizes), so that rescaling a
    # column or the response cannot push a direction under it; A = 2 H^+ is
    # then mapped back: A = T (T H T)^+ T.
    evals, evecs = np.linalg.eigh(H * np.outer(T, T))
    warnings: list[str] = []
    neg = evals < -EIG_TOL
    zero = np.abs(evals) <= EIG_TOL
    if neg.any():
        warnings.append(
            "Hessian of the deviance in (theta, sigma) has negative eigenvalue(s) "
            + " ".join(f"{v:.1e}" for v in evals[neg])
            + ": the fit may not be at a minimum; Satterthwaite df are unreliable"
        )
    if zero.any():
        warnings.append(
            "Hessian of the deviance in (theta, sigma) has eigenvalue(s) close to zero "
            + " ".join(f"{v:.1e}" for v in evals[zero])
            + "; Satterthwaite df use its pseudo-inverse"
        )
    pos = evals > EIG_TOL
    Hinv = np.outer(T, T) * ((evecs[:, pos] / evals[pos]) @ evecs[:, pos].T)
    C, jac = jacobian(varpar)
    return SatterthwaiteInfo(varpar=varpar, hessian=H, A=2.0 * Hinv, C=C, jac=jac,
                             warnings=warnings)


def contrast_df(info: SatterthwaiteInfo, Lg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Variance and Satterthwaite df of each row of ``Lg`` (contrasts on gamma)."""
    Lg = np.atleast_2d(np.asarray(Lg, dtype=float))
    var = np.einsum("ka,ab,kb->k", Lg, info.C, Lg)
    grad = np.einsum("ka,iab,kb->ki", Lg, info.jac, Lg)  # (k_contrasts, k+1)
    denom = np.einsum("ki,ij,kj->k", grad, info.A, grad)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denom > 0, 2.0 * var**2 / denom, np.inf)
    return var, df
