"""Gather the study's chunks and summarise each method in each scenario.

Per scenario and method, over the replicates where the method returned an
estimate: bias (mean estimate minus the true gap) with its Monte Carlo SE,
the empirical SD of the estimates, the RMSE, efficiency relative to the
mixed model (its empirical variance over the method's), the mean reported
SE over the empirical SD ("SE ratio"; 1 is honest), the coverage of the 95%
intervals with its Monte Carlo SE sqrt(c(1 - c)/R), and how many
replicates failed or came with a warning (a warning, no convergence, or a
singular fit).
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from .dgp import Scenario

REFERENCE_METHOD = "mixed"



def gather_chunks(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """One table of all replicates, sorted by scenario, replicate and method order."""
    rows = pd.concat(list(frames), ignore_index=True)
    methods = list(dict.fromkeys(rows["method"]))
    scen = list(dict.fromkeys(rows["scenario"]))
    key = rows["scenario"].map({s: i for i, s in enumerate(scen)}) * 10**9 + rows["replicate"] * 100 + rows["method"].map({m: i for i, m in enumerate(methods)})
    out = rows.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)
    dup = out.duplicated(["scenario", "replicate", "method"])
    if dup.any():
        first = out[dup].iloc[0]
        raise ValueError(f"replicate {first['replicate']} of scenario {first['scenario']} appears in more than one chunk")
    return out


def method_summary(rows: pd.DataFrame) -> dict[str, float]:
    """The figures of one method in one scenario."""
    ok = rows[np.isfinite(rows["estimate"]) & np.isfinite(rows["std_error"])]
    R = len(ok)
    truth = float(rows["truth"].iloc[0])
    est = ok["estimate"].to_numpy()
    sd = float(np.std(est, ddof=1)) if R > 1 else np.nan
    covered = ((ok["conf_low"] <= truth) & (truth <= ok["conf_high"])).to_numpy()
    cov = float(covered.mean()) if R else np.nan
    flagged = (rows["n_warnings"] > 0) | ~rows["converged"] | rows["singular"]
    return {
        "truth": truth,
        "n_replicates": int(len(rows)),
        "n_estimates": int(R),
        "n_failed": int(len(rows) - R),
        "n_flagged": int((flagged & (rows["error"] == "")).sum()),
        "n_singular": int(rows["singular"].sum()),
        "estimate_mean": float(est.mean()) if R else np.nan,
        "bias": float(est.mean() - truth) if R else np.nan,
        "bias_mc_se": sd / np.sqrt(R) if R > 1 else np.nan,
        "emp_sd": sd,
        "rmse": float(np.sqrt(np.mean((est - truth) ** 2))) if R else np.nan,
        "mean_std_error": float(ok["std_error"].mean()) if R else np.nan,
        "se_ratio": float(ok["std_error"].mean()) / sd if R > 1 else np.nan,
        "coverage": cov,
        "coverage_mc_se": float(np.sqrt(cov * (1 - cov) / R)) if R else np.nan,
    }


def summarise(replicates: pd.DataFrame, scenarios: Mapping[str, Scenario], baselines: Mapping[str, str] | None = None,
              reference: str = REFERENCE_METHOD) -> pd.DataFrame:
    """One row per scenario and method (scenario order as given, methods as in the data)."""
    baselines = baselines or {}
    methods = list(dict.fromkeys(replicates["method"]))
    rows = []
    for name, sc in scenarios.items():
        part = replicates[replicates["scenario"] == name]
        if part.empty:
            continue
        for m in methods:
            rows.append({
                "scenario": name, "n_groups": sc.n_groups, "mean_size": sc.mean_size, "contextual": sc.contextual,
                "random_effects": sc.random_effects, "heteroscedasticity": sc.heteroscedasticity,
                "baseline": baselines.get(name, ""), "method": m, **method_summary(part[part["method"] == m]),
            })
    out = pd.DataFrame(rows)
    ref = out[out["method"] == reference].set_index("scenario")["emp_sd"]
    out["rel_efficiency"] = (out["scenario"].map(ref) / out["emp_sd"]) ** 2 if len(ref) else np.nan
    return out


def coverage_band(replicates: int, level: float = 0.95) -> tuple[float, float]:
    """Where 95% of Monte Carlo coverages fall when the true coverage is `level`."""
    half = 1.96 * np.sqrt(level * (1 - level) / replicates)
    return level - half, level + half
