"""Likelihood-ratio tests between nested fits, with the chi-bar-square p-value."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.stats

from mlmcompare import lmm

DATA = Path(__file__).parents[2] / "data"


@pytest.fixture(scope="module")
def fits(hs):
    f = {}
    for reml in (True, False):
        f["ri", reml] = lmm.fit("mathach ~ ses + (1 | school)", hs, reml=reml)
        f["uncorr", reml] = lmm.fit("mathach ~ ses + (1 + ses || school)", hs, reml=reml)
        f["slopes", reml] = lmm.fit("mathach ~ ses + (1 + ses | school)", hs, reml=reml)
    f["sector_ri", False] = lmm.fit("mathach ~ ses + Sector + (1 | school)", hs, reml=False)
    return f


def test_one_added_variance(fits):
    small, big = fits["ri", True], fits["uncorr", True]
    t = lmm.lrt(small, big).iloc[0]
    stat = 2 * (big.loglik - small.loglik)
    assert t["statistic"] == pytest.approx(stat)
    assert t["df"] == 1
    assert t["p_value"] == pytest.approx(scipy.stats.chi2.sf(stat, 1))
    # 1/2 chi2_0 + 1/2 chi2_1: chi2_0 is a point mass at 0
    assert t["p_value_boundary"] == pytest.approx(0.5 * scipy.stats.chi2.sf(stat, 1))


def test_added_random_slope_with_covariance(fits):
    small, big = fits["ri", False], fits["slopes", False]
    t = lmm.lrt(small, big).iloc[0]
    stat = 2 * (big.loglik - small.loglik)
    assert t["df"] == 2
    assert t["p_value"] == pytest.approx(scipy.stats.chi2.sf(stat, 2))
    # q = 1 existing term: 1/2 chi2_1 + 1/2 chi2_2
    expected = 0.5 * scipy.stats.chi2.sf(stat, 1) + 0.5 * scipy.stats.chi2.sf(stat, 2)
    assert t["p_value_boundary"] == pytest.approx(expected)


def test_added_covariance_only_is_not_a_boundary_test(fits):
    t = lmm.lrt(fits["uncorr", False], fits["slopes", False]).iloc[0]
    assert t["df"] == 1 and np.isnan(t["p_value_boundary"])


def test_chibar_pvalue_function():
    for stat in (0.0, 0.5, 2.7, 10.0):
        assert lmm.chibar_pvalue(stat, 1) == pytest.approx(
            0.5 * (1.0 if stat == 0 else 0.0) + 0.5 * scipy.stats.chi2.sf(stat, 1))
        assert lmm.chibar_pvalue(stat, 3) == pytest.approx(
            0.5 * scipy.stats.chi2.sf(stat, 2) + 0.5 * scipy.stats.chi2.sf(stat, 3))


def test_fixed_effect_lrt_under_ml(fits):
    t = lmm.lrt(fits["ri", False], fits["sector_ri", False]).iloc[0]
    assert t["df"] == 1 and np.isnan(t["p_value_boundary"])
    assert t["statistic"] > 0


def test_refusals(hs, fits):
    with pytest.raises(ValueError, match="REML fits with different fixed effects"):
        lmm.lrt(fits["ri", True], lmm.fit("mathach ~ ses + Sector + (1 | school)", hs))
    with pytest.raises(ValueError, match="REML fit with an ML fit"):
        lmm.lrt(fits["ri", True], fits["slopes", False])
    with pytest.raises(ValueError, match="different data: nobs"):
        lmm.lrt(lmm.fit("mathach ~ ses + (1 | school)", hs.iloc[:-5]), fits["slopes", True])
    with pytest.raises(ValueError, match="pass the smaller"):
        lmm.lrt(fits["slopes", True], fits["ri", True])
    with pytest.raises(ValueError, match="not nested"):
        lmm.lrt(fits["sector_ri", False], fits["slopes", False])
    d = hs.copy()
    d["mathach"] = d["mathach"].sample(frac=1.0, random_state=1).to_numpy() + 1.0
    with pytest.raises(ValueError, match="different responses"):
        lmm.lrt(fits["ri", True], lmm.fit("mathach ~ ses + (1 + ses | school)", d))
