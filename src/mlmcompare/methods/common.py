"""Pieces every method shares: OLS, per-group OLS lines, tidy rows, lines.

A method turns the student data into three tidy tables (see `tidy`). The
comparison is always between the levels of one level-2 factor (Sector):
each level's line (intercept, slope) and each non-reference level minus
the reference, as linear combinations `a'beta`, `b'beta` of a coefficient
vector with covariance V. `sector_lines_table` does that once for all
methods; each method only says which weights make which line and which df
go with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import linalg, stats

from ..spec import ModelSpec

LineWeights = Mapping[str, tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class OlsFit:
    terms: list[str]
    beta: np.ndarray
    vcov: np.ndarray
    sigma: float
    df_resid: int
    rss: float
    nobs: int

    @property
    def loglik(self) -> float:
        n = self.nobs
        return -0.5 * n * (np.log(2 * np.pi) + np.log(self.rss / n) + 1.0)

    @property
    def npar(self) -> int:
        return len(self.beta) + 1  # coefficients and sigma

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + np.log(self.nobs) * self.npar


def aliased_terms(X: np.ndarray, terms: Sequence[str], tol: float = 1e-7) -> list[str]:
    """Terms whose column lies in the span of the columns before it.

    Columns are taken in order (as R's lm and lme4's chkRank.drop.cols do),
    so the later of two collinear terms is the one named. Gram-Schmidt with
    one re-orthogonalisation; a column is aliased when less than `tol` of its
    norm is left after projecting out the kept columns.
    """
    X = np.asarray(X, dtype="float64")
    basis = np.empty((X.shape[0], 0))
    aliased = []
    for j, name in enumerate(terms):
        col = X[:, j]
        norm = np.linalg.norm(col)
        resid = col - basis @ (basis.T @ col)
        resid -= basis @ (basis.T @ resid)
        left = np.linalg.norm(resid)
        if norm == 0.0 or left <= tol * norm:
            aliased.append(name)
        else:
            basis = np.column_stack([basis, resid / left])
    return aliased


def ols(X: np.ndarray, y: np.ndarray, terms: Sequence[str]) -> OlsFit:
    """Least squares by QR; a rank-deficient X is refused naming the aliased terms."""
    X = np.asarray(X, dtype="float64")
    y = np.asarray(y, dtype="float64")
    n, p = X.shape
    if n <= p:
        raise ValueError(f"{n} observations cannot estimate {p} coefficients and a residual variance")
    q, r = np.linalg.qr(X)
    # |R_jj| is the part of column j not explained by the columns before it;
    # only when one is (nearly) 0 is the slower naming of aliased terms needed
    if np.any(np.abs(np.diag(r)) <= 1e-7 * np.linalg.norm(X, axis=0)):
        alias = aliased_terms(X, terms)
        raise ValueError(f"rank-deficient model matrix: term(s) {', '.join(alias)} are aliased with others")
    beta = linalg.solve_triangular(r, q.T @ y)
    resid = y - X @ beta
    rss = float(resid @ resid)
    df = n - p
    sigma2 = rss / df
    rinv = linalg.solve_triangular(r, np.eye(p))
    vcov = sigma2 * (rinv @ rinv.T)
    return OlsFit(list(terms), beta, vcov, float(np.sqrt(sigma2)), df, rss, n)


def t_interval(estimate: np.ndarray, se: np.ndarray, df: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """t statistics, two-sided p-values and confidence limits (normal where df is inf)."""
    estimate, se, df = (np.asarray(a, dtype="float64") for a in (estimate, se, df))
    stat = estimate / se
    p = 2.0 * stats.t.sf(np.abs(stat), df)
    half = stats.t.ppf(0.5 + level / 2.0, df) * se
    return stat, p, estimate - half, estimate + half


def tidy_coef(method: str, model: str, terms: Sequence[str], estimate, se, df) -> pd.DataFrame:
    """broom::tidy rows for the given terms."""
    estimate = np.asarray(estimate, dtype="float64")
    se = np.asarray(se, dtype="float64")
    df = np.broadcast_to(np.asarray(df, dtype="float64"), estimate.shape)
    stat, p, lo, hi = t_interval(estimate, se, df)
    return pd.DataFrame(
        {
            "method": method,
            "model": model,
            "term": list(terms),
            "estimate": estimate,
            "std_error": se,
            "df": df,
            "statistic": stat,
            "p_value": p,
            "conf_low": lo,
            "conf_high": hi,
        }
    )


def tidy_from_fit(method: str, model: str, fit: OlsFit) -> pd.DataFrame:
    return tidy_coef(method, model, fit.terms, fit.beta, np.sqrt(np.diag(fit.vcov)), fit.df_resid)


def factor_levels(data: pd.DataFrame, spec: ModelSpec) -> list[str]:
    """Levels of the compared factor, reference first."""
    return [str(x) for x in data[spec.level2_factor].cat.categories]


def level_term(spec: ModelSpec, level: str) -> str:
    """formulaic's name of a treatment-contrast column, e.g. `Sector[T.Public]`."""
    return f"{spec.level2_factor}[T.{level}]"


