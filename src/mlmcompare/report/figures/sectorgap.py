"""The sector-gap section's figure: school lines implied by several G matrices."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def g_panels_figure(lines: pd.DataFrame, x_range: tuple[float, float] = (-2.0, 2.0)) -> Figure:
    """One panel per G: the school lines beta_0j + beta_1j x it implies."""
    panels = lines["panel"].unique()
    ncol = 3
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(11, 3.4 * nrow), constrained_layout=True, sharex=True, sharey=True)
    axes = np.atleast_1d(axes).ravel()
    x = np.array(x_range)
    for ax, p in zip(axes, panels):
        part = lines[lines["panel"] == p]
        for r in part.itertuples():
            ax.plot(x, r.intercept + r.slope * x, color="#1f77b4", lw=1)
        r0 = part.iloc[0]
        ax.set_title(f"{r0['title']}\nG = [[{r0['tau00']:g}, {r0['tau01']:g}], [{r0['tau01']:g}, {r0['tau11']:g}]]", fontsize=8.5)
        ax.set_xlabel("X (level-1 predictor)")
        ax.set_ylabel("Y")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    return fig
