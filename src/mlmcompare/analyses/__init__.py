"""The handouts' analyses, one module per idea, and their registry.

An analysis turns the prepared data of one data set into named tidy tables:
`ANALYSES[name](inputs) -> {table: DataFrame}`, where `inputs` holds the
student data, the school summary, the model spec and the handout settings
(the config's `handout:` mapping, completed by the schema's defaults). The
pipeline runs each as its own step and writes its tables under
`results/<dataset>/analyses/<name>/`; a handout section reads them by name.

`DESIGN_PARTS[name](frame, settings)` does the same for the parts of the
designs handout, each from its own input file and config section.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import pandas as pd

from ..spec import ModelSpec

Tables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class Inputs:
    """What every analysis of a data set may read."""

    data: pd.DataFrame  # students, typed, with the contextual columns
    schools: pd.DataFrame  # one row per school
    spec: ModelSpec
    settings: Mapping[str, Any] = field(default_factory=dict)  # the handout settings


def firstlook_tables(i: Inputs) -> Tables:
    """School lines, quantiles, counts and variables (the first look at the data)."""
    from .firstlook import school_counts, school_ols_lines, school_ols_lines_by, uniform_quantiles, variable_levels

    by = i.settings.get("by_factor") or (i.spec.composition.column if i.spec.composition else None)
    by = by if by in i.data.columns else None
    factors = [i.spec.level2_factor] + ([by] if by else [])
    return {
        "school_lines": school_ols_lines(i.data, i.schools, i.spec),
        "school_lines_by": school_ols_lines_by(i.data, i.schools, i.spec, by) if by else pd.DataFrame({"factor": pd.Series(dtype=str)}),
        "quantiles": uniform_quantiles(i.data, [i.spec.response, i.spec.predictor], i.spec.level2_factor),
        "counts": school_counts(i.data, i.schools, i.spec, factors),
        "variables": variable_levels(i.data, i.spec),
    }


def effects_tables(i: Inputs) -> Tables:
    """Within, between, pooled and contextual effects of the predictor."""
    from .effects import three_effects

    return {"effects": three_effects(i.data, i.spec)}


def betaspace_tables(i: Inputs) -> Tables:
    """Each school's line as a point with its ellipse; tests of the sector difference."""
    from .betaspace import school_line_ellipses, sector_difference_tests

    example = i.settings.get("example_school")
    return {
        "ellipses": school_line_ellipses(i.data, i.schools, i.spec, None if example is None else str(example)),
        "tests": sector_difference_tests(i.data, i.spec),
    }


def robust_tables(i: Inputs) -> Tables:
    """Pooled OLS with heteroskedasticity- and cluster-robust standard errors."""
    from ..estimation.robust import pooled_robust

    return {"robust": pooled_robust(i.data, i.spec)}


def diagnostics_tables(i: Inputs) -> Tables:
    """Hausman test, residuals, BLUPs, influence, effect grid, R^2, variance components."""
    from .diagnostics import (effect_grid, fit_mixed, hausman_test, leave_one_group_out, multilevel_r2,
                              random_effects, row_diagnostics, variance_components)

    fit = fit_mixed(i.data, i.spec)
    return {
        "hausman": hausman_test(i.data, i.spec),
        "residuals": row_diagnostics(i.data, i.schools, i.spec, fit),
        "ranef": random_effects(i.data, i.schools, i.spec, fit),
        "influence": leave_one_group_out(i.data, i.schools, i.spec, fit),
        "effect_grid": effect_grid(i.data, i.spec, fit),
        "r2": multilevel_r2(i.data, i.spec, fit),
        "varcorr": variance_components(fit),
    }


def level1_factor_tables(i: Inputs) -> Tables:
    """A level-1 factor's gap within, between and pooled (empty when the data lack it)."""
    from .level1_factor import second_example

    chosen = i.settings.get("level1_factor") or {}
    factor = chosen.get("factor")
    if not factor or factor not in i.data.columns:
        return {"second_example": pd.DataFrame({"factor": pd.Series(dtype=str)})}
    reference = chosen.get("reference") or i.spec.factor_levels.get(factor, (None,))[0]
    if reference is None:
        reference = sorted(i.data[factor].astype(str).unique())[0]
    table = second_example(i.data, i.spec, factor, str(reference))
    table.insert(0, "factor", factor)
    table.insert(1, "reference", str(reference))
    return {"second_example": table}


def ladder_tables(i: Inputs) -> Tables:
    """The model ladder by REML and ML, with its likelihood-ratio tests."""
    from .ladder import ladder_tables

    return ladder_tables(i.data, i.spec)


def oneway_tables(i: Inputs) -> Tables:
    """The one-way model's estimators of the mean, intervals and summaries."""
    from .oneway import oneway_tables

    return oneway_tables(i.data, i.schools, i.spec, i.settings.get("size_column"))


