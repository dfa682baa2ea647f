"""Benchmarks of mlmcompare's linear mixed-model engine against statsmodels and lme4.

These are benchmarks, not timed tests: nothing here passes or fails on a
time.  Each case is fitted several times by each tool, in one run, on the
same machine, and the wall-clock times (median, min, IQR), the REML
log-likelihood each tool reached and its optimizer's evaluation count are
written to ``bench/results/latest.json`` and ``bench/results/latest.md``.

Cases (all REML, model ``response ~ slope * factor + (1 + slope | group)``):

* ``hsfull``: High School and Beyond, ``mathach ~ ses * Sector + (1 + ses | school)``.
* ``synthetic-50k``: simulated, 50,000 rows in 1,000 groups.
* ``synthetic-500k``: simulated, 500,000 rows in 10,000 groups (statsmodels
  only with ``--full``).

Tools:

* ``ours: lmm.fit`` -- end to end, from the data frame in memory to the
  fitted result (as ``lmer()`` is timed).
* ``ours: fit_from_stats`` -- the engine alone, from prepared sufficient
  statistics (optimizer, variance components, Satterthwaite set-up).
* ``statsmodels MixedLM`` -- ``MixedLM.from_formula(...).fit(reml=True)``,
  default method.
* ``lme4 lmer`` -- one ``Rscript`` process (``bench/lmer_bench.R``) reads the
  CSV once and times ``lmer()`` with the default ``lmerControl()``.

Run from the repository root::

    .venv/bin/python bench/run.py            # default, a few minutes
    .venv/bin/python bench/run.py --quick    # smoke run, writes results/quick.*
    .venv/bin/python bench/run.py --repeats 5 --full
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def blas_threads_requested(argv: list[str]) -> int:
    """``--blas-threads N`` from the command line (default 1); 0 leaves the library default."""
    for i, arg in enumerate(argv):
        value = None
        if arg.startswith("--blas-threads="):
            value = arg.split("=", 1)[1]
        elif arg == "--blas-threads" and i + 1 < len(argv):
            value = argv[i + 1]
        if value is not None:
            try:
                return int(value)
            except ValueError:
                return 1  # argparse reports the bad value
    return 1


# BLAS threads must be fixed before numpy loads its BLAS (the R child inherits them)
if __name__ == "__main__" and blas_threads_requested(sys.argv[1:]) > 0:
    for _var in BLAS_THREAD_VARS:
        os.environ[_var] = str(blas_threads_requested(sys.argv[1:]))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy  # noqa: E402
import statsmodels  # noqa: E402
from statsmodels.regression.mixed_linear_model import MixedLM  # noqa: E402

from mlmcompare import lmm  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "bench"
RESULTS_DIR = BENCH_DIR / "results"
LMER_SCRIPT = BENCH_DIR / "lmer_bench.R"
HSFULL_CSV = REPO_ROOT / "data" / "hsfull.csv"

OURS = "ours: lmm.fit"
OURS_STATS = "ours: fit_from_stats"
STATSMODELS = "statsmodels MixedLM"
LME4 = "lme4 lmer"
TOOLS = (OURS, OURS_STATS, STATSMODELS, LME4)

SIM_SEED = 20240601
RSCRIPT_TIMEOUT_S = 1800


# --------------------------------------------------------------------- cases
@dataclass(frozen=True)
class Plan:
    """How often each tool is timed (repeats) and how many untimed fits come first."""

    repeats: dict[str, int]
    warmups: dict[str, int]


@dataclass
class Case:
    """One model on one data set, and the plan for timing it."""

    name: str
    description: str
    data: pd.DataFrame
    response: str
    slope: str
    factor: str
    factor_levels: list[str]
    group: str
    plan: Plan
    csv_path: Path | None = None  # the same rows as a CSV, for R

    @property
    def lme4_formula(self) -> str:
        return f"{self.response} ~ {self.slope} * {self.factor} + (1 + {self.slope} | {self.group})"

    @property
    def fixed_formula(self) -> str:
        return f"{self.response} ~ {self.slope} * {self.factor}"


def load_hsfull() -> pd.DataFrame:
    """High School and Beyond, with Sector categorical (Catholic the reference)."""
    df = pd.read_csv(HSFULL_CSV)
    df["Sector"] = pd.Categorical(df["Sector"], categories=["Catholic", "Public"])
    return df


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


def make_plan(args: argparse.Namespace, big: bool, small: bool) -> Plan:
    """Repeats and warm-ups per tool for one case (see the README for the policy)."""
    if args.quick:
        repeats = {OURS: 3, OURS_STATS: 3, STATSMODELS: 1, LME4: 2}
    elif big:
        repeats = {OURS: 10, OURS_STATS: 10, STATSMODELS: 1, LME4: 3}
    else:
        repeats = {OURS: 30, OURS_STATS: 30, STATSMODELS: 3, LME4: 10}
    if args.repeats is not None:
        repeats = {tool: args.repeats for tool in repeats}
    if big:
        repeats[STATSMODELS] = 1 if args.full else 0
    # a warm-up fit is cheap where fits are fast; on slow cases it would only
    # cost time (first-call overheads are negligible next to a slow fit)
    warm = 1 if not big else 0
    warmups = {OURS: 1, OURS_STATS: 1, STATSMODELS: 1 if small else 0, LME4: warm}
    return Plan(repeats=repeats, warmups=warmups)


def build_cases(args: argparse.Namespace, tmpdir: Path) -> list[Case]:
    """The cases of this run; synthetic data are written once to CSV for R."""
    cases = [
        Case(
            name="hsfull",
            description="High School and Beyond, 7,185 rows in 160 schools",
            data=load_hsfull(),
            response="mathach", slope="ses", factor="Sector",
            factor_levels=["Catholic", "Public"], group="school",
            plan=make_plan(args, big=False, small=True),
            csv_path=HSFULL_CSV,
        )
    ]
    sizes = [(50_000, 1_000, False)] + ([] if args.quick else [(500_000, 10_000, True)])
    for n_rows, n_groups, big in sizes:
        name = f"synthetic-{n_rows // 1000}k"
        df = simulate_rows(n_rows, n_groups)
        csv_path = tmpdir / f"{name}.csv"
        df.to_csv(csv_path, index=False)
        cases.append(Case(
            name=name,
            description=f"simulated, {n_rows:,} rows in {n_groups:,} groups (seed {SIM_SEED})",
            data=df, response="y", slope="x", factor="w", factor_levels=["A", "B"], group="g",
            plan=make_plan(args, big=big, small=False),
            csv_path=csv_path,
        ))
    return cases


# -------------------------------------------------------------------- timing
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


def time_repeated(fit: Callable[[], Any], repeats: int, warmups: int) -> tuple[list[float], Any]:
    """Wall-clock seconds of ``repeats`` calls (after ``warmups`` untimed calls) and the last result."""
    result = None
    for _ in range(warmups):
        result = fit()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fit()
        times.append(time.perf_counter() - t0)
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


def ours_verdict_notes(res: lmm.LmmResult) -> list[str]:
    """Our fit's warnings (singular fit, not converged, ...), as notes."""
    return list(dict.fromkeys(res.warnings))


