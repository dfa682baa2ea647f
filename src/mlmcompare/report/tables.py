"""Display tables of the handout's analyses (strings, ready for `markdown_table`).

The first look (`variables_display`), the joint tests of the sector
difference (`joint_tests_display`), the variance components (`varcorr_display`),
the model ladder (`ladder_overview`, `ladder_equations_markdown`,
`ladder_fixed_display`, `ladder_lrt_display`), the one-way model's
estimators and intervals (`estimators_display`, `intervals_display`), the
shrinkage tables (`shrinkage_display`, `spread_display`), and the appendix
that checks the handout's numbers against those the lectures print
(`lecture_checks`). Numbers follow `report.format`'s digits policy.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..analyses.ladder import OLS_NULL_NAME
from .format import agrees, df_text, estimate_se, full, num, pval, value_range


# ----------------------------------------------------------- the first look
def variables_display(v: pd.DataFrame) -> pd.DataFrame:
    """Display table of the prepared data's columns: level, kind, where it varies, levels or range."""
    return pd.DataFrame({
        "Variable": ("`" + v["variable"] + "`").to_numpy(),
        "Level": v["level"].astype(str).to_numpy(),
        "Kind": v["kind"].to_numpy(),
        "Varies in schools": v["schools_where_it_varies"].astype(str).to_numpy(),
        "Levels or range": [lv if k == "factor" else value_range(lo, hi, 3) for lv, k, lo, hi in zip(v["levels"], v["kind"], v["min"], v["max"])],
        "Derived": v["derived"].to_numpy(),
    })


def joint_tests_display(tests: pd.DataFrame, factor: str) -> pd.DataFrame:
    """The joint tests of no difference between the levels in intercept and
    slope: the fixed-effects Wald F and the two-stage MANOVA test of the factor
    (with two levels the four MANOVA statistics give one exact F, so one row
    says it, with Pillai's trace; the intercept hypothesis is left out)."""
    wald = tests[tests["test"].str.startswith("Wald")]
    manova = tests[(tests["term"] == factor)]
    rows = [{"Method": "Fixed effects, school lines", "Test": "Wald F", "Statistic": num(r.value), "F": num(r.statistic),
             "df": f"{df_text(r.num_df)}, {df_text(r.den_df)}", "p": pval(r.p_value)} for r in wald.itertuples()]
    single = len(manova) > 1 and bool(np.allclose(manova["statistic"], manova["statistic"].iloc[0], rtol=1e-9))
    for r in (manova.head(1) if single else manova).itertuples():
        test = "MANOVA (Pillai's trace; Wilks, Hotelling-Lawley and Roy give the same F)" if single else f"MANOVA ({r.test})"
        rows.append({"Method": "Two-stage", "Test": test, "Statistic": num(r.value), "F": num(r.statistic),
                     "df": f"{df_text(r.num_df)}, {df_text(r.den_df)}", "p": pval(r.p_value)})
    return pd.DataFrame(rows)


def varcorr_display(vc: pd.DataFrame) -> pd.DataFrame:
    """Variance components: each variance with its SD, each covariance with its correlation."""
    def term(r) -> str:
        if r.grp == "Residual":
            return "residual, $\\sigma^2$"
        if isinstance(r.var2, str):
            return f"covariance of `{r.var1}` and `{r.var2}`"
        return f"`{r.var1}`"
    return pd.DataFrame({
        "Group": vc["grp"].to_numpy(),
        "Term": [term(r) for r in vc.itertuples()],
        "Variance or covariance": [num(v) for v in vc["vcov"]],
        "SD or correlation": [num(v) for v in vc["sdcor"]],
    })


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


def ladder_fixed_display(coef: pd.DataFrame, models: pd.DataFrame, varcorr: pd.DataFrame, steps: list[int]) -> pd.DataFrame:
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
        cells = [estimate_se(part.at[t, "estimate"], part.at[t, "std_error"]) if t in part.index else "" for t in terms]
        vc = variance_cells(varcorr, model)
        cells += [num(vc[k], 3) if np.isfinite(vc[k]) else "" for k in extra[:4]]
        cells += [str(int(reml.at[s, "npar"])), f"{reml.at[s, 'loglik']:.1f}", f"{reml.at[s, 'aic']:.1f}", f"{reml.at[s, 'bic']:.1f}",
                  f"{ml.at[s, 'loglik']:.1f}"]
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
        "Chi-square": [num(v) for v in lrt["statistic"]],
        "df": [df_text(v) for v in lrt["df"]],
        "p (chi-square)": [pval(v) for v in lrt["p_value"]],
        "p (chi-bar-square)": [pval(v) for v in lrt["p_value_boundary"]],
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
        "Estimate": [num(v) for v in est["estimate"]],
        "SE, schools random": [num(v) for v in est["std_error"]],
        "SE, schools fixed": [num(v) for v in est["std_error_fixed_schools"]],
        "Efficiency vs GLS": [num(v, 3) for v in est["efficiency"]],
    })


