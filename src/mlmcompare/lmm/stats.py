"""Per-group sufficient statistics of a one-factor linear mixed model.

This module owns the only pass over the rows (compiled, in
:func:`mlmcompare.lmm.kernels.accumulate_rows`: one loop in row order, no
sort).  For each group j it stores
Z_j'Z_j (q x q), Z_j'X_j (q x p), Z_j'y_j (q) and the row count n_j, plus the
totals X'X, X'y, y'y and n; everything after this stage (objective,
optimizer, standard errors, Satterthwaite df, BLUPs) works on these arrays
only and never touches the rows again.

Numerical care: cross-products are accumulated around a shift (the column
means of the non-constant columns of X when X has an intercept column, the
mean of y when the constant lies in the column space of X), so that e.g. a
response shifted by 1e8 does not cancel in y'y.  The shift is a
reparameterisation of the fixed effects, gamma, with
``beta = T gamma + y_shift * ones_coef``; :meth:`SufficientStats.beta_map`
returns ``T`` and the objective, optimizer and Satterthwaite code work in
gamma while results are reported in beta.

Sums of sufficient statistics are associative: chunks, files or Dask
partitions can each build their own (with the *same* shifts) and add them
with ``+`` (groups are matched by label).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from . import kernels

__all__ = ["SufficientStats", "ShiftedFixed", "sufficient_stats", "sufficient_stats_from_moments",
           "default_shifts", "z_scale", "scaled_z"]


class ShiftedFixed:
    """The map from the shifted fixed effects gamma back to beta (statistics of any layout).

    Needs ``p``, ``x_shift``, ``y_shift``, ``intercept_col`` and ``ones_coef``.
    """

    def beta_map(self) -> np.ndarray:
        """T with beta = T gamma + y_shift * ones_coef (identity without shifts)."""
        T = np.eye(self.p)
        if self.intercept_col is not None:
            T[self.intercept_col, :] -= self.x_shift
        return T

    def beta_from_gamma(self, gamma: np.ndarray) -> np.ndarray:
        beta = self.beta_map() @ gamma
        if self.y_shift != 0.0 and self.ones_coef is not None:
            beta = beta + self.y_shift * self.ones_coef
        return beta


@dataclass(frozen=True)
class SufficientStats(ShiftedFixed):
    """Sufficient statistics in shifted coordinates (see module docstring).

    Per-group arrays have the groups on axis 0, in the order of ``groups``.
    """

    groups: np.ndarray  # (J,) group labels
    n_j: np.ndarray  # (J,) rows per group
    ZtZ: np.ndarray  # (J, q, q)
    ZtX: np.ndarray  # (J, q, p)
    Zty: np.ndarray  # (J, q)
    yty_j: np.ndarray  # (J,) per-group y'y (for per-group OLS / BLUE)
    ysum_j: np.ndarray  # (J,) per-group sum of y
    zsum_j: np.ndarray  # (J, q) per-group column sums of Z
    XtX: np.ndarray  # (p, p)
    Xty: np.ndarray  # (p,)
    yty: float
    x_shift: np.ndarray  # (p,) subtracted from the columns of X (0 for the intercept)
    y_shift: float  # subtracted from y
    intercept_col: int | None  # index of the all-ones column of X, if any
    ones_coef: np.ndarray | None  # a with X a = 1 (original X), if 1 is in col(X)

    @property
    def nobs(self) -> int:
        return int(round(float(self.n_j.sum())))

    @property
    def ngroups(self) -> int:
        return int(self.n_j.shape[0])

    @property
    def p(self) -> int:
        return int(self.XtX.shape[0])

    @property
    def q(self) -> int:
        return int(self.ZtZ.shape[1])

    def fingerprint(self) -> tuple[int, float, float]:
        """(n, sum y, sum y^2) of the response as given, to tell data sets apart."""
        return (self.nobs, float(self.ysum_j.sum() + self.nobs * self.y_shift),
                float(self.yty_j_raw().sum()))

    def ss_about_mean(self) -> float:
        """Sum of squares of the response about its mean (from the shifted sums: no cancellation)."""
        return float(self.yty - self.ysum_j.sum() ** 2 / max(self.nobs, 1))

    def Zty_raw(self) -> np.ndarray:
        """Z_j'y_j in the original (unshifted) response."""
        return self.Zty + self.y_shift * self.zsum_j

    def yty_j_raw(self) -> np.ndarray:
        s = self.y_shift
        return self.yty_j + 2 * s * self.ysum_j + self.n_j * s * s

    def __add__(self, other: SufficientStats) -> SufficientStats:
        """Add the statistics of two disjoint row sets (e.g. two chunks)."""
        if not isinstance(other, SufficientStats):
            return NotImplemented
        if (self.p, self.q) != (other.p, other.q):
            raise ValueError("cannot add sufficient statistics of different models (p, q differ)")
        if not (
            np.array_equal(self.x_shift, other.x_shift)
            and self.y_shift == other.y_shift
            and self.intercept_col == other.intercept_col
        ):
            raise ValueError(
                "cannot add sufficient statistics built with different shifts; "
                "pass the same x_shift / y_shift to sufficient_stats for every chunk"
            )
        if self.ngroups == other.ngroups and np.array_equal(self.groups, other.groups):
            # the usual case for chunks of randomly ordered rows: no matching needed
            uniq, J = self.groups, self.ngroups
            mine = theirs = slice(None)
        else:
            labels = np.concatenate([self.groups, other.groups])
            codes, uniq = pd.factorize(labels, sort=True)
            J = len(uniq)
            mine, theirs = codes[: self.ngroups], codes[self.ngroups :]

        def merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            # labels are unique within each operand, so plain fancy indexing adds correctly
            out = np.zeros((J,) + a.shape[1:], dtype=float)
            out[mine] = a
            out[theirs] += b
            return out

        return replace(
            self,
            groups=np.asarray(uniq),
            n_j=merge(self.n_j, other.n_j),
            ZtZ=merge(self.ZtZ, other.ZtZ),
            ZtX=merge(self.ZtX, other.ZtX),
            Zty=merge(self.Zty, other.Zty),
            yty_j=merge(self.yty_j, other.yty_j),
            ysum_j=merge(self.ysum_j, other.ysum_j),
            zsum_j=merge(self.zsum_j, other.zsum_j),
            XtX=self.XtX + other.XtX,
            Xty=self.Xty + other.Xty,
            yty=self.yty + other.yty,
        )


