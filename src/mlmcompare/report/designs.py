"""The designs handout's text: its digits policy, words computed from numbers,
and the checks against the source lectures for its instructor appendix.

Digits policy: the main handout's (`report.format`), with shares as whole
percentages (`pct`), a minus sign (−), not a hyphen, in every negative
number the handout prints, in prose and tables alike (`num`, `full`), and
numerically found degrees of freedom within 10⁻⁴ of an integer as that
integer (`df_text`).

Remarks about the source lectures belong to the bundled files they describe,
recognised by sha256 (`bundled_file`, `lecture_of`), never by file name; `timss_checks` and
`grocery_checks` set the numbers each lecture prints beside ours, and
`timss_rounding` shows why the TIMSS lecture's numbers that rest on the
variance of its school means cannot be reproduced from the means it prints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import format as fmt
from .format import agrees, half_unit, printed_value


def minus(number: str) -> str:
    """A formatted number with a minus sign, not a hyphen ("-0.583" -> "−0.583")."""
    return "−" + number[1:] if number.startswith("-") else number


def num(x: float | None, digits: int = 4) -> str:
    """`report.format.num` with a minus sign ("−0.6020")."""
    return minus(fmt.num(x, digits))


def full(x: float | None, digits: int = 7) -> str:
    """`report.format.full` (the checking appendix's precision) with a minus sign."""
    return minus(fmt.full(x, digits))


def df_text(df: float | None) -> str:
    """`report.format.df_text`, with a df within 10⁻⁴ of an integer printed as
    that integer: a Satterthwaite df found numerically (26.999999) where the
    exact one is a whole number (27) prints as "27", not "27.0"."""
    if df is not None and math.isfinite(float(df)) and abs(float(df) - round(float(df))) < 1e-4:
        df = float(round(float(df)))
    return fmt.df_text(df)


def pct(share: float | None, decimals: int = 0) -> str:
    """A share as a whole percentage unless told otherwise ("51%")."""
    return minus(fmt.pct(share, decimals))


def article(word: str) -> str:
    """"a" or "an" for `word` as written at its start ("an item", "a store");
    a leading code mark or quote does not count."""
    bare = word.lstrip("`*_'\"(").lower()
    if bare.startswith(("uni", "use", "usu", "eu", "one")):  # a consonant sound: "a unit", "a user"
        return "a"
    return "an" if bare[:1] in ("a", "e", "i", "o", "u") else "a"


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


@dataclass(frozen=True)
class Check:
    """A number a lecture prints and ours. `kind` says how ours is shown and
    whether it is a check at all: "estimate" (full precision), "count" (an
    integer, as the handout prints it), "input" (a number this handout takes
    from the lecture, or computes from such numbers alone: agreeing with the
    lecture it checks nothing)."""

    quantity: str
    printed: str
    ours: float
    kind: str = "estimate"


INPUT = "input, not a check"
AGREES = "Agrees to the printed digits"


def checks_table(rows: Sequence[Check]) -> pd.DataFrame:
    """Quantity, the lecture's printed value, ours (full precision; counts as
    integers, inputs without padding zeros), and whether they agree ("yes", "no", or
    `INPUT` for a number that is not a check)."""
    def shown(c: Check) -> str:
        if c.kind == "count":
            return df_text(c.ours)
        if c.kind == "input":  # as given, no padding zeros (70.666)
            return minus(f"{float(c.ours):.7g}")
        return full(c.ours)

    def verdict(c: Check) -> str:
        if c.kind == "input":
            return INPUT
        return "yes" if agrees(c.ours, c.printed) else "no"

    return pd.DataFrame([{"Quantity": c.quantity, "Lecture": c.printed, "This handout": shown(c), AGREES: verdict(c)}
                         for c in rows])


def disagreements(table: pd.DataFrame) -> tuple[int, list[str]]:
    """How many rows of a checks table are checks, and the quantities of those that disagree."""
    checked = table[table[AGREES] != INPUT]
    return len(checked), checked.loc[checked[AGREES] == "no", "Quantity"].tolist()


#: what the TIMSS lecture prints (one-way random effects, 20 schools of 30 students)
TIMSS = {
    "gamma00": "538.979", "se": "16.422", "df": "19", "t": "32.821", "tau00": "5227",
    "sd_between": "72.298", "sd_within": "70.666", "loglik": "−3436.7", "aic": "6879.4", "bic": "6892.6",
    "var_means": "5393.40", "var_means_rounded": "5393", "error_var": "166.5", "moment_tau00": "5226.5",
    "reliability": "0.97", "icc": "0.51",
}


def timss_checks(coef: pd.Series, summary: pd.Series, clustering: pd.Series) -> pd.DataFrame:
    """The TIMSS lecture's printed numbers and ours (one-way part). The
    within-school SD is the lecture's, this handout's input, and the error
    variance of a school mean is computed from it alone: neither is a check."""
    p = TIMSS
    return checks_table([
        Check("$\\hat\\gamma_{00}$", p["gamma00"], coef["estimate"]),
        Check("SE of $\\hat\\gamma_{00}$", p["se"], coef["std_error"]),
        Check("df", p["df"], coef["df"], "count"),
        Check("$t$", p["t"], coef["statistic"]),
        Check("$\\hat\\tau_{00}$", p["tau00"], summary["tau00"]),
        Check("between-school SD $\\sqrt{\\hat\\tau_{00}}$", p["sd_between"], summary["sd_between"]),
        Check("within-school SD $\\hat\\sigma$", p["sd_within"], summary["sd_within"], "input"),
        Check("log-likelihood", p["loglik"], summary["loglik"]),
        Check("AIC", p["aic"], summary["aic"]),
        Check("BIC", p["bic"], summary["bic"]),
        Check("variance of the school means", p["var_means"], summary["naive_var"]),
        Check("$\\hat V_j = \\hat\\sigma^2 / n_j$", p["error_var"], summary["error_var_mean"], "input"),
        Check(f"$\\hat\\tau_{{00}}$ by moments ({p['var_means_rounded']} − {p['error_var']})", p["moment_tau00"],
              summary["moment_tau00"]),
        Check("reliability of a school mean", p["reliability"], summary["reliability_mean"]),
        Check("ICC", p["icc"], summary["icc"]),
    ])


def rounding_bound(means: Sequence[float], decimals: int = 2) -> float:
    """The most that rounding each of `means` to `decimals` decimals can move
    their sample variance: with errors |δ_j| ≤ h, the variance changes by
    (2 Σ d_j δ_j + Σ (δ_j − δ̄)²)/(J − 1), d_j the deviations from the mean,
    at most (2h Σ|d_j| + J h²)/(J − 1)."""
    m = np.asarray(means, dtype=float)
    h = 0.5 * 10.0 ** (-decimals)
    return float((2 * h * np.abs(m - m.mean()).sum() + len(m) * h**2) / (len(m) - 1))


def implied_var_of_means(sd_between: str, sd_within: str, n: int) -> tuple[float, float, float]:
    """The variance of the group means that printed REML SDs of a balanced
    one-way design imply, τ̂00 + σ̂²/n (REML's τ̂00 is the variance of the means
    less σ̂²/n when it is positive): at the printed digits, and the least and
    most that SDs rounding to them allow."""
    def var(tb: float, sw: float) -> float:
        return tb**2 + sw**2 / n

    b, w = printed_value(sd_between), printed_value(sd_within)
    hb, hw = half_unit(sd_between), half_unit(sd_within)
    return var(b - hb, w - hw), var(b, w), var(b + hb, w + hw)


def timss_rounding(means: Sequence[float], n: int, sd_within: float) -> dict[str, float]:
    """Why the TIMSS numbers that rest on the variance of the school means
    differ from the lecture's: the variance of the means as printed (rounded
    to 2 decimals), the most rounding can move it, the range the lecture's own
    SDs imply, and the SE, t, between-school SD and moment estimate computed
    from the lecture's printed variance instead of ours (balanced design)."""
    m = np.asarray(means, dtype=float)
    J = len(m)
    var_lecture = printed_value(TIMSS["var_means"])
    low, mid, high = implied_var_of_means(TIMSS["sd_between"], TIMSS["sd_within"], n)
    se = math.sqrt(var_lecture / J)
    return {
        "var_printed_means": float(m.var(ddof=1)), "var_lecture": var_lecture, "rounding_bound": rounding_bound(m),
        "implied_low": low, "implied": mid, "implied_high": high,
        "se_from_lecture_var": se, "t_from_lecture_var": float(m.mean()) / se,
        "sd_between_from_lecture_var": math.sqrt(var_lecture - sd_within**2 / n),
        "error_var": sd_within**2 / n, "moment_from_lecture_var": var_lecture - sd_within**2 / n,
    }


def grocery_checks(t: Callable[[str], pd.DataFrame], subject: str, condition: str) -> pd.DataFrame:
    """The grocery example's printed numbers (aov, car::Anova, aov1rm, lme4's anova) and ours."""
    a2 = t("rmanova/anova_twoway").set_index("term")
    mv = t("rmanova/anova_mv").set_index("term")
    eps = t("rmanova/epsilon").set_index("correction")
    lrt = t("rmanova/mixed_lrt").iloc[0]
    mf = t("rmanova/mixed_fits")
    return checks_table([
        Check(f"{condition} SS", "0.5859", a2.loc[condition, "sumsq"]),
        Check(f"{condition} MS", "0.19529", a2.loc[condition, "meansq"]),
        Check("residual MS", "0.04495", a2.loc["Residuals", "meansq"]),
        Check(f"{subject} SS", "115.19", a2.loc[subject, "sumsq"]),
        Check(f"{subject} $F$", "284.722", a2.loc[subject, "statistic"]),
        Check(f"{condition} $F$", "4.344209", a2.loc[condition, "statistic"]),
        Check(f"{condition} p", "0.01273035", a2.loc[condition, "p_value"]),
        Check("intercept SS (multivariate table)", "240.688", mv.loc["(Intercept)", "sumsq"]),
        Check("intercept $F$", "18.8049", mv.loc["(Intercept)", "statistic"]),
        Check("intercept p", "0.001887", mv.loc["(Intercept)", "p_value"]),
        Check("Greenhouse–Geisser $\\hat\\varepsilon$", "0.6391090", eps.loc["Greenhouse-Geisser", "epsilon"]),
        Check("p (Greenhouse–Geisser)", "0.0309308", eps.loc["Greenhouse-Geisser", "p_value"]),
        Check("Huynh–Feldt $\\hat\\varepsilon$", "0.8082292", eps.loc["Huynh-Feldt", "epsilon"]),
        Check("p (Huynh–Feldt)", "0.02033859", eps.loc["Huynh-Feldt", "p_value"]),
        Check("LRT $\\chi^2$", "11.816", lrt["statistic"]),
        Check("LRT p", "0.008042", lrt["p_value"]),
        Check("AIC, null model", "59.546", mf["aic"].iloc[0]),
        Check("AIC, with stores", "53.731", mf["aic"].iloc[1]),
        Check("BIC, null model", "64.613", mf["bic"].iloc[0]),
        Check("BIC, with stores", "63.864", mf["bic"].iloc[1]),
        Check("log-likelihood, null model", "−26.773", mf["loglik"].iloc[0]),
        Check("log-likelihood, with stores", "−20.865", mf["loglik"].iloc[1]),
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
