"""Confidence ellipses in (intercept, slope) space.

A line estimated as the point c with 2x2 covariance S has the confidence
region {c + r * A u : |u| = 1} where A A' = S. The radius r decides what it
is: the joint 95% region uses r = sqrt(2 F(0.95; 2, df)) (or
sqrt(chi2(0.95; 2)) when df is infinite, as for the mixed methods), the
"shadow" ellipse uses r = t(0.975, df), whose projections on each axis are
the single-coefficient 95% intervals.
"""

from __future__ import annotations

import numpy as np
from .distributions import chi2_ppf, f_ppf, norm_ppf, t_ppf


def joint_radius(df: float, level: float = 0.95) -> float:
    """Radius of the joint confidence region for two coefficients."""
    if not np.isfinite(df):
        return float(np.sqrt(chi2_ppf(level, 2)))
    return float(np.sqrt(2.0 * f_ppf(level, 2, df)))


def shadow_radius(df: float, level: float = 0.95) -> float:
    """Radius whose projections are the one-coefficient intervals."""
    if not np.isfinite(df):
        return float(norm_ppf(0.5 + level / 2.0))
    return float(t_ppf(0.5 + level / 2.0, df))


def ellipse_points(center: np.ndarray, cov: np.ndarray, radius: float, n: int = 181) -> np.ndarray:
    """n points on the ellipse c + radius * chol(cov) u, |u| = 1 (closed curve)."""
    angles = np.linspace(0.0, 2.0 * np.pi, n)
    circle = np.column_stack([np.cos(angles), np.sin(angles)])
    # eigh rather than Cholesky: a singular covariance gives a degenerate ellipse, not an error
    vals, vecs = np.linalg.eigh(np.asarray(cov, dtype="float64"))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))
    return np.asarray(center, dtype="float64") + radius * circle @ root.T


def wald_f(center: np.ndarray, cov: np.ndarray) -> float:
    """Joint Wald F statistic for H0: both coefficients are 0 (2 numerator df)."""
    c = np.asarray(center, dtype="float64")
    return float(c @ np.linalg.solve(cov, c) / len(c))


def line_cov(row) -> np.ndarray:
    """The 2x2 covariance of a sector_lines row."""
    return np.array([[row["var_intercept"], row["cov_intercept_slope"]], [row["cov_intercept_slope"], row["var_slope"]]])


def region_df(df: float, estimator: str) -> float:
    """The df that sets an ellipse's radius: the method's own df for the OLS
    family and two-stage, infinite (chi-square) for the mixed methods, whose
    Satterthwaite df differ between intercept and slope."""
    return float("inf") if estimator.upper().startswith(("REML", "ML")) else float(df)
