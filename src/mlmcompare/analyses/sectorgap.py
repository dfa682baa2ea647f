"""The sector gap: a level-2 factor's effect on the mean, naive and multilevel.

This module owns the section that follows the lecture on the full HSB data:
the means and SDs of the response by level of the factor, the naive
two-sample t-test (equal variances), OLS against the random-intercept model
`y ~ F + (1 | g)` (Satterthwaite df), the share of between-school variance
the factor explains, the approximate standard error
sqrt((g00 + sigma^2 / n_bar) / (J var(W))) beside the model's and the exact
GLS one, how J and n each move that SE, and the school lines drawn from a
few G matrices that show what tau00, tau11 and tau01 mean.

The lecture uses Public as the reference level, so the factor's categories
are reordered here (`gap_reference`); the config's reference is untouched.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import lmm, models
from ..estimation.distributions import t_ppf, t_sf
from ..methods.common import ols
from ..spec import ModelSpec


def gap_reference(data: pd.DataFrame, spec: ModelSpec, preferred: str | None) -> str:
    """The preferred reference level when the factor has it, else the config's."""
    levels = [str(c) for c in data[spec.level2_factor].cat.categories]
    return preferred if preferred in levels else spec.reference


def with_reference(data: pd.DataFrame, spec: ModelSpec, reference: str) -> pd.DataFrame:
    """A copy of the data whose factor has `reference` as its first category."""
    out = data.copy()
    cats = [str(c) for c in out[spec.level2_factor].cat.categories]
    order = [reference] + [c for c in cats if c != reference]
    out[spec.level2_factor] = out[spec.level2_factor].cat.reorder_categories(order)
    return out


def levels_of(data: pd.DataFrame, spec: ModelSpec) -> list[str]:
    return [str(c) for c in data[spec.level2_factor].cat.categories]