def bench_ours_end_to_end(case: Case) -> dict[str, Any]:
    """Time ``lmm.fit(formula, data_frame)``: formula, design, statistics, optimizer, result."""
    formula = case.lme4_formula
    times, res = time_repeated(lambda: lmm.fit(formula, case.data, reml=True),
                               case.plan.repeats[OURS], case.plan.warmups[OURS])
    return tool_record(OURS, times, loglik=float(res.loglik), n_evals=res.optimizer.get("n_evals"),
                       notes=ours_verdict_notes(res), warmups=case.plan.warmups[OURS],
                       extra={"fixef": res.fixef.to_dict()})


def bench_ours_from_stats(case: Case) -> dict[str, Any]:
    """Time ``lmm.fit_from_stats`` on sufficient statistics prepared once (engine only)."""
    design = lmm.build_design(case.lme4_formula, case.data)
    stats = lmm.sufficient_stats(design.X, design.Z, design.y, design.codes, levels=design.levels)

    def fit() -> lmm.LmmResult:
        return lmm.fit_from_stats(stats, design.block_sizes, reml=True,
                                  fixed_terms=design.fixed_terms, random_terms=design.random_terms,
                                  group_name=design.group_name)

    times, res = time_repeated(fit, case.plan.repeats[OURS_STATS], case.plan.warmups[OURS_STATS])
    return tool_record(OURS_STATS, times, loglik=float(res.loglik),
                       n_evals=res.optimizer.get("n_evals"), notes=ours_verdict_notes(res),
                       warmups=case.plan.warmups[OURS_STATS])


