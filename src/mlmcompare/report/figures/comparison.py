"""What the report draws: matplotlib figures built from the pipeline outputs.

Figures are functions of the tidy tables only; they never refit a model.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ...estimation.lines import ellipse_points, joint_radius, line_cov, region_df, shadow_radius
from . import TEXT_WIDTH, handout_figure

METHOD_COLORS = {
    "pooled_ols": "#7f7f7f",
    "fe_school_lines": "#1f77b4",
    "fe_common_slope": "#17becf",
    "two_stage": "#d62728",
    "between": "#ff7f0e",
    "mixed": "#2ca02c",
    "mixed_contextual": "#9467bd",
}


def method_color(method: str) -> str:
    return METHOD_COLORS.get(method, "black")


def draw_line_ellipse(ax, row: pd.Series, estimator: str, color: str, shadow: bool = False, **kw) -> None:
    """One line's 95% joint ellipse (solid), optionally its shadow ellipse (dotted)."""
    center = np.array([row["intercept"], row["slope"]])
    cov = line_cov(row)
    df = region_df(row["df_slope"], estimator)
    pts = ellipse_points(center, cov, joint_radius(df))
    ax.plot(pts[:, 0], pts[:, 1], color=color, lw=1.6, **kw)
    if shadow:
        pts = ellipse_points(center, cov, shadow_radius(row["df_slope"]))
        ax.plot(pts[:, 0], pts[:, 1], color=color, lw=1.0, ls=":")
    ax.plot(*center, marker="o", ms=3.5, color=color)


@handout_figure
def ellipse_figure(lines: pd.DataFrame, fits: pd.DataFrame, labels: Mapping[str, str], height: float = 3.9) -> Figure:
    """Left: each method's sector lines with 95% joint ellipses; right: the
    differences with joint (solid) and shadow (dotted) 95% ellipses."""
    estimator = dict(zip(fits["method"], fits["estimator"]))
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, height), constrained_layout=True)
    levels = [l for l in dict.fromkeys(lines.loc[lines["kind"] == "level", "line"])]
    styles = ["-", "--", "-.", (0, (5, 1))]
    for method, g in lines.groupby("method", sort=False):
        color = method_color(method)
        for i, lv in enumerate(levels):
            row = g[g["line"] == lv].iloc[0]
            draw_line_ellipse(axes[0], row, estimator[method], color, ls=styles[i % len(styles)])
        for _, row in g[g["kind"] == "difference"].iterrows():
            draw_line_ellipse(axes[1], row, estimator[method], color, shadow=True)
        axes[1].plot([], [], color=color, lw=1.6, label=labels.get(method, method))
    names = ["solid", "dashed", "dash-dot", "dashed"]
    axes[0].set_title("Each level's line\n" + ", ".join(f"{lv} {s}" for lv, s in zip(levels, names)))
    axes[0].set_xlabel("intercept (response at predictor 0)")
    axes[0].set_ylabel("slope of the predictor")
    diff = lines.loc[lines["kind"] == "difference", "line"].iloc[0]
    axes[1].set_title(f"Difference {diff}\njoint (solid) and shadow (dotted)")
    axes[1].set_xlabel("difference in intercepts")
    axes[1].set_ylabel("difference in slopes")
    axes[1].axhline(0, color="black", lw=0.6)
    axes[1].axvline(0, color="black", lw=0.6)
    fig.legend(*axes[1].get_legend_handles_labels(), loc="outside lower center", ncol=2)
    for ax in axes:
        ax.grid(alpha=0.3)
    return fig
