"""The estimation methods, one module each, all with `fit(data, spec) -> MethodResult`.

`METHODS` maps the method ids of DESIGN.md to their fit functions, in the
order the handout presents them.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from . import between, fe_common_slope, fe_school_lines, mixed, mixed_contextual, pooled_ols, two_stage

FitFunction = Callable[[pd.DataFrame, ModelSpec], MethodResult]

METHODS: dict[str, FitFunction] = {
    "pooled_ols": pooled_ols.fit,
    "fe_school_lines": fe_school_lines.fit,
    "fe_common_slope": fe_common_slope.fit,
    "two_stage": two_stage.fit,
    "between": between.fit,
    "mixed": mixed.fit,
    "mixed_contextual": mixed_contextual.fit,
}

LABELS: dict[str, str] = {
    "pooled_ols": "Pooled OLS",
    "fe_school_lines": "Fixed effects: school lines",
    "fe_common_slope": "Fixed effects: common sector slopes",
    "two_stage": "Two-stage (school lines, then MANOVA)",
    "between": "Between schools (ecological)",
    "mixed": "Mixed model",
    "mixed_contextual": "Mixed model with contextual variable",
}


def fit_method(method: str, data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    """Run one method by id; an unknown id is refused with the known ones."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    return METHODS[method](data, spec)
