"""What every benchmark section shares: tool names, simulated rows, the timing
loop, the JSON records, the progress bar and the lme4 runner.

Imported by ``bench/run.py`` after it has fixed the BLAS threads (numpy is
imported here).
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from mlmcompare import lmm

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
LMER_SCRIPT = BENCH_DIR / "lmer_bench.R"
MEMORY_PROBE = BENCH_DIR / "memory_probe.py"

OURS = "ours: lmm.fit"
OURS_STATS = "ours: fit_from_stats"
OURS_PARQUET = "ours: lmm.fit(parquet)"
OURS_DASK = "ours: lmm.fit(Dask)"
STATSMODELS = "statsmodels MixedLM"
LME4 = "lme4 lmer"
TOOLS = (OURS, OURS_STATS, STATSMODELS, LME4)

SIM_SEED = 20240601
SIM_FORMULA = "y ~ x * w + (1 + x | g)"
SIM_COLUMNS = ("y", "x", "w", "g")
RSCRIPT_TIMEOUT_S = 3600


# --------------------------------------------------------------------- data
def simulate_rows(n_rows: int, n_groups: int, seed: int = SIM_SEED) -> pd.DataFrame:
    """Rows of y ~ x * w + (1 + x | g): x with a group component, w a group-level factor.

    Random intercept sd 1, slope sd 0.5, correlation 0.3; residual sd 1;
    fixed effects 2 + 0.5 x - 1.0 [w=B] + 0.3 x [w=B].  Rows are in random
    group order; every group has about n_rows / n_groups rows.
    """
    rng = np.random.default_rng(seed)
    g = rng.integers(n_groups, size=n_rows)
    x_between = rng.normal(0.0, 0.5, n_groups)
    w_is_b = rng.random(n_groups) < 0.5
    sd = np.array([1.0, 0.5])
    G = np.array([[1.0, 0.3], [0.3, 1.0]]) * np.outer(sd, sd)
    b = rng.multivariate_normal(np.zeros(2), G, size=n_groups)
    x = rng.normal(size=n_rows) + x_between[g]
    wb = w_is_b[g].astype(float)
    y = 2.0 + 0.5 * x - 1.0 * wb + 0.3 * x * wb + b[g, 0] + b[g, 1] * x + rng.normal(size=n_rows)
    w = pd.Categorical(np.where(w_is_b[g], "B", "A"), categories=["A", "B"])
    return pd.DataFrame({"y": y, "x": x, "w": w, "g": g})


# ------------------------------------------------------------------- progress
class Progress:
    """One tqdm bar (stderr) over every timed fit of the run; log lines print above it.

    The bar is off when stderr is not a terminal (logs, CI) or on request;
    the log lines are printed either way.
    """

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = tqdm(total=total, unit="fit", file=sys.stderr, dynamic_ncols=True,
                         disable=not (enabled and sys.stderr.isatty()))
        self.done = 0  # counted here too: a disabled tqdm does not count

    def describe(self, label: str) -> None:
        self._bar.set_description_str(label)

    def advance(self, n: int = 1) -> None:
        if n > 0:
            self.done += n
            self._bar.update(n)

    def log(self, message: str) -> None:
        tqdm.write(message, file=sys.stderr)

    def close(self) -> None:
        self._bar.close()


# --------------------------------------------------------------------- timing
@dataclass(frozen=True)
class Plan:
    """How often each tool is timed (repeats), how many untimed fits come first,
    and why a tool with 0 repeats is skipped."""

    repeats: dict[str, int]
    warmups: dict[str, int]
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def total_repeats(self) -> int:
        return sum(self.repeats.values())


def summarize_times(times: list[float]) -> dict[str, Any]:
    """Median, min and IQR (seconds) of a list of times."""
    if not times:
        return {"median_s": None, "min_s": None, "q1_s": None, "q3_s": None, "iqr_s": None}
    q1, q3 = (float(v) for v in np.percentile(times, [25, 75]))
    return {
        "median_s": float(statistics.median(times)),
        "min_s": float(min(times)),
        "q1_s": q1,
        "q3_s": q3,
        "iqr_s": q3 - q1,
    }


def time_repeated(fit: Callable[[], Any], repeats: int, warmups: int,
                  progress: Progress | None = None) -> tuple[list[float], Any]:
    """Wall-clock seconds of ``repeats`` calls (after ``warmups`` untimed calls) and the last result."""
    result = None
    for _ in range(warmups):
        result = fit()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - t0)
        if progress is not None:
            progress.advance()
    return times, result


def tool_record(tool: str, times: list[float], *, loglik: float | None, n_evals: int | None,
                notes: list[str], warmups: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON record of one tool on one case."""
    return {
        "tool": tool,
        "available": True,
        "repeats": len(times),
        "warmups": warmups,
        "times_s": times,
        **summarize_times(times),
        "loglik": loglik,
        "n_evals": n_evals,
        "notes": notes,
        **(extra or {}),
    }


