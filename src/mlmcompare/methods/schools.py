"""Per-school sufficient statistics: one pass over the rows, shared by every method.

`school_stats(data, spec)` reads the rows once and keeps, for each school,
its size, the means of the predictor x and the response y, and the sums of
squares and products of x and y about those means (`Moments`), with the
level of the compared factor. Every OLS-family method is a function of these
alone: a line per school, a line per level (schools pooled by the parallel
axis theorem), lines through the school means, per-school X'X blocks for
cluster-robust errors. Sums about each school's own mean keep the numbers
accurate wherever x and y are located (no cancellation as in x'x - n xbar^2).

The mixed models need no more: within a school every column of
`y ~ (x1 + ...) * F + (1 + z | school)` built from the predictor, its school
mean (cvar) and its deviation from it (dvar) moves along the predictor
alone, so the engine's per-school statistics follow from the same moments
(`SchoolStats.along_predictor`, `lmm.sufficient_stats_from_moments`). The rows stay
referenced (`data`) for what the moments cannot give: other columns, data
whose contextual columns are not the school means of the predictor, and the
naming of aliased terms when a model turns out not estimable.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..lmm import checks
from ..spec import ModelSpec


@dataclass(frozen=True)
class Moments:
    """Size, means of x and y, and sums of squares and products about the means, per set of rows."""

    n: np.ndarray
    x_mean: np.ndarray
    y_mean: np.ndarray
    sxx: np.ndarray
    sxy: np.ndarray
    syy: np.ndarray

    def pooled(self, codes: np.ndarray, k: int) -> Moments:
        """The moments of the unions of the sets with the same code (0..k-1)."""
        n = np.bincount(codes, self.n, minlength=k)
        with np.errstate(invalid="ignore", divide="ignore"):
            xm = np.bincount(codes, self.n * self.x_mean, minlength=k) / n
            ym = np.bincount(codes, self.n * self.y_mean, minlength=k) / n
        dx = self.x_mean - xm[codes]
        dy = self.y_mean - ym[codes]
        return Moments(
            n=n,
            x_mean=xm,
            y_mean=ym,
            sxx=np.bincount(codes, self.sxx + self.n * dx * dx, minlength=k),
            sxy=np.bincount(codes, self.sxy + self.n * dx * dy, minlength=k),
            syy=np.bincount(codes, self.syy + self.n * dy * dy, minlength=k),
        )

    def sum_xx(self) -> np.ndarray:
        """Sums of squares of x about 0."""
        return self.sxx + self.n * self.x_mean**2

    def gram(self) -> np.ndarray:
        """(sets, 2, 2) matrices [1 x]'[1 x] of each set."""
        sx = self.n * self.x_mean
        return np.stack([np.stack([self.n, sx], -1), np.stack([sx, self.sum_xx()], -1)], -2)


def row_moments(x: np.ndarray, y: np.ndarray) -> Moments:
    """Each row as a set of one (n = 1, no spread): e.g. school means as data."""
    zero = np.zeros_like(x)
    return Moments(np.ones_like(x), x, y, zero, zero, zero)


#: contextual columns within this share of their spread of the school means
#: (and deviations) count as derived from them (the same sums in another order)
CONTEXTUAL_RTOL = 1e-10


