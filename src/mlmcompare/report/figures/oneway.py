"""The figures of the handout's part 2, drawn from the pipeline's part2 tables.

Each function takes tidy tables (read from parquet by the report) and
returns a matplotlib Figure with labelled axes; none refits a model. The
one-way section draws the estimators of the mean and their weights, the
shrinkage sections draw BLUE -> BLUP arrows, the sector-gap section the
school lines implied by several G matrices, and the simulated example its
1-SD dispersion ellipses and the true, BLUE and BLUP lines.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...estimation.lines import ellipse_points

ESTIMATOR_COLORS = {"mean_of_means": "#d62728", "student_mean": "black", "size_weighted": "#ff7f0e", "gls": "#2ca02c"}
BLUE_COLOR, BLUP_COLOR, TRUE_COLOR = "#1f77b4", "#d62728", "black"
LEVEL_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def level_color(levels: list[str], level: str) -> str:
    return LEVEL_COLORS[levels.index(level) % len(LEVEL_COLORS)]


def mean_estimators_figure(students: pd.DataFrame, group: str, response: str, estimators: pd.DataFrame, schools: pd.DataFrame) -> Figure:
    """Left: students by school (ordered by school mean) with the estimators as lines;
    right: the estimators with their 95% intervals (schools random)."""
    order = schools.sort_values("mean")["group"].astype(str).tolist()
    pos = {g: i + 1 for i, g in enumerate(order)}
    x = students[group].astype(str).map(pos).to_numpy()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True, gridspec_kw={"width_ratios": [2.2, 1]})
    ax = axes[0]
    rng = np.random.default_rng(0)
    ax.scatter(x + rng.uniform(-0.2, 0.2, len(x)), students[response], s=4, color="0.65", alpha=0.6, label="students")
    ax.plot(range(1, len(order) + 1), schools.set_index(schools["group"].astype(str)).loc[order, "mean"], "o",
            color=BLUE_COLOR, ms=4, label="school mean")
    for r in estimators.itertuples():
        ax.axhline(r.estimate, color=ESTIMATOR_COLORS.get(r.term, "0.3"), lw=1.4, label=r.label)
    ax.set_xlabel("school (ordered by its mean)")
    ax.set_ylabel(response)
    ax.legend(fontsize=7, loc="lower right", ncol=2)
    ax = axes[1]
    for i, r in enumerate(estimators.itertuples()):
        c = ESTIMATOR_COLORS.get(r.term, "0.3")
        ax.errorbar(i, r.estimate, yerr=1.96 * r.std_error, fmt="o", color=c, capsize=4)
    ax.set_xticks(range(len(estimators)))
    ax.set_xticklabels([l.replace(" ", "\n", 2) for l in estimators["label"]], fontsize=7)
    ax.set_xlabel("estimator of the overall mean")
    ax.set_ylabel(f"estimate of mean {response} (±1.96 SE)")
    return fig


def weights_figure(schools: pd.DataFrame, labels: dict[str, str]) -> Figure:
    """Each estimator's weight on a school mean against the school's n."""
    fig, ax = plt.subplots(figsize=(6.5, 4), constrained_layout=True)
    for key, label in labels.items():
        col = f"w_{key}"
        if col not in schools:
            continue
        s = schools.sort_values("n")
        ax.plot(s["n"], s[col], "o-" if key == "gls" else "o", ms=3.5, lw=1, color=ESTIMATOR_COLORS.get(key, "0.3"), label=label)
    ax.set_xlabel("students in the school, $n_j$")
    ax.set_ylabel("weight $w_j$ of the school mean")
    ax.legend(fontsize=8)
    return fig


def oneway_shrinkage_figure(table: pd.DataFrame, response: str) -> Figure:
    """BLUE -> BLUP arrows against n_j, with the GLS estimate of the mean."""
    fig, ax = plt.subplots(figsize=(7.5, 4.6), constrained_layout=True)
    gamma = float(table["gamma00"].iloc[0])
    ax.axhline(gamma, color="#2ca02c", lw=1.6, label=r"$\hat\gamma_{00}$ (GLS)")
    ax.scatter(table["n"], table["blue"], facecolors="none", edgecolors=BLUE_COLOR, s=26, zorder=3, label="BLUE (school mean)")
    ax.scatter(table["n"], table["blup"], color=BLUP_COLOR, s=10, zorder=4, label="BLUP")
    for r in table.itertuples():
        if abs(r.blup - r.blue) > 1e-9:
            ax.annotate("", xy=(r.n, r.blup), xytext=(r.n, r.blue),
                        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=0.8, shrinkA=0, shrinkB=0, mutation_scale=7))
    ax.set_xlabel("students in the school, $n_j$")
    ax.set_ylabel(f"school mean of {response}")
    ax.legend(fontsize=8)
    return fig


def slopes_shrinkage_figure(schools: pd.DataFrame, mean_lines: pd.DataFrame, G: np.ndarray, predictor: str) -> Figure:
    """Left: BLUE -> BLUP arrows in (intercept, slope) space by level, 1-SD ellipses of G
    around each level's mean line; right: the BLUEs alone against the BLUPs alone."""
    levels = mean_lines["level"].tolist()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8), constrained_layout=True, sharex=True, sharey=True)
    ok = schools[["blue_intercept", "blue_slope"]].notna().all(axis=1)
    for ax, what in zip(axes, ("arrows", "clouds")):
        for lv in levels:
            c = level_color(levels, lv)
            s = schools[(schools["level"] == lv) & ok]
            if what == "arrows":
                for r in s.itertuples():
                    ax.annotate("", xy=(r.blup_intercept, r.blup_slope), xytext=(r.blue_intercept, r.blue_slope),
                                arrowprops=dict(arrowstyle="->", color=c, lw=0.7, alpha=0.7))
                ax.scatter(s["blup_intercept"], s["blup_slope"], s=10, color=c, label=f"{lv}: BLUP")
            else:
                ax.scatter(s["blue_intercept"], s["blue_slope"], s=14, facecolors="none", edgecolors=c, label=f"{lv}: BLUE")
                ax.scatter(s["blup_intercept"], s["blup_slope"], s=10, color=c, label=f"{lv}: BLUP")
            m = mean_lines[mean_lines["level"] == lv].iloc[0]
            pts = ellipse_points(np.array([m["intercept"], m["slope"]]), G, 1.0)
            ax.plot(pts[:, 0], pts[:, 1], color=c, lw=1.2, ls="--")
            ax.plot(m["intercept"], m["slope"], marker="X", ms=10, color=c, mec="black", label=f"{lv}: mean line")
        ax.set_xlabel(f"intercept (expected response at {predictor} = 0)")
        ax.set_ylabel(f"slope on {predictor}")
        ax.axhline(0, color="0.8", lw=0.6)
    axes[0].set_title("Each school's BLUE moves to its BLUP", fontsize=10)
    axes[1].set_title("BLUEs (open) spread more than BLUPs (filled)", fontsize=10)
    axes[1].legend(fontsize=7, loc="best")
    return fig


