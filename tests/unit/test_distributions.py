"""The distribution functions without scipy.stats are scipy.stats' to the last bit,
edges included (the reference is scipy.stats itself, imported here only)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats

from mlmcompare.estimation import distributions as dist

X = np.r_[np.linspace(-30, 30, 241), 0.0, -0.0, 1e-300, -1e-300, np.inf, -np.inf, np.nan, 1e6]
Q = np.r_[np.linspace(0, 1, 201), 1e-300, 1 - 1e-16, -0.1, 1.1, np.nan]
DF = [0.3, 1.0, 2.0, 3.7, 30.0, 1e6, np.inf, 0.0, -1.0, np.nan]


def same(a, b) -> None:
    assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True)
    assert np.ndim(a) == np.ndim(b)


@pytest.mark.parametrize("df", DF)
def test_t_and_chi2(df):
    same(dist.t_sf(X, df), scipy.stats.t.sf(X, df))
    same(dist.t_ppf(Q, df), scipy.stats.t.ppf(Q, df))
    if np.isfinite(df) or np.isnan(df):  # scipy.stats' chi2 at df = inf is not a distribution
        same(dist.chi2_sf(X, df), scipy.stats.chi2.sf(X, df))
        same(dist.chi2_ppf(Q, df), scipy.stats.chi2.ppf(Q, df))


@pytest.mark.parametrize("dfn", [0.5, 1.0, 2.0, 7.0, 0.0, np.nan])
@pytest.mark.parametrize("dfd", [0.5, 3.0, 45.0, 1e5, -2.0])
def test_f(dfn, dfd):
    same(dist.f_sf(X, dfn, dfd), scipy.stats.f.sf(X, dfn, dfd))
    same(dist.f_ppf(Q, dfn, dfd), scipy.stats.f.ppf(Q, dfn, dfd))


def test_normal_and_scalars():
    same(dist.norm_sf(X), scipy.stats.norm.sf(X))
    same(dist.norm_ppf(Q), scipy.stats.norm.ppf(Q))
    for got, want in [(dist.t_sf(2.1, 12), scipy.stats.t.sf(2.1, 12)), (dist.norm_ppf(0.975), scipy.stats.norm.ppf(0.975)),
                      (dist.chi2_sf(3.0, 2), scipy.stats.chi2.sf(3.0, 2)), (dist.f_ppf(0.95, 2, 37.5), scipy.stats.f.ppf(0.95, 2, 37.5))]:
        assert got == want and type(got) is type(want)
    # vectors of df, as the tables pass them
    df = np.array([3.0, 17.2, np.inf, 40.0])
    same(dist.t_sf(np.array([1.0, 2.0, 3.0, -1.0]), df), scipy.stats.t.sf(np.array([1.0, 2.0, 3.0, -1.0]), df))
    same(dist.t_ppf(0.975, df), scipy.stats.t.ppf(0.975, df))