def intervals_display(iv: pd.DataFrame) -> pd.DataFrame:
    """Display table of the one-way model's 95% intervals."""
    names = {"Intercept": r"$\gamma_{00}$ (overall mean)", "sd__Intercept": r"$\sqrt{g_{00}}$ (SD of the true school means)",
             "sd__Observation": r"$\sigma$ (SD within schools)"}
    return pd.DataFrame({
        "Parameter": [names.get(t, t) for t in iv["term"]],
        "Estimate": [num(v) for v in iv["estimate"]],
        "Lower": [num(v) for v in iv["conf_low"]],
        "Upper": [num(v) for v in iv["conf_high"]],
        "Method": iv["method"].str.replace(" (nlme)", "", regex=False).to_numpy(),
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
        "BLUE (school mean)": [num(v) for v in t["blue"]],
        "BLUP": [num(v) for v in t["blup"]],
        "Random effect": [num(v) for v in t["ranef"]],
        "Conditional SD": [num(v, 3) for v in t["cond_sd"]],
        "Reliability": [num(v, 3) for v in t["shrinkage_factor"]],
    })


def spread_display(spread: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Lines": spread["matrix"].to_numpy(),
        "SD intercept": [num(v, 3) for v in spread["sd_intercept"]],
        "SD slope": [num(v, 3) for v in spread["sd_slope"]],
        "Correlation": [num(v, 3) for v in spread["corr"]],
    })


# ------------------------------------------------------- the checking appendix
#: why a printed number and ours can differ in the last digits, where they do
OPTIMUM_NOTE = ("lme4's default stopping rule leaves the lecture's fit a tiny step (about 1e-7 in the variance "
                "parameters) from the REML optimum, where lmerTest and this engine agree")
HESSIAN_NOTE = ("a Wald interval on the log scale depends on how the curvature is approximated; nlme's numerical "
                "Hessian and this engine's differ in the fourth digit")
TRUNCATED_NOTE = "the lecture cuts 39.148 to 39.14; rounded, it is 39.15"

