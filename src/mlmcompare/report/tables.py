"""Display tables of the handout's analyses (strings, ready for `markdown_table`).

The model ladder (`ladder_overview`, `ladder_equations_markdown`,
`ladder_fixed_display`, `ladder_lrt_display`), the one-way model's
estimators and intervals (`estimators_display`, `intervals_display`) and the
shrinkage tables (`shrinkage_display`, `spread_display`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analyses.ladder import OLS_NULL_NAME
from .format import num, p_text, sig


# ---------------------------------------------------------------- the ladder
def ladder_overview(models: pd.DataFrame) -> pd.DataFrame:
    """Display table: each rung's traditional name, its parts in symbols and its lme4 formula."""
    m = models[models["estimator"] == "REML"].sort_values("step")
    return pd.DataFrame({
        "": m["step"].astype(str).to_numpy(),
        "Model": m["name"].to_numpy(),
        "Fixed part": ("`" + m["fixed"] + "`").to_numpy(),
        "Random part": ("`" + m["random"] + "`").to_numpy(),
        "lme4 formula": ("`" + m["formula"] + "`").to_numpy(),
    })


def ladder_equations_markdown(models: pd.DataFrame) -> str:
    """A numbered Markdown list of each rung's level-1 and level-2 equations."""
    m = models[models["estimator"] == "REML"].sort_values("step")
    items = []
    for r in m.itertuples():
        items.append(f"{r.step}. **{r.name}.**\\\n   Level 1: ${r.level1}$\\\n   Level 2: ${r.level2}$")
    return "\n".join(items)


def variance_cells(varcorr: pd.DataFrame, model: str, estimator: str = "REML") -> dict[str, float]:
    """SD of the random intercept and slope, their correlation and sigma of one fit."""
    v = varcorr[(varcorr["model"] == model) & (varcorr["estimator"] == estimator)]
    sds = v[(v["grp"] != "Residual") & v["var2"].isna()]["sdcor"].tolist()
    cor = v[(v["grp"] != "Residual") & v["var2"].notna()]["sdcor"].tolist()
    return {
        "SD(intercept)": sds[0] if sds else np.nan,
        "SD(slope)": sds[1] if len(sds) > 1 else np.nan,
        "corr(intercept, slope)": cor[0] if cor else np.nan,
        "sigma": float(v[v["grp"] == "Residual"]["sdcor"].iloc[0]),
    }


def ladder_fixed_display(coef: pd.DataFrame, models: pd.DataFrame, varcorr: pd.DataFrame, steps: list[int], digits: int = 3) -> pd.DataFrame:
    """Display table, one column per chosen rung: REML fixed effects (SE), variance
    components, parameters, log-likelihoods (REML and ML), AIC and BIC (REML)."""
    reml = models[models["estimator"] == "REML"].set_index("step")
    ml = models[models["estimator"] == "ML"].set_index("step")
    chosen = [reml.loc[s, "model"] for s in steps]
    c = coef[(coef["estimator"] == "REML") & coef["model"].isin(chosen)]
    terms = list(dict.fromkeys(c["term"]))
    out = {"": [f"`{t}`" for t in terms]}
    extra = ["SD(intercept)", "SD(slope)", "corr(intercept, slope)", "sigma", "parameters", "logLik (REML)",
             "AIC (REML)", "BIC (REML)", "logLik (ML)"]
    out[""] += extra
    for s, model in zip(steps, chosen):
        part = c[c["model"] == model].set_index("term")
        cells = [f"{part.at[t, 'estimate']:.{digits}f} ({part.at[t, 'std_error']:.{digits}f})" if t in part.index else "" for t in terms]
        vc = variance_cells(varcorr, model)
        cells += [num(vc[k], digits) if np.isfinite(vc[k]) else "" for k in extra[:4]]
        cells += [str(int(reml.at[s, "npar"])), num(reml.at[s, "loglik"]), num(reml.at[s, "aic"]), num(reml.at[s, "bic"]),
                  num(ml.at[s, "loglik"])]
        out[f"({s})"] = cells
    return pd.DataFrame(out)


