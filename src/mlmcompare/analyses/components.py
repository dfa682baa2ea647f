"""Covariance components of random effects: random intercepts and slopes.

On two-level data (students in schools) each level-1 variable named in the
config is split into its group mean (``<name>_mean``, spida2's cvar) and the
deviation from it (``<name>_cwg``, "centred within group"); a binary
variable is first coded 0/1 for the configured level (for ``Sex == Female``
the group mean is the proportion female).  The fixed part is the same for
all random-effect structures compared:
``y ~ a_cwg + a_mean + b_cwg + b_mean + Level2``; the random parts are

============  ==============================================  ===============
model         random part                                     G
============  ==============================================  ===============
null          (1 | g), no predictors                          tau00
intercept     (1 | g)                                         tau00
unstructured  (1 + a_cwg + b_cwg | g)                         all 6 free
diagonal      (1 + a_cwg + b_cwg || g)                        variances only
block         (1 | g) + (0 + a_cwg + b_cwg | g)               intercept apart,
                                                              slopes correlated
============  ==============================================  ===============

each fitted by ML (as the lecture notes do, for likelihood-ratio tests) and
by REML, with the engine :mod:`mlmcompare.lmm`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .. import lmm, models
from ..lmm import LmmResult

log = logging.getLogger(__name__)

__all__ = ["prepare_components", "add_within_between", "component_formulas", "fit_components", "components_tables", "COMPONENT_PAIRS"]

#: nested pairs for likelihood-ratio tests (small, big)
COMPONENT_PAIRS: list[tuple[str, str]] = [
    ("null", "intercept"),
    ("intercept", "diagonal"),
    ("diagonal", "block"),
    ("block", "unstructured"),
    ("diagonal", "unstructured"),
    ("intercept", "unstructured"),
]

COMPONENT_MODELS = ("null", "intercept", "diagonal", "block", "unstructured")


def prepare_components(
    data: pd.DataFrame, response: str, group: str, slopes: Sequence[Mapping], level2: str | None = None,
    reference: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The data with ``<name>``, ``<name>_mean``, ``<name>_cwg`` for each slope variable;
    returns it and the names."""
    need = [response, group] + [s["column"] for s in slopes] + ([level2] if level2 else [])
    missing = [c for c in need if c not in data.columns]
    if missing:
        raise ValueError(f"components data lacks column(s) {missing}; it has {list(data.columns)}")
    out = data[list(dict.fromkeys(need))].copy()
    names = []
    for s in slopes:
        col = s["column"]
        name = s.get("name", col)
        if "level" in s:
            values = out[col].astype(str)
            if str(s["level"]) not in set(values):
                raise ValueError(f"column {col!r} has no value {s['level']!r}")
            x = (values == str(s["level"])).astype(float)
        else:
            x = pd.to_numeric(out[col], errors="coerce")
            if x.isna().any():
                raise ValueError(f"column {col!r}: {int(x.isna().sum())} missing or non-numeric value(s)")
        out[name] = x.astype(float)
        add_within_between(out, name, group)
        names.append(name)
    if level2:
        levels = sorted(out[level2].astype(str).unique())
        if reference is not None:
            if str(reference) not in levels:
                raise ValueError(f"reference {reference!r} is not a level of {level2!r} ({levels})")
            levels = [str(reference)] + [v for v in levels if v != str(reference)]
        out[level2] = pd.Categorical(out[level2].astype(str), categories=levels)
    return out, names


def add_within_between(frame: pd.DataFrame, name: str, by: str | Sequence[str]) -> None:
    """Add ``<name>_mean`` (the mean of ``name`` in each group of ``by``: one
    column, or several for groups nested in others) and ``<name>_cwg`` (the
    deviation from it) to ``frame``, in place."""
    frame[f"{name}_mean"] = frame.groupby(by if isinstance(by, str) else list(by), sort=False)[name].transform("mean")
    frame[f"{name}_cwg"] = frame[name] - frame[f"{name}_mean"]


