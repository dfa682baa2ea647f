"""Fits with several grouping factors against lme4/lmerTest (tests/golden/multi/*.json).

The reference fits are made by tests/golden/make_golden_multi.R as the
one-factor set is (best of tight starts, Newton-polished on lme4's own
deviance function): lme4's Pastes (nested), Penicillin (crossed), InstEval
(crossed, 73,421 rows), nlme's Machines (Worker / Worker:Machine) and a
simulated three-level data set (students in classes in schools), REML and ML.

Tolerances (the project's): log-likelihood 1e-6 absolute (or higher than
lme4's), fixed effects 1e-6 relative, standard errors 1e-5 relative,
variance components 1e-5 relative (G entries relative to the scale of their
variances, floored at 1e-8 sigma^2 as in test_lmm_golden), Satterthwaite df
1e-3 relative, BLUPs, conditional SDs and fitted values 1e-5 absolute.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm

from .test_lmm_golden import TOL_BLUP, TOL_DF, TOL_FIXEF, TOL_LOGLIK, TOL_SE, TOL_VC, rel, with_reference_levels

HERE = Path(__file__).parents[1]
GOLDEN = HERE / "golden" / "multi"
GOLDEN_DATA = HERE / "golden" / "data"
FILES = sorted(GOLDEN.glob("*.json"))

#: the text (factor) columns of each data set, as make_golden_multi.R wrote them
FACTORS = {
    "pastes": ["batch", "cask"],
    "penicillin": ["plate", "sample"],
    "machines": ["Worker", "Machine"],
    "threelevel": ["school", "class"],
    "insteval": ["s", "d", "dept", "service"],
}


@lru_cache(maxsize=None)
def _raw(dataset: str) -> pd.DataFrame:
    path = GOLDEN_DATA / f"{dataset}.csv"
    if not path.exists():
        path = GOLDEN_DATA / f"{dataset}.csv.gz"
    return pd.read_csv(path, dtype={c: str for c in FACTORS[dataset]})


def golden_data(g: dict) -> pd.DataFrame:
    return with_reference_levels(_raw(g["dataset"]).copy(), g)


@lru_cache(maxsize=None)
def _fit(name: str):
    g = json.loads((GOLDEN / name).read_text())
    return g, lmm.fit(g["formula"], golden_data(g), reml=bool(g["reml"]))


def vc_deviation(r, g: dict) -> float:
    """Max relative deviation of each factor's G (floored at 1e-8 sigma^2) and of sigma^2."""
    s2g = g["sigma2"]
    floor = 1e-8 * s2g
    worst = float(rel(r.sigma2, s2g))
    G = r.varcorr.G
    for grp, blk in g["varcorr"]["G"].items():
        Gg = np.asarray(blk["G"], float)
        ours = G.loc[grp, grp].loc[blk["terms"], blk["terms"]].to_numpy()
        d = np.maximum(np.diag(Gg), floor)
        worst = max(worst, float((np.abs(ours - Gg) / np.sqrt(np.outer(d, d))).max()))
    return worst


def deviations(name: str) -> dict[str, float]:
    """Largest deviation of each kind (in the unit of its tolerance's quantity)."""
    g, r = _fit(name)
    out: dict[str, float] = {"loglik_below": g["loglik"] - r.loglik}
    idx = [r.fixed_terms.index(t) for t in g["terms"]]
    out["fixef_rel"] = float(rel(r.fixef.to_numpy()[idx], g["fixef"]).max())
    out["se_rel"] = float(rel(r.coef["std_error"].to_numpy()[idx], g["std_error"]).max())
    out["df_rel"] = float(rel(r.coef["df"].to_numpy()[idx], g["df"]).max())
    out["vc_rel"] = vc_deviation(r, g)
    blup = csd = 0.0
    re = r.ranef
    for grp, rg in g["ranef"].items():
        sub = re[re["grpvar"] == grp]
        wide = sub.pivot(index="group", columns="term", values="estimate")
        sds = sub.pivot(index="group", columns="term", values="cond_sd")
        wide.index, sds.index = wide.index.astype(str), sds.index.astype(str)
        lv = [str(v) for v in rg["levels"]]
        for t in rg["terms"]:
            blup = max(blup, float(np.abs(wide.loc[lv, t].to_numpy() - rg["blup"][t]).max()))
            csd = max(csd, float(np.abs(sds.loc[lv, t].to_numpy() - rg["cond_sd"][t]).max()))
    out["blup_abs"], out["cond_sd_abs"] = blup, csd
    cmax = {"est": 0.0, "se": 0.0, "df": 0.0}
    for c in g.get("contrasts") or []:
        L = np.zeros(len(r.fixed_terms))
        L[idx] = c["L"]
        row = r.contrast(L).iloc[0]
        cmax["est"] = max(cmax["est"], float(rel(row["estimate"], c["estimate"])))
        cmax["se"] = max(cmax["se"], float(rel(row["std_error"], c["std_error"])))
        cmax["df"] = max(cmax["df"], float(rel(row["df"], c["df"])))
    out["contrast_est_rel"], out["contrast_se_rel"], out["contrast_df_rel"] = (
        cmax["est"], cmax["se"], cmax["df"])
    ff = g["fitted_first_rows"]
    k = ff["rows"]
    fit_dev = max(float(np.abs(r.fitted(0).to_numpy()[:k] - ff["fixed"]).max()),
                  float(np.abs(r.fitted(1).to_numpy()[:k] - ff["full"]).max()),
                  float(np.abs(r.residuals(1).to_numpy()[:k] - ff["residuals"]).max()))
    for grp, vals in ff["by_group"].items():
        fit_dev = max(fit_dev, float(np.abs(r.fitted(grp).to_numpy()[:k] - vals).max()))
    out["fitted_abs"] = fit_dev
    return out


