"""What the handout shows of the study: verdicts judged by measurements.

The handout's summary of methods puts, beside each reasoned verdict of
`mlmcompare.report.comparison.METHOD_VERDICTS`, what the study measured for
the design nearest the handout's data (the plain scenarios: normal random
effects, homoscedastic errors, the mean school size and number of schools
nearest the data's):

- consistent: bias without and with a contextual effect;
- efficient: variance of the mixed model's estimate over the method's;
- honest: coverage of the 95% interval (with its Monte Carlo SE) and the
  ratio of mean reported SE to the empirical SD;
- robust: change in coverage under heavy-tailed random effects and under
  heteroscedastic level-1 errors (the scenarios with a `baseline`).

`judged_verdicts` rewrites a verdict that its measurement contradicts, so
that the table and the study agree; `study_findings` says in sentences what
holds across methods and designs; `population_sentence` says which data the
simulated population was fitted to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .comparison import CRITERIA, COLUMNS, method_name, reasoned_verdict, verdict_cell
from .format import count, num, pct, signed
from ..study.run import CR2_METHOD

CR2_LABEL = "Pooled OLS, CR2 cluster-robust SE"

#: our verdicts for the eighth method of the study
CR2_VERDICTS = {
    "consistent": ("No", "the same estimate as pooled OLS"),
    "efficient": ("Not applicable", "as pooled OLS"),
    "honest": ("Yes, for its own target", "schools, not students, are the independent units of its SE, with small-sample corrections (CR2, Bell-McCaffrey df)"),
    "robust": ("Partly", "its SE needs no model for how schools differ, but its target still moves with the design"),
}

#: |z| beyond which a Monte Carlo difference counts as real
Z = 2.0
#: relative efficiency below which a method counts as less efficient than the
#: mixed model, and above which as about as efficient
EFFICIENCY_LOW, EFFICIENCY_SAME = 0.90, 0.95


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


def coverage_change(summary: pd.DataFrame, scenario: str, method: str) -> float:
    """Coverage in a variant scenario minus coverage in its baseline (points)."""
    r = cell(summary, scenario, method)
    if r is None or not r["baseline"]:
        return np.nan
    b = cell(summary, r["baseline"], method)
    return 100 * (r["coverage"] - b["coverage"]) if b is not None else np.nan


def variant_label(summary: pd.DataFrame, scenario: str, with_groups: bool = True) -> str:
    """e.g. 't3 random effects (J = 40)'."""
    r = summary[summary["scenario"] == scenario].iloc[0]
    if r["random_effects"] != "normal":
        what = f"{r['random_effects']} random effects"
    elif r["heteroscedasticity"]:
        what = "heteroscedastic errors"
    else:
        what = scenario
    return f"{what} (J = {int(r['n_groups'])})" if with_groups else what


def band(n: float, level: float = 0.95) -> float:
    """Z Monte Carlo SEs of a coverage measured on n replicates at the nominal level."""
    return Z * float(np.sqrt(level * (1 - level) / max(n, 1)))


def covers(r: pd.Series, level: float = 0.95) -> bool:
    """Coverage within Z Monte Carlo SEs of the nominal level (SE at the nominal level)."""
    return abs(r["coverage"] - level) <= band(r["n_estimates"], level)


def under_covers(r: pd.Series, level: float = 0.95) -> bool:
    return r["coverage"] < level - band(r["n_estimates"], level)


def over_covers(r: pd.Series, level: float = 0.95) -> bool:
    return r["coverage"] > level + band(r["n_estimates"], level)


def conservative(r: pd.Series, level: float = 0.95) -> bool:
    """Intervals wider than needed: coverage above the nominal level beyond Monte
    Carlo error, or above it with a mean reported SE that exceeds the empirical
    SD by more than Z Monte Carlo SEs of an SD (about sqrt(1 / (2 (n - 1))))."""
    n = max(float(r["n_estimates"]), 2.0)
    return over_covers(r, level) or (r["coverage"] > level and r["se_ratio"] > 1 + Z * np.sqrt(1 / (2 * (n - 1))))


def biased(r: pd.Series) -> bool:
    return abs(r["bias"]) > Z * r["bias_mc_se"]


def loses_coverage(summary: pd.DataFrame, scenario: str, method: str) -> bool:
    """The variant's coverage falls below its baseline's by more than Monte Carlo error."""
    r = cell(summary, scenario, method)
    change = coverage_change(summary, scenario, method)
    return r is not None and np.isfinite(change) and change < -change_noise(r)


def pct_cov(r: pd.Series) -> str:
    return f"{100 * r['coverage']:.1f}%"


# ------------------------------------------------------------- the judgement
@dataclass(frozen=True)
class DataNotes:
    """What the handout's own data say about a verdict the study cannot measure:
    the fixed-effects intercept gap's SE over the two-stage one (the study
    measures the slope gap only), and fits in trouble."""

    fe_intercept_se_ratio: float | None = None
    problems: Mapping[str, str | None] | None = None

    @classmethod
    def from_lines(cls, lines: pd.DataFrame, problems: Mapping[str, str | None] | None = None) -> "DataNotes":
        """The notes of one data set from its methods' sector lines."""
        diff = lines[lines["kind"] == "difference"].set_index("method")
        ratio = None
        if {"fe_school_lines", "two_stage"} <= set(diff.index):
            ratio = float(np.sqrt(diff.at["fe_school_lines", "var_intercept"] / diff.at["two_stage", "var_intercept"]))
        return cls(fe_intercept_se_ratio=ratio, problems=problems)


