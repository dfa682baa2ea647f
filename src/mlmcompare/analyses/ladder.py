"""The model ladder: ten mixed models from the one-way ANOVA upwards.

This module owns the handout's "from the simple to the complex" table: for
each rung its lme4 formula (built from the spec's column names), its
level-1 and level-2 equations, and its fit by REML and by ML with our
engine; and the likelihood-ratio tests between nested neighbours. Fixed
parts are compared by ML (REML likelihoods of different fixed parts are not
comparable); variance parts by REML with equal fixed parts, with the
chi-bar-square boundary p-value.

Symbols: X is the level-1 predictor (ses), W the indicator of the
non-reference level of the level-2 factor (Sector), cvar the school mean of
X (column `<x>_mean`) and dvar the deviation from it (`<x>_cwg`).

Tables (broom names): `ladder_models_table` (glance, one row per model and
criterion, with formula and equations), `ladder_coef_table` (tidy fixed
effects), `ladder_varcorr_table` (lme4's as.data.frame(VarCorr)) and
`ladder_lrt_table`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from .. import lmm, models
from ..estimation.distributions import chi2_sf
from ..models import LADDER
from ..lmm import LmmResult
from ..spec import ModelSpec


@dataclass(frozen=True)
class LadderTest:
    """A likelihood-ratio test between two rungs, by ML or REML."""

    small: str
    big: str
    method: str  # "ML" or "REML"
    question: str


LADDER_TESTS: tuple[LadderTest, ...] = (
    LadderTest("ols_null", "oneway", "REML", "Do school means vary at all (g00 = 0)?"),
    LadderTest("oneway", "means", "ML", "Does the sector shift the school means?"),
    LadderTest("oneway", "ancova", "ML", "Does X explain achievement (random intercepts)?"),
    LadderTest("ancova", "nonrandom", "ML", "Do intercept and slope differ by sector (no random slopes)?"),
    LadderTest("randcoef", "parallel", "ML", "Does the sector shift the mean line (random slopes)?"),
    LadderTest("parallel", "isao", "ML", "Do the mean slopes differ by sector?"),
    LadderTest("ctx_cwg", "ctx_isao", "ML", "Do the contextual lines differ by sector?"),
    LadderTest("ancova", "randcoef", "REML", "Do slopes vary between schools (g11 = g01 = 0)?"),
    LadderTest("nonrandom", "isao", "REML", "Do slopes vary within sectors (g11 = g01 = 0)?"),
)

OLS_NULL_NAME = "OLS, no school effect"


def fit_ladder(data: pd.DataFrame, spec: ModelSpec) -> dict[tuple[str, str], LmmResult]:
    """Every model of the ladder fitted by REML and by ML, keyed (model, "REML"/"ML")."""
    return {(m, crit): models.fit(m, data, spec, reml=crit == "REML") for m in LADDER for crit in ("REML", "ML")}


def ladder_models_table(fits: Mapping[tuple[str, str], LmmResult], spec: ModelSpec) -> pd.DataFrame:
    """glance rows: one per model and criterion, with formula and equations."""
    rows = []
    for i, model_id in enumerate(LADDER, start=1):
        m = models.model(model_id)
        fixed, random = models.symbolic(model_id)
        for crit in ("REML", "ML"):
            f = fits[(model_id, crit)]
            rows.append(
                {
                    "step": i,
                    "model": model_id,
                    "name": m.name,
                    "estimator": crit,
                    "formula": models.formula(model_id, spec),
                    "fixed": fixed,
                    "random": random,
                    "level1": m.level1,
                    "level2": m.level2,
                    "nobs": int(f.nobs),
                    "ngroups": int(f.ngroups),
                    "npar": int(f.npar),
                    "sigma": float(f.sigma),
                    "loglik": float(f.loglik),
                    "aic": float(f.aic),
                    "bic": float(f.bic),
                    "deviance": float(-2.0 * f.loglik),
                    "converged": bool(f.converged),
                    "singular": bool(f.singular),
                    "warnings": "; ".join(f.warnings),
                }
            )
    return pd.DataFrame(rows)


def ladder_coef_table(fits: Mapping[tuple[str, str], LmmResult]) -> pd.DataFrame:
    """Tidy fixed effects (Satterthwaite df) of every model and criterion."""
    frames = []
    for (model, crit), f in fits.items():
        c = f.coef.copy()
        c.insert(0, "estimator", crit)
        c.insert(0, "model", model)
        frames.append(c)
    return pd.concat(frames, ignore_index=True)


def ladder_varcorr_table(fits: Mapping[tuple[str, str], LmmResult]) -> pd.DataFrame:
    """Variance components (lme4's as.data.frame(VarCorr): grp, var1, var2, vcov, sdcor)."""
    frames = []
    for (model, crit), f in fits.items():
        v = f.varcorr_table()
        v.insert(0, "estimator", crit)
        v.insert(0, "model", model)
        frames.append(v)
    out = pd.concat(frames, ignore_index=True)
    for col in ("var1", "var2"):
        out[col] = out[col].astype("string")
    return out


def ols_reml_loglik(y: np.ndarray) -> float:
    """REML log-likelihood of the intercept-only linear model (R's logLik(lm(y ~ 1), REML = TRUE))."""
    y = np.asarray(y, dtype="float64")
    n, p = len(y), 1
    rss = float(((y - y.mean()) ** 2).sum())
    # 0.5 * (-(n - p) * (log(2 pi) + 1 - log(n - p) + log(rss))) - log|R|, R = sqrt(n)
    return 0.5 * (-(n - p) * (np.log(2 * np.pi) + 1.0 - np.log(n - p) + np.log(rss))) - 0.5 * np.log(n)


def lrt_row(test: LadderTest, small_loglik: float, big_loglik: float, npar_small: int, npar_big: int, boundary: bool) -> dict:
    """One test's statistic, plain and boundary p-values, and its method note."""
    from ..lmm import chibar_pvalue

    stat = 2.0 * (big_loglik - small_loglik)
    df = int(npar_big - npar_small)
    p = float(chi2_sf(max(stat, 0.0), df))
    pb = chibar_pvalue(stat, df) if boundary else np.nan
    if test.method == "ML":
        method = "ML: fixed parts differ, same random part; chi-square reference"
    else:
        method = (f"REML: same fixed part, variance tested on its boundary; "
                  f"chi-bar-square 1/2 chi2({df - 1}) + 1/2 chi2({df})")
    return {
        "small": test.small,
        "big": test.big,
        "estimator": test.method,
        "question": test.question,
        "statistic": stat,
        "df": float(df),
        "p_value": p,
        "p_value_boundary": pb,
        "p_value_reported": pb if boundary else p,
        "method": method,
        "npar_small": int(npar_small),
        "npar_big": int(npar_big),
        "loglik_small": float(small_loglik),
        "loglik_big": float(big_loglik),
    }


def ladder_lrt_table(fits: Mapping[tuple[str, str], LmmResult], data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Likelihood-ratio tests between the nested neighbours of LADDER_TESTS."""
    rows = []
    for t in LADDER_TESTS:
        big = fits[(t.big, t.method)]
        if t.small == "ols_null":
            ll0 = ols_reml_loglik(data[spec.response].to_numpy())
            rows.append(lrt_row(t, ll0, big.loglik, 2, big.npar, boundary=True))
            continue
        small = fits[(t.small, t.method)]
        res = lmm.lrt(small, big).iloc[0]  # checks nesting, data and criterion
        boundary = t.method == "REML" and np.isfinite(res["p_value_boundary"])
        rows.append(lrt_row(t, small.loglik, big.loglik, small.npar, big.npar, boundary))
    return pd.DataFrame(rows)


def ladder_tables(data: pd.DataFrame, spec: ModelSpec) -> dict[str, pd.DataFrame]:
    """All four ladder tables from the prepared student data."""
    fits = fit_ladder(data, spec)
    return {
        "ladder_models": ladder_models_table(fits, spec),
        "ladder_coef": ladder_coef_table(fits),
        "ladder_varcorr": ladder_varcorr_table(fits),
        "ladder_lrt": ladder_lrt_table(fits, data, spec),
    }
