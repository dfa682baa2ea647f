"""Benchmarks of mlmcompare's linear mixed-model engine against statsmodels and lme4.

These are benchmarks, not timed tests: nothing here passes or fails on a
time.  Each case is fitted several times by each tool, in one run, on the
same machine; the wall-clock times (median, min, IQR), the REML
log-likelihood each tool reached and its optimizer's evaluation count are
written to ``bench/results/latest.json``, with a Markdown report
(``latest.md``: machine, tables, the issue's targets met or not) and a plot
of fit time against rows (``latest.png``).

Sections (all REML, model ``response ~ slope * factor + (1 + slope | group)``):

* cases: ``hsfull`` (``mathach ~ ses * Sector + (1 + ses | school)``),
  ``synthetic-50k`` and ``synthetic-500k`` (10,000 groups; statsmodels only
  with ``--full``).
* sweep: simulated rows, 100 a group, at 1e4, 1e5, ... up to ``--max-rows``
  (default 1e7); statsmodels up to 1e5 rows (1e6 with ``--full``), lme4 up to 1e6
  (both 1e4 with ``--quick``).
* out of core: the largest size (``--parquet-rows``) as a parquet file,
  fitted from the path (time; peak memory in a child process,
  ``bench/memory_probe.py``) and as a Dask DataFrame on a local 2-worker
  cluster (time; estimates against the single-process fit).
* pipeline: ``snakemake --cores 2`` with the default configuration, as
  ``make handout`` runs it (hs handout, designs handout, reduced Monte Carlo
  study): three cold runs, three reruns with nothing changed, and where the
  cold run's time goes (``bench/bench_pipeline.py``; not with ``--quick`` or
  ``--no-pipeline``).
* install: ``make venv`` in a fresh clone of HEAD (``bench/bench_pipeline.py``;
  not with ``--quick``).
* several grouping factors (``bench/bench_multi.py``): lme4's InstEval
  (crossed), students x teachers x schools (partially crossed), three-level
  growth (nested), against lme4.

``--sections`` runs a subset (e.g. ``--sections multi``); a run that leaves
out a section writes ``bench/results/<sections>.*`` instead of ``latest.*``.

Tools: ``ours: lmm.fit`` end to end from the data frame in memory (the
reference, as ``lmer()`` is timed), ``ours: fit_from_stats`` (the engine
alone, from prepared sufficient statistics), ``ours: lmm.fit(parquet)`` and
``ours: lmm.fit(Dask)``, ``statsmodels MixedLM`` (default method) and
``lme4 lmer`` (one ``Rscript`` process per data set, ``bench/lmer_bench.R``).

Run from the repository root::

    .venv/bin/python bench/run.py            # everything, about 5 minutes on 2 quiet cores
    .venv/bin/python bench/run.py --quick    # smoke run, writes results/quick.*
    .venv/bin/python bench/run.py --max-rows 1e6 --repeats 3
"""

from __future__ import annotations

import argparse
import os
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


# BLAS threads must be fixed before numpy loads its BLAS (R, the memory probe and
# the Dask workers, all child processes, inherit them)
if __name__ == "__main__" and blas_threads_requested(sys.argv[1:]) > 0:
    for _var in BLAS_THREAD_VARS:
        os.environ[_var] = str(blas_threads_requested(sys.argv[1:]))

import pandas as pd  # noqa: E402
from statsmodels.regression.mixed_linear_model import MixedLM  # noqa: E402

from bench_common import (  # noqa: E402
    LME4,
    OURS,
    OURS_STATS,
    REPO_ROOT,
    RESULTS_DIR,
    SIM_SEED,
    STATSMODELS,
    TOOLS,
    Plan,
    Progress,
    add_comparisons,
    estimates_of,
    lme4_versions,
    ours_verdict_notes,
    run_lmer,
    run_tool,
    simulate_rows,
    time_repeated,
    tool_record,
    unavailable_record,
)
from bench_multi import build_multi_cases, run_multi_case  # noqa: E402
from bench_pipeline import time_install, time_pipeline  # noqa: E402
from bench_report import evaluate_targets, machine_info, write_reports  # noqa: E402
from bench_scaling import (  # noqa: E402
    WARMUP_ROWS,
    ParquetData,
    run_out_of_core,
    scale_plan,
    simulated_parquet,
)
from mlmcompare import lmm  # noqa: E402

HSFULL_CSV = REPO_ROOT / "data" / "hsfull.csv"