def ladder_lrt_display(lrt: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """Display table: each test's models, question, criterion, statistic, df and p-value."""
    step = dict(zip(models["model"], models["step"]))

    def label(m: str) -> str:
        return OLS_NULL_NAME if m == "ols_null" else f"({step[m]})"

    return pd.DataFrame({
        "Models": [f"{label(a)} vs {label(b)}" for a, b in zip(lrt["small"], lrt["big"])],
        "Question": lrt["question"].to_numpy(),
        "Fitted by": lrt["estimator"].to_numpy(),
        "Chi-square": [num(v, 2) for v in lrt["statistic"]],
        "df": [str(int(v)) for v in lrt["df"]],
        "p (chi-square)": [p_text(v) for v in lrt["p_value"]],
        "p (chi-bar-square)": [p_text(v) for v in lrt["p_value_boundary"]],
    })


# -------------------------------------------------------------- the one-way model
WEIGHT_TEXT = {
    "mean_of_means": "$1$",
    "student_mean": "$n_j$",
    "size_weighted": "school size $s_j$",
    "gls": r"$1 / (\hat g_{00} + \hat\sigma^2 / n_j)$",
}


def estimators_display(est: pd.DataFrame) -> pd.DataFrame:
    """Display table of the estimators of the overall mean."""
    return pd.DataFrame({
        "Estimator": est["label"].to_numpy(),
        "Weight proportional to": [WEIGHT_TEXT.get(t, "") for t in est["term"]],
        "Estimate": [sig(v) for v in est["estimate"]],
        "SE, schools random": [sig(v, 4) for v in est["std_error"]],
        "SE, schools fixed": [sig(v, 4) for v in est["std_error_fixed_schools"]],
        "Efficiency vs GLS": [f"{v:.3f}" for v in est["efficiency"]],
    })


def intervals_display(iv: pd.DataFrame) -> pd.DataFrame:
    """Display table of the one-way model's 95% intervals."""
    names = {"Intercept": r"$\gamma_{00}$ (overall mean)", "sd__Intercept": r"$\sqrt{g_{00}}$ (SD of school means)",
             "sd__Observation": r"$\sigma$ (SD within schools)"}
    return pd.DataFrame({
        "Parameter": [names.get(t, t) for t in iv["term"]],
        "Estimate": [sig(v) for v in iv["estimate"]],
        "Lower": [sig(v) for v in iv["conf_low"]],
        "Upper": [sig(v) for v in iv["conf_high"]],
        "Method": iv["method"].to_numpy(),
    })


# ---------------------------------------------------------------- shrinkage
def shrinkage_rows(table: pd.DataFrame, k: int = 5, include: tuple[str, ...] = ()) -> pd.DataFrame:
    """The k smallest and k largest schools, plus the named ones (`include`), by n."""
    t = table.sort_values(["n", "group"]).reset_index(drop=True)
    keep = set(range(min(k, len(t)))) | set(range(max(len(t) - k, 0), len(t)))
    keep |= set(t.index[t["id"].isin(include)])
    return t.loc[sorted(keep)]


def shrinkage_display(table: pd.DataFrame, k: int = 5, include: tuple[str, ...] = ()) -> pd.DataFrame:
    """Display table: school, n, BLUE, BLUP, random effect, shrinkage factor."""
    t = shrinkage_rows(table, k, include)
    return pd.DataFrame({
        "School": t["id"].to_numpy(),
        "n": t["n"].astype(str).to_numpy(),
        "BLUE (school mean)": [f"{v:.6f}" for v in t["blue"]],
        "BLUP": [f"{v:.6f}" for v in t["blup"]],
        "Random effect": [f"{v:.8f}" for v in t["ranef"]],
        "Conditional SD": [f"{v:.3f}" for v in t["cond_sd"]],
        "Reliability": [f"{v:.3f}" for v in t["shrinkage_factor"]],
    })


def spread_display(spread: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Lines": spread["matrix"].to_numpy(),
        "SD intercept": [f"{v:.3f}" for v in spread["sd_intercept"]],
        "SD slope": [f"{v:.3f}" for v in spread["sd_slope"]],
        "Correlation": [f"{v:.3f}" for v in spread["corr"]],
    })
