"""The figures of the handout's part 1, drawn from the pipeline's tables.

Every function takes tidy tables read from parquet (the prepared data, the
school summary, the part1 tables, the methods' sector lines) and returns a
matplotlib Figure with labelled axes; none refits a model.
"""

from __future__ import annotations

import math
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from ...estimation.lines import ellipse_points, joint_radius, line_cov, shadow_radius

LEVEL_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def level_colors(levels: Sequence[str]) -> dict[str, str]:
    return {lv: LEVEL_COLORS[i % len(LEVEL_COLORS)] for i, lv in enumerate(levels)}


def panel_grid(n: int, width: float = 11.0) -> tuple[int, int, tuple[float, float]]:
    """Columns, rows and figure size for n small panels (about 3:2 panels)."""
    cols = max(4, math.ceil(math.sqrt(n * 1.6)))
    rows = math.ceil(n / cols)
    panel_w = width / cols
    return cols, rows, (width, 0.8 * panel_w * rows + 0.9)


def school_panels(data: pd.DataFrame, lines: pd.DataFrame, group: str, x: str, y: str, factor: str, levels: Sequence[str], by: str | None = None, by_lines: pd.DataFrame | None = None) -> Figure:
    """One small panel per school in plot order: the students (x, y) and the
    school's OLS line; with `by`, points and lines per level of `by` instead."""
    order = lines.sort_values("plot_order")
    n = len(order)
    cols, rows, size = panel_grid(n)
    # common limits set by hand: shared axes re-autoscale all siblings on every
    # artist, which is quadratic in the number of panels
    fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    pad_x = 0.04 * (data[x].max() - data[x].min())
    pad_y = 0.04 * (data[y].max() - data[y].min())
    xlim = (data[x].min() - pad_x, data[x].max() + pad_x)
    ylim = (data[y].min() - pad_y, data[y].max() + pad_y)
    for i, ax in enumerate(axes.flat):
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_autoscale_on(False)
        row, col = divmod(i, cols)
        last_in_col = i + cols >= n
        ax.tick_params(labelbottom=last_in_col, labelleft=col == 0)
    colors = level_colors(levels)
    small = n > 60
    by_levels = list(dict.fromkeys(data[by].astype(str))) if by else []
    by_colors = dict(zip(sorted(by_levels), ["#9467bd", "#2ca02c", "#8c564b"]))
    groups = dict(tuple(data.groupby(group, sort=False)))
    for ax, r in zip(axes.flat, order.itertuples(index=False)):
        g = getattr(r, group)
        d = groups[g]
        lv = getattr(r, factor)
        if by is None:
            ax.scatter(d[x], d[y], s=1.5 if small else 3, color=colors.get(lv, "gray"), alpha=0.5, lw=0)
            if np.isfinite(r.slope):
                xs = np.array([r.x_min, r.x_max])
                ax.plot(xs, r.intercept + r.slope * xs, color="black", lw=0.9)
        else:
            for level, part in d.groupby(d[by].astype(str)):
                ax.scatter(part[x], part[y], s=1.5 if small else 3, color=by_colors[level], alpha=0.5, lw=0)
            sub = by_lines[by_lines[group] == g]
            for s in sub.itertuples(index=False):
                if np.isfinite(s.slope):
                    xs = np.array([s.x_min, s.x_max])
                    ax.plot(xs, s.intercept + s.slope * xs, color=by_colors[getattr(s, by)], lw=0.9)
        ax.set_title(r.id, fontsize=5 if small else 7, pad=1.5, color=colors.get(lv, "black"))
        ax.tick_params(labelsize=5 if small else 6, length=2, pad=1)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.supxlabel(x, fontsize=9)
    fig.supylabel(y, fontsize=9)
    if by is None:
        handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=lv) for lv, c in colors.items()]
        handles.append(plt.Line2D([], [], color="black", label="school OLS line"))
    else:
        handles = [plt.Line2D([], [], marker="o", color=c, label=lv) for lv, c in by_colors.items()]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), fontsize=8, frameon=False)
    # fixed margins: tight_layout takes tens of seconds with a hundred panels
    fig.subplots_adjust(left=0.06, right=0.995, bottom=0.45 / size[1] + 0.02, top=1 - 0.45 / size[1], wspace=0.08, hspace=0.45 if small else 0.35)
    return fig


