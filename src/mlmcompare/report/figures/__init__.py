"""The handouts' figures, one module per idea they show, drawn from the
pipeline's tables only (none refits a model): `comparison` (the methods'
lines and ellipses), `firstlook`, `diagnostics`, `oneway` (estimators of the
mean and shrinkage), `sectorgap`, `simexample`, `designs` and `study`.

This module holds what they share: the print size and type sizes
(`handout_figure`: every figure is drawn at most `TEXT_WIDTH` inches wide
with no text below `MIN_PT` points, so that it prints at its natural size),
the level palette, panel grids, the rule that picks a sample of schools for
figures of many schools, ellipse drawing, and `figure_output`, which hands a
figure to the page as a compact PNG.
"""

from __future__ import annotations

import functools
import io
import math
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ...estimation.lines import ellipse_points

LEVEL_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"]

#: the printed text width of the PDF (A4, 2.2 cm margins), in inches
TEXT_WIDTH = 6.5
#: the smallest type size in a printed figure, in points
MIN_PT = 7.0
#: figures of more schools than this show a sample of them
MAX_PANELS = 40

STYLE = {
    "font.size": 8.0,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "figure.titlesize": 9.0,
    "figure.labelsize": 8.0,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "xtick.major.size": 2.5,
    "ytick.major.size": 2.5,
    "legend.frameon": True,
    "legend.framealpha": 0.85,
    "legend.edgecolor": "0.85",
    "figure.dpi": 100,
}

F = TypeVar("F", bound=Callable[..., Any])


def drawn_with(style: dict[str, Any]) -> Callable[[F], F]:
    """A decorator that draws a figure under the matplotlib settings `style`."""
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def drawn(*args: Any, **kwargs: Any) -> Any:
            with plt.rc_context(style):
                return function(*args, **kwargs)
        return drawn  # type: ignore[return-value]
    return decorate


#: draw the figure with the handout's type sizes (`STYLE`)
handout_figure = drawn_with(STYLE)


def printed_sizes(fig: Any) -> list[float]:
    """The type size of every visible text of `fig` as printed at `TEXT_WIDTH`
    (a figure wider than the text is shrunk to it)."""
    scale = min(1.0, TEXT_WIDTH / fig.get_figwidth())
    sizes = []
    for text in fig.findobj(matplotlib.text.Text):
        if text.get_visible() and text.get_text().strip() and text.get_figure() is not None:
            sizes.append(text.get_fontsize() * scale)
    return sizes


#: PNG resolution: sharp in print at the figure's drawn size, and on screens
#: of two pixels per CSS pixel
PNG_DPI = 200


def figure_png(fig: Any, dpi: int = PNG_DPI) -> bytes:
    """The figure as a PNG of at most 256 colours (no dithering): measured on the
    handout's figures, a third of the bytes of a full-colour PNG and smaller
    than SVG for every one of them, with no visible difference. The fast
    octree palette and zlib's default level: measured on the 21 hs figures,
    encoding took 35% less time than median cut with `optimize` and the files
    came out 20% smaller."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    image = image.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    image.save(out, format="png", dpi=(dpi, dpi))
    return out.getvalue()


def figure_output(fig: Any, close: bool = True) -> Any:
    """The figure as an IPython display object (`figure_png`), shown at its
    drawn size, a little enlarged on screen (112 CSS pixels per inch); the figure is closed."""
    from IPython.display import Image

    try:
        return Image(data=figure_png(fig), format="png", width=int(round(fig.get_figwidth() * 112)))
    finally:
        if close:
            plt.close(fig)


def figure_file_output(path: str | Path) -> Any:
    """A figure a step wrote (`figure_png`) as an IPython display object, shown
    as `figure_output` shows a drawn one: the width of its drawn size, read
    from the PNG's pixels and resolution, at 112 CSS pixels per inch."""
    from IPython.display import Image as Shown
    from PIL import Image

    data = Path(path).read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        dpi = float(image.info.get("dpi", (PNG_DPI, PNG_DPI))[0])
        width = image.size[0] / dpi
    return Shown(data=data, format="png", width=int(round(width * 112)))


def level_colors(levels: Sequence[str]) -> dict[str, str]:
    return {lv: LEVEL_COLORS[i % len(LEVEL_COLORS)] for i, lv in enumerate(levels)}


def level_color(levels: Sequence[str], level: str) -> str:
    return level_colors(levels)[level]


def panel_grid(n: int, width: float = TEXT_WIDTH, cols: int | None = None) -> tuple[int, int, tuple[float, float]]:
    """Columns, rows and figure size for n small panels (about 4:3 panels)."""
    cols = cols or min(max(4, math.ceil(math.sqrt(n * 1.3))), 8)
    rows = math.ceil(n / cols)
    panel_w = width / cols
    return cols, rows, (width, 0.78 * panel_w * rows + 0.75)


def sample_schools(table: pd.DataFrame, factor: str, by: str, per_level: int, include: Sequence[str] = (), id_column: str = "id") -> pd.DataFrame:
    """The schools a figure of many schools shows: within each level of `factor`,
    `per_level` schools at evenly spaced ranks of `by` (lowest and highest
    included), plus the schools named in `include`; all of them when a level
    has no more. Rows keep the table's order."""
    keep: set[Any] = set(table.index[table[id_column].astype(str).isin([str(i) for i in include])])
    for _, part in table.groupby(factor, sort=False, observed=True):
        ranked = part.sort_values([by, id_column])
        if len(ranked) <= per_level:
            keep |= set(ranked.index)
            continue
        picks = np.unique(np.round(np.linspace(0, len(ranked) - 1, per_level)).astype(int))
        keep |= set(ranked.index[picks])
    return table.loc[[i for i in table.index if i in keep]]


def sample_rule_sentence(n_total: int, n_shown: int, per_level: int, factor: str, by: str, include: Sequence[str] = ()) -> str:
    """What a sampled figure shows, in words ('' when it shows every school)."""
    if n_shown >= n_total:
        return ""
    extra = f", plus the schools {', '.join(include)}" if include else ""
    return (f"With {n_total} schools, the figures of single schools show {n_shown} of them: in each level of `{factor}`, "
            f"{per_level} schools at evenly spaced ranks of their mean `{by}`, from the lowest to the highest{extra}.")


def draw_ellipse(ax, center, cov, radius: float = 1.0, **kw) -> None:
    """The ellipse of `cov` around `center` at `radius` (1: the 1-SD ellipse)."""
    pts = ellipse_points(np.asarray(center), np.asarray(cov), radius)
    ax.plot(pts[:, 0], pts[:, 1], **kw)
