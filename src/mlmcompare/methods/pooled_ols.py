"""Pooled OLS: ignore the schools, `y ~ x * F` by ordinary least squares.

Its slope is a mixture of the within- and between-school effects, and its
standard errors treat every student as independent.
"""

from __future__ import annotations

import pandas as pd
from formulaic import model_matrix

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .common import factor_levels, fit_row, interaction_line_weights, ols, sector_lines_table, tidy_from_fit

METHOD = "pooled_ols"


def fit(data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    formula = f"{spec.response} ~ {spec.predictor} * {spec.level2_factor}"
    X = model_matrix(formula, data)
    terms = list(X.rhs.columns)
    res = ols(X.rhs.to_numpy(), X.lhs.to_numpy().ravel(), terms)
    levels = factor_levels(data, spec)
    weights = interaction_line_weights(terms, levels, spec, "Intercept", spec.predictor)
    lines = sector_lines_table(METHOD, res.beta, res.vcov, weights, lambda w: res.df_resid)
    glance = fit_row(METHOD, "OLS", levels[0], res.nobs, data[spec.group].nunique(), res.df_resid, res.sigma, res.loglik, res.aic, res.bic)
    return MethodResult(tidy_from_fit(METHOD, formula, res), lines, glance)