def judge(method: str, criterion: str, summary: pd.DataFrame, d: Design, notes: DataNotes) -> tuple[str, str, str]:
    """(verdict, reason, measured) of one method and criterion: the reasoned
    verdict, rewritten where the study's measurement contradicts it."""
    problem = (notes.problems or {}).get(method)
    short, reason = CR2_VERDICTS[criterion] if method == CR2_METHOD else reasoned_verdict(method, criterion, problem)
    none, ctx = cell(summary, d.none, method), cell(summary, d.ctx, method)
    if none is None:
        return short, reason, ""
    claimed_yes = short.startswith(("Yes", "If", "Nearly"))
    if criterion == "consistent":
        measured = f"bias {signed(none['bias'])} without and {signed(ctx['bias']) if ctx is not None else '—'} with a contextual effect (Monte Carlo SE {num(none['bias_mc_se'], 2)})"
        if ctx is None:
            return short, reason, measured
        if claimed_yes and biased(ctx):
            return "Not here", f"{reason}; but with a contextual effect it is off by {signed(ctx['bias'])}", measured
        if method == "mixed" and not biased(ctx):
            return ("Nearly, for the gap", "with a contextual effect each sector's slope is a mixture, but at this design what the "
                    "mixture adds largely cancels in the gap between the sectors", measured)
        return short, reason, measured
    if criterion == "efficient":
        rel = float(none["rel_efficiency"])
        if method == "mixed":
            return short, reason, "the reference of this column (efficiency 1 by definition)"
        measured = f"efficiency {num(rel, 2)} relative to the mixed model"
        if short == "Not applicable":
            return short, reason, measured
        # the measurement decides where it is clear, so that equal numbers get equal words
        if rel < EFFICIENCY_LOW:
            return ("Less than the mixed model here" if claimed_yes else short), reason, measured
        if rel >= EFFICIENCY_SAME:
            return "About as efficient here", f"{reason}; at this design the weights hardly matter", measured
        return short, reason, measured
    if criterion == "honest":
        measured = f"coverage {fmt_coverage(none)} (SE/SD {num(none['se_ratio'], 2)})"
        if covers(none) and not conservative(none):
            if not claimed_yes and method in ("fe_school_lines", "fe_common_slope", "pooled_ols"):
                text = ("in principle its SE leaves out the variation between schools, but at this design the spread of "
                        "slopes between schools is small next to each school's sampling error, so for the slope gap "
                        "this costs little")
                if method == "pooled_ols":
                    text = "in principle its SE ignores the clustering, but at this design that inflates the variance of the slope gap little"
                ratio = notes.fe_intercept_se_ratio
                if method == "fe_school_lines" and ratio is not None and ratio < 0.9:
                    text += (f"; for the intercept gap, where schools differ more, its SE on these data is {num(ratio, 2)} "
                             "times the two-stage one, so for the intercept gap it is not honest")
                return "Nearly, for the slope gap", text, measured
            return short, reason, measured
        if under_covers(none):
            if claimed_yes:
                return "No, here", f"{reason}; yet its intervals are too narrow at this design", measured
            return short, reason, measured
        # conservative: above the nominal coverage, or wider than the SD says
        if claimed_yes:
            return "Yes, conservatively", f"{reason}; at this design its SE is larger than the true one", measured
        return "Conservative here", f"{reason}; but at this design its intervals are wider than needed", measured
    # robust
    changes = [(variant_label(summary, s, False), coverage_change(summary, s, method)) for s in d.robust]
    measured = ("coverage change " + ", ".join(f"{signed(v, 2)} points with {w}" for w, v in changes)
                + f" (two Monte Carlo SEs of a change: ±{num(change_noise(none), 2)} points)") if changes else ""
    lost = [variant_label(summary, s, False) for s in d.robust if loses_coverage(summary, s, method)]
    if lost and short.startswith("Yes"):
        return "Not here", f"{reason}; it loses coverage with {' and '.join(lost)}", measured
    if changes and not lost and not short.startswith("Yes"):
        # the verdict is about departures the study does not simulate; say so, so that a
        # change within Monte Carlo error does not read as support for it
        return short, (f"{reason}; the two departures simulated here (heavy-tailed random effects, unequal level-1 "
                       "variance) do not test this, and move its coverage by no more than Monte Carlo error"), measured
    return short, reason, measured


