"""The model ladder against lme4/lmerTest golden files (tests/golden/make_golden_ladder.R).

Tolerances: log-likelihood 1e-6 absolute, fixed effects 1e-6 relative,
standard errors 1e-5 relative, variance components 1e-5 relative,
Satterthwaite df 1e-3 relative; likelihood-ratio statistics 1e-5 absolute.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ..conftest import table
from mlmcompare.analyses.ladder import LADDER, LADDER_TESTS

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ladder"
CASES = [(ds, m, crit) for ds in ("hs", "hsfull") for m in LADDER for crit in ("REML", "ML")]


@pytest.fixture(scope="module")
def outputs(hs_results, hsfull_results):
    folders = {"hs": hs_results, "hsfull": hsfull_results}
    return {
        ds: {name: table(folder, name) for name in ("ladder_models", "ladder_coef", "ladder_varcorr", "ladder_lrt")}
        for ds, folder in folders.items()
    }


def golden(ds: str, model: str, crit: str) -> dict:
    return json.loads((GOLDEN / f"{ds}__{model}__{crit.lower()}.json").read_text())


@pytest.mark.parametrize("ds,model,crit", CASES)
def test_fit_matches_lme4(outputs, ds, model, crit):
    g = golden(ds, model, crit)
    o = outputs[ds]
    m = o["ladder_models"].set_index(["model", "estimator"]).loc[(model, crit)]
    assert m["loglik"] == pytest.approx(g["loglik"], abs=1e-6)
    assert m["aic"] == pytest.approx(g["aic"], abs=1e-5)
    assert m["bic"] == pytest.approx(g["bic"], abs=1e-5)
    assert m["npar"] == g["npar"]
    assert m["nobs"] == g["nobs"] and m["ngroups"] == g["ngroups"]
    assert bool(m["singular"]) == bool(g["singular"])
    # the model lme4 fitted: same response and random part (the fixed part may
    # be written otherwise, x * F for 1 + x + F + x:F; its terms are compared below)
    ours, theirs = (f.replace(" ", "") for f in (m["formula"], g["formula"]))
    assert ours.split("~")[0] == theirs.split("~")[0]
    assert ours[ours.rindex("+("):] == theirs[theirs.rindex("+("):]
    c = o["ladder_coef"]
    c = c[(c["model"] == model) & (c["estimator"] == crit)].set_index("term")
    assert sorted(c.index) == sorted(g["terms"])
    for term, est, se, df in zip(g["terms"], g["fixef"], g["std_error"], g["df"]):
        assert c.at[term, "estimate"] == pytest.approx(est, rel=1e-6)
        assert c.at[term, "std_error"] == pytest.approx(se, rel=1e-5)
        assert c.at[term, "df"] == pytest.approx(df, rel=1e-3)
    v = o["ladder_varcorr"]
    v = v[(v["model"] == model) & (v["estimator"] == crit)]
    G = np.asarray(g["G"])
    for i, a in enumerate(g["random_terms"]):
        var = v[(v["var1"] == a) & v["var2"].isna()]["vcov"].iloc[0]
        assert var == pytest.approx(G[i, i], rel=1e-5)
        for j in range(i + 1, len(g["random_terms"])):
            b = g["random_terms"][j]
            cov = v[(v["var1"] == a) & (v["var2"] == b)]["vcov"].iloc[0]
            assert cov == pytest.approx(G[i, j], rel=1e-5)
    assert v[v["grp"] == "Residual"]["vcov"].iloc[0] == pytest.approx(g["sigma2"], rel=1e-5)


@pytest.mark.parametrize("ds", ["hs", "hsfull"])
def test_lrts_match_anova(outputs, ds):
    gold = {(t["small"], t["big"]): t for t in json.loads((GOLDEN / f"{ds}__lrt.json").read_text())["tests"]}
    lrt = outputs[ds]["ladder_lrt"]
    assert len(lrt) == len(LADDER_TESTS) == len(gold)
    for r in lrt.itertuples():
        t = gold[(r.small, r.big)]
        assert r.estimator == t["method"]
        assert r.statistic == pytest.approx(t["statistic"], abs=1e-5)
        assert r.df == t["df"]
        assert r.p_value == pytest.approx(t["p_value"], rel=1e-4)
        if r.estimator == "REML":  # variance tested: chi-bar-square, stated in the method
            assert r.p_value_boundary == pytest.approx(t["p_value_chibar"], rel=1e-4)
            assert "chi-bar-square" in r.method
            assert r.p_value_reported == r.p_value_boundary
        else:
            assert np.isnan(r.p_value_boundary)
            assert r.method.startswith("ML")


def test_equivalent_contextual_parametrisations(outputs):
    for ds in ("hs", "hsfull"):
        m = outputs[ds]["ladder_models"].set_index(["model", "estimator"])
        assert m.at[("ctx_cwg", "REML"), "loglik"] == pytest.approx(m.at[("ctx_raw", "REML"), "loglik"], abs=1e-8)
        c = outputs[ds]["ladder_coef"]
        c = c[c["estimator"] == "REML"].set_index(["model", "term"])["estimate"]
        contextual = c[("ctx_cwg", "ses_mean")] - c[("ctx_cwg", "ses_cwg")]
        assert c[("ctx_raw", "ses_mean")] == pytest.approx(contextual, rel=1e-6)