def default_shifts(
    X: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, float, int | None, np.ndarray | None]:
    """Choose shifts that keep the fit invariant: (x_shift, y_shift, intercept_col, ones_coef).

    X columns are shifted only when X has an explicit all-ones column (the
    shift then moves into the intercept); y is shifted when the constant is
    in the column space of X (then the shift moves into beta along
    ``ones_coef``).  Otherwise nothing is shifted.
    """
    n, p = X.shape
    x_shift = np.zeros(p)
    intercept_col = None
    ones_coef = None
    if n == 0 or p == 0:
        return x_shift, 0.0, None, None
    is_one = np.all(X == 1.0, axis=0)
    if is_one.any():
        intercept_col = int(np.flatnonzero(is_one)[0])
        x_shift = X.mean(axis=0)
        x_shift[intercept_col] = 0.0
        ones_coef = np.zeros(p)
        ones_coef[intercept_col] = 1.0
    else:
        a, *_ = np.linalg.lstsq(X, np.ones(n), rcond=None)
        if np.linalg.norm(X @ a - 1.0) <= 1e-10 * np.sqrt(n):
            ones_coef = a
    y_shift = float(y.mean()) if ones_coef is not None else 0.0
    return x_shift, y_shift, intercept_col, ones_coef


def sufficient_stats(
    X: np.ndarray,
    Z: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    levels: np.ndarray | None = None,
    x_shift: np.ndarray | None = None,
    y_shift: float | None = None,
) -> SufficientStats:
    """One vectorised pass over the rows: per-group cross-products and totals.

    Parameters
    ----------
    X, Z, y : fixed-effects matrix (n x p), random-effects columns (n x q), response (n).
    groups : group label of each row; or, when ``levels`` is given, integer
        codes into ``levels`` (every level should occur at least once).
    x_shift, y_shift : shifts to accumulate around; default from
        :func:`default_shifts`.  Chunks that are to be added must share them.
    """
    X = np.asarray(X, dtype=float)
    Z = np.asarray(Z, dtype=float)
    y = np.asarray(y, dtype=float)
    n = y.shape[0]
    if X.ndim != 2 or Z.ndim != 2 or X.shape[0] != n or Z.shape[0] != n:
        raise ValueError("X, Z and y must have the same number of rows (X, Z 2-D)")
    if levels is None:
        codes, levels = pd.factorize(np.asarray(groups), sort=True)
    else:
        codes = np.asarray(groups, dtype=np.intp)
    levels = np.asarray(levels)
    J = len(levels)

    xs0, ys0, icol, ones = default_shifts(X, y)
    if x_shift is None:
        x_shift = xs0
    x_shift = np.asarray(x_shift, dtype=float)
    if icol is None and np.any(x_shift != 0):
        raise ValueError("x_shift is only allowed when X has an all-ones (intercept) column")
    if icol is not None:
        x_shift = x_shift.copy()
        x_shift[icol] = 0.0
    if y_shift is None:
        y_shift = ys0
    if ones is None and y_shift != 0:
        raise ValueError("y_shift is only allowed when the constant is in the column space of X")

    q, p = Z.shape[1], X.shape[1]
    n_j = np.zeros(J)
    ZW = np.zeros((J, q, q + p + 1))
    yty_j, ysum_j, zsum_j = np.zeros(J), np.zeros(J), np.zeros((J, q))
    XtX, Xty = np.zeros((p, p)), np.zeros(p)
    yty = kernels.accumulate_rows(
        np.asarray(codes, dtype=np.intp), X, Z, y, x_shift, float(y_shift),
        n_j, ZW, yty_j, ysum_j, zsum_j, XtX, Xty,
    )
    return SufficientStats(
        groups=levels,
        n_j=n_j,
        ZtZ=ZW[:, :, :q].copy(),
        ZtX=ZW[:, :, q : q + p].copy(),
        Zty=ZW[:, :, q + p].copy(),
        yty_j=yty_j,
        ysum_j=ysum_j,
        zsum_j=zsum_j,
        XtX=XtX,
        Xty=Xty,
        yty=float(yty),
        x_shift=x_shift,
        y_shift=float(y_shift),
        intercept_col=icol,
        ones_coef=ones,
    )


