"""What the handout shows of the study: verdicts with measured figures.

The handout's summary of methods puts, beside each verdict of
`mlmcompare.report.comparison.METHOD_VERDICTS`, what the study measured for a design of
the handout's own size (the scenarios with normal random effects, mean
school size 30 and the number of schools nearest the data's):

- consistent: bias without and with a contextual effect;
- efficient: variance of the mixed model's estimate over the method's;
- honest: coverage of the 95% interval (with its Monte Carlo SE) and the
  ratio of mean reported SE to the empirical SD;
- robust: change in coverage under heavy-tailed random effects and under
  heteroscedastic level-1 errors (the scenarios with a `baseline`).

`study_findings` turns the same numbers into sentences, saying where a
measurement bears out a verdict and where it contradicts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .comparison import METHOD_VERDICTS
from .format import fmt
from ..study.run import CR2_METHOD

CR2_LABEL = "Pooled OLS, CR2 cluster-robust SE"

#: our verdicts for the eighth method of the study
CR2_VERDICTS = {
    "consistent": "No, as pooled OLS: the same estimate.",
    "efficient": "As pooled OLS.",
    "honest": "For what pooled OLS estimates, nearly: schools, not students, are the independent units of its SE, with small-sample corrections (CR2, Bell-McCaffrey df).",
    "robust": "Its SE needs no model for how schools differ; the target still moves with the design.",
}

#: |z| beyond which a Monte Carlo difference counts as real
Z = 2.0


def verdicts(method: str) -> Mapping[str, str]:
    return CR2_VERDICTS if method == CR2_METHOD else METHOD_VERDICTS[method]


def method_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {**labels, CR2_METHOD: CR2_LABEL}


@dataclass(frozen=True)
class Design:
    """The scenarios that stand for one data set's design."""

    n_groups: int
    mean_size: float
    none: str  # no contextual effect
    ctx: str  # contextual effect
    robust: tuple[str, ...]  # variants of a baseline scenario


def design_for(summary: pd.DataFrame, n_groups: int, mean_size: float) -> Design:
    """The plain scenarios (normal, homoscedastic) of the mean size nearest
    `mean_size` whose number of schools is nearest `n_groups`."""
    plain = summary[(summary["random_effects"] == "normal") & (summary["heteroscedasticity"] == 0) & (summary["baseline"] == "")]
    nearest = plain["mean_size"].iloc[int((plain["mean_size"] - mean_size).abs().argmin())]
    sized = plain[plain["mean_size"] == nearest]
    J = int(sized.loc[(sized["n_groups"] - n_groups).abs().idxmin(), "n_groups"])
    at = sized[sized["n_groups"] == J]
    none = at.loc[~at["contextual"], "scenario"]
    ctx = at.loc[at["contextual"], "scenario"]
    robust = tuple(dict.fromkeys(summary.loc[summary["baseline"] != "", "scenario"]))
    return Design(J, float(nearest), none.iloc[0] if len(none) else "", ctx.iloc[0] if len(ctx) else "", robust)


def cell(summary: pd.DataFrame, scenario: str, method: str) -> pd.Series | None:
    row = summary[(summary["scenario"] == scenario) & (summary["method"] == method)]
    return row.iloc[0] if len(row) else None


def fmt_coverage(r: pd.Series | None) -> str:
    if r is None or not np.isfinite(r["coverage"]):
        return "—"
    return f"{100 * r['coverage']:.1f}% ± {100 * r['coverage_mc_se']:.1f}"


def fmt_signed(x: float, digits: int = 2) -> str:
    return "—" if x is None or not np.isfinite(x) else f"{x:+.{digits}f}"


def coverage_change(summary: pd.DataFrame, scenario: str, method: str) -> float:
    """Coverage in a variant scenario minus coverage in its baseline (points)."""
    r = cell(summary, scenario, method)
    if r is None or not r["baseline"]:
        return np.nan
    b = cell(summary, r["baseline"], method)
    return 100 * (r["coverage"] - b["coverage"]) if b is not None else np.nan


