"""Mixed model: `y ~ x * F + (1 + x | school)` by REML with our engine.

It uses within- and between-school information, weighted by how much each
school tells, and its standard errors generalise to new schools. Its slope
equals the within-school effect only if the between-school effect is the
same; otherwise it is a mixture, though usually close to the within one.

The engine's per-school sufficient statistics come from the per-school
moments already read (`lmm.sufficient_stats_from_moments`: within a school
every column moves along the predictor), without another pass over the
rows; where the moments cannot give them (a column that is not the
predictor, its school mean or its deviation; a model the moments do not
show estimable, or too small) the model matrices are built from the rows
(the same columns, names and values as the engine's formula reader gives)
and the engine's one-pass statistics and checks run on them. Then the
engine's own stages run: the REML optimiser and the result with
Satterthwaite df.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import lmm, models
from ..lmm import checks
from .common import Glance, MethodFit, interaction_line_weights, lines_from_coef
from .schools import SchoolStats, clearly_full_rank, interaction_along, interaction_terms

METHOD = "mixed"


def stats_from_moments(stats: SchoolStats, fixed: Sequence[str], random: str) -> lmm.SufficientStats | None:
    """The engine's statistics of `y ~ (fixed) * F + (1 + random | group)` from the
    per-school moments; None where they cannot give them, or where a check of
    the rows has something to say (too few groups or rows, a model not clearly
    of full rank)."""
    numeric = [stats.along_predictor(c) for c in fixed]
    z = stats.along_predictor(random)
    if z is None or any(c is None for c in numeric):
        return None
    m, J = stats.moments, stats.ngroups
    if not 2 <= J < stats.nobs or stats.nobs <= 2 * J:  # checks.check_grouping, check_nobs_vs_nre
        return None
    X0, X1 = interaction_along(numeric, stats.level, len(stats.levels))
    gram = (X0 * m.n[:, None]).T @ X0 + (X1 * m.sxx[:, None]).T @ X1  # X'X of the rows
    if not clearly_full_rank(gram, np.sqrt(np.diag(gram)), stats.nobs):
        return None
    Z0 = np.column_stack([np.ones(J), z[0]])
    Z1 = np.column_stack([np.zeros(J), z[1]])
    return lmm.sufficient_stats_from_moments(stats.groups, m.n, m.sxx, m.sxy, m.syy, m.y_mean, X0, X1, Z0, Z1)


def stats_from_rows(stats: SchoolStats, fixed: Sequence[str], random: str, terms: Sequence[str]) -> lmm.SufficientStats:
    """The engine's statistics from the model matrices of the rows, after the engine's checks."""
    spec = stats.spec
    more = [c for c in dict.fromkeys([*fixed, random]) if c != spec.predictor]  # beyond school_stats' columns
    checks.check_columns_exist(stats.data, more, "the data")
    checks.check_missing(stats.data, more)
    X = stats.interaction_rows(fixed)
    Z = np.column_stack([np.ones(stats.nobs), stats.column(random)])
    checks.check_grouping(stats.codes, spec.group, stats.nobs)
    checks.check_fixed_rank(X, terms)
    checks.check_nobs_vs_nre(stats.nobs, stats.ngroups, Z.shape[1])
    return lmm.sufficient_stats(X, Z, stats.y, stats.codes, levels=stats.groups)


def mixed_fit(method: str, stats: SchoolStats, model_id: str, fixed: Sequence[str], random: str) -> MethodFit:
    """REML fit of the model `model_id` of models.py, `y ~ (fixed columns) * F +
    (1 + random | group)`, tabulated with Satterthwaite df; the sector lines
    are at the first fixed column's slope."""
    spec, levels = stats.spec, stats.levels
    formula = models.formula(model_id, spec)
    terms = interaction_terms(fixed, levels, spec.level2_factor)
    suff = stats_from_moments(stats, fixed, random)
    if suff is None:
        suff = stats_from_rows(stats, fixed, random, terms)
    res = lmm.fit_stages(suff, (2,), True, None, formula=formula, fixed_terms=terms, random_terms=["Intercept", random],
                         group_name=spec.group, response=spec.response, block_labels=[str(lmm.parse_formula(formula).bars[0])])
    weights = interaction_line_weights(terms, levels, spec, "Intercept", fixed[0])
    lines = lines_from_coef(res.fixef_array, res.vcov_array, weights, lambda W: res.contrast_variance_df(W)[1])
    glance = Glance("REML", levels[0], res.nobs, res.ngroups, res.df_resid, res.sigma, res.loglik, res.aic, res.bic,
                    converged=res.converged, singular=res.singular, warnings=res.warnings)

    def coef() -> pd.DataFrame:
        table = res.coef.copy()
        table.insert(0, "model", formula)
        table.insert(0, "method", method)
        return table

    return MethodFit(method, lines, glance, coef)


def estimate(stats: SchoolStats) -> MethodFit:
    return mixed_fit(METHOD, stats, models.MAIN_MIXED, [stats.spec.predictor], stats.spec.predictor)