ROWS_PER_GROUP = 100  # sweep: n_groups = n_rows / 100
SWEEP_MIN_ROWS = 10_000
QUICK_MAX_ROWS = 100_000
QUICK_PARQUET_ROWS = 200_000
DEFAULT_MAX_ROWS = 10_000_000
# statsmodels takes ~0.3 s at 1e4 rows, ~4 s at 1e5 and about a minute at 1e6
STATSMODELS_MAX_ROWS = {"quick": 10_000, "default": 100_000, "full": 1_000_000}
# a 1e7-row CSV and lmer() on it would take most of the run; 1e5 rows take ~5 s a fit
LME4_MAX_ROWS = {"quick": 10_000, "default": 1_000_000}
# timed repeats fall with size (slower fits, steadier times): up to n rows -> (ours, statsmodels, lme4)
SWEEP_REPEATS = ((10_000, (10, 3, 5)), (100_000, (5, 1, 3)), (1_000_000, (3, 1, 2)))
SWEEP_REPEATS_LARGEST = (2, 1, 1)
SWEEP_REPEATS_QUICK = (3, 1, 1)


# --------------------------------------------------------------------- cases
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


def make_plan(args: argparse.Namespace, big: bool, small: bool) -> Plan:
    """Repeats and warm-ups per tool for one case (see the README for the policy)."""
    if args.quick:
        repeats = {OURS: 3, OURS_STATS: 3, STATSMODELS: 1, LME4: 2}
    elif big:
        repeats = {OURS: 10, OURS_STATS: 10, STATSMODELS: 1, LME4: 3}
    elif small:
        # millisecond fits: many repeats, so that a pause of the (virtual)
        # machine moves the median less; 300 fits take well under a second
        repeats = {OURS: 300, OURS_STATS: 300, STATSMODELS: 3, LME4: 10}
    else:
        repeats = {OURS: 30, OURS_STATS: 30, STATSMODELS: 3, LME4: 10}
    if args.repeats is not None:
        repeats = {tool: args.repeats for tool in repeats}
    skipped = {}
    if big and not args.full:
        repeats[STATSMODELS] = 0
        skipped[STATSMODELS] = "skipped on this case (run with --full)"
    # a warm-up fit is cheap where fits are fast; on slow cases it would only
    # cost time (first-call overheads are negligible next to a slow fit)
    warm = 1 if not big else 0
    warmups = {OURS: 1, OURS_STATS: 1, STATSMODELS: 1 if small else 0, LME4: warm}
    return Plan(repeats=repeats, warmups=warmups, skipped=skipped)


def synthetic_case(name: str, df: pd.DataFrame, plan: Plan, tmpdir: Path, write_csv: bool) -> Case:
    """A case of simulated rows; written to CSV for R only when lme4 will fit it."""
    csv_path = None
    if write_csv and plan.repeats[LME4] > 0:
        csv_path = tmpdir / f"{name}.csv"
        df.to_csv(csv_path, index=False)
    return Case(
        name=name,
        description=f"simulated, {len(df):,} rows in {df['g'].nunique():,} groups (seed {SIM_SEED})",
        data=df, response="y", slope="x", factor="w", factor_levels=["A", "B"], group="g",
        plan=plan, csv_path=csv_path,
    )


def build_cases(args: argparse.Namespace, tmpdir: Path, write_csv: bool) -> list[Case]:
    """The fixed cases of this run (hsfull, synthetic-50k, synthetic-500k)."""
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
        cases.append(synthetic_case(f"synthetic-{n_rows // 1000}k", simulate_rows(n_rows, n_groups),
                                    make_plan(args, big=big, small=False), tmpdir, write_csv))
    return cases


