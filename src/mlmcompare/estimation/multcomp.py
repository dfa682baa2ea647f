"""Multiple comparisons of the conditions of a one-way repeated-measures design.

All pairwise differences of condition means, mean_k - mean_j.  With the
RM-ANOVA error term (MSE on (n - 1)(a - 1) df), every difference has the
same standard error sqrt(2 MSE / n); the methods differ in the critical
value (and so in the adjusted p-value and interval):

- Bonferroni: t at 1 - alpha / (2 m), m = a(a - 1)/2 comparisons;
- Holm: step-down Bonferroni; its p-values are adjusted, its intervals
  use the level of the step at which each comparison is tested (they are
  not simultaneous intervals);
- Tukey: the studentized range q(1 - alpha; a, df) / sqrt(2);
- Scheffe: sqrt((a - 1) F(1 - alpha; a - 1, df)), valid for all contrasts.

These rest on sphericity (all differences equally variable).  The paired
comparisons beside them use each pair's own differences (SE from the
subjects' differences, n - 1 df), which does not need sphericity.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from .distributions import f_ppf, f_sf, t_ppf, t_sf

__all__ = ["pairwise_comparisons", "paired_comparisons", "holm_adjust"]


def holm_adjust(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p)
    adj = np.empty(m)
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        adj[idx] = running
    return adj


def _pairs(wide: pd.DataFrame) -> list[tuple[str, str]]:
    return list(combinations([str(c) for c in wide.columns], 2))


def pairwise_comparisons(wide: pd.DataFrame, mse: float, df: float, level: float = 0.95) -> pd.DataFrame:
    """Every pairwise difference under each method, with adjusted p and interval."""
    from scipy.stats import studentized_range  # Tukey's only; scipy.special has no kernel for it

    Y = wide.copy()
    Y.columns = [str(c) for c in Y.columns]
    n, a = Y.shape
    means = Y.mean(axis=0)
    pairs = _pairs(Y)
    m = len(pairs)
    se = float(np.sqrt(2.0 * mse / n))
    est = np.array([means[b] - means[j] for j, b in pairs])
    t = est / se
    p_raw = 2 * t_sf(np.abs(t), df)
    alpha = 1 - level
    holm = holm_adjust(p_raw)
    ranks = np.empty(m, int)
    ranks[np.argsort(p_raw)] = np.arange(m)
    crit = {
        "unadjusted": np.full(m, t_ppf(1 - alpha / 2, df)),
        "Bonferroni": np.full(m, t_ppf(1 - alpha / (2 * m), df)),
        "Holm": t_ppf(1 - alpha / (2 * (m - ranks)), df),
        "Tukey": np.full(m, studentized_range.ppf(level, a, df) / np.sqrt(2)),
        "Scheffe": np.full(m, np.sqrt((a - 1) * f_ppf(level, a - 1, df))),
    }
    pvals = {
        "unadjusted": p_raw,
        "Bonferroni": np.minimum(1.0, m * p_raw),
        "Holm": holm,
        "Tukey": studentized_range.sf(np.abs(t) * np.sqrt(2), a, df),
        "Scheffe": f_sf(t**2 / (a - 1), a - 1, df),
    }
    rows = []
    for method in crit:
        for k, (j, b) in enumerate(pairs):
            rows.append({
                "method": method, "term": f"{b} - {j}", "estimate": float(est[k]), "std_error": se,
                "df": float(df), "statistic": float(t[k]), "p_value": float(pvals[method][k]),
                "critical_value": float(crit[method][k]),
                "conf_low": float(est[k] - crit[method][k] * se), "conf_high": float(est[k] + crit[method][k] * se),
            })
    return pd.DataFrame(rows)


def paired_comparisons(wide: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Paired t-tests of every pair (n - 1 df), unadjusted and with Bonferroni and Holm p."""
    Y = wide.copy()
    Y.columns = [str(c) for c in Y.columns]
    n = Y.shape[0]
    pairs = _pairs(Y)
    m = len(pairs)
    rows = []
    for j, b in pairs:
        d = (Y[b] - Y[j]).to_numpy(float)
        est, se = float(d.mean()), float(d.std(ddof=1) / np.sqrt(n))
        rows.append({"term": f"{b} - {j}", "estimate": est, "std_error": se, "df": float(n - 1),
                     "statistic": est / se})
    out = pd.DataFrame(rows)
    out["p_value"] = 2 * t_sf(np.abs(out["statistic"]), n - 1)
    out["p_bonferroni"] = np.minimum(1.0, m * out["p_value"])
    out["p_holm"] = holm_adjust(out["p_value"].to_numpy())
    q = t_ppf(1 - (1 - level) / 2, n - 1)
    qb = t_ppf(1 - (1 - level) / (2 * m), n - 1)
    out["conf_low"] = out["estimate"] - q * out["std_error"]
    out["conf_high"] = out["estimate"] + q * out["std_error"]
    out["conf_low_bonferroni"] = out["estimate"] - qb * out["std_error"]
    out["conf_high_bonferroni"] = out["estimate"] + qb * out["std_error"]
    return out