def g_panels_figure(lines: pd.DataFrame, x_range: tuple[float, float] = (-2.0, 2.0)) -> Figure:
    """One panel per G: the school lines beta_0j + beta_1j x it implies."""
    panels = lines["panel"].unique()
    ncol = 3
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 3.4 * nrow), constrained_layout=True, sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    x = np.array(x_range)
    for ax, p in zip(axes, panels):
        part = lines[lines["panel"] == p]
        for r in part.itertuples():
            ax.plot(x, r.intercept + r.slope * x, color="#1f77b4", lw=1)
        r0 = part.iloc[0]
        ax.set_title(f"{r0['title']}\nG = [[{r0['tau00']:g}, {r0['tau01']:g}], [{r0['tau01']:g}, {r0['tau11']:g}]]", fontsize=8.5)
        ax.set_xlabel("X (level-1 predictor)")
        ax.set_ylabel("Y")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig


def _ellipse(ax, center, cov, color, ls="-", label=None, lw=1.4) -> None:
    pts = ellipse_points(np.asarray(center, dtype="float64"), np.asarray(cov, dtype="float64"), 1.0)
    ax.plot(pts[:, 0], pts[:, 1], color=color, ls=ls, lw=lw, label=label)


def _mat(row: pd.Series, prefix: str) -> np.ndarray:
    return np.array([[row[f"{prefix}_intercept"], row[f"{prefix}_cov"]], [row[f"{prefix}_cov"], row[f"{prefix}_slope"]]])


