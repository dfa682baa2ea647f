"""The designs handout's tables: every published number they reproduce.

The tables of each part are computed in-process by the step the workflow
runs (`mlmcompare.steps.design_part`) from the committed config; each number
the sources print is checked to its printed precision
(|ours - published| <= 0.5 * 10^-decimals) or the stated tolerance.
"""

from __future__ import annotations


import pytest

from mlmcompare.report.tidy import read_table

from ..conftest import ROOT, validated_config



def close(ours: float, published: str, tol: float | None = None) -> bool:
    """|ours - published| within half a unit of the last printed digit (or tol)."""
    if tol is None:
        decimals = len(published.split(".")[1]) if "." in published else 0
        tol = 0.5 * 10.0 ** (-decimals) * (1 + 1e-9)
    return abs(float(ours) - float(published)) <= tol


@pytest.fixture(scope="session")
def table(tmp_path_factory):
    """Read a table 'part/name' of the designs handout, every part computed once."""
    from mlmcompare.analyses import DESIGN_PARTS
    from mlmcompare.steps import Job, design_part

    config = validated_config()
    folder = tmp_path_factory.mktemp("designs")
    for part, (_, section) in DESIGN_PARTS.items():
        design_part(Job("design_part", input={"csv": ROOT / config["designs"][section]["file"]},
                        output={"tables": folder / part}, params={"designs": config["designs"]}, wildcards={"part": part}))

    def get(key: str):
        return read_table(folder / f"{key}.parquet")

    return get


# ------------------------------------------------------------------ outputs
# ------------------------------------------------------------------ part 1
@pytest.mark.parametrize(
    "column, published, tol",
    [
        ("gamma00", "538.979", None),
        ("sd_within", "70.666", None),
        ("sd_between", "72.298", 0.002),
        ("loglik", "-3436.7", None),
        ("aic", "6879.4", None),
        ("bic", "6892.6", None),
        ("naive_var", "5393", None),
        ("error_var_mean", "166.5", None),
        ("reliability_mean", "0.97", None),
        ("icc", "0.51", None),
    ],
)
def test_oneway_summary(table, column, published, tol):
    assert close(table("oneway/summary").iloc[0][column], published, tol)


def test_oneway_coefficient(table):
    c = table("oneway/coef").iloc[0]
    assert close(c["estimate"], "538.979")
    assert close(c["std_error"], "16.422", 0.002)
    assert close(c["statistic"], "32.821", 0.002)
    assert close(c["df"], "19")


def test_oneway_moment_estimate(table):
    s = table("oneway/summary").iloc[0]
    # the lecture's 5226.5 = 5393 - 166.5 subtracts rounded numbers: from
    # unrounded inputs it is the REML estimate (balanced design), 5226.84
    assert close(s["moment_tau00"], "5226.5", 0.5)
    assert s["moment_tau00"] == pytest.approx(s["tau00"], rel=1e-8)
    assert len(table("oneway/groups")) == 20


# ------------------------------------------------------------------ part 2
def test_rm_twoway_layout(table):
    a = table("rmanova/anova_twoway").set_index("term")
    assert close(a.loc["store", "sumsq"], "0.5859")
    assert close(a.loc["store", "meansq"], "0.19529")
    assert close(a.loc["Residuals", "meansq"], "0.04495")
    assert close(a.loc["item", "sumsq"], "115.19")
    assert close(a.loc["item", "statistic"], "284.722")
    assert close(a.loc["store", "statistic"], "4.344209")
    assert (a.loc["store", "df"], a.loc["Residuals", "df"]) == (3, 27)
    assert close(a.loc["store", "p_value"], "0.01273035")


def test_rm_strata_layout(table):
    s = table("rmanova/anova_strata")
    item = s[s["stratum"] == "item"].iloc[0]
    assert close(item["sumsq"], "115.2") and close(item["meansq"], "12.8")
    within = s[(s["stratum"] == "item:store")].set_index("term")
    assert close(within.loc["store", "sumsq"], "0.5859")
    assert close(within.loc["Residuals", "sumsq"], "1.2137")
    assert close(within.loc["Residuals", "meansq"], "0.04495")
    assert close(within.loc["store", "p_value"], "0.0127")


