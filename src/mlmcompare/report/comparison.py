"""The comparison of the methods, as display tables.

The handout only calls these functions on the pipeline's parquet outputs:
the comparison of the sector lines over methods (`levels_table`), the
differences with their tests (`differences_table`), and the summary of
methods with its reasoned verdicts (`METHOD_VERDICTS`, `summary_table`).
A method whose fit is in trouble (singular, not converged) carries a mark
(`FLAG_MARK`) after its name in every table.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..estimation.distributions import norm_ppf, norm_sf, t_ppf, t_sf
from .format import df_text, interval, num, pval, with_se

#: after a method's name where its fit is singular or did not converge
FLAG_MARK = " †"


def method_name(method: str, labels: Mapping[str, str], flagged: Sequence[str] = ()) -> str:
    return labels.get(method, method) + (FLAG_MARK if method in flagged else "")


def levels_table(lines: pd.DataFrame, labels: Mapping[str, str], digits: int = 4, flagged: Sequence[str] = ()) -> pd.DataFrame:
    """Per method: each level's intercept and slope with SE in parentheses."""
    levels = [l for l in dict.fromkeys(lines.loc[lines["kind"] == "level", "line"])]
    rows = []
    for method, g in lines.groupby("method", sort=False):
        g = g.set_index("line")
        row = {"Method": method_name(method, labels, flagged)}
        for lv in levels:
            row[f"{lv} intercept (SE)"] = with_se(g.at[lv, "intercept"], g.at[lv, "var_intercept"], digits)
            row[f"{lv} slope (SE)"] = with_se(g.at[lv, "slope"], g.at[lv, "var_slope"], digits)
        rows.append(row)
    return pd.DataFrame(rows)


def t_interval(est: float, se: float, df: float, level: float = 0.95) -> tuple[float, float, float]:
    """(low, high, two-sided p) of a t interval (normal where df is infinite)."""
    q = t_ppf(0.5 + level / 2, df) if np.isfinite(df) else norm_ppf(0.5 + level / 2)
    z = abs(est / se)
    p = 2 * t_sf(z, df) if np.isfinite(df) else 2 * norm_sf(z)
    return est - q * se, est + q * se, float(p)


def differences_table(lines: pd.DataFrame, labels: Mapping[str, str], digits: int = 4, flagged: Sequence[str] = ()) -> pd.DataFrame:
    """Per method and difference line: estimate, SE, df, 95% CI, p for intercept and slope."""
    rows = []
    diffs = lines[lines["kind"] == "difference"]
    for _, r in diffs.iterrows():
        for part in ("intercept", "slope"):
            est, se, df = r[part], float(np.sqrt(r[f"var_{part}"])), r[f"df_{part}"]
            low, high, p = t_interval(est, se, df)
            rows.append(
                {
                    "Method": method_name(r["method"], labels, flagged),
                    "Difference": f"{r['line']}: {part}",
                    "Estimate": num(est, digits),
                    "SE": num(se, digits - 1),
                    "df": df_text(df),
                    "95% CI": interval(low, high, digits - 1),
                    "p": pval(p),
                }
            )
    return pd.DataFrame(rows)


def gaps_table(lines: pd.DataFrame, labels: Mapping[str, str], flagged: Sequence[str] = ()) -> pd.DataFrame:
    """One row per method: the gaps in intercept and in slope with their SEs,
    and the slope gap's 95% interval and p-value (the at-a-glance comparison)."""
    rows = []
    for _, r in lines[lines["kind"] == "difference"].iterrows():
        se_i, se_s = float(np.sqrt(r["var_intercept"])), float(np.sqrt(r["var_slope"]))
        low, high, p = t_interval(r["slope"], se_s, r["df_slope"])
        rows.append({
            "Method": method_name(r["method"], labels, flagged),
            "Intercept gap (SE)": f"{num(r['intercept'])} ({num(se_i, 3)})",
            "Slope gap (SE)": f"{num(r['slope'])} ({num(se_s, 3)})",
            "Slope gap 95% CI": interval(low, high, 3),
            "df": df_text(r["df_slope"]),
            "p": pval(p),
        })
    return pd.DataFrame(rows)