def judged_verdicts(summary: pd.DataFrame, methods: Sequence[str], labels: Mapping[str, str], d: Design,
                    notes: DataNotes = DataNotes(), compact: bool = False) -> pd.DataFrame:
    """The summary-of-methods table: each verdict, rewritten where its
    measurement contradicts it, followed by its reason and what was measured;
    `compact` (the at-a-glance sheet): the verdict and the one number the
    study measured for it."""
    labels = method_labels(labels)
    flagged = [m for m, p in (notes.problems or {}).items() if p]
    rows = []
    for m in [*methods, *([CR2_METHOD] if CR2_METHOD in set(summary["method"]) else [])]:
        if cell(summary, d.none, m) is None:
            continue
        row = {"Method": method_name(m, labels, flagged)}
        for c in CRITERIA:
            short, reason, measured = judge(m, c, summary, d, notes)
            row[COLUMNS[c]] = f"**{short}** ({key_number(summary, d, m, c)})" if compact else verdict_cell(short, reason, measured)
        rows.append(row)
    return pd.DataFrame(rows)


def key_number(summary: pd.DataFrame, d: Design, method: str, criterion: str) -> str:
    """The number that stands for a criterion's measurement in the compact table."""
    none, ctx = cell(summary, d.none, method), cell(summary, d.ctx, method)
    if none is None:
        return ""
    if criterion == "consistent":
        return f"bias {signed(none['bias'], 2)}" + (f", {signed(ctx['bias'], 2)} with context" if ctx is not None else "")
    if criterion == "efficient":
        return "the reference" if method == "mixed" else f"efficiency {num(none['rel_efficiency'], 2)}"
    if criterion == "honest":
        return f"coverage {pct_cov(none)}"
    changes = [coverage_change(summary, s, method) for s in d.robust]
    return (("coverage change " + ", ".join(signed(v, 2) for v in changes)
             + f", Monte Carlo error ±{num(change_noise(none), 2)}") if changes else "")


