"""The comparison of the methods, as display tables.

The handout only calls these functions on the pipeline's parquet outputs:
the comparison of the sector lines over methods, the differences with
their tests, and the summary of methods with its verdicts.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .format import fmt, fmt_p, with_se


def levels_table(lines: pd.DataFrame, labels: Mapping[str, str], digits: int = 3) -> pd.DataFrame:
    """Per method: each level's intercept and slope with SE in parentheses."""
    levels = [l for l in dict.fromkeys(lines.loc[lines["kind"] == "level", "line"])]
    rows = []
    for method, g in lines.groupby("method", sort=False):
        g = g.set_index("line")
        row = {"Method": labels.get(method, method)}
        for lv in levels:
            row[f"{lv} intercept (SE)"] = with_se(g.at[lv, "intercept"], g.at[lv, "var_intercept"], digits)
            row[f"{lv} slope (SE)"] = with_se(g.at[lv, "slope"], g.at[lv, "var_slope"], digits)
        rows.append(row)
    return pd.DataFrame(rows)


def differences_table(lines: pd.DataFrame, labels: Mapping[str, str], digits: int = 3) -> pd.DataFrame:
    """Per method and difference line: estimate, SE, df, 95% CI, p for intercept and slope."""
    rows = []
    diffs = lines[lines["kind"] == "difference"]
    for _, r in diffs.iterrows():
        for part in ("intercept", "slope"):
            est, se, df = r[part], np.sqrt(r[f"var_{part}"]), r[f"df_{part}"]
            q = stats.t.ppf(0.975, df)
            p = 2 * stats.t.sf(abs(est / se), df)
            rows.append(
                {
                    "Method": labels.get(r["method"], r["method"]),
                    "Difference": f"{r['line']}: {part}",
                    "Estimate": fmt(est, digits),
                    "SE": fmt(se, digits),
                    "df": fmt(df, 1),
                    "95% CI": f"[{fmt(est - q * se, digits)}, {fmt(est + q * se, digits)}]",
                    "p": fmt_p(p),
                }
            )
    return pd.DataFrame(rows)


# The summary of methods: our wording of the four criteria of the source
# handout (consistent, efficient, honest, robust) for each method.
METHOD_VERDICTS: dict[str, dict[str, str]] = {
    "pooled_ols": {
        "consistent": "No: its slope mixes the within-school and the between-school effect, in proportions set by the design.",
        "efficient": "Not a meaningful question: it is not aimed at either effect.",
        "honest": "No: it counts every student as independent information, so its standard errors are too small when students in a school resemble each other.",
        "robust": "Its target moves with the school composition of the sample; robust standard errors repair the SE, not the target.",
    },
    "fe_school_lines": {
        "consistent": "Yes, for the within-school effect in each sector.",
        "efficient": "Within these schools, yes: it uses all within-school information.",
        "honest": "Only for new students in the same schools: between-school variation does not enter its SE, so it is too small for statements about sectors.",
        "robust": "Free of assumptions about how schools differ, but its inference is limited to the schools observed.",
    },
    "fe_common_slope": {
        "consistent": "Yes, for the within-school slope of each sector, if the schools of a sector share one slope.",
        "efficient": "Yes under that assumption; schools with more students and more spread in the predictor weigh more.",
        "honest": "Only for these schools: the spread of slopes between schools is assumed away.",
        "robust": "Sensitive to slopes that really vary between schools.",
    },
    "two_stage": {
        "consistent": "Yes, for the within-school effect in each sector.",
        "efficient": "No, unless schools are alike in size and spread of the predictor: every school counts the same.",
        "honest": "Yes: its SE comes from the variation between schools, so it generalises to new schools.",
        "robust": "Makes few assumptions; loses the schools where a slope cannot be estimated.",
    },
    "between": {
        "consistent": "For the between-school (ecological) effect, not the within-school one that the question is usually about.",
        "efficient": "No: school means of different precision get the same weight.",
        "honest": "Yes, for the between-school effect.",
        "robust": "Simple and assumption-light, but answers another question.",
    },
    "mixed": {
        "consistent": "For the within-school effect only if it equals the between-school effect; otherwise a mixture, much closer to the within effect than pooled OLS, and consistent for it as schools grow larger, not as they grow more numerous.",
        "efficient": "Yes: each school is weighted by the information it carries.",
        "honest": "Yes: its SE includes the variation between schools.",
        "robust": "Depends on the model for the random effects; a contextual variable removes the main bias.",
    },
    "mixed_contextual": {
        "consistent": "Yes: separate estimates of the within-school and the between-school effect, and their difference, the contextual effect.",
        "efficient": "Yes.",
        "honest": "Yes.",
        "robust": "The most robust of the seven to a contextual effect; it still relies on the random-effects model for its SEs.",
    },
}


def summary_table(methods: Sequence[str], labels: Mapping[str, str]) -> pd.DataFrame:
    rows = []
    for m in methods:
        v = METHOD_VERDICTS[m]
        rows.append({"Method": labels.get(m, m), "Consistent?": v["consistent"], "Efficient?": v["efficient"], "Honest?": v["honest"], "Robust?": v["robust"]})
    return pd.DataFrame(rows)
