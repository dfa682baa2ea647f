"""Fixed effects, version 1: a separate OLS line in every school.

`y ~ school/x - 1`: one intercept and one slope per school, a pooled
residual variance. Each sector's line is the equal-weight average of its
schools' lines (an L-matrix Wald contrast), so its standard error uses only
within-school variability: it generalises to new students of these
schools, not to new schools.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .common import coef_from_lines, difference_name, factor_levels, fit_row, per_group_ols

METHOD = "fe_school_lines"


def averaged_lines(table: pd.DataFrame, spec: ModelSpec, levels: list[str], sigma2: float, df: float) -> pd.DataFrame:
    """Sector means of the school lines with their covariance, and differences."""
    rows = {}
    for lv in levels:
        s = table[table[spec.level2_factor] == lv]
        m = len(s)
        rows[lv] = {
            "intercept": s["intercept"].mean(),
            "slope": s["slope"].mean(),
            "var_intercept": sigma2 * s["xtx_inv_intercept"].sum() / m**2,
            "cov_intercept_slope": sigma2 * s["xtx_inv_cov"].sum() / m**2,
            "var_slope": sigma2 * s["xtx_inv_slope"].sum() / m**2,
        }
    out = [{"line": lv, "kind": "level", **rows[lv]} for lv in levels]
    ref = rows[levels[0]]
    for lv in levels[1:]:
        r = rows[lv]
        # Sectors share no school, so the difference's covariance is the sum.
        out.append(
            {
                "line": difference_name(lv, levels[0]),
                "kind": "difference",
                "intercept": r["intercept"] - ref["intercept"],
                "slope": r["slope"] - ref["slope"],
                **{k: r[k] + ref[k] for k in ("var_intercept", "cov_intercept_slope", "var_slope")},
            }
        )
    lines = pd.DataFrame(out)
    lines.insert(0, "method", METHOD)
    lines["df_intercept"] = float(df)
    lines["df_slope"] = float(df)
    return lines


def fit(data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    groups = per_group_ols(data, spec)
    levels = factor_levels(data, spec)
    t = groups.table
    lines = averaged_lines(t, spec, levels, groups.sigma2_pooled, groups.df_pooled)
    model = f"{spec.response} ~ {spec.group}/{spec.predictor} - 1 (sector averages of school lines)"
    coef = coef_from_lines(METHOD, model, lines, spec, levels)
    nobs = int(t["n"].sum())
    rss = float(t["rss"].sum())
    loglik = -0.5 * nobs * (np.log(2 * np.pi) + np.log(rss / nobs) + 1.0)
    npar = 2 * len(t) + 1
    glance = fit_row(
        METHOD, "OLS", levels[0], nobs, len(t), groups.df_pooled, np.sqrt(groups.sigma2_pooled),
        loglik, -2 * loglik + 2 * npar, -2 * loglik + np.log(nobs) * npar, warnings=groups.excluded,
    )
    return MethodResult(coef, lines, glance)
