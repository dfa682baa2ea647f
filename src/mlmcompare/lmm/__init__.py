"""The linear mixed-model engine of mlmcompare (one or several grouping factors).

A fit is a short pipeline of named stages, each a small function passing
one object along (as lme4's lFormula -> mkLmerDevfun -> optimizeLmer ->
mkMerMod):

    parse_formula   formula text -> response, fixed part, random bars   (formula.py)
    build_design    + data -> checked X, Z, y, group codes (Design)    (design.py, checks.py)
      or a source   parquet files / Dask partitions -> chunks          (sources.py)
    sufficient_stats  one pass over the rows -> per-group Z'Z, Z'X, Z'y (stats.py)
      or sufficient_stats_from_moments  the same in O(J) from per-group moments, when
                    every column moves along one variable within a group (stats.py)
      or blocked_stats  several factors: per factor and per pair of levels (blocked.py)
    optimize_theta  profiled (RE)ML deviance over theta, analytic gradient
                    (objective.py; blocked.py and kernels_blocked.py for several factors;
                    optimize.py)
    LmmResult       fixed effects, Satterthwaite df, variance components,
                    BLUPs, fitted values, verdicts                     (result.py, satterthwaite.py)

The loops over rows and over groups, and the optimizer's BFGS search, are
compiled with numba (kernels.py); everything else is numpy.  Tables and the
Satterthwaite set-up of a result are built on first use.

Public entry points
-------------------
``fit(formula, data, reml=True)``
    lme4 formula syntax, e.g. ``"mathach ~ ses * Sector + (1 + ses | school)"``,
    crossed ``(1 | plate) + (1 | sample)``, nested ``(1 | batch/cask)``,
    interactions ``(1 | Worker:Machine)``.
    ``data`` is a pandas DataFrame (rows kept: fitted values and residuals
    at hand), a parquet file or directory of parquet files (read in record
    batches of the used columns, never all at once) or a Dask DataFrame
    (statistics per partition on the workers, added up on the client).
    Files and Dask frames go through :mod:`mlmcompare.lmm.sources`: the
    first chunk fixes factor levels (or ``levels=`` declares them), the
    model spec and the shifts; fitted values and residuals are then
    computed chunk by chunk on demand.
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

import importlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from .formula import ParsedFormula, RandomBar, parse_formula
from .lrt import chibar_pvalue, likelihood_ratio, lrt

if TYPE_CHECKING:
    from .blocked import BlockedStats
    from .result import LmmResult
    from .stats import SufficientStats

__all__ = [
    "fit",
    "fit_from_stats",
    "lrt",
    "likelihood_ratio",
    "chibar_pvalue",
    "LmmResult",
    "VarCorr",
    "SufficientStats",
    "sufficient_stats",
    "sufficient_stats_from_moments",
    "BlockedStats",
    "blocked_stats",
    "parse_formula",
    "build_design",
    "ParsedFormula",
    "RandomBar",
    "Design",
    "RowSpec",
    "ChunkMatrices",
    "row_spec",
    "ThetaLayout",
    "make_layout",
    "optimize_theta",
    "OptimizerResult",
    "TIDY_COLUMNS",
]

# The compiled kernels (numba) and the several-factor machinery load on first
# use: a caller that needs only the engine's checks (`from mlmcompare.lmm
# import checks`) or its formula parser does not pay for them.
_LAZY = {
    "BlockedStats": "blocked", "blocked_stats": "blocked", "stats_from_design": "blocked",
    "ChunkMatrices": "design", "Design": "design", "RowSpec": "design", "build_design": "design",
    "row_spec": "design",
    "ThetaLayout": "objective", "make_layout": "objective",
    "OptimizerResult": "optimize", "optimize_theta": "optimize",
    "TIDY_COLUMNS": "result", "LmmResult": "result", "VarCorr": "result",
    "SufficientStats": "stats", "sufficient_stats": "stats", "sufficient_stats_from_moments": "stats",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


def fit(
    formula: str,
    data,
    reml: bool = True,
    *,
    theta_start: Sequence[float] | None = None,
    levels: Mapping[str, Sequence] | None = None,
    progress: bool = False,
    batch_size: int | None = None,
) -> LmmResult:
    """Fit a linear mixed model by REML (default) or ML.

    Parameters
    ----------
    formula : lme4 syntax ``"y ~ fixed + (terms | group)"``; ``||`` for
        uncorrelated terms; several bars on the same grouping factor give a
        block-diagonal covariance; bars on different factors are crossed
        (``(1 | a) + (1 | b)``) or nested (``(1 | a/b)`` = ``(1 | a) +
        (1 | b:a)``); ``a:b`` groups by the combinations of two columns.
    data : the rows, no missing values in the columns used: a pandas
        DataFrame; a path (``str`` or ``os.PathLike``) to a parquet file or
        to a directory of parquet files; a list of parquet paths; or a Dask
        DataFrame.
    reml : REML (True) or maximum likelihood (False).
    theta_start : optional start for the relative covariance factor (lme4's
        order); default lme4's identity start.
    levels : optional ``{column: [levels, ...]}`` fixing the levels of factor
        columns (the first is the reference level).  For files and Dask
        frames the levels are otherwise those of the first chunk, and a level
        seen only later is refused.
    progress : a tqdm progress bar while files or partitions are read
        (quiet by default).
    batch_size : rows per chunk read from parquet (default
        :data:`mlmcompare.lmm.sources.DEFAULT_BATCH_ROWS`).
    """
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return _fit_frame(formula, data, reml, theta_start, levels)
    from . import sources# pyarrow / dask are needed only for these inputs

    if isinstance(data, (str, os.PathLike)) or _is_path_list(data):
        src = sources.ParquetSource(data, formula, levels=levels, batch_size=batch_size,
                                    progress=progress)
    elif sources.is_dask_frame(data):
        src = sources.DaskSource(data, formula, levels=levels, progress=progress)
    else:
        raise TypeError(
            "data must be a pandas DataFrame, a path to a parquet file or directory "
            "(str or os.PathLike), a list of parquet paths, or a Dask DataFrame; "
            f"got {type(data).__module__}.{type(data).__name__}"
        )
    return _fit_source(formula, src, reml, theta_start)


def _is_path_list(data) -> bool:
    return isinstance(data, (list, tuple)) and len(data) > 0 and all(
        isinstance(p, (str, os.PathLike)) for p in data)


def _fit_frame(formula: str, data, reml: bool,
               theta_start: Sequence[float] | None,
               levels: Mapping[str, Sequence] | None) -> LmmResult:
    """The in-memory fit: the rows are kept for fitted values and residuals."""
    from .blocked import stats_from_design
    from .design import build_design
    from .stats import sufficient_stats

    design = build_design(formula, data, levels=levels)
    if levels:
        from .sources import check_declared_levels# refused as it is for files

        check_declared_levels(design.spec, levels)
    if design.spec.several:
        stats = stats_from_design(design)
        return fit_stages(stats, stats.block_sizes(), reml, theta_start, formula=formula,
                          fixed_terms=design.fixed_terms, response=design.parsed.response,
                          design=design)
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


def _fit_source(formula: str, src, reml: bool,
                theta_start: Sequence[float] | None) -> LmmResult:
    """A fit from a chunked source: statistics in one pass, rows re-read on demand."""
    stats = src.sufficient_stats()
    spec = src.spec
    if spec.several:
        return fit_stages(stats, stats.block_sizes(), reml, theta_start, formula=formula,
                          fixed_terms=list(spec.fixed_terms), response=spec.parsed.response,
                          source=src)
    return fit_stages(
        stats, spec.block_sizes, reml, theta_start,
        formula=formula,
        fixed_terms=list(spec.fixed_terms),
        random_terms=list(spec.random_terms),
        group_name=spec.parsed.group,
        response=spec.parsed.response,
        block_labels=list(spec.block_bars),
        source=src,
    )


def fit_stages(stats: SufficientStats, block_sizes: Sequence[int], reml: bool,
               theta_start: Sequence[float] | None, **labels) -> LmmResult:
    """The stages after the statistics: layout -> optimizer -> result.

    Several factors: the blocks follow lme4's order of terms (``block_sizes``
    is taken from the statistics).
    """
    from .blocked import BlockedStats
    from .checks import check_not_exact_fit
    from .objective import make_layout
    from .optimize import optimize_theta
    from .result import LmmResult

    if isinstance(stats, BlockedStats):
        stats = stats.in_lme4_order()
        block_sizes = stats.block_sizes()
    response = labels.get("response") or "the response"
    ss = stats.ss_about_mean()
    check_not_exact_fit(stats.XtX, stats.Xty, stats.yty, ss, response, labels["fixed_terms"])
    layout = make_layout(tuple(block_sizes))
    opt = optimize_theta(stats, layout, reml,
                         None if theta_start is None else np.asarray(theta_start, float))
    result = LmmResult(reml=reml, stats=stats, layout=layout, opt=opt, **labels)
    _check_residual_variance(result, ss)
    return result


#: a residual variance below this share of the response's variance is no estimate
RESIDUAL_SHARE_TOL = 1e-12


def _check_residual_variance(result: LmmResult, ss_about_mean: float) -> None:
    """Refuse a fit whose residual variance went to 0 (the random effects reproduce y)."""
    var_y = ss_about_mean / max(result.nobs - 1, 1)
    if var_y > 0 and result.sigma2 <= RESIDUAL_SHARE_TOL * var_y:
        name = result.response or "the response"
        raise ValueError(
            f"{name!r} is reproduced exactly by the fixed effects and the random effects of "
            f"{result.group_name!r} (residual variance {result.sigma2:.3g} against a response "
            f"variance of {var_y:.3g}): the residual variance is 0 at the optimum and cannot be "
            "estimated; the response does not vary within the random effects' levels beyond "
            "what the fixed effects explain"
        )


def fit_from_stats(
    stats: SufficientStats | BlockedStats,
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
    Term names default to ``x1..xp`` and ``z1..zq``.  For
    :class:`BlockedStats` (several factors) the factors carry their names,
    terms and blocks, and ``block_sizes`` / ``random_terms`` / ``group_name``
    are not used.
    """
    from .blocked import BlockedStats
    from .checks import check_nobs_vs_nre

    if isinstance(stats, BlockedStats):
        p = stats.p
        fixed_terms = list(fixed_terms) if fixed_terms is not None else [f"x{i + 1}" for i in range(p)]
        if len(fixed_terms) != p:
            raise ValueError(f"need {p} fixed term names")
        for f in stats.factors:
            if f.nlevels < 2:
                raise ValueError(f"grouping factor {f.name!r} has {f.nlevels} level(s); a random "
                                 "effect needs at least 2 groups")
            check_nobs_vs_nre(stats.nobs, f.nlevels, f.q, f.name)
        return fit_stages(stats, stats.block_sizes(), reml, theta_start, formula=formula,
                          fixed_terms=fixed_terms)
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
