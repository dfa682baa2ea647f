"""Likelihood-ratio test between two nested fits, with the boundary correction.

This module owns :func:`lrt` and :func:`likelihood_ratio`, the one test
every likelihood-ratio table of the project uses (the model ladder, GLS
covariance structures, repeated measures).  The test statistic is 2 (loglik_big -
loglik_small), referred to chi-square with df = npar_big - npar_small.  When
the bigger model adds one random term (one variance that is 0 under the null,
on the boundary of the parameter space) the null distribution is the
chi-bar-square mixture 1/2 chi2_{df-1} + 1/2 chi2_{df} (chi2_0 = point mass
at 0): 1/2 chi2_0 + 1/2 chi2_1 for one added uncorrelated variance,
1/2 chi2_q + 1/2 chi2_{q+1} for a random effect added with its q covariances
to q others (Self and Liang 1987; Stram and Lee 1994).  For more than one
added variance the mixture weights depend on the information matrix and no
boundary p-value is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..estimation.distributions import chi2_sf

if TYPE_CHECKING:
    from .result import LmmResult

__all__ = ["lrt", "chibar_pvalue", "likelihood_ratio"]


def chibar_pvalue(stat: float, df: int) -> float:
    """P-value of 1/2 chi2_{df-1} + 1/2 chi2_{df} (chi2_0 is a point mass at 0)."""
    stat = max(float(stat), 0.0)
    lo = float(chi2_sf(stat, df - 1)) if df - 1 > 0 else (1.0 if stat <= 0 else 0.0)
    return 0.5 * lo + 0.5 * float(chi2_sf(stat, df))


def likelihood_ratio(loglik_small: float, loglik_big: float, df: int, boundary: bool = False) -> tuple[float, float, float]:
    """The statistic 2 (loglik_big - loglik_small) on `df`, its chi-square
    p-value and, when the bigger model adds one variance that is 0 under the
    null (`boundary`), the chi-bar-square p-value (else NaN)."""
    stat = 2.0 * (loglik_big - loglik_small)
    p = float(chi2_sf(max(stat, 0.0), df))
    return stat, p, chibar_pvalue(stat, df) if boundary else float("nan")


def _fingerprint(fit: LmmResult) -> tuple[int, float, float]:
    return fit._stats.fingerprint()


def _random_pairs(fit: LmmResult) -> set[tuple[str, str]]:
    """(grouping factor, random term) of every variance of the fit."""
    return {(f.name, t) for f in fit.factors for t in f.terms}


def _block_pairs(fit: LmmResult) -> set[tuple[str, frozenset]]:
    """(grouping factor, pair of its random terms) whose covariance is a free parameter."""
    pairs = set()
    for f, _, idx in fit._blocks():
        names = [f.terms[i - f.off] for i in idx]
        pairs |= {(f.name, frozenset((a, b))) for i, a in enumerate(names) for b in names[:i]}
    return pairs


def lrt(small: LmmResult, big: LmmResult) -> pd.DataFrame:
    """Likelihood-ratio test of ``small`` nested in ``big`` (one-row tidy table).

    Columns: statistic, df, p_value, p_value_boundary (chi-bar-square, NaN
    when no single variance is added), npar_small, npar_big, loglik_small,
    loglik_big, reml, note.
    """
    if small.reml != big.reml:
        raise ValueError("cannot compare a REML fit with an ML fit; refit both with the same reml")
    fs, fb = _fingerprint(small), _fingerprint(big)
    if fs[0] != fb[0]:
        raise ValueError(
            f"the fits use different data: nobs {small.nobs} vs {big.nobs}; "
            "a likelihood-ratio test needs both models fitted to the same rows"
        )
    if not np.allclose(fs[1:], fb[1:], rtol=1e-10, atol=1e-12):
        raise ValueError("the fits use different responses or rows; cannot compare them")
    missing = [g for g in small.group_names if g not in big.group_names]
    if missing:
        raise ValueError(
            f"the fits use different grouping factors ({small.group_name!r} vs {big.group_name!r}): "
            f"big lacks {', '.join(map(repr, missing))}"
        )
    if small.npar >= big.npar:
        raise ValueError(
            f"small has {small.npar} parameters and big {big.npar}: pass the smaller "
            "(nested) model first"
        )
    extra_fixed = set(small.fixed_terms) - set(big.fixed_terms)
    extra_random = _random_pairs(small) - _random_pairs(big)
    extra_cov = _block_pairs(small) - _block_pairs(big)
    several = small.several or big.several
    if extra_fixed or extra_random or extra_cov:
        what = sorted(extra_fixed) + sorted(
            f"{t} ({g})" if several else t for g, t in extra_random) + [
            "-".join(sorted(p)) + (f" ({g})" if several else "") + " covariance"
            for g, p in extra_cov
        ]
        raise ValueError(
            f"the models are not nested: small has {', '.join(what)} that big lacks"
        )
    if small.reml and set(small.fixed_terms) != set(big.fixed_terms):
        raise ValueError(
            "REML fits with different fixed effects cannot be compared by a likelihood-ratio "
            "test (their restricted likelihoods are for different data transformations); "
            "refit both with reml=False"
        )

    df = int(big.npar - small.npar)
    small_pairs = _random_pairs(small)
    new = [(f.name, t) for f in big.factors for t in f.terms if (f.name, t) not in small_pairs]
    new_terms = [f"{t} ({g})" if several else t for g, t in new]
    stat, p, p_b = likelihood_ratio(small.loglik, big.loglik, df, boundary=len(new_terms) == 1)
    if len(new_terms) == 1:
        note = (
            f"one variance added ({new_terms[0]}): boundary p-value from "
            f"1/2 chi2_{df - 1} + 1/2 chi2_{df}"
        )
    elif not new_terms:
        note = "no variance on the boundary under the null: chi-square reference"
    else:
        note = (
            f"{len(new_terms)} variances added: the boundary mixture depends on the "
            "information matrix; the chi-square p-value is conservative"
        )
    return pd.DataFrame(
        [{
            "statistic": stat,
            "df": df,
            "p_value": p,
            "p_value_boundary": p_b,
            "npar_small": small.npar,
            "npar_big": big.npar,
            "loglik_small": small.loglik,
            "loglik_big": big.loglik,
            "reml": small.reml,
            "note": note,
        }]
    )
