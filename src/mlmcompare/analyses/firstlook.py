"""A first look at hierarchical data: the tables behind the handout's section 1.

Everything here is a small function of the prepared student data and the
school summary (``contextual.school_summary``) that returns one tidy table:

- ``school_ols_lines``: each school's own OLS line of the response on the
  predictor, with the school's informative id and plot position, so the
  report can draw one panel per school in the handout's order (non-reference
  level of the compared factor first, each level by mean predictor);
- ``school_ols_lines_by``: the same, separately for each level of a level-1
  factor (Sex) inside each school;
- ``uniform_quantiles``: uniform quantile plot coordinates of numeric
  columns, by the levels of a factor;
- ``school_counts``: counts of students per school and level of one or more
  factors (the handout's tables of Sector by school and Sex by school);
- ``variable_levels``: which columns vary within schools (level 1), which
  are constant within schools (level 2), and which are derived from level-1
  data (contextual means and deviations).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..methods.common import per_group_ols
from ..spec import ModelSpec


def school_ols_lines(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """One row per school: id, plot_order, compared factor, n, the school means
    of predictor and response (x_mean, y_mean), the predictor's range, OLS
    intercept and slope (NaN where the slope is not estimable)."""
    fits = per_group_ols(data, spec).table[[spec.group, "intercept", "slope", "rss", "df_resid"]]
    rng = data.groupby(spec.group, sort=True)[spec.predictor].agg(x_min="min", x_max="max").reset_index()
    cols = [spec.group, "id", "plot_order", spec.level2_factor, "n"]
    means = schools[[spec.group, spec.predictor, spec.response]].rename(columns={spec.predictor: "x_mean", spec.response: "y_mean"})
    out = schools[cols].merge(means, on=spec.group).merge(rng, on=spec.group, how="left").merge(fits, on=spec.group, how="left")
    out[spec.level2_factor] = out[spec.level2_factor].astype(str)
    return out.sort_values("plot_order").reset_index(drop=True)


def school_ols_lines_by(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, factor: str) -> pd.DataFrame:
    """Each school's OLS line within each level of a level-1 factor (e.g. Sex);
    rows for school-level pairs too small for a line are dropped."""
    frames = []
    for level, part in data.groupby(factor, observed=True, sort=True):
        lines = school_ols_lines(part, schools, spec)
        counts = part.groupby(spec.group).size().rename("n_level")
        lines = lines.merge(counts, left_on=spec.group, right_index=True, how="inner")
        lines.insert(1, factor, str(level))
        frames.append(lines)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["plot_order", factor]).reset_index(drop=True)


def uniform_quantiles(data: pd.DataFrame, columns: Sequence[str], by: str) -> pd.DataFrame:
    """Long table: variable, level of `by`, uniform quantile p = (i - 1/2)/n, value.

    A uniform quantile plot is each variable sorted and plotted against its
    rank scaled to (0, 1): the curve is the inverse of the empirical CDF."""
    frames = []
    for col in columns:
        for level, part in data.groupby(by, observed=True, sort=True):
            v = np.sort(part[col].to_numpy(dtype="float64"))
            n = len(v)
            frames.append(pd.DataFrame({"variable": col, "level": str(level), "p": (np.arange(1, n + 1) - 0.5) / n, "value": v}))
    return pd.concat(frames, ignore_index=True)


def school_counts(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, factors: Sequence[str]) -> pd.DataFrame:
    """Long table: school, id, plot_order, factor, level, n (zeros included)."""
    frames = []
    base = schools[[spec.group, "id", "plot_order"]]
    for factor in factors:
        levels = [str(x) for x in data[factor].cat.categories] if isinstance(data[factor].dtype, pd.CategoricalDtype) else sorted(data[factor].astype(str).unique())
        tab = pd.crosstab(data[spec.group], data[factor].astype(str)).reindex(columns=levels, fill_value=0)
        long = tab.stack().rename("n").reset_index()
        long.columns = [spec.group, "level", "n"]
        long.insert(1, "factor", factor)
        frames.append(base.merge(long, on=spec.group, how="left"))
    out = pd.concat(frames, ignore_index=True)
    out["n"] = out["n"].astype("int64")
    return out.sort_values(["factor", "plot_order", "level"]).reset_index(drop=True)


def variable_levels(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Per column: level (1 varies within schools, 2 constant within schools),
    kind (numeric or factor), whether it is derived from level-1 data, the
    number of schools in which it varies, a factor's levels and a numeric
    column's minimum and maximum."""
    rows = []
    derived = {spec.cvar: f"school mean of {spec.predictor} (contextual variable)", spec.dvar: f"{spec.predictor} centred within school"}
    g = data.groupby(spec.group, sort=False)
    for col in data.columns:
        if col == spec.group:
            continue
        varies = int((g[col].nunique(dropna=False) > 1).sum())
        kind = "factor" if isinstance(data[col].dtype, pd.CategoricalDtype) or data[col].dtype == object else "numeric"
        level = 1 if varies > 0 else 2
        rows.append(
            {
                "variable": col,
                "level": level,
                "kind": kind,
                "derived": derived.get(col, ""),
                "schools_where_it_varies": varies,
                "levels": factor_levels_text(data[col]) if kind == "factor" else "",
                "min": float(data[col].min()) if kind == "numeric" else float("nan"),
                "max": float(data[col].max()) if kind == "numeric" else float("nan"),
            }
        )
    return pd.DataFrame(rows)


def factor_levels_text(column: pd.Series, most: int = 8) -> str:
    """A factor's levels in order, the first `most` of them and a count of the rest."""
    levels = [str(c) for c in column.cat.categories] if isinstance(column.dtype, pd.CategoricalDtype) else sorted(column.dropna().astype(str).unique())
    return ", ".join(levels[:most]) + (f" and {len(levels) - most} more" if len(levels) > most else "")
