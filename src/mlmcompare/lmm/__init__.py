"""The linear mixed-model engine of mlmcompare (one grouping factor).

A fit is a short pipeline of named stages, each a small function passing
one object along (as lme4's lFormula -> mkLmerDevfun -> optimizeLmer ->
mkMerMod):

    parse_formula   formula text -> response, fixed part, random bars   (formula.py)
    build_design    + data -> checked X, Z, y, group codes (Design)    (design.py, checks.py)
    sufficient_stats  one pass over the rows -> per-group Z'Z, Z'X, Z'y (stats.py)
    optimize_theta  profiled (RE)ML deviance over theta, analytic gradient
                                                                       (objective.py, optimize.py)
    LmmResult       fixed effects, Satterthwaite df, variance components,
                    BLUPs, fitted values, verdicts                     (result.py, satterthwaite.py)

Public entry points
-------------------
``fit(formula, data, reml=True)``
    lme4 formula syntax, e.g. ``"mathach ~ ses * Sector + (1 + ses | school)"``.
``fit_from_stats(stats, block_sizes=None, reml=True, ...)``
    the same fit from :class:`SufficientStats` (built by
    :func:`sufficient_stats` from arrays, or added up over chunks with ``+``,
    or assembled from published group summaries); no row-level output
    (fitted values, residuals) in that case.
``lrt(small, big)``
    likelihood-ratio test of nested fits with the chi-bar-square boundary
    p-value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .checks import check_nobs_vs_nre
from .design import Design, build_design
from .formula import ParsedFormula, RandomBar, parse_formula
from .lrt import chibar_pvalue, lrt
from .objective import ThetaLayout, make_layout
from .optimize import OptimizerResult, optimize_theta
from .result import TIDY_COLUMNS, LmmResult, VarCorr
from .stats import SufficientStats, sufficient_stats

__all__ = [
    "fit",
    "fit_from_stats",
    "lrt",
    "chibar_pvalue",
    "LmmResult",
    "VarCorr",
    "SufficientStats",
    "sufficient_stats",
    "parse_formula",
    "build_design",
    "ParsedFormula",
    "RandomBar",
    "Design",
    "ThetaLayout",
    "make_layout",
    "optimize_theta",
    "OptimizerResult",
    "TIDY_COLUMNS",
]


def fit(
    formula: str,
    data: pd.DataFrame,
    reml: bool = True,
    *,
    theta_start: Sequence[float] | None = None,
) -> LmmResult:
    """Fit a linear mixed model with one grouping factor by REML (default) or ML.

    Parameters
    ----------
    formula : lme4 syntax ``"y ~ fixed + (terms | group)"``; ``||`` for
        uncorrelated terms; several bars on the same grouping factor give a
        block-diagonal covariance.
    data : the rows; no missing values in the columns used.
    reml : REML (True) or maximum likelihood (False).
    theta_start : optional start for the relative covariance factor (lme4's
        order); default lme4's identity start.
    """
    design = build_design(formula, data)
    stats = sufficient_stats(design.X, design.Z, design.y, design.codes, levels=design.levels)
    return fit_stages(
        stats, design.block_sizes, reml, theta_start,
        formula=formula,
        fixed_terms=design.fixed_terms,
        random_terms=design.random_terms,
        group_name=design.group_name,
        response=design.parsed.response,
        block_labels=design.block_bars,
        design=design,
    )


def fit_stages(stats: SufficientStats, block_sizes: Sequence[int], reml: bool,
               theta_start: Sequence[float] | None, **labels) -> LmmResult:
    """The stages after the statistics: layout -> optimizer -> result."""
    layout = make_layout(tuple(block_sizes))
    opt = optimize_theta(stats, layout, reml,
                         None if theta_start is None else np.asarray(theta_start, float))
    return LmmResult(reml=reml, stats=stats, layout=layout, opt=opt, **labels)


def fit_from_stats(
    stats: SufficientStats,
    block_sizes: Sequence[int] | None = None,
    reml: bool = True,
    *,
    fixed_terms: Sequence[str] | None = None,
    random_terms: Sequence[str] | None = None,
    group_name: str = "group",
    formula: str | None = None,
    theta_start: Sequence[float] | None = None,
) -> LmmResult:
    """Fit from sufficient statistics only (chunks, partitions, published summaries).

    ``block_sizes`` splits the q random-effect columns (in order) into
    unstructured covariance blocks; default one block of all q columns.
    Term names default to ``x1..xp`` and ``z1..zq``.
    """
    p, q = stats.p, stats.q
    sizes = tuple(block_sizes) if block_sizes is not None else (q,)
    if sum(sizes) != q or any(s < 1 for s in sizes):
        raise ValueError(f"block_sizes {sizes} must be positive and add up to q = {q}")
    fixed_terms = list(fixed_terms) if fixed_terms is not None else [f"x{i + 1}" for i in range(p)]
    random_terms = list(random_terms) if random_terms is not None else [f"z{i + 1}" for i in range(q)]
    if len(fixed_terms) != p or len(random_terms) != q:
        raise ValueError(f"need {p} fixed and {q} random term names")
    if stats.ngroups < 2:
        raise ValueError(f"{stats.ngroups} group(s); a random effect needs at least 2 groups")
    check_nobs_vs_nre(stats.nobs, stats.ngroups, q)
    return fit_stages(
        stats, sizes, reml, theta_start,
        formula=formula, fixed_terms=fixed_terms, random_terms=random_terms, group_name=group_name,
    )