# --------------------------------------------------------------------- sweep
def rows_label(n_rows: int) -> str:
    """10_000 -> '10k', 1_000_000 -> '1M', 250_000 -> '250k'."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n_rows >= size and n_rows % size == 0:
            return f"{n_rows // size}{suffix}"
    return f"{n_rows:,}"


def sweep_sizes(max_rows: int) -> list[int]:
    """Powers of ten from 1e4 below ``max_rows``, then ``max_rows`` itself."""
    sizes = []
    n = SWEEP_MIN_ROWS
    while n < max_rows:
        sizes.append(n)
        n *= 10
    return sizes + [max_rows]


def sweep_plan(n_rows: int, args: argparse.Namespace) -> Plan:
    """Repeats fall with size; statsmodels and lme4 stop at their row caps."""
    if args.quick:
        ours, sm, r = SWEEP_REPEATS_QUICK
    else:
        ours, sm, r = next((reps for limit, reps in SWEEP_REPEATS if n_rows <= limit),
                           SWEEP_REPEATS_LARGEST)
    if args.repeats is not None:
        ours = sm = r = args.repeats
    sm_cap = STATSMODELS_MAX_ROWS["quick" if args.quick else "full" if args.full else "default"]
    lme4_cap = LME4_MAX_ROWS["quick" if args.quick else "default"]
    repeats = {OURS: ours, OURS_STATS: ours, STATSMODELS: sm if n_rows <= sm_cap else 0,
               LME4: r if n_rows <= lme4_cap else 0}
    skipped = {}
    if n_rows > sm_cap:
        skipped[STATSMODELS] = (f"skipped above {sm_cap:,} rows"
                                + ("" if args.full or args.quick else " (--full raises it to 1e6)"))
    if n_rows > lme4_cap:
        skipped[LME4] = f"skipped above {lme4_cap:,} rows"
    warmups = {OURS: int(n_rows <= 1_000_000), OURS_STATS: int(n_rows <= 1_000_000),
               STATSMODELS: int(n_rows <= 10_000), LME4: int(n_rows <= 100_000)}
    return Plan(repeats=repeats, warmups=warmups, skipped=skipped)


def run_sweep(sizes: list[int], plans: list[Plan], tmpdir: Path, lme4_available: tuple[str, str] | str,
              progress: Progress, parquet_rows: int) -> tuple[list[dict[str, Any]], ParquetData | None]:
    """All tools at each size; the rows of size ``parquet_rows`` are also written to parquet
    (the same seeded rows, so the out-of-core fits can be checked against the DataFrame fit)."""
    points, parquet = [], None
    for n_rows, plan in zip(sizes, plans):
        df = simulate_rows(n_rows, n_rows // ROWS_PER_GROUP)
        case = synthetic_case(f"sweep-{rows_label(n_rows)}", df, plan, tmpdir,
                              write_csv=isinstance(lme4_available, tuple))
        points.append(run_case(case, lme4_available, progress))
        if n_rows == parquet_rows:
            parquet = simulated_parquet(n_rows, tmpdir, "out-of-core", df=df)
        if case.csv_path is not None:
            case.csv_path.unlink()  # up to ~60 MB a size
    return points, parquet


def dataframe_estimates(sweep: list[dict[str, Any]], n_rows: int) -> dict[str, Any] | None:
    """Our DataFrame fit's estimates at ``n_rows`` in the sweep, if that size was run."""
    point = next((p for p in sweep if p["nobs"] == n_rows), None)
    ours = next((r for r in point["tools"] if r["tool"] == OURS), None) if point else None
    return ours.get("estimates") if ours else None


# -------------------------------------------------------------------- tools
def bench_ours_end_to_end(case: Case, progress: Progress) -> dict[str, Any]:
    """Time ``lmm.fit(formula, data_frame)``: formula, design, statistics, optimizer, result."""
    formula = case.lme4_formula
    times, res = time_repeated(lambda: lmm.fit(formula, case.data, reml=True),
                               case.plan.repeats[OURS], case.plan.warmups[OURS], progress)
    return tool_record(OURS, times, loglik=float(res.loglik), n_evals=res.optimizer.get("n_evals"),
                       notes=ours_verdict_notes(res), warmups=case.plan.warmups[OURS],
                       extra={"fixef": res.fixef.to_dict(), "estimates": estimates_of(res)})


def bench_ours_from_stats(case: Case, progress: Progress) -> dict[str, Any]:
    """Time ``lmm.fit_from_stats`` on sufficient statistics prepared once (engine only)."""
    design = lmm.build_design(case.lme4_formula, case.data)
    stats = lmm.sufficient_stats(design.X, design.Z, design.y, design.codes, levels=design.levels)
    block_sizes = design.block_sizes
    labels = {"fixed_terms": design.fixed_terms, "random_terms": design.random_terms,
              "group_name": design.group_name}
    del design  # only the statistics are needed (at 1e7 rows the design is ~0.6 GB)

    def fit() -> lmm.LmmResult:
        return lmm.fit_from_stats(stats, block_sizes, reml=True, **labels)

    times, res = time_repeated(fit, case.plan.repeats[OURS_STATS], case.plan.warmups[OURS_STATS],
                               progress)
    return tool_record(OURS_STATS, times, loglik=float(res.loglik),
                       n_evals=res.optimizer.get("n_evals"), notes=ours_verdict_notes(res),
                       warmups=case.plan.warmups[OURS_STATS])