# The summary of methods: our wording of the four criteria of the source
# handout (consistent, efficient, honest, robust) for each method, as a
# short verdict and the reason for it. Where the study measured a criterion,
# `report.study.judged_verdicts` rewrites a verdict that the measurement
# contradicts.
METHOD_VERDICTS: dict[str, dict[str, tuple[str, str]]] = {
    "pooled_ols": {
        "consistent": ("No", "its slope mixes the within-school and the between-school effect, in proportions set by the design"),
        "efficient": ("Not applicable", "it is not aimed at either effect"),
        "honest": ("No", "it counts every student as independent information, so its standard error is too small when schoolmates resemble each other"),
        "robust": ("No", "its target moves with the schools' composition; robust standard errors repair the SE, not the target"),
    },
    "fe_school_lines": {
        "consistent": ("Yes", "for the within-school effect in each sector"),
        "efficient": ("No", "it is the two-stage estimate: every school counts the same, whatever its size and spread of the predictor"),
        "honest": ("Only for these schools", "the variation between schools does not enter its SE, which is therefore too small for statements about sectors"),
        "robust": ("Yes, for the estimate", "it assumes nothing about how schools differ, but its inference is limited to the schools observed"),
    },
    "fe_common_slope": {
        "consistent": ("If slopes are common", "for the within-school slope of each sector, when the schools of a sector share one slope"),
        "efficient": ("Yes, if slopes are common", "schools with more students and more spread in the predictor weigh more"),
        "honest": ("Only for these schools", "the spread of slopes between schools is assumed away"),
        "robust": ("No", "it is sensitive to slopes that really vary between schools"),
    },
    "two_stage": {
        "consistent": ("Yes", "for the within-school effect in each sector"),
        "efficient": ("No", "every school counts the same, unless schools are alike in size and spread of the predictor"),
        "honest": ("Yes", "its SE comes from the variation between schools, so it generalises to new schools"),
        "robust": ("Yes", "it makes few assumptions, but loses the schools where a slope cannot be estimated"),
    },
    "between": {
        "consistent": ("No", "it aims at the between-school (ecological) effect, not the within-school one"),
        "efficient": ("No", "school means of different precision get the same weight"),
        "honest": ("Yes, for its own target", "its SE comes from the variation between school means"),
        "robust": ("Yes, for its own target", "it is simple and assumption-light, but answers another question"),
    },
    "mixed": {
        "consistent": ("Only without a contextual effect", "otherwise it estimates a mixture, much closer to the within effect than pooled OLS, and consistent as schools grow larger, not as they grow more numerous"),
        "efficient": ("Yes", "each school is weighted by the information it carries"),
        "honest": ("Yes", "its SE includes the variation between schools"),
        "robust": ("Partly", "it relies on the model for the random effects; a contextual variable removes the main bias"),
    },
    "mixed_contextual": {
        "consistent": ("Yes", "it estimates the within-school and the between-school effect separately, and their difference, the contextual effect"),
        "efficient": ("Nearly", "for the within-school gap it gives up the between-school information that the mixed model also uses"),
        "honest": ("Yes", "its SE includes the variation between schools"),
        "robust": ("Yes", "the most robust of the seven to a contextual effect; its SEs still rely on the random-effects model"),
    },
}

CRITERIA = ("consistent", "efficient", "honest", "robust")
COLUMNS = {"consistent": "Consistent?", "efficient": "Efficient?", "honest": "Honest?", "robust": "Robust?"}


def verdict_cell(short: str, reason: str, measured: str = "") -> str:
    """"**Yes**: for the within-school effect. *Measured:* ...". """
    text = f"**{short}**: {reason}."
    return text + (f" *Measured:* {measured}." if measured else "")


def fit_caveat(problem: str | None) -> str:
    """The honesty verdict's caveat for a fit in trouble on these data."""
    return f"on these data the fit {problem}, so its SE rests on a boundary estimate" if problem else ""


def reasoned_verdict(method: str, criterion: str, problem: str | None = None) -> tuple[str, str]:
    """(verdict, reason) as reasoned from how the method is built, with the
    honesty verdict qualified where the fit to these data is in trouble."""
    short, reason = METHOD_VERDICTS[method][criterion]
    if criterion == "honest" and problem:
        return f"{short}, in principle", f"{reason}; {fit_caveat(problem)}"
    return short, reason


def summary_table(methods: Sequence[str], labels: Mapping[str, str], problems: Mapping[str, str | None] | None = None,
                  compact: bool = False) -> pd.DataFrame:
    """The reasoned verdicts alone (no study): one row per method; `compact`:
    the verdicts without their reasons."""
    problems = problems or {}
    flagged = [m for m, p in problems.items() if p]
    rows = []
    for m in methods:
        row = {"Method": method_name(m, labels, flagged)}
        for c in CRITERIA:
            short, reason = reasoned_verdict(m, c, problems.get(m))
            row[COLUMNS[c]] = short if compact else verdict_cell(short, reason)
        rows.append(row)
    return pd.DataFrame(rows)
