"""Between-school (ecological) regression: average, then regress.

School means of the response regressed on school means of the predictor,
once alone (the ecological regression) and once with the compared factor,
which gives the between-school sector lines. These estimate the
between-school effect, not the within-school one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import MethodFit, constant_df, interaction_line_weights, interaction_ols, lines_from_coef, ols_glance, tidy_from_fit
from .schools import SchoolStats, interaction_columns, row_moments

METHOD = "between"


def estimate(stats: SchoolStats) -> MethodFit:
    spec, levels, m = stats.spec, stats.levels, stats.moments
    means = row_moments(m.x_mean, m.y_mean)  # one row per school

    def regression(level: np.ndarray, compared: list[str]):
        rows = lambda: (interaction_columns({spec.predictor: m.x_mean}, level, compared), m.y_mean)  # noqa: E731
        return interaction_ols(means, level, compared, spec, rows)

    fits = {spec.predictor: regression(np.zeros(stats.ngroups, dtype=np.intp), levels[:1]),
            f"{spec.predictor} * {spec.level2_factor}": regression(stats.level, levels)}
    sector_fit = fits[f"{spec.predictor} * {spec.level2_factor}"]
    weights = interaction_line_weights(sector_fit.terms, levels, spec, "Intercept", spec.predictor)
    lines = lines_from_coef(sector_fit.beta, sector_fit.vcov, weights, constant_df(sector_fit.df_resid))

    def coef() -> pd.DataFrame:
        return pd.concat([tidy_from_fit(METHOD, f"{spec.response} ~ {rhs} (school means)", res) for rhs, res in fits.items()],
                         ignore_index=True)

    return MethodFit(METHOD, lines, ols_glance("OLS on school means", levels[0], sector_fit, stats.ngroups), coef)
