"""Figures of the diagnostics of the mixed model: residuals, random effects,
influence of each school, effect plots, marginal and conditional lines."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from . import TEXT_WIDTH, handout_figure, level_colors


def normal_qq(ax, values: np.ndarray, **kw) -> None:
    """Normal QQ plot with a line through the quartiles."""
    v = np.sort(np.asarray(values, float))
    n = len(v)
    q = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    ax.plot(q, v, "o", ms=1.8, **kw)
    q1, q3 = np.percentile(v, [25, 75])
    z1, z3 = stats.norm.ppf([0.25, 0.75])
    slope = (q3 - q1) / (z3 - z1)
    ax.plot(q, q1 + slope * (q - z1), color="black", lw=0.8)
    ax.set_xlabel("standard normal quantile")


@handout_figure
def residual_figure(rows: pd.DataFrame) -> Figure:
    """Level-1 residuals against conditional fitted values, and their normal QQ plot."""
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.7))
    axes[0].scatter(rows["fitted_1"], rows["residual_1"], s=1.5, color="#1f77b4", alpha=0.4, lw=0, rasterized=True)
    axes[0].axhline(0, color="black", lw=0.8)
    axes[0].set_xlabel("conditional fitted value (level 1)")
    axes[0].set_ylabel("level-1 residual")
    normal_qq(axes[1], rows["residual_1"], color="#1f77b4")
    axes[1].set_ylabel("level-1 residual")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@handout_figure
def ranef_qq_figure(ranef: pd.DataFrame, x: str) -> Figure:
    """Normal QQ plots of the BLUPs of the random intercepts and slopes."""
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.6))
    for ax, col, name in zip(axes, ["u0", "u1"], ["random intercept $u_0$ (BLUP)", f"random {x} slope $u_1$ (BLUP)"]):
        normal_qq(ax, ranef[col], color="#d62728")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@handout_figure
def influence_figure(influence: pd.DataFrame, factor: str, levels: Sequence[str], label: int = 6) -> Figure:
    """Change in the slope and intercept gaps when each school is left out."""
    colors = level_colors(levels)
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH * 0.8, 3.0))
    c = [colors.get(v, "gray") for v in influence[factor]]
    ax.scatter(influence["change_intercept"], influence["change_slope"], s=10, c=c)
    top = influence.head(label)
    for r in top.itertuples(index=False):
        ax.annotate(r.id, (r.change_intercept, r.change_slope), fontsize=7.5, xytext=(3, 2), textcoords="offset points")
    ax.axhline(0, color="gray", lw=0.6)
    ax.axvline(0, color="gray", lw=0.6)
    for lv in levels:
        ax.plot([], [], "o", color=colors[lv], label=f"{lv} school left out")
    ax.set_xlabel("change in the intercept gap (mixed model)")
    ax.set_ylabel("change in the slope gap (mixed model)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@handout_figure
def effect_plot(grid: pd.DataFrame, data: pd.DataFrame, x: str, y: str, factor: str, levels: Sequence[str]) -> Figure:
    """Fitted sector lines with pointwise 95% confidence bands over the data."""
    colors = level_colors(levels)
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH * 0.8, 3.2))
    for lv in levels:
        d = data[data[factor].astype(str) == lv]
        ax.scatter(d[x], d[y], s=1.5, color=colors[lv], alpha=0.15, lw=0, rasterized=True)
        g = grid[grid[factor] == lv]
        ax.fill_between(g["x"], g["conf_low"], g["conf_high"], color=colors[lv], alpha=0.25)
        ax.plot(g["x"], g["estimate"], color=colors[lv], lw=2, label=f"{lv}: fitted line, 95% band")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (fitted, fixed part)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@handout_figure
def marginal_conditional_figure(ranef: pd.DataFrame, grid: pd.DataFrame, x: str, y: str, factor: str, levels: Sequence[str]) -> Figure:
    """Per level: every school's conditional line (fixed part plus its BLUPs)
    over its range of x, and the marginal line (fixed part only)."""
    colors = level_colors(levels)
    fig, axes = plt.subplots(1, len(levels), figsize=(TEXT_WIDTH, 2.9), sharey=True, squeeze=False)
    for ax, lv in zip(axes.flat, levels):
        for r in ranef[ranef[factor] == lv].itertuples(index=False):
            xs = np.array([r.x_min, r.x_max])
            ax.plot(xs, r.intercept + r.slope * xs, color=colors[lv], lw=0.7, alpha=0.6)
        g = grid[grid[factor] == lv]
        ax.plot(g["x"], g["estimate"], color="black", lw=2.0, label=r"marginal ($X\hat\gamma$)")
        ax.plot([], [], color=colors[lv], lw=0.7, label=r"conditional ($X\hat\gamma + Z\tilde u$)")
        ax.set_title(lv)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    axes.flat[0].set_ylabel(f"fitted {y}")
    fig.tight_layout()
    return fig
