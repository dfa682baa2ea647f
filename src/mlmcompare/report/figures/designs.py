"""The designs handout's figures, drawn from the pipeline's tables only.

- :func:`group_means_figure`: each group's observed mean with its 95%
  interval, and the empirical Bayes (BLUP) estimate shrunk towards the
  overall mean, sorted by the observed mean.
- :func:`condition_profiles_figure`: one line per subject across the
  repeated conditions (spaghetti plot) with the condition means.
- :func:`correlation_heatmaps`: the estimated correlation matrix of the
  repeated measures under each covariance structure.
- :func:`g_matrices_figure`: random-effect correlation matrices side by side.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = [
    "group_means_figure",
    "condition_profiles_figure",
    "correlation_heatmaps",
    "g_matrices_figure",
]


def group_means_figure(groups: pd.DataFrame, gamma00: float, response: str, group: str) -> Figure:
    """Observed group means with 95% intervals, and the BLUPs, sorted by the mean."""
    g = groups.sort_values("mean").reset_index(drop=True)
    y = np.arange(len(g))
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(g) + 1.6), constrained_layout=True)
    ax.errorbar(g["mean"], y - 0.15, xerr=[g["mean"] - g["conf_low"], g["conf_high"] - g["mean"]],
                fmt="o", ms=4, color="#1f77b4", capsize=2, label="observed mean, 95% interval")
    ax.errorbar(g["blup"], y + 0.15, xerr=[g["blup"] - g["blup_low"], g["blup_high"] - g["blup"]],
                fmt="s", ms=3.5, color="#d62728", capsize=2, label="empirical Bayes estimate, 95% interval")
    ax.axvline(gamma00, color="grey", lw=1, ls="--", label=r"$\hat\gamma_{00}$")
    ax.set_yticks(y, g["group"].astype(str))
    ax.set_xlabel(f"mean {response}")
    ax.set_ylabel(group)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def condition_profiles_figure(wide: pd.DataFrame, response: str, condition: str) -> Figure:
    """Each subject's responses across conditions (thin lines) and the condition means."""
    fig, ax = plt.subplots(figsize=(7, 4.2), constrained_layout=True)
    x = np.arange(wide.shape[1])
    for subject, row in wide.iterrows():
        ax.plot(x, row.to_numpy(), color="grey", lw=0.8, alpha=0.7)
        ax.annotate(str(subject), (x[-1], row.iloc[-1]), fontsize=7, color="grey",
                    xytext=(4, 0), textcoords="offset points", va="center")
    ax.plot(x, wide.mean(axis=0).to_numpy(), color="#d62728", lw=2.2, marker="o", label="mean")
    ax.set_xticks(x, [str(c) for c in wide.columns])
    ax.set_xlim(-0.3, x[-1] + 1.2)
    ax.set_xlabel(condition)
    ax.set_ylabel(response)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _heatmap(ax, corr: np.ndarray, labels: Sequence[str], title: str):
    im = ax.imshow(corr, vmin=-1, vmax=1, cmap="RdBu_r")
    k = len(labels)
    long_labels = max(len(str(x)) for x in labels) > 3
    ax.set_xticks(range(k), labels, rotation=35 if long_labels else 0, ha="right" if long_labels else "center")
    ax.set_yticks(range(k), labels)
    for i in range(k):
        for j in range(k):
            ax.text(j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if abs(corr[i, j]) > 0.6 else "black")
    ax.set_title(title, fontsize=9)
    return im


def correlation_heatmaps(matrices: Mapping[str, np.ndarray], labels: Sequence[str], axis_label: str) -> Figure:
    """One heatmap per covariance structure of the estimated correlation matrix."""
    k = len(matrices)
    cols = min(3, k)
    rows = int(np.ceil(k / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.1 * rows), constrained_layout=True, squeeze=False)
    im = None
    for ax, (title, corr) in zip(axes.ravel(), matrices.items()):
        im = _heatmap(ax, np.asarray(corr), labels, title)
        ax.set_xlabel(axis_label, fontsize=8)
        ax.set_ylabel(axis_label, fontsize=8)
    for ax in axes.ravel()[k:]:
        ax.axis("off")
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.7, label="correlation")
    return fig


def g_matrices_figure(matrices: Mapping[str, pd.DataFrame]) -> Figure:
    """The random-effect correlation matrices of several fits side by side."""
    k = len(matrices)
    fig, axes = plt.subplots(1, k, figsize=(3.4 * k, 3.3), constrained_layout=True, squeeze=False)
    im = None
    for ax, (title, G) in zip(axes.ravel(), matrices.items()):
        G = np.asarray(G, dtype=float)
        sd = np.sqrt(np.diag(G))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = G / np.outer(sd, sd)
        labels = list(matrices[title].columns)
        im = _heatmap(ax, np.nan_to_num(corr), labels, title)
        ax.set_xlabel("random effect", fontsize=8)
        ax.set_ylabel("random effect", fontsize=8)
    if im is not None:
        fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.7, label="correlation")
    return fig
