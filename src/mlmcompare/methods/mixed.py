"""Mixed model: `y ~ x * F + (1 + x | school)` by REML with our engine.

It uses within- and between-school information, weighted by how much each
school tells, and its standard errors generalise to new schools. Its slope
equals the within-school effect only if the between-school effect is the
same; otherwise it is a mixture, though usually close to the within one.
"""

from __future__ import annotations

import pandas as pd

from .. import lmm
from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .common import factor_levels, fit_row, interaction_line_weights, sector_lines_table

METHOD = "mixed"


def mixed_result(method: str, formula: str, data: pd.DataFrame, spec: ModelSpec, intercept: str, slope: str) -> MethodResult:
    """Fit a mixed model and tabulate it; the lines use Satterthwaite df."""
    res = lmm.fit(formula, data, reml=True)
    terms = list(res.fixef.index)
    levels = factor_levels(data, spec)
    weights = interaction_line_weights(terms, levels, spec, intercept, slope)
    lines = sector_lines_table(
        method, res.fixef.to_numpy(), res.vcov.to_numpy(), weights, lambda w: float(res.contrast(w)["df"].iloc[0])
    )
    coef = res.coef.copy()
    coef.insert(0, "model", formula)
    coef.insert(0, "method", method)
    glance = fit_row(
        method, "REML", levels[0], res.nobs, res.ngroups, res.df_resid, res.sigma, res.loglik, res.aic, res.bic,
        converged=res.converged, singular=res.singular, warnings=res.warnings,
    )
    return MethodResult(coef, lines, glance)


def fit(data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    x, f = spec.predictor, spec.level2_factor
    formula = f"{spec.response} ~ {x} * {f} + (1 + {x} | {spec.group})"
    return mixed_result(METHOD, formula, data, spec, "Intercept", x)
