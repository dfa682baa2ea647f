"""Pooled OLS: ignore the schools, `y ~ x * F` by ordinary least squares.

Its slope is a mixture of the within- and between-school effects, and its
standard errors treat every student as independent.
"""

from __future__ import annotations

from .. import models
from .common import MethodFit, constant_df, interaction_line_weights, interaction_ols, lines_from_coef, ols_glance, tidy_from_fit
from .schools import SchoolStats

METHOD = "pooled_ols"


def estimate(stats: SchoolStats) -> MethodFit:
    spec, levels = stats.spec, stats.levels
    formula = models.formula("pooled", spec)
    res = interaction_ols(stats.moments, stats.level, levels, spec, lambda: (stats.interaction_rows([spec.predictor]), stats.y))
    weights = interaction_line_weights(res.terms, levels, spec, "Intercept", spec.predictor)
    lines = lines_from_coef(res.beta, res.vcov, weights, constant_df(res.df_resid))
    return MethodFit(METHOD, lines, ols_glance("OLS", levels[0], res, stats.ngroups), lambda: tidy_from_fit(METHOD, formula, res))