@pytest.fixture(params=[f.name for f in FILES], ids=[f.stem for f in FILES])
def golden(request):
    return _fit(request.param) + (request.param,)


def test_golden_files_present():
    names = {f.stem.split("__")[0] for f in FILES}
    assert names >= {"pastes", "penicillin", "machines", "threelevel", "insteval"}
    assert len(FILES) >= 16


def test_loglik(golden):
    g, r, _ = golden
    assert r.loglik >= g["loglik"] - TOL_LOGLIK
    ours = r.reml_criterion if g["reml"] else r.deviance
    assert ours <= g["reml_criterion" if g["reml"] else "deviance"] + 2 * TOL_LOGLIK
    assert r.aic <= g["aic"] + 2 * TOL_LOGLIK and r.bic <= g["bic"] + 2 * TOL_LOGLIK


def test_counts_and_names(golden):
    g, r, _ = golden
    assert r.nobs == g["nobs"] and r.npar == g["npar"]
    # lme4's factors, in lme4's order (most levels first), with lme4's names
    assert r.ngroups == g["ngroups"]
    assert list(r.ngroups) == list(g["ngroups"])
    assert sorted(r.fixed_terms) == sorted(g["terms"])


def test_theta_in_lme4_order(golden):
    g, r, _ = golden
    scale = np.maximum(np.abs(g["theta"]), 1e-2)
    assert np.max(np.abs(np.abs(r.theta) - np.abs(g["theta"])) / scale) < 1e-4


def test_fixef_se_df(golden):
    _, _, name = golden
    d = deviations(name)
    assert d["fixef_rel"] <= TOL_FIXEF, d
    assert d["se_rel"] <= TOL_SE, d
    assert d["df_rel"] <= TOL_DF, d


def test_vcov(golden):
    g, r, _ = golden
    idx = [r.fixed_terms.index(t) for t in g["terms"]]
    V = r.vcov.to_numpy()[np.ix_(idx, idx)]
    Vg = np.asarray(g["vcov"], float)
    scale = np.sqrt(np.outer(np.diag(Vg), np.diag(Vg)))
    assert (np.abs(V - Vg) / scale).max() <= 2 * TOL_SE


def test_variance_components(golden):
    _, _, name = golden
    assert deviations(name)["vc_rel"] <= TOL_VC


def test_varcorr_table_layout(golden):
    """lme4's as.data.frame(VarCorr()): same rows, groups, terms and numbers."""
    g, r, _ = golden
    ours = r.varcorr_table()
    ref = g["varcorr_table"]
    assert len(ours) == len(ref["grp"])
    # lme4 spells a factor 'class.school' when another factor's name repeats
    # (its names go through make.names then); ours keeps 'class:school'
    assert [x.replace(":", ".") for x in ours["grp"]] == [x.replace(":", ".") for x in ref["grp"]]
    assert [None if pd.isna(v) else v for v in ours["var1"]] == ref["var1"]
    assert [None if pd.isna(v) else v for v in ours["var2"]] == ref["var2"]
    sd_scale = np.maximum(np.abs(ref["sdcor"]), 1e-4 * g["sigma"])
    assert np.max(np.abs(ours["sdcor"].to_numpy() - ref["sdcor"]) / sd_scale) <= TOL_VC


def test_ranef_and_cond_sd(golden):
    _, _, name = golden
    d = deviations(name)
    assert d["blup_abs"] <= TOL_BLUP, d
    assert d["cond_sd_abs"] <= TOL_BLUP, d


def test_coef_by_group(golden):
    g, r, _ = golden
    for grp, cg in g["coef"].items():
        ours = r.coef_by_group(grp)
        ours.index = ours.index.astype(str)
        lv = [str(v) for v in cg["levels"]]
        for term, vals in cg["columns"].items():
            np.testing.assert_allclose(ours.loc[lv, term].to_numpy(), vals, atol=TOL_BLUP, rtol=0)


def test_fitted_at_each_level(golden):
    _, _, name = golden
    assert deviations(name)["fitted_abs"] <= TOL_BLUP


def test_contrasts(golden):
    g, _, name = golden
    if not g.get("contrasts"):
        pytest.skip("no contrasts in this file")
    d = deviations(name)
    assert d["contrast_est_rel"] <= TOL_FIXEF and d["contrast_se_rel"] <= TOL_SE
    assert d["contrast_df_rel"] <= TOL_DF


def test_singular_and_converged(golden):
    g, r, _ = golden
    assert r.singular == g["singular"]
    assert r.converged, r.optimizer


def test_icc_per_factor(golden):
    g, r, _ = golden
    if "icc" not in g:
        with pytest.raises(ValueError, match="random-intercept-only"):
            r.icc_table()
        return
    t = r.icc_table().set_index("group")
    for row in g["icc"]:
        ours = t.loc[row["group"]]
        assert sorted(ours["shares"].split(", ")) == sorted(row["shares"])
        assert ours["icc"] == pytest.approx(row["icc"], rel=TOL_VC)
        assert ours["design_effect"] == pytest.approx(row["design_effect"], rel=TOL_VC)
        assert ours["mean_size"] == pytest.approx(row["mean_size"])
