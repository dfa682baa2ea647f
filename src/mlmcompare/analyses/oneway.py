"""Estimating a mean with random effects: the one-way model `Y ~ 1 + (1 | school)`.

This module owns the handout's one-way section: the four estimators of the
overall mean, each a weighted mean of the school means with its weights and
its variance sum_j w_j^2 (g00 + sigma^2 / n_j) (schools random) or
sum_j w_j^2 sigma^2 / n_j (schools fixed); the intervals nlme's
`intervals()` prints (the mean with N - J df, the SDs by a Wald interval on
the log scale from the Hessian of the REML log-likelihood), beside the
Satterthwaite interval; and the summaries of the between-school variance:
ICC, reliability of each school mean, design effect, naive variance of the
school means. The same model fitted from published group summaries alone
(sizes, means and a pooled within-group SD: `fit_from_group_means`) is the
designs handout's first part.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import lmm, models
from ..estimation.distributions import norm_ppf, t_ppf, t_sf
from ..lmm import LmmResult, SufficientStats
from ..spec import ModelSpec

ESTIMATOR_LABELS = {
    "mean_of_means": "Mean of school means",
    "student_mean": "Student mean",
    "size_weighted": "School-size weighted mean",
    "gls": "Mixed model (GLS)",
}


def fit_oneway(data: pd.DataFrame, spec: ModelSpec) -> LmmResult:
    """The one-way random-effects model by REML."""
    return models.fit("oneway", data, spec)


def school_means(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Per school: n and the mean response (the BLUE of the school mean), sorted by group."""
    g = data.groupby(spec.group, sort=True)[spec.response]
    return pd.DataFrame({"n": g.size().astype("int64"), "mean": g.mean().astype("float64")})


