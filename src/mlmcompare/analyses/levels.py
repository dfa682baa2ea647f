"""Variance across levels: three-level models, crossed factors, and what a
misread structure does to the standard errors.

This module owns the designs handout's section "Three levels and crossed
factors" and the clustering summaries of its one-way part:

- `clustering_consequences`: for a random-intercept fit, the gap between
  groups one SD above and one SD below the mean, the design effect, its
  square root and the standard error of the mean as if every observation
  were independent, inflated by that square root.
- `threelevel_tables`: rows in middle-level units in top-level units
  (students in classes in schools). The variance at each level and the ICC
  of two rows in the same middle unit and in the same top unit only; a
  likelihood-ratio test of each level's variance (chi-bar-square boundary
  p-value); the standard errors of a row-level, a middle-level and a
  top-level effect with all levels, with the middle level left out, the top
  level left out and none (OLS); and middle-level labels that repeat across
  top units read as if they were crossed with them.
- `crossed_tables`: two crossed factors (plates and samples), their
  variances and ICCs, a likelihood-ratio test of each, and the same data
  read as if one factor were nested in the other.

Every fit is the engine's (`mlmcompare.lmm`), REML throughout: the models
compared by likelihood ratio share their fixed part, so their REML
likelihoods are comparable. Formulas come from `models.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import lmm, models
from ..lmm import LmmResult
from ..methods.common import OlsFit, ols
from .components import add_within_between

log = logging.getLogger(__name__)

__all__ = [
    "clustering_consequences",
    "three_level_design_effect",
    "variable_level",
    "threelevel_data",
    "threelevel_tables",
    "crossed_tables",
]

Fit = LmmResult | OlsFit


# ----------------------------------------------------------- one level, closed forms
def clustering_consequences(tau: float, sigma2: float, mean_size: float, nobs: int, se_model: float) -> pd.DataFrame:
    """What a random intercept means for the spread of group means and for the SE of the mean.

    One row: the between-group SD, the gap between groups one SD above and one
    SD below the mean (2 SD) and that gap in within-group SDs; the ICC and
    Kish's design effect 1 + (m - 1) ICC with its square root and the
    effective sample size N / design effect; the SE of the
    mean as if all `nobs` observations were independent, sqrt((tau + sigma^2)
    / N), that SE times sqrt(design effect), and the model's SE (`se_model`),
    which the inflated SE equals in a balanced design.
    """
    total = tau + sigma2
    icc = tau / total
    deff = 1.0 + (mean_size - 1.0) * icc
    se_independent = float(np.sqrt(total / nobs))
    return pd.DataFrame([{
        "sd_between": float(np.sqrt(tau)),
        "sd_within": float(np.sqrt(sigma2)),
        "sd_total": float(np.sqrt(total)),
        "gap_1sd": 2.0 * float(np.sqrt(tau)),
        "gap_in_within_sd": 2.0 * float(np.sqrt(tau / sigma2)),
        "icc": icc,
        "mean_size": float(mean_size),
        "design_effect": deff,
        "sqrt_design_effect": float(np.sqrt(deff)),
        "effective_n": nobs / deff,
        "se_independent": se_independent,
        "se_inflated": se_independent * float(np.sqrt(deff)),
        "se_model": float(se_model),
    }])


def three_level_design_effect(icc_middle: float, icc_top: float, size_middle: float, size_top: float) -> float:
    """Design effect of the mean of a three-level sample (balanced):
    1 + (m_c - 1) rho_c + (m_s - m_c) rho_s, with m_c rows per middle unit,
    m_s rows per top unit, rho_c the ICC of two rows in the same middle unit
    and rho_s that of two rows in the same top unit but different middle
    units. Equals N Var(mean) / (total variance)."""
    return 1.0 + (size_middle - 1.0) * icc_middle + (size_top - size_middle) * icc_top


def variable_level(data: pd.DataFrame, column: str, top: str, middle: str) -> str:
    """"top", "middle" or "row": the highest level at which `column` is constant."""
    if data.groupby(top, sort=False)[column].nunique().max() <= 1:
        return "top"
    if data.groupby([top, middle], sort=False)[column].nunique().max() <= 1:
        return "middle"
    return "row"


# ------------------------------------------------------------- shared pieces
def _need_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} data lack column(s) {missing}; they have {list(frame.columns)}")


def _numeric(frame: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna()
    if bad.any():
        rows = list(frame.index[bad][:5])
        raise ValueError(f"column {column!r}: {int(bad.sum())} missing or non-numeric value(s), rows {rows}")
    return values.astype("float64")


def _fit(model_id: str, data: pd.DataFrame, roles: Mapping[str, str]) -> Fit:
    """A model of the registry by REML (the engine), or by OLS when it has no random part."""
    formula = models.formula(model_id, roles)
    if models.model(model_id).random is None:
        from formulaic import model_matrix

        X = model_matrix(models.fixed_part(model_id, roles), data)
        return ols(X.to_numpy(dtype="float64"), data[roles["y"]].to_numpy(dtype="float64"), list(X.columns))
    fit = lmm.fit(formula, data, reml=True)
    log.info("%s: %r", model_id, fit)
    return fit


def _coef(fit: Fit) -> pd.DataFrame:
    """term, estimate, std_error, df for either kind of fit."""
    if isinstance(fit, OlsFit):
        se = np.sqrt(np.diag(fit.vcov))
        return pd.DataFrame({"term": fit.terms, "estimate": fit.beta, "std_error": se,
                             "df": float(fit.df_resid)})
    return fit.coef[["term", "estimate", "std_error", "df"]].copy()


def fits_table(fits: Mapping[str, Fit], roles: Mapping[str, str], labels: Mapping[str, str]) -> pd.DataFrame:
    """One row per fit (broom's glance names): model, label, formula and the fit's verdicts."""
    rows = []
    for model_id, f in fits.items():
        mixed = isinstance(f, LmmResult)
        rows.append({
            "model": model_id, "label": labels[model_id], "formula": models.formula(model_id, roles),
            "method": "REML" if mixed else "OLS", "nobs": int(f.nobs), "npar": int(f.npar),
            "loglik": float(f.loglik), "aic": float(f.aic), "bic": float(f.bic), "sigma": float(f.sigma),
            "singular": bool(f.singular) if mixed else False, "converged": bool(f.converged) if mixed else True,
            "warnings": "; ".join(f.warnings) if mixed else "",
        })
    return pd.DataFrame(rows)


def variance_table(fits: Mapping[str, LmmResult], labels: Mapping[str, str], level_of: Mapping[str, str]) -> pd.DataFrame:
    """Each fit's variances (lme4's group names), SDs and shares of the fit's total variance;
    `level_of` names the level each group stands for ("Residual" is the row level)."""
    rows = []
    for model_id, f in fits.items():
        vc = f.varcorr_table()
        vc = vc[vc["var2"].isna()]
        total = float(vc["vcov"].sum())
        for r in vc.itertuples():
            rows.append({"model": model_id, "label": labels[model_id], "grp": r.grp,
                         "level": level_of.get(r.grp, r.grp), "vcov": float(r.vcov), "sd": float(r.sdcor),
                         "share": float(r.vcov) / total})
    return pd.DataFrame(rows)


def lrt_rows(tests: Sequence[tuple[str, str, str]], fits: Mapping[str, LmmResult]) -> pd.DataFrame:
    """Likelihood-ratio tests (REML, same fixed part) of (what is tested, small, big)."""
    rows = []
    for tested, small, big in tests:
        t = lmm.lrt(fits[small], fits[big]).iloc[0]
        rows.append({"tested": tested, "small": small, "big": big, "statistic": float(t["statistic"]),
                     "df": float(t["df"]), "p_value": float(t["p_value"]),
                     "p_value_boundary": float(t["p_value_boundary"]), "note": str(t["note"])})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------ three levels
NULL_MODELS = ("levels_null", "levels_null_top", "levels_null_middle", "levels_labels_crossed")
SE_MODELS = ("levels_three", "levels_no_middle", "levels_no_top", "levels_ols")


def threelevel_data(frame: pd.DataFrame, s: Mapping[str, Any]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The checked rows with the row-level variable split into its middle-unit mean
    (``<x>_mean``) and the deviation from it (``<x>_cwg``); and the models' roles."""
    y, top, middle, x, w = s["response"], s["top"], s["middle"], s["student"], s.get("top_covariate")
    _need_columns(frame, [y, top, middle, x] + ([w] if w else []), "three-level")
    data = frame[[c for c in (y, top, middle, x, w) if c]].copy()
    for c in (y, x) + ((w,) if w else ()):
        data[c] = _numeric(data, c)
    for c in (top, middle):
        data[c] = data[c].astype(str)
    if w:
        varies = data.groupby(top, sort=False)[w].nunique()
        if (varies > 1).any():
            raise ValueError(f"column {w!r} is named as a {top}-level covariate but varies within "
                             f"{top} {list(varies.index[varies > 1][:5])}")
    add_within_between(data, x, [top, middle])
    covariates = " + ".join([f"{x}_cwg", f"{x}_mean"] + ([w] if w else []))
    return data, {"y": y, "g": top, "h": middle, "k": covariates}