def variant_label(summary: pd.DataFrame, scenario: str) -> str:
    """e.g. 't3 random effects (J = 40)'."""
    r = summary[summary["scenario"] == scenario].iloc[0]
    if r["random_effects"] != "normal":
        what = f"{r['random_effects']} random effects"
    elif r["heteroscedasticity"]:
        what = "heteroscedastic errors"
    else:
        what = scenario
    return f"{what} (J = {int(r['n_groups'])})"


def summary_with_measurements(summary: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str], d: Design) -> pd.DataFrame:
    """The summary-of-methods table: each verdict followed by what was measured."""
    labels = method_labels(labels)
    rows = []
    for m in [*methods, *([CR2_METHOD] if CR2_METHOD in set(summary["method"]) else [])]:
        v = verdicts(m)
        none, ctx = cell(summary, d.none, m), cell(summary, d.ctx, m)
        if none is None:
            continue
        bias = f"bias {fmt_signed(none['bias'])} without, {fmt_signed(ctx['bias']) if ctx is not None else '—'} with a contextual effect"
        eff = f"efficiency {fmt(none['rel_efficiency'], 2)} relative to the mixed model"
        honest = f"coverage {fmt_coverage(none)} (SE/SD {fmt(none['se_ratio'], 2)})"
        changes = ", ".join(f"{variant_label(summary, s)} {fmt_signed(coverage_change(summary, s, m), 1)}" for s in d.robust)
        robust = f"coverage change, {changes} points" if changes else "not measured"
        rows.append({
            "Method": labels.get(m, m),
            "Consistent?": f"{v['consistent']} *Measured:* {bias}.",
            "Efficient?": f"{v['efficient']} *Measured:* {eff}.",
            "Honest?": f"{v['honest']} *Measured:* {honest}.",
            "Robust?": f"{v['robust']} *Measured:* {robust}.",
        })
    return pd.DataFrame(rows)


def measured_table(summary: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str], d: Design) -> pd.DataFrame:
    """The numbers alone, for the design nearest the data: one row per method."""
    labels = method_labels(labels)
    rows = []
    for m in [*methods, *([CR2_METHOD] if CR2_METHOD in set(summary["method"]) else [])]:
        none, ctx = cell(summary, d.none, m), cell(summary, d.ctx, m)
        if none is None:
            continue
        row = {
            "Method": labels.get(m, m),
            "Bias": fmt_signed(none["bias"], 3),
            "Bias, contextual": fmt_signed(ctx["bias"], 3) if ctx is not None else "—",
            "Emp. SD": fmt(none["emp_sd"], 3),
            "Rel. eff.": fmt(none["rel_efficiency"], 2),
            "SE/SD": fmt(none["se_ratio"], 2),
            "Coverage": fmt_coverage(none),
            "Coverage, contextual": fmt_coverage(ctx),
        }
        for s in d.robust:
            row[f"Δ cov., {variant_label(summary, s)}"] = fmt_signed(coverage_change(summary, s, m), 1)
        row["Failed / flagged"] = f"{int(none['n_failed'])} / {int(none['n_flagged'])}"
        rows.append(row)
    return pd.DataFrame(rows)


def covers(r: pd.Series, level: float = 0.95) -> bool:
    """Coverage within Z Monte Carlo SEs of the nominal level (SE at the nominal level)."""
    se = np.sqrt(level * (1 - level) / r["n_estimates"])
    return abs(r["coverage"] - level) <= Z * se


def under_covers(r: pd.Series, level: float = 0.95) -> bool:
    se = np.sqrt(level * (1 - level) / r["n_estimates"])
    return r["coverage"] < level - Z * se


def biased(r: pd.Series) -> bool:
    return abs(r["bias"]) > Z * r["bias_mc_se"]


def pct(r: pd.Series) -> str:
    return f"{100 * r['coverage']:.1f}%"