def estimator_weights(n: np.ndarray, g00: float, sigma2: float, size: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Weights (summing to 1) of each estimator on the school means.

    Equal weights, n_j, the school's size (when known) and the GLS weights
    1 / (g00 + sigma^2 / n_j), inversely proportional to the variance of a
    school mean around the overall mean when schools are random.
    """
    n = np.asarray(n, dtype="float64")
    raw = {
        "mean_of_means": np.ones_like(n),
        "student_mean": n,
        "gls": 1.0 / (g00 + sigma2 / n),
    }
    if size is not None:
        raw["size_weighted"] = np.asarray(size, dtype="float64")
    order = [k for k in ESTIMATOR_LABELS if k in raw]
    return {k: raw[k] / raw[k].sum() for k in order}


def weighted_mean_variance(w: np.ndarray, n: np.ndarray, g00: float, sigma2: float) -> tuple[float, float]:
    """Variance of sum_j w_j ybar_j with schools random and with schools fixed."""
    w = np.asarray(w, dtype="float64")
    n = np.asarray(n, dtype="float64")
    return float(np.sum(w**2 * (g00 + sigma2 / n))), float(np.sum(w**2 * sigma2 / n))


def mean_estimators_table(means: pd.DataFrame, g00: float, sigma2: float, size: np.ndarray | None) -> pd.DataFrame:
    """The estimators of the overall mean with their SEs (schools random and fixed)."""
    weights = estimator_weights(means["n"].to_numpy(), g00, sigma2, size)
    J = len(means)
    rows = []
    for key, w in weights.items():
        est = float(np.sum(w * means["mean"].to_numpy()))
        var_r, var_f = weighted_mean_variance(w, means["n"].to_numpy(), g00, sigma2)
        se = np.sqrt(var_r)
        q = t_ppf(0.975, J - 1)
        rows.append(
            {
                "term": key,
                "label": ESTIMATOR_LABELS[key],
                "estimate": est,
                "std_error": se,
                "std_error_fixed_schools": np.sqrt(var_f),
                "df": float(J - 1),
                "statistic": est / se,
                "p_value": float(2 * t_sf(abs(est / se), J - 1)),
                "conf_low": est - q * se,
                "conf_high": est + q * se,
                "weight_min": float(w.min()),
                "weight_max": float(w.max()),
                "efficiency": np.nan,  # filled below: var(GLS) / var(this)
            }
        )
    out = pd.DataFrame(rows)
    var_gls = float(out.loc[out["term"] == "gls", "std_error"].iloc[0] ** 2)
    out["efficiency"] = var_gls / out["std_error"] ** 2
    return out


def school_weights_table(means: pd.DataFrame, g00: float, sigma2: float, size: np.ndarray | None) -> pd.DataFrame:
    """One row per school: n, mean, each estimator's weight, reliability g00 / (g00 + sigma^2 / n_j)."""
    weights = estimator_weights(means["n"].to_numpy(), g00, sigma2, size)
    out = means.reset_index().rename(columns={means.index.name or "index": "group"})
    out["group"] = out["group"].astype(str)
    if size is not None:
        out["size"] = np.asarray(size, dtype="float64")
    for key, w in weights.items():
        out[f"w_{key}"] = w
    out["error_variance"] = sigma2 / out["n"]
    out["reliability"] = school_mean_reliability(g00, sigma2, out["n"].to_numpy())
    return out


# --------------------------------------------------------------- nlme intervals
@dataclass(frozen=True)
class GroupSums:
    """Per-group n, sum of y and sum of y^2: all the one-way likelihood needs."""

    n: np.ndarray
    sy: np.ndarray
    syy: np.ndarray

    @classmethod
    def from_data(cls, data: pd.DataFrame, spec: ModelSpec) -> "GroupSums":
        # centred for accuracy: the REML likelihood of a model with an
        # intercept does not change when y is shifted
        y = data[spec.response].astype("float64")
        yc = (y - y.mean()).rename("yc")
        g = pd.DataFrame({"g": data[spec.group].to_numpy(), "yc": yc.to_numpy(), "yc2": (yc**2).to_numpy()}).groupby("g", sort=True)
        sums = g.agg(n=("yc", "size"), sy=("yc", "sum"), syy=("yc2", "sum"))
        return cls(sums["n"].to_numpy("float64"), sums["sy"].to_numpy("float64"), sums["syy"].to_numpy("float64"))


def oneway_reml_loglik(log_sd_b: float, log_sigma: float, s: GroupSums) -> float:
    """REML log-likelihood of Y ~ 1 + (1 | g) at (log SD of the intercepts, log sigma).

    Not profiled: sigma is a free argument, as in nlme's parametrisation
    for `apVar` (reStruct on the log-SD scale and lSigma = log sigma).
    """
    tau2, s2 = np.exp(2 * log_sd_b), np.exp(2 * log_sigma)
    n, sy, syy = s.n, s.sy, s.syy
    d = s2 + n * tau2  # V_j = s2 I + tau2 11'; |V_j| = s2^(n_j - 1) d_j
    logdet = float(np.sum((n - 1) * np.log(s2) + np.log(d)))
    one_v_one = float(np.sum(n / d))
    one_v_y = float(np.sum(sy / d))
    y_v_y = float(np.sum((syy - tau2 * sy**2 / d) / s2))
    quad = y_v_y - one_v_y**2 / one_v_one
    N = float(n.sum())
    return -0.5 * (logdet + np.log(one_v_one) + quad + (N - 1) * np.log(2 * np.pi))


def numeric_hessian(f, x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function."""
    x = np.asarray(x, dtype="float64")
    k = len(x)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
    return H


def log_scale_vcov(fit: LmmResult, sums: GroupSums) -> np.ndarray:
    """nlme's apVar: inverse negative Hessian of the REML log-likelihood in (log sd_b, log sigma)."""
    x0 = np.array([np.log(float(fit.varcorr.sd.iloc[0])), np.log(fit.sigma)])
    H = numeric_hessian(lambda v: oneway_reml_loglik(v[0], v[1], sums), x0)
    return np.linalg.inv(-H)


def oneway_intervals_table(fit: LmmResult, data: pd.DataFrame, spec: ModelSpec, level: float = 0.95) -> pd.DataFrame:
    """The intervals of nlme's `intervals()` and the Satterthwaite interval of the mean."""
    sums = GroupSums.from_data(data, spec)
    c = fit.coef.iloc[0]
    N, J = fit.nobs, fit.ngroups
    df_nlme = float(N - J)
    q = t_ppf(0.5 + level / 2, df_nlme)
    est, se = float(c["estimate"]), float(c["std_error"])
    rows = [
        {"effect": "fixed", "term": "Intercept", "method": f"t with N - J = {N - J} df (nlme)",
         "estimate": est, "std_error": se, "df": df_nlme, "statistic": est / se,
         "p_value": float(2 * t_sf(abs(est / se), df_nlme)),
         "conf_low": est - q * se, "conf_high": est + q * se},
        {"effect": "fixed", "term": "Intercept", "method": "t with Satterthwaite df",
         "estimate": est, "std_error": se, "df": float(c["df"]), "statistic": float(c["statistic"]),
         "p_value": float(c["p_value"]), "conf_low": float(c["conf_low"]), "conf_high": float(c["conf_high"])},
    ]
    V = log_scale_vcov(fit, sums)
    z = norm_ppf(0.5 + level / 2)
    for k, (term, value) in enumerate([("sd__Intercept", float(fit.varcorr.sd.iloc[0])), ("sd__Observation", fit.sigma)]):
        se_log = float(np.sqrt(V[k, k]))
        rows.append(
            {"effect": "ran_pars", "term": term, "method": "Wald on the log scale (nlme)",
             "estimate": value, "std_error": se_log, "df": np.inf, "statistic": np.nan, "p_value": np.nan,
             "conf_low": value * np.exp(-z * se_log), "conf_high": value * np.exp(z * se_log)}
        )
    out = pd.DataFrame(rows)
    out.attrs["note"] = "std_error of the ran_pars rows is on the log scale"
    return out


# ---------------------------------------------------------------- summaries
def school_mean_reliability(g00: float, sigma2: float, n: np.ndarray) -> np.ndarray:
    """Reliability of each group mean as an estimate of its true mean, g00 / (g00 + sigma^2 / n_j)."""
    return g00 / (g00 + sigma2 / np.asarray(n, dtype="float64"))


def oneway_summary_table(fit: LmmResult, means: pd.DataFrame) -> pd.DataFrame:
    """One row: variance components, ICC, reliabilities, design effect, naive variance."""
    g00 = float(fit.varcorr.G.iloc[0, 0])
    s2 = fit.sigma2
    n = means["n"].to_numpy("float64")
    reliab = school_mean_reliability(g00, s2, n)
    nbar = float(n.mean())
    icc = fit.icc()
    deff = fit.design_effect()
    naive = float(means["mean"].var(ddof=1))
    return pd.DataFrame(
        [
            {
                "nobs": int(fit.nobs),
                "ngroups": int(fit.ngroups),
                "n_mean": nbar,
                "n_min": int(n.min()),
                "n_max": int(n.max()),
                "gamma00": float(fit.fixef.iloc[0]),
                "g00": g00,
                "sd_intercept": float(np.sqrt(g00)),
                "sigma2": s2,
                "sigma": fit.sigma,
                "icc": icc,
                "reliability_mean": float(reliab.mean()),
                "reliability_min": float(reliab.min()),
                "reliability_max": float(reliab.max()),
                "reliability_at_n_mean": g00 / (g00 + s2 / nbar),
                "design_effect": deff,
                "design_effect_sqrt": float(np.sqrt(deff)),
                "var_school_means": naive,
                "mean_error_variance": float(np.mean(s2 / n)),
                "g00_moment": naive - float(np.mean(s2 / n)),
                "loglik": fit.loglik,
                "aic": fit.aic,
                "bic": fit.bic,
            }
        ]
    )


def oneway_tables(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, size_column: str | None = "Size") -> dict[str, pd.DataFrame]:
    """All tables of the one-way section."""
    fit = fit_oneway(data, spec)
    means = school_means(data, spec)
    g00, s2 = float(fit.varcorr.G.iloc[0, 0]), fit.sigma2
    size = None
    if size_column and size_column in schools.columns:
        size = schools.set_index(spec.group).loc[means.index, size_column].to_numpy("float64")
        if not np.all(np.isfinite(size)) or np.any(size <= 0):
            size = None
    weights = school_weights_table(means, g00, s2, size)
    return {
        "oneway_estimators": mean_estimators_table(means, g00, s2, size),
        "oneway_schools": weights,
        "oneway_intervals": oneway_intervals_table(fit, data, spec),
        "oneway_summary": oneway_summary_table(fit, means),
    }


# ------------------------------------------------ from published group summaries
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


def group_means_tables(fit: LmmResult, groups: pd.DataFrame, level: float = 0.95) -> dict[str, pd.DataFrame]:
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
    reliability = school_mean_reliability(tau00, sigma2, n)
    nbar = N / J
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
            "icc": fit.icc(),
            "reliability_mean": float(reliability.mean()),
            "design_effect": fit.design_effect(),
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
    q = t_ppf(0.5 + level / 2, N - J)
    se = np.sqrt(v_j)
    ranef = fit.ranef
    blup = gamma + ranef["estimate"].to_numpy()
    cond_sd = ranef["cond_sd"].to_numpy()
    z = norm_ppf(0.5 + level / 2)
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
