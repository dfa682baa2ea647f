"""Fixed effects, version 2: school intercepts, one slope per sector.

`y ~ x + school + x:F` by OLS: every school its own intercept, every
sector a common slope. The slope difference weights schools by their size
and spread of the predictor; between-school variability plays no role in
its standard error. Sector intercepts are equal-weight averages of the
school intercepts, as in version 1.

With an intercept per school, each sector's slope is the within-school
slope of its schools pooled (sums of squares and products about the school
means), and each school's intercept is its mean response less the slope
times its mean predictor; so the fit needs the per-school moments only.
"""

from __future__ import annotations

import numpy as np

from .common import Glance, MethodFit, aic, bic, coef_from_lines, gaussian_loglik, level_term, ols, separate_level_lines
from .schools import SchoolStats, clearly_full_rank

METHOD = "fe_common_slope"


def terms(stats: SchoolStats) -> list[str]:
    """One dummy per school (no global intercept), x, x:F[T.level]."""
    spec = stats.spec
    return [f"{spec.group}[{s}]" for s in stats.groups] + [spec.predictor] + [
        f"{spec.predictor}:{level_term(spec, lv)}" for lv in stats.levels[1:]]


def design_rows(stats: SchoolStats) -> np.ndarray:
    """The model's rows (columns as `terms`); only needed to name aliased terms."""
    dummies = np.zeros((stats.nobs, stats.ngroups))
    dummies[np.arange(stats.nobs), stats.codes] = 1.0
    extra = [stats.x] + [stats.x * (stats.row_level == k) for k in range(1, len(stats.levels))]
    return np.column_stack([dummies, *extra])


def slopes_estimable(stats: SchoolStats, sxx_within: np.ndarray, df: int) -> bool:
    """True when the within-school sums of squares show the slopes estimable.

    The school dummies are orthogonal to x centred in each school, so the
    pivots of the x columns are those of the within-school Gram matrix
    [x, x:F...]' [x, x:F...] (x centred in each school); each column is
    scaled by its norm before centring, as the QR on the rows would.
    """
    k = len(stats.levels)
    gram = np.zeros((k, k))
    gram[0, 0] = sxx_within.sum()
    gram[0, 1:] = gram[1:, 0] = sxx_within[1:]
    gram[np.arange(1, k), np.arange(1, k)] = sxx_within[1:]
    sum_xx = np.bincount(stats.level, stats.moments.sum_xx(), minlength=k)
    scale = np.sqrt(np.r_[sum_xx.sum(), sum_xx[1:]])
    return df > 0 and clearly_full_rank(gram, scale, stats.nobs)


def estimate(stats: SchoolStats) -> MethodFit:
    spec, levels, m = stats.spec, stats.levels, stats.moments
    k, J = len(levels), stats.ngroups
    sxx = np.bincount(stats.level, m.sxx, minlength=k)
    sxy = np.bincount(stats.level, m.sxy, minlength=k)
    p = J + k
    df = stats.nobs - p
    if not slopes_estimable(stats, sxx, df):
        ols(design_rows(stats), stats.y, terms(stats))  # names the aliased terms
    slope = sxy / sxx
    rss = float(m.syy.sum() - np.sum(slope * sxy))
    s2 = rss / df
    # each sector's intercept: the mean over its schools of ybar_j - slope * xbar_j
    n_schools = np.bincount(stats.level, minlength=k)
    x_mean = np.bincount(stats.level, m.x_mean, minlength=k) / n_schools
    y_mean = np.bincount(stats.level, m.y_mean, minlength=k) / n_schools
    inv_n = np.bincount(stats.level, 1.0 / m.n, minlength=k) / n_schools**2
    point = np.column_stack([y_mean - slope * x_mean, slope])
    cov = s2 * np.array([[[i + xm * xm / s, -xm / s], [-xm / s, 1.0 / s]] for i, xm, s in zip(inv_n, x_mean, sxx)])
    lines = separate_level_lines(levels, point, cov, df)
    model = f"{spec.response} ~ {spec.predictor} + {spec.group} + {spec.predictor}:{spec.level2_factor} (sector averages of school intercepts)"
    loglik = gaussian_loglik(rss, stats.nobs)
    glance = Glance("OLS", levels[0], stats.nobs, J, df, np.sqrt(s2), loglik, aic(loglik, p + 1), bic(loglik, p + 1, stats.nobs))
    return MethodFit(METHOD, lines, glance, lambda: coef_from_lines(METHOD, model, lines, spec, levels))
