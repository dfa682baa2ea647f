"""The designs handout's figures, drawn from the pipeline's tables only.

Every figure is drawn at most `TEXT_WIDTH` inches wide (the PDF's text width,
so it prints at its natural size) with no text below `MIN_PT` points
(`designs_figure`; `printed_sizes` measures it): the main handout's print
size and measure (`report.figures`), with type sizes of its own.

- :func:`group_means_figure`: each group's observed mean with its 95%
  interval, and the empirical Bayes (BLUP) estimate shrunk towards the
  overall mean, sorted by the observed mean.
- :func:`condition_profiles_figure`: one line per subject across the
  repeated conditions (spaghetti plot) with the condition means.
- :func:`correlation_by_pair_figure`: the estimated correlation of each pair
  of conditions under each covariance structure, on a scale that fits them.
- :func:`g_matrices_figure`: random-effect correlation matrices side by side.
- :func:`variance_split_figure`: the variance of each fit split by level.
- :func:`crossed_profiles_figure`: a response over the levels of one crossed
  factor, one line per level of the other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..designs import minus
from . import MIN_PT, TEXT_WIDTH, drawn_with, printed_sizes

__all__ = [
    "TEXT_WIDTH",
    "MIN_PT",
    "printed_sizes",
    "group_means_figure",
    "condition_profiles_figure",
    "correlation_by_pair_figure",
    "g_matrices_figure",
    "variance_split_figure",
    "crossed_profiles_figure",
]

STYLE = {
    "font.size": 8.0, "axes.titlesize": 8.5, "axes.labelsize": 8.0, "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5, "legend.fontsize": 7.5, "figure.titlesize": 9.0, "axes.linewidth": 0.6,
    "lines.linewidth": 1.2, "xtick.major.size": 2.5, "ytick.major.size": 2.5, "legend.frameon": False,
    "svg.hashsalt": "mlmcompare",  # stable ids: the same figure gives the same SVG
}
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f"]

#: draw the figure with the designs handout's type sizes (`STYLE`)
designs_figure = drawn_with(STYLE)


@designs_figure
def group_means_figure(groups: pd.DataFrame, gamma00: float, response: str, group: str) -> Figure:
    """Observed group means with 95% intervals, and the BLUPs, sorted by the mean."""
    g = groups.sort_values("mean").reset_index(drop=True)
    y = np.arange(len(g))
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 0.2 * len(g) + 1.3), constrained_layout=True)
    ax.errorbar(g["mean"], y - 0.15, xerr=[g["mean"] - g["conf_low"], g["conf_high"] - g["mean"]],
                fmt="o", ms=3.5, color=COLORS[0], capsize=2, lw=1, label="observed mean, 95% interval")
    ax.errorbar(g["blup"], y + 0.15, xerr=[g["blup"] - g["blup_low"], g["blup_high"] - g["blup"]],
                fmt="s", ms=3, color=COLORS[1], capsize=2, lw=1, label="empirical Bayes estimate, 95% interval")
    ax.axvline(gamma00, color="grey", lw=1, ls="--", label=r"estimated grand mean $\hat\gamma_{00}$")
    ax.set_yticks(y, g["group"].astype(str))
    ax.set_ylim(-0.7, len(g) - 0.3)
    ax.set_xlabel(f"mean {response}")
    ax.set_ylabel(group)
    ax.legend(loc="lower right")
    return fig


@designs_figure
def condition_profiles_figure(wide: pd.DataFrame, response: str, condition: str) -> Figure:
    """Each subject's responses across conditions (thin lines) and the condition means."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.4), constrained_layout=True)
    x = np.arange(wide.shape[1])
    for subject, row in wide.iterrows():
        ax.plot(x, row.to_numpy(), color="grey", lw=0.8, alpha=0.7)
        ax.annotate(str(subject).replace(".", " "), (x[-1], row.iloc[-1]), fontsize=7.5, color="dimgrey",
                    xytext=(4, 0), textcoords="offset points", va="center")
    ax.plot(x, wide.mean(axis=0).to_numpy(), color=COLORS[1], lw=2, marker="o", ms=4, label="mean")
    ax.set_xticks(x, [str(c) for c in wide.columns])
    ax.set_xlim(-0.2, x[-1] + 1.1)
    ax.set_xlabel(condition)
    ax.set_ylabel(response)
    ax.legend(loc="upper left")
    return fig