def bench_statsmodels(case: Case, progress: Progress) -> dict[str, Any]:
    """Time ``MixedLM.from_formula(...).fit(reml=True)`` (default method); record its warnings."""
    repeats = case.plan.repeats[STATSMODELS]
    if repeats == 0:
        return unavailable_record(STATSMODELS, case.plan.skipped.get(STATSMODELS, "skipped"))

    def fit():
        model = MixedLM.from_formula(case.fixed_formula, groups=case.group,
                                     re_formula=f"~{case.slope}", data=case.data)
        return model.fit(reml=True)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        times, res = time_repeated(fit, repeats, case.plan.warmups[STATSMODELS], progress)
    messages = sorted({f"{w.category.__name__}: {w.message}" for w in caught})
    notes = ([] if res.converged else ["NOT converged"]) + messages
    return tool_record(STATSMODELS, times, loglik=float(res.llf), n_evals=None, notes=notes,
                       warmups=case.plan.warmups[STATSMODELS],
                       extra={"method": str(res.method), "converged": bool(res.converged),
                              "fixef": {k: float(v) for k, v in res.fe_params.items()}})


def bench_lme4(case: Case, available: tuple[str, str] | str) -> dict[str, Any]:
    """Time ``lmer()`` in one R process via ``bench/lmer_bench.R``."""
    if isinstance(available, str):
        return unavailable_record(LME4, available)
    if case.plan.repeats[LME4] == 0 or case.csv_path is None:
        return unavailable_record(LME4, case.plan.skipped.get(LME4, "skipped"))
    return run_lmer(case.csv_path, case.lme4_formula, case.group, {case.factor: case.factor_levels},
                    case.plan.repeats[LME4], case.plan.warmups[LME4])


def run_case(case: Case, lme4_available: tuple[str, str] | str, progress: Progress) -> dict[str, Any]:
    """All tools on one case; the records carry ratios and loglik differences to ours."""
    runners: dict[str, Callable[[], dict[str, Any]]] = {
        OURS: lambda: bench_ours_end_to_end(case, progress),
        OURS_STATS: lambda: bench_ours_from_stats(case, progress),
        STATSMODELS: lambda: bench_statsmodels(case, progress),
        LME4: lambda: bench_lme4(case, lme4_available),
    }
    records = [run_tool(f"{case.name} · {tool}", tool, case.plan.repeats[tool], runners[tool], progress)
               for tool in TOOLS]
    add_comparisons(records)
    return {"case": case.name, "description": case.description, "formula": case.lme4_formula,
            "nobs": int(len(case.data)), "ngroups": int(case.data[case.group].nunique()),
            "tools": records}


# --------------------------------------------------------------------- main
def row_count(text: str) -> int:
    """A row count written as 10000, 1e7 or 2.5e5."""
    value = float(text)
    if value != int(value) or value < 0:
        raise argparse.ArgumentTypeError(f"not a row count: {text!r}")
    return int(value)


SECTIONS = ("cases", "sweep", "ooc", "pipeline", "install", "multi")


