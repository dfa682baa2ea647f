"""The designs section "Three levels and crossed factors" against independent sources.

- lme4 / lmerTest (and lm) on the same data: tests/golden/levels/*.json
  (tests/golden/make_golden_levels.R) and tests/golden/multi/penicillin__crossed__reml.json
  (make_golden_multi.R), with the engine's golden tolerances;
- closed forms: ICCs as sums of variances over the total; in the balanced
  crossed Penicillin design the REML variances are the ANOVA moment estimates
  and the SE of the mean is sqrt(s2_plate/24 + s2_sample/6 + s2/144); the
  three-level design effect against N Var(mean) / total from the covariance
  matrix of a balanced design; the one-way clustering summaries of TIMSS
  against the lecture's printed ICC.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from mlmcompare.analyses import run_design_part
from mlmcompare.analyses.levels import (clustering_consequences, threelevel_data, three_level_design_effect,
                                        variable_level)

from ..conftest import DATA, GOLDEN, validated_config
from .test_lmm_golden import TOL_DF, TOL_FIXEF, TOL_LOGLIK, TOL_SE, TOL_VC, rel

LEVELS = GOLDEN / "levels"
CONFIG = validated_config()["designs"]


def golden(name: str) -> dict:
    return json.loads((LEVELS / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def three():
    return run_design_part("threelevel", pd.read_csv(DATA / "threelevel.csv"), CONFIG)


@pytest.fixture(scope="module")
def crossed():
    return run_design_part("crossed", pd.read_csv(DATA / "penicillin.csv"), CONFIG)


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["threelevel.csv", "penicillin.csv"])
def test_bundled_data_are_the_golden_data(name):
    """The bundled files are the ones make_golden_multi.R wrote (and lme4 fitted)."""
    assert sha256(DATA / name) == sha256(GOLDEN / "data" / name)


# ------------------------------------------------------------------ three levels vs lme4
THREELEVEL_FITS = ["levels_null", "levels_null_top", "levels_null_middle", "levels_labels_crossed",
                   "levels_three", "levels_no_middle", "levels_no_top"]


@pytest.mark.parametrize("model", THREELEVEL_FITS)
def test_threelevel_fit_matches_lme4(three, model):
    g = golden(f"threelevel__{model}__reml")
    fit = three["fits"].set_index("model").loc[model]
    assert fit["converged"] and not fit["singular"]
    assert abs(fit["loglik"] - g["loglik"]) <= TOL_LOGLIK
    assert rel(fit["sigma"] ** 2, g["sigma2"]) <= TOL_VC
    variances = three["variance"]
    ours = variances[variances["model"] == model].set_index("grp")["vcov"]
    for block in g["varcorr"]["blocks"]:
        assert rel(ours[block["group"]], block["variance"][0]) <= TOL_VC, block["group"]
    assert rel(ours["Residual"], g["sigma2"]) <= TOL_VC


@pytest.mark.parametrize("model", ["levels_three", "levels_no_middle", "levels_no_top"])
def test_threelevel_coefficients_match_lmertest(three, model):
    g = golden(f"threelevel__{model}__reml")
    se = three["se"]
    ours = se[se["model"] == model].set_index("term").loc[g["terms"]]
    assert rel(ours["estimate"], g["fixef"]).max() <= TOL_FIXEF
    assert rel(ours["std_error"], g["std_error"]).max() <= TOL_SE
    assert rel(ours["df"], g["df"]).max() <= TOL_DF


def test_threelevel_ols_matches_lm(three):
    g = golden("threelevel__levels_ols")
    se = three["se"]
    ours = se[se["model"] == "levels_ols"].set_index("term").loc[g["terms"]]
    assert rel(ours["estimate"], g["estimate"]).max() <= 1e-10
    assert rel(ours["std_error"], g["std_error"]).max() <= 1e-10
    assert (ours["df"] == g["df_resid"]).all()
    fit = three["fits"].set_index("model").loc["levels_ols"]
    assert abs(fit["loglik"] - g["loglik"]) <= 1e-8


def test_threelevel_lrt_is_twice_the_loglik_gain_with_boundary_p(three):
    lrt = three["lrt"].set_index("small")
    for small in ("levels_null_top", "levels_null_middle"):
        stat = 2 * (golden("threelevel__levels_null__reml")["loglik"] - golden(f"threelevel__{small}__reml")["loglik"])
        row = lrt.loc[small]
        assert row["statistic"] == pytest.approx(stat, abs=2 * TOL_LOGLIK)
        assert row["df"] == 1
        # one variance on the boundary: 1/2 chi2_0 + 1/2 chi2_1
        assert row["p_value_boundary"] == pytest.approx(0.5 * scipy.stats.chi2.sf(row["statistic"], 1), rel=1e-12)


def test_threelevel_iccs_are_variance_shares(three):
    v = three["variance"]
    null = v[v["model"] == "levels_null"].set_index("level")["vcov"]
    total = null.sum()
    icc = three["icc"].set_index("level")["icc"]
    assert icc["middle"] == pytest.approx((null["top"] + null["middle"]) / total, rel=1e-12)
    assert icc["top"] == pytest.approx(null["top"] / total, rel=1e-12)
    g = golden("threelevel__levels_null__reml")
    vc = {b["group"]: b["variance"][0] for b in g["varcorr"]["blocks"]}
    lme4_total = sum(vc.values()) + g["sigma2"]
    assert icc["top"] == pytest.approx(vc["school"] / lme4_total, rel=1e-5)


def test_threelevel_counts_and_levels(three):
    c = three["counts"].iloc[0]
    assert (c["nobs"], c["n_top"], c["n_middle"], c["n_middle_labels"]) == (1893, 40, 189, 6)
    se = three["se"]
    levels = se[se["model"] == "levels_three"].set_index("term")["level"]
    assert levels.to_dict() == {"Intercept": "intercept", "x_cwg": "row", "x_mean": "middle", "w": "top"}


def test_leaving_a_level_out_shrinks_that_levels_standard_errors(three):
    """The honest-SE point with numbers: the effect of the level left out gets a smaller SE."""
    se = three["se"].set_index(["model", "term"])["se_ratio"]
    assert se[("levels_no_middle", "x_mean")] < 0.7  # class-level effect without the class level
    assert se[("levels_no_top", "w")] < 0.7  # school-level effect without the school level
    assert se[("levels_ols", "w")] < se[("levels_no_top", "w")]
    assert abs(se[("levels_no_middle", "w")] - 1) < 0.01  # the school-level effect hardly moves


def test_three_level_design_effect_is_the_variance_of_the_mean():
    """1 + (m_c - 1) rho_c + (m_s - m_c) rho_s = N Var(mean) / total, from the covariance matrix."""
    s2_top, s2_mid, s2 = 1.7, 1.85, 5.36
    schools, classes, rows = 4, 3, 5
    n = schools * classes * rows
    school = np.repeat(np.arange(schools), classes * rows)
    klass = np.repeat(np.arange(schools * classes), rows)
    V = (s2_top * (school[:, None] == school[None, :]) + s2_mid * (klass[:, None] == klass[None, :])
         + s2 * np.eye(n))
    total = s2_top + s2_mid + s2
    deff = n * (np.ones(n) @ V @ np.ones(n) / n**2) / total
    assert three_level_design_effect((s2_top + s2_mid) / total, s2_top / total, rows, classes * rows) == pytest.approx(deff)


def test_variable_level_and_refusals():
    frame = pd.read_csv(DATA / "threelevel.csv")
    data, roles = threelevel_data(frame, CONFIG["threelevel"])
    assert roles["k"] == "x_cwg + x_mean + w"
    assert [variable_level(data, c, "school", "class") for c in ("x", "x_mean", "w")] == ["row", "middle", "top"]
    bad = frame.assign(w=frame["w"] + np.arange(len(frame)) * 1e-3)
    with pytest.raises(ValueError, match="'w' is named as a school-level covariate but varies within school"):
        threelevel_data(bad, CONFIG["threelevel"])
    with pytest.raises(ValueError, match=r"lack column\(s\) \['score'\]"):
        threelevel_data(frame.drop(columns="score"), CONFIG["threelevel"])
    with pytest.raises(ValueError, match="column 'x': 1 missing"):
        threelevel_data(frame.assign(x=frame["x"].where(frame.index != 3)), CONFIG["threelevel"])


# ------------------------------------------------------------------ crossed vs lme4 and closed forms
def test_crossed_fit_matches_lme4(crossed):
    g = json.loads((GOLDEN / "multi" / "penicillin__crossed__reml.json").read_text())
    v = crossed["variance"]
    ours = v[v["model"] == "crossed"].set_index("grp")["vcov"]
    for block in g["varcorr"]["blocks"]:
        assert rel(ours[block["group"]], block["variance"][0]) <= TOL_VC
    assert rel(ours["Residual"], g["sigma2"]) <= TOL_VC
    mean = crossed["mean"].set_index("model").loc["crossed"]
    assert rel(mean["std_error"], g["std_error"][0]) <= TOL_SE
    assert rel(mean["df"], g["df"][0]) <= TOL_DF
    icc = crossed["icc"].set_index("group")["icc"]
    for row in g["icc"]:
        assert rel(icc[row["group"]], row["icc"]) <= TOL_VC


@pytest.mark.parametrize("model", ["crossed_a_only", "crossed_b_only"])
def test_nested_readings_match_lme4(crossed, model):
    g = golden(f"penicillin__{model}__reml")
    fit = crossed["fits"].set_index("model").loc[model]
    assert abs(fit["loglik"] - g["loglik"]) <= TOL_LOGLIK
    mean = crossed["mean"].set_index("model").loc[model]
    assert rel(mean["std_error"], g["std_error"][0]) <= TOL_SE
    assert rel(mean["df"], g["df"][0]) <= TOL_DF


def test_crossed_reml_is_the_anova_estimate_in_a_balanced_design(crossed):
    """One diameter per plate x sample cell: REML = the ANOVA moment estimates (all positive)."""
    d = pd.read_csv(DATA / "penicillin.csv")
    Y = d.pivot(index="plate", columns="sample", values="diameter").to_numpy()
    p, s = Y.shape
    grand = Y.mean()
    ms_plate = s * ((Y.mean(axis=1) - grand) ** 2).sum() / (p - 1)
    ms_sample = p * ((Y.mean(axis=0) - grand) ** 2).sum() / (s - 1)
    resid = Y - Y.mean(axis=1, keepdims=True) - Y.mean(axis=0, keepdims=True) + grand
    mse = (resid**2).sum() / ((p - 1) * (s - 1))
    v = crossed["variance"]
    ours = v[v["model"] == "crossed"].set_index("grp")["vcov"]
    assert ours["Residual"] == pytest.approx(mse, rel=1e-6)
    assert ours["plate"] == pytest.approx((ms_plate - mse) / s, rel=1e-6)
    assert ours["sample"] == pytest.approx((ms_sample - mse) / p, rel=1e-6)
    se = np.sqrt(ours["plate"] / p + ours["sample"] / s + ours["Residual"] / (p * s))
    assert crossed["mean"].set_index("model").loc["crossed", "std_error"] == pytest.approx(se, rel=1e-10)
    # read as nested in plates, the samples' variance is averaged over 144 draws, not 6:
    # the one-way SE sqrt(MS_plate / (p s))
    assert crossed["mean"].set_index("model").loc["crossed_a_only", "std_error"] == pytest.approx(
        np.sqrt(ms_plate / (p * s)), rel=1e-6)


def test_crossed_counts_and_tests(crossed):
    c = crossed["counts"].iloc[0]
    assert (c["nobs"], c["n_a"], c["n_b"], c["max_per_cell"], c["replicated"]) == (144, 24, 6, 1, False)
    lrt = crossed["lrt"].set_index("tested")
    crossed_ll = crossed["fits"].set_index("model")["loglik"]
    assert lrt.loc["sample variance", "statistic"] == pytest.approx(
        2 * (crossed_ll["crossed"] - crossed_ll["crossed_a_only"]), rel=1e-12)
    assert set(crossed["mean"]["reading"]) == {"crossed", "sample read as nested in plate", "plate read as nested in sample"}


# ------------------------------------------------------------------ one-way clustering (TIMSS)
def test_timss_clustering_against_the_lecture():
    part = run_design_part("oneway", pd.read_csv(DATA / "timss20_means.csv"), CONFIG)
    c = part["clustering"].iloc[0]
    assert round(c["gap_1sd"]) == 145  # 2 x 72.298, the lecture's between-school SD
    assert c["gap_1sd"] == pytest.approx(2 * 72.298, abs=2 * 0.0005 + 0.002)
    # the lecture's ICC 0.51 and 30 students a school: DEFF = 1 + 29 x 0.51 (two printed digits)
    assert c["design_effect"] == pytest.approx(1 + 29 * 0.51, abs=29 * 0.005)
    assert c["sqrt_design_effect"] == pytest.approx(np.sqrt(c["design_effect"]), rel=1e-14)
    # balanced: the SE as if independent, times sqrt(DEFF), is the model's SE (lecture: 16.422)
    assert c["se_inflated"] == pytest.approx(c["se_model"], rel=1e-10)
    assert abs(c["se_model"] - 16.422) <= 0.002


def test_clustering_consequences_closed_form():
    c = clustering_consequences(4.0, 12.0, 11.0, 220, 0.5).iloc[0]
    assert c["icc"] == 0.25 and c["design_effect"] == 3.5 and c["gap_1sd"] == 4.0
    assert c["se_independent"] == pytest.approx(np.sqrt(16 / 220))
    assert c["gap_in_within_sd"] == pytest.approx(4 / np.sqrt(12))
