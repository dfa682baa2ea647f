"""The cases with several grouping factors: InstEval, students x teachers x schools, growth.

Each case is fitted by REML end to end from a pandas DataFrame (``ours:
lmm.fit``, the reference), from blocked statistics prepared once (``ours:
fit_from_stats``, the engine alone) and by ``lme4::lmer`` in one R process
(``bench/lmer_bench.R``, the same CSV, every grouping column a factor).
statsmodels' MixedLM fits one grouping factor, so it is recorded as not
available.  The data come from ``bench/multi_data.py`` (seeded generators;
InstEval from the tests' golden data).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import multi_data as md
from bench_common import (
    LME4,
    OURS,
    OURS_STATS,
    STATSMODELS,
    TOOLS,
    Plan,
    Progress,
    add_comparisons,
    estimates_of,
    ours_verdict_notes,
    run_lmer,
    run_tool,
    time_repeated,
    tool_record,
    unavailable_record,
)
from mlmcompare import lmm

#: the issue's targets: lme4's time over ours, at least
TARGETS = {"insteval": 5.0, "students-teachers": 5.0, "growth": 10.0}


@dataclass
class MultiCase:
    """One model with several grouping factors on one data set, and the plan for timing it."""

    name: str
    description: str
    data: pd.DataFrame
    formula: str
    groups: list[str]  # grouping columns (factors in R)
    factors: dict[str, list[str]]  # fixed-effect factor columns and their levels (reference first)
    plan: Plan
    csv_path: Path | None = None


def multi_plan(args: argparse.Namespace, name: str) -> Plan:
    """Repeats per tool: InstEval's lme4 fit takes ~12 s, the others are sub-second."""
    if args.quick:
        repeats = {OURS: 1, OURS_STATS: 1, STATSMODELS: 0, LME4: 1}
    elif name == "insteval":
        repeats = {OURS: 3, OURS_STATS: 3, STATSMODELS: 0, LME4: 2}
    else:
        repeats = {OURS: 10, OURS_STATS: 10, STATSMODELS: 0, LME4: 5}
    if args.repeats is not None:
        repeats = {t: (0 if t == STATSMODELS else args.repeats) for t in repeats}
    warmups = {OURS: 1, OURS_STATS: 1, STATSMODELS: 0, LME4: 0 if name == "insteval" else 1}
    skipped = {STATSMODELS: "statsmodels MixedLM fits one grouping factor (no crossed or nested terms)"}
    return Plan(repeats=repeats, warmups=warmups, skipped=skipped)


def build_multi_cases(args: argparse.Namespace, tmpdir: Path, write_csv: bool) -> list[MultiCase]:
    """The three cases; each written to CSV once when lme4 will fit it."""
    ie = md.insteval()
    st = md.students_teachers()
    gr = md.growth()
    cases = [
        MultiCase("insteval", "lme4's InstEval: 73,421 ratings, 2,972 students x 1,128 lecturers "
                  "crossed, 14 departments", ie, md.INSTEVAL_FORMULA, ["s", "d", "dept"],
                  {"service": ["0", "1"]}, multi_plan(args, "insteval")),
        MultiCase("students-teachers", f"simulated: {len(st):,} rows, {st['student'].nunique():,} "
                  f"students x {st['teacher'].nunique():,} teachers (nested in "
                  f"{st['school'].nunique()} schools), 5 % of students change school once "
                  f"(seed {md.MULTI_SEED})", st, md.STUDENTS_FORMULA, ["student", "teacher", "school"],
                  {"urban": ["rural", "suburban", "urban"]}, multi_plan(args, "students")),
        MultiCase("growth", f"simulated three-level growth: {len(gr):,} rows, "
                  f"{gr['child'].nunique():,} children in {gr['school'].nunique()} schools "
                  f"(seed {md.MULTI_SEED})", gr, md.GROWTH_FORMULA, ["school", "child"], {},
                  multi_plan(args, "growth")),
    ]
    for case in cases:
        if write_csv and case.plan.repeats[LME4] > 0:
            case.csv_path = tmpdir / f"{case.name}.csv"
            case.data.to_csv(case.csv_path, index=False)
    return cases


def bench_ours(case: MultiCase, progress: Progress) -> dict[str, Any]:
    """Time ``lmm.fit(formula, data_frame)`` end to end."""
    times, res = time_repeated(lambda: lmm.fit(case.formula, case.data, reml=True),
                               case.plan.repeats[OURS], case.plan.warmups[OURS], progress)
    engine = getattr(res._engine, "problem", None)
    return tool_record(OURS, times, loglik=float(res.loglik), n_evals=res.optimizer.get("n_evals"),
                       notes=ours_verdict_notes(res), warmups=case.plan.warmups[OURS],
                       extra={"fixef": res.fixef.to_dict(), "estimates": estimates_of(res),
                              "structure": engine.describe() if engine is not None else None})


def bench_ours_from_stats(case: MultiCase, progress: Progress) -> dict[str, Any]:
    """Time ``lmm.fit_from_stats`` on blocked statistics prepared once (the engine alone)."""
    from mlmcompare.lmm.blocked import stats_from_design

    design = lmm.build_design(case.formula, case.data)
    stats = stats_from_design(design)
    fixed = design.fixed_terms
    del design

    def fit() -> lmm.LmmResult:
        return lmm.fit_from_stats(stats, reml=True, fixed_terms=fixed)

    times, res = time_repeated(fit, case.plan.repeats[OURS_STATS], case.plan.warmups[OURS_STATS],
                               progress)
    return tool_record(OURS_STATS, times, loglik=float(res.loglik),
                       n_evals=res.optimizer.get("n_evals"), notes=ours_verdict_notes(res),
                       warmups=case.plan.warmups[OURS_STATS])


def bench_lme4(case: MultiCase, available: tuple[str, str] | str) -> dict[str, Any]:
    if isinstance(available, str):
        return unavailable_record(LME4, available)
    if case.plan.repeats[LME4] == 0 or case.csv_path is None:
        return unavailable_record(LME4, "skipped")
    return run_lmer(case.csv_path, case.formula, ",".join(case.groups), case.factors,
                    case.plan.repeats[LME4], case.plan.warmups[LME4])


def run_multi_case(case: MultiCase, lme4_available: tuple[str, str] | str,
                   progress: Progress) -> dict[str, Any]:
    """All tools on one case; records carry ratios and loglik differences to ours."""
    runners = {
        OURS: lambda: bench_ours(case, progress),
        OURS_STATS: lambda: bench_ours_from_stats(case, progress),
        STATSMODELS: lambda: unavailable_record(STATSMODELS, case.plan.skipped[STATSMODELS]),
        LME4: lambda: bench_lme4(case, lme4_available),
    }
    records = [run_tool(f"{case.name} · {tool}", tool, case.plan.repeats[tool], runners[tool],
                        progress) for tool in TOOLS]
    add_comparisons(records)
    groups = {g: int(case.data[g].nunique()) for g in case.groups}
    return {"case": case.name, "description": case.description, "formula": case.formula,
            "nobs": int(len(case.data)), "ngroups": groups, "target_vs_lme4": TARGETS[case.name],
            "tools": records}
