"""How numbers are written in the handouts: one place for every format.

`fmt` (fixed decimals), `sig` (significant digits), `num` (a table cell),
`fmt_p` and `p_text` (p-values), `with_se` (estimate and SE) and
`markdown_table` (a pandoc pipe table of strings).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd


def fmt(x: float, digits: int = 3) -> str:
    """A number for a table; NaN shows as an em dash, infinity as ∞."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return "—"
    if isinstance(x, (float, np.floating)) and np.isinf(x):
        return "∞"
    return f"{x:.{digits}f}"

def fmt_p(p: float) -> str:
    if np.isnan(p):
        return "—"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"

def p_text(p: float) -> str:
    if not np.isfinite(p):
        return "—"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"

def num(x: float, digits: int = 2) -> str:
    """A number for a table cell; NaN as an em dash."""
    return "—" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"

def sig(x: float, digits: int = 7) -> str:
    """A number to `digits` significant digits (as R prints), NaN as an em dash."""
    if x is None or not np.isfinite(x):
        return "—"
    text = f"{x:#.{digits}g}"  # '#' keeps trailing zeros, as R prints 14.17030
    return text[:-1] if text.endswith(".") else text

def with_se(est: float, var: float, digits: int = 3) -> str:
    return f"{fmt(est, digits)} ({fmt(np.sqrt(var), digits)})"

def markdown_table(frame: pd.DataFrame, align: Sequence[str] | None = None) -> str:
    """A pandoc pipe table (strings as given; first column left, others right)."""
    cols = [str(c) for c in frame.columns]
    align = align or ["l"] + ["r"] * (len(cols) - 1)
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
    for row in frame.astype(str).itertuples(index=False):
        lines.append("| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)
