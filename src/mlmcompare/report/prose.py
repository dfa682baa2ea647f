"""Sentences computed from the data: counts, comparisons, flags.

Every comparative word the handout prints (larger, smaller, between,
agrees, differs) and every count comes from a function here, of numbers
only, so that a handout built from any data says what those data show.
Remarks about the source lectures belong to the bundled data sets they
describe, which `bundled_dataset` recognises by the file's sha256, never by
its name.
"""

from __future__ import annotations

import math
from typing import Mapping, Sequence

from .format import count, df_text, num, p_clause

#: sha256 of the bundled data files -> the data set the lectures describe
BUNDLED = {
    "bd5df24dffa6d6b3bf0b040ae252c90812b1cefccc6fc2f40e6b73e1dfa2bef8": "hs",
    "5e6a2c2eb097a790b96edc65807f7efbc1349f7482095f7b82949bf448806c15": "hsfull",
}

#: the lecture each bundled data set is the data of
LECTURES = {
    "hs": '"Hierarchical Models to Mixed Models" (High School and Beyond, 40 schools)',
    "hsfull": 'the lecture on the sector gap in the full High School and Beyond data (160 schools)',
}


def bundled_dataset(sha256: str | None) -> str | None:
    """"hs" or "hsfull" for the bundled files the lectures use, else None."""
    return BUNDLED.get(str(sha256 or ""))


# ------------------------------------------------------------------ counts
def level_counts(per_level: Mapping[str, int], order: Sequence[str] | None = None) -> str:
    """"21 Catholic, 19 Public" in the order of `order` (else as given)."""
    keys = [k for k in (order or per_level) if k in per_level]
    return ", ".join(f"{int(per_level[k])} {k}" for k in keys)


def sample_sentence(dataset: str, source: str, n_rows: int, n_groups: int, per_level: Mapping[str, int],
                    size_min: int, size_max: int, dropped: int, response: str, predictor: str,
                    group: str, factor: str, reference: str, order: Sequence[str] | None = None) -> str:
    """What the data are: rows, groups by level of the compared factor, sizes, drops, roles."""
    sizes = f"{size_min} students per school" if size_min == size_max else f"{size_min} to {size_max} students per school"
    drop = (f"{dropped} {'row' if dropped == 1 else 'rows'} with a missing {response} or {predictor} "
            f"{'was' if dropped == 1 else 'were'} dropped, as the configuration asked. " if dropped else "No row was dropped. ")
    return (f"The data set *{dataset}* (`{source}`) has {count(n_rows)} students in {count(n_groups)} schools "
            f"({level_counts(per_level, order)}), with {sizes}. {drop}The response is `{response}`, the level-1 "
            f"predictor `{predictor}`, the schools are identified by `{group}` and the level-2 factor compared is "
            f"`{factor}`, with **{reference}** as its reference level.")


def lecture_count_note(bundled: str | None, per_level: Mapping[str, int]) -> str | None:
    """The lecture on `hs` says 21 Public and 19 Catholic schools; say what the data have
    (only for that data set)."""
    if bundled != "hs":
        return None
    said = {"Public": 21, "Catholic": 19}
    if dict(per_level) == said:
        return None
    return (f"The source lecture says its {sum(said.values())} schools are 21 Public and 19 Catholic. The data, "
            f"which reproduce every estimate the lecture prints, have {level_counts(per_level)} schools; "
            "this handout reports what the data have.")


# ------------------------------------------------------------- comparisons
def relative_word(value: float, reference: float, tolerance: float = 0.0) -> str:
    """"larger than", "smaller than" or "equal to" (within `tolerance`)."""
    if abs(value - reference) <= tolerance:
        return "equal to"
    return "larger than" if value > reference else "smaller than"


def position_phrase(value: float, others: Mapping[str, float]) -> str:
    """Where `value` lies against the `others`: "larger than all", "smaller
    than all" or "within the range of" (to be followed by what they are)."""
    vals = list(others.values())
    if all(value > v for v in vals):
        return "larger than all"
    if all(value < v for v in vals):
        return "smaller than all"
    return "within the range of"


