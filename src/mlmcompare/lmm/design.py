"""From a parsed formula and a data frame to model matrices (the model spec).

This module owns the *data* stage (lme4's lFormula): it runs the input checks
of :mod:`mlmcompare.lmm.checks`, builds the fixed-effects matrix X through
formulaic (R's treatment contrasts; a pandas Categorical keeps its category
order, so its first category is the reference level), the random-effects
columns Z (one covariance block per ``|`` bar; ``||`` gives one block per
column, as lme4 expands it for numeric columns), the response and the group
codes.  The result, :class:`Design`, keeps the rows so that fitted values and
residuals can be computed after the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import formulaic
import numpy as np
import pandas as pd

from . import checks
from .formula import ParsedFormula, _split_top, parse_formula

__all__ = ["Design", "build_design"]


@dataclass
class Design:
    parsed: ParsedFormula
    y: np.ndarray  # (n,)
    X: np.ndarray  # (n, p)
    Z: np.ndarray  # (n, q)
    codes: np.ndarray  # (n,) group code of each row
    levels: np.ndarray  # (J,) group labels, in factor order
    fixed_terms: list[str]
    random_terms: list[str]
    block_sizes: tuple[int, ...]  # Z columns form contiguous blocks of these sizes
    block_bars: tuple[str, ...]  # the bar each block comes from (for messages)
    index: pd.Index  # row labels of the data
    fixed_spec: object  # formulaic ModelSpec of the fixed part (to rebuild X)

    @property
    def nobs(self) -> int:
        return int(self.y.shape[0])

    @property
    def group_name(self) -> str:
        return self.parsed.group


def _variables(expr: str) -> list[str]:
    try:
        return sorted(str(v) for v in formulaic.Formula(expr).required_variables)
    except Exception as exc:  # formulaic's parser errors, re-worded
        raise ValueError(f"cannot parse formula part {expr!r}: {exc}") from exc


def _model_matrix(expr: str, data: pd.DataFrame, where: str):
    try:
        return formulaic.model_matrix(expr, data, na_action="raise")
    except Exception as exc:
        raise ValueError(f"cannot build the {where} from {expr!r}: {exc}") from exc


def _simple_columns(expr: str, data: pd.DataFrame) -> tuple[list[str], np.ndarray] | None:
    """Fast path for random terms made of 1, 0, -1 and plain numeric column names.

    Returns the same names and columns as formulaic (intercept first, then
    the columns in order of appearance), or None when formulaic is needed.
    """
    intercept = True
    names: list[str] = []
    for sign, tok in _split_top(expr, "+-"):
        tok = tok.strip()
        if tok == "" and sign == "+" and not names:
            continue
        if tok in ("0", "-1") or (sign == "-" and tok == "1"):
            intercept = False
        elif tok == "1" and sign == "+":
            continue
        elif sign == "+" and tok in data.columns and tok.isidentifier():
            dt = data[tok].dtype
            if isinstance(dt, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dt):
                return None
            if tok not in names:
                names.append(tok)
        else:
            return None
    cols = [data[c].to_numpy(dtype=float) for c in names]
    if intercept:
        names.insert(0, "Intercept")
        cols.insert(0, np.ones(len(data)))
    if not cols:
        return names, np.empty((len(data), 0))
    return names, np.column_stack(cols)


def _group_codes(col: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes and observed levels; a Categorical keeps its category order."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.cat.remove_unused_categories()
        return col.cat.codes.to_numpy().astype(np.intp), np.asarray(col.cat.categories)
    codes, levels = pd.factorize(col, sort=True)
    return codes.astype(np.intp), np.asarray(levels)


def build_design(formula: str | ParsedFormula, data: pd.DataFrame) -> Design:
    """Validate the inputs and build y, X, Z and group codes (see module docstring)."""
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    parsed = parse_formula(formula) if isinstance(formula, str) else formula

    # -- which columns does the model use?  unknown names are refused first
    group = parsed.group
    fixed_vars = _variables(parsed.fixed)
    random_vars = {str(b): _variables(b.expr) for b in parsed.bars}
    checks.check_columns_exist(data, [parsed.response], "the response")
    checks.check_columns_exist(data, fixed_vars, f"the fixed part {parsed.fixed!r}")
    for bar, vs in random_vars.items():
        checks.check_columns_exist(data, vs, f"random term {bar}")
    checks.check_columns_exist(data, [group], "the grouping factor")
    used = list(dict.fromkeys([parsed.response, group, *fixed_vars,
                               *(v for vs in random_vars.values() for v in vs)]))
    checks.check_missing(data, used)
    y = checks.check_response(data[parsed.response], parsed.response)
    for bar, vs in random_vars.items():
        checks.check_numeric_random(data, vs, bar)

    # -- fixed part through formulaic (treatment contrasts, category order kept)
    mmX = _model_matrix(parsed.fixed, data, "fixed-effects matrix")
    fixed_terms = [str(c) for c in mmX.columns]
    X = np.asarray(mmX, dtype=float)
    if X.shape[1] == 0:
        raise ValueError(
            f"formula {parsed.formula!r} has no fixed effects; a model without fixed "
            "effects (y ~ 0 + (...)) is not supported"
        )

    # -- random part: one block per bar, or one per column for ||
    Zcols: list[np.ndarray] = []
    random_terms: list[str] = []
    sizes: list[int] = []
    bars: list[str] = []
    for bar in parsed.bars:
        simple = _simple_columns(bar.expr, data)
        if simple is not None:
            names, Zb = simple
        else:
            mmZ = _model_matrix(bar.expr, data, f"random-effects columns of {bar}")
            names = [str(c) for c in mmZ.columns]
            Zb = np.asarray(mmZ, dtype=float)
        if not names:
            raise ValueError(f"random term {bar} has no columns")
        for name in names:
            if name in random_terms:
                raise ValueError(
                    f"random-effect column {name!r} appears in more than one random term "
                    f"(again in {bar}); each column may appear once"
                )
        random_terms.extend(names)
        Zcols.append(Zb)
        if bar.uncorrelated:
            sizes.extend([1] * len(names))
            bars.extend([str(bar)] * len(names))
        else:
            sizes.append(len(names))
            bars.append(str(bar))
    Z = np.concatenate(Zcols, axis=1)

    codes, levels = _group_codes(data[group])
    n = y.shape[0]
    checks.check_grouping(codes, group, n)
    checks.check_fixed_rank(X, fixed_terms)
    checks.check_nobs_vs_nre(n, len(levels), Z.shape[1])
    return Design(
        parsed=parsed,
        y=y,
        X=X,
        Z=Z,
        codes=codes,
        levels=levels,
        fixed_terms=fixed_terms,
        random_terms=random_terms,
        block_sizes=tuple(sizes),
        block_bars=tuple(bars),
        index=data.index,
        fixed_spec=mmX.model_spec,
    )