#: what the lectures print, per bundled data set: (quantity, printed text, where ours is[, why they may differ])
LECTURE_PRINTS: dict[str, list[tuple]] = {
    "hs": [
        ("Pooled OLS: coefficient of ses (the Catholic slope)", "2.2999", ("coef", "pooled_ols", "ses", "estimate")),
        ("Pooled OLS: ses:SectorPublic", "1.6051", ("coef", "pooled_ols", "ses:Sector[T.Public]", "estimate")),
        ("Pooled OLS: its SE", "0.3845", ("coef", "pooled_ols", "ses:Sector[T.Public]", "std_error")),
        ("Pooled OLS: residual SE", "6.344", ("fit", "pooled_ols", "sigma")),
        ("Fixed effects, school lines: joint F", "21.03533", ("tests", "Wald", "value")),
        ("Fixed effects, school lines: slope gap", "1.109995", ("line", "fe_school_lines", "slope")),
        ("Fixed effects, school lines: its SE", "0.454114", ("line", "fe_school_lines", "se_slope")),
        ("Fixed effects, common slopes: slope gap", "1.204719", ("line", "fe_common_slope", "slope")),
        ("Fixed effects, common slopes: its SE", "0.436134", ("line", "fe_common_slope", "se_slope")),
        ("Two-stage: slope gap", "1.1100", ("line", "two_stage", "slope")),
        ("Two-stage: its SE", "0.5086", ("line", "two_stage", "se_slope")),
        ("Between schools: slope of the school means", "5.7734", ("coef_model", "between", "ses", "~ ses (", "estimate")),
        ("One-way model: overall mean", "12.60468", ("table", "oneway_summary", "gamma00")),
        ("One-way model: SD of school means", "2.836278", ("table", "oneway_summary", "sd_intercept")),
        ("One-way model: SD within schools", "6.296759", ("table", "oneway_summary", "sigma")),
        ("One-way model: REML log-likelihood", "-6489.969", ("table", "oneway_summary", "loglik")),
        ("One-way model: 95% interval of the SD of school means, lower", "2.214072",
         ("row", "oneway_intervals", "term", "sd__Intercept", "conf_low"), HESSIAN_NOTE),
        ("One-way model: 95% interval of the SD of school means, upper", "3.633338",
         ("row", "oneway_intervals", "term", "sd__Intercept", "conf_high"), HESSIAN_NOTE),
    ],
    "hsfull": [
        ("Mean mathach, Catholic", "14.17030", ("row", "gap_levels", "level", "Catholic", "mean")),
        ("Mean mathach, Public", "11.36407", ("row", "gap_levels", "level", "Public", "mean")),
        ("t-test: difference Public - Catholic", "-2.806225", ("table", "gap_ttest", "estimate")),
        ("t-test: its SE", "0.158905", ("table", "gap_ttest", "std_error")),
        ("Mixed model: Public mean (intercept)", "11.39304", ("row2", "gap_coef", "Mixed (REML)", "Intercept", "estimate")),
        ("Mixed model: its SE", "0.29283", ("row2", "gap_coef", "Mixed (REML)", "Intercept", "std_error")),
        ("Mixed model: its Satterthwaite df", "158.53713", ("row2", "gap_coef", "Mixed (REML)", "Intercept", "df"), OPTIMUM_NOTE),
        ("Mixed model: Catholic - Public gap", "2.80489", ("row2", "gap_coef", "Mixed (REML)", "Sector[T.Catholic]", "estimate")),
        ("Mixed model: its SE", "0.43906", ("row2", "gap_coef", "Mixed (REML)", "Sector[T.Catholic]", "std_error")),
        ("Mixed model: its Satterthwaite df", "153.50058", ("row2", "gap_coef", "Mixed (REML)", "Sector[T.Catholic]", "df"),
         OPTIMUM_NOTE),
        ("Null model: between-school variance", "8.61", ("row", "gap_variance", "model", "Null: y ~ 1 + (1 | g)", "g00")),
        ("Null model: residual variance", "39.14", ("row", "gap_variance", "model", "Null: y ~ 1 + (1 | g)", "sigma2"),
         TRUNCATED_NOTE),
        ("Between-school variance with Sector", "6.67696", ("row", "gap_variance", "model", "With Sector", "g00")),
        ("Residual variance with Sector", "39.15140", ("row", "gap_variance", "model", "With Sector", "sigma2")),
    ],
}


def ours(where: tuple[str, ...], lines: pd.DataFrame, coef: pd.DataFrame, fits: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> float:
    """The handout's value at `where` (see `LECTURE_PRINTS`)."""
    kind = where[0]
    if kind == "coef":
        _, method, term, col = where
        return float(coef[(coef["method"] == method) & (coef["term"] == term)][col].iloc[0])
    if kind == "coef_model":
        _, method, term, model, col = where
        c = coef[(coef["method"] == method) & (coef["term"] == term)]
        return float(c[c["model"].str.contains(model, regex=False)][col].iloc[0])
    if kind == "fit":
        return float(fits[fits["method"] == where[1]][where[2]].iloc[0])
    if kind == "line":
        row = lines[(lines["method"] == where[1]) & (lines["kind"] == "difference")].iloc[0]
        return float(np.sqrt(row["var_slope"])) if where[2] == "se_slope" else float(row[where[2]])
    if kind == "tests":
        t = tables["tests"]
        return float(t[t["test"].str.startswith(where[1])][where[2]].iloc[0])
    if kind == "table":
        return float(tables[where[1]][where[2]].iloc[0])
    if kind == "row":
        t = tables[where[1]]
        return float(t[t[where[2]].astype(str) == where[3]][where[4]].iloc[0])
    if kind == "row2":
        t = tables[where[1]]
        return float(t[(t["model"] == where[2]) & (t["term"] == where[3])][where[4]].iloc[0])
    raise ValueError(f"unknown place {where}")


def lecture_checks(bundled: str | None, lines: pd.DataFrame, coef: pd.DataFrame, fits: pd.DataFrame, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The lecture's printed numbers beside the handout's own at full precision
    (empty for data the lectures do not describe)."""
    rows = []
    for what, printed, where, *why in LECTURE_PRINTS.get(bundled or "", []):
        try:
            value = ours(where, lines, coef, fits, tables)
        except (KeyError, IndexError):
            continue
        same = agrees(value, printed)
        rows.append({"Quantity": what, "Lecture prints": printed, "This handout": full(value, 9),
                     "Agrees to the printed digits": "yes" if same else "no", "Why not": "" if same else (why or ["—"])[0]})
    return pd.DataFrame(rows, columns=["Quantity", "Lecture prints", "This handout", "Agrees to the printed digits", "Why not"])
