"""Figures of the one-way model and of shrinkage: the estimators of the mean
and their weights, and BLUE -> BLUP arrows (one-way and random slopes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import TEXT_WIDTH, draw_ellipse, handout_figure, level_color

ESTIMATOR_COLORS = {"mean_of_means": "#d62728", "student_mean": "black", "size_weighted": "#ff7f0e", "gls": "#2ca02c"}
BLUE_COLOR, BLUP_COLOR, TRUE_COLOR = "#1f77b4", "#d62728", "black"


@handout_figure
def mean_estimators_figure(students: pd.DataFrame, group: str, response: str, estimators: pd.DataFrame, schools: pd.DataFrame) -> Figure:
    """Left: students by school (ordered by school mean) with the estimators as lines;
    right: the estimators with their 95% intervals (schools random)."""
    order = schools.sort_values("mean")["group"].astype(str).tolist()
    pos = {g: i + 1 for i, g in enumerate(order)}
    x = students[group].astype(str).map(pos).to_numpy()
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0), constrained_layout=True, gridspec_kw={"width_ratios": [2.0, 1]})
    ax = axes[0]
    rng = np.random.default_rng(0)
    ax.scatter(x + rng.uniform(-0.2, 0.2, len(x)), students[response], s=1.5, color="0.65", alpha=0.6, lw=0, label="students", rasterized=True)
    ax.plot(range(1, len(order) + 1), schools.set_index(schools["group"].astype(str)).loc[order, "mean"], "o",
            color=BLUE_COLOR, ms=2.5, label="school mean")
    for r in estimators.itertuples():
        ax.axhline(r.estimate, color=ESTIMATOR_COLORS.get(r.term, "0.3"), lw=1.4, label=r.label)
    ax.set_xlabel("school (ordered by its mean)")
    ax.set_ylabel(response)
    ax.legend(loc="lower right", ncol=2)
    ax = axes[1]
    for i, r in enumerate(estimators.itertuples()):
        c = ESTIMATOR_COLORS.get(r.term, "0.3")
        ax.errorbar(i, r.estimate, yerr=1.96 * r.std_error, fmt="o", color=c, capsize=4)
    ax.set_xticks(range(len(estimators)))
    ax.set_xticklabels([l.replace(" ", "\n", 2) for l in estimators["label"]])
    ax.set_ylabel(f"mean {response} (±1.96 SE)")
    return fig


@handout_figure
def weights_figure(schools: pd.DataFrame, labels: dict[str, str]) -> Figure:
    """Each estimator's weight on a school mean against the school's n."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH * 0.75, 2.8), constrained_layout=True)
    for key, label in labels.items():
        col = f"w_{key}"
        if col not in schools:
            continue
        s = schools.sort_values("n")
        ax.plot(s["n"], s[col], "o-" if key == "gls" else "o", ms=3.5, lw=1, color=ESTIMATOR_COLORS.get(key, "0.3"), label=label)
    ax.set_xlabel("students in the school, $n_j$")
    ax.set_ylabel("weight $w_j$ of the school mean")
    ax.legend()
    return fig


@handout_figure
def oneway_shrinkage_figure(table: pd.DataFrame, response: str) -> Figure:
    """Left: BLUE -> BLUP arrows against n_j, with the GLS estimate of the mean.
    Right: the pull (BLUP - BLUE) against the school mean's distance from the
    overall mean, coloured by n_j: each school lies on a line through 0 whose
    slope is minus one minus its reliability."""
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.9), constrained_layout=True, gridspec_kw={"width_ratios": [1.3, 1]})
    ax = axes[0]
    gamma = float(table["gamma00"].iloc[0])
    ax.axhline(gamma, color="#2ca02c", lw=1.4, label=r"$\hat\gamma_{00}$ (GLS)")
    ax.scatter(table["n"], table["blue"], facecolors="none", edgecolors=BLUE_COLOR, s=14, lw=0.7, zorder=3, label="BLUE (school mean)")
    ax.scatter(table["n"], table["blup"], color=BLUP_COLOR, s=5, zorder=4, label="BLUP")
    for r in table.itertuples():
        if abs(r.blup - r.blue) > 1e-9:
            ax.annotate("", xy=(r.n, r.blup), xytext=(r.n, r.blue),
                        arrowprops=dict(arrowstyle="-|>", color="0.3", lw=0.6, shrinkA=0, shrinkB=0, mutation_scale=5))
    ax.set_xlabel("students in the school, $n_j$")
    ax.set_ylabel(f"school mean of {response}")
    ax.legend(loc="best")
    ax = axes[1]
    d_blue = table["blue"] - gamma
    pts = ax.scatter(d_blue, table["blup"] - table["blue"], c=table["n"], cmap="viridis", s=10, zorder=3)
    ax.axhline(0, color="0.6", lw=0.8, ls="--")
    fig.colorbar(pts, ax=ax, label="$n_j$", shrink=0.85)
    ax.set_xlabel(r"BLUE $-\ \hat\gamma_{00}$ (distance from the mean)")
    ax.set_ylabel("BLUP $-$ BLUE (the pull)")
    ax.set_title("The pull grows with the distance,\nmore for small schools")
    return fig


@handout_figure
def slopes_shrinkage_figure(schools: pd.DataFrame, mean_lines: pd.DataFrame, G: np.ndarray, predictor: str) -> Figure:
    """Left: BLUE -> BLUP arrows in (intercept, slope) space by level, 1-SD ellipses of G
    around each level's mean line; right: the BLUEs alone against the BLUPs alone."""
    levels = mean_lines["level"].tolist()
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.2), constrained_layout=True, sharex=True, sharey=True)
    ok = schools[["blue_intercept", "blue_slope"]].notna().all(axis=1)
    for ax, what in zip(axes, ("arrows", "clouds")):
        for lv in levels:
            c = level_color(levels, lv)
            s = schools[(schools["level"] == lv) & ok]
            if what == "arrows":
                for r in s.itertuples():
                    ax.annotate("", xy=(r.blup_intercept, r.blup_slope), xytext=(r.blue_intercept, r.blue_slope),
                                arrowprops=dict(arrowstyle="->", color=c, lw=0.5, alpha=0.6))
                ax.scatter(s["blup_intercept"], s["blup_slope"], s=5, color=c, label=f"{lv}: BLUP")
            else:
                ax.scatter(s["blue_intercept"], s["blue_slope"], s=8, facecolors="none", edgecolors=c, lw=0.6, label=f"{lv}: BLUE")
                ax.scatter(s["blup_intercept"], s["blup_slope"], s=5, color=c, label=f"{lv}: BLUP")
            m = mean_lines[mean_lines["level"] == lv].iloc[0]
            draw_ellipse(ax, np.array([m["intercept"], m["slope"]]), G, 1.0, color=c, lw=1.0, ls="--")
            ax.plot(m["intercept"], m["slope"], marker="X", ms=7, color=c, mec="black", mew=0.5, label=f"{lv}: mean line")
        ax.set_xlabel(f"intercept (response at {predictor} = 0)")
        ax.set_ylabel(f"slope on {predictor}")
        ax.axhline(0, color="0.8", lw=0.6)
    axes[0].set_title("Each school's BLUE moves to its BLUP")
    axes[1].set_title("BLUEs (open) and BLUPs (filled)")
    axes[1].legend(loc="best")
    return fig