def threelevel_counts(data: pd.DataFrame, top: str, middle: str) -> pd.DataFrame:
    """Rows, top units, middle units (pairs) and middle labels, and the sizes."""
    per_middle = data.groupby([top, middle], sort=False).size()
    per_top = data.groupby(top, sort=False).size()
    middles_per_top = per_middle.groupby(level=0, sort=False).size()
    return pd.DataFrame([{
        "nobs": len(data), "n_top": len(per_top), "n_middle": len(per_middle),
        "n_middle_labels": int(data[middle].nunique()),
        "middle_per_top_min": int(middles_per_top.min()), "middle_per_top_max": int(middles_per_top.max()),
        "rows_per_middle_min": int(per_middle.min()), "rows_per_middle_max": int(per_middle.max()),
        "rows_per_middle_mean": float(per_middle.mean()), "rows_per_top_mean": float(per_top.mean()),
    }])


def threelevel_labels(top: str, middle: str) -> dict[str, str]:
    return {
        "levels_null": f"{top}, {middle} within {top}",
        "levels_null_top": f"{top} only",
        "levels_null_middle": f"{middle} within {top} only",
        "levels_labels_crossed": f"{top} and {middle} labels crossed",
        "levels_three": "three levels",
        "levels_no_middle": f"{middle} left out",
        "levels_no_top": f"{top} left out",
        "levels_ols": "no level: OLS",
    }


