"""The study's eighth method: pooled OLS with CR2 cluster-robust standard
errors and Bell-McCaffrey df (`mlmcompare.estimation.robust`), from the
per-school moments of a replicate, without its rows."""

from __future__ import annotations

import numpy as np

from ..estimation.robust import cr2_from_blocks
from ..methods.common import level_term
from ..methods.schools import Moments, SchoolStats, interaction_blocks, interaction_terms


def pooled_ols_cr2_slope_gap(stats: SchoolStats) -> tuple[float, float, float]:
    """Pooled OLS `y ~ x * F` estimate of the slope gap (first non-reference level
    minus the reference) with its CR2 SE and Bell-McCaffrey df, from the
    per-school moments (x and y about their overall means: the slope gap, its
    SE and df do not depend on where x and y are centred)."""
    spec, levels, m = stats.spec, stats.levels, stats.moments
    x0, y0 = (float(np.sum(m.n * v) / np.sum(m.n)) for v in (m.x_mean, m.y_mean))
    centred = Moments(m.n, m.x_mean - x0, m.y_mean - y0, m.sxx, m.sxy, m.syy)
    fit = cr2_from_blocks(*interaction_blocks(centred, stats.level, len(levels)))
    terms = interaction_terms([spec.predictor], levels, spec.level2_factor)
    c = np.zeros(len(terms))
    c[terms.index(f"{spec.predictor}:{level_term(spec, levels[1])}")] = 1.0
    return fit.contrast(c)