def level_means_table(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Per level: students, schools, mean and SD of the response."""
    g = data.groupby(spec.level2_factor, observed=True, sort=False)
    rows = []
    for lv in levels_of(data, spec):
        part = data[data[spec.level2_factor] == lv]
        y = part[spec.response]
        rows.append({"level": lv, "nobs": int(len(y)), "ngroups": int(part[spec.group].nunique()),
                     "mean": float(y.mean()), "sd": float(y.std(ddof=1))})
    del g
    return pd.DataFrame(rows)


def naive_t_test(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Two-sample t-test with pooled variance of reference minus the other level (students as independent)."""
    levels = levels_of(data, spec)
    ref, other = levels[0], levels[1]
    a = data.loc[data[spec.level2_factor] == ref, spec.response].to_numpy("float64")
    b = data.loc[data[spec.level2_factor] == other, spec.response].to_numpy("float64")
    n1, n2 = len(a), len(b)
    sp2 = ((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2)
    est = float(a.mean() - b.mean())
    se = float(np.sqrt(sp2 * (1 / n1 + 1 / n2)))
    df = float(n1 + n2 - 2)
    q = t_ppf(0.975, df)
    return pd.DataFrame([{"term": f"{ref} - {other}", "estimate": est, "std_error": se, "df": df,
                          "statistic": est / se, "p_value": float(2 * t_sf(abs(est / se), df)),
                          "conf_low": est - q * se, "conf_high": est + q * se}])


def ols_vs_mixed_tables(data: pd.DataFrame, spec: ModelSpec) -> tuple[pd.DataFrame, pd.DataFrame, lmm.LmmResult]:
    """Tidy coefficients and glance rows of OLS `y ~ F` and the mixed `y ~ F + (1 | g)`."""
    levels = levels_of(data, spec)
    term = f"{spec.level2_factor}[T.{levels[1]}]"
    y = data[spec.response].to_numpy("float64")
    w = (data[spec.level2_factor] == levels[1]).to_numpy("float64")
    X = np.column_stack([np.ones_like(w), w])
    o = ols(X, y, ["Intercept", term])
    se = np.sqrt(np.diag(o.vcov))
    coef_o = pd.DataFrame({"term": o.terms, "estimate": o.beta, "std_error": se, "df": float(o.df_resid)})
    coef_o.insert(0, "model", "OLS")
    mixed = models.fit("means", data, spec)
    coef_m = mixed.coef[["term", "estimate", "std_error", "df"]].copy()
    coef_m.insert(0, "model", "Mixed (REML)")
    coef = pd.concat([coef_o, coef_m], ignore_index=True)
    coef["statistic"] = coef["estimate"] / coef["std_error"]
    coef["p_value"] = 2 * t_sf(np.abs(coef["statistic"]), coef["df"])
    q = t_ppf(0.975, coef["df"])
    coef["conf_low"] = coef["estimate"] - q * coef["std_error"]
    coef["conf_high"] = coef["estimate"] + q * coef["std_error"]
    tss = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - o.rss / tss
    n, p = len(y), 2
    fstat = (tss - o.rss) / (p - 1) / (o.rss / o.df_resid)
    glance = pd.DataFrame(
        [
            {"model": "OLS", "nobs": n, "ngroups": int(data[spec.group].nunique()), "sigma": o.sigma,
             "r_squared": r2, "adj_r_squared": 1 - (1 - r2) * (n - 1) / o.df_resid, "statistic": fstat,
             "df": float(p - 1), "df_residual": float(o.df_resid), "loglik": o.loglik, "aic": o.aic, "bic": o.bic,
             "g00": np.nan, "sigma2": o.sigma**2},
            {"model": "Mixed (REML)", "nobs": mixed.nobs, "ngroups": mixed.ngroups, "sigma": mixed.sigma,
             "r_squared": np.nan, "adj_r_squared": np.nan, "statistic": np.nan, "df": np.nan,
             "df_residual": np.nan, "loglik": mixed.loglik, "aic": mixed.aic, "bic": mixed.bic,
             "g00": float(mixed.varcorr.G.iloc[0, 0]), "sigma2": mixed.sigma2},
        ]
    )
    return coef, glance, mixed


def variance_explained_table(data: pd.DataFrame, spec: ModelSpec, mixed: lmm.LmmResult) -> pd.DataFrame:
    """Between- and within-school variance of the null model and of the model with the factor."""
    null = models.fit("oneway", data, spec)
    g_null, g_f = float(null.varcorr.G.iloc[0, 0]), float(mixed.varcorr.G.iloc[0, 0])
    return pd.DataFrame(
        [
            {"model": "Null: y ~ 1 + (1 | g)", "g00": g_null, "sigma2": null.sigma2, "loglik": null.loglik,
             "aic": null.aic, "bic": null.bic, "proportion_explained": np.nan},
            {"model": f"With {spec.level2_factor}", "g00": g_f, "sigma2": mixed.sigma2, "loglik": mixed.loglik,
             "aic": mixed.aic, "bic": mixed.bic, "proportion_explained": (g_null - g_f) / g_null},
        ]
    )


def school_indicator(data: pd.DataFrame, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per school: n_j and W_j (1 for the non-reference level)."""
    levels = levels_of(data, spec)
    g = data.groupby(spec.group, sort=True)
    n = g.size().to_numpy("float64")
    w = (g[spec.level2_factor].first().astype(str) == levels[1]).to_numpy("float64")
    return n, w


def approximate_se(g00: float, sigma2: float, n_bar: float, J: float, var_w: float) -> float:
    """sqrt((g00 + sigma^2 / n_bar) / (J var(W)))."""
    return float(np.sqrt((g00 + sigma2 / n_bar) / (J * var_w)))


def standard_errors_table(data: pd.DataFrame, spec: ModelSpec, mixed: lmm.LmmResult, ols_se: float) -> pd.DataFrame:
    """The gap's SE four ways: the model's, exact GLS by school, the approximation, and naive OLS."""
    n, w = school_indicator(data, spec)
    J = len(n)
    g00, s2 = float(mixed.varcorr.G.iloc[0, 0]), mixed.sigma2
    n_bar = float(n.mean())
    var_w_schools = float(w.var(ddof=0))
    students = (data[spec.level2_factor] == levels_of(data, spec)[1]).to_numpy("float64")
    var_w_students = float(students.var(ddof=1))
    weights = 1.0 / (g00 + s2 / n)  # GLS weight of each school mean
    exact = float(np.sqrt(1.0 / weights[w == 1].sum() + 1.0 / weights[w == 0].sum()))
    term = f"{spec.level2_factor}[T.{levels_of(data, spec)[1]}]"
    model_se = float(mixed.coef.set_index("term").loc[term, "std_error"])
    N = len(data)
    return pd.DataFrame(
        [
            {"method": "model", "label": "Mixed model (REML), as fitted", "std_error": model_se,
             "g00": g00, "sigma2": s2, "n_bar": n_bar, "ngroups": J, "var_w": np.nan},
            {"method": "gls_exact", "label": "GLS with each school's own n_j", "std_error": exact,
             "g00": g00, "sigma2": s2, "n_bar": n_bar, "ngroups": J, "var_w": np.nan},
            {"method": "approx_schools", "label": "Approximation, var(W) over schools",
             "std_error": approximate_se(g00, s2, n_bar, J, var_w_schools),
             "g00": g00, "sigma2": s2, "n_bar": n_bar, "ngroups": J, "var_w": var_w_schools},
            {"method": "approx_students", "label": "Approximation, var(W) over students (as in the lecture)",
             "std_error": approximate_se(g00, s2, n_bar, J, var_w_students),
             "g00": g00, "sigma2": s2, "n_bar": n_bar, "ngroups": J, "var_w": var_w_students},
            {"method": "ols", "label": "OLS, students as independent", "std_error": ols_se,
             "g00": 0.0, "sigma2": np.nan, "n_bar": n_bar, "ngroups": J, "var_w": var_w_students},
            {"method": "ols_approx", "label": "OLS approximation sqrt((g00 + sigma^2) / (N var(W)))",
             "std_error": float(np.sqrt((g00 + s2) / (N * var_w_students))),
             "g00": g00, "sigma2": s2, "n_bar": n_bar, "ngroups": J, "var_w": var_w_students},
        ]
    )


def design_scenarios_table(se_table: pd.DataFrame) -> pd.DataFrame:
    """The approximate SE as the number of schools J or the school size n grows."""
    base = se_table.set_index("method").loc["approx_schools"]
    g00, s2, n_bar, J, var_w = (float(base[k]) for k in ("g00", "sigma2", "n_bar", "ngroups", "var_w"))
    rows = []
    for label, jj, nn in (
        ("As observed", J, n_bar),
        ("Twice as many students per school", J, 2 * n_bar),
        ("Twice as many schools", 2 * J, n_bar),
        ("Ten times as many students per school", J, 10 * n_bar),
        ("Infinitely many students per school", J, np.inf),
    ):
        rows.append({"scenario": label, "ngroups": jj, "n_bar": nn, "nobs": jj * nn,
                     "std_error": approximate_se(g00, s2, nn, jj, var_w)})
    return pd.DataFrame(rows)


# ------------------------------------------------------------ meaning of G
G_PANELS: tuple[tuple[str, tuple[tuple[float, float], tuple[float, float]]], ...] = (
    ("Only intercepts vary", ((4.0, 0.0), (0.0, 0.0))),
    ("Only slopes vary", ((0.0, 0.0), (0.0, 5.0))),
    ("Both vary, little covariance", ((4.0, 0.2), (0.2, 5.0))),
    ("Positive covariance", ((4.0, 3.6), (3.6, 5.0))),
    ("Negative covariance", ((4.0, -3.6), (-3.6, 5.0))),
)


def g_panel_lines(seed: int, panels=G_PANELS, n_lines: int = 9, gamma: tuple[float, float] = (10.0, 2.0),
                  extra: tuple[str, np.ndarray, tuple[float, float]] | None = None) -> pd.DataFrame:
    """School lines beta_j = gamma + u_j, u_j ~ N(0, G), for each panel's G.

    The same standard-normal draws z_j are used in every panel (u_j = G^1/2 z_j),
    so the panels differ only by G. `extra` adds a panel (title, G, gamma),
    e.g. the G estimated from the data.
    """
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_lines, 2))
    todo = [(title, np.asarray(G, dtype="float64"), gamma) for title, G in panels]
    if extra is not None:
        todo.append((extra[0], np.asarray(extra[1], dtype="float64"), extra[2]))
    rows = []
    for k, (title, G, centre) in enumerate(todo):
        vals, vecs = np.linalg.eigh(G)
        root = vecs @ np.diag(np.sqrt(np.clip(vals, 0, None))) @ vecs.T  # symmetric square root
        u = z @ root
        for j in range(n_lines):
            rows.append({"panel": k, "title": title, "gamma0": float(centre[0]), "gamma1": float(centre[1]),
                         "tau00": G[0, 0], "tau01": G[0, 1], "tau11": G[1, 1],
                         "line": j + 1, "intercept": centre[0] + u[j, 0], "slope": centre[1] + u[j, 1]})
    return pd.DataFrame(rows)


def estimated_g_panel(data: pd.DataFrame, spec: ModelSpec) -> tuple[str, np.ndarray, tuple[float, float]]:
    """The random-coefficients model's G and mean line, rounded to 2 decimals for the panel."""
    fit = models.fit("randcoef", data, spec)
    G = np.round(fit.varcorr.G.to_numpy(), 2)
    centre = (round(float(fit.fixef.iloc[0]), 2), round(float(fit.fixef.iloc[1]), 2))
    return "Estimated from these data", G, centre


def sector_gap_tables(data: pd.DataFrame, spec: ModelSpec, preferred_reference: str | None = None, seed: int = 2026) -> dict[str, pd.DataFrame]:
    """All tables of the sector-gap section (reference level reordered, see module docs)."""
    ref = gap_reference(data, spec, preferred_reference)
    d = with_reference(data, spec, ref)
    coef, glance, mixed = ols_vs_mixed_tables(d, spec)
    ols_se = float(coef.loc[(coef["model"] == "OLS") & (coef["term"] != "Intercept"), "std_error"].iloc[0])
    se = standard_errors_table(d, spec, mixed, ols_se)
    return {
        "gap_levels": level_means_table(d, spec),
        "gap_ttest": naive_t_test(d, spec),
        "gap_coef": coef,
        "gap_fit": glance,
        "gap_variance": variance_explained_table(d, spec, mixed),
        "gap_se": se,
        "gap_scenarios": design_scenarios_table(se),
        "g_panels": g_panel_lines(seed, extra=estimated_g_panel(data, spec)),
    }
