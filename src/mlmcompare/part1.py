"""The handout's part 1 as two pipeline steps: which tables each step writes.

`look_tables` (sections 1 to 3: first look, three effects, beta space) and
`methods_tables` (sections 4 and 5: robust standard errors, diagnostics,
the second example) each return {name: DataFrame}; the Snakemake adapters
write every table to `results/<dataset>/part1/<name>.parquet`. Settings come
from the config's optional `part1:` mapping, read through `Part1Settings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pandas as pd

from .spec import ModelSpec

LOOK_TABLES = ["school_lines", "school_lines_by", "quantiles", "counts", "variables", "effects", "ellipses", "tests"]
METHODS_TABLES = ["robust", "hausman", "residuals", "ranef", "influence", "effect_grid", "r2", "varcorr", "second_example"]


@dataclass(frozen=True)
class Part1Settings:
    """by_factor: level-1 factor splitting the school panels (default: the
    composition column, e.g. Sex); example_school: the school shown with its
    joint and shadow ellipses (default: the largest); second_factor and
    second_reference: the level-1 factor of the second example (default
    Minority with its first configured level)."""

    by_factor: str | None = None
    example_school: str | None = None
    second_factor: str | None = "Minority"
    second_reference: str | None = None

    @classmethod
    def from_config(cls, part1: Mapping[str, Any] | None, spec: ModelSpec) -> "Part1Settings":
        part1 = dict(part1 or {})
        second = dict(part1.get("second_example") or {})
        factor = second.get("factor", "Minority")
        ref = second.get("reference") or (spec.factor_levels.get(factor, (None,))[0] if factor else None)
        by = part1.get("by_factor") or (spec.composition.column if spec.composition else None)
        example = part1.get("example_school")
        return cls(by, None if example is None else str(example), factor, ref)


def look_tables(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, settings: Part1Settings) -> dict[str, pd.DataFrame]:
    """Sections 1-3: school lines, quantiles, counts, variables, effects, ellipses, tests."""
    # imported here: the workflow's rule files import this module for its
    # table names, and Snakemake parses them on every run, even a no-op rerun
    from .analyses import betaspace, effects, firstlook

    by = settings.by_factor if settings.by_factor in data.columns else None
    factors = [spec.level2_factor] + ([by] if by else [])
    return {
        "school_lines": firstlook.school_ols_lines(data, schools, spec),
        "school_lines_by": firstlook.school_ols_lines_by(data, schools, spec, by) if by else pd.DataFrame({"factor": pd.Series(dtype=str)}),
        "quantiles": firstlook.uniform_quantiles(data, [spec.response, spec.predictor], spec.level2_factor),
        "counts": firstlook.school_counts(data, schools, spec, factors),
        "variables": firstlook.variable_levels(data, spec),
        "effects": effects.three_effects(data, spec),
        "ellipses": betaspace.school_line_ellipses(data, schools, spec, settings.example_school),
        "tests": betaspace.sector_difference_tests(data, spec),
    }


def methods_tables(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, settings: Part1Settings) -> dict[str, pd.DataFrame]:
    """Sections 4-5: robust SEs, Hausman, residuals, BLUPs, influence, effect
    grid, R^2, variance components, and the second example (empty when its
    factor is not in the data)."""
    from .analyses import diagnostics, level1_factor as secondexample
    from .estimation import robust# see look_tables

    fit = diagnostics.fit_mixed(data, spec)
    if settings.second_factor and settings.second_factor in data.columns:
        second = secondexample.second_example(data, spec, settings.second_factor, settings.second_reference)
        second.insert(0, "factor", settings.second_factor)
        second.insert(1, "reference", settings.second_reference)
    else:
        second = pd.DataFrame({"factor": pd.Series(dtype=str)})
    return {
        "robust": robust.pooled_robust(data, spec),
        "hausman": diagnostics.hausman_test(data, spec),
        "residuals": diagnostics.row_diagnostics(data, schools, spec, fit),
        "ranef": diagnostics.random_effects(data, schools, spec, fit),
        "influence": diagnostics.leave_one_group_out(data, schools, spec, fit),
        "effect_grid": diagnostics.effect_grid(data, spec, fit),
        "r2": diagnostics.multilevel_r2(data, spec, fit),
        "varcorr": diagnostics.variance_components(fit),
        "second_example": second,
    }


def table_paths(results: str, dataset: str, names: list[str]) -> dict[str, str]:
    """{name: results/<dataset>/part1/<name>.parquet}; `dataset` may be the wildcard "{dataset}"."""
    return {n: f"{results}/{dataset}/part1/{n}.parquet" for n in names}
