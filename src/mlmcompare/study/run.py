"""One chunk of the study: replicates of one scenario -> tidy rows.

For every replicate the data are simulated from the replicate's own seed,
read once into per-school statistics (`mlmcompare.methods.school_stats`),
and every method of the comparison is run on them by the same estimators
the pipeline uses (`mlmcompare.methods.estimate_method`); the row kept is
the method's difference line ("other - reference") slope: the estimated gap
in the within-school slope, with the standard error and df the method
reports and its 95% t interval. Pooled OLS with CR2 cluster-robust standard
errors (`pooled_ols_cr2`, see `cr2`) is the eighth method. A method that
raises is recorded as a failure (no estimate, the message in `error`);
warnings, non-convergence and singular fits are counted, not hidden.
"""

from __future__ import annotations

import time
from contextlib import suppress
from functools import cache
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..estimation.distributions import t_ppf
from ..methods import METHODS, estimate_method
from ..methods.schools import SchoolStats, school_stats
from ..spec import ModelSpec
from .cr2 import pooled_ols_cr2_slope_gap
from .dgp import DgpParameters, Scenario, replicate_rng, simulate, simulation_spec

CR2_METHOD = "pooled_ols_cr2"
STUDY_METHODS = [*METHODS, CR2_METHOD]

ROW_COLUMNS = [
    "scenario", "replicate", "method", "truth", "estimate", "std_error", "df", "conf_low", "conf_high",
    "converged", "singular", "n_warnings", "warnings", "error",
]


def slope_gap(method: str, school: SchoolStats) -> dict[str, object]:
    """The method's estimate of the slope gap, SE, df and fit verdicts."""
    if method == CR2_METHOD:
        est, se, df = pooled_ols_cr2_slope_gap(school)
        return {"estimate": est, "std_error": se, "df": df, "converged": True, "singular": False, "warnings": []}
    fit = estimate_method(method, school)
    lines = fit.lines
    i = next(i for i, name in enumerate(lines.names) if " - " in name)  # the first difference line
    return {
        "estimate": float(lines.point[i, 1]),
        "std_error": float(np.sqrt(lines.cov[i, 1, 1])),
        "df": float(lines.df[i, 1]),
        "converged": bool(fit.glance.converged),
        "singular": bool(fit.glance.singular),
        "warnings": [str(w) for w in fit.glance.warnings],
    }


def method_row(method: str, school: Callable[[], SchoolStats]) -> dict[str, object]:
    """slope_gap on the shared statistics; an exception (also in reading the
    statistics) becomes a failure row."""
    try:
        row = slope_gap(method, school())
        error = ""
    except Exception as exc:  # noqa: BLE001 - a failing fit is a result of the study
        row = {"estimate": np.nan, "std_error": np.nan, "df": np.nan, "converged": False, "singular": False, "warnings": []}
        error = f"{type(exc).__name__}: {exc}"
    return {**row, "n_warnings": len(row["warnings"]), "warnings": "; ".join(row["warnings"]), "error": error}


def replicate_rows(params: DgpParameters, scenario: Scenario, seed: int, replicate: int,
                   spec: ModelSpec, methods: Sequence[str] = STUDY_METHODS,
                   timings: dict[str, float] | None = None) -> list[dict[str, object]]:
    """All methods on one replicate's data; `timings` (if given) accumulates seconds per
    method, and under `school_stats` the reading of the statistics they share."""
    sim_spec = simulation_spec(spec, params)
    data = simulate(params, scenario, replicate_rng(seed, replicate), sim_spec)
    school = cache(lambda: school_stats(data, sim_spec))
    start = time.perf_counter()
    with suppress(Exception):  # a failure is recorded in every method's row
        school()
    tally(timings, "school_stats", start)
    rows = []
    for method in methods:
        start = time.perf_counter()
        rows.append({"scenario": scenario.name, "replicate": replicate, "method": method,
                     "truth": params.within_gap, **method_row(method, school)})
        tally(timings, method, start)
    return rows


def tally(timings: dict[str, float] | None, key: str, start: float) -> None:
    if timings is not None:
        timings[key] = timings.get(key, 0.0) + time.perf_counter() - start


def with_intervals(rows: pd.DataFrame) -> pd.DataFrame:
    """The 95% t interval of each row's estimate (none where the df are not finite)."""
    df = rows["df"].to_numpy(dtype=float)
    finite = np.isfinite(df)
    half = np.full(len(rows), np.nan)
    half[finite] = t_ppf(0.975, df[finite]) * rows["std_error"].to_numpy(dtype=float)[finite]
    return rows.assign(conf_low=rows["estimate"] - half, conf_high=rows["estimate"] + half)


def chunk_rows(params: DgpParameters, scenario: Scenario, seed: int, replicates: Sequence[int],
               spec: ModelSpec, methods: Sequence[str] = STUDY_METHODS,
               timings: dict[str, float] | None = None) -> pd.DataFrame:
    """Tidy rows (one per replicate and method) for a chunk of replicates."""
    rows = [r for i in replicates for r in replicate_rows(params, scenario, seed, i, spec, methods, timings)]
    frame = with_intervals(pd.DataFrame(rows, columns=ROW_COLUMNS))
    return frame.astype({"replicate": "int64", "n_warnings": "int64", "converged": "bool", "singular": "bool"})