@dataclass(frozen=True, eq=False)
class SchoolStats:
    """The rows summarised per school (see module docstring)."""

    spec: ModelSpec
    data: pd.DataFrame
    groups: np.ndarray  # (J,) school labels, sorted
    codes: np.ndarray  # (n,) school of each row
    levels: list[str]  # levels of the compared factor, reference first
    row_level: np.ndarray  # (n,) level of each row
    level: np.ndarray  # (J,) level of each school
    x: np.ndarray  # (n,) the predictor
    y: np.ndarray  # (n,) the response
    moments: Moments  # per school

    @property
    def nobs(self) -> int:
        return len(self.codes)

    @property
    def ngroups(self) -> int:
        return len(self.groups)

    def column(self, name: str) -> np.ndarray:
        """A numeric column of the rows as float64 (the predictor as read)."""
        return self.x if name == self.spec.predictor else self.data[name].to_numpy(dtype="float64")

    def interaction_rows(self, numeric: Sequence[str]) -> np.ndarray:
        """The rows of `y ~ (numeric columns) * F` (see `interaction_columns`)."""
        return interaction_columns({c: self.column(c) for c in numeric}, self.row_level, self.levels)

    def along_predictor(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """A numeric column as, per school, its value at the school's mean of the
        predictor and its slope in the deviation from that mean; None when the
        column is not the predictor, its school mean (cvar) or the deviation
        from it (dvar)."""
        m, spec = self.moments, self.spec
        one, zero = np.ones(self.ngroups), np.zeros(self.ngroups)
        if name == spec.predictor:
            return m.x_mean, one
        if name == spec.cvar and self._contextual_columns_derived:
            return m.x_mean, zero
        if name == spec.dvar and self._contextual_columns_derived:
            return zero, one
        return None

    @cached_property
    def _contextual_columns_derived(self) -> bool:
        """True when the data's cvar and dvar columns are the school mean of the
        predictor and the deviation from it (as `data.add_contextual` and the
        study's simulation make them), to rounding: each within `CONTEXTUAL_RTOL`
        of its own spread (of the school means between schools, of the
        deviations within them), so that the model is the same model."""
        spec, m = self.spec, self.moments
        if spec.cvar not in self.data.columns or spec.dvar not in self.data.columns:
            return False
        try:
            c = self.data[spec.cvar].to_numpy(dtype="float64")
            d = self.data[spec.dvar].to_numpy(dtype="float64")
        except (TypeError, ValueError):
            return False
        mean = m.x_mean[self.codes]
        between = float(np.ptp(m.x_mean))
        within = float(np.sqrt(np.max(m.sxx / m.n)))
        with np.errstate(invalid="ignore"):
            return bool(np.max(np.abs(c - mean)) <= CONTEXTUAL_RTOL * between
                        and np.max(np.abs(d - (self.x - mean))) <= CONTEXTUAL_RTOL * within)


def school_stats(data: pd.DataFrame, spec: ModelSpec) -> SchoolStats:
    """Per-school moments of the predictor and the response (see module docstring)."""
    columns = [spec.group, spec.response, spec.predictor, spec.level2_factor]
    checks.check_columns_exist(data, columns, "the data")
    x = data[spec.predictor].to_numpy(dtype="float64", na_value=np.nan)
    y = data[spec.response].to_numpy(dtype="float64", na_value=np.nan)
    codes, groups = pd.factorize(data[spec.group], sort=True)
    factor = data[spec.level2_factor]
    row_level = factor.cat.codes.to_numpy().astype(np.intp)
    if not (np.isfinite(x).all() and np.isfinite(y).all() and (codes >= 0).all() and (row_level >= 0).all()):
        refuse_incomplete(data, spec, columns)
    n = np.bincount(codes).astype("float64")
    xm = np.bincount(codes, x) / n
    ym = np.bincount(codes, y) / n
    dx = x - xm[codes]
    dy = y - ym[codes]
    first_row = np.full(len(n), len(x))
    np.minimum.at(first_row, codes, np.arange(len(x)))
    return SchoolStats(
        spec=spec,
        data=data,
        groups=np.asarray(groups),
        codes=codes,
        levels=[str(v) for v in factor.cat.categories],
        row_level=row_level,
        level=row_level[first_row],
        x=x,
        y=y,
        moments=Moments(n, xm, ym, np.bincount(codes, dx * dx), np.bincount(codes, dx * dy), np.bincount(codes, dy * dy)),
    )


def refuse_incomplete(data: pd.DataFrame, spec: ModelSpec, columns: Sequence[str]) -> None:
    """Name the missing or non-finite values of the used columns (the engine's messages)."""
    checks.check_missing(data, columns)
    checks.check_response(data[spec.response], spec.response)
    bad = ~np.isfinite(data[spec.predictor].to_numpy(dtype="float64"))
    raise ValueError(f"predictor {spec.predictor!r} has {int(bad.sum())} non-finite value(s) (infinite) "
                     f"in rows {', '.join(map(str, data.index[bad][:5]))}")


def interaction_terms(numeric: Sequence[str], levels: Sequence[str], factor: str) -> list[str]:
    """formulaic's names, in its order, of the columns of `y ~ (x1 + x2 + ...) * F`.

    Intercept, each numeric column, `F[T.l]` for each non-reference level,
    then each numeric column's `x:F[T.l]`.
    """
    others = [f"{factor}[T.{lv}]" for lv in levels[1:]]
    return ["Intercept", *numeric, *others, *(f"{x}:{t}" for x in numeric for t in others)]


def interaction_columns(numeric: Mapping[str, np.ndarray], level: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    """The rows of `y ~ (x1 + x2 + ...) * F` (columns as `interaction_terms`), with
    formulaic's values (float64 products of the columns with 0/1 indicators)
    and the engine's column-major layout (its column means, hence its
    statistics, are then the same to the last bit)."""
    indicators = [level == k for k in range(1, len(levels))]
    cols = [np.ones(len(level)), *numeric.values(), *(ind.astype("float64") for ind in indicators)]
    cols += [values * ind for values in numeric.values() for ind in indicators]
    return np.array(cols).T


def interaction_along(numeric: Sequence[tuple[np.ndarray, np.ndarray]], level: np.ndarray,
                      k: int) -> tuple[np.ndarray, np.ndarray]:
    """`y ~ (x1 + x2 + ...) * F` per school as (X0, X1), each (J, p): the row at
    the school's mean of the predictor and its slope in the deviation (columns
    as `interaction_terms`; each numeric column given by
    `SchoolStats.along_predictor`)."""
    J = len(level)
    ind = (level[:, None] == np.arange(1, k)[None, :]).astype("float64")  # (J, k-1)
    at_mean = [np.ones(J), *(a for a, _ in numeric), *ind.T]
    slope = [np.zeros(J), *(b for _, b in numeric), *np.zeros((k - 1, J))]
    for a, b in numeric:
        at_mean += [a * f for f in ind.T]
        slope += [b * f for f in ind.T]
    return np.column_stack(at_mean), np.column_stack(slope)


def interaction_blocks(units: Moments, level: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's X_u'X_u (units, p, p) and X_u'y_u (units, p) of `y ~ x * F` with k levels.

    A unit at level l has rows [1, x] E_l, where E_l puts 1 and x into the
    Intercept and x columns and, for l > 0, also into F[T.l] and x:F[T.l]
    (columns as `interaction_terms`).
    """
    p = 2 * k
    E = np.zeros((k, 2, p))
    E[:, 0, 0] = E[:, 1, 1] = 1.0
    for lv in range(1, k):
        E[lv, 0, 1 + lv] = E[lv, 1, k + lv] = 1.0
    Eu = E[level]
    zy = np.stack([units.n * units.y_mean, units.sxy + units.n * units.x_mean * units.y_mean], -1)
    xtx = np.einsum("uap,uab,ubq->upq", Eu, units.gram(), Eu)
    return xtx, np.einsum("uap,ua->up", Eu, zy)


def interaction_gram(level_moments: Moments) -> np.ndarray:
    """X'X of `y ~ x * F` from the moments of each level."""
    k = len(level_moments.n)
    return interaction_blocks(level_moments, np.arange(k), k)[0].sum(axis=0)


def clearly_full_rank(gram: np.ndarray, scale: np.ndarray, nobs: int) -> bool:
    """True when a Gram matrix proves that a QR of its columns (`common.ols`) finds no aliased column.

    The engine's test (`lmm.checks`) on the Gram matrix with columns divided
    by `scale` (their norms); near the tolerance the caller asks the QR on
    the rows.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = gram / np.outer(scale, scale)
    return checks._clearly_full_rank(scaled, nobs, checks.RANK_TOL)
