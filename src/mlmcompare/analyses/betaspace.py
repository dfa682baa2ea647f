"""Lines in beta space: each school's OLS line as a point with its ellipse,
and the joint tests of the sector difference in (intercept, slope).

A school's OLS line (b0j, b1j) has the estimated covariance
s_j^2 (X_j'X_j)^{-1}, with s_j^2 the school's own residual variance on
n_j - 2 df. `school_line_ellipses` tabulates these; the report draws each
as a point with its 95% ellipse.

`sector_difference_tests` gives the joint tests of "no sector difference in
intercept and slope":

- the fixed-effects Wald F: the difference of the equal-weight sector
  averages of the school lines, with the covariance from the pooled
  within-school residual variance (F on 2 and N - 2J df);
- the two-stage MANOVA: the school lines as a bivariate sample regressed on
  the compared factor, tested with the four classical statistics (Pillai,
  Wilks, Hotelling-Lawley, Roy) and their F approximations, as R's
  `anova.mlm` computes them for sequential (type I) hypotheses. With one
  hypothesis df (two sectors) all four give the same exact F.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd
from ..estimation.distributions import f_sf

from ..estimation.lines import line_cov, wald_f
from ..methods import fe_school_lines
from ..methods.common import factor_levels, per_group_ols
from ..spec import ModelSpec

TEST_COLUMNS = ["term", "test", "value", "statistic", "num_df", "den_df", "p_value"]


def school_line_ellipses(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, example: str | int | None = None) -> pd.DataFrame:
    """Per school: OLS intercept and slope with covariance s_j^2 (X_j'X_j)^{-1},
    df = n_j - 2, its id and plot position; `example` marks the school shown
    alone with its joint and shadow ellipses (default: the largest school,
    ties to the first in plot order)."""
    t = per_group_ols(data, spec).table
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.where(t["df_resid"] > 0, t["rss"] / t["df_resid"], np.nan)
    out = pd.DataFrame(
        {
            spec.group: t[spec.group],
            "n": t["n"],
            "intercept": t["intercept"],
            "slope": t["slope"],
            "var_intercept": s2 * t["xtx_inv_intercept"],
            "cov_intercept_slope": s2 * t["xtx_inv_cov"],
            "var_slope": s2 * t["xtx_inv_slope"],
            "df": t["df_resid"].astype("float64"),
        }
    )
    out = schools[[spec.group, "id", "plot_order", spec.level2_factor]].merge(out, on=spec.group, how="inner")
    out[spec.level2_factor] = out[spec.level2_factor].astype(str)
    out = out.sort_values("plot_order").reset_index(drop=True)
    if example is None:
        pick = out.loc[out["n"].idxmax(), spec.group]
    else:
        matches = out[(out[spec.group].astype(str) == str(example)) | (out["id"] == str(example))]
        if matches.empty:
            raise ValueError(f"example school {example!r} is not among the schools with an estimable line")
        pick = matches[spec.group].iloc[0]
    out["example"] = out[spec.group] == pick
    return out


def fixed_effects_wald(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Joint Wald F of the fixed-effects sector difference (intercept, slope)."""
    groups = per_group_ols(data, spec)
    levels = factor_levels(data, spec)
    lines = fe_school_lines.averaged_lines(groups.table, spec, levels, groups.sigma2_pooled, groups.df_pooled)
    rows = []
    for _, r in lines[lines["kind"] == "difference"].iterrows():
        f = wald_f(np.array([r["intercept"], r["slope"]]), line_cov(r))
        df2 = float(groups.df_pooled)
        rows.append({"term": r["line"], "test": "Wald F (fixed effects)", "value": f, "statistic": f, "num_df": 2.0, "den_df": df2, "p_value": float(f_sf(f, 2, df2))})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


# F approximations of the four MANOVA statistics from the eigenvalues of
# E^-1 H (p responses, q hypothesis df, r residual df), as in R's stats package.
def pillai(eig: np.ndarray, q: float, r: float) -> tuple[float, float, float, float]:
    p = len(eig)
    v = float(np.sum(eig / (1 + eig)))
    s, m, n = min(p, q), 0.5 * (abs(p - q) - 1), 0.5 * (r - p - 1)
    a, b = 2 * m + s + 1, 2 * n + s + 1
    return v, (b / a * v) / (s - v), s * a, s * b


def wilks(eig: np.ndarray, q: float, r: float) -> tuple[float, float, float, float]:
    p = len(eig)
    v = float(np.prod(1 / (1 + eig)))
    t1 = r - 0.5 * (p - q + 1)
    t2 = (p * q - 2) / 4
    t3 = p**2 + q**2 - 5
    t3 = np.sqrt(((p * q) ** 2 - 4) / t3) if t3 > 0 else 1.0
    den = t1 * t3 - 2 * t2
    return v, ((v ** (-1 / t3) - 1) * den) / p / q, p * q, den


def hotelling_lawley(eig: np.ndarray, q: float, r: float) -> tuple[float, float, float, float]:
    p = len(eig)
    v = float(np.sum(eig))
    s, m, n = min(p, q), 0.5 * (abs(p - q) - 1), 0.5 * (r - p - 1)
    a, b = 2 * m + s + 1, 2 * (s * n + 1)
    return v, (b * v) / s / s / a, s * a, b


def roy(eig: np.ndarray, q: float, r: float) -> tuple[float, float, float, float]:
    p = len(eig)
    v = float(np.max(eig))
    a = max(p, q)
    b = r - a + q
    return v, (b * v) / a, a, b


MANOVA_TESTS: dict[str, Callable] = {"Pillai": pillai, "Wilks": wilks, "Hotelling-Lawley": hotelling_lawley, "Roy": roy}


def manova_tests(Y: np.ndarray, X: np.ndarray, terms: list[list[int]], names: list[str]) -> pd.DataFrame:
    """Sequential (type I) MANOVA tests of the column groups `terms` of X.

    H for a term is the SSCP of the fitted values it adds to the terms before
    it; E is the residual SSCP of the full model."""
    Y = np.asarray(Y, float)
    X = np.asarray(X, float)
    n = len(Y)
    q_full, _ = np.linalg.qr(X)
    E = Y.T @ Y - (q_full.T @ Y).T @ (q_full.T @ Y)
    r = n - X.shape[1]
    rows = []
    used: list[int] = []
    prev = np.zeros_like(Y.T @ Y)
    for cols, name in zip(terms, names):
        used = used + list(cols)
        qx, _ = np.linalg.qr(X[:, used])
        fitted_sscp = (qx.T @ Y).T @ (qx.T @ Y)
        H = fitted_sscp - prev
        prev = fitted_sscp
        eig = np.sort(np.linalg.eigvals(np.linalg.solve(E, H)).real)[::-1]
        eig = np.clip(eig, 0.0, None)
        for test, fun in MANOVA_TESTS.items():
            v, f, df1, df2 = fun(eig, float(len(cols)), float(r))
            rows.append({"term": name, "test": test, "value": v, "statistic": f, "num_df": float(df1), "den_df": float(df2), "p_value": float(f_sf(f, df1, df2))})
    return pd.DataFrame(rows, columns=TEST_COLUMNS)


def two_stage_manova(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """MANOVA of the school (intercept, slope) pairs on the compared factor."""
    t = per_group_ols(data, spec).table
    levels = factor_levels(data, spec)
    W = np.column_stack([np.ones(len(t))] + [(t[spec.level2_factor] == lv).to_numpy(float) for lv in levels[1:]])
    Y = t[["intercept", "slope"]].to_numpy()
    return manova_tests(Y, W, [[0], list(range(1, W.shape[1]))], ["(Intercept)", spec.level2_factor])


def sector_difference_tests(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Fixed-effects Wald F row(s), then the MANOVA rows."""
    return pd.concat([fixed_effects_wald(data, spec), two_stage_manova(data, spec)], ignore_index=True)