def icc_levels(fit: LmmResult, top: str, counts: pd.Series) -> pd.DataFrame:
    """The engine's ICCs of the null three-level fit, plus the design effect of the grand mean
    and the SE of the mean as if independent, inflated by its square root, against the model's."""
    t = fit.icc_table()
    t.insert(0, "level", np.where(t["group"] == top, "top", "middle"))
    mid = t[t["level"] == "middle"].iloc[0]
    top_row = t[t["level"] == "top"].iloc[0]
    deff = three_level_design_effect(float(mid["icc"]), float(top_row["icc"]),
                                     float(counts["rows_per_middle_mean"]), float(counts["rows_per_top_mean"]))
    total = float(fit.varcorr_table().query("var2 != var2")["vcov"].sum())  # var2 NaN: the variances
    se_independent = float(np.sqrt(total / fit.nobs))
    t["design_effect_mean"] = deff
    t["se_independent"] = se_independent
    t["se_inflated"] = se_independent * np.sqrt(deff)
    t["se_model"] = float(fit.coef["std_error"].iloc[0])
    return t


def se_comparison(fits: Mapping[str, Fit], labels: Mapping[str, str], data: pd.DataFrame,
                  top: str, middle: str, reference: str = "levels_three") -> pd.DataFrame:
    """Each term's estimate, SE and df under each fit, the level at which the term's
    variable varies, and the SE over the reference fit's."""
    ref = _coef(fits[reference]).set_index("term")
    rows = []
    for model_id, f in fits.items():
        for r in _coef(f).itertuples():
            level = "intercept" if r.term == "Intercept" else variable_level(data, r.term, top, middle)
            rows.append({"model": model_id, "label": labels[model_id], "term": r.term, "level": level,
                         "estimate": float(r.estimate), "std_error": float(r.std_error), "df": float(r.df),
                         "se_ratio": float(r.std_error) / float(ref.loc[r.term, "std_error"])})
    return pd.DataFrame(rows)


