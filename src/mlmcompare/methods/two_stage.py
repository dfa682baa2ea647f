"""Two-stage ("derived variables") model: regress in each school, then average.

Stage 1 fits an OLS line in every school; stage 2 is a multivariate
regression of the (intercept, slope) pairs on the compared factor, keeping
their 2x2 residual covariance (a MANOVA). Its standard errors come from the
between-school spread of the lines, so they generalise to new schools, but
every school gets the same weight whatever its size or spread of the
predictor. Schools whose slope cannot be estimated are listed and left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .common import difference_name, factor_levels, fit_row, level_term, per_group_ols, tidy_coef

METHOD = "two_stage"


def fit(data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    groups = per_group_ols(data, spec)
    levels = factor_levels(data, spec)
    t = groups.table
    J = len(t)
    # Stage 2 design: intercept plus a treatment-contrast column per non-reference level.
    W = np.column_stack([np.ones(J)] + [(t[spec.level2_factor] == lv).to_numpy(float) for lv in levels[1:]])
    Y = t[["intercept", "slope"]].to_numpy()
    k = W.shape[1]
    if J <= k:
        raise ValueError(f"two-stage: {J} schools with an estimable slope cannot fit {k} sector means")
    wtw_inv = np.linalg.inv(W.T @ W)
    B = wtw_inv @ W.T @ Y
    E = Y - W @ B
    df = J - k
    S = E.T @ E / df  # residual covariance of (intercept, slope) between schools

    level_w = {levels[0]: np.eye(k)[0]}
    for i, lv in enumerate(levels[1:], start=1):
        level_w[lv] = np.eye(k)[0] + np.eye(k)[i]
    for i, lv in enumerate(levels[1:], start=1):
        level_w[difference_name(lv, levels[0])] = np.eye(k)[i]
    rows = []
    for line, w in level_w.items():
        point = w @ B
        cov = float(w @ wtw_inv @ w) * S
        rows.append(
            {
                "method": METHOD, "line": line, "kind": "difference" if " - " in line else "level",
                "intercept": point[0], "slope": point[1],
                "var_intercept": cov[0, 0], "cov_intercept_slope": cov[0, 1], "var_slope": cov[1, 1],
                "df_intercept": float(df), "df_slope": float(df),
            }
        )
    lines = pd.DataFrame(rows)

    # Each response's coefficients carry the name of the quantity they estimate
    # in the other methods: the intercept model gives Intercept and F[T.level],
    # the slope model gives x and x:F[T.level].
    x = spec.predictor
    terms = ["Intercept", *(level_term(spec, lv) for lv in levels[1:])]
    slope_terms = [x, *(f"{x}:{level_term(spec, lv)}" for lv in levels[1:])]
    se = np.sqrt(np.outer(np.diag(wtw_inv), np.diag(S)))
    model = f"cbind(intercept, slope) ~ {spec.level2_factor} (school OLS lines)"
    coef = pd.concat(
        [tidy_coef(METHOD, model, terms, B[:, 0], se[:, 0], df), tidy_coef(METHOD, model, slope_terms, B[:, 1], se[:, 1], df)],
        ignore_index=True,
    )
    glance = fit_row(
        METHOD, "OLS per school, then multivariate OLS", levels[0], int(t["n"].sum()), J, df,
        np.nan, np.nan, np.nan, np.nan, warnings=groups.excluded,
    )
    return MethodResult(coef, lines, glance)