def change_noise(r: pd.Series) -> float:
    """Two Monte Carlo SEs of a change in coverage (points): what `loses_coverage`
    counts as noise."""
    return 100 * np.sqrt(2) * band(r["n_estimates"])


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
            "Bias": signed(none["bias"], 2),
            "Bias, contextual": signed(ctx["bias"], 2) if ctx is not None else "—",
            "Emp. SD": num(none["emp_sd"], 3),
            "Rel. eff.": num(none["rel_efficiency"], 2),
            "SE/SD": num(none["se_ratio"], 2),
            "Coverage": fmt_coverage(none),
            "Coverage, contextual": fmt_coverage(ctx),
        }
        for s in d.robust:
            row[f"Δ cov., {variant_label(summary, s, False)}"] = signed(coverage_change(summary, s, m), 2)
        row["Failed / flagged"] = f"{int(none['n_failed'])} / {int(none['n_flagged'])}"
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------ the population
def population_sentence(params: Mapping, source: str, own: bool, n_groups: int, mean_size: float) -> str:
    """Which data the simulated population was fitted to, and what it looks like."""
    lv = params["levels"]
    G = params["G"]
    whose = (f"these data (*{source}*)" if own else
             f"the data set *{source}*, not this handout's data (the configuration's `study: source`), so its "
             "measurements describe schools like those of *" + source + "*")
    return (
        f"**The study.** Each replicate simulates schools from the contextual mixed model fitted to {whose}: "
        f"{pct(params['share_reference'], 0)} of the schools are {lv[0]}, school sizes are Poisson (at least 5 students), "
        f"the predictor has a school part (mean {num(params['x_mean'][0], 2)} in {lv[0]} and {num(params['x_mean'][1], 2)} in "
        f"{lv[1]} schools, SD {num(params['x_between_sd'], 2)}) and a student part (SD {num(params['x_within_sd'][0], 2)} and "
        f"{num(params['x_within_sd'][1], 2)}). The within-school slope is {num(params['within_slope'], 3)} in {lv[0]} and "
        f"{num(params['within_slope'] + params['within_gap'], 3)} in {lv[1]} schools; random intercepts and slopes have SDs "
        f"{num(G[0][0] ** 0.5, 3)} and {num(G[1][1] ** 0.5, 3)}, the residual SD is {num(params['sigma'], 3)}. Without a "
        f"contextual effect the between-school slopes equal the within-school ones; with one they are the fitted "
        f"between-school slopes ({num(params['between_slope'], 3)} and {num(params['between_slope'] + params['between_gap'], 3)}). "
        f"The target is always the {lv[1]} - {lv[0]} gap in the *within-school* slope, {num(params['within_gap'], 3)}. "
        f"The table uses the design nearest this data set: J = {n_groups} schools of about {num(mean_size, 3)} students."
    )