def quantile_figure(quantiles: pd.DataFrame, levels: Sequence[str], factor: str) -> Figure:
    """Uniform quantile plots: one panel per variable, one curve per level."""
    variables = list(dict.fromkeys(quantiles["variable"]))
    fig, axes = plt.subplots(1, len(variables), figsize=(9, 3.6), squeeze=False)
    colors = level_colors(levels)
    for ax, var in zip(axes.flat, variables):
        for lv in levels:
            q = quantiles[(quantiles["variable"] == var) & (quantiles["level"] == lv)]
            ax.plot(q["p"], q["value"], color=colors[lv], lw=1.4, label=f"{factor} {lv}")
        ax.set_xlabel("uniform quantile (fraction of students below)")
        ax.set_ylabel(var)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def effects_figure(lines: pd.DataFrame, data: pd.DataFrame, effects: pd.DataFrame, x: str, y: str, factor: str, levels: Sequence[str]) -> Figure:
    """School means with the within-school slope drawn through each (over the
    school's range of x), the between-school line through the school means and
    the pooled line through the students' grand means."""
    o = effects[effects["estimator"] == "ols"].set_index("effect")["estimate"]
    colors = level_colors(levels)
    fig, ax = plt.subplots(figsize=(8, 5.2))
    ax.scatter(data[x], data[y], s=2, color="0.75", lw=0, label="students")
    for r in lines.itertuples(index=False):
        xs = np.array([r.x_min, r.x_max])
        ax.plot(xs, r.y_mean + o["within"] * (xs - r.x_mean), color=colors.get(getattr(r, factor), "gray"), lw=0.8, alpha=0.8)
        ax.plot(r.x_mean, r.y_mean, "o", ms=3.5, color=colors.get(getattr(r, factor), "gray"))
    xs = np.linspace(data[x].min(), data[x].max(), 2)
    cx, cy = lines["x_mean"].mean(), lines["y_mean"].mean()
    ax.plot(xs, cy + o["between"] * (xs - cx), color="black", lw=2.2, label=f"between schools, slope {o['between']:.2f}")
    gx, gy = data[x].mean(), data[y].mean()
    ax.plot(xs, gy + o["pooled"] * (xs - gx), color="#ff7f0e", lw=2.2, ls="--", label=f"pooled, slope {o['pooled']:.2f}")
    ax.plot([], [], color="0.3", lw=0.8, label=f"within each school, slope {o['within']:.2f}")
    for lv in levels:
        ax.plot([], [], "o", color=colors[lv], label=f"school mean, {lv}")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_ylim(data[y].quantile(0.005) - 1, data[y].quantile(0.995) + 1)
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def draw_ellipse(ax, center, cov, radius, **kw) -> None:
    pts = ellipse_points(np.asarray(center), np.asarray(cov), radius)
    ax.plot(pts[:, 0], pts[:, 1], **kw)


