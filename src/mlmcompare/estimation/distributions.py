"""Tail probabilities and quantiles of t, chi-square, F and the normal, without scipy.stats.

`scipy.stats` costs about half a second to import, more than most pipeline
steps spend computing; its t, chi2, f and norm evaluate these very
`scipy.special` kernels (stdtr/stdtrit, chdtrc and gammaincinv, fdtrc/fdtri,
ndtr/ndtri). Each function here calls the kernel as scipy.stats does and
keeps its answers at the edges: nan for parameters out of range (df <= 0,
nan), the support's ends at probabilities 0 and 1, nan for probabilities
outside [0, 1]; the values are scipy.stats' to the last bit.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["t_sf", "t_ppf", "chi2_sf", "chi2_ppf", "f_sf", "f_ppf", "norm_sf", "norm_ppf"]


def _result(values: np.ndarray):
    """A float for scalar input, as scipy.stats returns."""
    return values[()] if values.ndim == 0 else values


def _tail(kernel, x, *params):
    """kernel(x) where the parameters are valid (> 0), nan elsewhere."""
    x, *params = np.broadcast_arrays(*(np.asarray(a, dtype="float64") for a in (x, *params)))
    ok = np.ones(x.shape, dtype=bool)
    for p in params:
        ok &= p > 0
    with np.errstate(invalid="ignore"):
        out = np.where(ok, kernel(np.where(ok, x, np.nan), *(np.where(ok, p, 1.0) for p in params)), np.nan)
    return _result(np.asarray(out, dtype="float64"))


def _quantile(kernel, q, low, high, *params):
    """kernel(q) for 0 < q < 1 and valid parameters; the support's ends at 0 and 1; nan elsewhere."""
    q, *params = np.broadcast_arrays(*(np.asarray(a, dtype="float64") for a in (q, *params)))
    ok = np.ones(q.shape, dtype=bool)
    for p in params:
        ok &= p > 0
    inside = ok & (q > 0) & (q < 1)
    with np.errstate(invalid="ignore"):
        out = kernel(np.where(inside, q, 0.5), *(np.where(ok, p, 1.0) for p in params))
    out = np.where(inside, out, np.nan)
    out = np.where(ok & (q == 0), low, np.where(ok & (q == 1), high, out))
    return _result(np.asarray(out, dtype="float64"))


def t_sf(x, df):
    """P(T > x), T ~ t(df) (scipy.stats.t.sf)."""
    return _tail(lambda x, df: special.stdtr(df, -x), x, df)


def t_ppf(q, df):
    """The q quantile of t(df) (scipy.stats.t.ppf)."""
    return _quantile(lambda q, df: special.stdtrit(df, q), q, -np.inf, np.inf, df)


def chi2_sf(x, df):
    """P(X > x), X ~ chi-square(df) (scipy.stats.chi2.sf)."""
    return _tail(lambda x, df: special.chdtrc(df, np.maximum(x, 0.0)), x, df)


def chi2_ppf(q, df):
    """The q quantile of chi-square(df) (scipy.stats.chi2.ppf)."""
    return _quantile(lambda q, df: 2 * special.gammaincinv(df / 2, q), q, 0.0, np.inf, df)


def f_sf(x, dfn, dfd):
    """P(F > x), F ~ F(dfn, dfd) (scipy.stats.f.sf)."""
    return _tail(lambda x, dfn, dfd: special.fdtrc(dfn, dfd, np.maximum(x, 0.0)), x, dfn, dfd)


def f_ppf(q, dfn, dfd):
    """The q quantile of F(dfn, dfd) (scipy.stats.f.ppf)."""
    return _quantile(lambda q, dfn, dfd: special.fdtri(dfn, dfd, q), q, 0.0, np.inf, dfn, dfd)


def norm_sf(x):
    """P(Z > x), Z standard normal (scipy.stats.norm.sf)."""
    return _result(np.asarray(special.ndtr(-np.asarray(x, dtype="float64")), dtype="float64"))


def norm_ppf(q):
    """The q quantile of the standard normal (scipy.stats.norm.ppf)."""
    return _quantile(special.ndtri, q, -np.inf, np.inf)
