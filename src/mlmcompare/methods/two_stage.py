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

from .common import Glance, MethodFit, SectorLines, difference_name, level_term, school_lines, tidy_coef
from .schools import SchoolStats

METHOD = "two_stage"


def estimate(stats: SchoolStats) -> MethodFit:
    spec, levels = stats.spec, stats.levels
    g = school_lines(stats)
    ok = g.ok
    J = int(ok.sum())
    level = stats.level[ok]
    # Stage 2 design: intercept plus a treatment-contrast column per non-reference level.
    W = np.column_stack([np.ones(J)] + [(level == k).astype(float) for k in range(1, len(levels))])
    Y = np.column_stack([g.intercept[ok], g.slope[ok]])
    k = W.shape[1]
    if J <= k:
        raise ValueError(f"two-stage: {J} schools with an estimable slope cannot fit {k} sector means")
    wtw_inv = np.linalg.inv(W.T @ W)
    B = wtw_inv @ W.T @ Y
    E = Y - W @ B
    df = J - k
    S = E.T @ E / df  # residual covariance of (intercept, slope) between schools

    eye = np.eye(k)
    weights = {levels[0]: eye[0], **{lv: eye[0] + eye[i] for i, lv in enumerate(levels[1:], start=1)},
               **{difference_name(lv, levels[0]): eye[i] for i, lv in enumerate(levels[1:], start=1)}}
    Lw = np.array(list(weights.values()))
    lines = SectorLines(list(weights), Lw @ B, np.einsum("l,ij->lij", np.einsum("la,ab,lb->l", Lw, wtw_inv, Lw), S),
                        np.full((len(weights), 2), float(df)))

    def coef() -> pd.DataFrame:
        # Each response's coefficients carry the name of the quantity they estimate
        # in the other methods: the intercept model gives Intercept and F[T.level],
        # the slope model gives x and x:F[T.level].
        x = spec.predictor
        terms = ["Intercept", *(level_term(spec, lv) for lv in levels[1:])]
        slope_terms = [x, *(f"{x}:{level_term(spec, lv)}" for lv in levels[1:])]
        se = np.sqrt(np.outer(np.diag(wtw_inv), np.diag(S)))
        model = f"cbind(intercept, slope) ~ {spec.level2_factor} (school OLS lines)"
        return pd.concat([tidy_coef(METHOD, model, terms, B[:, 0], se[:, 0], df),
                          tidy_coef(METHOD, model, slope_terms, B[:, 1], se[:, 1], df)], ignore_index=True)

    glance = Glance("OLS per school, then multivariate OLS", levels[0], int(stats.moments.n[ok].sum()), J, df,
                    np.nan, np.nan, np.nan, np.nan, warnings=g.excluded)
    return MethodFit(METHOD, lines, glance, coef)
