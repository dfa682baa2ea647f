"""Balanced one-way random effects: REML and ML have closed forms (ANOVA).

With J groups of n rows, MSB = n sum_j (ybar_j - ybar)^2 / (J - 1) and
MSW = sum (y - ybar_j)^2 / (J (n - 1)):
REML: tau^2 = (MSB - MSW) / n and sigma^2 = MSW when MSB > MSW; otherwise
tau^2 = 0 and sigma^2 = total SS / (N - 1).
ML: tau^2 = ((J - 1) MSB / J - MSW) / n and sigma^2 = MSW when that is
positive; otherwise tau^2 = 0 and sigma^2 = total SS / N.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmcompare import lmm


def balanced(J: int, n: int, tau: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(J), n)
    y = 50 + tau * rng.standard_normal(J)[g] + rng.standard_normal(J * n)
    return pd.DataFrame({"y": y, "g": g})


def anova(d: pd.DataFrame):
    J = d["g"].nunique()
    n = len(d) // J
    m = d.groupby("g")["y"].transform("mean")
    ssw = float(((d["y"] - m) ** 2).sum())
    ssb = float(((m - d["y"].mean()) ** 2).sum())
    return J, n, ssb / (J - 1), ssw / (J * (n - 1)), ssb, ssw


def closed_form(d: pd.DataFrame, reml: bool) -> tuple[float, float]:
    J, n, msb, msw, ssb, ssw = anova(d)
    N = J * n
    tau2 = (msb - msw) / n if reml else ((J - 1) * msb / J - msw) / n
    if tau2 > 0:
        return tau2, msw
    return 0.0, (ssb + ssw) / (N - 1 if reml else N)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("tau,seed", [(1.0, 1), (0.5, 2), (2.0, 3), (0.0, 4), (0.0, 5)])
def test_closed_form(tau, seed, reml):
    d = balanced(8, 5, tau, seed)
    r = lmm.fit("y ~ 1 + (1 | g)", d, reml=reml)
    tau2, s2 = closed_form(d, reml)
    assert r.varcorr.G.iloc[0, 0] == pytest.approx(tau2, rel=1e-7, abs=1e-12)
    assert r.sigma2 == pytest.approx(s2, rel=1e-7)
    assert r.fixef["Intercept"] == pytest.approx(d["y"].mean(), rel=1e-12)
    # the mean's SE: sqrt((tau2 + s2/n)/J) in a balanced design
    J, n = 8, 5
    assert r.coef["std_error"].iloc[0] == pytest.approx(np.sqrt((tau2 + s2 / n) / J), rel=1e-6)
    assert r.singular == (tau2 == 0.0)
    assert r.converged


def test_negative_anova_estimate_gives_singular_fit():
    # find a data set with MSB < MSW
    for seed in range(100):
        d = balanced(6, 4, 0.0, seed)
        _, _, msb, msw, *_ = anova(d)
        if msb < msw:
            break
    r = lmm.fit("y ~ 1 + (1 | g)", d)
    assert r.theta[0] == 0.0
    assert r.singular and any("variance of Intercept estimated at 0" in w for w in r.warnings)
    assert r.converged and not any("not converged" in w for w in r.warnings)


@settings(max_examples=25, deadline=None)
@given(J=st.integers(3, 12), n=st.integers(2, 6), tau=st.floats(0, 3), seed=st.integers(0, 10**6))
def test_closed_form_property(J, n, tau, seed):
    d = balanced(J, n, tau, seed)
    r = lmm.fit("y ~ 1 + (1 | g)", d)
    tau2, s2 = closed_form(d, True)
    assert r.varcorr.G.iloc[0, 0] == pytest.approx(tau2, rel=1e-6, abs=1e-9 * s2)
    assert r.sigma2 == pytest.approx(s2, rel=1e-6)
