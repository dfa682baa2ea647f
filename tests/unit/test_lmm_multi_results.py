"""The result speaks lme4's and broom's language, for one factor and for several.

summary() shows what lme4's summary(lmer) with lmerTest shows; tidy(),
glance() and augment() return broom's columns (snake_case); the old names
stay (coef, df_resid).  With several factors: fitted values per level,
predict with new levels refused or allowed per factor, LRTs between nested
random parts with the boundary p-value, singularity per term.  Numbers are
checked against lme4 (golden files) or closed forms.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from mlmcompare import lmm

GOLDEN = Path(__file__).parents[1] / "golden"


@pytest.fixture(scope="module")
def pastes():
    d = pd.read_csv(GOLDEN / "data" / "pastes.csv")
    return d, lmm.fit("strength ~ 1 + (1 | batch/cask)", d)


@pytest.fixture(scope="module")
def pastes_golden():
    return json.loads((GOLDEN / "multi" / "pastes__nested__reml.json").read_text())


# ------------------------------------------------------------------ summary
def test_summary_shows_lme4s_parts(pastes, pastes_golden):
    _, r = pastes
    g = pastes_golden
    text = str(r.summary())
    assert text.startswith("Linear mixed model fit by REML. t-tests use Satterthwaite's method")
    assert "Formula: strength ~ 1 + (1 | batch/cask)" in text
    assert f"REML criterion at convergence: {g['reml_criterion']:.1f}" in text
    assert "Scaled residuals:" in text
    # every term of every factor, with lme4's names, variances and SDs
    for grp, blk in g["varcorr"]["G"].items():
        line = next(ln for ln in text.splitlines() if ln.split()[:1] == [grp])
        assert f"{blk['G'][0][0]:.4f}" in line
    assert "Number of obs: 60, groups:  cask:batch, 30; batch, 10" in text
    assert f"{g['fixef'][0]:.7g}" in text and f"{g['df'][0]:.2f}" in text
    assert "optimizer: converged" in text


def test_summary_tables_and_ml_criteria(hs):
    r = lmm.fit("mathach ~ ses * Sector + (1 + ses | school)", hs, reml=False)
    s = r.summary()
    assert s.criterion["logLik"] == pytest.approx(r.loglik)
    assert s.criterion["AIC"] == pytest.approx(r.aic) and s.criterion["df.resid"] == r.df_resid
    assert list(s.fixed_effects.index) == r.fixed_terms
    np.testing.assert_allclose(s.fixed_effects["df"], r.coef["df"])
    # correlation of fixed effects from vcov
    V = r.vcov.to_numpy()
    assert s.fixed_correlation.iloc[1, 0] == pytest.approx(V[1, 0] / np.sqrt(V[0, 0] * V[1, 1]))
    # the random-effects table: variances, SDs and the correlation of the block
    re = s.random_effects
    assert list(re["groups"]) == ["school", "", "Residual"]
    assert re["corr"].iloc[1][0] == pytest.approx(r.varcorr.corr.iloc[1, 0])
    assert "Linear mixed model fit by maximum likelihood" in str(s)
    # scaled residuals are quantiles of the conditional residuals over sigma
    q = np.quantile(r.residuals(1) / r.sigma, [0, 0.5, 1])
    np.testing.assert_allclose(s.scaled_residuals[["Min", "Median", "Max"]], q)


def test_summary_names_a_singular_fit():
    # Box and Tiao's Dyestuff2: the between-batch variance is estimated at 0 (lme4 too)
    d = pd.read_csv(GOLDEN / "data" / "dyestuff2.csv")
    r = lmm.fit("Yield ~ 1 + (1 | Batch)", d)
    text = str(r.summary())
    assert r.singular and "boundary (singular) fit: variance of Intercept estimated at 0" in text


# ------------------------------------------------------------------- broom
def test_tidy_fixed_is_coef_with_effect(hs):
    r = lmm.fit("mathach ~ ses + (1 | school)", hs)
    t = r.tidy("fixed")
    assert list(t.columns) == ["effect", "group", "level", "term", "estimate", "std_error",
                               "statistic", "df", "p_value", "conf_low", "conf_high"]
    pd.testing.assert_frame_equal(t[r.coef.columns].reset_index(drop=True), r.coef,
                                  check_dtype=False)
    assert set(t["effect"]) == {"fixed"}
    # other confidence levels: t quantiles with the Satterthwaite df
    t90 = r.tidy("fixed", conf_level=0.90)
    half = scipy.stats.t.ppf(0.95, t90["df"]) * t90["std_error"]
    np.testing.assert_allclose(t90["conf_high"] - t90["estimate"], half)


def test_tidy_ran_pars_and_ran_vals(pastes, pastes_golden):
    _, r = pastes
    t = r.tidy(("ran_pars", "ran_vals"))
    pars = t[t["effect"] == "ran_pars"]
    assert list(pars["group"]) == ["cask:batch", "batch", "Residual"]
    assert list(pars["term"]) == ["sd__Intercept", "sd__Intercept", "sd__Observation"]
    np.testing.assert_allclose(pars["estimate"], pastes_golden["varcorr_table"]["sdcor"], rtol=1e-5)
    vals = t[t["effect"] == "ran_vals"]
    assert len(vals) == 40 and set(vals["group"]) == {"cask:batch", "batch"}
    rg = pastes_golden["ranef"]["batch"]
    b = vals[vals["group"] == "batch"].set_index("level")
    np.testing.assert_allclose(b.loc[rg["levels"], "estimate"], rg["blup"]["Intercept"], atol=1e-5)
    np.testing.assert_allclose(b.loc[rg["levels"], "std_error"], rg["cond_sd"]["Intercept"], atol=1e-5)


def test_glance_has_broom_names_and_keeps_old_ones(pastes, hs):
    _, r = pastes
    gl = r.glance().iloc[0]
    for col in ("nobs", "sigma", "loglik", "aic", "bic", "reml_crit", "df_residual", "df_resid",
                "npar", "singular", "converged", "warnings", "ngroups"):
        assert col in gl.index
    assert gl["df_residual"] == gl["df_resid"] == 59
    assert gl["ngroups"] == "cask:batch: 30, batch: 10"
    one = lmm.fit("mathach ~ 1 + (1 | school)", hs).glance().iloc[0]
    assert one["ngroups"] == 40 and pd.isna(one["deviance"])


def test_augment_adds_fitted_residual_fixed(pastes):
    d, r = pastes
    a = r.augment()
    assert list(a.columns) == ["strength", "batch", "cask", ".fitted", ".resid", ".fixed"]
    np.testing.assert_allclose(a[".fitted"] + a[".resid"], d["strength"])
    np.testing.assert_allclose(a[".fixed"], r.fixef["Intercept"])
    np.testing.assert_allclose(a[".fitted"], r.fitted(1))
    # on given rows: the same as predict
    b = r.augment(d.head(5))
    np.testing.assert_allclose(b[".fitted"], r.predict(d.head(5)))


# ------------------------------------------------------------ several factors
def test_fitted_at_each_level_adds_up(pastes):
    d, r = pastes
    f0, f1 = r.fitted(0), r.fitted(1)
    fb, fc = r.fitted("batch"), r.fitted("cask:batch")
    np.testing.assert_allclose(r.fitted(["batch", "cask:batch"]), f1, rtol=1e-13)
    np.testing.assert_allclose((fb - f0) + (fc - f0) + f0, f1, rtol=1e-12)
    # the batch part is each row's batch BLUP
    blup = r.ranef_wide("batch")["Intercept"]
    np.testing.assert_allclose(fb - f0, blup.loc[d["batch"]].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(r.residuals("batch"), d["strength"] - fb)
    with pytest.raises(ValueError, match="no grouping factor 'cask'"):
        r.fitted("cask")


def test_predict_new_levels_per_factor(pastes):
    d, r = pastes
    new = d.head(4).copy()
    new["cask"] = ["z", "z", "a", "a"]  # casks z of batch A is new; a of A is known
    with pytest.raises(ValueError, match=r"group\(s\) of 'cask:batch' not in the fit.*z:A"):
        r.predict(new)
    p = r.predict(new, allow_new_levels=True)
    known = r.predict(d.head(4))
    # a new cask gets zero cask effects but keeps its batch effect
    np.testing.assert_allclose(p.iloc[:2], r.predict(new.iloc[:2], "batch"), rtol=1e-12)
    np.testing.assert_allclose(p.iloc[2:], known.iloc[:2], rtol=1e-12)
    # the batch level alone needs no cask
    np.testing.assert_allclose(r.predict(new, "batch"), r.predict(d.head(4), "batch"))


def test_ranef_and_coef_per_factor(pastes):
    _, r = pastes
    assert list(r.ranef.columns) == ["grpvar", "group", "term", "estimate", "cond_sd"]
    assert r.ranef["grpvar"].tolist()[:1] == ["cask:batch"]
    with pytest.raises(ValueError, match="several grouping factors"):
        r.ranef_wide()
    cb = r.coef_by_group("batch")
    np.testing.assert_allclose(cb["Intercept"], r.fixef["Intercept"] + r.ranef_wide("batch")["Intercept"])
    assert isinstance(r.varcorr.G.index, pd.MultiIndex)
    assert r.varcorr.G.loc[("batch", "Intercept"), ("cask:batch", "Intercept")] == 0.0
    with pytest.raises(ValueError, match="one grouping factor"):
        _ = r.blue


def test_lrt_of_a_nested_factor_uses_the_boundary_mixture(pastes):
    d, r = pastes
    small = lmm.fit("strength ~ 1 + (1 | batch)", d)
    t = lmm.lrt(small, r).iloc[0]
    assert t["df"] == 1
    assert t["statistic"] == pytest.approx(2 * (r.loglik - small.loglik))
    assert t["p_value_boundary"] == pytest.approx(0.5 * scipy.stats.chi2.sf(t["statistic"], 1))
    assert "Intercept (cask:batch)" in t["note"]
    other = lmm.fit("strength ~ 1 + (1 | cask)", d.assign(cask=d["cask"]))
    with pytest.raises(ValueError, match="different grouping factors"):
        lmm.lrt(other, r)


def test_singular_term_is_named():
    """Crossed a x b data whose b means are all equal: b's variance is estimated at 0."""
    rng = np.random.default_rng(11)
    d = pd.DataFrame({"a": np.repeat(np.arange(20), 6).astype(str),
                      "b": np.tile(np.arange(6), 20).astype(str)})
    d["y"] = rng.normal(size=20).repeat(6) + rng.normal(size=120)
    d["y"] = d["y"] - d.groupby("b")["y"].transform("mean") + 10.0  # every b level has mean 10
    r = lmm.fit("y ~ 1 + (1 | a) + (1 | b)", d)
    assert r.singular and r.converged
    st = r.singular_terms().set_index("group")
    assert bool(st.loc["b", "singular"]) and not bool(st.loc["a", "singular"])
    assert any("variance of Intercept (b) estimated at 0" in w for w in r.warnings)
    assert r.varcorr.sd.loc[("b", "Intercept")] == 0.0


def test_icc_per_level_of_a_nested_model(pastes, pastes_golden):
    _, r = pastes
    t = r.icc_table().set_index("group")
    tau_b = r.varcorr.G.loc[("batch", "Intercept"), ("batch", "Intercept")]
    tau_c = r.varcorr.G.loc[("cask:batch", "Intercept"), ("cask:batch", "Intercept")]
    total = tau_b + tau_c + r.sigma2
    assert t.loc["batch", "icc"] == pytest.approx(tau_b / total)
    assert t.loc["cask:batch", "icc"] == pytest.approx((tau_b + tau_c) / total)
    assert r.icc("batch") == pytest.approx(tau_b / total)
    assert r.design_effect(group="cask:batch") == pytest.approx(1 + (2 - 1) * (tau_b + tau_c) / total)
    with pytest.raises(ValueError, match="name one with group="):
        r.icc()
