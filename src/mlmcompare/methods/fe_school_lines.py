"""Fixed effects, version 1: a separate OLS line in every school.

`y ~ school/x - 1`: one intercept and one slope per school, a pooled
residual variance. Each sector's line is the equal-weight average of its
schools' lines (an L-matrix Wald contrast), so its standard error uses only
within-school variability: it generalises to new students of these
schools, not to new schools.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..spec import ModelSpec
from .common import Glance, MethodFit, SectorLines, aic, bic, coef_from_lines, gaussian_loglik, school_lines, separate_level_lines
from .schools import SchoolStats

METHOD = "fe_school_lines"


def average_lines(level: np.ndarray, intercept: np.ndarray, slope: np.ndarray, xtx_inv: np.ndarray,
                  levels: Sequence[str], sigma2: float, df: float) -> SectorLines:
    """Sector means of the school lines with their covariance, and differences.

    `level`, `intercept`, `slope`: one entry per school; `xtx_inv`: (schools,
    3) entries intercept, covariance, slope of each school's (X'X)^-1.
    """
    k = len(levels)
    m = np.bincount(level, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):  # a level without schools gives NaN
        point = np.column_stack([np.bincount(level, intercept, minlength=k), np.bincount(level, slope, minlength=k)]) / m[:, None]
        v = np.column_stack([np.bincount(level, xtx_inv[:, i], minlength=k) for i in range(3)]) * sigma2 / (m**2)[:, None]
    cov = np.stack([np.stack([v[:, 0], v[:, 1]], -1), np.stack([v[:, 1], v[:, 2]], -1)], -2)
    return separate_level_lines(levels, point, cov, df)


def averaged_lines(table: pd.DataFrame, spec: ModelSpec, levels: list[str], sigma2: float, df: float) -> pd.DataFrame:
    """`average_lines` of a `per_group_ols` table, as sector_lines rows."""
    level = pd.Index(levels).get_indexer(table[spec.level2_factor].astype(str))
    xtx_inv = table[["xtx_inv_intercept", "xtx_inv_cov", "xtx_inv_slope"]].to_numpy()
    return average_lines(level, table["intercept"].to_numpy(), table["slope"].to_numpy(), xtx_inv, levels, sigma2, df).table(METHOD)


def estimate(stats: SchoolStats) -> MethodFit:
    spec, levels = stats.spec, stats.levels
    g = school_lines(stats)
    ok = g.ok
    if not ok.any():
        raise ValueError(f"{METHOD}: no {spec.group} has an estimable slope "
                         f"(each has a single row or no spread in {spec.predictor})")
    xtx_inv = np.column_stack([g.xtx_inv_intercept, g.xtx_inv_cov, g.xtx_inv_slope])[ok]
    lines = average_lines(stats.level[ok], g.intercept[ok], g.slope[ok], xtx_inv, levels, g.sigma2_pooled, g.df_pooled)
    model = f"{spec.response} ~ {spec.group}/{spec.predictor} - 1 (sector averages of school lines)"
    nobs = int(stats.moments.n[ok].sum())
    loglik = gaussian_loglik(float(g.rss[ok].sum()), nobs)
    npar = 2 * int(ok.sum()) + 1
    glance = Glance("OLS", levels[0], nobs, int(ok.sum()), g.df_pooled, np.sqrt(g.sigma2_pooled),
                    loglik, aic(loglik, npar), bic(loglik, npar, nobs), warnings=g.excluded)
    return MethodFit(METHOD, lines, glance, lambda: coef_from_lines(METHOD, model, lines, spec, levels))
