"""Diagnostics and tests for the mixed model of the sector lines (lab list).

All for the mixed model `y ~ x * F + (1 + x | group)` (the `mixed` method)
unless said otherwise; each function returns one tidy table:

- `hausman_test`: fixed effects `y ~ x + x:F + factor(group)` against the
  random-intercept model `y ~ x * F + (1 | group)` for the slope terms
  (x and x:F): H = d'(V_FE - V_RE)^- d on rank(V_FE - V_RE) df, jointly and
  for each slope term alone;
- `row_diagnostics`: fitted values and residuals at both levels (marginal,
  level 0: X beta; conditional, level 1: X beta + Z b) for every row;
- `random_effects`: each group's BLUPs with conditional SDs, and its
  conditional line (fixed sector line plus the BLUPs);
- `leave_one_group_out`: the sector gap in slope and intercept when each
  group is left out (mixed model refitted from sufficient statistics, and
  the two-stage model), with the change from the full-data estimate;
- `effect_grid`: the fitted sector lines over each level's observed range
  of x, with pointwise 95% confidence bands (Satterthwaite df);
- `multilevel_r2`: Snijders-Bosker level-1 and level-2 R^2 (random-intercept
  models against the empty model) and Nakagawa-Schielzeth marginal and
  conditional R^2 (with Johnson's extension to random slopes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from ..estimation.distributions import chi2_sf

from .. import lmm, models
from ..lmm import build_design, fit_from_stats, sufficient_stats
from ..methods.common import factor_levels, level_term, per_group_ols
from ..spec import ModelSpec

def fit_mixed(data: pd.DataFrame, spec: ModelSpec) -> lmm.LmmResult:
    """The mixed model of the sector lines by REML."""
    return models.fit(models.MAIN_MIXED, data, spec)


# ---------------------------------------------------------------- Hausman
def within_fit(data: pd.DataFrame, columns: dict[str, np.ndarray], spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, float]:
    """OLS with a fixed intercept per group, by demeaning within groups (FWL):
    coefficients, covariance and residual df N - J - k."""
    g = data[spec.group].to_numpy()
    frame = pd.DataFrame(columns)
    frame["_y"] = data[spec.response].to_numpy(dtype="float64")
    demeaned = frame - frame.groupby(g).transform("mean")
    X = demeaned[list(columns)].to_numpy()
    y = demeaned["_y"].to_numpy()
    xtx_inv = np.linalg.inv(X.T @ X)
    b = xtx_inv @ X.T @ y
    r = y - X @ b
    df = len(y) - len(np.unique(g)) - X.shape[1]
    return b, (r @ r / df) * xtx_inv, float(df)


def slope_columns(data: pd.DataFrame, spec: ModelSpec) -> dict[str, np.ndarray]:
    """x and x:F[T.level] columns (the terms a fixed-effects model can estimate)."""
    x = data[spec.predictor].to_numpy(dtype="float64")
    f = data[spec.level2_factor].astype(str).to_numpy()
    cols = {spec.predictor: x}
    for lv in factor_levels(data, spec)[1:]:
        cols[f"{spec.predictor}:{level_term(spec, lv)}"] = x * (f == lv)
    return cols


def hausman_test(data: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Hausman tests, FE against random intercepts, for the slope terms.

    Columns: term (which coefficients), estimate_fe / estimate_re of the
    first term, statistic (chi-square), df, p_value."""
    cols = slope_columns(data, spec)
    terms = list(cols)
    b_fe, V_fe, _ = within_fit(data, cols, spec)
    re = models.fit("nonrandom", data, spec)
    b_re = re.fixef[terms].to_numpy()
    V_re = re.vcov.loc[terms, terms].to_numpy()
    rows = []
    subsets = [terms] + ([[t] for t in terms] if len(terms) > 1 else [])
    for sub in subsets:
        idx = [terms.index(t) for t in sub]
        d = b_fe[idx] - b_re[idx]
        D = V_fe[np.ix_(idx, idx)] - V_re[np.ix_(idx, idx)]
        vals = np.linalg.eigvalsh(D)
        rank = int(np.sum(vals > 1e-10 * max(vals.max(), 1e-300)))
        h = float(d @ np.linalg.pinv(D) @ d)
        rows.append(
            {
                "term": " and ".join(sub),
                "estimate_fe": float(b_fe[idx[0]]) if len(idx) == 1 else np.nan,
                "estimate_re": float(b_re[idx[0]]) if len(idx) == 1 else np.nan,
                "std_error_diff": float(np.sqrt(D[0, 0])) if len(idx) == 1 and D[0, 0] > 0 else np.nan,
                "statistic": h,
                "df": float(rank),
                "p_value": float(chi2_sf(h, rank)),
                "v_diff_positive_definite": bool(vals.min() > 0),
            }
        )
    return pd.DataFrame(rows)


