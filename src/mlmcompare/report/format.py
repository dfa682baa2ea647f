"""How numbers are written in the handouts: one place for every format.

The digits policy of the handout's body: estimates, standard errors and
statistics to 4 significant digits (`num`), degrees of freedom as integers
when they are integers and to one decimal otherwise (`df_text`), p-values to
two significant digits down to "< 0.0001" (`pval`, `p_clause`), percentages
to one decimal (`pct`), counts with thousands separators in prose (`count`).
Full precision (`full`) is for the appendix that checks numbers against the
lectures. `fmt` (fixed decimals) stays for the designs handout.

`markdown_table` writes a pandoc pipe table that both pandoc and Quarto read
the same way, a `|` inside a code span included.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np
import pandas as pd

DASH = "—"


def _finite(x: object) -> bool:
    try:
        return x is not None and math.isfinite(float(x))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def num(x: float | None, digits: int = 4) -> str:
    """`x` to `digits` significant digits in fixed notation, never rounding
    the integer part (12345.6 -> "12346"); integers print as integers;
    NaN as an em dash, infinity as ∞."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return DASH
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    if math.isnan(x):
        return DASH
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x == round(x) and abs(x) < 1e15:  # an integer-valued number prints as an integer
        return str(int(round(x)))
    rounded = float(f"{x:.{digits - 1}e}")  # the magnitude after rounding (9.9996 -> 10.00)
    magnitude = math.floor(math.log10(abs(rounded))) if rounded else math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - magnitude, 0)
    text = f"{x:.{decimals}f}"
    if float(text) == 0:  # rounds to zero at this precision: keep one significant digit
        text = f"{x:.{-magnitude}f}"
    return text


def signed(x: float | None, digits: int = 3) -> str:
    """`num` with an explicit sign (+0.012, -0.134)."""
    if not _finite(x):
        return DASH
    text = num(x, digits)
    return text if text.startswith("-") or text == "0" else "+" + text


def df_text(df: float | None) -> str:
    """Degrees of freedom: an integer as an integer, otherwise one decimal
    below 1000 and none above (4 significant digits at most)."""
    if df is None or (isinstance(df, float) and math.isnan(df)):
        return DASH
    df = float(df)
    if math.isinf(df):
        return "∞"
    if abs(df - round(df)) < 1e-6 or abs(df) >= 1000:
        return str(int(round(df)))
    return f"{df:.1f}"


def pval(p: float | None) -> str:
    """A p-value: two significant digits, "< 0.0001" below that."""
    if not _finite(p):
        return DASH
    p = float(p)
    if p < 1e-4:
        return "< 0.0001"
    if p >= 0.9995:
        return "1.00"
    return num(p, 2)


def p_clause(p: float | None) -> str:
    """"p = 0.035" or "p < 0.0001", for prose."""
    text = pval(p)
    return f"p {text}" if text.startswith("<") else f"p = {text}"


def pct(share: float | None, decimals: int = 1) -> str:
    """A share (0.931) as a percentage ("93.1%")."""
    return DASH if not _finite(share) else f"{100 * float(share):.{decimals}f}%"


def count(n: float | int) -> str:
    """A count in prose, with thousands separators (7,185)."""
    return f"{int(n):,}"


def full(x: float | None, digits: int = 7) -> str:
    """Full precision, for the checking appendix: `digits` significant digits as R prints."""
    return sig(x, digits)


def sig(x: float | None, digits: int = 7) -> str:
    """A number to `digits` significant digits (as R prints), NaN as an em dash."""
    if not _finite(x):
        return DASH
    text = f"{float(x):#.{digits}g}"  # '#' keeps trailing zeros, as R prints 14.17030
    if "e" in text:
        return f"{float(x):.{max(digits - 1 - math.floor(math.log10(abs(float(x)))), 0)}f}"
    return text[:-1] if text.endswith(".") else text