def study_findings(summary: pd.DataFrame, labels: Mapping[str, str], d: Design) -> list[str]:
    """Sentences on what the study bears out and what it contradicts."""
    L = method_labels(labels)
    c = lambda s, m: cell(summary, s, m)  # noqa: E731
    out: list[str] = []
    reps = int(summary["n_replicates"].max())
    band = 100 * Z * np.sqrt(0.95 * 0.05 / reps)
    out.append(
        f"With {reps} replicates per scenario a coverage is measured to about ±{band:.1f} points "
        f"(two Monte Carlo SEs at 95%); a bias counts as real when it exceeds two of its Monte Carlo SEs."
    )
    present = set(summary["method"])

    # Honesty of the methods the handout calls dishonest for sectors.
    for m in ("pooled_ols", "fe_school_lines", "fe_common_slope"):
        r = c(d.none, m) if m in present else None
        if r is None:
            continue
        if under_covers(r):
            out.append(f"*Borne out:* {L[m]} covers the true gap in only {pct(r)} of replicates (SE/SD {fmt(r['se_ratio'], 2)}); its standard error is too small.")
        else:
            why = (
                "the clustering it ignores inflates the variance of this estimate little here"
                if m == "pooled_ols"
                else "in an HSB-like design the variance of slopes between schools is small next to the sampling variance "
                "of each school's slope, so leaving it out of the SE costs little"
            )
            text = (
                f"*Contradicted here:* the handout calls {L[m]} dishonest for statements about sectors, yet its intervals cover "
                f"the true gap in {pct(r)} of replicates (SE/SD {fmt(r['se_ratio'], 2)}), within Monte Carlo error of 95%: "
                f"{why}. The verdict holds in principle, not in size at this design."
            )
            plain = summary[(summary["method"] == m) & ~summary["contextual"] & (summary["random_effects"] == "normal")
                            & (summary["heteroscedasticity"] == 0) & (summary["baseline"] == "")]
            worse = [row for _, row in plain.iterrows() if under_covers(row)]
            if worse:
                text += " It does fall short elsewhere: " + ", ".join(
                    f"{pct(w)} with J = {int(w['n_groups'])} schools of about {w['mean_size']:g}" for w in worse
                ) + "."
            out.append(text)
    # Honesty of the methods the handout calls honest.
    for m in ("two_stage", "mixed", "mixed_contextual", "pooled_ols_cr2"):
        r = c(d.none, m) if m in present else None
        if r is None:
            continue
        if under_covers(r):
            out.append(f"*Contradicted here:* {L[m]} is called honest, but its intervals cover the true gap in only {pct(r)} of replicates without a contextual effect (SE/SD {fmt(r['se_ratio'], 2)}).")
        else:
            out.append(f"*Borne out:* {L[m]} covers {pct(r)} without a contextual effect (SE/SD {fmt(r['se_ratio'], 2)}).")
    # Consistency under a contextual effect.
    for m in ("fe_school_lines", "fe_common_slope", "two_stage", "mixed_contextual"):
        r = c(d.ctx, m) if m in present else None
        if r is not None and biased(r):
            out.append(f"*Contradicted here:* {L[m]} should aim at the within-school gap, but its bias with a contextual effect is {fmt_signed(r['bias'], 3)} (Monte Carlo SE {fmt(r['bias_mc_se'], 3)}).")
    if {"pooled_ols", "mixed"} <= present and d.ctx:
        p, mx = c(d.ctx, "pooled_ols"), c(d.ctx, "mixed")
        text = (f"With a contextual effect pooled OLS is off by {fmt_signed(p['bias'], 3)} and covers {pct(p)}; the mixed model "
                f"is off by {fmt_signed(mx['bias'], 3)} (Monte Carlo SE {fmt(mx['bias_mc_se'], 3)}) and covers {pct(mx)}. ")
        if abs(mx["bias"]) < abs(p["bias"]):
            text += "*Borne out:* the mixed model is closer to the within-school gap than pooled OLS."
        else:
            text += "*Contradicted here:* the mixed model is not closer to the within-school gap than pooled OLS."
        if not biased(mx):
            text += (" At this size its bias is within Monte Carlo error of zero: what the mixture adds to each sector's "
                     "slope largely cancels in the *gap* between them.")
        out.append(text)
    # Consistent as clusters grow, not as their number grows.
    if "mixed" in present:
        ctx_rows = summary[(summary["method"] == "mixed") & summary["contextual"] & (summary["random_effects"] == "normal") & (summary["heteroscedasticity"] == 0)]
        J_sizes = ctx_rows.groupby("n_groups")["mean_size"].nunique()
        n_counts = ctx_rows.groupby("mean_size")["n_groups"].nunique()
        J0 = int(J_sizes.idxmax()) if len(J_sizes) else 0
        n0 = float(n_counts.idxmax()) if len(n_counts) else 0.0
        by_n = ctx_rows[ctx_rows["n_groups"] == J0].sort_values("mean_size")
        by_J = ctx_rows[ctx_rows["mean_size"] == n0].sort_values("n_groups")
        if len(by_n) > 1 and len(by_J) > 1:
            sn = ", ".join(f"{fmt_signed(r.bias, 3)} (n = {r.mean_size:g})" for r in by_n.itertuples())
            sJ = ", ".join(f"{fmt_signed(r.bias, 3)} (J = {r.n_groups})" for r in by_J.itertuples())
            text = f"The mixed model's bias with a contextual effect, as schools grow (J = {J0}): {sn}; as they multiply (n = {n0:g}): {sJ}."
            def shrinks(rows: pd.DataFrame) -> bool:
                a, b = rows.iloc[0], rows.iloc[-1]
                return abs(b["bias"]) < abs(a["bias"]) - Z * float(np.hypot(a["bias_mc_se"], b["bias_mc_se"]))

            big_J = by_J.iloc[-1]
            if shrinks(by_n):
                text += " *Borne out:* the bias shrinks as schools grow"
            else:
                text += " *Not shown at these sizes:* any decrease of the bias as schools grow is within Monte Carlo error"
            if shrinks(by_J):
                text += ", but it also shrinks as they multiply (which the handout says it should not)."
            elif biased(big_J):
                text += f", and more schools do not remove it (at J = {int(big_J['n_groups'])} it is still more than {Z:g} Monte Carlo SEs from zero)."
            else:
                text += f"; with more schools it is within Monte Carlo error of zero at J = {int(big_J['n_groups'])}."
            out.append(text)
    # Efficiency.
    if {"two_stage", "fe_school_lines", "fe_common_slope"} <= present:
        t, f1, f2 = c(d.none, "two_stage"), c(d.none, "fe_school_lines"), c(d.none, "fe_common_slope")
        out.append(
            f"Efficiency relative to the mixed model: two-stage {fmt(t['rel_efficiency'], 2)}, fixed-effects school lines "
            f"{fmt(f1['rel_efficiency'], 2)}, common sector slopes {fmt(f2['rel_efficiency'], 2)}. The school-lines "
            f"estimate is the two-stage estimate (both average the same school lines with equal weights), so the handout's "
            f"'yes' for one and 'no' for the other cannot both hold: the difference between them is in the SE, not in the estimate."
        )
    # Efficiency of the mixed model comes from between-school information.
    if {"mixed", "mixed_contextual"} <= present:
        mc = c(d.none, "mixed_contextual")
        if mc["rel_efficiency"] < 1 - Z * np.sqrt(2.0 / mc["n_estimates"]):
            out.append(
                f"Without a contextual effect the mixed model is more efficient than the contextual one (relative "
                f"efficiency of the latter {fmt(mc['rel_efficiency'], 2)}): it also uses the between-school information, "
                f"which is exactly what biases it when the between-school slope differs."
            )
    # Singular fits.
    for m in ("mixed", "mixed_contextual"):
        r = c(d.none, m) if m in present else None
        if r is not None and r["n_singular"] > 0:
            out.append(
                f"{L[m]}: {int(r['n_singular'])} of {int(r['n_replicates'])} fits were singular (a variance or correlation "
                f"of the random effects at its boundary); they are kept, as an analyst would keep them, and the coverage above includes them."
            )
    # Robustness: who loses coverage under each variant.
    for s in d.robust:
        rows = summary[summary["scenario"] == s]
        lost = [f"{L.get(r.method, r.method)} ({100 * r.coverage:.1f}%)" for r in rows.itertuples() if under_covers(pd.Series(r._asdict()))]
        label = variant_label(summary, s)
        if lost:
            out.append(f"Under {label} these intervals cover less than 95% beyond Monte Carlo error: {', '.join(lost)}.")
        else:
            out.append(f"Under {label} every method's intervals stay within Monte Carlo error of their coverage at 95%.")
    return out
