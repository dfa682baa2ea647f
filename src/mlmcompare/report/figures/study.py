"""The study's figure: coverage of the 95% intervals against the number of schools.

One panel without and one with a contextual effect; one line per method
over the plain scenarios of mean school size 30 (normal random effects,
homoscedastic errors); the grey band is where 95% of Monte Carlo coverages
fall when the true coverage is 95%, and each point has its own ±2 Monte
Carlo SE bar.
"""

from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import TEXT_WIDTH, handout_figure
from ..study import method_labels
from ...study.summarise import coverage_band


def coverage_by_groups(summary: pd.DataFrame, mean_size: float) -> pd.DataFrame:
    """The rows the figure draws: plain scenarios of the given mean size."""
    plain = summary[(summary["random_effects"] == "normal") & (summary["heteroscedasticity"] == 0)
                    & (summary["baseline"] == "") & (summary["mean_size"] == mean_size)]
    return plain.sort_values(["contextual", "method", "n_groups"])


@handout_figure
def coverage_figure(summary: pd.DataFrame, labels: Mapping[str, str], mean_size: float) -> plt.Figure:
    rows = coverage_by_groups(summary, mean_size)
    labels = method_labels(labels)
    methods = list(dict.fromkeys(summary["method"]))
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.4), sharey=True, constrained_layout=True)
    Js = sorted(rows["n_groups"].unique())
    reps = int(rows["n_estimates"].min()) if len(rows) else 1
    lo, hi = coverage_band(reps)
    cmap = plt.get_cmap("tab10")
    for ax, ctx in zip(axes, (False, True)):
        part = rows[rows["contextual"] == ctx]
        ax.axhspan(100 * lo, 100 * hi, color="0.85", zorder=0, label=f"95% ± MC error ({reps} replicates)")
        ax.axhline(95, color="0.4", lw=0.8, zorder=1)
        for i, m in enumerate(methods):
            g = part[part["method"] == m]
            if g.empty:
                continue
            x = g["n_groups"].to_numpy() * (1 + 0.03 * (i - len(methods) / 2))  # dodge
            ax.errorbar(x, 100 * g["coverage"], yerr=200 * g["coverage_mc_se"], marker="o", ms=3, lw=1.0, capsize=1.5,
                        color=cmap(i % 10), label=labels.get(m, m))
        ax.set_xscale("log")
        ax.set_xticks(Js, [str(J) for J in Js])
        ax.minorticks_off()
        ax.set_xlabel("number of schools J (mean size %s)" % f"{mean_size:.3g}")
        ax.set_title("with a contextual effect" if ctx else "no contextual effect")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("coverage of the 95% interval (%)")
    bottom = min(50.0, float(np.nanmin(100 * rows["coverage"])) - 3) if len(rows) else 50.0
    axes[0].set_ylim(max(bottom, 0), 101)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncol=2, frameon=False)
    return fig
