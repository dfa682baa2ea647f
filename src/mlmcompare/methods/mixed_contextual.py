"""Mixed model with a contextual variable: within and between effects apart.

`y ~ (x_cwg + x_mean) * F + (1 + x_cwg | school)`: the school mean of the
predictor (cvar) and the deviation from it (dvar) enter separately, so the
x_cwg slope estimates the within-school effect and the x_mean slope the
between-school effect; their difference is the contextual effect. Its
sector lines are the within-school lines: slope of x_cwg, intercept at
x_cwg = 0 and x_mean = 0.
"""

from __future__ import annotations

import pandas as pd

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from .mixed import mixed_result

METHOD = "mixed_contextual"


def fit(data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    formula = (
        f"{spec.response} ~ ({spec.dvar} + {spec.cvar}) * {spec.level2_factor} + (1 + {spec.dvar} | {spec.group})"
    )
    return mixed_result(METHOD, formula, data, spec, "Intercept", spec.dvar)
