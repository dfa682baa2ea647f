"""Cluster summaries and contextual variables.

`add_contextual` puts the group mean of the level-1 predictor (spida2's
cvar, column `<x>_mean`) and the deviation from it (dvar, "centred within
group", `<x>_cwg`) on every student row. `school_summary` is spida2's
`up()`: one row per group with its size, the means of the level-1
numerics, the level-2 columns, the modes of level-1 factors, the
composition (share of one level of a binary factor, and the school type
Girls / Boys / Coed) and an informative id such as `P8854C` (sector
letter, school number, type letter), ordered for plots.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..spec import ModelSpec


def add_contextual(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """The student rows with `<x>_mean` and `<x>_cwg` columns added."""
    out = frame.copy()
    means = out.groupby(spec.group, sort=False)[spec.predictor].transform("mean")
    out[spec.cvar] = means.astype("float64")
    out[spec.dvar] = out[spec.predictor] - out[spec.cvar]
    return out


def factor_mode(values: pd.Series) -> object:
    """The most frequent level; ties go to the earlier level of the factor."""
    counts = values.value_counts(sort=False)
    if isinstance(values.dtype, pd.CategoricalDtype):
        counts = counts.reindex(values.cat.categories, fill_value=0)
    return counts.idxmax()


def composition_columns(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Per group: share of the counted level and the school type label."""
    comp = spec.composition
    assert comp is not None
    counted = (frame[comp.column].astype(str) == comp.level).astype("float64")
    share = counted.groupby(frame[spec.group], sort=False).mean()
    kind = np.where(share == 1.0, comp.all_label, np.where(share == 0.0, comp.none_label, comp.mixed_label))
    name = f"prop_{comp.level.lower()}"
    return pd.DataFrame({name: share, "school_type": kind}, index=share.index)


def informative_ids(summary: pd.DataFrame, spec: ModelSpec) -> pd.Series:
    """Labels like `P8854C`: level-2 factor letter, group id, type letter."""
    letter = summary[spec.level2_factor].astype(str).str[0]
    kind = summary["school_type"].astype(str).str[0] if "school_type" in summary else ""
    return letter + summary[spec.group].astype(str) + kind


def school_summary(frame: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """One row per group (spida2's `up()` with composition and ordering).

    Rows are ordered by the compared factor with the non-reference levels
    first (Public before Catholic, as the handout's panels), then by the
    group mean of the predictor; `plot_order` numbers them in that order.
    """
    g = frame.groupby(spec.group, sort=True)
    out = pd.DataFrame({"n": g.size().astype("int64")})
    level2 = set(spec.level2_columns)
    for col in frame.columns:
        if col == spec.group:
            continue
        s = frame[col]
        if col in level2:
            out[col] = g[col].first()
        elif pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            out[col] = g[col].mean().astype("float64")
        else:
            out[col] = g[col].agg(factor_mode)
    for col in frame.columns:
        if isinstance(frame[col].dtype, pd.CategoricalDtype) and col in out:
            out[col] = pd.Categorical(out[col].astype(str), categories=frame[col].cat.categories)
    if spec.composition is not None:
        out = out.join(composition_columns(frame, spec))
    out = out.reset_index()
    out.insert(1, "id", informative_ids(out, spec))
    levels = list(frame[spec.level2_factor].cat.categories)
    plot_rank = {lv: i for i, lv in enumerate(levels[1:] + levels[:1])}
    out["_rank"] = out[spec.level2_factor].astype(str).map(plot_rank)
    out = out.sort_values(["_rank", spec.predictor, spec.group], kind="mergesort").drop(columns="_rank")
    out["plot_order"] = np.arange(1, len(out) + 1, dtype="int64")
    return out.reset_index(drop=True)
