"""Input validation run before any fit, as a row of small named checks.

Each check looks at one thing and raises a ``ValueError`` whose message says
what is wrong, where (column, rows, terms) and what to do, in the manner of
lme4's ``checkNlevels``, ``checkZrank``, ``chkRank.drop.cols`` and
``checkResponse``.  The checks never modify data; the engine refuses rather
than silently dropping rows or columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import scipy.linalg

__all__ = [
    "check_columns_exist",
    "check_missing",
    "check_response",
    "check_grouping",
    "check_numeric_random",
    "check_fixed_rank",
    "check_nobs_vs_nre",
    "RANK_TOL",
]

#: relative tolerance on |R_kk| / |R_00| of the pivoted QR (lme4 uses 1e-7)
RANK_TOL = 1e-7


def _show_rows(index: pd.Index, mask: np.ndarray, k: int = 5) -> str:
    rows = list(index[mask][:k])
    more = ", ..." if int(mask.sum()) > k else ""
    return ", ".join(str(r) for r in rows) + more


def check_columns_exist(data: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    """Every variable named by the formula must be a column of ``data``."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ValueError(
            f"unknown column {names} in {where}; the data has columns "
            f"{', '.join(map(str, data.columns[:20]))}"
            + (" ..." if len(data.columns) > 20 else "")
        )


def check_missing(data: pd.DataFrame, columns: Sequence[str]) -> None:
    """No missing values in the columns the model uses (rows are never dropped)."""
    problems = []
    for col in columns:
        na = data[col].isna().to_numpy()
        if na.any():
            problems.append(
                f"column {col!r} has {int(na.sum())} missing value(s) "
                f"(rows {_show_rows(data.index, na)})"
            )
    if problems:
        raise ValueError(
            "missing values: "
            + "; ".join(problems)
            + ". lmm.fit does not drop rows; remove or impute them first"
        )


def check_response(y: pd.Series, name: str) -> np.ndarray:
    """The response must be numeric and finite; returns it as float64."""
    if isinstance(y.dtype, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype)
    ):
        raise ValueError(f"response {name!r} is not numeric (dtype {y.dtype})")
    values = y.to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ValueError(
            f"response {name!r} has {int(bad.sum())} non-finite value(s) "
            f"(NaN or infinite) in rows {_show_rows(y.index, bad)}"
        )
    return values


def check_grouping(codes: np.ndarray, name: str, nobs: int) -> None:
    """The grouping factor needs at least 2 levels and fewer levels than rows."""
    nlev = int(codes.max()) + 1 if codes.size else 0
    if nlev < 2:
        raise ValueError(
            f"grouping factor {name!r} has {nlev} level(s); a random effect needs at least 2 groups"
        )
    if nlev >= nobs:
        raise ValueError(
            f"grouping factor {name!r} has {nlev} levels for {nobs} rows: the number of "
            "levels must be smaller than the number of observations (residual and "
            "group variances are not identifiable)"
        )


def check_numeric_random(data: pd.DataFrame, variables: Iterable[str], bar: str) -> None:
    """Random-term columns must be numeric (factor columns are refused for now)."""
    for v in variables:
        if v not in data.columns:
            continue
        dt = data[v].dtype
        if isinstance(dt, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
        ):
            raise ValueError(
                f"factor column {v!r} (dtype {dt}) in random term {bar} is not supported; "
                "use numeric columns (e.g. a 0/1 indicator) in random terms"
            )


def check_fixed_rank(X: np.ndarray, names: Sequence[str], tol: float = RANK_TOL) -> None:
    """The fixed-effects matrix must have full column rank (pivoted QR on X).

    Unlike lme4, which drops aliased columns with a message, we refuse and
    name them, so that every reported term has an estimate.
    """
    n, p = X.shape
    if p == 0:
        return
    if n < p:
        raise ValueError(f"fixed-effects matrix has {p} columns but only {n} rows")
    # scale columns so that the tolerance is about collinearity, not units
    scale = np.sqrt((X * X).sum(axis=0))
    zero = scale == 0
    if zero.any():
        bad = [names[i] for i in np.flatnonzero(zero)]
        raise ValueError(
            "fixed-effects model matrix is rank deficient: column(s) "
            f"{', '.join(map(repr, bad))} are all zero"
        )
    R, piv = scipy.linalg.qr(X / scale, mode="r", pivoting=True)
    d = np.abs(np.diag(R))
    rank = int((d > tol * d[0]).sum())
    if rank < p:
        aliased = [names[i] for i in piv[rank:]]
        raise ValueError(
            f"fixed-effects model matrix is rank deficient (rank {rank} < {p} columns): "
            f"term(s) {', '.join(map(repr, aliased))} are aliased with (linear "
            "combinations of) the other terms; remove them from the formula"
        )


def check_nobs_vs_nre(nobs: int, ngroups: int, q: int) -> None:
    """More observations than random effects, else sigma is not identifiable."""
    nre = ngroups * q
    if nobs <= nre:
        raise ValueError(
            f"number of observations ({nobs}) <= number of random effects ({nre} = "
            f"{ngroups} groups x {q} terms); the residual variance and the random "
            "effects variances are probably unidentifiable"
        )
