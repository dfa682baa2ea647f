"""The study's pieces on their own: the DGP, seeds, CR2 against clubSandwich,
the summary against a direct computation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from ..conftest import HSB_SPEC
from mlmcompare.methods import fit_method
from mlmcompare.methods.schools import interaction_terms, school_stats
from mlmcompare.estimation.robust import cr2_fit
from mlmcompare.study.cr2 import pooled_ols_cr2_slope_gap
from mlmcompare.study.dgp import MIN_GROUPS, DgpParameters, Scenario, random_effects, replicate_rng, simulate, simulation_spec, x_moments
from mlmcompare.study.run import chunk_rows
from mlmcompare.study.summarise import gather_chunks, summarise

# The values the pipeline derives from hsfull's contextual mixed model (study/params.json).
PARAMS = DgpParameters.from_dict({
    "levels": ["Catholic", "Public"], "share_reference": 0.4375, "intercept": 13.461395646313596,
    "intercept_gap": -1.2718691752531968, "within_slope": 1.4410119173691736, "within_gap": 1.346268867996769,
    "between_slope": 4.654539145945741, "between_gap": 1.1224950743337094,
    "G": [[2.345526498326842, 0.1955288754626696], [0.1955288754626696, 0.27035610699485424]],
    "sigma": 6.0588959573773735, "x_mean": [0.16007335163719996, -0.13550383039549516],
    "x_between_sd": 0.3881803034587509, "x_within_sd": [0.6289171533476884, 0.7041603398838961],
})
SPEC = simulation_spec(HSB_SPEC, PARAMS)
TINY = Scenario("tiny", n_groups=10, mean_size=12, contextual=True)


def test_params_round_trip():
    assert DgpParameters.from_dict(PARAMS.to_dict()) == PARAMS


def test_simulated_data_fit_every_method():
    data = simulate(PARAMS, TINY, replicate_rng(1, 0), SPEC)
    assert data[SPEC.group].nunique() == 10
    assert data.groupby(SPEC.group).size().min() >= 5
    assert list(data[SPEC.level2_factor].cat.categories) == ["Catholic", "Public"]
    np.testing.assert_allclose(data.groupby(SPEC.group)[SPEC.dvar].sum(), 0.0, atol=1e-10)
    for m in ["pooled_ols", "mixed_contextual"]:
        lines = fit_method(m, data, SPEC).sector_lines
        assert np.isfinite(lines["slope"]).all()


def test_replicate_does_not_depend_on_chunking():
    methods = ["pooled_ols", "mixed", "pooled_ols_cr2"]
    whole = chunk_rows(PARAMS, TINY, 7, range(0, 3), SPEC, methods)
    parts = pd.concat([chunk_rows(PARAMS, TINY, 7, [2], SPEC, methods), chunk_rows(PARAMS, TINY, 7, range(0, 2), SPEC, methods)])
    pd.testing.assert_frame_equal(gather_chunks([whole]), gather_chunks([parts]))
    other_seed = chunk_rows(PARAMS, TINY, 8, range(0, 3), SPEC, methods)
    assert not np.allclose(whole["estimate"], other_seed["estimate"])


def test_t3_random_effects_have_covariance_G():
    big = Scenario("t", n_groups=400_000, mean_size=30, contextual=False, random_effects="t3")
    u = random_effects(PARAMS, big, np.random.default_rng(3))
    # heavy tails: the sample covariance converges slowly; 10% is plenty to catch a wrong scale
    np.testing.assert_allclose(np.cov(u.T), np.asarray(PARAMS.G), rtol=0.1, atol=0.02)
    kurt = np.mean(u[:, 0] ** 4) / np.mean(u[:, 0] ** 2) ** 2
    assert kurt > 5  # normal: 3


def test_heteroscedastic_errors_keep_mean_variance():
    sc = Scenario("h", n_groups=2000, mean_size=30, contextual=False, heteroscedasticity=1.0)
    base = Scenario("b", n_groups=2000, mean_size=30, contextual=False)
    d1 = simulate(PARAMS, sc, replicate_rng(5, 0), SPEC)
    d0 = simulate(PARAMS, base, replicate_rng(5, 0), SPEC)
    e = (d1[SPEC.response] - d0[SPEC.response]).to_numpy()
    # same draws apart from the error scale: d1 - d0 = e0 (m - 1); the multiplier m has mean ~1
    mu, v = x_moments(PARAMS)
    mult = np.exp(0.5 * ((d1[SPEC.predictor] - mu) - v / 2.0))
    assert abs(np.mean(mult**2) - 1.0) < 0.05
    assert np.std(e) > 1.0


def test_cr2_matches_clubsandwich():
    """Golden values from R: clubSandwich::coef_test(lm(mathach ~ ses * Sector), vcov = "CR2",
    cluster = school, test = "Satterthwaite") on this simulated data set."""
    data = simulate(PARAMS, Scenario("x", 12, 8, True), replicate_rng(1, 0), SPEC)
    stats = school_stats(data, SPEC)
    X, terms = stats.interaction_rows([SPEC.predictor]), interaction_terms([SPEC.predictor], stats.levels, SPEC.level2_factor)
    fit = cr2_fit(X, data[SPEC.response].to_numpy(), pd.factorize(data[SPEC.group])[0])
    golden = {  # estimate, SE, Satterthwaite df
        "Intercept": (12.83639553454, 1.48118030416, 3.02493756263),
        "ses": (2.57448175145, 2.49199105995, 3.08088446820),
        "Sector[T.Public]": (-1.96159117946, 1.72674650497, 7.32342975949),
        "ses:Sector[T.Public]": (1.02064915963, 2.62617056328, 6.68755605356),
    }
    for i, t in enumerate(terms):
        np.testing.assert_allclose(fit.contrast(np.eye(len(terms))[i]), golden[t], rtol=1e-9)
    est, se, df = pooled_ols_cr2_slope_gap(stats)  # from the per-school moments, not the rows
    ols = fit_method("pooled_ols", data, SPEC).sector_lines
    assert est == pytest.approx(ols.loc[ols["kind"] == "difference", "slope"].iloc[0], rel=1e-10)
    assert (se, df) == pytest.approx(golden["ses:Sector[T.Public]"][1:], rel=1e-9)


def test_summary_against_direct_computation():
    rng = np.random.default_rng(0)
    R = 50
    rows = []
    for m, shift, se in [("mixed", 0.0, 1.0), ("other", 0.5, 0.5)]:
        est = 1.0 + shift + rng.standard_normal(R) * (1.0 if m == "mixed" else 2.0)
        rows.append(pd.DataFrame({
            "scenario": "s", "replicate": np.arange(R), "method": m, "truth": 1.0, "estimate": est,
            "std_error": se, "df": 10.0, "conf_low": est - 1.96 * se, "conf_high": est + 1.96 * se,
            "converged": True, "singular": False, "n_warnings": 0, "warnings": "", "error": "",
        }))
    reps = pd.concat(rows, ignore_index=True)
    reps.loc[3, ["estimate", "std_error", "conf_low", "conf_high"]] = np.nan
    reps.loc[3, "error"] = "LinAlgError: boom"
    reps.loc[4, "n_warnings"] = 1
    out = summarise(reps, {"s": Scenario("s", 10, 12, False)}).set_index("method")
    ok = reps[(reps["method"] == "mixed") & (reps["error"] == "")]
    assert out.at["mixed", "n_failed"] == 1 and out.at["mixed", "n_flagged"] == 1
    assert out.at["mixed", "bias"] == pytest.approx(ok["estimate"].mean() - 1.0)
    assert out.at["mixed", "emp_sd"] == pytest.approx(ok["estimate"].std())
    cov = ((ok["conf_low"] <= 1.0) & (ok["conf_high"] >= 1.0)).mean()
    assert out.at["mixed", "coverage"] == pytest.approx(cov)
    assert out.at["mixed", "coverage_mc_se"] == pytest.approx(np.sqrt(cov * (1 - cov) / len(ok)))
    oth = reps[reps["method"] == "other"]["estimate"]
    assert out.at["other", "rel_efficiency"] == pytest.approx(ok["estimate"].var() / oth.var())
    assert out.at["other", "rmse"] == pytest.approx(np.sqrt(np.mean((oth - 1.0) ** 2)))
    assert out.at["other", "se_ratio"] == pytest.approx(0.5 / oth.std())


def test_relative_scenarios_scale_the_source_design():
    """`groups` and `size` multiply the source data's number of schools and
    mean school size; absolute designs stay as given."""
    params = replace(PARAMS, n_groups=160, mean_size=44.90625)
    half = Scenario.from_config({"name": "half", "groups": 0.5, "size": 0.3333, "contextual": False}, params)
    assert (half.n_groups, half.mean_size) == (80, 15.0)
    fixed = Scenario.from_config({"name": "fixed", "n_groups": 20, "mean_size": 30, "contextual": True}, params)
    assert (fixed.n_groups, fixed.mean_size, fixed.contextual) == (20, 30.0, True)
    tiny = Scenario.from_config({"name": "tiny", "groups": 0.01, "size": 1, "contextual": False}, params)
    assert tiny.n_groups == MIN_GROUPS
