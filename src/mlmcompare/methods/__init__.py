"""The estimation methods, one module each, and their registry.

Every method is `estimate(stats) -> MethodFit` on the per-school statistics
of `schools.school_stats` (read once per data set and shared by all
methods); `MethodFit.result()` tabulates it. `fit_method(id, data, spec)`
is the contract's `fit(data, spec) -> MethodResult`. `METHODS` maps the
method ids of DESIGN.md to their estimators, in the order the handout
presents them.
"""

from __future__ import annotations

from typing import Callable

import pandas as pd

from ..spec import ModelSpec
from ..report.tidy import MethodResult
from . import between, fe_common_slope, fe_school_lines, mixed, mixed_contextual, pooled_ols, two_stage
from .common import MethodFit
from .schools import SchoolStats, school_stats

Estimator = Callable[[SchoolStats], MethodFit]

METHODS: dict[str, Estimator] = {
    "pooled_ols": pooled_ols.estimate,
    "fe_school_lines": fe_school_lines.estimate,
    "fe_common_slope": fe_common_slope.estimate,
    "two_stage": two_stage.estimate,
    "between": between.estimate,
    "mixed": mixed.estimate,
    "mixed_contextual": mixed_contextual.estimate,
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


def estimator(method: str) -> Estimator:
    """The estimator of a method id; an unknown id is refused with the known ones."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; known methods: {', '.join(METHODS)}")
    return METHODS[method]


def estimate_method(method: str, stats: SchoolStats) -> MethodFit:
    """Run one method by id on prepared per-school statistics."""
    return estimator(method)(stats)


def fit_method(method: str, data: pd.DataFrame, spec: ModelSpec) -> MethodResult:
    """Run one method by id on the student rows and tabulate it."""
    return estimator(method)(school_stats(data, spec)).result()
