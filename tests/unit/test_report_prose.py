"""The handout's words and digits: every count and comparative word is a
function of numbers (report.prose), every number goes through one digits
policy (report.format), and a formula's `|` survives a table in pandoc (the
reader Quarto uses too)."""

from __future__ import annotations

import pandas as pd
import pytest

from mlmcompare.report import prose
from mlmcompare.report.format import df_text, markdown_table, num, p_clause, pval, signed, value_range
from mlmcompare.report.tidy import sha256_file

from ..conftest import DATA


# ------------------------------------------------------------------ digits
@pytest.mark.parametrize("value, text", [
    (2.29988, "2.300"),        # the lecture's 2.2999, to 4 significant digits
    (0.3845103, "0.3845"),
    (13.557903, "13.56"),
    (1936.0, "1936"),          # an integer never prints as 1936.0
    (12345.6, "12346"),        # the integer part is never rounded away
    (-1.466604, "-1.467"),
    (0.0, "0"),
    (float("nan"), "—"),
])
def test_num_gives_four_significant_digits(value, text):
    assert num(value) == text


@pytest.mark.parametrize("df, text", [(1936.0, "1936"), (38, "38"), (158.537157, "158.5"), (1397.96, "1398"), (float("inf"), "∞")])
def test_df_text_integers_stay_integers(df, text):
    assert df_text(df) == text


@pytest.mark.parametrize("p, text, clause", [
    (0.0353, "0.035", "p = 0.035"),
    (3.12e-05, "< 0.0001", "p < 0.0001"),   # never "p = <0.0001"
    (0.5, "0.50", "p = 0.50"),
])
def test_p_values(p, text, clause):
    assert pval(p) == text
    assert p_clause(p) == clause


def test_ranges_and_signs_have_no_exponents():
    assert value_range(215.0, 2713.0) == "215 to 2713"  # not "215 to 2.71e+03"
    assert signed(0.0123) == "+0.0123" and signed(-0.232) == "-0.232"


# ------------------------------------------------------------------ tables
def pandoc_html(markdown: str) -> str:
    import pypandoc

    return pypandoc.convert_text(markdown, "html", format="markdown")


def test_a_formula_pipe_prints_as_a_pipe_in_a_table():
    """pandoc (and so Quarto) keeps a bare `|` inside a code span in a pipe-table
    cell; an escaped one would print as a backslash and a bar."""
    table = markdown_table(pd.DataFrame({"Model": ["random"], "Formula": ["`y ~ x + (1 + x | g)`"], "Note": ["a|b"]}))
    html = pandoc_html(table)
    assert "<code>y ~ x + (1 + x | g)</code>" in html
    assert "\\|" not in html
    assert "a|b</td>" in html  # outside code the escape is read, not printed


def test_empty_columns_are_left_out():
    frame = pd.DataFrame({"a": ["1", "2"], "note": ["", ""], "boundary p": ["—", "—"]})
    assert markdown_table(frame).splitlines()[0] == "| a |"


# ------------------------------------------------------------------- prose
def test_bundled_data_are_recognised_by_content_not_name(tmp_path):
    assert prose.bundled_dataset(sha256_file(DATA / "hs.csv")) == "hs"
    assert prose.bundled_dataset(sha256_file(DATA / "hsfull.csv")) == "hsfull"
    renamed = tmp_path / "hs.csv"
    renamed.write_text((DATA / "hs.csv").read_text().replace("12.862", "12.863"))
    assert prose.bundled_dataset(sha256_file(renamed)) is None


def test_lecture_count_note_only_for_the_lecture_data():
    hs_counts = {"Catholic": 21, "Public": 19}
    note = prose.lecture_count_note("hs", hs_counts)
    assert "21 Public and 19 Catholic" in note and "21 Catholic, 19 Public" in note
    assert prose.lecture_count_note("hsfull", {"Catholic": 70, "Public": 90}) is None
    assert prose.lecture_count_note(None, {"North": 30, "South": 45}) is None


def test_sample_sentence_counts():
    text = prose.sample_sentence("clinics", "clinics.csv", 3283, 75, {"North": 30, "South": 45}, 14, 66, 0,
                                 "score", "income", "clinic", "Region", "North")
    assert "3,283 students in 75 schools (30 North, 45 South), with 14 to 66 students per school" in text
    assert "No row was dropped" in text
    one = prose.sample_sentence("d", "d.csv", 10, 2, {"A": 1, "B": 1}, 5, 5, 1, "y", "x", "g", "F", "A")
    assert "with 5 students per school" in one and "1 row with a missing y or x was dropped" in one


