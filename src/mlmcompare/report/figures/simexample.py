"""Figures of the simulated example: one school in data and beta space, the
1-SD dispersion ellipses, and the true, BLUE and BLUP lines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import TEXT_WIDTH, draw_ellipse, handout_figure
from .oneway import BLUE_COLOR, BLUP_COLOR, TRUE_COLOR


def _ellipse(ax, center, cov, color, ls="-", label=None, lw=1.4) -> None:
    draw_ellipse(ax, np.asarray(center, dtype="float64"), np.asarray(cov, dtype="float64"), 1.0, color=color, ls=ls, lw=lw, label=label)


def _mat(row: pd.Series, prefix: str) -> np.ndarray:
    return np.array([[row[f"{prefix}_intercept"], row[f"{prefix}_cov"]], [row[f"{prefix}_cov"], row[f"{prefix}_slope"]]])


@handout_figure
def sim_school_figure(students: pd.DataFrame, schools: pd.DataFrame, settings: pd.Series, school: int = 1) -> Figure:
    """One simulated school in data space (true, least-squares and population lines)
    and in beta space (G around gamma; sigma^2 (X'X)^-1 around the true line)."""
    r = schools[schools["school"] == school].iloc[0]
    d = students[students["school"] == school]
    gamma = np.array([settings["gamma0"], settings["gamma1"]])
    G = np.array([[settings["g00"], settings["g01"]], [settings["g01"], settings["g11"]]])
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.6), constrained_layout=True)
    ax = axes[0]
    xs = np.linspace(min(-2.5, d["x"].min()), max(2.5, d["x"].max()), 2)
    ax.scatter(d["x"], d["y"], s=8, color="0.5", label="students")
    ax.plot(xs, gamma[0] + gamma[1] * xs, color="#2ca02c", lw=1.5, label=r"population mean line $\gamma$")
    ax.plot(xs, r["true_intercept"] + r["true_slope"] * xs, color=TRUE_COLOR, lw=1.5, label=r"true line $\beta_j$")
    ax.plot(xs, r["blue_intercept"] + r["blue_slope"] * xs, color=BLUE_COLOR, lw=1.5, ls="--", label=r"least squares $\hat\beta_j$")
    ax.set_xlabel("X (simulated SES)")
    ax.set_ylabel("Y")
    ax.set_title(f"School {school} ($n_j$ = {int(r['n'])}) in data space")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    ax = axes[1]
    _ellipse(ax, gamma, G, "#2ca02c", label=r"$G$ around $\gamma$")
    _ellipse(ax, [r["true_intercept"], r["true_slope"]], _mat(r, "cond"), BLUE_COLOR, label=r"$\sigma^2(X_j'X_j)^{-1}$ around $\beta_j$")
    _ellipse(ax, gamma, _mat(r, "v"), "#9467bd", ls=":", label=r"$V_j = G + \sigma^2(X_j'X_j)^{-1}$ around $\gamma$")
    ax.plot(*gamma, "X", color="#2ca02c", ms=9)
    ax.plot(r["true_intercept"], r["true_slope"], "o", color=TRUE_COLOR, label=r"true $\beta_j$")
    ax.plot(r["blue_intercept"], r["blue_slope"], "s", color=BLUE_COLOR, label=r"BLUE $\hat\beta_j$")
    ax.set_xlabel("intercept")
    ax.set_ylabel("slope")
    ax.set_title("In beta space (1-SD ellipses)")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    return fig


@handout_figure
def sim_ellipses_figure(schools: pd.DataFrame, settings: pd.Series) -> Figure:
    """For the highlighted schools: 1-SD ellipses of G, sigma^2 (X_j'X_j)^-1 and V_j."""
    picks = schools[schools["highlight"]].sort_values("n")
    gamma = np.array([settings["gamma0"], settings["gamma1"]])
    G = np.array([[settings["g00"], settings["g01"]], [settings["g01"], settings["g11"]]])
    fig, axes = plt.subplots(1, len(picks), figsize=(TEXT_WIDTH, 3.1), constrained_layout=True, sharex=True, sharey=True)
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
        ax.set_title(f"School {int(r['school'])}: $n_j$ = {int(r['n'])}\nSD of X = {r['x_sd']:.2f}")
        ax.set_xlabel("intercept")
    axes[0].set_ylabel("slope")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=4)
    return fig


@handout_figure
def sim_shrinkage_figure(schools: pd.DataFrame, settings: pd.Series) -> Figure:
    """Left: true lines, BLUEs and BLUE -> BLUP arrows in beta space, the arrows
    lengthened by a factor stated in the title when shrinkage is too small to
    see; right: shrinkage against n_j."""
    gamma = np.array([settings["gamma0"], settings["gamma1"]])
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.1), constrained_layout=True, gridspec_kw={"width_ratios": [1.3, 1]})
    ax = axes[0]
    blue = schools[["blue_intercept", "blue_slope"]].to_numpy()
    blup = schools[["blup_intercept", "blup_slope"]].to_numpy()
    span = np.ptp(blue, axis=0)
    length = np.median(np.hypot(*((blup - blue) / span).T))
    factor = arrow_factor(length)
    tips = blue + factor * (blup - blue)
    for (x0, y0), (x1, y1) in zip(blue, tips):
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops=dict(arrowstyle="-|>", color="0.35", lw=0.6, mutation_scale=6, shrinkA=0, shrinkB=0))
    ax.scatter(blue[:, 0], blue[:, 1], s=8, color=BLUE_COLOR, label="BLUE", zorder=3)
    ax.scatter(schools["true_intercept"], schools["true_slope"], s=10, marker="x", lw=0.7, color=TRUE_COLOR, label="true line")
    ax.plot(*gamma, "X", color="#2ca02c", ms=7, label=r"$\gamma$")
    ax.plot([], [], color="0.35", lw=0.6, label="BLUE to BLUP" + (f" (×{factor:g})" if factor > 1 else ""))
    ax.set_xlabel("intercept")
    ax.set_ylabel("slope")
    ax.set_title("Arrows toward $\\gamma$" + (f", drawn {factor:g} times their length" if factor > 1 else ""))
    ax.legend(loc="best")
    ax = axes[1]
    ax.scatter(schools["n"], 100 * schools["shrinkage"], s=10, color=BLUP_COLOR)
    ax.set_xlabel("students in the school, $n_j$")
    ax.set_ylabel("shrinkage toward $\\gamma$ (%)")
    ax.set_ylim(bottom=0)
    return fig


def arrow_factor(median_length: float, visible: float = 0.06) -> float:
    """How many times to lengthen arrows whose median length is `median_length`
    (a share of the plot's span) so that they can be seen: 1 when they already
    can, else a round factor (2, 5, 10, 20, ...)."""
    if median_length <= 0 or median_length >= visible:
        return 1.0
    need = visible / median_length
    for f in (2, 5, 10, 20, 50, 100):
        if f >= need:
            return float(f)
    return 100.0
