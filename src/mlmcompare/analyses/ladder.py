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
import scipy.stats

from .. import lmm
from ..lmm import LmmResult
from ..spec import ModelSpec


@dataclass(frozen=True)
class Rung:
    """One model of the ladder: fixed and random parts with placeholders."""

    model: str  # id
    name: str  # traditional name
    fixed: str  # fixed part, placeholders {x} {w} {cvar} {dvar}
    random: str  # random part (left of the bar)
    level1: str  # LaTeX
    level2: str  # LaTeX, equations separated by " \\quad "


LADDER: tuple[Rung, ...] = (
    Rung("oneway", "One-way ANOVA with random effects", "1", "1",
         r"Y_{ij} = \beta_{0j} + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + u_{0j}"),
    Rung("means", "Means as outcomes", "1 + {w}", "1",
         r"Y_{ij} = \beta_{0j} + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}"),
    Rung("ancova", "One-way ANCOVA with random effects", "1 + {x}", "1",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + u_{0j}, \quad \beta_{1j} = \gamma_{10}"),
    Rung("randcoef", "Random coefficients", "1 + {x}", "1 + {x}",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Rung("isao", "Intercepts and slopes as outcomes", "1 + {x} + {w} + {x}:{w}", "1 + {x}",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}, \quad \beta_{1j} = \gamma_{10} + \gamma_{11} W_j + u_{1j}"),
    Rung("nonrandom", "Non-random slopes", "1 + {x} + {w} + {x}:{w}", "1",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}, \quad \beta_{1j} = \gamma_{10} + \gamma_{11} W_j"),
    Rung("parallel", "Parallel mean slopes", "1 + {x} + {w}", "1 + {x}",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Rung("ctx_cwg", "Contextual mean with CWG variable", "1 + {cvar} + {dvar}", "1 + {dvar}",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} (X_{ij} - \bar X_{\cdot j}) + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + \gamma_{01} \bar X_{\cdot j} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Rung("ctx_raw", "Contextual mean with raw variable", "1 + {cvar} + {x}", "1 + {dvar}",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} (X_{ij} - \bar X_{\cdot j}) + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + (\gamma_{01} + \gamma_{10}) \bar X_{\cdot j} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Rung("ctx_isao", "Intercepts and slopes as outcomes with contextual mean", "1 + ({cvar} + {dvar}) * {w}", "1 + {dvar}",
         r"Y_{ij} = \beta_{0j} + \beta_{1j} (X_{ij} - \bar X_{\cdot j}) + r_{ij}",
         r"\beta_{0j} = \gamma_{00} + \gamma_{01} \bar X_{\cdot j} + \gamma_{02} W_j + \gamma_{03} W_j \bar X_{\cdot j} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + \gamma_{11} W_j + u_{1j}"),
)


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


def placeholders(spec: ModelSpec) -> dict[str, str]:
    return {"x": spec.predictor, "w": spec.level2_factor, "cvar": spec.cvar, "dvar": spec.dvar}


def rung_formula(rung: Rung, spec: ModelSpec) -> str:
    """The lme4 formula of a rung with the data's column names."""
    p = placeholders(spec)
    return f"{spec.response} ~ {rung.fixed.format(**p)} + ({rung.random.format(**p)} | {spec.group})"


def rung_symbolic(rung: Rung) -> tuple[str, str]:
    """The rung's fixed and random parts in the handout's symbols (Y, X, W, cvar, dvar)."""
    p = {"x": "X", "w": "W", "cvar": "cvar", "dvar": "dvar"}
    return f"Y ~ {rung.fixed.format(**p)}", f"~ {rung.random.format(**p)} | school"


def fit_ladder(data: pd.DataFrame, spec: ModelSpec) -> dict[tuple[str, str], LmmResult]:
    """Every rung fitted by REML and by ML, keyed (model, "REML"/"ML")."""
    fits = {}
    for rung in LADDER:
        formula = rung_formula(rung, spec)
        for crit in ("REML", "ML"):
            fits[(rung.model, crit)] = lmm.fit(formula, data, reml=crit == "REML")
    return fits


def ladder_models_table(fits: Mapping[tuple[str, str], LmmResult], spec: ModelSpec) -> pd.DataFrame:
    """glance rows: one per model and criterion, with formula and equations."""
    rows = []
    for i, rung in enumerate(LADDER, start=1):
        fixed, random = rung_symbolic(rung)
        for crit in ("REML", "ML"):
            f = fits[(rung.model, crit)]
            rows.append(
                {
                    "step": i,
                    "model": rung.model,
                    "name": rung.name,
                    "estimator": crit,
                    "formula": rung_formula(rung, spec),
                    "fixed": fixed,
                    "random": random,
                    "level1": rung.level1,
                    "level2": rung.level2,
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
    p = float(scipy.stats.chi2.sf(max(stat, 0.0), df))
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


# ----------------------------------------------------------------- display
def num(x: float, digits: int = 2) -> str:
    """A number for a table cell; NaN as an em dash."""
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def p_text(p: float) -> str:
    if not np.isfinite(p):
        return "—"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


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
