"""Figures of the first look at the data: school panels, quantiles, the three
effects, and lines in beta space (each school's OLS line and its ellipse)."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from ...estimation.lines import joint_radius, line_cov, shadow_radius
from . import TEXT_WIDTH, draw_ellipse, handout_figure, level_colors, panel_grid



@handout_figure
def school_panels(data: pd.DataFrame, lines: pd.DataFrame, group: str, x: str, y: str, factor: str, levels: Sequence[str], by: str | None = None, by_lines: pd.DataFrame | None = None) -> Figure:
    """One small panel per school of `lines` in plot order: the students (x, y)
    and the school's OLS line; with `by`, points and lines per level of `by`.
    Pass a sample of the schools (`sample_schools`) when there are many."""
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
    # ticks placed once for all panels, labelled on the outer ones only: tick
    # layout per panel is what makes a lattice slow to draw
    xt = [v for v in MaxNLocator(nbins=3).tick_values(*xlim) if xlim[0] <= v <= xlim[1]]
    yt = [v for v in MaxNLocator(nbins=3).tick_values(*ylim) if ylim[0] <= v <= ylim[1]]
    for i, ax in enumerate(axes.flat):
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_autoscale_on(False)
        col = i % cols
        last_in_col = i + cols >= n
        ax.set_xticks(xt, [f"{v:g}" for v in xt] if last_in_col else [])
        ax.set_yticks(yt, [f"{v:g}" for v in yt] if col == 0 else [])
        ax.tick_params(length=2, pad=1)
    colors = level_colors(levels)
    by_levels = list(dict.fromkeys(data[by].astype(str))) if by else []
    by_colors = dict(zip(sorted(by_levels), ["#9467bd", "#2ca02c", "#8c564b"]))
    shown = set(order[group])
    groups = {k: v for k, v in data[data[group].isin(shown)].groupby(group, sort=False)}
    for ax, r in zip(axes.flat, order.itertuples(index=False)):
        g = getattr(r, group)
        d = groups[g]
        lv = getattr(r, factor)
        if by is None:
            ax.scatter(d[x], d[y], s=3, color=colors.get(lv, "gray"), alpha=0.5, lw=0, rasterized=False)
            if np.isfinite(r.slope):
                xs = np.array([r.x_min, r.x_max])
                ax.plot(xs, r.intercept + r.slope * xs, color="black", lw=0.9)
        else:
            for level, part in d.groupby(d[by].astype(str)):
                ax.scatter(part[x], part[y], s=3, color=by_colors[level], alpha=0.5, lw=0)
            sub = by_lines[by_lines[group] == g]
            for s in sub.itertuples(index=False):
                if np.isfinite(s.slope):
                    xs = np.array([s.x_min, s.x_max])
                    ax.plot(xs, s.intercept + s.slope * xs, color=by_colors[getattr(s, by)], lw=0.9)
        ax.set_title(r.id, fontsize=7.5, pad=1.5, y=1.0, color=colors.get(lv, "black"))  # y: no auto placement (slow)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.supxlabel(x)
    fig.supylabel(y)
    if by is None:
        handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=lv) for lv, c in colors.items()]
        handles.append(plt.Line2D([], [], color="black", label="school OLS line"))
    else:
        handles = [plt.Line2D([], [], marker="o", color=c, label=lv) for lv, c in by_colors.items()]
    fig.legend(handles=handles, loc="upper center", ncol=len(handles), frameon=False)
    # fixed margins: tight_layout is slow with many panels
    fig.subplots_adjust(left=0.09, right=0.99, bottom=0.42 / size[1] + 0.02, top=1 - 0.38 / size[1], wspace=0.1, hspace=0.42)
    return fig


@handout_figure
def quantile_figure(quantiles: pd.DataFrame, levels: Sequence[str], factor: str) -> Figure:
    """Uniform quantile plots: one panel per variable, one curve per level."""
    variables = list(dict.fromkeys(quantiles["variable"]))
    fig, axes = plt.subplots(1, len(variables), figsize=(TEXT_WIDTH, 2.6), squeeze=False)
    colors = level_colors(levels)
    for ax, var in zip(axes.flat, variables):
        for lv in levels:
            q = quantiles[(quantiles["variable"] == var) & (quantiles["level"] == lv)]
            ax.plot(q["p"], q["value"], color=colors[lv], lw=1.4, label=f"{factor} {lv}")
        ax.set_xlabel("fraction of students below")
        ax.set_ylabel(var)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    return fig


@handout_figure
def effects_figure(lines: pd.DataFrame, data: pd.DataFrame, effects: pd.DataFrame, x: str, y: str, factor: str, levels: Sequence[str]) -> Figure:
    """School means with the within-school slope drawn through each (over the
    school's range of x), the between-school line through the school means and
    the pooled line through the students' grand means."""
    o = effects[effects["estimator"] == "ols"].set_index("effect")["estimate"]
    colors = level_colors(levels)
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.9))
    ax.scatter(data[x], data[y], s=1.5, color="0.78", lw=0, label="students", rasterized=True)
    for r in lines.itertuples(index=False):
        xs = np.array([r.x_min, r.x_max])
        ax.plot(xs, r.y_mean + o["within"] * (xs - r.x_mean), color=colors.get(getattr(r, factor), "gray"), lw=0.6, alpha=0.7)
        ax.plot(r.x_mean, r.y_mean, "o", ms=2.5, color=colors.get(getattr(r, factor), "gray"))
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
    ax.legend(loc="upper left", ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@handout_figure
def beta_space_figure(ellipses: pd.DataFrame, factor: str, levels: Sequence[str], drawn: Sequence[str] | None = None) -> Figure:
    """Left: every school's OLS line as a point, the 95% joint ellipses of the
    schools in `drawn` (ids; default all), and each level's mean line (equal
    weights). Right: one school's joint 95% ellipse and 95% shadow ellipse,
    with the one-coefficient intervals."""
    colors = level_colors(levels)
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.3), gridspec_kw={"width_ratios": [1.25, 1]})
    ax = axes[0]
    drawn = set(ellipses["id"]) if drawn is None else set(drawn)
    for r in ellipses.itertuples(index=False):
        c = colors.get(getattr(r, factor), "gray")
        ax.plot(r.intercept, r.slope, "o", ms=2, color=c)
        if r.id in drawn and np.isfinite(r.var_slope) and r.df > 0:
            draw_ellipse(ax, [r.intercept, r.slope], line_cov(r._asdict()), joint_radius(r.df), color=c, lw=0.6, alpha=0.5)
    for lv in levels:
        m = ellipses[ellipses[factor] == lv][["intercept", "slope"]].mean()
        ax.plot(m["intercept"], m["slope"], marker="*", ms=11, color=colors[lv], mec="black", mew=0.6, label=f"{lv} mean line")
    ax.set_xlabel("intercept (response at predictor 0)")
    ax.set_ylabel("slope")
    few = len(drawn) < len(ellipses)
    ax.set_title(f"School lines, 95% ellipses{' of a sample' if few else ''}")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    ax = axes[1]
    ex = ellipses[ellipses["example"]].iloc[0]
    cov = line_cov(ex)
    center = [ex["intercept"], ex["slope"]]
    draw_ellipse(ax, center, cov, joint_radius(ex["df"]), color="black", lw=1.4, label="joint 95%")
    draw_ellipse(ax, center, cov, shadow_radius(ex["df"]), color="black", lw=1.0, ls=":", label="shadow 95%")
    t = stats.t.ppf(0.975, ex["df"])
    lo0, hi0 = ex["intercept"] - t * np.sqrt(ex["var_intercept"]), ex["intercept"] + t * np.sqrt(ex["var_intercept"])
    lo1, hi1 = ex["slope"] - t * np.sqrt(ex["var_slope"]), ex["slope"] + t * np.sqrt(ex["var_slope"])
    for v in (lo0, hi0):
        ax.axvline(v, color="#1f77b4", lw=0.7, ls="--")
    for v in (lo1, hi1):
        ax.axhline(v, color="#d62728", lw=0.7, ls="--")
    ax.plot(*center, "o", color="black", ms=3)
    ax.plot([], [], color="#1f77b4", ls="--", lw=0.7, label="interval, intercept")
    ax.plot([], [], color="#d62728", ls="--", lw=0.7, label="interval, slope")
    ax.set_title(f"School {ex['id']} (n = {int(ex['n'])})")
    ax.set_xlabel("intercept")
    ax.set_ylabel("slope")
    ax.legend(loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


@handout_figure
def fe_two_stage_figure(lines: pd.DataFrame, levels: Sequence[str], diff_name: str) -> Figure:
    """Each level's line and the difference: fixed-effects school lines
    (dashed) and two-stage (solid) 95% joint ellipses, same centres."""
    colors = level_colors(levels)
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0))
    for method, ls in (("fe_school_lines", "--"), ("two_stage", "-")):
        sub = lines[lines["method"] == method].set_index("line")
        for lv in levels:
            r = sub.loc[lv]
            draw_ellipse(axes[0], [r["intercept"], r["slope"]], line_cov(r), joint_radius(r["df_slope"]), color=colors[lv], ls=ls, lw=1.3)
            axes[0].plot(r["intercept"], r["slope"], "o", color=colors[lv], ms=3)
        r = sub.loc[diff_name]
        draw_ellipse(axes[1], [r["intercept"], r["slope"]], line_cov(r), joint_radius(r["df_slope"]), color="black", ls=ls, lw=1.3)
        axes[1].plot(r["intercept"], r["slope"], "o", color="black", ms=3)
    for lv in levels:
        axes[0].plot([], [], color=colors[lv], label=lv)
    for ax in axes:
        ax.plot([], [], color="gray", ls="--", label="fixed effects")
        ax.plot([], [], color="gray", ls="-", label="two-stage")
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
    axes[1].axhline(0, color="gray", lw=0.6)
    axes[1].axvline(0, color="gray", lw=0.6)
    axes[0].set_xlabel("intercept")
    axes[0].set_ylabel("slope")
    axes[0].set_title("Each level's line: 95% ellipses")
    axes[1].set_xlabel("difference in intercepts")
    axes[1].set_ylabel("difference in slopes")
    axes[1].set_title(f"{diff_name}: 95% ellipses")
    fig.tight_layout()
    return fig