def sufficient_stats_from_moments(
    groups: np.ndarray,
    n: np.ndarray,
    stt: np.ndarray,
    sty: np.ndarray,
    syy: np.ndarray,
    y_mean: np.ndarray,
    X0: np.ndarray,
    X1: np.ndarray,
    Z0: np.ndarray,
    Z1: np.ndarray,
) -> SufficientStats:
    """The statistics of groups whose columns all move along one variable, from its moments.

    In group j every column of X and Z is an affine function of one
    variable t (a predictor, its deviation from the group mean, a constant):
    the rows are ``X0[j] + (t - tbar_j) X1[j]`` and ``Z0[j] + (t - tbar_j)
    Z1[j]``, and y is ``y_mean[j] + (y - y_mean[j])``.  Then every block of
    the statistics is a function of the group's size ``n``, the sums of
    squares and products about the group means ``stt``, ``sty``, ``syy``
    and its mean response (the sums of the deviations are 0), so they are
    built in O(J) without the rows.  Shifts as :func:`default_shifts` chooses
    them for the rows (column means, mean response) where an intercept
    column (X0 = 1, X1 = 0 in every group) exists; none otherwise.
    Deviations about the group means keep the sums as accurate as the
    one-pass accumulation.
    """
    n, stt, sty, syy, y_mean = (np.asarray(a, dtype=float) for a in (n, stt, sty, syy, y_mean))
    X0, X1, Z0, Z1 = (np.asarray(a, dtype=float) for a in (X0, X1, Z0, Z1))
    J, p = X0.shape
    if not (X1.shape == (J, p) and Z0.shape == Z1.shape and Z0.shape[0] == J
            and all(a.shape == (J,) for a in (n, stt, sty, syy, y_mean))):
        raise ValueError("moments and columns must have one row per group (X0, X1: J x p; Z0, Z1: J x q)")
    is_one = np.all(X0 == 1.0, axis=0) & np.all(X1 == 0.0, axis=0)
    nobs = n.sum()
    x_shift = np.zeros(p)
    intercept_col, ones_coef, y_shift = None, None, 0.0
    if is_one.any() and nobs > 0:
        intercept_col = int(np.flatnonzero(is_one)[0])
        x_shift = n @ X0 / nobs
        x_shift[intercept_col] = 0.0
        ones_coef = np.zeros(p)
        ones_coef[intercept_col] = 1.0
        y_shift = float(n @ y_mean / nobs)
    Xc = X0 - x_shift  # each group's shifted row at its mean of t
    yc = y_mean - y_shift
    ZtZ = n[:, None, None] * Z0[:, :, None] * Z0[:, None, :] + stt[:, None, None] * Z1[:, :, None] * Z1[:, None, :]
    ZtX = n[:, None, None] * Z0[:, :, None] * Xc[:, None, :] + stt[:, None, None] * Z1[:, :, None] * X1[:, None, :]
    yty_j = syy + n * yc * yc
    return SufficientStats(
        groups=np.asarray(groups),
        n_j=n,
        ZtZ=ZtZ,
        ZtX=ZtX,
        Zty=(n * yc)[:, None] * Z0 + sty[:, None] * Z1,
        yty_j=yty_j,
        ysum_j=n * yc,
        zsum_j=n[:, None] * Z0,
        XtX=(Xc * n[:, None]).T @ Xc + (X1 * stt[:, None]).T @ X1,
        Xty=Xc.T @ (n * yc) + X1.T @ sty,
        yty=float(yty_j.sum()),
        x_shift=x_shift,
        y_shift=y_shift,
        intercept_col=intercept_col,
        ones_coef=ones_coef,
    )


def z_scale(stats: SufficientStats) -> np.ndarray:
    """Root mean square of each random-effect column (1 where a column is 0).

    The optimizer works with Z's columns divided by these, so that theta is
    of order 1 whatever the units of the data (ses in millionths fits as
    well as ses).
    """
    ms = np.einsum("jii->i", stats.ZtZ) / max(stats.nobs, 1)
    return np.where(ms > 0, np.sqrt(ms), 1.0)


def scaled_z(stats: SufficientStats, d: np.ndarray) -> SufficientStats:
    """The statistics of Z D^-1 (D = diag(d)): a change of units of Z only."""
    inv = 1.0 / np.asarray(d, dtype=float)
    return replace(
        stats,
        ZtZ=stats.ZtZ * inv[None, :, None] * inv[None, None, :],
        ZtX=stats.ZtX * inv[None, :, None],
        Zty=stats.Zty * inv[None, :],
        zsum_j=stats.zsum_j * inv[None, :],
    )