def pooled_against_within(pooled: float, within: Mapping[str, float]) -> str:
    """The pooled estimate of the slope gap against the within-school ones."""
    listed = ", ".join(f"{num(v)} ({k})" for k, v in within.items())
    where = position_phrase(pooled, within)
    if where == "within the range of":
        tail = ("here it falls among them, so the mixture does not show in the gap's size, though it is still "
                "not aimed at the within-school gap.")
    else:
        tail = ("it mixes in the between-school relation, which pulls it "
                f"{'up' if where.startswith('larger') else 'down'} here.")
    return (f"Pooled OLS puts the difference at {num(pooled)}, {where} the within-school estimates ({listed}): "
            + tail)


def times(a: float, b: float) -> str:
    """a against b in words: "2.1 times", "about the same as" (within 5%), "0.62 times"."""
    if b == 0 or not (math.isfinite(a) and math.isfinite(b)):
        return "—"
    r = a / b
    if abs(r - 1) < 0.05:
        return "about the same as"
    return f"{num(r, 2)} times"


def ratio_sentence(name_a: str, a: float, name_b: str, b: float) -> str:
    """"the X (0.454) is 0.89 times the Y (0.508)", or "about the same as"."""
    t = times(a, b)
    if t == "about the same as":
        return f"the {name_a} ({num(a)}) is about the same as the {name_b} ({num(b)})"
    return f"the {name_a} ({num(a)}) is {t} the {name_b} ({num(b)})"


def same_centre_sentence(a: float, b: float, tolerance: float = 1e-8) -> str:
    """Whether the fixed-effects school lines and the two-stage gap coincide."""
    if abs(a - b) <= tolerance * max(1.0, abs(a)):
        return (f"The fixed-effects school lines and the two-stage model have the same centre ({num(a)}), because "
                "both average the same school lines with equal weights")
    return (f"The fixed-effects school lines ({num(a)}) and the two-stage model ({num(b)}) differ here because the "
            "two-stage model leaves out schools whose line cannot be estimated")


# --------------------------------------------------------------- fit flags
def fit_problem(converged: bool, singular: bool, warnings: Sequence[str] = (), correlation: float | None = None) -> str | None:
    """What is wrong with a fit, in words, or None."""
    parts = []
    if not converged:
        parts.append("did not converge")
    if singular:
        what = "is singular: an estimated variance or correlation of the random effects lies on the boundary"
        if correlation is not None and math.isfinite(correlation) and abs(abs(correlation) - 1) < 1e-3:
            what = (f"is singular: the estimated correlation of the random intercepts and slopes is "
                    f"{'+1' if correlation > 0 else '-1'}")
        parts.append(what)
    return " and ".join(parts) if parts else None


def fit_problems(fits, varcorr=None) -> dict[str, str | None]:
    """Each method's fit problem in words (None where the fit is fine), from the
    methods' glance tables; `varcorr` (the mixed model's variance components)
    gives the correlation a singular random-slopes fit sits at."""
    corr = None
    if varcorr is not None:
        c = varcorr.loc[varcorr["var2"].notna() & (varcorr["grp"] != "Residual"), "sdcor"]
        corr = float(c.iloc[0]) if len(c) else None
    return {r.method: fit_problem(bool(r.converged), bool(r.singular), list(r.warnings), corr if r.method == "mixed" else None)
            for r in fits.itertuples()}


def fit_flag(label: str, problem: str, gap_se: float | None = None, gap_df: float | None = None,
             alternative: str | None = None) -> str:
    """A call-out for a troubled fit where its numbers first appear: what is wrong,
    what it means for its standard errors, and which fit to read instead."""
    text = f"**{label}: read with care.** The fit {problem}. "
    text += ("Its standard errors and Satterthwaite df treat a boundary estimate as if it were an interior one"
             + (f" (the slope gap's SE {num(gap_se)} on {df_text(gap_df)} df)" if gap_se is not None else "")
             + ", so they are less trustworthy than they look. ")
    if alternative:
        text += f"The {alternative[:1].lower() + alternative[1:]}, which is not singular, is the one to read."
    return text


