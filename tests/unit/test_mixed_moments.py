"""The mixed models from per-school moments against the engine's pass over the rows.

`methods.mixed` builds the engine's sufficient statistics from each school's
n, means and sums of squares and products (`lmm.sufficient_stats_from_moments`);
the independent computation is the engine's own one-pass accumulation over
the model matrices of the rows (`lmm.sufficient_stats`, as `stats_from_rows`
builds them, and `lmm.fit` from the formula). The statistics must agree to
rounding, the fits to the optimizer's precision: loglik to 1e-9, estimates,
standard errors and Satterthwaite df to 1e-8 (relative).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm
from mlmcompare.data import add_contextual
from mlmcompare.methods import fit_method
from mlmcompare.methods.mixed import stats_from_moments, stats_from_rows
from mlmcompare.methods.schools import interaction_terms, school_stats
from mlmcompare.study.dgp import DgpParameters, Scenario, replicate_rng, simulate, simulation_spec

from ..conftest import DATA, HSB_SPEC

PARAMS = DgpParameters.from_dict({
    "levels": ["Catholic", "Public"], "share_reference": 0.4375, "intercept": 13.46, "intercept_gap": -1.27,
    "within_slope": 1.44, "within_gap": 1.35, "between_slope": 4.65, "between_gap": 1.12,
    "G": [[2.35, 0.2], [0.2, 0.27]], "sigma": 6.06, "x_mean": [0.16, -0.14], "x_between_sd": 0.39,
    "x_within_sd": [0.63, 0.70],
})
# the study's kinds of design: few and many schools, small and large schools, departures
SCENARIOS = [
    Scenario("few", 20, 50, False),
    Scenario("small", 40, 16.5, True),
    Scenario("large", 40, 150, True),
    Scenario("many", 160, 50, False),
    Scenario("t3", 40, 50, False, random_effects="t3"),
    Scenario("hetero", 40, 50, False, heteroscedasticity=1.0),
]
MODELS = {"mixed": lambda s: ([s.predictor], s.predictor), "mixed_contextual": lambda s: ([s.dvar, s.cvar], s.dvar)}


def hsfull() -> pd.DataFrame:
    """data/hsfull.csv with the contextual columns as the pipeline adds them."""
    d = pd.read_csv(DATA / "hsfull.csv")
    d["Sector"] = pd.Categorical(d["Sector"], categories=["Catholic", "Public"])
    return add_contextual(d, HSB_SPEC)


def both_fits(stats, fixed, random):
    """(moments fit, rows fit) with their statistics."""
    terms = interaction_terms(fixed, stats.levels, stats.spec.level2_factor)
    out = []
    for suff in (stats_from_moments(stats, fixed, random), stats_from_rows(stats, fixed, random, terms)):
        assert suff is not None
        out.append((suff, lmm.fit_from_stats(suff, fixed_terms=terms, random_terms=["Intercept", random])))
    return out


def assert_same_fit(a: lmm.LmmResult, b: lmm.LmmResult) -> None:
    assert a.loglik == pytest.approx(b.loglik, rel=1e-9)
    W = np.eye(len(a.fixed_terms))
    (va, dfa), (vb, dfb) = a.contrast_variance_df(W), b.contrast_variance_df(W)
    scale = np.sqrt(vb)  # an estimate near 0 is compared on the scale of its standard error
    np.testing.assert_allclose(a.fixef_array, b.fixef_array, rtol=1e-8, atol=1e-8 * scale.min())
    np.testing.assert_allclose(np.sqrt(va), np.sqrt(vb), rtol=1e-8)
    np.testing.assert_allclose(dfa, dfb, rtol=1e-8)
    np.testing.assert_allclose(a.theta, b.theta, rtol=1e-6, atol=1e-8)
    assert (a.singular, a.converged, a.warnings) == (b.singular, b.converged, b.warnings)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_statistics_from_moments_equal_the_pass_over_the_rows(scenario):
    spec = simulation_spec(HSB_SPEC, PARAMS)
    for replicate in range(3):
        stats = school_stats(simulate(PARAMS, scenario, replicate_rng(11, replicate), spec), spec)
        for model in MODELS.values():
            (m, fm), (r, fr) = both_fits(stats, *model(spec))
            assert m.intercept_col == r.intercept_col == 0 and m.nobs == r.nobs
            np.testing.assert_allclose(m.x_shift, r.x_shift, rtol=1e-12, atol=1e-14)
            assert m.y_shift == pytest.approx(r.y_shift, rel=1e-12)
            np.testing.assert_array_equal(m.n_j, r.n_j)
            size = np.sqrt(np.einsum("jii->i", r.ZtZ).max())  # the scale of the per-school sums
            for name in ("ZtZ", "ZtX", "Zty", "zsum_j", "ysum_j", "yty_j", "XtX", "Xty", "yty"):
                np.testing.assert_allclose(getattr(m, name), getattr(r, name), rtol=1e-10,
                                           atol=1e-10 * size * np.sqrt(r.yty), err_msg=name)
            assert_same_fit(fm, fr)


@pytest.mark.parametrize("dataset", ["hs", "hsfull"])
def test_pipeline_mixed_methods_equal_the_formula_fit(dataset, hs):
    data = hs if dataset == "hs" else hsfull()
    formulas = {"mixed": "mathach ~ ses * Sector + (1 + ses | school)",
                "mixed_contextual": "mathach ~ (ses_cwg + ses_mean) * Sector + (1 + ses_cwg | school)"}
    stats = school_stats(data, HSB_SPEC)
    for method, formula in formulas.items():
        assert stats_from_moments(stats, *MODELS[method](HSB_SPEC)) is not None  # the moments serve
        ref = lmm.fit(formula, data)
        res = fit_method(method, data, HSB_SPEC)
        np.testing.assert_allclose(res.coef["estimate"], ref.coef["estimate"], rtol=1e-8)
        np.testing.assert_allclose(res.coef["std_error"], ref.coef["std_error"], rtol=1e-8)
        np.testing.assert_allclose(res.coef["df"], ref.coef["df"], rtol=1e-8)
        assert res.fit.iloc[0]["loglik"] == pytest.approx(ref.loglik, rel=1e-9)


def test_contextual_columns_that_are_not_the_school_means_are_read_from_the_rows(hs):
    # a school mean of another population: the moments cannot give it, the rows do
    data = hs.assign(ses_mean=hs["ses_mean"] + 0.01 * (hs["school"] % 3), ses_cwg=hs["ses_cwg"])
    stats = school_stats(data, HSB_SPEC)
    assert stats_from_moments(stats, *MODELS["mixed_contextual"](HSB_SPEC)) is None
    assert stats_from_moments(stats, *MODELS["mixed"](HSB_SPEC)) is not None
    ref = lmm.fit("mathach ~ (ses_cwg + ses_mean) * Sector + (1 + ses_cwg | school)", data)
    res = fit_method("mixed_contextual", data, HSB_SPEC)
    np.testing.assert_allclose(res.coef["estimate"], ref.coef["estimate"], rtol=1e-8)
    assert res.fit.iloc[0]["loglik"] == pytest.approx(ref.loglik, rel=1e-9)


def test_a_model_the_moments_do_not_show_estimable_is_refused_from_the_rows(hs):
    # every school has the same mean ses: ses_mean is aliased with the intercept
    data = hs.assign(ses=hs["ses_cwg"], ses_mean=0.0)
    stats = school_stats(data, HSB_SPEC)
    assert stats_from_moments(stats, *MODELS["mixed_contextual"](HSB_SPEC)) is None
    with pytest.raises(ValueError, match="rank deficient.*'ses_mean'"):
        fit_method("mixed_contextual", data, HSB_SPEC)


def test_moments_of_a_constant_column_give_the_intercepts_statistics():
    # one school of rows t = 1, 2, 3 (tbar 2, stt 2), y = 1, 3, 2: X = [1, t], Z = [1]
    s = lmm.sufficient_stats_from_moments(
        np.array(["a"]), n=[3], stt=[2.0], sty=[1.0], syy=[2.0], y_mean=[2.0],
        X0=[[1.0, 2.0]], X1=[[0.0, 1.0]], Z0=[[1.0]], Z1=[[0.0]])
    X = np.array([[1.0, 1], [1, 2], [1, 3]])
    y = np.array([1.0, 3, 2])
    r = lmm.sufficient_stats(X, X[:, :1], y, np.zeros(3, dtype=int), levels=np.array(["a"]))
    for name in ("ZtZ", "ZtX", "Zty", "zsum_j", "ysum_j", "yty_j", "XtX", "Xty", "yty", "x_shift", "y_shift"):
        np.testing.assert_allclose(getattr(s, name), getattr(r, name), atol=1e-15, err_msg=name)


def test_contextual_check_reads_both_columns(hs):
    stats = school_stats(hs.assign(ses_cwg=pd.Series(np.nan, index=hs.index)), HSB_SPEC)
    assert stats.along_predictor(HSB_SPEC.dvar) is None and stats.along_predictor(HSB_SPEC.cvar) is None
    with pytest.raises(ValueError, match="ses_cwg"):
        fit_method("mixed_contextual", hs.assign(ses_cwg=np.nan), HSB_SPEC)