def sim_school_figure(students: pd.DataFrame, schools: pd.DataFrame, settings: pd.Series, school: int = 1) -> Figure:
    """One simulated school in data space (true, least-squares and population lines)
    and in beta space (G around gamma; sigma^2 (X'X)^-1 around the true line)."""
    r = schools[schools["school"] == school].iloc[0]
    d = students[students["school"] == school]
    gamma = np.array([settings["gamma0"], settings["gamma1"]])
    G = np.array([[settings["g00"], settings["g01"]], [settings["g01"], settings["g11"]]])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), constrained_layout=True)
    ax = axes[0]
    xs = np.linspace(min(-2.5, d["x"].min()), max(2.5, d["x"].max()), 2)
    ax.scatter(d["x"], d["y"], s=14, color="0.5", label="students")
    ax.plot(xs, gamma[0] + gamma[1] * xs, color="#2ca02c", lw=1.5, label=r"population mean line $\gamma$")
    ax.plot(xs, r["true_intercept"] + r["true_slope"] * xs, color=TRUE_COLOR, lw=1.5, label=r"true line $\beta_j$")
    ax.plot(xs, r["blue_intercept"] + r["blue_slope"] * xs, color=BLUE_COLOR, lw=1.5, ls="--", label=r"least squares $\hat\beta_j$")
    ax.set_xlabel("X (simulated SES)")
    ax.set_ylabel("Y")
    ax.set_title(f"School {school} ($n_j$ = {int(r['n'])}) in data space", fontsize=10)
    ax.legend(fontsize=7)
    ax = axes[1]
    _ellipse(ax, gamma, G, "#2ca02c", label=r"$G$ around $\gamma$")
    _ellipse(ax, [r["true_intercept"], r["true_slope"]], _mat(r, "cond"), BLUE_COLOR, label=r"$\sigma^2(X_j'X_j)^{-1}$ around $\beta_j$")
    _ellipse(ax, gamma, _mat(r, "v"), "#9467bd", ls=":", label=r"$V_j = G + \sigma^2(X_j'X_j)^{-1}$ around $\gamma$")
    ax.plot(*gamma, "X", color="#2ca02c", ms=9)
    ax.plot(r["true_intercept"], r["true_slope"], "o", color=TRUE_COLOR, label=r"true $\beta_j$")
    ax.plot(r["blue_intercept"], r["blue_slope"], "s", color=BLUE_COLOR, label=r"BLUE $\hat\beta_j$")
    ax.set_xlabel("intercept")
    ax.set_ylabel("slope")
    ax.set_title("The same school in beta space (1-SD ellipses)", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig


def sim_ellipses_figure(schools: pd.DataFrame, settings: pd.Series) -> Figure:
    """For the highlighted schools: 1-SD ellipses of G, sigma^2 (X_j'X_j)^-1 and V_j."""
    picks = schools[schools["highlight"]].sort_values("n")
    gamma = np.array([settings["gamma0"], settings["gamma1"]])
    G = np.array([[settings["g00"], settings["g01"]], [settings["g01"], settings["g11"]]])
    fig, axes = plt.subplots(1, len(picks), figsize=(4.2 * len(picks), 4.2), constrained_layout=True, sharex=True, sharey=True)
    axes = np.atleast_1d(axes)
    for ax, (_, r) in zip(axes, picks.iterrows()):
        _ellipse(ax, gamma, G, "#2ca02c", label=r"$G$")
        _ellipse(ax, gamma, _mat(r, "v"), "#9467bd", ls=":", label=r"$V_j$ (BLUE around $\gamma$)")
        _ellipse(ax, [r["true_intercept"], r["true_slope"]], _mat(r, "cond"), BLUE_COLOR, label=r"$\sigma^2(X_j'X_j)^{-1}$")
        _ellipse(ax, gamma, _mat(r, "var_blup"), BLUP_COLOR, ls="--", label=r"Var(BLUP$_j$) $= G V_j^{-1} G$")
        ax.plot(*gamma, "X", color="#2ca02c", ms=9)
        ax.plot(r["true_intercept"], r["true_slope"], "o", color=TRUE_COLOR, label="true")
        ax.plot(r["blue_intercept"], r["blue_slope"], "s", color=BLUE_COLOR, label="BLUE")
        ax.plot(r["blup_intercept"], r["blup_slope"], "^", color=BLUP_COLOR, label="BLUP")
        ax.set_title(f"School {int(r['school'])}: $n_j$ = {int(r['n'])}, SD of X = {r['x_sd']:.2f}", fontsize=9.5)
        ax.set_xlabel("intercept")
        ax.set_ylabel("slope")
    axes[0].legend(fontsize=7, loc="upper left")
    return fig


def sim_shrinkage_figure(schools: pd.DataFrame, settings: pd.Series) -> Figure:
    """Left: true lines, BLUEs and BLUE -> BLUP arrows in beta space; right: shrinkage against n_j."""
    gamma = np.array([settings["gamma0"], settings["gamma1"]])
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True, gridspec_kw={"width_ratios": [1.4, 1]})
    ax = axes[0]
    for r in schools.itertuples():
        ax.annotate("", xy=(r.blup_intercept, r.blup_slope), xytext=(r.blue_intercept, r.blue_slope),
                    arrowprops=dict(arrowstyle="->", color="0.4", lw=0.7))
    ax.scatter(schools["blue_intercept"], schools["blue_slope"], s=16, color=BLUE_COLOR, label="BLUE")
    ax.scatter(schools["blup_intercept"], schools["blup_slope"], s=12, color=BLUP_COLOR, label="BLUP (true parameters)")
    ax.scatter(schools["true_intercept"], schools["true_slope"], s=18, marker="x", color=TRUE_COLOR, label="true line")
    ax.plot(*gamma, "X", color="#2ca02c", ms=10, label=r"$\gamma$")
    ax.set_xlabel("intercept")
    ax.set_ylabel("slope")
    ax.legend(fontsize=7)
    ax = axes[1]
    ax.scatter(schools["n"], 100 * schools["shrinkage"], s=16, color=BLUP_COLOR)
    ax.set_xlabel("students in the school, $n_j$")
    ax.set_ylabel("shrinkage toward $\\gamma$ (% of the BLUE's weight)")
    return fig