def test_pooled_gap_is_compared_with_the_within_gaps_it_is_given():
    # hsfull (lecture and handout): pooled 1.105 against 1.303, 1.349, 1.346 is smaller, not larger
    within = {"school lines": 1.303, "common slopes": 1.349, "contextual": 1.346}
    assert "smaller than all the within-school estimates" in prose.pooled_against_within(1.105, within)
    # hs: pooled 1.605 against 1.110, 1.205, 1.172
    assert "larger than all the within-school" in prose.pooled_against_within(1.605, {"a": 1.110, "b": 1.205, "c": 1.172})
    assert "within the range of" in prose.pooled_against_within(1.2, {"a": 1.1, "b": 1.3})


def test_times_and_relative_words():
    assert prose.times(5.773398, 2.223185) == "2.6 times"     # hs: between over within
    assert prose.times(1.0, 1.02) == "about the same as"
    assert prose.relative_word(9.09, 8.04) == "larger than"
    assert prose.relative_word(7.0, 8.04) == "smaller than"


def test_same_centre_is_checked_not_assumed():
    assert "have the same centre (1.110)" in prose.same_centre_sentence(1.109995, 1.109995)
    assert "differ here" in prose.same_centre_sentence(1.10, 1.25)


def test_fit_problems_in_words():
    assert prose.fit_problem(True, False) is None
    singular = prose.fit_problem(True, True, ["boundary (singular) fit"], correlation=1.0)
    assert singular == "is singular: the estimated correlation of the random intercepts and slopes is +1"
    assert prose.fit_problem(False, True).startswith("did not converge and is singular")
    flag = prose.fit_flag("Mixed model †", singular, 0.2156, 1397.96, "Mixed model with contextual variable")
    assert "SE 0.2156 on 1398 df" in flag and "The mixed model with contextual variable, which is not singular" in flag


def test_fit_notes_keep_the_data_apart_from_the_study():
    clean = prose.fit_notes({"Mixed model": None}, "The singular fits counted in the findings above are fits to the study's simulated data, not to these.")
    assert "Every model fitted to these data converged, and none is singular." in clean
    assert "interior optimum" not in clean
    assert "the fit is singular" in prose.fit_notes({"Mixed model": "is singular"})


def test_paradox_sentences_follow_the_signs():
    same = prose.effects_sentence(2.223, 5.773, 3.155)     # hs
    assert "lies between them" in same and "2.6 times the within effect" in same and "Robinson's paradox occurs" not in same
    robinson = prose.effects_sentence(1.0, -2.0, 0.5)
    assert "Robinson's paradox occurs" in robinson
    simpson = prose.effects_sentence(1.0, -5.0, -0.5)
    assert "Simpson's paradox occurs" in simpson
    assert "2.6 times too large" in prose.ecological_fallacy_sentence(2.223, 5.773)
    assert "reverse the sign" in prose.ecological_fallacy_sentence(1.0, -1.0)


def test_hausman_sentences():
    assert "more than chance allows" in prose.hausman_sentence(13.65, 2, 0.0011)
    assert "no clear evidence" in prose.hausman_sentence(1.2, 2, 0.55)


def test_fit_flags_name_the_troubled_fit_and_the_one_to_read():
    """hsfull: ses * Sector + (1 + ses | school) is singular (correlation +1), the contextual model is not."""
    fits = pd.DataFrame({"method": ["mixed", "mixed_contextual"], "converged": [True, True], "singular": [True, False],
                         "warnings": [["boundary (singular) fit: Intercept-ses correlation at +1"], []]})
    varcorr = pd.DataFrame({"grp": ["school", "school", "school", "Residual"], "var1": ["Intercept", "ses", "Intercept", None],
                            "var2": [None, None, "ses", None], "vcov": [3.82, 0.0759, 0.538, 36.79], "sdcor": [1.955, 0.2754, 1.0, 6.065]})
    problems = prose.fit_problems(fits, varcorr)
    assert problems["mixed_contextual"] is None and "correlation of the random intercepts and slopes is +1" in problems["mixed"]
    lines = pd.DataFrame({"method": ["mixed", "mixed_contextual"], "kind": ["difference"] * 2,
                          "var_slope": [0.2156 ** 2, 0.2347 ** 2], "df_slope": [1397.96, 153.1]})
    labels = {"mixed": "Mixed model", "mixed_contextual": "Mixed model with contextual variable"}
    (flag,) = prose.fit_flags(lines, problems, labels)
    assert flag.startswith("**Mixed model †: read with care.**")
    assert "(the slope gap's SE 0.2156 on 1398 df)" in flag
    assert flag.endswith("The mixed model with contextual variable, which is not singular, is the one to read.")
