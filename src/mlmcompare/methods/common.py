"""Pieces every method shares: OLS, per-group OLS lines, tidy rows, lines.

A method turns the per-school statistics (`schools.SchoolStats`) into a
`MethodFit`: its sector lines, its glance row and, on demand, its coef
table; `MethodFit.result()` makes the three tidy tables (see `tidy`). The
comparison is always between the levels of one level-2 factor (Sector):
each level's line (intercept, slope) and each non-reference level minus
the reference, as linear combinations `a'beta`, `b'beta` of a coefficient
vector with covariance V. `lines_from_coef` does that once for all
methods; each method only says which weights make which line and which df
go with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import linalg

from ..estimation.distributions import t_ppf, t_sf
from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .schools import Moments, SchoolStats, clearly_full_rank, interaction_gram, interaction_terms, school_stats

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
        return gaussian_loglik(self.rss, self.nobs)

    @property
    def npar(self) -> int:
        return len(self.beta) + 1  # coefficients and sigma

    @property
    def aic(self) -> float:
        return aic(self.loglik, self.npar)

    @property
    def bic(self) -> float:
        return bic(self.loglik, self.npar, self.nobs)


def gaussian_loglik(rss: float, nobs: int) -> float:
    """Maximised normal log-likelihood of a least-squares fit with residual sum of squares `rss`."""
    return -0.5 * nobs * (np.log(2 * np.pi) + np.log(rss / nobs) + 1.0)


def aic(loglik: float, npar: int) -> float:
    return -2.0 * loglik + 2.0 * npar


def bic(loglik: float, npar: int, nobs: int) -> float:
    return -2.0 * loglik + np.log(nobs) * npar


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


def interaction_ols(units: Moments, unit_level: np.ndarray, levels: Sequence[str], spec: ModelSpec,
                    rows: Callable[[], tuple[np.ndarray, np.ndarray]]) -> OlsFit:
    """OLS of `y ~ x * F` from the moments of its units (rows, or schools).

    With treatment contrasts the model is one line per level of F, fitted to
    that level's pooled moments; its coefficients are the reference line and
    each level's differences from it (formulaic's terms and order). A model
    the moments do not show estimable goes to `ols` on the `rows` (X, y),
    which names the aliased terms.
    """
    k = len(levels)
    lv = units.pooled(unit_level, k)
    terms = interaction_terms([spec.predictor], levels, spec.level2_factor)
    nobs = int(round(float(lv.n.sum())))
    gram = interaction_gram(lv)
    if nobs <= len(terms) or not clearly_full_rank(gram, np.sqrt(np.diag(gram)), nobs):
        ols(*rows(), terms)
    slope = lv.sxy / lv.sxx
    intercept = lv.y_mean - slope * lv.x_mean
    rss = float(np.sum(lv.syy - slope * lv.sxy))
    df = nobs - len(terms)
    s2 = rss / df
    # theta = (a_0..a_k-1, b_0..b_k-1) has a block per level: s2 (X_l'X_l)^-1;
    # beta = D theta: the reference line, then differences from it
    V = np.zeros((2 * k, 2 * k))
    a, b = np.arange(k), k + np.arange(k)
    V[a, a] = s2 * (1.0 / lv.n + lv.x_mean**2 / lv.sxx)
    V[a, b] = V[b, a] = -s2 * lv.x_mean / lv.sxx
    V[b, b] = s2 / lv.sxx
    D = np.eye(2 * k)[np.r_[0, k, 1:k, k + 1 : 2 * k]]
    D[2:k + 1, 0] = D[k + 1:, k] = -1.0
    beta = D @ np.r_[intercept, slope]
    return OlsFit(terms, beta, D @ V @ D.T, float(np.sqrt(s2)), df, rss, nobs)


def t_interval(estimate: np.ndarray, se: np.ndarray, df: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """t statistics, two-sided p-values and confidence limits (normal where df is inf)."""
    estimate, se, df = (np.asarray(a, dtype="float64") for a in (estimate, se, df))
    stat = estimate / se
    p = 2.0 * t_sf(np.abs(stat), df)
    half = t_ppf(0.5 + level / 2.0, df) * se
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


@dataclass(frozen=True)
class SectorLines:
    """Each line's point (intercept, slope), its 2x2 covariance and the df of each part.

    Lines are named by level, and `difference_name` for each non-reference
    level minus the reference.
    """

    names: list[str]
    point: np.ndarray  # (lines, 2)
    cov: np.ndarray  # (lines, 2, 2)
    df: np.ndarray  # (lines, 2)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def table(self, method: str) -> pd.DataFrame:
        """The sector_lines rows of `tidy`."""
        return pd.DataFrame(
            {
                "method": method,
                "line": self.names,
                "kind": ["difference" if " - " in name else "level" for name in self.names],
                "intercept": self.point[:, 0],
                "slope": self.point[:, 1],
                "var_intercept": self.cov[:, 0, 0],
                "cov_intercept_slope": self.cov[:, 0, 1],
                "var_slope": self.cov[:, 1, 1],
                "df_intercept": self.df[:, 0].astype("float64"),
                "df_slope": self.df[:, 1].astype("float64"),
            }
        )


def separate_level_lines(levels: Sequence[str], point: np.ndarray, cov: np.ndarray, df: float) -> SectorLines:
    """Each level's line and each non-reference level minus the reference, for
    lines estimated from separate schools (so a difference's covariance is the sum)."""
    names = list(levels) + [difference_name(lv, levels[0]) for lv in levels[1:]]
    return SectorLines(names, np.vstack([point, point[1:] - point[0]]), np.concatenate([cov, cov[1:] + cov[0]]),
                       np.full((len(names), 2), float(df)))


def lines_from_coef(beta: np.ndarray, vcov: np.ndarray, weights: LineWeights,
                    df_of: Callable[[np.ndarray], np.ndarray]) -> SectorLines:
    """Each line's point, 2x2 covariance and df from a coefficient vector.

    `df_of(W)` returns the df of each linear combination `w'beta`, one per
    row of W: constant for OLS, Satterthwaite's for mixed models.
    """
    L = np.array([np.vstack(ab) for ab in weights.values()])  # (lines, 2, p)
    flat = L.reshape(-1, L.shape[-1])
    return SectorLines(list(weights), L @ beta, L @ vcov @ L.transpose(0, 2, 1),
                       np.asarray(df_of(flat), dtype="float64").reshape(-1, 2))


def constant_df(df: float) -> Callable[[np.ndarray], np.ndarray]:
    """The df function of a method whose every contrast has the same df."""
    return lambda W: np.full(len(W), float(df))


def coef_from_lines(method: str, model: str, lines: SectorLines, spec: ModelSpec, levels: Sequence[str]) -> pd.DataFrame:
    """The four comparison terms (reference line, differences) from sector lines.

    Used by methods whose own coefficients are per school (the fixed-effects
    models), so that every method's coef table holds the same terms:
    Intercept, x, F[T.level], x:F[T.level].
    """
    rows = [lines.index(levels[0])] + [lines.index(difference_name(lv, levels[0])) for lv in levels[1:]]
    terms = ["Intercept", spec.predictor]
    for lv in levels[1:]:
        t = level_term(spec, lv)
        terms += [t, f"{spec.predictor}:{t}"]
    se = np.sqrt(np.diagonal(lines.cov[rows], axis1=1, axis2=2))
    return tidy_coef(method, model, terms, lines.point[rows].ravel(), se.ravel(), lines.df[rows].ravel())


@dataclass(frozen=True)
class Glance:
    """The fit row (broom's glance) of a method, less its name."""

    estimator: str
    reference: str
    nobs: int
    ngroups: int
    df_resid: float
    sigma: float
    loglik: float
    aic: float
    bic: float
    converged: bool = True
    singular: bool = False
    warnings: Sequence[str] = ()

    def table(self, method: str) -> pd.DataFrame:
        """The one-row glance table."""
        return pd.DataFrame(
            [
                {
                    "method": method,
                    "estimator": self.estimator,
                    "reference": self.reference,
                    "nobs": int(self.nobs),
                    "ngroups": int(self.ngroups),
                    "df_resid": float(self.df_resid),
                    "sigma": float(self.sigma),
                    "loglik": float(self.loglik),
                    "aic": float(self.aic),
                    "bic": float(self.bic),
                    "converged": bool(self.converged),
                    "singular": bool(self.singular),
                    "warnings": list(self.warnings),
                }
            ]
        )


def ols_glance(estimator: str, reference: str, fit: OlsFit, ngroups: int, warnings: Sequence[str] = ()) -> Glance:
    return Glance(estimator, reference, fit.nobs, ngroups, fit.df_resid, fit.sigma, fit.loglik, fit.aic, fit.bic,
                  warnings=warnings)


@dataclass(frozen=True)
class MethodFit:
    """What a method estimated: its sector lines, its glance and its coef table.

    The coef table is built on demand: the Monte Carlo study reads only the
    lines and the verdicts.
    """

    method: str
    lines: SectorLines
    glance: Glance
    coef: Callable[[], pd.DataFrame]

    def result(self) -> MethodResult:
        """The three tidy tables."""
        return MethodResult(self.coef(), self.lines.table(self.method), self.glance.table(self.method))


@dataclass(frozen=True)
class SchoolLines:
    """Each school's own OLS line of the response on the predictor (the BLUEs), as arrays.

    `ok` marks the schools whose slope is estimable; the others (one row, or
    no spread in the predictor) are left out, one message each in `excluded`.
    Pooled residual variance and df are over the estimable schools.
    """

    ok: np.ndarray
    intercept: np.ndarray
    slope: np.ndarray
    xtx_inv_intercept: np.ndarray  # (X'X)^-1 of [1, x]
    xtx_inv_cov: np.ndarray
    xtx_inv_slope: np.ndarray
    rss: np.ndarray
    df_resid: np.ndarray
    excluded: list[str]
    sigma2_pooled: float
    df_pooled: int


def school_lines(stats: SchoolStats) -> SchoolLines:
    """Each school's OLS line from its moments; schools where the slope is not
    estimable (one row, or no spread in the predictor) are listed and left out."""
    m, spec = stats.moments, stats.spec
    spread_tol = 1e-12 * np.maximum(1.0, m.sum_xx() / m.n)
    ok = (m.n >= 2) & (m.sxx > spread_tol)
    excluded = []
    for i in np.flatnonzero(~ok):
        why = "a single row" if m.n[i] < 2 else f"no spread in {spec.predictor}"
        excluded.append(f"{spec.group} {stats.groups[i]} left out: {why}")
    slope = np.where(ok, m.sxy / np.where(ok, m.sxx, 1.0), np.nan)
    rss = np.where(ok, m.syy - slope * m.sxy, np.nan)
    df = m.n - 2
    df_pooled = int(df[ok].sum())
    sigma2 = float(np.nansum(rss[ok]) / df_pooled) if df_pooled > 0 else np.nan
    # (X'X)^-1 for [1, x]: var(b) = 1/sxx, var(a) = 1/n + xbar^2/sxx, cov = -xbar/sxx
    inv_sxx = np.where(ok, 1.0 / np.where(ok, m.sxx, 1.0), np.nan)
    return SchoolLines(
        ok=ok, intercept=m.y_mean - slope * m.x_mean, slope=slope,
        xtx_inv_intercept=1.0 / m.n + m.x_mean**2 * inv_sxx, xtx_inv_cov=-m.x_mean * inv_sxx, xtx_inv_slope=inv_sxx,
        rss=rss, df_resid=df, excluded=excluded, sigma2_pooled=sigma2, df_pooled=df_pooled,
    )


@dataclass(frozen=True)
class GroupLines:
    """Per-group OLS of the response on the predictor (the BLUEs), as a table."""

    table: pd.DataFrame  # group, level, n, intercept, slope, xtx_inv_*, rss, df_resid (only estimable groups)
    excluded: list[str]  # one message per group left out
    sigma2_pooled: float
    df_pooled: int


def per_group_ols(data: pd.DataFrame, spec: ModelSpec) -> GroupLines:
    """Each group's own OLS line (`school_lines`) as a table of the estimable groups."""
    stats = school_stats(data, spec)
    lines = school_lines(stats)
    ok = lines.ok
    table = pd.DataFrame(
        {
            spec.group: stats.groups[ok],
            spec.level2_factor: np.asarray(stats.levels, dtype=object)[stats.level[ok]],
            "n": stats.moments.n[ok].astype("int64"),
            "intercept": lines.intercept[ok],
            "slope": lines.slope[ok],
            "xtx_inv_intercept": lines.xtx_inv_intercept[ok],
            "xtx_inv_cov": lines.xtx_inv_cov[ok],
            "xtx_inv_slope": lines.xtx_inv_slope[ok],
            "rss": lines.rss[ok],
            "df_resid": lines.df_resid[ok],
        }
    )
    return GroupLines(table, lines.excluded, lines.sigma2_pooled, lines.df_pooled)
