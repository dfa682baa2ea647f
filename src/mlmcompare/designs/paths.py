"""Where the designs pipeline writes, from its config (used by workflow/rules/designs.smk).

Kept out of the Snakefile so that the rules file holds only rules.
Each part is one pipeline step that writes tables
``<results>/designs/<part>/<table>.parquet``; a part runs when the config
section it reads (``oneway``, ``repeated`` or ``components``) is present.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["DESIGNS_TABLES", "DESIGNS_INPUT", "designs_parts", "designs_tables", "designs_outputs",
           "designs_inputs", "designs_report_outputs"]

DESIGNS_TABLES: dict[str, list[str]] = {
    "oneway": ["coef", "summary", "groups"],
    "rmanova": [
        "wide", "cell_means", "anova_twoway", "anova_strata", "anova_mv", "ems",
        "sphericity", "epsilon", "mixed_fits", "mixed_lrt", "mixed_coef", "manova",
    ],
    "multcomp": ["multcomp", "paired"],
    "gls": ["fits", "coef", "covariance", "params", "lrt"],
    "components": ["fits", "coef", "varcorr", "G", "lrt"],
}

#: the config section each part reads
DESIGNS_INPUT: dict[str, str] = {
    "oneway": "oneway", "rmanova": "repeated", "multcomp": "repeated", "gls": "repeated",
    "components": "components",
}


def designs_parts(designs: Mapping[str, Any]) -> list[str]:
    """The parts whose config section is present."""
    return [p for p in DESIGNS_TABLES if DESIGNS_INPUT[p] in (designs or {})]


def designs_tables(folder: str, part: str) -> dict[str, str]:
    return {t: f"{folder}/{part}/{t}.parquet" for t in DESIGNS_TABLES[part]}


def designs_outputs(folder: str, designs: Mapping[str, Any]) -> dict[str, str]:
    """Every table of every present part, keyed 'part/table' (the manifest's keys)."""
    return {f"{p}/{t}": path for p in designs_parts(designs) for t, path in designs_tables(folder, p).items()}


def designs_inputs(designs: Mapping[str, Any]) -> dict[str, str]:
    """The input file of each present config section, keyed by section."""
    sections = dict.fromkeys(DESIGNS_INPUT[p] for p in designs_parts(designs))
    return {sec: designs[sec]["file"] for sec in sections}


def designs_report_outputs(folder: str, pdf: bool) -> dict[str, str]:
    names = ["designs.html"] + (["designs.pdf"] if pdf else [])
    return {n.split(".")[1]: f"{folder}/{n}" for n in names}