# ------------------------------------------------------- rows and groups
def row_diagnostics(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, fit: lmm.LmmResult) -> pd.DataFrame:
    """Per row: group, id, factor level, x, y, fitted and residual at levels 0 and 1."""
    out = pd.DataFrame(
        {
            spec.group: data[spec.group].to_numpy(),
            spec.level2_factor: data[spec.level2_factor].astype(str).to_numpy(),
            "x": data[spec.predictor].to_numpy(dtype="float64"),
            "y": data[spec.response].to_numpy(dtype="float64"),
            "fitted_0": fit.fitted(0).to_numpy(),
            "fitted_1": fit.fitted(1).to_numpy(),
        }
    )
    out["residual_0"] = out["y"] - out["fitted_0"]
    out["residual_1"] = out["y"] - out["fitted_1"]
    return out.merge(schools[[spec.group, "id", "plot_order"]], on=spec.group, how="left")


def random_effects(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, fit: lmm.LmmResult) -> pd.DataFrame:
    """Per group: BLUPs u0, u1 with conditional SDs, and the conditional line."""
    re = fit.ranef
    wide = re.pivot(index="group", columns="term", values="estimate")
    sd = re.pivot(index="group", columns="term", values="cond_sd")
    x = spec.predictor
    coef = fit.coef_by_group()
    levels = factor_levels(data, spec)
    base = schools[[spec.group, "id", "plot_order", spec.level2_factor]].copy()
    base[spec.level2_factor] = base[spec.level2_factor].astype(str)
    rng = data.groupby(spec.group)[x].agg(x_min="min", x_max="max")
    base = base.merge(rng, left_on=spec.group, right_index=True)
    rows = []
    for r in base.itertuples(index=False):
        g = getattr(r, spec.group)
        lv = getattr(r, spec.level2_factor)
        b0 = coef.at[g, "Intercept"] + (coef.at[g, level_term(spec, lv)] if lv != levels[0] else 0.0)
        b1 = coef.at[g, x] + (coef.at[g, f"{x}:{level_term(spec, lv)}"] if lv != levels[0] else 0.0)
        rows.append({"u0": wide.at[g, "Intercept"], "u1": wide.at[g, x], "cond_sd_u0": sd.at[g, "Intercept"], "cond_sd_u1": sd.at[g, x], "intercept": b0, "slope": b1})
    return pd.concat([base.reset_index(drop=True), pd.DataFrame(rows)], axis=1)


def gap(fixef: np.ndarray, vcov: np.ndarray, terms: list[str], spec: ModelSpec, level: str) -> tuple[float, float, float, float]:
    """Intercept and slope differences (level - reference) and their SEs."""
    ti = terms.index(level_term(spec, level))
    ts = terms.index(f"{spec.predictor}:{level_term(spec, level)}")
    return fixef[ti], float(np.sqrt(vcov[ti, ti])), fixef[ts], float(np.sqrt(vcov[ts, ts]))


def two_stage_gap(table: pd.DataFrame, spec: ModelSpec, levels: list[str]) -> tuple[float, float]:
    m = table.groupby(spec.level2_factor)[["intercept", "slope"]].mean()
    return float(m.at[levels[1], "intercept"] - m.at[levels[0], "intercept"]), float(m.at[levels[1], "slope"] - m.at[levels[0], "slope"])


def leave_one_group_out(data: pd.DataFrame, schools: pd.DataFrame, spec: ModelSpec, fit: lmm.LmmResult) -> pd.DataFrame:
    """The sector gap without each group: mixed model (refitted from the
    sufficient statistics of the other groups, started at the full fit's
    theta) and two-stage; changes are (without group) - (all groups), and
    `dfbetas_slope` is the mixed slope change in units of its full-data SE."""
    levels = factor_levels(data, spec)
    other = levels[1]
    design = build_design(models.formula(models.MAIN_MIXED, spec), data)
    terms = list(design.fixed_terms)
    full_b0, full_se0, full_b1, full_se1 = gap(fit.fixef.to_numpy(), fit.vcov.to_numpy(), terms, spec, other)
    lines = per_group_ols(data, spec).table
    full_ts0, full_ts1 = two_stage_gap(lines, spec, levels)
    rows = []
    for code, label in enumerate(design.levels):
        keep = design.codes != code
        st = sufficient_stats(design.X[keep], design.Z[keep], design.y[keep], design.levels[design.codes[keep]])
        res = fit_from_stats(st, design.block_sizes, reml=True, fixed_terms=terms, random_terms=design.random_terms, theta_start=fit.theta)
        b0, _, b1, _ = gap(res.fixef.to_numpy(), res.vcov.to_numpy(), terms, spec, other)
        ts0, ts1 = two_stage_gap(lines[lines[spec.group] != label], spec, levels)
        rows.append(
            {
                spec.group: label,
                "gap_intercept": b0,
                "gap_slope": b1,
                "change_intercept": b0 - full_b0,
                "change_slope": b1 - full_b1,
                "dfbetas_slope": (b1 - full_b1) / full_se1,
                "two_stage_change_intercept": ts0 - full_ts0,
                "two_stage_change_slope": ts1 - full_ts1,
                "converged": bool(res.converged),
            }
        )
    out = pd.DataFrame(rows)
    info = schools[[spec.group, "id", spec.level2_factor, "n"]].copy()
    info[spec.level2_factor] = info[spec.level2_factor].astype(str)
    out = info.merge(out, on=spec.group)
    out["full_gap_slope"] = full_b1
    out["full_gap_intercept"] = full_b0
    out = out.reindex(out["change_slope"].abs().sort_values(ascending=False).index)
    return out.reset_index(drop=True)


