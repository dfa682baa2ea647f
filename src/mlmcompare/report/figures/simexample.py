"""Figures of the simulated example: one school in data and beta space, the
1-SD dispersion ellipses, and the true, BLUE and BLUP lines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import draw_ellipse
from .oneway import BLUE_COLOR, BLUP_COLOR, TRUE_COLOR


def _ellipse(ax, center, cov, color, ls="-", label=None, lw=1.4) -> None:
    draw_ellipse(ax, np.asarray(center, dtype="float64"), np.asarray(cov, dtype="float64"), 1.0, color=color, ls=ls, lw=lw, label=label)


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