# -------------------------------------------------------------- the findings
def study_findings(summary: pd.DataFrame, labels: Mapping[str, str], d: Design) -> list[str]:
    """What holds across methods and designs, in sentences (the per-method
    verdicts are in the table)."""
    L = method_labels(labels)
    c = lambda s, m: cell(summary, s, m)  # noqa: E731
    out: list[str] = []
    reps = int(summary["n_replicates"].max())
    out.append(
        f"With {count(reps)} replicates per scenario a coverage is measured to about ±{100 * band(reps):.1f} points "
        f"(two Monte Carlo SEs at 95%); a bias counts as real when it exceeds two of its Monte Carlo SEs."
    )
    present = set(summary["method"])
    if {"pooled_ols", "mixed"} <= present and d.ctx:
        p, mx = c(d.ctx, "pooled_ols"), c(d.ctx, "mixed")
        closer = abs(mx["bias"]) < abs(p["bias"])
        out.append(
            f"With a contextual effect pooled OLS is off by {signed(p['bias'])} and covers {pct_cov(p)}; the mixed model is "
            f"off by {signed(mx['bias'])} (Monte Carlo SE {num(mx['bias_mc_se'], 2)}) and covers {pct_cov(mx)}: "
            + ("it is closer to the within-school gap, as the verdicts say." if closer else
               "it is not closer to the within-school gap here, which the verdicts do not lead one to expect.")
        )
    if "mixed" in present:
        ctx_rows = summary[(summary["method"] == "mixed") & summary["contextual"] & (summary["random_effects"] == "normal") & (summary["heteroscedasticity"] == 0)]
        J_sizes = ctx_rows.groupby("n_groups")["mean_size"].nunique()
        n_counts = ctx_rows.groupby("mean_size")["n_groups"].nunique()
        if len(J_sizes) and len(n_counts):
            J0, n0 = int(J_sizes.idxmax()), float(n_counts.idxmax())
            by_n = ctx_rows[ctx_rows["n_groups"] == J0].sort_values("mean_size")
            by_J = ctx_rows[ctx_rows["mean_size"] == n0].sort_values("n_groups")
            if len(by_n) > 1 and len(by_J) > 1:
                sn = ", ".join(f"{signed(r.bias)} (n = {num(r.mean_size, 3)})" for r in by_n.itertuples())
                sJ = ", ".join(f"{signed(r.bias)} (J = {r.n_groups})" for r in by_J.itertuples())
                text = f"The mixed model's bias with a contextual effect as schools grow (J = {J0}): {sn}; as they multiply (n = {num(n0, 3)}): {sJ}."

                def shrinks(rows: pd.DataFrame) -> bool:
                    a, b = rows.iloc[0], rows.iloc[-1]
                    return abs(b["bias"]) < abs(a["bias"]) - Z * float(np.hypot(a["bias_mc_se"], b["bias_mc_se"]))

                big_J = by_J.iloc[-1]
                text += (" It shrinks as schools grow" if shrinks(by_n) else
                         " Any decrease as schools grow is within Monte Carlo error at these sizes")
                if shrinks(by_J):
                    text += ", and it also shrinks as they multiply, which the verdict says it should not."
                elif biased(big_J):
                    text += f"; more schools do not remove it (at J = {int(big_J['n_groups'])} it is still more than {Z:g} Monte Carlo SEs from zero)."
                else:
                    text += f"; with more schools it is within Monte Carlo error of zero at J = {int(big_J['n_groups'])}."
                out.append(text)
    if {"two_stage", "fe_school_lines"} <= present:
        t, f1 = c(d.none, "two_stage"), c(d.none, "fe_school_lines")
        same = abs(float(t["estimate_mean"]) - float(f1["estimate_mean"])) < 1e-9
        out.append(
            f"The fixed-effects school lines and the two-stage model {'give the same estimate in every replicate' if same else 'give nearly the same estimates'} "
            f"(efficiency {num(f1['rel_efficiency'], 2)} and {num(t['rel_efficiency'], 2)}): they differ only in their "
            f"standard errors, whose coverage is {pct_cov(f1)} and {pct_cov(t)}."
        )
    if {"mixed", "mixed_contextual"} <= present:
        mc = c(d.none, "mixed_contextual")
        if mc["rel_efficiency"] < EFFICIENCY_LOW:
            out.append(
                f"Without a contextual effect the mixed model is more efficient than the contextual one (relative "
                f"efficiency of the latter {num(mc['rel_efficiency'], 2)}): it also uses the between-school information, "
                f"which is exactly what biases it when the between-school slope differs."
            )
    for m in ("mixed", "mixed_contextual"):
        r = c(d.none, m) if m in present else None
        if r is not None and r["n_singular"] > 0:
            out.append(
                f"{L[m]}: {int(r['n_singular'])} of {int(r['n_replicates'])} fits to simulated data were singular (a variance "
                f"or correlation of the random effects at its boundary); they are kept, as an analyst would keep them, "
                f"and the coverage above includes them."
            )
    for s in d.robust:
        rows = summary[summary["scenario"] == s]
        lost = [f"{L.get(r.method, r.method)} ({signed(coverage_change(summary, s, r.method), 2)} points)"
                for r in rows.itertuples() if loses_coverage(summary, s, r.method)]
        label = variant_label(summary, s)
        if lost:
            out.append(f"With {label} these methods lose coverage beyond Monte Carlo error: {', '.join(lost)}.")
        else:
            out.append(f"With {label} no method loses coverage beyond Monte Carlo error.")
    return out


def study_singular_note(summary: pd.DataFrame, d: Design, labels: Mapping[str, str]) -> str | None:
    """One sentence for the fit notes when the study counted singular fits: those
    are fits to simulated data, not to these."""
    rows = summary[(summary["scenario"] == d.none) & (summary["n_singular"] > 0)]
    if not len(rows):
        return None
    return "The singular fits counted in the findings above are fits to the study's simulated data, not to these."
