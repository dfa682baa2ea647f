"""Mixed model: `y ~ x * F + (1 + x | school)` by REML with our engine.

It uses within- and between-school information, weighted by how much each
school tells, and its standard errors generalise to new schools. Its slope
equals the within-school effect only if the between-school effect is the
same; otherwise it is a mixture, though usually close to the within one.

The model matrices are built here from the rows already read for the
per-school statistics (the same columns, names and values as the engine's
formula reader gives), then the engine's own stages run: its one-pass
sufficient statistics, the REML optimiser and the result with
Satterthwaite df.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from .. import lmm, models
from ..lmm import checks
from .common import Glance, MethodFit, interaction_line_weights, lines_from_coef
from .schools import SchoolStats, interaction_terms

METHOD = "mixed"


def mixed_fit(method: str, stats: SchoolStats, model_id: str, fixed: Sequence[str], random: str) -> MethodFit:
    """REML fit of the model `model_id` of models.py, `y ~ (fixed columns) * F +
    (1 + random | group)`, tabulated with Satterthwaite df; the sector lines
    are at the first fixed column's slope."""
    spec, levels = stats.spec, stats.levels
    more = [c for c in dict.fromkeys([*fixed, random]) if c != spec.predictor]  # beyond school_stats' columns
    checks.check_columns_exist(stats.data, more, "the data")
    checks.check_missing(stats.data, more)
    formula = models.formula(model_id, spec)
    terms = interaction_terms(fixed, levels, spec.level2_factor)
    X = stats.interaction_rows(fixed)
    Z = np.column_stack([np.ones(stats.nobs), stats.column(random)])
    checks.check_grouping(stats.codes, spec.group, stats.nobs)
    checks.check_fixed_rank(X, terms)
    checks.check_nobs_vs_nre(stats.nobs, stats.ngroups, Z.shape[1])
    suff = lmm.sufficient_stats(X, Z, stats.y, stats.codes, levels=stats.groups)
    res = lmm.fit_stages(suff, (2,), True, None, formula=formula, fixed_terms=terms, random_terms=["Intercept", random],
                         group_name=spec.group, response=spec.response, block_labels=[str(lmm.parse_formula(formula).bars[0])])
    weights = interaction_line_weights(terms, levels, spec, "Intercept", fixed[0])
    lines = lines_from_coef(res.fixef.to_numpy(), res.vcov.to_numpy(), weights, lambda W: res.contrast(W)["df"].to_numpy())
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
