"""Population values of the study, read off the source data's fits.

The fixed effects and the residual SD come from the contextual mixed
model's tidy tables written by the pipeline (`methods/mixed_contextual/
{coef,fit}.parquet`); the random-effects covariance G is not among them, so
the same model is refitted here (`models.fit`) (and its fixed effects are
checked against the written ones). The distribution of the predictor
(level means of the school means, their SD around them, the within-school
SD at each level) is measured on the data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import models
from ..methods.common import level_term
from ..spec import ModelSpec
from .dgp import DgpParameters


def predictor_moments(data: pd.DataFrame, spec: ModelSpec, levels: list[str]) -> dict[str, object]:
    """Level means of the school means, pooled SD of school means around them,
    within-school SD at each level; the number of schools and their mean size."""
    schools = data.groupby(spec.group, observed=True).agg(
        m=(spec.predictor, "mean"), level=(spec.level2_factor, "first")
    )
    schools["level"] = schools["level"].astype(str)
    mu = schools.groupby("level")["m"].mean().reindex(levels)
    dev = schools["m"] - schools["level"].map(mu)
    tau = float(np.sqrt((dev**2).sum() / (len(schools) - len(levels))))
    lv = data[spec.level2_factor].astype(str)
    dx = data[spec.predictor] - data.groupby(spec.group, observed=True)[spec.predictor].transform("mean")
    n_groups = data.groupby(lv, observed=True)[spec.group].nunique().reindex(levels)
    ss = (dx**2).groupby(lv).sum().reindex(levels)
    n = lv.value_counts().reindex(levels)
    within = np.sqrt(ss / (n - n_groups))
    share = float((schools["level"] == levels[0]).mean())
    return {"x_mean": tuple(float(v) for v in mu), "x_between_sd": tau,
            "x_within_sd": tuple(float(v) for v in within), "share_reference": share,
            "n_groups": int(len(schools)), "mean_size": float(len(data) / len(schools))}


def study_parameters(data: pd.DataFrame, coef: pd.DataFrame, fit: pd.DataFrame, spec: ModelSpec, tol: float = 1e-6) -> DgpParameters:
    """The DGP's population values from the source data and its contextual fit."""
    levels = [str(v) for v in data[spec.level2_factor].cat.categories]
    if len(levels) != 2:
        raise ValueError(f"the study compares two levels of {spec.level2_factor}; the data have {levels}")
    other = level_term(spec, levels[1])
    est = coef.set_index("term")["estimate"]
    res = models.fit(models.CONTEXTUAL, data, spec)
    gap = np.max(np.abs(res.fixef.reindex(est.index).to_numpy() - est.to_numpy()))
    if not np.isfinite(gap) or gap > tol * max(1.0, float(np.max(np.abs(est)))):
        raise ValueError(f"the refitted contextual model differs from the written coef table by {gap:.3g}")
    G = res.varcorr.G.to_numpy()
    return DgpParameters(
        levels=(levels[0], levels[1]),
        intercept=float(est["Intercept"]),
        intercept_gap=float(est[other]),
        within_slope=float(est[spec.dvar]),
        within_gap=float(est[f"{spec.dvar}:{other}"]),
        between_slope=float(est[spec.cvar]),
        between_gap=float(est[f"{spec.cvar}:{other}"]),
        G=((float(G[0, 0]), float(G[0, 1])), (float(G[1, 0]), float(G[1, 1]))),
        sigma=float(fit["sigma"].iloc[0]),
        **predictor_moments(data, spec, levels),
    )