def bench_statsmodels(case: Case) -> dict[str, Any]:
    """Time ``MixedLM.from_formula(...).fit(reml=True)`` (default method); record its warnings."""
    repeats = case.plan.repeats[STATSMODELS]
    if repeats == 0:
        return unavailable_record(STATSMODELS, "skipped on this case (run with --full)")

    def fit():
        model = MixedLM.from_formula(case.fixed_formula, groups=case.group,
                                     re_formula=f"~{case.slope}", data=case.data)
        return model.fit(reml=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        times, res = time_repeated(fit, repeats, case.plan.warmups[STATSMODELS])
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    notes = ([] if res.converged else ["NOT converged"]) + messages
    return tool_record(STATSMODELS, times, loglik=float(res.llf), n_evals=None, notes=notes,
                       warmups=case.plan.warmups[STATSMODELS],
                       extra={"method": str(res.method), "converged": bool(res.converged),
                              "fixef": {k: float(v) for k, v in res.fe_params.items()}})


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


def bench_lme4(case: Case, available: tuple[str, str] | str) -> dict[str, Any]:
    """Time ``lmer()`` in one R process via ``bench/lmer_bench.R``."""
    if isinstance(available, str):
        return unavailable_record(LME4, available)
    factor_arg = f"{case.factor}={','.join(case.factor_levels)}"
    cmd = ["Rscript", str(LMER_SCRIPT), str(case.csv_path), case.lme4_formula, case.group,
           str(case.plan.repeats[LME4]), str(case.plan.warmups[LME4]), factor_arg]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=RSCRIPT_TIMEOUT_S)
    if out.returncode != 0:
        return unavailable_record(LME4, f"Rscript failed: {out.stderr.strip()[-500:]}")
    r = json.loads(out.stdout.strip().splitlines()[-1])
    notes = list(r["messages"]) + (["singular fit (isSingular)"] if r["singular"] else [])
    return tool_record(LME4, [float(t) for t in r["times_s"]], loglik=r["loglik"],
                       n_evals=r["n_evals"], notes=notes, warmups=case.plan.warmups[LME4],
                       extra={"optimizer": r["optimizer"], "fixef": r["fixef"]})


