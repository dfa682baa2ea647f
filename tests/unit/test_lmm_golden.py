"""Compare mlmcompare.lmm with lme4/lmerTest reference fits (tests/golden/lme4/*.json).

Tolerances (fixed by the project; do not loosen): log-likelihood within 1e-6
absolute (or higher than lme4's), fixed effects 1e-6 relative, standard
errors 1e-5 relative, Satterthwaite df 1e-3 relative, variance components
1e-5 relative, BLUPs and conditional SDs 1e-5 absolute, singular flag equal.
Every golden fit is checked at these tolerances, with no exceptions: the
golden theta is lme4's best-of-starts optimum, Newton-polished on lme4's own
profiled deviance to the stationary point (tests/golden/README.md), so it
does not carry the imprecision of a derivative-free optimizer in flat
directions of the deviance.

One convention, written down here so that it can be checked: a variance at
the boundary has no relative precision (a relative comparison of ~0 with 0
means nothing), so each entry of G is compared relative to
sqrt(max(G_ii, f) max(G_jj, f)) with the floor f = 1e-8 sigma^2, the size
below which lme4 calls a fit singular (theta < 1e-4); sigma^2 itself is
compared relative to its value.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm

HERE = Path(__file__).parents[1]  # tests/
DATA = HERE.parent / "data"
GOLDEN = HERE / "golden" / "lme4"
GOLDEN_DATA = HERE / "golden" / "data"
FILES = sorted(GOLDEN.glob("*.json"))

TOL_LOGLIK = 1e-6
TOL_FIXEF = 1e-6
TOL_SE = 1e-5
TOL_DF = 1e-3
TOL_VC = 1e-5
TOL_BLUP = 1e-5


@lru_cache(maxsize=None)
def _raw(dataset: str) -> pd.DataFrame:
    if dataset in ("hs", "hsfull"):
        d = pd.read_csv(DATA / f"{dataset}.csv")
        d["ses_mean"] = d.groupby("school")["ses"].transform("mean")
        d["ses_cwg"] = d["ses"] - d["ses_mean"]
        d["female"] = (d["Sex"] == "Female").astype(float)
        return d
    return pd.read_csv(GOLDEN_DATA / f"{dataset}.csv")


def with_reference_levels(d: pd.DataFrame, g: dict) -> pd.DataFrame:
    """`d` with each factor the golden file names as Categorical, its reference level first (as R's relevel)."""
    for col, ref in (g.get("reference_levels") or {}).items():
        levels = [ref] + sorted(v for v in d[col].unique() if v != ref)
        d[col] = pd.Categorical(d[col], categories=levels)
    return d


def golden_data(g: dict) -> pd.DataFrame:
    return with_reference_levels(_raw(g["dataset"]).copy(), g)


@lru_cache(maxsize=None)
def _fit(name: str):
    g = json.loads((GOLDEN / name).read_text())
    return g, lmm.fit(g["formula"], golden_data(g), reml=bool(g["reml"]))


def rel(a, b) -> np.ndarray:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.abs(a - b) / np.maximum(np.abs(b), 1e-300)


def deviations(name: str) -> dict[str, float]:
    """Largest deviation of each kind (in the unit of its tolerance)."""
    g, r = _fit(name)
    out: dict[str, float] = {}
    out["loglik_below"] = g["loglik"] - r.loglik  # positive = ours lower
    idx = [r.fixed_terms.index(t) for t in g["terms"]]
    out["fixef_rel"] = rel(r.fixef.to_numpy()[idx], g["fixef"]).max()
    out["se_rel"] = rel(r.coef["std_error"].to_numpy()[idx], g["std_error"]).max()
    out["df_rel"] = rel(r.coef["df"].to_numpy()[idx], g["df"]).max()
    # variance components: G entries relative to their scale sqrt(G_ii G_jj), and sigma^2
    grp = next(iter(g["varcorr"]["G"].values()))
    assert grp["terms"] == r.random_terms
    out["vc_rel"] = vc_deviation(r, np.asarray(grp["G"], float), g["sigma2"])
    # BLUPs and conditional SDs, matched by group label
    rg = next(iter(g["ranef"].values()))
    wide = r.ranef.pivot(index="group", columns="term", values="estimate")
    csd = r.ranef.pivot(index="group", columns="term", values="cond_sd")
    wide.index = wide.index.astype(str)
    csd.index = csd.index.astype(str)
    lv = [str(v) for v in rg["levels"]]
    blup = max(np.abs(wide.loc[lv, t].to_numpy() - np.asarray(rg["blup"][t], float)).max()
               for t in rg["terms"])
    cs = max(np.abs(csd.loc[lv, t].to_numpy() - np.asarray(rg["cond_sd"][t], float)).max()
             for t in rg["terms"])
    out["blup_abs"] = float(blup)
    out["cond_sd_abs"] = float(cs)
    # contrasts
    cmax = {"est": 0.0, "se": 0.0, "df": 0.0}
    for c in g.get("contrasts") or []:
        L = np.zeros(len(r.fixed_terms))
        L[idx] = c["L"]
        row = r.contrast(L).iloc[0]
        cmax["est"] = max(cmax["est"], float(rel(row["estimate"], c["estimate"])))
        cmax["se"] = max(cmax["se"], float(rel(row["std_error"], c["std_error"])))
        cmax["df"] = max(cmax["df"], float(rel(row["df"], c["df"])))
    out["contrast_est_rel"] = cmax["est"]
    out["contrast_se_rel"] = cmax["se"]
    out["contrast_df_rel"] = cmax["df"]
    return out


def vc_deviation(r, Gg: np.ndarray, s2g: float) -> float:
    """Max relative deviation of G (floored at 1e-8 sigma^2) and sigma^2."""
    floor = 1e-8 * s2g
    d = np.maximum(np.diag(Gg), floor)
    scale = np.sqrt(np.outer(d, d))
    vc = np.abs(r.varcorr.G.to_numpy() - Gg) / scale
    return max(float(vc.max()), float(rel(r.sigma2, s2g)))


@pytest.fixture(params=[f.name for f in FILES], ids=[f.stem for f in FILES])
def golden(request):
    return _fit(request.param) + (request.param,)


def test_golden_files_present():
    assert len(FILES) >= 40


def test_golden_theta_is_polished(golden):
    """The golden theta is the Newton-polished one (make_golden.R), not BOBYQA's stop."""
    g, _, _ = golden
    pol = g["optimum_search"]["polish"]
    assert pol["theta"] == g["theta"]
    assert pol["stop_reason"] not in ("Hessian not positive definite", "deviance would increase")


def test_loglik(golden):
    g, r, _ = golden
    assert r.loglik >= g["loglik"] - TOL_LOGLIK
    crit = "reml_criterion" if g["reml"] else "deviance"
    ours = r.reml_criterion if g["reml"] else r.deviance
    assert ours <= g[crit] + 2 * TOL_LOGLIK
    assert r.aic <= g["aic"] + 2 * TOL_LOGLIK and r.bic <= g["bic"] + 2 * TOL_LOGLIK


def test_counts(golden):
    g, r, _ = golden
    assert r.nobs == g["nobs"]
    assert r.ngroups == next(iter(g["ngroups"].values()))
    assert r.npar == g["npar"]
    assert r.df_resid == g["nobs"] - len(g["terms"])
    assert sorted(r.fixed_terms) == sorted(g["terms"])


def test_fixef_se_df(golden):
    _, _, name = golden
    d = deviations(name)
    assert d["fixef_rel"] <= TOL_FIXEF
    assert d["se_rel"] <= TOL_SE
    assert d["df_rel"] <= TOL_DF


def test_vcov(golden):
    g, r, _ = golden
    idx = [r.fixed_terms.index(t) for t in g["terms"]]
    V = r.vcov.to_numpy()[np.ix_(idx, idx)]
    Vg = np.asarray(g["vcov"], float)
    scale = np.sqrt(np.outer(np.diag(Vg), np.diag(Vg)))
    assert (np.abs(V - Vg) / scale).max() <= 2 * TOL_SE  # variances: twice the SE tolerance


def test_statistic_pvalue(golden):
    g, r, _ = golden
    idx = [r.fixed_terms.index(t) for t in g["terms"]]
    np.testing.assert_allclose(r.coef["statistic"].to_numpy()[idx], g["statistic"], rtol=2 * TOL_SE)
    # p-values follow from t and df; df carries the 1e-3 tolerance
    p, pg = r.coef["p_value"].to_numpy()[idx], np.asarray(g["p_value"], float)
    assert np.all((np.abs(p - pg) <= 1e-3 * pg) | (np.abs(p - pg) < 1e-12))


def test_variance_components(golden):
    _, _, name = golden
    d = deviations(name)
    assert d["vc_rel"] <= TOL_VC, d


def test_ranef(golden):
    _, _, name = golden
    d = deviations(name)
    assert d["blup_abs"] <= TOL_BLUP
    assert d["cond_sd_abs"] <= TOL_BLUP


def test_coef_by_group(golden):
    g, r, _ = golden
    cg = next(iter(g["coef"].values()))
    ours = r.coef_by_group()
    ours.index = ours.index.astype(str)
    lv = [str(v) for v in cg["levels"]]
    for term, vals in cg["columns"].items():
        np.testing.assert_allclose(ours.loc[lv, term].to_numpy(), vals, atol=TOL_BLUP, rtol=0)


def test_singular_flag(golden):
    g, r, _ = golden
    assert r.singular == g["singular"]
    if r.singular:
        assert any("singular" in w for w in r.warnings)
    assert r.converged, r.optimizer


def test_contrasts(golden):
    _, _, name = golden
    d = deviations(name)
    assert d["contrast_est_rel"] <= TOL_FIXEF
    assert d["contrast_se_rel"] <= TOL_SE
    assert d["contrast_df_rel"] <= TOL_DF


ICC_FILES = [f.name for f in FILES if "icc" in json.loads(f.read_text())]


@pytest.mark.parametrize("name", ICC_FILES)
def test_icc(name):
    g, r = _fit(name)
    assert abs(r.icc() - g["icc"]["icc"]) <= TOL_VC * g["icc"]["icc"]


def test_not_worse_than_lme4_default(golden):
    """Our optimum is at least as good as lme4's default optimizer (often better)."""
    g, r, _ = golden
    assert r.loglik >= g["lme4_default"]["loglik"] - TOL_LOGLIK


if __name__ == "__main__":  # report the largest deviations over all files
    worst: dict[str, tuple[float, str]] = {}
    for f in FILES:
        for k, v in deviations(f.name).items():
            if k not in worst or v > worst[k][0]:
                worst[k] = (v, f.stem)
    for k, (v, where) in worst.items():
        print(f"{k:18s} {v: .3e}  ({where})")
