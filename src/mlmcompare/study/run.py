"""One chunk of the study: replicates of one scenario -> tidy rows.

For every replicate the data are simulated from the replicate's own seed
and every method of the comparison is fitted by the same function the
pipeline uses (`mlmcompare.methods.fit_method`); the row kept is the
method's difference line ("other - reference") slope: the estimated gap in
the within-school slope, with the standard error and df the method reports
and its 95% t interval. Pooled OLS with CR2 cluster-robust standard errors
(`pooled_ols_cr2`, see `cr2`) is the eighth method. A method that raises is
recorded as a failure (no estimate, the message in `error`); warnings,
non-convergence and singular fits are counted, not hidden.
"""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..methods import METHODS, fit_method
from ..spec import ModelSpec
from .cr2 import pooled_ols_cr2_slope_gap
from .dgp import DgpParameters, Scenario, replicate_rng, simulate, simulation_spec

CR2_METHOD = "pooled_ols_cr2"
STUDY_METHODS = [*METHODS, CR2_METHOD]

ROW_COLUMNS = [
    "scenario", "replicate", "method", "truth", "estimate", "std_error", "df", "conf_low", "conf_high",
    "converged", "singular", "n_warnings", "warnings", "error",
]


def slope_gap(method: str, data: pd.DataFrame, spec: ModelSpec) -> dict[str, object]:
    """The method's estimate of the slope gap, SE, df and fit verdicts."""
    if method == CR2_METHOD:
        est, se, df = pooled_ols_cr2_slope_gap(data, spec)
        return {"estimate": est, "std_error": se, "df": df, "converged": True, "singular": False, "warnings": []}
    res = fit_method(method, data, spec)
    line = res.sector_lines[res.sector_lines["kind"] == "difference"].iloc[0]
    glance = res.fit.iloc[0]
    return {
        "estimate": float(line["slope"]),
        "std_error": float(np.sqrt(line["var_slope"])),
        "df": float(line["df_slope"]),
        "converged": bool(glance["converged"]),
        "singular": bool(glance.get("singular", False)),
        "warnings": [str(w) for w in glance["warnings"]],
    }


def method_row(method: str, data: pd.DataFrame, spec: ModelSpec) -> dict[str, object]:
    """slope_gap with its 95% interval; an exception becomes a failure row."""
    try:
        row = slope_gap(method, data, spec)
        error = ""
    except Exception as exc:  # noqa: BLE001 - a failing fit is a result of the study
        row = {"estimate": np.nan, "std_error": np.nan, "df": np.nan, "converged": False, "singular": False, "warnings": []}
        error = f"{type(exc).__name__}: {exc}"
    half = stats.t.ppf(0.975, row["df"]) * row["std_error"] if np.isfinite(row["df"]) else np.nan
    return {
        **row,
        "conf_low": row["estimate"] - half,
        "conf_high": row["estimate"] + half,
        "n_warnings": len(row["warnings"]),
        "warnings": "; ".join(row["warnings"]),
        "error": error,
    }


def replicate_rows(params: DgpParameters, scenario: Scenario, seed: int, replicate: int,
                   spec: ModelSpec, methods: Sequence[str] = STUDY_METHODS,
                   timings: dict[str, float] | None = None) -> list[dict[str, object]]:
    """All methods on one replicate's data; `timings` (if given) accumulates seconds per method."""
    sim_spec = simulation_spec(spec, params)
    data = simulate(params, scenario, replicate_rng(seed, replicate), sim_spec)
    rows = []
    for method in methods:
        start = time.perf_counter()
        row = method_row(method, data, sim_spec)
        if timings is not None:
            timings[method] = timings.get(method, 0.0) + time.perf_counter() - start
        rows.append({"scenario": scenario.name, "replicate": replicate, "method": method,
                     "truth": params.within_gap, **row})
    return rows


def chunk_rows(params: DgpParameters, scenario: Scenario, seed: int, replicates: Sequence[int],
               spec: ModelSpec, methods: Sequence[str] = STUDY_METHODS,
               timings: dict[str, float] | None = None) -> pd.DataFrame:
    """Tidy rows (one per replicate and method) for a chunk of replicates."""
    rows = [r for i in replicates for r in replicate_rows(params, scenario, seed, i, spec, methods, timings)]
    frame = pd.DataFrame(rows, columns=ROW_COLUMNS)
    return frame.astype({"replicate": "int64", "n_warnings": "int64", "converged": "bool", "singular": "bool"})
