"""The benchmark's outputs: machine description, the issue's targets (met or
not), the Markdown report and the plot of fit time against rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from bench_common import (
    LME4,
    OURS,
    OURS_DASK,
    OURS_PARQUET,
    OURS_STATS,
    REPO_ROOT,
    STATSMODELS,
    TOOLS,
)

MIB = 2**20
PLOT_TOOLS = (OURS, OURS_STATS, STATSMODELS, LME4)  # lines; parquet and Dask are points
VERSIONED_PACKAGES = ("numpy", "scipy", "pandas", "pyarrow", "numba", "statsmodels", "dask",
                      "distributed", "matplotlib")


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


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def git_commit() -> str:
    """The repository's commit, with '+dirty' when the working tree has changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=REPO_ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (head or "unknown") + ("+dirty" if dirty else "")


def machine_info(lme4_available: tuple[str, str] | str, blas_vars: tuple[str, ...]) -> dict[str, Any]:
    """Machine, library versions, thread settings and date of this run."""
    r_version, lme4_version = (lme4_available if isinstance(lme4_available, tuple)
                               else (lme4_available, lme4_available))
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gib": memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **{name: package_version(name) for name in VERSIONED_PACKAGES},
        "numpy_blas": numpy_blas(),
        "R": r_version,
        "lme4": lme4_version,
        "blas_thread_env": {k: os.environ[k] for k in blas_vars if k in os.environ},
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "git_commit": git_commit(),
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


# ------------------------------------------------------------------ targets
@dataclass
class Target:
    """One of the issue's targets: what was measured and whether it is met (None: not judged)."""

    case: str
    target: str
    measured: str
    met: bool | None
    why: str = ""


