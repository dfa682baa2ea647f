"""Units of mlmcompare.designs against R golden values (tests/golden/designs/, made by
tests/golden/make_golden_designs.R; the tests never call R)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm
from mlmcompare.estimation import rmanova as rm
from mlmcompare.analyses.components import component_formulas, fit_components, prepare_components
from mlmcompare.estimation.gls import STRUCTURES, fit_gls_long
from mlmcompare.estimation.multcomp import paired_comparisons, pairwise_comparisons
from mlmcompare.analyses.oneway import fit_from_group_means
from mlmcompare.estimation.sphericity import epsilon_table, mauchly_test

from ..conftest import DATA, GOLDEN

GD = GOLDEN / "designs"


def golden(name: str) -> dict:
    return json.loads((GD / name).read_text())


@pytest.fixture(scope="module")
def grocery():
    data, levels = rm.read_long(pd.read_csv(DATA / "grocery.csv"), "item", "store", "price")
    return data, levels, rm.wide_matrix(data, "item", "store", "price", levels)


# ------------------------------------------------------------------ gls vs nlme
@pytest.mark.parametrize("structure", list(STRUCTURES))
@pytest.mark.parametrize("method", ["reml", "ml"])
def test_gls_matches_nlme(grocery, structure, method):
    data, levels, _ = grocery
    g = golden(f"gls__{structure}__{method}.json")
    f = fit_gls_long(data, "item", "store", "price", levels, structure, reml=(method == "reml"))
    assert f.converged
    assert f.npar == g["df"]
    assert f.loglik == pytest.approx(g["loglik"], abs=1e-6)
    assert f.aic == pytest.approx(g["aic"], abs=1e-6)
    assert f.bic == pytest.approx(g["bic"], abs=1e-6)
    assert f.beta == pytest.approx(np.array(list(g["coef"].values())), abs=1e-8)
    assert np.sqrt(np.diag(f.vcov)) == pytest.approx(np.array(list(g["std_error"].values())), rel=1e-5)
    V = np.array(g["covariance"])
    assert np.max(np.abs(f.covariance - V)) <= 1e-5 * np.max(np.abs(V))
    assert f.correlation == pytest.approx(np.array(g["correlation"]), abs=1e-5)


def test_gls_toeplitz_spans_arma3(grocery):
    """For 4 occasions the Toeplitz fit's lag correlations are nlme's corARMA(p = 3)'s."""
    data, levels, _ = grocery
    g = golden("gls__toeplitz__ml.json")
    f = fit_gls_long(data, "item", "store", "price", levels, "toeplitz", reml=False)
    C = np.array(g["correlation"])
    lags = [f.params[f"rho_lag{h}"] for h in (1, 2, 3)]
    assert lags == pytest.approx([C[0, 1], C[0, 2], C[0, 3]], abs=1e-5)


# ------------------------------------------------------- RM ANOVA vs aov / car
def test_rm_tables_match_r(grocery):
    _, _, wide = grocery
    g = golden("rmanova.json")
    assert wide.to_numpy() == pytest.approx(np.array(g["wide"]))
    a = rm.anova_twoway(wide, "store", "item").iloc[:3]
    assert a["sumsq"].to_numpy() == pytest.approx(g["aov_fixed"]["sumsq"], rel=1e-12)
    assert a["statistic"].to_numpy()[:2] == pytest.approx(g["aov_fixed"]["statistic"][:2], rel=1e-12)
    assert a["p_value"].to_numpy()[:2] == pytest.approx(g["aov_fixed"]["p_value"][:2], rel=1e-9)
    mv = rm.anova_multivariate(wide, "store")
    for ours, theirs in [("sumsq", "sumsq"), ("error_sumsq", "error_sumsq"), ("statistic", "statistic"), ("p_value", "p_value")]:
        assert mv[ours].to_numpy() == pytest.approx(g["univariate"][theirs], rel=1e-9)
    hot = rm.hotelling_test(wide, "store").set_index("test")["value"]
    for name, key in [("Pillai", "pillai"), ("Wilks", "wilks"), ("Hotelling-Lawley", "hotelling_lawley"), ("Roy", "roy")]:
        assert hot[name] == pytest.approx(g["multivariate"][key], rel=1e-9)


def test_sphericity_matches_r(grocery):
    _, _, wide = grocery
    g = golden("rmanova.json")
    F = float(rm.anova_twoway(wide, "store", "item")["statistic"].iloc[0])
    eps = epsilon_table(wide, F).set_index("correction")
    assert eps.loc["Greenhouse-Geisser", "epsilon"] == pytest.approx(g["epsilon"]["gg"], rel=1e-10)
    assert eps.loc["Greenhouse-Geisser", "p_value"] == pytest.approx(g["epsilon"]["p_gg"], rel=1e-9)
    assert eps.loc["Huynh-Feldt", "epsilon"] == pytest.approx(g["epsilon"]["hf"], rel=1e-10)
    assert eps.loc["Huynh-Feldt", "p_value"] == pytest.approx(g["epsilon"]["p_hf"], rel=1e-9)
    m = mauchly_test(wide).iloc[0]
    assert m["W"] == pytest.approx(g["mauchly"]["W"], rel=1e-10)
    assert m["p_value_r"] == pytest.approx(g["mauchly"]["p_value_r"], rel=1e-9)
    assert abs(m["p_value"] - m["p_value_r"]) < 1e-3  # Anderson's term vs R's