@designs_figure
def correlation_by_pair_figure(correlations: Mapping[str, np.ndarray], levels: Sequence[str]) -> Figure:
    """The correlation of each pair of conditions (x: the pairs in order of their
    distance apart) under each structure (one line each). The y axis spans the
    plotted correlations, not -1 to 1: structures whose correlations are all 0
    are left out (say so in the caption)."""
    k = len(levels)
    pairs = sorted(((i, j) for i in range(k) for j in range(i + 1, k)), key=lambda p: (p[1] - p[0], p[0]))
    names = [f"{levels[i]}–{levels[j]}" for i, j in pairs]
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.0), constrained_layout=True)
    markers = "osD^vP*X"
    values = []
    for n, (label, corr) in enumerate(correlations.items()):
        r = np.array([np.asarray(corr)[i, j] for i, j in pairs])
        values.append(r)
        ax.plot(np.arange(len(pairs)), r, marker=markers[n % len(markers)], ms=4, lw=1,
                color=COLORS[n % len(COLORS)], label=label)
    ax.set_xticks(np.arange(len(pairs)), names)
    # separate the groups of pairs the same distance apart
    gaps = [p[1] - p[0] for p in pairs]
    for n in range(1, len(pairs)):
        if gaps[n] != gaps[n - 1]:
            ax.axvline(n - 0.5, color="lightgrey", lw=0.8)
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = max(0.1 * (hi - lo), 0.002)
    ax.set_ylim(lo - pad, min(1.0, hi + pad) if hi < 1 else hi + pad)
    ax.set_xlabel("pair of conditions (grouped by how far apart they are)")
    ax.set_ylabel("estimated correlation")
    ax.legend(loc="lower left", ncols=2)
    return fig


@designs_figure
def g_matrices_figure(matrices: Mapping[str, pd.DataFrame]) -> Figure:
    """The random-effect correlation matrices of several fits side by side
    (diverging scale from -1 to 1: the correlations here take both signs)."""
    k = len(matrices)
    fig, axes = plt.subplots(1, k, figsize=(TEXT_WIDTH, 2.5), constrained_layout=True, squeeze=False)
    im = None
    for ax, (title, G) in zip(axes.ravel(), matrices.items()):
        labels = [str(c) for c in G.columns]
        G = np.asarray(G, dtype=float)
        sd = np.sqrt(np.diag(G))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = np.nan_to_num(G / np.outer(sd, sd))
        im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
        m = len(labels)
        ax.set_xticks(range(m), labels, rotation=30, ha="right")
        ax.set_yticks(range(m), labels if ax is axes.ravel()[0] else [""] * m)
        for i in range(m):
            for j in range(m):
                ax.text(j, i, minus(f"{corr[i, j]:.2f}"), ha="center", va="center", fontsize=7.5,
                        color="white" if abs(corr[i, j]) > 0.6 else "black")
        ax.set_title(title)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, label="correlation")
    return fig


@designs_figure
def variance_split_figure(parts: pd.DataFrame, order: Sequence[str], level_order: Sequence[str]) -> Figure:
    """One horizontal bar per fit (`label`), split into its variances (`vcov`) by `level`."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 0.42 * len(order) + 1.0), constrained_layout=True)
    y = np.arange(len(order))[::-1]
    left = np.zeros(len(order))
    for n, level in enumerate(level_order):
        widths = np.array([parts[(parts["label"] == lab) & (parts["level"] == level)]["vcov"].sum() for lab in order])
        if not widths.any():
            continue
        ax.barh(y, widths, left=left, color=COLORS[n % len(COLORS)], height=0.6, label=level)
        left += widths
    ax.set_yticks(y, order)
    ax.set_xlabel("variance")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.35 if len(order) < 4 else -0.22), ncols=len(level_order))
    return fig


@designs_figure
def crossed_profiles_figure(data: pd.DataFrame, a: str, b: str, response: str) -> Figure:
    """The response (column `response` of `data`) at each level of the first factor
    (column `a`, ordered by its mean), one line per level of the second (`b`);
    `a`, `b` and `response` name them on the axes."""
    order = data.groupby("a")["response"].mean().sort_values().index
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.0), constrained_layout=True)
    x = np.arange(len(order))
    for n, (level, part) in enumerate(data.groupby("b", sort=True)):
        values = part.set_index("a")["response"].reindex(order)
        ax.plot(x, values.to_numpy(), marker="o", ms=3, lw=1, color=COLORS[n % len(COLORS)], label=str(level))
    ax.set_xticks(x, [str(v) for v in order])
    ax.set_xlabel(f"{a} (ordered by its mean {response})")
    ax.set_ylabel(response)
    ax.legend(title=b, ncols=min(8, data["b"].nunique()), loc="upper left")
    return fig