def unit(terms: Sequence[str], *names: str) -> np.ndarray:
    """The weight vector adding the named terms."""
    w = np.zeros(len(terms))
    for name in names:
        w[list(terms).index(name)] += 1.0
    return w


def interaction_line_weights(terms: Sequence[str], levels: Sequence[str], spec: ModelSpec, intercept: str, slope: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Lines of a `slope * factor` parametrisation with treatment contrasts.

    The reference level's line is (intercept, slope); another level adds its
    `F[T.level]` and `slope:F[T.level]` terms; the difference is those terms.
    """
    ref = levels[0]
    out = {ref: (unit(terms, intercept), unit(terms, slope))}
    for lv in levels[1:]:
        t = level_term(spec, lv)
        out[lv] = (unit(terms, intercept, t), unit(terms, slope, f"{slope}:{t}"))
    for lv in levels[1:]:
        t = level_term(spec, lv)
        out[difference_name(lv, ref)] = (unit(terms, t), unit(terms, f"{slope}:{t}"))
    return out


def difference_name(level: str, reference: str) -> str:
    return f"{level} - {reference}"


def sector_lines_table(
    method: str,
    beta: np.ndarray,
    vcov: np.ndarray,
    weights: LineWeights,
    df_of: Callable[[np.ndarray], float],
) -> pd.DataFrame:
    """The sector_lines rows: each line's point, 2x2 covariance and df.

    `df_of(w)` returns the df for the linear combination `w'beta`; it is
    constant for OLS and Satterthwaite's for mixed models.
    """
    rows = []
    for line, (a, b) in weights.items():
        L = np.vstack([a, b])
        point = L @ beta
        cov = L @ vcov @ L.T
        rows.append(
            {
                "method": method,
                "line": line,
                "kind": "difference" if " - " in line else "level",
                "intercept": point[0],
                "slope": point[1],
                "var_intercept": cov[0, 0],
                "cov_intercept_slope": cov[0, 1],
                "var_slope": cov[1, 1],
                "df_intercept": float(df_of(a)),
                "df_slope": float(df_of(b)),
            }
        )
    return pd.DataFrame(rows)


def coef_from_lines(method: str, model: str, lines: pd.DataFrame, spec: ModelSpec, levels: Sequence[str]) -> pd.DataFrame:
    """The four comparison terms (reference line, differences) from sector lines.

    Used by methods whose own coefficients are per school (the fixed-effects
    models) or per response (two-stage), so that every method's coef table
    holds the same terms: Intercept, x, F[T.level], x:F[T.level].
    """
    ref = lines.set_index("line").loc[levels[0]]
    terms = ["Intercept", spec.predictor]
    est = [ref["intercept"], ref["slope"]]
    se = [np.sqrt(ref["var_intercept"]), np.sqrt(ref["var_slope"])]
    df = [ref["df_intercept"], ref["df_slope"]]
    for lv in levels[1:]:
        d = lines.set_index("line").loc[difference_name(lv, levels[0])]
        t = level_term(spec, lv)
        terms += [t, f"{spec.predictor}:{t}"]
        est += [d["intercept"], d["slope"]]
        se += [np.sqrt(d["var_intercept"]), np.sqrt(d["var_slope"])]
        df += [d["df_intercept"], d["df_slope"]]
    return tidy_coef(method, model, terms, est, se, df)


def fit_row(method: str, estimator: str, reference: str, nobs: int, ngroups: int, df_resid: float, sigma: float, loglik: float, aic: float, bic: float, converged: bool = True, singular: bool = False, warnings: Sequence[str] = ()) -> pd.DataFrame:
    """The one-row glance table."""
    return pd.DataFrame(
        [
            {
                "method": method,
                "estimator": estimator,
                "reference": reference,
                "nobs": int(nobs),
                "ngroups": int(ngroups),
                "df_resid": float(df_resid),
                "sigma": float(sigma),
                "loglik": float(loglik),
                "aic": float(aic),
                "bic": float(bic),
                "converged": bool(converged),
                "singular": bool(singular),
                "warnings": list(warnings),
            }
        ]
    )


@dataclass(frozen=True)
class GroupLines:
    """Per-group OLS of the response on the predictor (the BLUEs)."""

    table: pd.DataFrame  # group, level, n, intercept, slope, var_*, rss, df_resid (only estimable groups)
    excluded: list[str]  # one message per group left out
    sigma2_pooled: float
    df_pooled: int


def per_group_ols(data: pd.DataFrame, spec: ModelSpec) -> GroupLines:
    """Each group's own OLS line; groups where the slope is not estimable
    (one row, or no spread in the predictor) are listed and left out."""
    g = data.groupby(spec.group, sort=True)
    x = data[spec.predictor].to_numpy(dtype="float64")
    y = data[spec.response].to_numpy(dtype="float64")
    codes = g.ngroup().to_numpy()
    n = np.bincount(codes).astype("float64")
    sx = np.bincount(codes, x)
    sy = np.bincount(codes, y)
    mx, my = sx / n, sy / n
    dx = x - mx[codes]
    dy = y - my[codes]
    sxx = np.bincount(codes, dx * dx)
    sxy = np.bincount(codes, dx * dy)
    syy = np.bincount(codes, dy * dy)
    keys = list(g.groups.keys())
    levels = g[spec.level2_factor].first().astype(str).to_numpy()
    spread_tol = 1e-12 * np.maximum(1.0, np.bincount(codes, x * x) / n)
    ok = (n >= 2) & (sxx > spread_tol)
    excluded = []
    for i in np.flatnonzero(~ok):
        why = "a single row" if n[i] < 2 else f"no spread in {spec.predictor}"
        excluded.append(f"{spec.group} {keys[i]} left out: {why}")
    slope = np.where(ok, sxy / np.where(ok, sxx, 1.0), np.nan)
    intercept = my - slope * mx
    rss = np.where(ok, syy - slope * sxy, np.nan)
    df_g = n - 2
    df_pooled = int(df_g[ok].sum())
    sigma2 = float(np.nansum(rss[ok]) / df_pooled) if df_pooled > 0 else np.nan
    # (X'X)^-1 for [1, x]: var(b) = 1/sxx, var(a) = 1/n + mx^2/sxx, cov = -mx/sxx
    inv_sxx = np.where(ok, 1.0 / np.where(ok, sxx, 1.0), np.nan)
    table = pd.DataFrame(
        {
            spec.group: keys,
            spec.level2_factor: levels,
            "n": n.astype("int64"),
            "intercept": intercept,
            "slope": slope,
            "xtx_inv_intercept": 1.0 / n + mx * mx * inv_sxx,
            "xtx_inv_cov": -mx * inv_sxx,
            "xtx_inv_slope": inv_sxx,
            "rss": rss,
            "df_resid": df_g,
        }
    )[ok].reset_index(drop=True)
    return GroupLines(table, excluded, sigma2, df_pooled)