def test_mixed_lrt_matches_lme4(grocery):
    data, levels, _ = grocery
    g = golden("lmer_lrt.json")
    t = rm.mixed_lrt_tables(data, "item", "store", "price", levels)
    f = t["mixed_fits"]
    assert f["loglik"].to_numpy()[:2] == pytest.approx(g["loglik"], abs=1e-6)
    assert f["aic"].to_numpy()[:2] == pytest.approx(g["aic"], abs=1e-6)
    assert f["bic"].to_numpy()[:2] == pytest.approx(g["bic"], abs=1e-6)
    assert t["mixed_lrt"]["statistic"].iloc[0] == pytest.approx(g["chisq"], abs=1e-6)
    assert t["mixed_lrt"]["p_value"].iloc[0] == pytest.approx(g["p_value"], rel=1e-5)


def test_multcomp_matches_r(grocery):
    _, _, wide = grocery
    g = golden("multcomp.json")
    mse = 1.21374 / 27
    mc = pairwise_comparisons(wide, mse, 27)
    tk = mc[mc["method"] == "Tukey"]
    assert tk["estimate"].to_numpy() == pytest.approx(g["tukey"]["diff"], abs=1e-12)
    assert tk["conf_low"].to_numpy() == pytest.approx(g["tukey"]["lwr"], abs=1e-6)
    assert tk["conf_high"].to_numpy() == pytest.approx(g["tukey"]["upr"], abs=1e-6)
    assert tk["p_value"].to_numpy() == pytest.approx(g["tukey"]["p_adj"], abs=1e-6)
    pr = paired_comparisons(wide)
    assert pr["p_value"].to_numpy() == pytest.approx(g["paired"]["p_none"], rel=1e-8)
    assert pr["p_bonferroni"].to_numpy() == pytest.approx(g["paired"]["p_bonferroni"], rel=1e-8)
    assert pr["p_holm"].to_numpy() == pytest.approx(g["paired"]["p_holm"], rel=1e-8)
    bonf = mc[mc["method"] == "Bonferroni"]
    raw = mc[mc["method"] == "unadjusted"]
    assert bonf["p_value"].to_numpy() == pytest.approx(np.minimum(1, 6 * raw["p_value"].to_numpy()))


def test_wide_matrix_refuses_gaps_and_repeats(grocery):
    data, levels, _ = grocery
    with pytest.raises(ValueError, match="missing \\(subject, condition\\) cell"):
        rm.wide_matrix(data.iloc[1:], "item", "store", "price", levels)
    with pytest.raises(ValueError, match="repeated \\(subject, condition\\)"):
        rm.wide_matrix(pd.concat([data, data.iloc[:1]]), "item", "store", "price", levels)


# ---------------------------------------------- one-way fit from group summaries
def test_fit_from_group_means_equals_row_fit():
    """Rows with exactly these group means and within SD give the same REML and ML fit."""
    rng = np.random.default_rng(7)
    n = np.array([5, 8, 3, 12, 7])
    means = np.array([10.0, 12.5, 9.0, 11.0, 14.0])
    sd = 2.5
    rows = []
    for j, (nj, mj) in enumerate(zip(n, means)):
        e = rng.normal(size=nj)
        e = (e - e.mean()) / e.std(ddof=1) * sd
        rows += [(j, mj + x) for x in e]
    df = pd.DataFrame(rows, columns=["g", "y"])
    for reml in (True, False):
        full = lmm.fit("y ~ 1 + (1 | g)", df, reml=reml)
        summ = fit_from_group_means(means, n, within_sd=sd, reml=reml)
        assert summ.loglik == pytest.approx(full.loglik, abs=1e-8)
        assert summ.fixef.iloc[0] == pytest.approx(full.fixef.iloc[0], rel=1e-10)
        assert summ.coef["std_error"].iloc[0] == pytest.approx(full.coef["std_error"].iloc[0], rel=1e-7)
        assert summ.varcorr.G.iloc[0, 0] == pytest.approx(full.varcorr.G.iloc[0, 0], rel=1e-7)
        ss = float(((n - 1) * sd**2).sum())
        assert fit_from_group_means(means, n, within_ss=ss, reml=reml).loglik == pytest.approx(full.loglik, abs=1e-8)
    with pytest.raises(ValueError, match="exactly one"):
        fit_from_group_means(means, n)


# ------------------------------------------------------ components vs lme4
def test_components_match_lme4():
    data, names = prepare_components(
        pd.read_csv(DATA / "hsfull.csv"), "mathach", "school",
        [{"column": "ses", "name": "ses"}, {"column": "Sex", "level": "Female", "name": "female"}], "Sector", "Catholic",
    )
    formulas = component_formulas("mathach", "school", names, "Sector")
    fits = fit_components(data, formulas)
    for (model, reml), f in fits.items():
        g = golden(f"components__{model}__{'reml' if reml else 'ml'}.json")
        assert f.loglik == pytest.approx(g["loglik"], abs=1e-6), (model, reml)
        assert f.fixef.to_numpy() == pytest.approx(np.array(list(g["fixef"].values())), abs=1e-5)
        assert np.sort(f.varcorr_table()["vcov"].to_numpy()) == pytest.approx(np.sort(g["varcorr"]["vcov"]), rel=1e-4, abs=1e-6)
