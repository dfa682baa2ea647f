"""Mixed model with a contextual variable: within and between effects apart.

`y ~ (x_cwg + x_mean) * F + (1 + x_cwg | school)`: the school mean of the
predictor (cvar) and the deviation from it (dvar) enter separately, so the
x_cwg slope estimates the within-school effect and the x_mean slope the
between-school effect; their difference is the contextual effect. Its
sector lines are the within-school lines: slope of x_cwg, intercept at
x_cwg = 0 and x_mean = 0. The two columns are the data's, as the pipeline
and the study put them there; being the school mean of the predictor and
the deviation from it, the fit runs from the per-school moments (see
`mixed`), and from the rows for columns that are not.
"""

from __future__ import annotations

from .. import models
from .common import MethodFit
from .mixed import mixed_fit
from .schools import SchoolStats

METHOD = "mixed_contextual"


def estimate(stats: SchoolStats) -> MethodFit:
    spec = stats.spec
    return mixed_fit(METHOD, stats, models.CONTEXTUAL, [spec.dvar, spec.cvar], spec.dvar)
