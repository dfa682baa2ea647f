"""Figures of the one-way model and of shrinkage: the estimators of the mean
and their weights, and BLUE -> BLUP arrows (one-way and random slopes)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import draw_ellipse, level_color

ESTIMATOR_COLORS = {"mean_of_means": "#d62728", "student_mean": "black", "size_weighted": "#ff7f0e", "gls": "#2ca02c"}
BLUE_COLOR, BLUP_COLOR, TRUE_COLOR = "#1f77b4", "#d62728", "black"


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
            draw_ellipse(ax, np.array([m["intercept"], m["slope"]]), G, 1.0, color=c, lw=1.2, ls="--")
            ax.plot(m["intercept"], m["slope"], marker="X", ms=10, color=c, mec="black", label=f"{lv}: mean line")
        ax.set_xlabel(f"intercept (expected response at {predictor} = 0)")
        ax.set_ylabel(f"slope on {predictor}")
        ax.axhline(0, color="0.8", lw=0.6)
    axes[0].set_title("Each school's BLUE moves to its BLUP", fontsize=10)
    axes[1].set_title("BLUEs (open) spread more than BLUPs (filled)", fontsize=10)
    axes[1].legend(fontsize=7, loc="best")
    return fig


