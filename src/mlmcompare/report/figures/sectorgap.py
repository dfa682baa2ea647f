"""The sector-gap section's figure: school lines implied by several G matrices."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import TEXT_WIDTH, handout_figure


@handout_figure
def g_panels_figure(lines: pd.DataFrame, x_range: tuple[float, float] = (-2.0, 2.0)) -> Figure:
    """One panel per G: the school lines beta_0j + beta_1j x it implies."""
    panels = lines["panel"].unique()
    ncol = 3
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(TEXT_WIDTH, 2.15 * nrow), constrained_layout=True, sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    x = np.array(x_range)
    for ax, p in zip(axes, panels):
        part = lines[lines["panel"] == p]
        for r in part.itertuples():
            ax.plot(x, r.intercept + r.slope * x, color="#1f77b4", lw=0.9)
        r0 = part.iloc[0]
        ax.set_title(f"{r0['title']}\n$g_{{00}}$ = {r0['tau00']:.3g}, $g_{{01}}$ = {r0['tau01']:.3g}, $g_{{11}}$ = {r0['tau11']:.3g}")
        ax.set_xlabel("X")
        ax.set_ylabel("Y")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig
