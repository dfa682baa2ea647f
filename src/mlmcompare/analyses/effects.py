"""Three effects of a level-1 predictor, and the contextual effect.

With students in schools, "the effect of ses" can mean three things:

- the **within-school** effect beta_W: students compared with schoolmates,
  estimated by OLS of y on x with a fixed intercept for every school
  (equivalently, of y - ybar_j on x - xbar_j), residual df N - J - 1;
- the **between-school** (ecological) effect beta_B: OLS of the school means
  ybar_j on xbar_j, one point per school, residual df J - 2;
- the **pooled** effect beta_P: OLS of y on x ignoring schools, a mixture of
  the two.

The **contextual effect** is beta_B - beta_W: how much more (or less) a
school's mean x moves its mean y than the same difference in x moves a
student within a school. `three_effects` estimates all four twice: by the
separate OLS fits above (the contextual SE from the two independent SEs,
Welch-Satterthwaite df), and by one mixed model with the contextual
variable, `y ~ x_cwg + x_mean + (1 + x_cwg | group)`, whose SEs include the
variation between schools (Satterthwaite df). The mixed model without the
contextual variable, `y ~ x + (1 + x | group)`, is added as the fifth row:
its single slope is a mixture too, much nearer the within effect.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import models
from ..methods.common import ols, tidy_coef
from ..spec import ModelSpec

EFFECT_COLUMNS = ["estimator", "effect", "model", "term", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"]


def within_slope(data: pd.DataFrame, spec: ModelSpec) -> tuple[float, float, float]:
    """Within-school slope, its OLS SE and residual df (school fixed effects)."""
    g = data.groupby(spec.group, sort=False)
    dx = (data[spec.predictor] - g[spec.predictor].transform("mean")).to_numpy(dtype="float64")
    dy = (data[spec.response] - g[spec.response].transform("mean")).to_numpy(dtype="float64")
    sxx = float(dx @ dx)
    b = float(dx @ dy) / sxx
    resid = dy - b * dx
    df = len(data) - data[spec.group].nunique() - 1
    s2 = float(resid @ resid) / df
    return b, float(np.sqrt(s2 / sxx)), float(df)


def simple_ols(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Slope, SE and residual df of y on (1, x)."""
    X = np.column_stack([np.ones(len(x)), x])
    fit = ols(X, y, ["Intercept", "x"])
    return float(fit.beta[1]), float(np.sqrt(fit.vcov[1, 1])), float(fit.df_resid)


def between_slope(data: pd.DataFrame, spec: ModelSpec) -> tuple[float, float, float]:
    """Ecological slope: OLS of school mean response on school mean predictor."""
    means = data.groupby(spec.group, sort=True)[[spec.predictor, spec.response]].mean()
    return simple_ols(means[spec.predictor].to_numpy(), means[spec.response].to_numpy())


def pooled_slope(data: pd.DataFrame, spec: ModelSpec) -> tuple[float, float, float]:
    return simple_ols(data[spec.predictor].to_numpy(dtype="float64"), data[spec.response].to_numpy(dtype="float64"))


def welch_df(v1: float, df1: float, v2: float, df2: float) -> float:
    """Welch-Satterthwaite df of a sum of two independent variance estimates."""
    return (v1 + v2) ** 2 / (v1**2 / df1 + v2**2 / df2)


def ols_effects(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Within, between, pooled and contextual (between - within) by separate OLS fits.

    The within and between estimates use orthogonal parts of the data (the
    deviations from school means and the school means), so under the OLS
    assumptions they are independent and the SE of their difference is the
    root of the sum of their squared SEs."""
    x, y, grp = spec.predictor, spec.response, spec.group
    bw, sw, dfw = within_slope(data, spec)
    bb, sb, dfb = between_slope(data, spec)
    bp, sp, dfp = pooled_slope(data, spec)
    bc, sc, dfc = bb - bw, float(np.hypot(sb, sw)), welch_df(sb**2, dfb, sw**2, dfw)
    rows = [
        ("within", f"{y} ~ {x} + factor({grp})", x, bw, sw, dfw),
        ("between", f"{y} ~ {x} (school means)", x, bb, sb, dfb),
        ("pooled", f"{y} ~ {x}", x, bp, sp, dfp),
        ("contextual", "between - within", f"{x} (between - within)", bc, sc, dfc),
    ]
    frames = [tidy_coef("ols", model, [term], [est], [se], [df]).assign(effect=eff) for eff, model, term, est, se, df in rows]
    out = pd.concat(frames, ignore_index=True).rename(columns={"method": "estimator"})
    return out[EFFECT_COLUMNS]


def mixed_effects(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Within, between and contextual effects from one mixed model with the
    contextual variable, and the single slope of the model without it."""
    x, c, d = spec.predictor, spec.cvar, spec.dvar
    formula = models.formula("ctx_cwg", spec)
    fit = models.fit("ctx_cwg", data, spec)
    frames = [
        fit.contrast({d: 1.0}, names=[d]).assign(effect="within"),
        fit.contrast({c: 1.0}, names=[c]).assign(effect="between"),
        fit.contrast({c: 1.0, d: -1.0}, names=[f"{c} - {d}"]).assign(effect="contextual"),
    ]
    plain = models.formula("randcoef", spec)
    fit2 = models.fit("randcoef", data, spec)
    frames.append(fit2.contrast({x: 1.0}, names=[x]).assign(effect="mixture", model=plain))
    out = pd.concat(frames, ignore_index=True)
    out["model"] = out["model"].fillna(formula)
    out["estimator"] = "mixed"
    return out[EFFECT_COLUMNS]


def three_effects(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The effects table: OLS rows, then mixed-model rows (see module docstring)."""
    return pd.concat([ols_effects(data, spec), mixed_effects(data, spec)], ignore_index=True)