def tools_by_name(case: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {} if case is None else {r["tool"]: r for r in case["tools"]}


def fmt_time(seconds: float) -> str:
    return f"{1000 * seconds:,.2f} ms" if seconds < 1 else f"{seconds:,.2f} s"


def time_target(case: str, target: str, rec: dict[str, Any] | None, limit_s: float,
                wrong_size: str = "") -> Target:
    """Median time at most ``limit_s``."""
    if rec is None or rec["median_s"] is None:
        return Target(case, target, "–", None, not_run_reason(rec))
    measured = f"{fmt_time(rec['median_s'])} (median of {rec['repeats']})"
    if wrong_size:
        return Target(case, target, measured, None, wrong_size)
    return Target(case, target, measured, rec["median_s"] <= limit_s)


def speedup_target(case: str, target: str, rec: dict[str, Any] | None, at_least: float) -> Target:
    """The tool's median at least ``at_least`` times ours (its ratio to ours)."""
    if rec is None or rec.get("ratio_vs_ours") is None:
        return Target(case, target, "–", None, not_run_reason(rec))
    ratio = rec["ratio_vs_ours"]
    return Target(case, target, f"{ratio:,.1f}x", ratio >= at_least)


def not_run_reason(rec: dict[str, Any] | None) -> str:
    if rec is None:
        return "case not run"
    return rec["notes"][0] if rec["notes"] else "not run"


def size_mismatch(n_rows: int, n_groups: int, want_rows: int, want_groups: int) -> str:
    """Why a target for another size is not judged ('' when the size is the target's)."""
    if (n_rows, n_groups) == (want_rows, want_groups):
        return ""
    return f"run at {n_rows:,} rows / {n_groups:,} groups; the target is for {want_rows:,} / {want_groups:,}"


def evaluate_targets(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets against this run's measurements."""
    cases = {c["case"]: c for c in report["cases"]}
    hs = tools_by_name(cases.get("hsfull"))
    big = tools_by_name(cases.get("synthetic-500k"))
    hs_name = "hsfull, fit(formula, DataFrame) end to end"
    big_name = "synthetic 500,000 rows, 10,000 groups, from a DataFrame"
    targets = [
        time_target(hs_name, "≤ 10 ms", hs.get(OURS), 0.010),
        speedup_target(hs_name, "≥ 10x faster than lme4", hs.get(LME4), 10),
        speedup_target(hs_name, "≥ 100x faster than statsmodels", hs.get(STATSMODELS), 100),
        time_target("hsfull, fit_from_stats (engine only)", "≤ 1 ms", hs.get(OURS_STATS), 0.001),
        time_target(big_name, "≤ 0.25 s", big.get(OURS), 0.25),
        speedup_target(big_name, "≥ 20x faster than lme4", big.get(LME4), 20),
    ]
    targets += out_of_core_targets(report.get("out_of_core"))
    targets += pipeline_targets(report.get("pipeline"))
    targets += multi_targets(report.get("multi_cases") or [])
    return [asdict(t) for t in targets]


def multi_targets(cases: list[dict[str, Any]]) -> list[Target]:
    """lme4's time over ours for each case with several grouping factors."""
    out = []
    for case in cases:
        name = f"{case['case']} ({case['nobs']:,} rows; {', '.join(case['ngroups'])}), REML from a DataFrame"
        out.append(speedup_target(name, f"≥ {case['target_vs_lme4']:g}x faster than lme4",
                                  tools_by_name(case).get(LME4), case["target_vs_lme4"]))
    return out


def pipeline_targets(run: dict[str, Any] | None) -> list[Target]:
    """`make handout`'s pipeline (default config, study included): the slowest
    cold run and the median rerun with nothing changed."""
    name = "make handout's pipeline (default config, study included), 2 cores"
    if run is None or not run["available"]:
        why = "not run (--no-pipeline)" if run is None else run["reason"]
        return [Target(name, "cold ≤ 60 s; rerun ≤ 2 s", "–", None, why)]
    runs = len(run["cold"])
    cold = f"slowest of {runs} {fmt_time(run['cold_max_s'])} (median {fmt_time(run['cold_median_s'])})"
    rerun_note = "" if run["noop_did_nothing"] else " (a rerun did some work)"
    return [Target(name, "cold ≤ 60 s", cold, run["cold_max_s"] <= 60.0),
            Target(name, "rerun with nothing changed ≤ 2 s",
                   f"median of {len(run['noop'])} {fmt_time(run['noop_median_s'])}{rerun_note}",
                   run["noop_median_s"] <= 2.0 and run["noop_did_nothing"])]


def out_of_core_targets(ooc: dict[str, Any] | None) -> list[Target]:
    """Targets of the 10M-row parquet file: time, peak memory, Dask equality and time."""
    pq_name = "10,000,000 rows, 100,000 groups, from a parquet file"
    dask_name = "the same file on a 2-worker Dask LocalCluster"
    if ooc is None:
        return [Target(pq_name, "≤ 5 s; peak memory ≤ 2x the columns used", "–", None, "not run"),
                Target(dask_name, "estimates equal to 1e-8; ≤ 2x single-process time", "–", None,
                       "not run")]
    data, single, memory, dask = ooc["data"], ooc["single"], ooc["memory"], ooc["dask"]
    wrong_size = size_mismatch(data["n_rows"], data["n_groups"], 10_000_000, 100_000)
    targets = [time_target(pq_name, "≤ 5 s", single, 5.0, wrong_size)]
    if memory["available"]:
        ratio = memory["increment_over_used"]
        measured = (f"{memory['increment_bytes'] / MIB:,.0f} MiB = {ratio:.2f}x "
                    f"{data['used_bytes'] / MIB:,.0f} MiB (peak RSS {memory['peak_rss_bytes'] / MIB:,.0f} MiB)")
        targets.append(Target(pq_name, "peak memory increment ≤ 2x the bytes of the columns used",
                              measured, None if wrong_size else ratio <= 2.0, wrong_size))
    else:
        targets.append(Target(pq_name, "peak memory increment ≤ 2x the bytes of the columns used",
                              "–", None, memory["reason"]))
    diffs = dask.get("max_rel_diff_vs_single")
    targets.append(Target(dask_name, "estimates equal to the single-process fit to 1e-8 relative",
                          "–" if diffs is None else f"max relative difference {diffs['max']:.1e}",
                          None if diffs is None else diffs["max"] <= 1e-8,
                          not_run_reason(dask) if diffs is None else ""))
    ratio = dask.get("ratio_vs_single")
    targets.append(Target(dask_name, "≤ 2x the single-process time (start-up excluded)",
                          "–" if ratio is None else f"{ratio:.2f}x ({fmt_time(dask['median_s'])})",
                          None if ratio is None or wrong_size else ratio <= 2.0,
                          wrong_size if ratio is not None else not_run_reason(dask)))
    return targets


# ------------------------------------------------------------------ Markdown
def fmt_ms(seconds: float | None) -> str:
    return "–" if seconds is None else f"{1000 * seconds:,.1f}"


def fmt_ratio(ratio: float | None) -> str:
    return "–" if ratio is None else f"{ratio:,.2f}"


def fmt_loglik_diff(diff: float | None, tool: str) -> str:
    if tool == OURS:
        return "0 (ref)"
    return "–" if diff is None else f"{diff:+.2e}"


def fmt_met(met: bool | None, why: str) -> str:
    return {True: "yes", False: "**no**"}.get(met, f"– ({why})" if why else "–")


def machine_lines(m: dict[str, Any]) -> list[str]:
    threads = m["blas_thread_env"].get("OPENBLAS_NUM_THREADS", "library default")
    versions = ", ".join(f"{name} {m[name]}" for name in VERSIONED_PACKAGES)
    return [
        f"- CPU: {m['cpu_model']}, {m['cores']} cores, {m['memory_gib']} GiB memory; {m['platform']}",
        f"- BLAS: {m['numpy_blas']}, {threads} thread(s) (also for R); numba threads {m['numba_threads']}",
        f"- Python {m['python']}; {versions}",
        f"- R {m['R']}, lme4 {m['lme4']}",
        f"- 1-min load average before the run {m['load_average_before'][0]}; "
        f"commit {m['git_commit']}; {m['date']}",
    ]


def timing_table(results: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Rows of median/min/IQR/ratio/loglik diff per case and tool, and the notes."""
    lines = [
        "| case | tool | n | median ms | min ms | IQR ms | ratio (ours = 1) | loglik diff | n_evals |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for case in results:
        for rec in case["tools"]:
            iqr = rec["iqr_s"] if rec["repeats"] > 1 else None
            lines.append(
                f"| {case['case']} | {rec['tool']} | {rec['repeats']} | {fmt_ms(rec['median_s'])} | "
                f"{fmt_ms(rec['min_s'])} | {fmt_ms(iqr)} | {fmt_ratio(rec['ratio_vs_ours'])} | "
                f"{fmt_loglik_diff(rec['loglik_diff_vs_ours'], rec['tool'])} | "
                f"{'–' if rec['n_evals'] is None else rec['n_evals']} |"
            )
            notes.extend(f"- {case['case']}, {rec['tool']}: {note}" for note in rec["notes"])
    return lines, notes


def sweep_table(points: list[dict[str, Any]]) -> list[str]:
    """Medians (ms) per size and tool, and the others' ratios to ours."""
    lines = ["| rows | groups | " + " | ".join(f"{t} ms" for t in TOOLS)
             + " | statsmodels / ours | lme4 / ours |",
             "|---:|---:|" + "---:|" * (len(TOOLS) + 2)]
    for point in points:
        recs = tools_by_name(point)
        medians = " | ".join(fmt_ms(recs[t]["median_s"]) for t in TOOLS)
        lines.append(f"| {point['nobs']:,} | {point['ngroups']:,} | {medians} | "
                     f"{fmt_ratio(recs[STATSMODELS]['ratio_vs_ours'])} | "
                     f"{fmt_ratio(recs[LME4]['ratio_vs_ours'])} |")
    return lines


def out_of_core_lines(ooc: dict[str, Any]) -> list[str]:
    """The parquet file, its fit's time and peak memory, and the Dask fit."""
    data, single, memory, dask = ooc["data"], ooc["single"], ooc["memory"], ooc["dask"]
    cols = ", ".join(f"{c} {b / MIB:,.1f}" for c, b in data["column_bytes"].items())
    lines = [
        f"File: {data['n_rows']:,} rows, {data['n_groups']:,} groups, {data['n_row_groups']} row groups "
        f"of {data['row_group_rows']:,} rows, {data['file_bytes'] / MIB:,.0f} MiB on disk; "
        f"`{ooc['formula']}`.",
        "",
        f"Columns used, as numpy arrays in memory (MiB): {cols}; total {data['used_bytes'] / MIB:,.1f} "
        "(numbers at 8 bytes a value, the factor `w` at its 1-byte codes).",
        "",
        "| fit | n | median ms | min ms | IQR ms | loglik | vs single process |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for rec, versus in ((single, "–"), (dask, dask_versus(dask))):
        iqr = rec["iqr_s"] if rec["repeats"] > 1 else None
        loglik = "–" if rec["loglik"] is None else f"{rec['loglik']:,.4f}"
        lines.append(f"| {rec['tool']} | {rec['repeats']} | {fmt_ms(rec['median_s'])} | "
                     f"{fmt_ms(rec['min_s'])} | {fmt_ms(iqr)} | {loglik} | {versus} |")
    lines.append("")
    if memory["available"]:
        lines.append(
            f"Peak memory of one parquet fit in a fresh process (`bench/memory_probe.py`): peak RSS "
            f"{memory['peak_rss_bytes'] / MIB:,.0f} MiB"
            f"{'' if memory['peak_reset'] else ' (whole process: the peak mark could not be reset)'}, "
            f"of which {memory['baseline_rss_bytes'] / MIB:,.0f} "
            f"MiB before the fit (libraries loaded, small file fitted) and "
            f"**{memory['increment_bytes'] / MIB:,.0f} MiB added by the fit = "
            f"{memory['increment_over_used']:.2f}x the columns used** "
            f"(peak RSS / columns: {memory['peak_over_used']:.2f}x).")
    else:
        lines.append(f"Peak memory: {memory['reason']}.")
    vs_df = single.get("max_rel_diff_vs_dataframe")
    if vs_df is not None:
        lines += ["", f"Parquet fit against the DataFrame fit of the same rows: max relative "
                      f"difference {vs_df['max']:.1e}."]
    cluster = dask.get("cluster")
    if cluster:
        warm = cluster.get("warmup_s")
        lines += ["", f"Dask: LocalCluster({cluster['n_workers']} worker processes, "
                      f"{cluster['threads_per_worker']} thread each), start-up {cluster['startup_s']:.1f} s "
                      f"and workers' warm-up {'–' if warm is None else f'{warm:.1f}'} s, not in the times; "
                      f"`dd.read_parquet(path, {fmt_kwargs(cluster['read_parquet_kwargs'])})`, "
                      f"{cluster.get('npartitions', '–')} partitions."]
    return lines


def dask_versus(dask: dict[str, Any]) -> str:
    diffs, ratio = dask.get("max_rel_diff_vs_single"), dask.get("ratio_vs_single")
    if diffs is None or ratio is None:
        return "–"
    parts = ", ".join(f"{k} {v:.1e}" for k, v in diffs.items() if k != "max")
    return f"time {ratio:.2f}x; max rel. diff {parts}"


def fmt_kwargs(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def targets_table(targets: list[dict[str, Any]]) -> list[str]:
    lines = ["| case | target | measured | met? |", "|---|---|---|---|"]
    lines += [f"| {t['case']} | {t['target']} | {t['measured']} | {fmt_met(t['met'], t['why'])} |"
              for t in targets]
    return lines


def markdown_report(report: dict[str, Any], plot_name: str | None) -> str:
    """Machine, targets, the case and sweep tables, the out-of-core cases and the plot."""
    case_lines, notes = timing_table(report["cases"])
    sweep_points = report["sweep"]["points"]
    sweep_detail, sweep_notes = timing_table(sweep_points)
    lines = [
        "# mlmcompare benchmark results",
        "",
        f"Run: `{report['command']}` ({report['total_wall_s']:.0f} s). Benchmarks, not timed tests: "
        "wall-clock times of whole fits (REML); ratio = tool median / `ours: lmm.fit` median "
        "(ours = 1; above 1 is slower); loglik diff = tool's REML log-likelihood minus ours "
        "(positive: the tool found a higher optimum).",
        "",
        "## Machine",
        "",
        *machine_lines(report["machine"]),
        "",
        "## Targets",
        "",
        *targets_table(report["targets"]),
        "",
    ]
    if report["cases"]:
        lines += ["## Cases", "", *case_lines, "",
                  *[f"- {c['case']}: {c['description']}; `{c['formula']}`" for c in report["cases"]],
                  ""]
    if sweep_points:
        lines += [f"## Fit time against rows ({report['sweep']['rows_per_group']} rows a group)", "",
                  *sweep_table(sweep_points), ""]
    if plot_name:
        lines += [f"![fit time against rows]({plot_name})", ""]
    if sweep_points:
        lines += ["Details:", "", *sweep_detail, ""]
    if report["out_of_core"] is not None:
        lines += ["## Out of core: parquet file and Dask", "", *out_of_core_lines(report["out_of_core"]), ""]
    multi = report.get("multi_cases") or []
    multi_lines, multi_notes = timing_table(multi)
    if multi:
        lines += ["## Several grouping factors", "", *multi_lines, "",
                  *[f"- {c['case']}: {c['description']}; levels "
                    f"{', '.join(f'{g} {n:,}' for g, n in c['ngroups'].items())}; `{c['formula']}`"
                    for c in multi], ""]
        for c in multi:
            ours = tools_by_name(c).get(OURS)
            if ours and ours.get("structure"):
                st = ours["structure"]
                lines.append(f"- {c['case']}: first factor `{st['first_factor']}` (block-diagonal); "
                             f"the other factors' {st['rest_size']:,} random effects factored "
                             f"{st['rest_storage']} ({st['rest_nnz']:,} entries in L)")
        lines.append("")
    lines += pipeline_lines(report.get("pipeline"), report.get("install"))
    all_notes = notes + sweep_notes + out_of_core_notes(report["out_of_core"]) + multi_notes
    if all_notes:
        lines += ["## Notes", "", *all_notes, ""]
    return "\n".join(lines)


def pipeline_lines(run: dict[str, Any] | None, install: dict[str, Any] | None) -> list[str]:
    """The pipeline's section: its runs, and where a cold run's time goes."""
    lines: list[str] = []
    if install is not None:
        lines += ["## Install", "", f"`{install['command']}`: " + (
            f"{fmt_time(install['wall_s'])} ({install['cpu_s']:.0f} CPU-seconds)." if install["available"]
            else f"not measured: {install['reason']}"), ""]
    if run is None or not run["available"]:
        return lines
    cores = run["cores"]
    lines += ["## The pipeline", "",
              f"`{run['command']}`, results in a temporary directory, {cores} cores. Cold runs (no "
              "results yet, the environment installed):", "",
              "| run | wall | CPU-seconds | cores busy |", "|---:|---:|---:|---:|"]
    lines += [f"| {i} | {fmt_time(r['wall_s'])} | {r['cpu_s']:.1f} | {r['cpu_s'] / r['wall_s']:.2f} of {cores} |"
              for i, r in enumerate(run["cold"], 1)]
    noop = ", ".join(fmt_time(r["wall_s"]) for r in run["noop"])
    lines += ["", f"Reruns with nothing changed: {noop}.", ""]
    profile = run["profile"]
    startup = sum(r["startup_s"] for r in profile)
    step = sum(r["step_s"] for r in profile)
    lines += [f"Where the last cold run's time goes ({run['jobs']} jobs; seconds summed over a rule's jobs, "
              "wall-clock, from the steps' logs). Start-up is the job's process before its step (Python, "
              "Snakemake's script preamble, the adapter); the step includes its own imports. Together "
              f"{startup:.1f} s of start-up and {step:.1f} s of steps; the CPU-seconds above also count "
              "Snakemake's own work (parsing the workflow, building the DAG, checking files).", "",
              "| rule | jobs | start-up s | step s | total s |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['rule']} | {r['jobs']} | {r['startup_s']:.1f} | {r['step_s']:.1f} | {r['total_s']:.1f} |"
              for r in profile]
    return lines + [""]


def out_of_core_notes(ooc: dict[str, Any] | None) -> list[str]:
    if ooc is None:
        return []
    return [f"- out of core, {rec['tool']}: {note}" for rec in (ooc["single"], ooc["dask"])
            for note in rec["notes"]]


# ---------------------------------------------------------------------- plot
def plot_sweep(report: dict[str, Any], path: Path) -> bool:
    """Log-log median fit time against rows, one line per tool (bars: min to max); False if
    there is nothing to plot."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    series = sweep_series(report)
    multi = [(c["case"], c["nobs"], tools_by_name(c)) for c in report.get("multi_cases") or []]
    if not any(series.values()) and not multi:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for tool, pts in series.items():
        if not pts:
            continue
        rows, med, lo, hi = (np.array(v, float) for v in zip(*pts))
        style = "o-" if len(pts) > 1 else "D"
        ax.errorbar(rows, med, yerr=[med - lo, hi - med], fmt=style, capsize=3, label=tool)
    # the cases with several grouping factors: ours and lme4 as single marked points
    for tool, marker in ((OURS, "s"), (LME4, "^")):
        pts = [(n, r[tool]["median_s"], name) for name, n, r in multi
               if tool in r and r[tool]["median_s"] is not None]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker, s=40,
                       facecolors="none", edgecolors="k" if tool == OURS else "tab:red",
                       label=f"{tool}, several factors")
            for n, t, name in pts:
                ax.annotate(name, (n, t), fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows (sweep: 100 per group)")
    ax.set_ylabel("fit time, s (median; bars min to max)")
    m = report["machine"]
    ax.set_title(f"y ~ x * w + (1 + x | g) and cases with several factors, REML\n{m['cpu_model']}, BLAS threads "
                 f"{m['blas_thread_env'].get('OPENBLAS_NUM_THREADS', 'default')}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def sweep_series(report: dict[str, Any]) -> dict[str, list[tuple[int, float, float, float]]]:
    """(rows, median, min, max) per tool: the sweep's tools, then the parquet and Dask fits."""
    series: dict[str, list[tuple[int, float, float, float]]] = {t: [] for t in PLOT_TOOLS}
    series[OURS_PARQUET], series[OURS_DASK] = [], []

    def add(tool: str, n_rows: int, rec: dict[str, Any]) -> None:
        if rec["median_s"] is not None:
            series[tool].append((n_rows, rec["median_s"], min(rec["times_s"]), max(rec["times_s"])))

    for point in report["sweep"]["points"]:
        for rec in point["tools"]:
            if rec["tool"] in series:
                add(rec["tool"], point["nobs"], rec)
    ooc = report["out_of_core"]
    if ooc is not None:
        add(OURS_PARQUET, ooc["data"]["n_rows"], ooc["single"])
        add(OURS_DASK, ooc["data"]["n_rows"], ooc["dask"])
    return series


# --------------------------------------------------------------------- write
def write_reports(report: dict[str, Any], results_dir: Path, stem: str) -> list[Path]:
    """``stem``.json (everything raw), ``stem``.png (the plot) and ``stem``.md; the paths written."""
    results_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path, png_path = (results_dir / f"{stem}.{ext}" for ext in ("json", "md", "png"))
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    plotted = plot_sweep(report, png_path)
    md_path.write_text(markdown_report(report, png_path.name if plotted else None))
    return [json_path, md_path] + ([png_path] if plotted else [])
