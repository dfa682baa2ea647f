"""Balanced one-way random effects from published group summaries.

Published tables often give, per group, only the size n_j and the mean
ybar_j, plus one pooled within-group SD.  That is enough to fit the
random-intercept model ``y ~ 1 + (1 | group)`` exactly: its (RE)ML
likelihood depends on the rows only through n_j, the group sums and the
within-group sums of squares W_j = (n_j - 1) s_j^2.
:func:`fit_from_group_means` builds the engine's
:class:`~mlmcompare.lmm.SufficientStats` from those summaries and calls
:func:`mlmcompare.lmm.fit_from_stats`; the log-likelihood, AIC and BIC are
those of the full row-level data.

:func:`oneway_tables` turns the fit into the handout's tables: the
coefficient (broom tidy), a one-row summary (naive and model-based
variances, ICC, reliability, design effect, likelihood) and one row per group
with the observed mean, its sampling interval and the empirical Bayes
(BLUP) estimate with its interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from .. import lmm
from ..lmm import LmmResult, SufficientStats

__all__ = ["group_summary_stats", "fit_from_group_means", "oneway_tables", "read_group_means"]


def _within_ss_per_group(n: np.ndarray, within_sd, within_ss) -> np.ndarray:
    """W_j from a pooled SD, per-group SDs, a total within SS or per-group SSs."""
    if (within_sd is None) == (within_ss is None):
        raise ValueError("give exactly one of within_sd (pooled or per group) and within_ss")
    if within_sd is not None:
        sd = np.broadcast_to(np.asarray(within_sd, dtype=float), n.shape)
        if np.any(sd < 0) or not np.all(np.isfinite(sd)):
            raise ValueError("within_sd must be finite and non-negative")
        return (n - 1.0) * sd**2
    ss = np.asarray(within_ss, dtype=float)
    if ss.ndim == 0:  # a total: spread over the groups in proportion to their df
        if n.sum() - len(n) <= 0:
            raise ValueError("a pooled within SS needs some group with n_j > 1")
        return float(ss) * (n - 1.0) / (n.sum() - len(n))
    if ss.shape != n.shape:
        raise ValueError(f"within_ss has {ss.size} values for {n.size} groups")
    return ss.astype(float)


def group_summary_stats(
    means: Sequence[float],
    n: Sequence[float],
    within_sd: float | Sequence[float] | None = None,
    within_ss: float | Sequence[float] | None = None,
    groups: Sequence | None = None,
) -> SufficientStats:
    """Sufficient statistics of ``y ~ 1 + (1 | group)`` from per-group summaries.

    Stored, as the engine expects, around the overall mean ybar (``y_shift``):
    per group Z'y = n_j (ybar_j - ybar), y'y = W_j + n_j (ybar_j - ybar)^2.
    """
    m = np.asarray(means, dtype=float)
    nj = np.asarray(n, dtype=float)
    if m.shape != nj.shape or m.ndim != 1:
        raise ValueError("means and n must be 1-D of the same length")
    if np.any(nj < 1) or np.any(nj != np.round(nj)):
        raise ValueError("group sizes n must be positive integers")
    if not np.all(np.isfinite(m)):
        raise ValueError("group means must be finite")
    W = _within_ss_per_group(nj, within_sd, within_ss)
    labels = np.asarray(groups) if groups is not None else np.arange(1, len(m) + 1)
    N = nj.sum()
    ybar = float(np.sum(nj * m) / N)
    d = m - ybar
    ysum = nj * d
    return SufficientStats(
        groups=labels,
        n_j=nj,
        ZtZ=nj[:, None, None].copy(),
        ZtX=nj[:, None, None].copy(),
        Zty=ysum[:, None].copy(),
        yty_j=W + nj * d**2,
        ysum_j=ysum,
        zsum_j=nj[:, None].copy(),
        XtX=np.array([[N]]),
        Xty=np.array([float(ysum.sum())]),
        yty=float(np.sum(W + nj * d**2)),
        x_shift=np.zeros(1),
        y_shift=ybar,
        intercept_col=0,
        ones_coef=np.ones(1),
    )


def fit_from_group_means(
    means: Sequence[float],
    n: Sequence[float],
    within_sd: float | Sequence[float] | None = None,
    within_ss: float | Sequence[float] | None = None,
    reml: bool = True,
    *,
    groups: Sequence | None = None,
    group_name: str = "group",
    response: str = "y",
) -> LmmResult:
    """The random-intercept model fitted from group means, sizes and the within spread.

    ``within_sd``: the pooled within-group SD (or one SD per group);
    ``within_ss``: the within-group sum of squares sum_j (n_j - 1) s_j^2 (a
    total, or one per group).  Give one of the two.  The fit equals the fit
    to the full rows: same estimates, same log-likelihood, AIC and BIC.
    """
    stats = group_summary_stats(means, n, within_sd, within_ss, groups)
    return lmm.fit_from_stats(
        stats,
        reml=reml,
        fixed_terms=["Intercept"],
        random_terms=["Intercept"],
        group_name=group_name,
        formula=f"{response} ~ 1 + (1 | {group_name})",
    )


def read_group_means(frame: pd.DataFrame, group: str, n: str, mean: str) -> pd.DataFrame:
    """The summary table checked and sorted: columns group, n, mean."""
    missing = [c for c in (group, n, mean) if c not in frame.columns]
    if missing:
        raise ValueError(f"group-means file lacks column(s) {missing}; it has {list(frame.columns)}")
    out = pd.DataFrame(
        {
            "group": frame[group].astype(str),
            "n": pd.to_numeric(frame[n], errors="raise").astype("int64"),
            "mean": pd.to_numeric(frame[mean], errors="raise").astype("float64"),
        }
    )
    if out["group"].duplicated().any():
        raise ValueError(f"group ids repeat in column {group!r}: {sorted(out['group'][out['group'].duplicated()])[:5]}")
    if len(out) < 2:
        raise ValueError("a random-effects fit needs at least 2 groups")
    return out.reset_index(drop=True)


def oneway_tables(fit: LmmResult, groups: pd.DataFrame, level: float = 0.95) -> dict[str, pd.DataFrame]:
    """coef, summary (one row) and groups tables of a one-way fit from summaries."""
    n = groups["n"].to_numpy(float)
    m = groups["mean"].to_numpy(float)
    J, N = len(n), n.sum()
    tau00 = float(fit.varcorr.G.iloc[0, 0])
    sigma2 = fit.sigma2
    gamma = float(fit.fixef.iloc[0])
    naive_mean = float(m.mean())
    naive_var = float(m.var(ddof=1))
    v_j = sigma2 / n
    reliability = tau00 / (tau00 + v_j)
    nbar = N / J
    icc = tau00 / (tau00 + sigma2)
    summary = pd.DataFrame(
        [{
            "ngroups": J,
            "nobs": int(N),
            "mean_group_size": nbar,
            "naive_mean": naive_mean,
            "naive_var": naive_var,
            "student_mean": float(np.sum(n * m) / N),
            "gamma00": gamma,
            "tau00": tau00,
            "sd_between": float(np.sqrt(tau00)),
            "sigma2": sigma2,
            "sd_within": fit.sigma,
            "error_var_mean": float(v_j.mean()),
            "moment_tau00": naive_var - float(v_j.mean()),
            "icc": icc,
            "reliability_mean": float(reliability.mean()),
            "design_effect": 1.0 + (nbar - 1.0) * icc,
            "loglik": fit.loglik,
            "aic": fit.aic,
            "bic": fit.bic,
            "npar": fit.npar,
            "reml": fit.reml,
            "converged": fit.converged,
            "singular": fit.singular,
        }]
    )
    coef = fit.coef.copy()
    # the engine's lmm.fit and this fit agree; broom names throughout
    q = scipy.stats.t.ppf(0.5 + level / 2, N - J)
    se = np.sqrt(v_j)
    ranef = fit.ranef
    blup = gamma + ranef["estimate"].to_numpy()
    cond_sd = ranef["cond_sd"].to_numpy()
    z = scipy.stats.norm.ppf(0.5 + level / 2)
    per_group = pd.DataFrame(
        {
            "group": groups["group"].to_numpy(),
            "n": groups["n"].to_numpy(),
            "mean": m,
            "std_error": se,
            "conf_low": m - q * se,
            "conf_high": m + q * se,
            "reliability": reliability,
            "blup": blup,
            "cond_sd": cond_sd,
            "blup_low": blup - z * cond_sd,
            "blup_high": blup + z * cond_sd,
        }
    )
    return {"coef": coef, "summary": summary, "groups": per_group}