def run_case(case: Case, lme4_available: tuple[str, str] | str) -> dict[str, Any]:
    """All tools on one case, with a progress line per tool on stderr."""
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        OURS: lambda: bench_ours_end_to_end(case),
        OURS_STATS: lambda: bench_ours_from_stats(case),
        STATSMODELS: lambda: bench_statsmodels(case),
        LME4: lambda: bench_lme4(case, lme4_available),
    }
    records = []
    for tool in TOOLS:
        print(f"[{case.name}] {tool}: n={case.plan.repeats[tool]} ...", end="",
              file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        rec = runners[tool]()
        median = rec["median_s"]
        shown = f"median {1000 * median:.1f} ms" if median is not None else rec["notes"][0]
        print(f" {shown} ({time.perf_counter() - t0:.1f} s)", file=sys.stderr, flush=True)
        records.append(rec)
    add_comparisons(records)
    return {"case": case.name, "description": case.description, "formula": case.lme4_formula,
            "nobs": int(len(case.data)), "ngroups": int(case.data[case.group].nunique()),
            "tools": records}


def add_comparisons(records: list[dict[str, Any]]) -> None:
    """Add ratio (median / our end-to-end median) and loglik difference (tool - ours) to each record."""
    ours = next(r for r in records if r["tool"] == OURS)
    for rec in records:
        ok = rec["median_s"] is not None and ours["median_s"]
        rec["ratio_vs_ours"] = rec["median_s"] / ours["median_s"] if ok else None
        both = rec["loglik"] is not None and ours["loglik"] is not None
        rec["loglik_diff_vs_ours"] = rec["loglik"] - ours["loglik"] if both else None


# ------------------------------------------------------------------ machine
def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float | None:
    """Total memory in GiB from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def numpy_blas() -> str:
    """The BLAS numpy was built against."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # noqa: BLE001 - informational only
        return "unknown"


def machine_info(lme4_available: tuple[str, str] | str) -> dict[str, Any]:
    """Machine, library versions and date of this run."""
    r_version, lme4_version = (lme4_available if isinstance(lme4_available, tuple)
                               else (lme4_available, lme4_available))
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_blas": numpy_blas(),
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "statsmodels": statsmodels.__version__,
        "R": r_version,
        "lme4": lme4_version,
        "blas_thread_env": {k: os.environ[k] for k in BLAS_THREAD_VARS if k in os.environ},
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


# ------------------------------------------------------------------ reports
def fmt_ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{1000 * seconds:,.1f}"


def fmt_ratio(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:.2f}"


def fmt_loglik_diff(diff: float | None, tool: str) -> str:
    if tool == OURS:
        return "0 (ref)"
    return "–" if diff is None else f"{diff:+.2e}"


def machine_line(machine: dict[str, Any]) -> str:
    return (f"{machine['cpu_model']}, {machine['cores']} cores, {machine['memory_gib']} GiB; "
            f"Python {machine['python']}, numpy {machine['numpy']} ({machine['numpy_blas']}, "
            f"threads {machine['blas_thread_env'].get('OPENBLAS_NUM_THREADS', 'default')}), "
            f"statsmodels {machine['statsmodels']}, R {machine['R']}, lme4 {machine['lme4']}; "
            f"1-min load average before the run {machine['load_average_before'][0]}; "
            f"{machine['date']}")


def markdown_report(report: dict[str, Any]) -> str:
    """The Markdown table of medians, ratios and loglik differences, with notes."""
    lines = [
        "# mlmcompare benchmark results",
        "",
        f"Machine: {machine_line(report['machine'])}",
        "",
        f"Run: `{report['command']}`. Benchmarks, not timed tests: wall-clock times of whole fits "
        "(REML), ratio = tool median / `ours: lmm.fit` median (ours = 1; above 1 is slower), "
        "loglik diff = tool's REML log-likelihood minus ours (positive: the tool found a higher "
        "optimum).",
        "",
        "| case | tool | n | median ms | min ms | IQR ms | ratio (ours = 1) | loglik diff | n_evals |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for case in report["cases"]:
        for rec in case["tools"]:
            lines.append(
                f"| {case['case']} | {rec['tool']} | {rec['repeats']} | {fmt_ms(rec['median_s'])} | "
                f"{fmt_ms(rec['min_s'])} | {fmt_ms(rec['iqr_s'] if rec['repeats'] > 1 else None)} | {fmt_ratio(rec['ratio_vs_ours'])} | "
                f"{fmt_loglik_diff(rec['loglik_diff_vs_ours'], rec['tool'])} | "
                f"{'–' if rec['n_evals'] is None else rec['n_evals']} |"
            )
            notes.extend(f"- {case['case']}, {rec['tool']}: {note}" for note in rec["notes"])
    lines += ["", "Cases:", ""]
    lines += [f"- {c['case']}: {c['description']}; `{c['formula']}`" for c in report["cases"]]
    if notes:
        lines += ["", "Notes:", ""] + notes
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------- main
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke run (<30 s): hsfull and synthetic-50k, few repeats; "
                        "writes bench/results/quick.{json,md}")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats for every tool (overrides the per-tool defaults)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads for numpy (and R's child process); default 1, as lme4 "
                        "runs single-threaded; 0 leaves the library default")
    p.add_argument("--full", action="store_true",
                   help="also run statsmodels on synthetic-500k (about 40 s a fit)")
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.blas_threads < 0:
        p.error("--blas-threads must be 0 (library default) or more")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = "bench/run.py " + " ".join(sys.argv[1:] if argv is None else argv)
    lme4_available = lme4_versions()
    load_before = [round(v, 2) for v in os.getloadavg()]
    if isinstance(lme4_available, str):
        print(f"lme4 {lme4_available}", file=sys.stderr)
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        print(f"warning: 1-min load average {load_before[0]} on {os.cpu_count()} cores; "
              "other work will inflate and scatter the times", file=sys.stderr)
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlmcompare-bench-") as tmp:
        cases = build_cases(args, Path(tmp))
        case_results = [run_case(case, lme4_available) for case in cases]
    report = {
        "command": command.strip(),
        "machine": {**machine_info(lme4_available), "load_average_before": load_before},
        "total_wall_s": time.perf_counter() - t_start,
        "cases": case_results,
    }
    stem = "quick" if args.quick else "latest"
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    json_path, md_path = RESULTS_DIR / f"{stem}.json", RESULTS_DIR / f"{stem}.md"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    md_path.write_text(markdown_report(report))
    print(f"wrote {json_path.relative_to(REPO_ROOT)} and {md_path.relative_to(REPO_ROOT)} "
          f"({report['total_wall_s']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
