"""Between-school (ecological) regression: average, then regress.

School means of the response regressed on school means of the predictor,
once alone (the ecological regression) and once with the compared factor,
which gives the between-school sector lines. These estimate the
between-school effect, not the within-school one.
"""

from __future__ import annotations

import pandas as pd
from formulaic import model_matrix

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .common import factor_levels, fit_row, interaction_line_weights, ols, sector_lines_table, tidy_from_fit

METHOD = "between"


def school_means(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """One row per school: mean response, mean predictor, the factor."""
    g = data.groupby(spec.group, sort=True, observed=True)
    out = g[[spec.response, spec.predictor]].mean()
    out[spec.level2_factor] = pd.Categorical(g[spec.level2_factor].first().astype(str), categories=data[spec.level2_factor].cat.categories)
    return out.reset_index()


def fit(data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    means = school_means(data, spec)
    tables, fits = [], []
    for rhs in (spec.predictor, f"{spec.predictor} * {spec.level2_factor}"):
        formula = f"{spec.response} ~ {rhs}"
        X = model_matrix(formula, means)
        res = ols(X.rhs.to_numpy(), X.lhs.to_numpy().ravel(), list(X.rhs.columns))
        tables.append(tidy_from_fit(METHOD, f"{formula} (school means)", res))
        fits.append(res)
    sector_fit = fits[1]
    levels = factor_levels(data, spec)
    weights = interaction_line_weights(sector_fit.terms, levels, spec, "Intercept", spec.predictor)
    lines = sector_lines_table(METHOD, sector_fit.beta, sector_fit.vcov, weights, lambda w: sector_fit.df_resid)
    glance = fit_row(METHOD, "OLS on school means", levels[0], sector_fit.nobs, len(means), sector_fit.df_resid, sector_fit.sigma, sector_fit.loglik, sector_fit.aic, sector_fit.bic)
    return MethodResult(pd.concat(tables, ignore_index=True), lines, glance)
