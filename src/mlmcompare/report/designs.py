"""The designs handout's text: its digits policy, words computed from numbers,
and the checks against the source lectures for its instructor appendix.

Digits policy: the main handout's (`report.format`), with shares as whole
percentages (`pct`).

Remarks about the source lectures belong to the bundled files they describe,
recognised by sha256 (`bundled_file`, `lecture_of`), never by file name; `timss_checks` and
`grocery_checks` set the numbers each lecture prints beside ours.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from .format import full, num
from .format import pct as format_pct

def pct(share: float | None, decimals: int = 0) -> str:
    """A share as a whole percentage unless told otherwise ("51%")."""
    return format_pct(share, decimals)


# ------------------------------------------------------------ words from numbers
def compared(a: float, b: float, larger: str = "larger", smaller: str = "smaller",
             same: str = "the same", rel_tol: float = 0.005) -> str:
    """How `a` compares with `b`: `larger`, `smaller`, or `same` within `rel_tol`."""
    if abs(a - b) <= rel_tol * max(abs(a), abs(b)):
        return same
    return larger if a > b else smaller


def ratio_text(ratio: float) -> str:
    """A ratio of two standard errors in words: "0.56 times", "1.8 times"."""
    return f"{num(ratio, 2)} times"


def preferred_by(labels_aic: str, labels_bic: str) -> str:
    """"AIC and BIC both prefer X" or "AIC prefers X and BIC Y"."""
    if labels_aic == labels_bic:
        return f"AIC and BIC both prefer *{labels_aic}*"
    return f"AIC prefers *{labels_aic}* and BIC *{labels_bic}*"


def listing(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --------------------------------------------------------- the source lectures
#: sha256 of the bundled files -> (key, where the data come from)
BUNDLED = {
    "979240bc5f5a74fa4ad20d115a38eca05ea991db3de9af9b75d6f0006f2d93b3":
        ("timss20", "TIMSS 2019, 20 U.S. schools: the school means printed in the lecture"),
    "3ae1a526ab6e81d2fc1c37d5db63862e6bce1fb27a5e7496c20042250048546c":
        ("grocery", "grocery prices, as printed in the lecture notes (W. B. King)"),
    "5e6a2c2eb097a790b96edc65807f7efbc1349f7482095f7b82949bf448806c15":
        ("hsfull", "High School and Beyond, 160 schools (R package spida2)"),
    "24db9538cf01fd8e25d1ac856cbcbf8aaf5860ea94a67bf086106df6202bcdfe":
        ("threelevel", "simulated with a fixed seed (tests/golden/make_golden_multi.R)"),
    "8d7e09b5c2519c595a7515028cba5ea149dcd9f99aa08e423534bd139a1eae1f":
        ("penicillin", "Davies and Goldsmith (1972), section 6.6, as shipped with lme4"),
}

#: the lecture that describes each bundled file it prints numbers of
LECTURES = {
    "timss20": "the lecture on one-way ANOVA with random effects (TIMSS 2019)",
    "grocery": "the lecture notes on linear mixed-effects regression (grocery example)",
}


def bundled_file(sha256: str | None) -> str | None:
    """The bundled file this is ("timss20", "grocery", "hsfull", "threelevel", "penicillin"), or None."""
    entry = BUNDLED.get(str(sha256 or ""))
    return entry[0] if entry else None


def lecture_of(sha256: str | None) -> str | None:
    """The key of the lecture that prints numbers of this file ("timss20", "grocery"), or None."""
    key = bundled_file(sha256)
    return key if key in LECTURES else None


def agrees(ours: float, printed: str) -> bool:
    """Whether `ours` rounds to the printed number (half a unit of its last digit)."""
    text = printed.replace("−", "-").replace(",", "")
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(ours) - float(text)) <= 0.5 * 10.0 ** (-decimals) * (1 + 1e-9)


def checks_table(rows: Sequence[tuple[str, str, float]]) -> pd.DataFrame:
    """Quantity, the lecture's printed value, ours at full precision, and whether they agree."""
    return pd.DataFrame([{"Quantity": q, "Lecture": printed, "This handout": full(ours),
                          "Agrees to the printed digits": "yes" if agrees(ours, printed) else "no"}
                         for q, printed, ours in rows])