def fit_flags(lines, problems: Mapping[str, str | None], labels: Mapping[str, str], mark: str = " †") -> list[str]:
    """One call-out per troubled fit (`fit_flag`), with its slope gap's SE and df
    from the sector lines; the contextual mixed model is named as the one to
    read where its own fit is fine."""
    ok_ctx = "mixed_contextual" in problems and not problems["mixed_contextual"]
    out = []
    for m, problem in problems.items():
        if not problem:
            continue
        r = lines[(lines["method"] == m) & (lines["kind"] == "difference")].iloc[0]
        alternative = labels.get("mixed_contextual", "mixed_contextual") if ok_ctx and m != "mixed_contextual" else None
        out.append(fit_flag(labels.get(m, m) + mark, problem, math.sqrt(r["var_slope"]), r["df_slope"], alternative))
    return out


def fit_notes(problems: Mapping[str, str | None], study_singular: str | None = None) -> str:
    """One paragraph on the fits of these data (and, apart, on the study's replicates)."""
    bad = {k: v for k, v in problems.items() if v}
    if bad:
        text = "**Fit notes.** " + " ".join(f"{k}: the fit {v}." for k, v in bad.items())
    else:
        text = "**Fit notes.** Every model fitted to these data converged, and none is singular."
    if study_singular:
        text += " " + study_singular
    return text


# ------------------------------------------------------------------ effects
def sign_word(v: float) -> str:
    return "positive" if v > 0 else "negative" if v < 0 else "zero"


def effects_sentence(within: float, between: float, pooled: float) -> str:
    """Where the pooled slope lies, and what the paradoxes say for these signs."""
    lo, hi = sorted((within, between))
    where = ("lies between them" if lo <= pooled <= hi else
             "lies outside the range of the two")
    robinson = (within > 0) != (between > 0)
    simpson = (within > 0) != (pooled > 0)
    text = f"The pooled slope {num(pooled)} {where}. "
    if robinson:
        text += f"The within ({sign_word(within)}) and between ({sign_word(between)}) effects differ in sign: Robinson's paradox occurs. "
    elif within != 0:
        text += (f"The within and between effects have the same sign, so Robinson's paradox does not appear in its "
                 f"sign-reversing form, but the same mechanism is at work: the between effect is "
                 f"{num(between / within, 2)} times the within effect. ")
    if simpson:
        text += "The pooled and within effects differ in sign: Simpson's paradox occurs. "
    return text


def ecological_fallacy_sentence(within: float, between: float) -> str:
    """The ecological fallacy, with how far off it would be on these data."""
    text = ("The *ecological fallacy* is to estimate $\\beta_B$ (from aggregated data, e.g. school means) and read it "
            "as $\\beta_W$, a statement about individual students")
    if within != 0 and (within > 0) == (between > 0):
        r = between / within
        text += (f"; here that would make the apparent effect of a student's own predictor {num(r, 2)} times "
                 f"{'too large' if r > 1 else 'too small'}")
    elif within != 0:
        text += "; here it would even reverse the sign"
    return text + ("; the *atomistic fallacy* is the reverse, to estimate $\\beta_W$ and read it as the effect of "
                   "changing a school's composition. Pooled OLS risks both, since its slope is neither.")


# ----------------------------------------------------------------- tests
def significance_phrase(p: float, level: float = 0.05) -> str:
    return f"({p_clause(p)})" + ("" if p < level else ", not significant at the 5% level")


def hausman_sentence(statistic: float, df: float, p: float) -> str:
    text = f"The joint test gives H = {num(statistic)} on {df_text(df)} df ({p_clause(p)})"
    if p < 0.05:
        return text + (": the random-effects slopes differ from the within-school ones by more than chance allows, "
                       "the signature of a contextual effect. The remedy is the contextual variable, which lets both "
                       "effects be estimated without contamination.")
    return text + ": no clear evidence that the random-effects slopes are pulled away from the within-school ones."