def component_formulas(response: str, group: str, names: Sequence[str], level2: str | None = None) -> dict[str, str]:
    """The formulas of the compared models (`models.py`, ids components_*) for
    these slopes; the block model needs two slopes or more."""
    covariates = " + ".join([f"{n}_cwg + {n}_mean" for n in names] + ([level2] if level2 else []))
    slopes = " + ".join(f"{n}_cwg" for n in names)
    roles = {"y": response, "g": group, "k": covariates, "s": slopes}
    return {m: models.formula(f"components_{m}", roles) for m in COMPONENT_MODELS if m != "block" or len(names) > 1}


def fit_components(data: pd.DataFrame, formulas: Mapping[str, str]) -> dict[tuple[str, bool], LmmResult]:
    """Every model by ML and by REML, keyed (model, reml)."""
    return {(m, reml): lmm.fit(f, data, reml=reml) for m, f in formulas.items() for reml in (False, True)}


def components_tables(fits: Mapping[tuple[str, bool], LmmResult], formulas: Mapping[str, str]) -> dict[str, pd.DataFrame]:
    """fits (glance), coef (tidy), varcorr (lme4's as.data.frame(VarCorr)), G (long), lrt."""
    fit_rows, coef, vc, G_rows = [], [], [], []
    for (model, reml), f in fits.items():
        method = "REML" if reml else "ML"
        fit_rows.append({
            "model": model, "label": models.model(f"components_{model}").name, "formula": formulas[model], "method": method,
            "nobs": f.nobs, "ngroups": f.ngroups, "npar": f.npar, "loglik": f.loglik, "aic": f.aic, "bic": f.bic,
            "deviance": -2 * f.loglik, "sigma": f.sigma, "singular": f.singular, "converged": f.converged,
            "warnings": "; ".join(f.warnings),
        })
        c = f.coef.copy()
        c.insert(0, "method", method)
        c.insert(0, "model", model)
        coef.append(c)
        v = f.varcorr_table()
        v.insert(0, "method", method)
        v.insert(0, "model", model)
        vc.append(v)
        G = f.varcorr.G
        for a in G.index:
            for b in G.columns:
                G_rows.append({"model": model, "method": method, "row": a, "col": b, "value": float(G.loc[a, b])})
    lrt_rows = []
    for reml in (False, True):
        for small, big in COMPONENT_PAIRS:
            if (small, reml) not in fits or (big, reml) not in fits:
                continue
            fs, fb = fits[(small, reml)], fits[(big, reml)]
            if reml and set(fs.fixed_terms) != set(fb.fixed_terms):
                continue  # REML likelihoods of different fixed parts are not comparable
            t = lmm.lrt(fs, fb).iloc[0]
            lrt_rows.append({
                "method": "REML" if reml else "ML", "small": small, "big": big,
                "statistic": float(t["statistic"]), "df": float(t["df"]), "p_value": float(t["p_value"]),
                "p_value_boundary": float(t["p_value_boundary"]), "note": t["note"],
            })
    vcs = pd.concat(vc, ignore_index=True)
    for col in ("var1", "var2"):
        vcs[col] = vcs[col].astype("string")
    return {
        "fits": pd.DataFrame(fit_rows),
        "coef": pd.concat(coef, ignore_index=True),
        "varcorr": vcs,
        "G": pd.DataFrame(G_rows),
        "lrt": pd.DataFrame(lrt_rows),
    }


def components_part_tables(frame: pd.DataFrame, s: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Every table of the covariance-components part, from its data file and settings."""
    data, names = prepare_components(frame, s["response"], s["group"], s["slopes"], s.get("level2"), s.get("reference"))
    formulas = component_formulas(s["response"], s["group"], names, s.get("level2"))
    fits = fit_components(data, formulas)
    for (model, reml), f in fits.items():
        log.info("%s %s: %r", model, "REML" if reml else "ML", f)
    return components_tables(fits, formulas)
