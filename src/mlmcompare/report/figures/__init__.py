"""The handouts' figures, one module per idea they show, drawn from the
pipeline's tables only (none refits a model): `comparison` (the methods'
lines and ellipses), `firstlook`, `diagnostics`, `oneway` (estimators of the
mean and shrinkage), `sectorgap`, `simexample`, `designs` and `study`.
This module holds what they share: the level palette, panel grids and
ellipse drawing.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ...estimation.lines import ellipse_points

LEVEL_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]


def level_colors(levels: Sequence[str]) -> dict[str, str]:
    return {lv: LEVEL_COLORS[i % len(LEVEL_COLORS)] for i, lv in enumerate(levels)}


def panel_grid(n: int, width: float = 11.0) -> tuple[int, int, tuple[float, float]]:
    """Columns, rows and figure size for n small panels (about 3:2 panels)."""
    cols = max(4, math.ceil(math.sqrt(n * 1.6)))
    rows = math.ceil(n / cols)
    panel_w = width / cols
    return cols, rows, (width, 0.8 * panel_w * rows + 0.9)


def draw_ellipse(ax, center, cov, radius: float = 1.0, **kw) -> None:
    """The ellipse of `cov` around `center` at `radius` (1: the 1-SD ellipse)."""
    pts = ellipse_points(np.asarray(center), np.asarray(cov), radius)
    ax.plot(pts[:, 0], pts[:, 1], **kw)


def level_color(levels: Sequence[str], level: str) -> str:
    return level_colors(levels)[level]