def unavailable_record(tool: str, reason: str) -> dict[str, Any]:
    """The JSON record of a tool that was not run."""
    return {"tool": tool, "available": False, "repeats": 0, "times_s": [], **summarize_times([]),
            "loglik": None, "n_evals": None, "notes": [reason]}


def failure_reason(exc: BaseException) -> str:
    """The error and where it was raised, for a record's notes."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"failed: {type(exc).__name__}: {exc}{at}"


def run_tool(label: str, tool: str, planned: int, runner: Callable[[], dict[str, Any]],
             progress: Progress) -> dict[str, Any]:
    """Run one tool's timing and log its median; a failure is recorded, not raised, so that
    a long run still writes its results; the bar skips the fits that were not run."""
    progress.describe(label)
    done_before = progress.done
    t0 = time.perf_counter()
    try:
        rec = runner()
    except Exception as exc:  # noqa: BLE001 - reported in the record's notes
        rec = unavailable_record(tool, failure_reason(exc))
    progress.advance(planned - (progress.done - done_before))
    median = rec["median_s"]
    shown = f"median {1000 * median:,.1f} ms" if median is not None else rec["notes"][0]
    progress.log(f"[{label}] n={rec['repeats']}: {shown} ({time.perf_counter() - t0:.1f} s)")
    return rec


# ------------------------------------------------------------------- results
def ours_verdict_notes(res: lmm.LmmResult) -> list[str]:
    """Our fit's warnings (singular fit, not converged, ...), as notes."""
    return list(dict.fromkeys(res.warnings))


def estimates_of(res: lmm.LmmResult) -> dict[str, Any]:
    """The estimates two of our fits must agree on: fixed effects, theta, sigma, loglik."""
    return {
        "fixef": {str(k): float(v) for k, v in res.fixef.items()},
        "theta": [float(v) for v in res.theta],
        "sigma": float(res.sigma),
        "loglik": float(res.loglik),
    }


def max_relative_differences(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
    """Largest |a - b| / |b| per quantity of two :func:`estimates_of` (0 where both are 0)."""

    def values(est: dict[str, Any], key: str) -> np.ndarray:
        v = est[key]
        return np.atleast_1d(np.asarray(list(v.values()) if isinstance(v, dict) else v, float))

    out = {}
    for key in ("fixef", "theta", "sigma", "loglik"):
        va, vb = values(a, key), values(b, key)
        if va.shape != vb.shape:
            out[key] = float("inf")
            continue
        scale = np.maximum(np.abs(vb), np.finfo(float).tiny)
        out[key] = float(np.max(np.abs(va - vb) / scale))
    out["max"] = max(out.values())
    return out


def add_comparisons(records: list[dict[str, Any]], reference: str = OURS) -> None:
    """Add ratio (median / reference median) and loglik difference (tool - reference)."""
    ref = next((r for r in records if r["tool"] == reference), None)
    for rec in records:
        ok = ref is not None and rec["median_s"] is not None and ref["median_s"]
        rec["ratio_vs_ours"] = rec["median_s"] / ref["median_s"] if ok else None
        both = ref is not None and rec["loglik"] is not None and ref["loglik"] is not None
        rec["loglik_diff_vs_ours"] = rec["loglik"] - ref["loglik"] if both else None


# ---------------------------------------------------------------------- lme4
def lme4_versions() -> tuple[str, str] | str:
    """(R version, lme4 version) if ``Rscript`` runs and lme4 loads, else the reason why not."""
    if shutil.which("Rscript") is None:
        return "not available: no Rscript on PATH"
    probe = ('suppressPackageStartupMessages(library(lme4)); '
             'cat(paste(R.version$major, R.version$minor, sep = "."), '
             'as.character(packageVersion("lme4")))')
    try:
        out = subprocess.run(["Rscript", "-e", probe], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not available: {exc}"
    if out.returncode != 0:
        return f"not available: library(lme4) failed: {out.stderr.strip()[-300:]}"
    r_version, lme4_version = out.stdout.split()
    return r_version, lme4_version


def run_lmer(csv_path: Path, formula: str, group: str, factors: dict[str, list[str]],
             repeats: int, warmups: int) -> dict[str, Any]:
    """Time ``lmer()`` in one R process via ``bench/lmer_bench.R`` (CSV read once)."""
    factor_args = [f"{name}={','.join(levels)}" for name, levels in factors.items()]
    cmd = ["Rscript", str(LMER_SCRIPT), str(csv_path), formula, group,
           str(repeats), str(warmups), *factor_args]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=RSCRIPT_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return unavailable_record(LME4, f"Rscript timed out after {RSCRIPT_TIMEOUT_S} s")
    if out.returncode != 0:
        return unavailable_record(LME4, f"Rscript failed: {out.stderr.strip()[-500:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    notes = list(r["messages"]) + (["singular fit (isSingular)"] if r["singular"] else [])
    return tool_record(LME4, [float(t) for t in r["times_s"]], loglik=r["loglik"],
                       n_evals=r["n_evals"], notes=notes, warmups=warmups,
                       extra={"optimizer": r["optimizer"], "fixef": r["fixef"]})