def shrinkage_tables(i: Inputs) -> Tables:
    """BLUEs and BLUPs of the one-way and random-slopes models."""
    from .shrinkage import shrinkage_tables

    return shrinkage_tables(i.data, i.schools, i.spec)


def sectorgap_tables(i: Inputs) -> Tables:
    """The level-2 factor's gap in the mean, naive and multilevel, and what G means."""
    from .sectorgap import sector_gap_tables

    return sector_gap_tables(i.data, i.spec, preferred_reference=i.settings.get("gap_reference"),
                             seed=int(i.settings["seed"]))


ANALYSES: dict[str, Callable[[Inputs], Tables]] = {
    "firstlook": firstlook_tables,
    "effects": effects_tables,
    "betaspace": betaspace_tables,
    "robust": robust_tables,
    "diagnostics": diagnostics_tables,
    "level1_factor": level1_factor_tables,
    "ladder": ladder_tables,
    "oneway": oneway_tables,
    "shrinkage": shrinkage_tables,
    "sectorgap": sectorgap_tables,
}


def simulated_example(settings: Mapping[str, Any]) -> Tables:
    """The simulated example: lines drawn from a known population (no data read)."""
    from .simexample import SimSettings, sim_tables

    return sim_tables(SimSettings(seed=int(settings["seed"]), n_schools=int(settings["simulated_schools"])))


def run_analysis(name: str, inputs: Inputs) -> Tables:
    """The tables of one analysis; an unknown name is refused naming the known ones."""
    if name not in ANALYSES:
        raise ValueError(f"unknown analysis {name!r}; known analyses: {', '.join(ANALYSES)}")
    return ANALYSES[name](inputs)


# ------------------------------------------------------------ designs handout
def design_oneway(frame: pd.DataFrame, s: Mapping[str, Any]) -> Tables:
    """One-way random effects from published group sizes, means and within spread."""
    from .oneway import fit_from_group_means, group_means_tables, read_group_means

    from .levels import oneway_clustering

    groups = read_group_means(frame, s["group"], s["n"], s["mean"])
    fit = fit_from_group_means(
        groups["mean"], groups["n"], within_sd=s.get("within_sd"), within_ss=s.get("within_ss"),
        reml=True, groups=groups["group"], group_name=s["group"], response=s.get("response", "y"),
    )
    tables = group_means_tables(fit, groups)
    tables["clustering"] = oneway_clustering(tables["summary"].iloc[0], float(tables["coef"]["std_error"].iloc[0]))
    return tables


def design_rmanova(frame: pd.DataFrame, s: Mapping[str, Any]) -> Tables:
    """One-way repeated measures: ANOVA tables, sphericity, mixed-model LRT, MANOVA."""
    from .repeated import rmanova_tables

    return rmanova_tables(frame, s)


def design_multcomp(frame: pd.DataFrame, s: Mapping[str, Any]) -> Tables:
    """Multiple comparisons of the conditions."""
    from .repeated import multcomp_tables

    return multcomp_tables(frame, s)


def design_gls(frame: pd.DataFrame, s: Mapping[str, Any]) -> Tables:
    """GLS with six covariance structures, by ML and REML."""
    from .repeated import gls_part_tables

    return gls_part_tables(frame, s)


def design_components(frame: pd.DataFrame, s: Mapping[str, Any]) -> Tables:
    """Covariance components of random intercepts and slopes."""
    from .components import components_part_tables

    return components_part_tables(frame, s)


def design_threelevel(frame: pd.DataFrame, s: Mapping[str, Any]) -> Tables:
    """Three levels: the variance at each level, ICCs, tests, and SEs with a level left out."""
    from .levels import threelevel_tables

    return threelevel_tables(frame, s)


def design_crossed(frame: pd.DataFrame, s: Mapping[str, Any]) -> Tables:
    """Two crossed factors, and the same data read as if one were nested in the other."""
    from .levels import crossed_tables

    return crossed_tables(frame, s)


#: each part of the designs handout, and the config section (under `designs:`) it reads
DESIGN_PARTS: dict[str, tuple[Callable[[pd.DataFrame, Mapping[str, Any]], Tables], str]] = {
    "oneway": (design_oneway, "oneway"),
    "rmanova": (design_rmanova, "repeated"),
    "multcomp": (design_multcomp, "repeated"),
    "gls": (design_gls, "repeated"),
    "components": (design_components, "components"),
    "threelevel": (design_threelevel, "threelevel"),
    "crossed": (design_crossed, "crossed"),
}


def run_design_part(name: str, frame: pd.DataFrame, designs: Mapping[str, Any]) -> Tables:
    """The tables of one part of the designs handout from its file and config section."""
    if name not in DESIGN_PARTS:
        raise ValueError(f"unknown designs part {name!r}; known parts: {', '.join(DESIGN_PARTS)}")
    function, section = DESIGN_PARTS[name]
    return function(frame, designs[section])
