"""Every handout number of the seven-methods comparison, from a real pipeline run.

Expected values are the ones printed in the source handout "Hierarchical
Models to Mixed Models" (High School and Beyond, `hs`), checked to their
printed precision; the mixed methods are checked against lme4/lmerTest
golden files (tests/golden/lme4) made by tests/golden/make_golden.R.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlmcompare.estimation.lines import line_cov, wald_f
from mlmcompare.report.tidy import read_table

from ..conftest import GOLDEN


def printed(value: float, expected: float, decimals: int) -> None:
    """`value` rounds to the printed `expected` at the printed number of decimals."""
    assert abs(value - expected) <= 0.5 * 10.0 ** (-decimals) + 1e-12, (value, expected)


def coef(results, method):
    return read_table(results / "methods" / method / "coef.parquet").set_index("term")


def lines(results, method):
    return read_table(results / "methods" / method / "sector_lines.parquet").set_index("line")


def fit(results, method):
    return read_table(results / "methods" / method / "fit.parquet").iloc[0]


def test_pooled_ols(hs_results):
    c = coef(hs_results, "pooled_ols")
    for term, est, se in [
        ("Intercept", 13.557903, 0.1881304),
        ("ses", 2.299887, 0.2581693),
        ("Sector[T.Public]", -1.466604, 0.2920915),
        ("ses:Sector[T.Public]", 1.605059, 0.3845103),
    ]:
        printed(c.at[term, "estimate"], est, 6)
        printed(c.at[term, "std_error"], se, 7)
    printed(fit(hs_results, "pooled_ols")["sigma"], 6.344365, 6)
    assert fit(hs_results, "pooled_ols")["df_resid"] == 1973


def test_fe_school_lines(hs_results):
    d = lines(hs_results, "fe_school_lines").loc["Public - Catholic"]
    printed(d["intercept"], -2.027255, 6)
    printed(np.sqrt(d["var_intercept"]), 0.3519921, 7)
    printed(d["slope"], 1.109995, 6)
    printed(np.sqrt(d["var_slope"]), 0.4541139, 7)
    assert d["df_intercept"] == d["df_slope"] == 1897
    # The joint Wald test of the sector difference in (intercept, slope).
    printed(wald_f(np.array([d["intercept"], d["slope"]]), line_cov(d)), 21.03533, 5)


def test_fe_common_slope(hs_results):
    d = lines(hs_results, "fe_common_slope").loc["Public - Catholic"]
    printed(d["slope"], 1.204719, 6)
    printed(np.sqrt(d["var_slope"]), 0.436134, 6)
    assert d["df_slope"] == 1935
    c = coef(hs_results, "fe_common_slope")
    printed(c.at["ses:Sector[T.Public]", "statistic"], 2.762267, 6)


def test_two_stage(hs_results):
    c = coef(hs_results, "two_stage")
    printed(c.at["ses", "estimate"], 1.6672, 4)
    printed(c.at["ses", "std_error"], 0.3506, 4)
    printed(c.at["ses:Sector[T.Public]", "estimate"], 1.1100, 4)
    printed(c.at["ses:Sector[T.Public]", "std_error"], 0.5086, 4)
    printed(c.at["ses:Sector[T.Public]", "p_value"], 0.0353, 4)
    printed(c.at["Intercept", "estimate"], 13.3405, 4)
    printed(c.at["Intercept", "std_error"], 0.5850, 4)
    printed(c.at["Sector[T.Public]", "estimate"], -2.0273, 4)
    printed(c.at["Sector[T.Public]", "std_error"], 0.8488, 4)
    assert (c["df"] == 38).all()  # J - 2
    assert list(fit(hs_results, "two_stage")["warnings"]) == []  # no school left out on hs


def test_between(hs_results):
    c = coef(hs_results, "between")
    eco = c[c["model"].str.startswith("mathach ~ ses (")]
    printed(eco.at["Intercept", "estimate"], 12.792628, 6)
    printed(eco.at["Intercept", "std_error"], 0.2897566, 7)
    printed(eco.at["ses", "estimate"], 5.773398, 6)
    printed(eco.at["ses", "std_error"], 0.6983514, 7)
    lns = lines(hs_results, "between")
    assert set(lns.index) == {"Catholic", "Public", "Public - Catholic"}
    assert (lns["df_slope"] == 36).all()


def golden(name: str) -> dict:
    return json.loads((GOLDEN / "lme4" / name).read_text())


@pytest.mark.parametrize("method, golden_file", [("mixed", "hs__slopes__reml.json"), ("mixed_contextual", "hs__contextual__reml.json")])
def test_mixed_lines_match_lmertest(hs_results, method, golden_file):
    """Sector lines of the mixed methods equal lmerTest's contrasts (estimate, SE, Satterthwaite df)."""
    g = {c["name"]: c for c in golden(golden_file)["contrasts"]}
    lns = lines(hs_results, method)
    for line, prefix in [("Catholic", "catholic"), ("Public", "public"), ("Public - Catholic", "diff")]:
        for part in ("intercept", "slope"):
            want = g[f"{prefix}_{part}"]
            row = lns.loc[line]
            assert row[part] == pytest.approx(want["estimate"], rel=1e-6)
            assert np.sqrt(row[f"var_{part}"]) == pytest.approx(want["std_error"], rel=1e-5)
            assert row[f"df_{part}"] == pytest.approx(want["df"], rel=1e-3)
    f = fit(hs_results, method)
    assert f["loglik"] == pytest.approx(golden(golden_file)["loglik"], abs=1e-6)
    assert bool(f["singular"]) == bool(golden(golden_file)["singular"])


def test_every_method_has_the_three_tables_with_joinable_terms(hs_results):
    methods = ["pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "between", "mixed", "mixed_contextual"]
    stacked = pd.concat([read_table(hs_results / "methods" / m / "sector_lines.parquet") for m in methods])
    assert len(stacked) == 3 * len(methods)
    for m in ["pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "mixed"]:
        assert {"Intercept", "ses", "Sector[T.Public]", "ses:Sector[T.Public]"} <= set(coef(hs_results, m).index)