def timss_checks(coef: pd.Series, summary: pd.Series, clustering: pd.Series) -> pd.DataFrame:
    """The TIMSS lecture's printed numbers and ours (one-way part)."""
    return checks_table([
        ("γ00", "538.979", coef["estimate"]),
        ("SE of γ00", "16.422", coef["std_error"]),
        ("df", "19", coef["df"]),
        ("t", "32.821", coef["statistic"]),
        ("between-school SD", "72.298", summary["sd_between"]),
        ("within-school SD", "70.666", summary["sd_within"]),
        ("log-likelihood", "−3436.7", summary["loglik"]),
        ("AIC", "6879.4", summary["aic"]),
        ("BIC", "6892.6", summary["bic"]),
        ("variance of the school means", "5393", summary["naive_var"]),
        ("V_j = σ² / n_j", "166.5", summary["error_var_mean"]),
        ("τ00 by moments (5393 − 166.5)", "5226.5", summary["moment_tau00"]),
        ("reliability of a school mean", "0.97", summary["reliability_mean"]),
        ("ICC", "0.51", summary["icc"]),
    ])


def grocery_checks(t: Callable[[str], pd.DataFrame], subject: str, condition: str) -> pd.DataFrame:
    """The grocery example's printed numbers (aov, car::Anova, aov1rm, lme4's anova) and ours."""
    a2 = t("rmanova/anova_twoway").set_index("term")
    mv = t("rmanova/anova_mv").set_index("term")
    eps = t("rmanova/epsilon").set_index("correction")
    lrt = t("rmanova/mixed_lrt").iloc[0]
    mf = t("rmanova/mixed_fits")
    return checks_table([
        (f"{condition} SS", "0.5859", a2.loc[condition, "sumsq"]),
        (f"{condition} MS", "0.19529", a2.loc[condition, "meansq"]),
        ("residual MS", "0.04495", a2.loc["Residuals", "meansq"]),
        (f"{subject} SS", "115.19", a2.loc[subject, "sumsq"]),
        (f"{subject} F", "284.722", a2.loc[subject, "statistic"]),
        (f"{condition} F", "4.344209", a2.loc[condition, "statistic"]),
        (f"{condition} p", "0.01273035", a2.loc[condition, "p_value"]),
        ("intercept SS (multivariate table)", "240.688", mv.loc["(Intercept)", "sumsq"]),
        ("intercept F", "18.8049", mv.loc["(Intercept)", "statistic"]),
        ("intercept p", "0.001887", mv.loc["(Intercept)", "p_value"]),
        ("Greenhouse–Geisser ε", "0.6391090", eps.loc["Greenhouse-Geisser", "epsilon"]),
        ("p (Greenhouse–Geisser)", "0.0309308", eps.loc["Greenhouse-Geisser", "p_value"]),
        ("Huynh–Feldt ε", "0.8082292", eps.loc["Huynh-Feldt", "epsilon"]),
        ("p (Huynh–Feldt)", "0.02033859", eps.loc["Huynh-Feldt", "p_value"]),
        ("LRT χ²", "11.816", lrt["statistic"]),
        ("LRT p", "0.008042", lrt["p_value"]),
        ("AIC, null model", "59.546", mf["aic"].iloc[0]),
        ("AIC, with stores", "53.731", mf["aic"].iloc[1]),
        ("BIC, null model", "64.613", mf["bic"].iloc[0]),
        ("BIC, with stores", "63.864", mf["bic"].iloc[1]),
        ("log-likelihood, null model", "−26.773", mf["loglik"].iloc[0]),
        ("log-likelihood, with stores", "−20.865", mf["loglik"].iloc[1]),
    ])


def provenance_rows(inputs: Mapping[str, Mapping[str, str]], sections: Mapping[str, str]) -> pd.DataFrame:
    """One row per input file: the handout section that reads it, its name, its
    sha256 (shortened) and, for a bundled file, where its data come from."""
    rows = []
    for key, item in inputs.items():
        entry = BUNDLED.get(str(item.get("sha256", "")))
        rows.append({"Section": sections.get(key, key), "File": f"`{item['name']}`",
                     "sha256": f"`{str(item['sha256'])[:12]}…`",
                     "Source": entry[1] if entry else "not a bundled file"})
    return pd.DataFrame(rows)