def beta_space_figure(ellipses: pd.DataFrame, factor: str, levels: Sequence[str]) -> Figure:
    """Left: every school's OLS line as a point with its 95% joint ellipse,
    and each level's mean line (equal weights). Right: one school's joint 95%
    ellipse and 95% shadow ellipse, with the one-coefficient intervals."""
    colors = level_colors(levels)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5))
    ax = axes[0]
    for r in ellipses.itertuples(index=False):
        c = colors.get(getattr(r, factor), "gray")
        ax.plot(r.intercept, r.slope, "o", ms=2.5, color=c)
        if np.isfinite(r.var_slope) and r.df > 0:
            draw_ellipse(ax, [r.intercept, r.slope], line_cov(r._asdict()), joint_radius(r.df), color=c, lw=0.5, alpha=0.45)
    for lv in levels:
        m = ellipses[ellipses[factor] == lv][["intercept", "slope"]].mean()
        ax.plot(m["intercept"], m["slope"], marker="*", ms=16, color=colors[lv], mec="black", label=f"{lv} mean line")
    ax.set_xlabel("intercept (expected response at predictor = 0)")
    ax.set_ylabel("slope")
    ax.set_title("School OLS lines with 95% joint ellipses", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax = axes[1]
    ex = ellipses[ellipses["example"]].iloc[0]
    cov = line_cov(ex)
    center = [ex["intercept"], ex["slope"]]
    draw_ellipse(ax, center, cov, joint_radius(ex["df"]), color="black", lw=1.6, label="joint 95% ellipse")
    draw_ellipse(ax, center, cov, shadow_radius(ex["df"]), color="black", lw=1.2, ls=":", label="95% shadow ellipse")
    t = stats.t.ppf(0.975, ex["df"])
    lo0, hi0 = ex["intercept"] - t * np.sqrt(ex["var_intercept"]), ex["intercept"] + t * np.sqrt(ex["var_intercept"])
    lo1, hi1 = ex["slope"] - t * np.sqrt(ex["var_slope"]), ex["slope"] + t * np.sqrt(ex["var_slope"])
    for v in (lo0, hi0):
        ax.axvline(v, color="#1f77b4", lw=0.7, ls="--")
    for v in (lo1, hi1):
        ax.axhline(v, color="#d62728", lw=0.7, ls="--")
    ax.plot(*center, "o", color="black")
    ax.plot([], [], color="#1f77b4", ls="--", lw=0.7, label="95% interval, intercept")
    ax.plot([], [], color="#d62728", ls="--", lw=0.7, label="95% interval, slope")
    ax.set_title(f"School {ex['id']} (n = {int(ex['n'])})", fontsize=10)
    ax.set_xlabel("intercept")
    ax.set_ylabel("slope")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def fe_two_stage_figure(lines: pd.DataFrame, levels: Sequence[str], diff_name: str) -> Figure:
    """Each level's line and the difference: fixed-effects school lines
    (dashed) and two-stage (solid) 95% joint ellipses, same centres."""
    colors = level_colors(levels)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for method, ls in (("fe_school_lines", "--"), ("two_stage", "-")):
        sub = lines[lines["method"] == method].set_index("line")
        for lv in levels:
            r = sub.loc[lv]
            draw_ellipse(axes[0], [r["intercept"], r["slope"]], line_cov(r), joint_radius(r["df_slope"]), color=colors[lv], ls=ls, lw=1.5)
            axes[0].plot(r["intercept"], r["slope"], "o", color=colors[lv], ms=3)
        r = sub.loc[diff_name]
        draw_ellipse(axes[1], [r["intercept"], r["slope"]], line_cov(r), joint_radius(r["df_slope"]), color="black", ls=ls, lw=1.5)
        axes[1].plot(r["intercept"], r["slope"], "o", color="black", ms=3)
    for lv in levels:
        axes[0].plot([], [], color=colors[lv], label=lv)
    for ax in axes:
        ax.plot([], [], color="gray", ls="--", label="fixed effects (school lines)")
        ax.plot([], [], color="gray", ls="-", label="two-stage (MANOVA)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    axes[1].axhline(0, color="gray", lw=0.6)
    axes[1].axvline(0, color="gray", lw=0.6)
    axes[0].set_xlabel("intercept")
    axes[0].set_ylabel("slope")
    axes[0].set_title("Sector lines: 95% joint ellipses", fontsize=10)
    axes[1].set_xlabel("difference in intercepts")
    axes[1].set_ylabel("difference in slopes")
    axes[1].set_title(f"{diff_name}: 95% joint ellipses", fontsize=10)
    fig.tight_layout()
    return fig


def normal_qq(ax, values: np.ndarray, **kw) -> None:
    """Normal QQ plot with a line through the quartiles."""
    v = np.sort(np.asarray(values, float))
    n = len(v)
    q = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    ax.plot(q, v, "o", ms=2, **kw)
    q1, q3 = np.percentile(v, [25, 75])
    z1, z3 = stats.norm.ppf([0.25, 0.75])
    slope = (q3 - q1) / (z3 - z1)
    ax.plot(q, q1 + slope * (q - z1), color="black", lw=0.8)
    ax.set_xlabel("standard normal quantile")


def residual_figure(rows: pd.DataFrame) -> Figure:
    """Level-1 residuals against conditional fitted values, and their normal QQ plot."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].scatter(rows["fitted_1"], rows["residual_1"], s=2, color="#1f77b4", alpha=0.4, lw=0)
    axes[0].axhline(0, color="black", lw=0.8)
    axes[0].set_xlabel("conditional fitted value (level 1)")
    axes[0].set_ylabel("level-1 residual")
    normal_qq(axes[1], rows["residual_1"], color="#1f77b4")
    axes[1].set_ylabel("level-1 residual")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def ranef_qq_figure(ranef: pd.DataFrame, x: str) -> Figure:
    """Normal QQ plots of the BLUPs of the random intercepts and slopes."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, col, name in zip(axes, ["u0", "u1"], ["random intercept u0 (BLUP)", f"random {x} slope u1 (BLUP)"]):
        normal_qq(ax, ranef[col], color="#d62728")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def influence_figure(influence: pd.DataFrame, factor: str, levels: Sequence[str], label: int = 6) -> Figure:
    """Change in the slope and intercept gaps when each school is left out."""
    colors = level_colors(levels)
    fig, ax = plt.subplots(figsize=(8, 4.6))
    c = [colors.get(v, "gray") for v in influence[factor]]
    ax.scatter(influence["change_intercept"], influence["change_slope"], s=14, c=c)
    top = influence.head(label)
    for r in top.itertuples(index=False):
        ax.annotate(r.id, (r.change_intercept, r.change_slope), fontsize=7, xytext=(3, 2), textcoords="offset points")
    ax.axhline(0, color="gray", lw=0.6)
    ax.axvline(0, color="gray", lw=0.6)
    for lv in levels:
        ax.plot([], [], "o", color=colors[lv], label=f"{lv} school left out")
    ax.set_xlabel("change in the intercept gap (mixed model)")
    ax.set_ylabel("change in the slope gap (mixed model)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def effect_plot(grid: pd.DataFrame, data: pd.DataFrame, x: str, y: str, factor: str, levels: Sequence[str]) -> Figure:
    """Fitted sector lines with pointwise 95% confidence bands over the data."""
    colors = level_colors(levels)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for lv in levels:
        d = data[data[factor].astype(str) == lv]
        ax.scatter(d[x], d[y], s=2, color=colors[lv], alpha=0.15, lw=0)
        g = grid[grid[factor] == lv]
        ax.fill_between(g["x"], g["conf_low"], g["conf_high"], color=colors[lv], alpha=0.25)
        ax.plot(g["x"], g["estimate"], color=colors[lv], lw=2, label=f"{lv}: fitted line, 95% band")
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (fitted, fixed part)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def marginal_conditional_figure(ranef: pd.DataFrame, grid: pd.DataFrame, x: str, y: str, factor: str, levels: Sequence[str]) -> Figure:
    """Per level: every school's conditional line (fixed part plus its BLUPs)
    over its range of x, and the marginal line (fixed part only)."""
    colors = level_colors(levels)
    fig, axes = plt.subplots(1, len(levels), figsize=(10, 4.2), sharey=True, squeeze=False)
    for ax, lv in zip(axes.flat, levels):
        for r in ranef[ranef[factor] == lv].itertuples(index=False):
            xs = np.array([r.x_min, r.x_max])
            ax.plot(xs, r.intercept + r.slope * xs, color=colors[lv], lw=0.7, alpha=0.6)
        g = grid[grid[factor] == lv]
        ax.plot(g["x"], g["estimate"], color="black", lw=2.2, label="marginal (X beta)")
        ax.plot([], [], color=colors[lv], lw=0.7, label="conditional (X beta + Z b), one per school")
        ax.set_title(lv, fontsize=10)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    axes.flat[0].set_ylabel(f"fitted {y}")
    fig.tight_layout()
    return fig