def test_rm_multivariate_table(table):
    mv = table("rmanova/anova_mv").set_index("term")
    assert close(mv.loc["(Intercept)", "sumsq"], "240.688")
    assert close(mv.loc["(Intercept)", "error_sumsq"], "115.193")
    assert close(mv.loc["(Intercept)", "statistic"], "18.8049")
    assert close(mv.loc["(Intercept)", "p_value"], "0.001887")
    assert close(mv.loc["store", "statistic"], "4.3442")
    assert close(mv.loc["store", "p_value"], "0.012730")


def test_rm_moment_estimates(table):
    e = table("rmanova/ems").set_index("source")
    assert close(e.loc["Residuals", "estimate"], "0.04495")
    # (MSS - MSE) / a = (12.79920 - 0.04495) / 4
    assert e.loc["item", "estimate"] == pytest.approx((115.19284 / 9 - 1.21374 / 27) / 4, rel=1e-10)


def test_rm_sphericity_corrections(table):
    eps = table("rmanova/epsilon").set_index("correction")
    assert close(eps.loc["Greenhouse-Geisser", "epsilon"], "0.6391090")
    assert close(eps.loc["Greenhouse-Geisser", "p_value"], "0.0309308")
    assert close(eps.loc["Huynh-Feldt", "epsilon"], "0.8082292")
    assert close(eps.loc["Huynh-Feldt", "p_value"], "0.02033859")
    m = table("rmanova/sphericity").iloc[0]
    assert 0 < m["W"] < 1 and 0 < m["p_value"] < 1


def test_rm_mixed_model_lrt(table):
    f = table("rmanova/mixed_fits")
    lrt = table("rmanova/mixed_lrt").iloc[0]
    assert close(lrt["statistic"], "11.816") and lrt["df"] == 3
    assert close(lrt["p_value"], "0.008042")
    for col, (null, full) in {"aic": ("59.546", "53.731"), "bic": ("64.613", "63.864"),
                              "loglik": ("-26.773", "-20.865")}.items():
        assert close(f[col].iloc[0], null), col
        assert close(f[col].iloc[1], full), col


def test_rm_manova_and_multcomp(table):
    mn = table("rmanova/manova").set_index("test")
    assert mn.loc["Pillai", "value"] == pytest.approx(0.647458310823489, abs=1e-10)  # car::Anova
    mc = table("multcomp/multcomp")
    assert set(mc["method"]) == {"unadjusted", "Bonferroni", "Holm", "Tukey", "Scheffe"}
    assert (mc["df"] == 27).all()
    assert (table("multcomp/paired")["df"] == 9).all()


def test_gls_outputs(table):
    fits = table("gls/fits")
    assert len(fits) == 12 and fits["converged"].all()
    cs = fits[(fits["structure"] == "compound_symmetry") & (fits["method"] == "ML")].iloc[0]
    assert close(cs["loglik"], "-20.865")  # = the random-intercept mixed model
    lrt = table("gls/lrt")
    assert (lrt["reference"].str.startswith("chi-bar")).sum() == 2
    cov = table("gls/covariance")
    assert len(cov) == 6 * 2 * 16


# ------------------------------------------------------------------ part 3
def test_components_outputs(table):
    fits = table("components/fits")
    assert set(fits["model"]) == {"null", "intercept", "diagonal", "block", "unstructured"}
    assert fits["converged"].all()
    lrt = table("components/lrt")
    key = lrt[(lrt["method"] == "ML") & (lrt["small"] == "diagonal") & (lrt["big"] == "unstructured")].iloc[0]
    # the notes' 8.4417 (p 0.03771) is on TIMSS 1997; on hsfull the statistic differs (see handout)
    assert key["df"] == 3 and key["statistic"] > 0
    G = table("components/G")
    assert set(G["row"]) == {"Intercept", "ses_cwg", "female_cwg"}


def test_workflow_runs_every_designs_part_with_its_section():
    """common.smk's DESIGN_SECTIONS (the rules' parts) is the package's DESIGN_PARTS."""
    import ast
    import re

    from mlmcompare.analyses import DESIGN_PARTS

    text = (ROOT / "workflow" / "rules" / "common.smk").read_text()  # Snakemake syntax: not a Python module
    found = re.findall(r"^DESIGN_SECTIONS = (\{.*?\})$", text, flags=re.M | re.S)
    assert [ast.literal_eval(f) for f in found] == [{part: section for part, (_, section) in DESIGN_PARTS.items()}]