def effect_grid(data: pd.DataFrame, spec: ModelSpec, fit: lmm.LmmResult, points: int = 41) -> pd.DataFrame:
    """Fitted sector lines with pointwise 95% confidence bands, each level
    over its own observed range of x (broom columns per grid point)."""
    levels = factor_levels(data, spec)
    terms = list(fit.fixed_terms)
    x = spec.predictor
    frames = []
    for lv in levels:
        xs = data.loc[data[spec.level2_factor].astype(str) == lv, x]
        grid = np.linspace(xs.min(), xs.max(), points)
        L = np.zeros((points, len(terms)))
        L[:, terms.index("Intercept")] = 1.0
        L[:, terms.index(x)] = grid
        if lv != levels[0]:
            L[:, terms.index(level_term(spec, lv))] = 1.0
            L[:, terms.index(f"{x}:{level_term(spec, lv)}")] = grid
        t = fit.contrast(L, names=[f"{lv} at {v:.3f}" for v in grid])
        t.insert(0, "x", grid)
        t.insert(0, spec.level2_factor, lv)
        frames.append(t)
    return pd.concat(frames, ignore_index=True)


# -------------------------------------------------------------------- R^2
def random_part_variance(Z: np.ndarray, G: np.ndarray) -> float:
    """Mean over rows of z_i' G z_i: the average variance the random effects
    add to one observation (Johnson 2014)."""
    return float(np.mean(np.einsum("ij,jk,ik->i", Z, G, Z)))


def multilevel_r2(data: pd.DataFrame, spec: ModelSpec, fit: lmm.LmmResult) -> pd.DataFrame:
    """Snijders-Bosker and Nakagawa-Schielzeth R^2 (see module docstring)."""
    grp = spec.group
    null = models.fit("oneway", data, spec)
    ri = models.fit("nonrandom", data, spec)
    tau0, s0 = float(null.varcorr.G.iloc[0, 0]), null.sigma2
    tau1, s1 = float(ri.varcorr.G.iloc[0, 0]), ri.sigma2
    nbar = len(data) / data[grp].nunique()
    sb1 = 1 - (s1 + tau1) / (s0 + tau0)
    sb2 = 1 - (s1 / nbar + tau1) / (s0 / nbar + tau0)
    design = build_design(models.formula(models.MAIN_MIXED, spec), data)
    var_f = float(np.var(fit.fitted(0).to_numpy(), ddof=1))
    var_r = random_part_variance(design.Z, fit.varcorr.G.to_numpy())
    total = var_f + var_r + fit.sigma2
    rows = [
        ("Snijders-Bosker", "level 1", sb1, f"1 - (sigma2 + tau00) of {models.formula('nonrandom', spec)} over the empty model's"),
        ("Snijders-Bosker", "level 2", sb2, f"as level 1 with sigma2 / n, n = mean group size {nbar:.2f}"),
        ("Nakagawa-Schielzeth", "marginal", var_f / total, "var(X beta) / (var(X beta) + mean z'Gz + sigma2), random slopes model"),
        ("Nakagawa-Schielzeth", "conditional", (var_f + var_r) / total, "(var(X beta) + mean z'Gz) / total, random slopes model"),
    ]
    out = pd.DataFrame(rows, columns=["measure", "kind", "estimate", "definition"])
    out["var_fixed"] = var_f
    out["var_random"] = var_r
    out["sigma2"] = fit.sigma2
    return out


def variance_components(fit: lmm.LmmResult) -> pd.DataFrame:
    """lme4's VarCorr table of the mixed model (grp, var1, var2, vcov, sdcor)."""
    return fit.varcorr_table()
