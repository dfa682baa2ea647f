"""One-way repeated measures: the designs handout's second part as tables.

Subjects (e.g. grocery items) are each measured once under every condition
(e.g. store). From the long file this module builds every table of the
part: the classical ANOVA layouts, sphericity and its corrections, the
mixed-model likelihood-ratio test and MANOVA (`rmanova_tables`), multiple
comparisons (`multcomp_tables`) and GLS with six covariance structures
(`gls_part_tables`). The estimators live in `mlmcompare.estimation`.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

import pandas as pd

from ..estimation import rmanova as rm
from ..estimation.gls import STRUCTURES, fit_gls_long, gls_tables, nested_lrt_table
from ..estimation.multcomp import paired_comparisons, pairwise_comparisons
from ..estimation.sphericity import epsilon_table, mauchly_test

log = logging.getLogger(__name__)


def long_and_wide(frame: pd.DataFrame, s: Mapping[str, Any]) -> tuple[pd.DataFrame, list, pd.DataFrame]:
    """The checked long data, the condition levels and the subjects x conditions matrix."""
    data, levels = rm.read_long(frame, s["subject"], s["condition"], s["response"], s.get("levels"))
    return data, levels, rm.wide_matrix(data, s["subject"], s["condition"], s["response"], levels)


def rmanova_tables(frame: pd.DataFrame, s: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """ANOVA layouts, expected mean squares, sphericity, the mixed-model LRT and MANOVA."""
    subject, condition, response = s["subject"], s["condition"], s["response"]
    data, levels, wide = long_and_wide(frame, s)
    twoway = rm.anova_twoway(wide, condition, subject)
    log.info("%d subjects x %d conditions", wide.shape[0], wide.shape[1])
    return {
        "wide": wide.reset_index().rename(columns=str),
        "cell_means": rm.condition_means(wide),
        "anova_twoway": twoway,
        "anova_strata": rm.anova_strata(wide, condition, subject),
        "anova_mv": rm.anova_multivariate(wide, condition),
        "ems": rm.expected_mean_squares(wide, condition, subject),
        "sphericity": mauchly_test(wide),
        "epsilon": epsilon_table(wide, float(twoway["statistic"].iloc[0])),
        "manova": rm.hotelling_test(wide, condition),
        **rm.mixed_lrt_tables(data, subject, condition, response, levels),
    }


def multcomp_tables(frame: pd.DataFrame, s: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Pairwise comparisons on the RM-ANOVA error term, and paired t tests."""
    _, _, wide = long_and_wide(frame, s)
    resid = rm.anova_twoway(wide, s["condition"], s["subject"]).set_index("term").loc["Residuals"]
    return {
        "multcomp": pairwise_comparisons(wide, float(resid["meansq"]), float(resid["df"])),
        "paired": paired_comparisons(wide),
    }


def gls_part_tables(frame: pd.DataFrame, s: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Every covariance structure by REML and ML, their tables and the nested LRTs."""
    data, levels, _ = long_and_wide(frame, s)
    fits = []
    for structure in STRUCTURES:
        for reml in (True, False):
            f = fit_gls_long(data, s["subject"], s["condition"], s["response"], levels, structure, reml)
            log.info("%s %s: loglik %.6f, %s", structure, "REML" if reml else "ML", f.loglik, f.optimizer)
            fits.append(f)
    tables = gls_tables(fits)
    tables["lrt"] = nested_lrt_table(fits)
    return tables
