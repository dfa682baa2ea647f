"""Fixed effects, version 2: school intercepts, one slope per sector.

`y ~ x + school + x:F` by OLS: every school its own intercept, every
sector a common slope. The slope difference weights schools by their size
and spread of the predictor; between-school variability plays no role in
its standard error. Sector intercepts are equal-weight averages of the
school intercepts, as in version 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .common import coef_from_lines, difference_name, factor_levels, fit_row, level_term, ols, sector_lines_table

METHOD = "fe_common_slope"


def design(data: pd.DataFrame, spec: ModelSpec, levels: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Columns: one dummy per school (no global intercept), x, x:F[T.level]."""
    codes, schools = pd.factorize(data[spec.group], sort=True)
    J = len(schools)
    dummies = np.zeros((len(data), J))
    dummies[np.arange(len(data)), codes] = 1.0
    x = data[spec.predictor].to_numpy(dtype="float64")
    f = data[spec.level2_factor].astype(str).to_numpy()
    extra = [x] + [x * (f == lv) for lv in levels[1:]]
    terms = [f"{spec.group}[{s}]" for s in schools]
    terms += [spec.predictor] + [f"{spec.predictor}:{level_term(spec, lv)}" for lv in levels[1:]]
    school_level = data.groupby(spec.group, sort=True)[spec.level2_factor].first().astype(str).to_numpy()
    return np.column_stack([dummies, *extra]), terms, school_level


def fit(data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    levels = factor_levels(data, spec)
    X, terms, school_level = design(data, spec, levels)
    res = ols(X, data[spec.response].to_numpy(dtype="float64"), terms)
    J = len(school_level)
    p = len(terms)

    def intercept_weights(lv: str) -> np.ndarray:
        w = np.zeros(p)
        members = school_level == lv
        w[:J][members] = 1.0 / members.sum()
        return w

    def slope_weights(lv: str) -> np.ndarray:
        w = np.zeros(p)
        w[J] = 1.0
        if lv != levels[0]:
            w[terms.index(f"{spec.predictor}:{level_term(spec, lv)}")] = 1.0
        return w

    weights = {lv: (intercept_weights(lv), slope_weights(lv)) for lv in levels}
    for lv in levels[1:]:
        a, b = weights[lv]
        a0, b0 = weights[levels[0]]
        weights[difference_name(lv, levels[0])] = (a - a0, b - b0)
    lines = sector_lines_table(METHOD, res.beta, res.vcov, weights, lambda w: res.df_resid)
    model = f"{spec.response} ~ {spec.predictor} + {spec.group} + {spec.predictor}:{spec.level2_factor} (sector averages of school intercepts)"
    coef = coef_from_lines(METHOD, model, lines, spec, levels)
    glance = fit_row(METHOD, "OLS", levels[0], res.nobs, J, res.df_resid, res.sigma, res.loglik, res.aic, res.bic)
    return MethodResult(coef, lines, glance)
