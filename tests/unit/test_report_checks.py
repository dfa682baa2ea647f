"""The checking appendix: the numbers the lectures print beside the handout's,
for the bundled data sets only."""

from __future__ import annotations

import pandas as pd

from mlmcompare.report.format import agrees
from mlmcompare.report.tables import LECTURE_PRINTS, lecture_checks, joint_tests_display, variables_display
from mlmcompare.report.tidy import read_table

from ..conftest import table


def inputs(results):
    def stacked(kind):
        return pd.concat([read_table(p) for p in sorted((results / "methods").glob(f"*/{kind}.parquet"))], ignore_index=True)

    names = {n for entry in sum(LECTURE_PRINTS.values(), []) for n in entry[2][1:2]} | {"tests"}
    tables = {}
    for name in names:
        try:
            tables[name] = table(results, name)
        except LookupError:
            pass
    return stacked("sector_lines"), stacked("coef"), stacked("fit"), tables


def test_every_number_the_main_lecture_prints_is_reproduced_but_nlmes_interval_bounds(hs_results):
    """nlme's intervals() prints (2.214072, 3.633338) for the SD of the school
    means; this engine's Wald interval on the log scale gives (2.213875,
    3.633661): the fourth digit, and the note says why."""
    checks = lecture_checks("hs", *inputs(hs_results))
    assert len(checks) == len(LECTURE_PRINTS["hs"])
    off = checks[checks["Agrees to the printed digits"] == "no"]
    assert list(off["Lecture prints"]) == ["2.214072", "3.633338"]
    assert [round(float(v), 4) for v in off["This handout"]] == [2.2139, 3.6337]
    assert off["Why not"].str.contains("Hessian").all() and (checks.loc[checks.index.difference(off.index), "Why not"] == "").all()


def test_the_sector_gap_lecture_differs_only_in_its_satterthwaite_df_and_a_cut_variance(hsfull_results):
    """158.53713 and 153.50058 are lme4's stopping point; at the REML optimum
    (lmerTest, and this engine) they are 158.53716 and 153.50060."""
    checks = lecture_checks("hsfull", *inputs(hsfull_results)).set_index("Quantity")
    assert len(checks) == len(LECTURE_PRINTS["hsfull"])
    off = checks[checks["Agrees to the printed digits"] == "no"]
    assert list(off["Lecture prints"]) == ["158.53713", "153.50058", "39.14"]
    assert [round(float(v), 5) for v in off["This handout"]] == [158.53716, 153.5006, 39.14832]
    assert off["Why not"].str.contains("stopping rule").tolist() == [True, True, False]
    assert "39.15" in off.at["Null model: residual variance", "Why not"]  # the lecture cut, not rounded


def test_no_lecture_numbers_for_other_data(hs_results):
    assert lecture_checks(None, *inputs(hs_results)).empty


def test_agrees_rounds_to_the_printed_digits():
    assert agrees(21.0353303, "21.03533") and agrees(-6489.96931, "-6489.969")
    assert not agrees(158.537157, "158.53713")


def test_one_manova_row_for_a_one_df_hypothesis(hs_results):
    shown = joint_tests_display(table(hs_results, "tests"), "Sector")
    assert list(shown["Method"]) == ["Fixed effects, school lines", "Two-stage"]  # no intercept rows
    assert shown["df"].tolist() == ["2, 1897", "2, 37"]
    assert shown["F"].iloc[0] == "21.04"


def test_variable_ranges_in_plain_numbers(hs_results):
    shown = variables_display(table(hs_results, "variables")).set_index("Variable")
    assert shown.at["`Size`", "Levels or range"] == "215 to 2713"
    assert shown.at["`Sector`", "Levels or range"] == "Catholic, Public"
