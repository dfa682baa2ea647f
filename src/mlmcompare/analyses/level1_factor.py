"""The lab's second example: a level-1 factor (Minority) and math achievement.

The sector methods compare levels of a *level-2* factor: every school is in
one sector, so a school's own line belongs to one sector's average. Minority
status varies within schools, so "the same methods" means the same targets,
not the same code:

- pooled OLS `y ~ x * M` ignores schools: the gap mixes the comparison of
  minority and majority students within schools with the comparison of
  schools with many and few minority students;
- the within-school (fixed-effects) model `y ~ x * M + factor(group)`
  compares students only with schoolmates (schools with one group only
  contribute nothing to the gap);
- the mixed model `y ~ x * M + (1 + x | group)` uses both comparisons,
  weighted by the variance components;
- the mixed model with contextual variables adds the school mean of x and
  the school proportion of the non-reference level of M, so that x and M
  estimate within-school effects and the contextual terms the differences
  between the between-school and within-school effects.

`second_example` returns one tidy table (broom columns plus `estimator`,
`model`) over the four fits.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from formulaic import model_matrix

from .. import models
from .diagnostics import within_fit
from ..methods.common import ols, tidy_coef
from ..spec import ModelSpec

ESTIMATORS = {
    "pooled_ols": "Pooled OLS",
    "fixed_effects": "Within schools (fixed effects)",
    "mixed": "Mixed model",
    "mixed_contextual": "Mixed model with contextual means",
}


def second_example(data: pd.DataFrame, spec: ModelSpec, factor: str, reference: str) -> pd.DataFrame:
    """Four fits of `y ~ x * factor` (see module docstring), `reference` first."""
    y, x, grp = spec.response, spec.predictor, spec.group
    d = data.copy()
    levels = [str(v) for v in d[factor].cat.categories] if isinstance(d[factor].dtype, pd.CategoricalDtype) else sorted(d[factor].astype(str).unique())
    if reference not in levels:
        raise ValueError(f"reference level {reference!r} is not a level of {factor} ({', '.join(levels)})")
    levels = [reference] + [lv for lv in levels if lv != reference]
    d[factor] = pd.Categorical(d[factor].astype(str), categories=levels)
    other = levels[1]
    frames = []

    formula = models.formula("factor_pooled", spec, f=factor)
    mm = model_matrix(formula, d)
    res = ols(mm.rhs.to_numpy(), mm.lhs.to_numpy().ravel(), list(mm.rhs.columns))
    frames.append(tidy_coef("pooled_ols", formula, res.terms, res.beta, np.sqrt(np.diag(res.vcov)), res.df_resid))

    ind = (d[factor].astype(str) == other).to_numpy(dtype="float64")
    xv = d[x].to_numpy(dtype="float64")
    mt = f"{factor}[T.{other}]"
    cols = {x: xv, mt: ind, f"{x}:{mt}": xv * ind}
    b, V, df = within_fit(d, cols, spec)
    frames.append(tidy_coef("fixed_effects", f"{y} ~ {x} * {factor} + factor({grp})", list(cols), b, np.sqrt(np.diag(V)), df))

    formula = models.formula("factor_lines", spec, f=factor)
    fit = models.fit("factor_lines", d, spec, f=factor)
    frames.append(fit.coef.assign(method="mixed", model=formula))

    prop = f"{factor.lower()}_{other.lower()}_mean"
    d[prop] = pd.Series(ind, index=d.index).groupby(d[grp]).transform("mean")
    formula = models.formula("factor_contextual", spec, f=factor, p=prop)
    fit = models.fit("factor_contextual", d, spec, f=factor, p=prop)
    frames.append(fit.coef.assign(method="mixed_contextual", model=formula))

    out = pd.concat(frames, ignore_index=True).rename(columns={"method": "estimator"})
    return out[["estimator", "model", "term", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"]]
