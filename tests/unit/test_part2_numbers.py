"""Part 2 of the handout: every published number of the source lectures, from the pipeline's outputs.

`hs`: the one-way model (nlme's summary and intervals) and its BLUPs;
`hsfull`: the sector gap with Public as reference. Numbers are checked to
the digits they were printed with, |value - printed| <= 0.5 * 10^-decimals;
nlme's SD intervals to 3 significant digits (nlme versions differ in the
last digits; see the golden file for today's nlme).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ..conftest import table
from mlmcompare.report.tidy import read_table

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "ladder"


def printed(value: float, expected: float, decimals: int) -> bool:
    return abs(value - expected) <= 0.5 * 10.0 ** (-decimals) * (1 + 1e-9)


def same_3_significant(value: float, expected: float) -> bool:
    return float(f"{value:.3g}") == float(f"{expected:.3g}")


@pytest.fixture(scope="module")
def hs2(hs_results):
    return lambda name: table(hs_results, name)


@pytest.fixture(scope="module")
def full2(hsfull_results):
    return lambda name: table(hsfull_results, name)


# ------------------------------------------------------------ one-way, hs
def test_oneway_summary_as_nlme_prints_it(hs2):
    iv = hs2("oneway_intervals")
    nlme = iv[(iv["term"] == "Intercept") & iv["method"].str.contains("nlme")].iloc[0]
    assert printed(nlme["estimate"], 12.60468, 5)
    assert printed(nlme["std_error"], 0.4711941, 7)
    assert printed(nlme["statistic"], 26.75049, 5)
    assert nlme["df"] == 1937
    s = hs2("oneway_summary").iloc[0]
    assert printed(s["sd_intercept"], 2.836278, 6)
    assert printed(s["sigma"], 6.296759, 6)
    assert printed(s["loglik"], -6489.969, 3)
    assert printed(s["aic"], 12985.94, 2)
    assert printed(s["bic"], 13002.71, 2)


def test_oneway_intervals(hs2):
    iv = hs2("oneway_intervals").set_index(["term", "method"])
    mean = iv.xs("Intercept", level="term")
    nlme = mean[mean.index.str.contains("nlme")].iloc[0]
    assert printed(nlme["conf_low"], 11.68057, 5)
    assert printed(nlme["conf_high"], 13.52878, 5)
    satt = mean[mean.index.str.contains("Satterthwaite")].iloc[0]
    assert satt["df"] < 40  # the honest interval counts schools, not students
    assert satt["conf_low"] < nlme["conf_low"] and satt["conf_high"] > nlme["conf_high"]
    sd = iv.xs("sd__Intercept", level="term").iloc[0]
    assert same_3_significant(sd["conf_low"], 2.214072)
    assert same_3_significant(sd["conf_high"], 3.633338)
    sigma = iv.xs("sd__Observation", level="term").iloc[0]
    assert same_3_significant(sigma["conf_low"], 6.101522)
    assert same_3_significant(sigma["conf_high"], 6.498242)
    # and today's nlme (golden file), to the accuracy of its numerical Hessian
    g = json.loads((GOLDEN / "hs__oneway_nlme.json").read_text())
    assert sd["conf_low"] == pytest.approx(g["sd_intercept"]["lower"], rel=2e-4)
    assert sd["conf_high"] == pytest.approx(g["sd_intercept"]["upper"], rel=2e-4)
    assert sigma["conf_low"] == pytest.approx(g["sigma"]["lower"], rel=1e-6)
    assert sigma["conf_high"] == pytest.approx(g["sigma"]["upper"], rel=1e-6)
    assert nlme["conf_low"] == pytest.approx(g["fixed"]["lower"], rel=1e-8)


def test_mean_estimators_are_weighted_means_of_school_means(hs2):
    est = hs2("oneway_estimators").set_index("term")
    schools = hs2("oneway_schools")
    for key in est.index:
        w = schools[f"w_{key}"].to_numpy()
        assert w.sum() == pytest.approx(1.0)
        assert est.at[key, "estimate"] == pytest.approx(float(w @ schools["mean"].to_numpy()))
    # the GLS weights reproduce the mixed model's estimate and SE
    assert printed(est.at["gls", "estimate"], 12.60468, 5)
    assert printed(est.at["gls", "std_error"], 0.4711941, 7)
    assert est["std_error"].idxmin() == "gls"
    assert est.at["student_mean", "std_error_fixed_schools"] == pytest.approx(est["std_error_fixed_schools"].min())


def test_student_and_school_means_from_rows(hs_results, hs2):
    rows = read_table(hs_results / "data.parquet")
    est = hs2("oneway_estimators").set_index("term")
    assert est.at["student_mean", "estimate"] == pytest.approx(rows["mathach"].mean(), rel=1e-12)
    assert est.at["mean_of_means", "estimate"] == pytest.approx(rows.groupby("school")["mathach"].mean().mean(), rel=1e-12)


def test_icc_reliability_design_effect(hs2):
    s = hs2("oneway_summary").iloc[0]
    schools = hs2("oneway_schools")
    g00, s2 = s["g00"], s["sigma2"]
    assert s["icc"] == pytest.approx(g00 / (g00 + s2))
    assert s["reliability_mean"] == pytest.approx(np.mean(g00 / (g00 + s2 / schools["n"])))
    assert s["design_effect"] == pytest.approx(1 + s["icc"] * (1977 / 40 - 1))
    assert s["design_effect_sqrt"] ** 2 == pytest.approx(s["design_effect"])
    assert s["var_school_means"] == pytest.approx(schools["mean"].var(ddof=1))
    assert s["var_school_means"] > g00


# ------------------------------------------------------------ BLUPs, hs
def test_blue_and_blup_of_the_lectures_schools(hs2):
    t = hs2("oneway_shrinkage").set_index("id")
    assert printed(t.at["P8854C", "blue"], 4.239781, 6)
    assert printed(t.at["P8854C", "blup"], 5.356214, 6)
    assert t.at["P8854C", "n"] == 32
    assert printed(t.at["P5762C", "ranef"], -7.30651445, 8)
    assert printed(t.at["P5762C", "blup"], 5.298161, 6)
    # BLUP = gamma00 + shrinkage factor * (BLUE - gamma00)
    gamma = t["gamma00"].iloc[0]
    assert np.allclose(t["blup"], gamma + t["shrinkage_factor"] * (t["blue"] - gamma), rtol=0, atol=1e-8)


def test_blups_against_nlme(hs2):
    g = json.loads((GOLDEN / "hs__oneway_nlme.json").read_text())
    t = hs2("oneway_shrinkage").set_index("group")
    for level, coef in zip(g["blup"]["levels"], g["blup"]["coef"]):
        assert t.at[level, "blup"] == pytest.approx(coef, abs=1e-6)


def test_random_slopes_blups_shrink(hs2):
    spread = hs2("slopes_spread").set_index("matrix")
    assert spread["var_slope"].iloc[0] > spread["var_slope"].iloc[1] > spread["var_slope"].iloc[2]


# ------------------------------------------------------------ sector gap, hsfull
def test_sector_means_and_sds(full2):
    lv = full2("gap_levels").set_index("level")
    assert lv.index[0] == "Public"  # the lecture's reference level
    assert printed(lv.at["Catholic", "mean"], 14.17030, 5)
    assert printed(lv.at["Catholic", "sd"], 6.359018, 6)
    assert lv.at["Catholic", "nobs"] == 3543
    assert printed(lv.at["Public", "mean"], 11.36407, 5)
    assert printed(lv.at["Public", "sd"], 7.079920, 6)
    assert lv.at["Public", "nobs"] == 3642


def test_naive_t_test(full2, hsfull_results):
    t = full2("gap_ttest").iloc[0]
    assert printed(t["estimate"], -2.806225, 6)
    assert printed(t["std_error"], 0.158905, 6)
    assert printed(t["statistic"], -17.6598, 4)
    # independent: scipy's pooled two-sample t-test on the rows
    from scipy import stats

    rows = read_table(hsfull_results / "data.parquet")
    res = stats.ttest_ind(rows.loc[rows["Sector"] == "Public", "mathach"], rows.loc[rows["Sector"] == "Catholic", "mathach"])
    assert t["statistic"] == pytest.approx(res.statistic, rel=1e-10)


def test_random_intercept_gap_with_satterthwaite_df(full2):
    c = full2("gap_coef")
    m = c[(c["model"] == "Mixed (REML)") & (c["term"] == "Sector[T.Catholic]")].iloc[0]
    assert printed(m["estimate"], 2.804887, 6)
    assert printed(m["std_error"], 0.4390559, 7)
    assert printed(m["df"], 153.5006, 4)
    i = c[(c["model"] == "Mixed (REML)") & (c["term"] == "Intercept")].iloc[0]
    assert printed(i["estimate"], 11.39304, 5)
    assert printed(i["std_error"], 0.29283, 5)
    fit = full2("gap_fit").set_index("model")
    assert printed(fit.at["Mixed (REML)", "aic"], 47088.13, 2)
    assert printed(fit.at["Mixed (REML)", "bic"], 47115.65, 2)
    assert printed(fit.at["Mixed (REML)", "loglik"], -23540.07, 2)
    o = c[(c["model"] == "OLS") & (c["term"] == "Sector[T.Catholic]")].iloc[0]
    assert printed(o["estimate"], 2.806, 3) and printed(o["std_error"], 0.159, 3)
    assert printed(fit.at["OLS", "sigma"], 6.734, 3)
    assert printed(fit.at["OLS", "r_squared"], 0.042, 3)
    assert printed(fit.at["OLS", "statistic"], 311.869, 3)


def test_gap_against_lme4_golden(full2):
    g = json.loads((Path(__file__).resolve().parents[1] / "golden" / "lme4" / "hsfull__sector_ri_pubref__reml.json").read_text())
    c = full2("gap_coef")
    m = c[c["model"] == "Mixed (REML)"].set_index("term")
    for term, est, se, df in zip(g["terms"], g["fixef"], g["std_error"], g["df"]):
        assert m.at[term, "estimate"] == pytest.approx(est, rel=1e-6)
        assert m.at[term, "std_error"] == pytest.approx(se, rel=1e-5)
        assert m.at[term, "df"] == pytest.approx(df, rel=1e-4)


def test_between_school_variance_explained(full2):
    v = full2("gap_variance")
    assert printed(v["g00"].iloc[0], 8.61, 2)
    assert printed(v["g00"].iloc[1], 6.68, 2)
    assert printed(v["sigma2"].iloc[1], 39.15, 2)
    assert printed(100 * v["proportion_explained"].iloc[1], 22.5, 1)


def test_standard_error_approximations(full2):
    se = full2("gap_se").set_index("method")
    assert printed(se.at["model", "std_error"], 0.439, 3)
    # GLS with each school's n_j is the model's SE exactly
    assert se.at["gls_exact", "std_error"] == pytest.approx(se.at["model", "std_error"], rel=1e-8)
    # the approximation is close, but not equal: the n_j differ
    assert se.at["approx_schools", "std_error"] == pytest.approx(se.at["model", "std_error"], rel=0.01)
    assert se.at["approx_schools", "std_error"] != pytest.approx(se.at["model", "std_error"], rel=1e-4)
    sc = full2("gap_scenarios").set_index("scenario")
    assert sc.at["Twice as many schools", "std_error"] < sc.at["Twice as many students per school", "std_error"]


def test_g_panels(full2):
    p = full2("g_panels")
    intercepts_only = p[p["panel"] == 0]
    assert np.allclose(intercepts_only["slope"], intercepts_only["slope"].iloc[0])
    slopes_only = p[p["panel"] == 1]
    assert np.allclose(slopes_only["intercept"], slopes_only["intercept"].iloc[0])
