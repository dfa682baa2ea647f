"""Input validation run before any fit, as a row of small named checks.

Each check looks at one thing and raises a ``ValueError`` whose message says
what is wrong, where (column, rows, terms) and what to do, in the manner of
lme4's ``checkNlevels``, ``checkZrank``, ``chkRank.drop.cols`` and
``checkResponse``.  The checks never modify data; the engine refuses rather
than silently dropping rows or columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.linalg

__all__ = [
    "check_columns_exist",
    "check_missing",
    "check_finite_columns",
    "check_finite_matrix",
    "check_response",
    "check_response_varies",
    "check_not_exact_fit",
    "check_grouping",
    "check_numeric_random",
    "check_numeric_column",
    "check_known_levels",
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


def check_columns_exist(data: pd.DataFrame | Iterable[str], columns: Iterable[str],
                        where: str) -> None:
    """Every variable named by the formula must be a column of ``data``.

    ``data`` is a frame, or the column names of one not read yet (a
    parquet schema, a Dask frame's columns).
    """
    available = [str(c) for c in (data.columns if isinstance(data, pd.DataFrame) else data)]
    known = set(available)
    missing = [c for c in columns if c not in known]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ValueError(
            f"unknown column {names} in {where}; the data has columns "
            f"{', '.join(available[:20])}"
            + (" ..." if len(available) > 20 else "")
        )


def _missing_mask(col: pd.Series) -> np.ndarray | None:
    """Where ``col`` is missing; None when its dtype cannot hold a missing value."""
    dt = col.dtype
    if isinstance(dt, np.dtype) and dt.kind in "biu":  # numpy ints and bools: never missing
        return None
    if isinstance(dt, np.dtype) and dt.kind == "f":  # numpy floats: NaN (cheaper than isna)
        return np.isnan(col.to_numpy())
    return col.isna().to_numpy()


def check_missing(data: pd.DataFrame | Mapping[str, pd.Series], columns: Sequence[str]) -> None:
    """No missing values in the columns the model uses (rows are never dropped).

    ``data`` is a frame or a mapping of column name to Series.
    """
    problems = []
    for col in columns:
        values = data[col]
        na = _missing_mask(values)
        if na is not None and na.any():
            problems.append(
                f"column {col!r} has {int(na.sum())} missing value(s) "
                f"(rows {_show_rows(values.index, na)})"
            )
    if problems:
        raise ValueError(
            "missing values: "
            + "; ".join(problems)
            + ". lmm.fit does not drop rows; remove or impute them first"
        )


def _plain(values: np.ndarray, k: int = 5) -> str:
    """Distinct values as plain text ('inf', '-inf', '1.5'), not numpy reprs."""
    shown = [str(float(v)) if np.isfinite(v) else ("inf" if v > 0 else "-inf") for v in
             pd.unique(np.asarray(values, dtype=float))[:k]]
    return ", ".join(shown)


def check_finite_columns(data: pd.DataFrame | Mapping[str, pd.Series], columns: Sequence[str]) -> None:
    """No infinite values in the numeric columns the model uses as predictors.

    Checked before any product is formed (an inf times a 0 indicator would
    be a NaN deep inside the fit).  Missing values are check_missing's.
    """
    problems = []
    for col in columns:
        values = data[col]
        dt = values.dtype
        if not (isinstance(dt, np.dtype) and dt.kind == "f") and not (
                pd.api.types.is_float_dtype(dt) and not isinstance(dt, pd.CategoricalDtype)):
            continue  # ints, bools and text hold no infinities
        v = values.to_numpy(dtype=float, na_value=np.nan)
        bad = np.isinf(v)
        if bad.any():
            problems.append(
                f"column {col!r} has {int(bad.sum())} infinite value(s) ({_plain(v[bad])}) "
                f"in rows {_show_rows(values.index, bad)}"
            )
    if problems:
        raise ValueError(
            "infinite values: " + "; ".join(problems)
            + ". lmm.fit needs finite predictors; remove or replace them first"
        )


def check_finite_matrix(M: np.ndarray, names: Sequence[str], index: pd.Index, where: str) -> None:
    """Every column of a model matrix built from transformations (log, 1/x) must be finite."""
    ok = np.isfinite(M)
    if ok.all():
        return
    bad_cols = np.flatnonzero(~ok.all(axis=0))
    parts = []
    for j in bad_cols[:5]:
        rows = ~ok[:, j]
        parts.append(f"column {names[j]!r} is {_plain(M[rows, j])} in rows {_show_rows(index, rows)}")
    raise ValueError(
        f"the {where} has non-finite values: " + "; ".join(parts)
        + " (from a transformation such as log(0)); remove those rows or change the formula"
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


def check_response_varies(y: np.ndarray, name: str) -> None:
    """The response must not be constant (lme4's checkResponse)."""
    if y.size and np.ptp(y) == 0:
        raise ValueError(
            f"response {name!r} is constant (every row is {_plain(y[:1])}): there is no "
            "variation for a mixed model to split into components"
        )


def exact_fit_share(XtX: np.ndarray, Xty: np.ndarray, yty: float, ss_about_mean: float) -> float:
    """Share of the response's spread left by least squares on X (from cross-products)."""
    if not ss_about_mean > 0:
        return 0.0
    try:
        c = np.linalg.cholesky(XtX)
        z = scipy.linalg.solve_triangular(c, Xty, lower=True)
    except np.linalg.LinAlgError:
        return 1.0  # rank trouble is check_fixed_rank's to report
    return max(float(yty - z @ z), 0.0) / ss_about_mean


def check_not_exact_fit(XtX: np.ndarray, Xty: np.ndarray, yty: float, ss_about_mean: float,
                        name: str, fixed_terms: Sequence[str]) -> None:
    """The response must not be an exact linear function of the fixed effects.

    Its residuals on X would be 0, so sigma -> 0 and the likelihood has no
    maximum (lme4 ends such a fit in a failed convergence check).
    """
    if exact_fit_share(XtX, Xty, yty, ss_about_mean) <= 1e-20:
        raise ValueError(
            f"response {name!r} is an exact linear function of the fixed effects "
            f"({', '.join(fixed_terms)}): its residuals are 0, so the residual and "
            "random-effect variances cannot be estimated"
        )


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


def check_numeric_random(data: pd.DataFrame | Mapping[str, pd.Series], variables: Iterable[str],
                         bar: str) -> None:
    """Random-term columns must be numeric (factor columns are refused for now)."""
    for v in variables:
        if v not in data:
            continue
        dt = data[v].dtype
        if isinstance(dt, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
        ):
            raise ValueError(
                f"factor column {v!r} (dtype {dt}) in random term {bar} is not supported; "
                "use numeric columns (e.g. a 0/1 indicator) in random terms"
            )


def check_numeric_column(col: pd.Series, name: str) -> None:
    """A column the model uses as a number must be numeric in every chunk."""
    dt = col.dtype
    if isinstance(dt, pd.CategoricalDtype) or not (
        pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
    ) or pd.api.types.is_complex_dtype(dt):
        raise ValueError(
            f"column {name!r} enters the fixed part as a number but has dtype {dt} here; "
            "give every chunk the column types of the first one"
        )


def _show_values(values: Sequence, k: int) -> str:
    shown = ", ".join(repr(v.item() if isinstance(v, np.generic) else v) for v in values[:k])
    return shown + (", ..." if len(values) > k else "")


def check_known_levels(col: pd.Series, codes: np.ndarray, name: str, levels: Sequence) -> None:
    """Every value of a factor column must be one of the levels fixed for it.

    ``codes`` are the positions of the values among ``levels``, -1 for a
    value outside them.  The levels are fixed once (by ``row_spec``) from
    the first chunk unless declared, so a later chunk may bring a new one.
    """
    unseen = np.asarray(codes) < 0
    if not unseen.any():
        return
    new = pd.unique(np.asarray(col.to_numpy())[unseen])
    raise ValueError(
        f"column {name!r} has level(s) {_show_values(new, 5)} that are not among its "
        f"{len(levels)} fixed level(s) ({_show_values(list(levels), 10)}), in "
        f"{int(unseen.sum())} row(s) (rows {_show_rows(col.index, unseen)}). The levels of a "
        "factor are fixed once (declared, else a Categorical's categories, else the values of "
        "the first chunk of rows); declare all of them with "
        f"row_spec(..., levels={{{name!r}: [...]}}) or give the column a pandas Categorical "
        "dtype that lists every category"
    )


def _clearly_full_rank(corr_gram: np.ndarray, n: int, tol: float) -> bool:
    """True when X's scaled Gram matrix proves every pivot of the QR below exceeds ``tol``.

    Each pivot |R_kk| of a QR of the scaled X is at least its smallest
    singular value, whose square is the smallest eigenvalue of the scaled
    Gram matrix; that matrix is computed with an error of at most about
    p n eps (unit columns).  Well inside that margin the QR (the costly
    part on many rows) cannot find an aliased column and is skipped; near
    it, the QR decides as before.
    """
    p = corr_gram.shape[0]
    if not np.isfinite(corr_gram).all():
        return False
    margin = 2.0 * p * n * np.finfo(float).eps
    return bool(np.linalg.eigvalsh(corr_gram)[0] > tol * tol + margin)


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
    gram = X.T @ X
    scale = np.sqrt(np.diag(gram))
    zero = scale == 0
    if zero.any():
        bad = [names[i] for i in np.flatnonzero(zero)]
        raise ValueError(
            "fixed-effects model matrix is rank deficient: column(s) "
            f"{', '.join(map(repr, bad))} are all zero"
        )
    if _clearly_full_rank(gram / np.outer(scale, scale), n, tol):
        return
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


def check_nobs_vs_nre(nobs: int, ngroups: int, q: int, group: str | None = None) -> None:
    """More observations than random effects of each factor, else sigma is not identifiable."""
    nre = ngroups * q
    if nobs <= nre:
        which = f" of grouping factor {group!r}" if group else ""
        raise ValueError(
            f"number of observations ({nobs}) <= number of random effects{which} ({nre} = "
            f"{ngroups} groups x {q} terms); the residual variance and the random "
            "effects variances are probably unidentifiable"
        )