def section_list(text: str) -> tuple[str, ...]:
    """'multi,cases' -> ('cases', 'multi') in the run's order; unknown names refused."""
    wanted = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in wanted if s not in SECTIONS]
    if unknown or not wanted:
        raise argparse.ArgumentTypeError(f"unknown section(s) {unknown}; choose from {SECTIONS}")
    return tuple(s for s in SECTIONS if s in wanted)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="smoke run (well under a minute): hsfull and synthetic-50k, sweep 1e4..1e5, "
                        "parquet and Dask on 200,000 rows, few repeats; writes bench/results/quick.*")
    p.add_argument("--full", action="store_true",
                   help="statsmodels also on synthetic-500k and in the sweep up to 1e6 rows "
                        "(about a minute a fit)")
    p.add_argument("--max-rows", type=row_count, default=None,
                   help="largest sweep size (default 1e7; 1e5 with --quick); sizes are 1e4, 1e5, ... "
                        "below it, then it")
    p.add_argument("--parquet-rows", type=row_count, default=None,
                   help="rows of the parquet file of the out-of-core cases (default: --max-rows; "
                        "200,000 with --quick); 0 skips the parquet and Dask cases")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed repeats for every tool (overrides the per-tool defaults)")
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads for numpy (and R's child process); default 1, as lme4 "
                        "runs single-threaded; 0 leaves the library default")
    p.add_argument("--no-pipeline", action="store_true",
                   help="skip timing the Snakemake pipeline (three cold runs and three reruns "
                        "of the default config; about three minutes; off anyway with --quick)")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is off anyway when stderr is not a terminal)")
    p.add_argument("--sections", type=section_list, default=SECTIONS,
                   help="comma-separated sections to run: " + ",".join(SECTIONS)
                        + " (default all); a subset writes bench/results/<sections>.*")
    args = p.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.blas_threads < 0:
        p.error("--blas-threads must be 0 (library default) or more")
    if args.max_rows is None:
        args.max_rows = QUICK_MAX_ROWS if args.quick else DEFAULT_MAX_ROWS
    if args.max_rows < SWEEP_MIN_ROWS:
        p.error(f"--max-rows must be at least {SWEEP_MIN_ROWS:,}")
    if args.parquet_rows is None:
        args.parquet_rows = QUICK_PARQUET_ROWS if args.quick else args.max_rows
    if 0 < args.parquet_rows < 2 * WARMUP_ROWS:
        p.error(f"--parquet-rows must be 0 or at least {2 * WARMUP_ROWS:,}")
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
    sections = set(args.sections)
    with tempfile.TemporaryDirectory(prefix="mlmcompare-bench-") as tmp:
        tmpdir = Path(tmp)
        write_csv = isinstance(lme4_available, tuple)
        cases = build_cases(args, tmpdir, write_csv) if "cases" in sections else []
        sizes = sweep_sizes(args.max_rows) if "sweep" in sections else []
        sweep_plans = [sweep_plan(n, args) for n in sizes]
        ooc_plan = (scale_plan(args.quick, args.repeats)
                    if args.parquet_rows and "ooc" in sections else None)
        multi = build_multi_cases(args, tmpdir, write_csv) if "multi" in sections else []
        planned = sum(p.total_repeats for p in [c.plan for c in cases + multi] + sweep_plans
                      + ([ooc_plan] if ooc_plan else []))
        progress = Progress(planned, enabled=not args.no_progress)
        try:
            case_results = [run_case(case, lme4_available, progress) for case in cases]
            del cases
            sweep, parquet = run_sweep(sizes, sweep_plans, tmpdir, lme4_available, progress,
                                       args.parquet_rows)
            out_of_core = None
            if ooc_plan is not None:
                parquet = parquet or simulated_parquet(args.parquet_rows, tmpdir, "out-of-core")
                warmup = simulated_parquet(WARMUP_ROWS, tmpdir, "warmup")
                out_of_core = run_out_of_core(parquet, warmup, ooc_plan, progress,
                                              dataframe_estimates(sweep, args.parquet_rows))
            multi_results = [run_multi_case(case, lme4_available, progress) for case in multi]
            del multi
        finally:
            progress.close()
        pipeline = None
        if not (args.quick or args.no_pipeline) and "pipeline" in sections:
            print("[pipeline] snakemake with the default config, cold then rerun ...", file=sys.stderr, flush=True)
            pipeline = time_pipeline(REPO_ROOT, tmpdir)
        install = None
        if not args.quick and "install" in sections:
            print("[install] make venv in a fresh clone ...", file=sys.stderr, flush=True)
            install = time_install(REPO_ROOT, tmpdir)
    report = {
        "command": command.strip(),
        "machine": {**machine_info(lme4_available, BLAS_THREAD_VARS), "load_average_before": load_before},
        "total_wall_s": time.perf_counter() - t_start,
        "cases": case_results,
        "sweep": {"rows_per_group": ROWS_PER_GROUP, "points": sweep},
        "out_of_core": out_of_core,
        "pipeline": pipeline,
        "install": install,
        "multi_cases": multi_results,
        "sections": list(args.sections),
    }
    report["targets"] = evaluate_targets(report)
    stem = "quick" if args.quick else ("latest" if set(args.sections) == set(SECTIONS)
                                       else "-".join(args.sections))
    written = write_reports(report, RESULTS_DIR, stem)
    print(f"wrote {', '.join(str(p.relative_to(REPO_ROOT)) for p in written)} "
          f"({report['total_wall_s']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
