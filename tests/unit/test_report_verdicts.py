"""The summary of methods agrees with the study: a reasoned verdict that the
study's measurement contradicts is rewritten, with the measurement beside it,
in the full table and the at-a-glance table alike."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlmcompare.report.comparison import METHOD_VERDICTS, summary_table
from mlmcompare.report.study import DataNotes, design_for, judge, judged_verdicts, population_sentence, study_findings

METHODS = ["pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "between", "mixed", "mixed_contextual"]
LABELS = {m: m.replace("_", " ") for m in METHODS}
N = 200


def row(scenario, method, coverage=0.95, bias=0.0, se_ratio=1.0, rel=1.0, contextual=False, baseline="", re="normal", het=0.0,
        J=40, singular=0):
    mc = np.sqrt(coverage * (1 - coverage) / N)
    return {"scenario": scenario, "n_groups": J, "mean_size": 49.4, "contextual": contextual, "random_effects": re,
            "heteroscedasticity": het, "baseline": baseline, "method": method, "truth": 1.17, "n_replicates": N,
            "n_estimates": N, "n_failed": 0, "n_flagged": singular, "n_singular": singular, "estimate_mean": 1.17 + bias,
            "bias": bias, "bias_mc_se": 0.037, "emp_sd": 0.53, "rmse": 0.53, "mean_std_error": 0.53 * se_ratio,
            "se_ratio": se_ratio, "coverage": coverage, "coverage_mc_se": mc, "rel_efficiency": rel}


def summary(**changes) -> pd.DataFrame:
    """A study summary of the four scenarios the handout reads; `changes` maps
    (scenario, method) to the values that differ from an honest, unbiased,
    efficient method."""
    rows = []
    for scenario, extra in (("J_none", {}), ("J_ctx", {"contextual": True}), ("J_t3", {"baseline": "J_none", "re": "t3"}),
                            ("J_hetero", {"baseline": "J_none", "het": 1.0})):
        for m in METHODS:
            rows.append(row(scenario, m, **{**extra, **changes.get(f"{scenario}:{m}", {})}))
    return pd.DataFrame(rows)


def verdict(s, method, criterion, notes=DataNotes()):
    return judge(method, criterion, s, design_for(s, 40, 49.4), notes)


def test_a_fixed_effects_interval_that_covers_is_not_called_dishonest_but_the_intercept_gap_keeps_the_verdict():
    s = summary(**{"J_none:fe_school_lines": {"coverage": 0.93, "se_ratio": 0.84}})
    short, reason, measured = verdict(s, "fe_school_lines", "honest", DataNotes(fe_intercept_se_ratio=0.41))
    assert short == "Nearly, for the slope gap"
    assert "0.41 times the two-stage one, so for the intercept gap it is not honest" in reason
    assert measured.startswith("coverage 93.0%")


def test_under_coverage_bears_out_dishonesty_and_contradicts_honesty():
    s = summary(**{"J_none:pooled_ols": {"coverage": 0.80}, "J_none:two_stage": {"coverage": 0.85}})
    assert verdict(s, "pooled_ols", "honest")[0] == METHOD_VERDICTS["pooled_ols"]["honest"][0] == "No"
    assert verdict(s, "two_stage", "honest")[0] == "No, here"


def test_conservative_coverage_is_not_called_borne_out():
    # 98% on 200 replicates with reported SEs 15% too large: honest, but conservatively
    s = summary(**{"J_none:mixed": {"coverage": 0.98, "se_ratio": 1.15}, "J_none:between": {"coverage": 0.995}})
    assert verdict(s, "mixed", "honest")[0] == "Yes, conservatively"
    assert verdict(s, "between", "honest")[0] == "Yes, conservatively"
    assert verdict(summary(), "mixed", "honest")[0] == "Yes"


def test_the_two_equal_weight_estimators_get_one_efficiency_verdict():
    """Fixed-effects school lines and two-stage are the same estimate: their
    reasoned verdicts agree, and a measurement moves both alike."""
    assert METHOD_VERDICTS["fe_school_lines"]["efficient"][0] == METHOD_VERDICTS["two_stage"]["efficient"][0] == "No"
    s = summary(**{f"J_none:{m}": {"rel": 0.97} for m in ("fe_school_lines", "two_stage")})
    assert verdict(s, "fe_school_lines", "efficient")[0] == verdict(s, "two_stage", "efficient")[0] == "About as efficient here"
    s = summary(**{f"J_none:{m}": {"rel": 0.91} for m in ("fe_school_lines", "two_stage")})
    assert verdict(s, "fe_school_lines", "efficient")[0] == verdict(s, "two_stage", "efficient")[0] == "No"


def test_equal_efficiencies_get_equal_words_and_the_mixed_model_is_the_reference():
    """0.97 and 0.96 both read 'about as efficient', whatever the reasoned
    verdict (fixed-effects common slopes 'Yes, if ...', contextual 'Nearly')."""
    s = summary(**{"J_none:fe_common_slope": {"rel": 0.97}, "J_none:mixed_contextual": {"rel": 0.96}})
    assert verdict(s, "fe_common_slope", "efficient")[0] == verdict(s, "mixed_contextual", "efficient")[0] == "About as efficient here"
    s = summary(**{"J_none:fe_common_slope": {"rel": 0.85}})
    assert verdict(s, "fe_common_slope", "efficient")[0] == "Less than the mixed model here"
    assert "by definition" in verdict(summary(), "mixed", "efficient")[2]


def test_robustness_changes_within_monte_carlo_error_are_said_to_be_noise():
    # 200 replicates: Monte Carlo error of a change in coverage sqrt(2) * 2 * sqrt(.95 * .05 / 200) = 4.36 points
    s = summary(**{"J_t3:fe_common_slope": {"coverage": 0.915}, "J_t3:fe_school_lines": {"coverage": 0.91}})
    short, reason, measured = verdict(s, "fe_common_slope", "robust")
    assert short == "No" and "no more than Monte Carlo error" in reason
    assert "(two Monte Carlo SEs of a change: ±4.4 points)" in measured
    compact = judged_verdicts(s, METHODS, LABELS, design_for(s, 40, 49.4), compact=True).set_index("Method")
    assert compact.at[LABELS["fe_common_slope"], "Robust?"].endswith("Monte Carlo error ±4.4)")
    assert compact.at[LABELS["mixed"], "Efficient?"] == "**Yes** (the reference)"
    assert verdict(s, "fe_school_lines", "robust")[0] == "Yes, for the estimate"


def test_bias_with_a_contextual_effect_decides_consistency():
    s = summary(**{"J_ctx:mixed": {"bias": 0.03}, "J_ctx:two_stage": {"bias": 0.3}})
    assert verdict(s, "mixed", "consistent")[0] == "Nearly, for the gap"
    assert verdict(s, "two_stage", "consistent")[0] == "Not here"
    s = summary(**{"J_ctx:mixed": {"bias": 0.2}})
    assert verdict(s, "mixed", "consistent")[0] == "Only without a contextual effect"


def test_losing_coverage_under_a_variant_contradicts_robustness():
    s = summary(**{"J_hetero:two_stage": {"coverage": 0.85}})
    short, reason, measured = verdict(s, "two_stage", "robust")
    assert short == "Not here" and "heteroscedastic errors" in reason
    assert "-10 points with heteroscedastic errors" in measured


def test_a_singular_fit_qualifies_the_honesty_verdict_everywhere():
    notes = DataNotes(problems={"mixed": "is singular"})
    s = summary()
    assert verdict(s, "mixed", "honest", notes)[0] == "Yes, in principle"
    assert "boundary estimate" in verdict(s, "mixed", "honest", notes)[1]
    table = summary_table(METHODS, LABELS, {"mixed": "is singular"})
    assert table.loc[table["Method"] == "mixed †", "Honest?"].iloc[0].startswith("**Yes, in principle**")


def test_full_and_compact_tables_say_the_same_verdicts():
    s = summary(**{"J_none:fe_school_lines": {"coverage": 0.93}, "J_ctx:mixed": {"bias": 0.03}, "J_none:between": {"coverage": 0.995}})
    d = design_for(s, 40, 49.4)
    full = judged_verdicts(s, METHODS, LABELS, d).set_index("Method")
    compact = judged_verdicts(s, METHODS, LABELS, d, compact=True).set_index("Method")
    for col in full.columns:
        for m in full.index:
            short = full.at[m, col].split("**")[1]
            assert compact.at[m, col].startswith(f"**{short}**"), (m, col)


def test_findings_say_which_data_the_population_comes_from():
    params = {"levels": ["Catholic", "Public"], "G": [[2.0, 0.0], [0.0, 0.4]], "share_reference": 0.44, "x_mean": [0.1, -0.2],
              "x_between_sd": 0.4, "x_within_sd": [0.6, 0.65], "within_slope": 1.7, "within_gap": 1.2, "sigma": 6.1,
              "between_slope": 4.1, "between_gap": 2.4}
    own = population_sentence(params, "hs", True, 40, 49.4)
    other = population_sentence(params, "hsfull", False, 40, 49.4)
    assert "fitted to these data (*hs*)" in own
    assert "the data set *hsfull*, not this handout's data" in other
    findings = study_findings(summary(**{"J_none:mixed": {"singular": 49}}), LABELS, design_for(summary(), 40, 49.4))
    assert any("49 of 200 fits to simulated data were singular" in f for f in findings)