def threelevel_tables(frame: pd.DataFrame, s: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Every table of the three-level part from its data file and settings."""
    data, roles = threelevel_data(frame, s)
    top, middle = s["top"], s["middle"]
    labels = threelevel_labels(top, middle)
    counts = threelevel_counts(data, top, middle)
    fits = {m: _fit(m, data, roles) for m in NULL_MODELS + SE_MODELS}
    nested = f"{middle}:{top}"
    level_of = {top: "top", nested: "middle", middle: "middle labels", "Residual": "row"}
    tests = [(f"{middle} variance", "levels_null_top", "levels_null"),
             (f"{top} variance", "levels_null_middle", "levels_null")]
    return {
        "counts": counts,
        "fits": fits_table(fits, roles, labels),
        "variance": variance_table({m: f for m, f in fits.items() if isinstance(f, LmmResult)}, labels, level_of),
        "icc": icc_levels(fits["levels_null"], top, counts.iloc[0]),
        "lrt": lrt_rows(tests, fits),
        "se": se_comparison({m: fits[m] for m in SE_MODELS}, labels, data, top, middle),
    }


# ------------------------------------------------------------------ crossed factors
def crossed_tables(frame: pd.DataFrame, s: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Two crossed factors: variances, ICCs, a test of each variance, and the fits
    that read one factor as nested in the other.

    A nested reading `(1 | a/b)` adds `(1 | b:a)`; with one row per cell of
    a x b that term is the residual itself and cannot be told from it, so the
    reading is fitted as `(1 | a)`, its residual standing for both.
    """
    y, (a, b) = s["response"], s["factors"]
    _need_columns(frame, [y, a, b], "crossed")
    data = frame[[y, a, b]].copy()
    data[y] = _numeric(data, y)
    for c in (a, b):
        data[c] = data[c].astype(str)
    cells = data.groupby([a, b], sort=False).size()
    replicated = bool(cells.max() > 1)
    roles = {"y": y, "a": a, "b": b}
    b_in_a, a_in_b = ("crossed_b_in_a", "crossed_a_in_b") if replicated else ("crossed_a_only", "crossed_b_only")
    ids = ["crossed", "crossed_a_only", "crossed_b_only"] + ([b_in_a, a_in_b] if replicated else [])
    labels = {"crossed": f"crossed: {a} and {b}", "crossed_a_only": f"{a} only", "crossed_b_only": f"{b} only",
              "crossed_b_in_a": f"{b} nested in {a}", "crossed_a_in_b": f"{a} nested in {b}"}
    fits = {m: _fit(m, data, roles) for m in ids}
    readings = {"crossed": "crossed", b_in_a: f"{b} read as nested in {a}", a_in_b: f"{a} read as nested in {b}"}
    mean_rows = []
    ref_se = float(fits["crossed"].coef["std_error"].iloc[0])
    for model_id, reading in readings.items():
        c = fits[model_id].coef.iloc[0]
        mean_rows.append({"model": model_id, "reading": reading, "label": labels[model_id],
                          "estimate": float(c["estimate"]), "std_error": float(c["std_error"]), "df": float(c["df"]),
                          "se_ratio": float(c["std_error"]) / ref_se})
    counts = pd.DataFrame([{"nobs": len(data), "n_a": int(data[a].nunique()), "n_b": int(data[b].nunique()),
                            "cells": len(cells), "max_per_cell": int(cells.max()), "replicated": replicated}])
    level_of = {a: a, b: b, f"{b}:{a}": f"{b} within {a}", f"{a}:{b}": f"{a} within {b}", "Residual": "row"}
    tests = [(f"{b} variance", "crossed_a_only", "crossed"), (f"{a} variance", "crossed_b_only", "crossed")]
    return {
        "counts": counts,
        "fits": fits_table(fits, roles, labels),
        "variance": variance_table(fits, labels, level_of),
        "icc": fits["crossed"].icc_table(),
        "lrt": lrt_rows(tests, fits),
        "mean": pd.DataFrame(mean_rows),
        "data": data.rename(columns={y: "response", a: "a", b: "b"}),
    }


def oneway_clustering(summary: pd.Series, se_model: float) -> pd.DataFrame:
    """`clustering_consequences` of the one-way part's summary row."""
    return clustering_consequences(float(summary["tau00"]), float(summary["sigma2"]), float(summary["mean_group_size"]),
                                   int(summary["nobs"]), se_model)
