"""BLUE and BLUP of each school: shrinkage in the one-way and random-slopes models.

This module owns the per-school tables behind the shrinkage figures: for
the one-way model the school mean (BLUE), the BLUP gamma00 + u0j, the
random effect u0j with its conditional SD and the shrinkage factor
g00 / (g00 + sigma^2 / n_j); for the intercepts-and-slopes-as-outcomes
model `y ~ x * F + (1 + x | g)` each school's OLS line (BLUE) and its
BLUP line (the sector's mean line plus the school's random effects), with
the sector mean lines and the empirical spread of both sets of lines
beside the estimated G.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import models
from ..lmm import LmmResult
from .oneway import fit_oneway, school_means
from ..spec import ModelSpec


def school_ids(schools: pd.DataFrame, spec: ModelSpec) -> pd.Series:
    """Informative ids (e.g. P8854C) indexed by the group id as a string."""
    col = "id" if "id" in schools.columns else spec.group
    return pd.Series(schools[col].astype(str).to_numpy(), index=schools[spec.group].astype(str).to_numpy())


def oneway_shrinkage_table(fit: LmmResult, data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """One row per school: n, BLUE (school mean), BLUP, random effect, shrinkage."""
    means = school_means(data, spec)
    g00, s2 = float(fit.varcorr.G.iloc[0, 0]), fit.sigma2
    gamma = float(fit.fixef.iloc[0])
    re = fit.ranef.set_index("group")
    keys = means.index
    ids = school_ids(schools, spec)
    level = schools.set_index(schools[spec.group].astype(str))[spec.level2_factor].astype(str)
    out = pd.DataFrame(
        {
            "group": keys.astype(str),
            "id": ids.loc[keys.astype(str)].to_numpy(),
            "level": level.loc[keys.astype(str)].to_numpy(),
            "n": means["n"].to_numpy(),
            "blue": means["mean"].to_numpy(),
            "ranef": re.loc[keys, "estimate"].to_numpy(),
            "cond_sd": re.loc[keys, "cond_sd"].to_numpy(),
        }
    )
    out["blup"] = gamma + out["ranef"]
    out["gamma00"] = gamma
    out["shrinkage_factor"] = g00 / (g00 + s2 / out["n"])
    out["shrinkage"] = out["blue"] - out["blup"]
    return out.sort_values(["n", "group"]).reset_index(drop=True)


def line_terms(fit: LmmResult, spec: ModelSpec, level: str, reference: str) -> tuple[dict[str, float], dict[str, float]]:
    """Weights of the sector's mean intercept and slope on the fixed terms."""
    x, f = spec.predictor, spec.level2_factor
    a, b = {"Intercept": 1.0}, {x: 1.0}
    if level != reference:
        a[f"{f}[T.{level}]"] = 1.0
        b[f"{x}:{f}[T.{level}]"] = 1.0
    return a, b


def slopes_shrinkage_tables(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec) -> dict[str, pd.DataFrame]:
    """Per school BLUE and BLUP lines of the random-slopes model; sector mean lines; spreads."""
    fit = models.fit(models.MAIN_MIXED, data, spec)
    levels = [str(c) for c in data[spec.level2_factor].cat.categories]
    reference = levels[0]
    fixef = fit.fixef
    mean_lines = {}
    for lv in levels:
        a, b = line_terms(fit, spec, lv, reference)
        mean_lines[lv] = (sum(fixef[t] * w for t, w in a.items()), sum(fixef[t] * w for t, w in b.items()))
    x = spec.predictor
    blue = fit.blue.pivot(index="group", columns="term", values="estimate")
    blue_n = fit.blue.drop_duplicates("group").set_index("group")["n"]
    re = fit.ranef_wide()
    keys = re.index
    ids = school_ids(schools, spec)
    lv_of = schools.set_index(schools[spec.group].astype(str))[spec.level2_factor].astype(str)
    lv = lv_of.loc[keys.astype(str)].to_numpy()
    mean_a = np.array([mean_lines[v][0] for v in lv])
    mean_b = np.array([mean_lines[v][1] for v in lv])
    per_school = pd.DataFrame(
        {
            "group": keys.astype(str),
            "id": ids.loc[keys.astype(str)].to_numpy(),
            "level": lv,
            "n": blue_n.loc[keys].to_numpy().astype("int64"),
            "blue_intercept": blue.loc[keys, "Intercept"].to_numpy(),
            "blue_slope": blue.loc[keys, x].to_numpy(),
            "blup_intercept": mean_a + re["Intercept"].to_numpy(),
            "blup_slope": mean_b + re[x].to_numpy(),
            "mean_intercept": mean_a,
            "mean_slope": mean_b,
        }
    )
    G = fit.varcorr.G.to_numpy()
    lines = pd.DataFrame(
        [{"level": k, "intercept": v[0], "slope": v[1]} for k, v in mean_lines.items()]
    )
    # spread of the school lines around their sector's mean line, against G
    ok = per_school[["blue_intercept", "blue_slope"]].notna().all(axis=1)
    dev_blue = per_school.loc[ok, ["blue_intercept", "blue_slope"]].to_numpy() - per_school.loc[ok, ["mean_intercept", "mean_slope"]].to_numpy()
    dev_blup = per_school[["blup_intercept", "blup_slope"]].to_numpy() - per_school[["mean_intercept", "mean_slope"]].to_numpy()
    spread = []
    for name, M in (("BLUE (school OLS lines)", np.cov(dev_blue.T, ddof=1)), ("G (estimated)", G), ("BLUP", np.cov(dev_blup.T, ddof=1))):
        spread.append({"matrix": name, "var_intercept": M[0, 0], "cov_intercept_slope": M[0, 1], "var_slope": M[1, 1],
                       "sd_intercept": np.sqrt(M[0, 0]), "sd_slope": np.sqrt(M[1, 1]),
                       "corr": M[0, 1] / np.sqrt(M[0, 0] * M[1, 1]) if M[0, 0] * M[1, 1] > 0 else np.nan})
    glance = pd.DataFrame([{"formula": fit.formula, "nobs": fit.nobs, "ngroups": fit.ngroups,
                            "n_blue_not_estimable": len(fit.blue_not_estimable), "sigma": fit.sigma,
                            "loglik": fit.loglik, "aic": fit.aic, "bic": fit.bic, "singular": fit.singular,
                            "warnings": "; ".join(fit.warnings)}])
    return {
        "slopes_schools": per_school.sort_values(["level", "n", "group"]).reset_index(drop=True),
        "slopes_mean_lines": lines,
        "slopes_spread": pd.DataFrame(spread),
        "slopes_fit": glance,
    }


def shrinkage_tables(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec) -> dict[str, pd.DataFrame]:
    """The one-way and random-slopes shrinkage tables."""
    out = {"oneway_shrinkage": oneway_shrinkage_table(fit_oneway(data, spec), data, schools, spec)}
    out.update(slopes_shrinkage_tables(data, schools, spec))
    return out