def estimate_se(est: float, se: float, digits: int = 4) -> str:
    """"2.300 (0.258)": an estimate with its standard error in parentheses."""
    return f"{num(est, digits)} ({num(se, digits - 1 if abs(se) < abs(est) else digits)})"


def with_se(est: float, var: float, digits: int = 4) -> str:
    """An estimate with the standard error from its variance."""
    return estimate_se(est, float(np.sqrt(var)), digits)


def interval(low: float, high: float, digits: int = 4) -> str:
    return f"[{num(low, digits)}, {num(high, digits)}]"


def value_range(low: float, high: float, digits: int = 4) -> str:
    """"215 to 2713": a range in prose or a table cell."""
    return f"{num(low, digits)} to {num(high, digits)}"


# ------------------------------------------------------- kept for the designs handout
def fmt(x: float, digits: int = 3) -> str:
    """A number with fixed decimals; NaN shows as an em dash, infinity as ∞."""
    if x is None or (isinstance(x, float) and np.isnan(x)):
        return DASH
    if isinstance(x, (float, np.floating)) and np.isinf(x):
        return "∞"
    return f"{x:.{digits}f}"


def fmt_p(p: float) -> str:
    return pval(p)


def p_text(p: float) -> str:
    return pval(p)


# -------------------------------------------------------------------- tables
CODE_SPAN = re.compile(r"(`+)(.+?)\1")


def cell_text(value: object) -> str:
    """A table cell: `|` escaped outside code spans. Inside a code span pandoc's
    pipe-table reader (and so Quarto's) keeps a bare `|` in the cell, while an
    escaped one would print as `\\|`."""
    text = str(value).replace("\n", " ")
    parts, last = [], 0
    for m in CODE_SPAN.finditer(text):
        parts.append(text[last:m.start()].replace("|", "\\|"))
        parts.append(m.group(0))
        last = m.end()
    parts.append(text[last:].replace("|", "\\|"))
    return "".join(parts)


def drop_empty_columns(frame: pd.DataFrame, keep: Sequence[str] = ()) -> pd.DataFrame:
    """The frame without the columns whose every cell is empty or a dash."""
    empty = [c for c in frame.columns if c not in keep and frame[c].astype(str).str.strip().isin(["", DASH, "nan", "None"]).all()]
    return frame.drop(columns=empty)


def markdown_table(frame: pd.DataFrame, align: Sequence[str] | None = None, drop_empty: bool = True) -> str:
    """A pandoc pipe table of `frame`'s cells as strings (first column left,
    others right unless `align` says otherwise); columns with no content are
    left out."""
    if drop_empty and len(frame):
        kept = drop_empty_columns(frame)
        if align is not None:
            align = [a for c, a in zip(frame.columns, align) if c in kept.columns]
        frame = kept
    cols = [str(c) for c in frame.columns]
    align = list(align or ["l"] + ["r"] * (len(cols) - 1))
    rule = {"l": ":---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(cell_text(c) for c in cols) + " |", "|" + "|".join(rule[a] for a in align) + "|"]
    for row in frame.astype(str).itertuples(index=False):
        lines.append("| " + " | ".join(cell_text(v) for v in row) + " |")
    return "\n".join(lines)


# -------------------------------------------- numbers as a lecture prints them
def printed_value(printed: str) -> float:
    """A number as a lecture prints it ("−3436.7", "5,393.40") as a float."""
    return float(printed.replace("−", "-").replace(",", ""))


def half_unit(printed: str) -> float:
    """Half a unit of the last printed digit ("16.422" -> 0.0005)."""
    text = printed.replace(",", "")
    return 0.5 * 10.0 ** (-(len(text.split(".")[1]) if "." in text else 0))


def agrees(ours: float, printed: str) -> bool:
    """Whether `ours` rounds to the printed number (half a unit of its last digit)."""
    return abs(float(ours) - printed_value(printed)) <= half_unit(printed) * (1 + 1e-9)
