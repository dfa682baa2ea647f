"""What the engine refuses, and that each refusal says what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm

DATA = Path(__file__).parents[2] / "data"


@pytest.mark.parametrize(
    "formula, pattern",
    [
        ("mathach ~ ses + (1 | school + Sector)", "grouping expression 'school \\+ Sector'"),
        ("mathach ~ ses + (1 | school * Sector)", "grouping expression"),
        ("mathach ~ ses + (1 | log(school))", "plain column name, an interaction"),
        ("mathach ~ ses", "no random term"),
        ("mathach ~ ses + (1 | school):ses", "parenthesised group"),
        ("mathach ~ ses - (1 | school)", "cannot subtract a random term"),
        ("mathach ses + (1 | school)", "exactly one '~'"),
        ("log(mathach) ~ ses + (1 | school)", "plain column name"),
        ("mathach ~ ses + (1 + Sector | school)", "factor column 'Sector'.*not supported"),
        ("mathach ~ 0 + (1 | school)", "no fixed effects"),
        ("mathach ~ ses + (1 | school) + (1 | school)", "appears in more than one random term"),
    ],
)
def test_unsupported_formulas(hs, formula, pattern):
    with pytest.raises(ValueError, match=pattern):
        lmm.fit(formula, hs)


@pytest.mark.parametrize(
    "formula, name",
    [
        ("mathach ~ sesx + (1 | school)", "sesx"),
        ("mathach ~ ses + (1 + foo | school)", "foo"),
        ("mathach ~ ses + (1 | schoolid)", "schoolid"),
        ("score ~ ses + (1 | school)", "score"),
    ],
)
def test_unknown_column_is_named(hs, formula, name):
    with pytest.raises(ValueError, match=f"unknown column '{name}'"):
        lmm.fit(formula, hs)


def test_missing_values_counted_by_column(hs):
    d = hs.copy()
    d.loc[[3, 10, 11], "ses"] = np.nan
    with pytest.raises(ValueError, match=r"column 'ses' has 3 missing value\(s\) \(rows 3, 10, 11\)"):
        lmm.fit("mathach ~ ses + (1 | school)", d)
    d = hs.copy()
    d.loc[5, "school"] = np.nan
    with pytest.raises(ValueError, match="column 'school' has 1 missing"):
        lmm.fit("mathach ~ ses + (1 | school)", d)


def test_response_numeric_and_finite(hs):
    d = hs.copy()
    d["mathach"] = d["mathach"].astype(float)
    d.loc[[7, 8], "mathach"] = np.inf
    with pytest.raises(ValueError, match=r"response 'mathach' has 2 non-finite value\(s\).*rows 7, 8"):
        lmm.fit("mathach ~ ses + (1 | school)", d)
    with pytest.raises(ValueError, match="response 'Sex' is not numeric"):
        lmm.fit("Sex ~ ses + (1 | school)", hs)


def test_grouping_needs_two_levels(hs):
    d = hs.copy()
    d["one"] = 1
    with pytest.raises(ValueError, match="grouping factor 'one' has 1 level"):
        lmm.fit("mathach ~ ses + (1 | one)", d)
    d["row"] = np.arange(len(d))
    with pytest.raises(ValueError, match="levels must be smaller than the number of observations"):
        lmm.fit("mathach ~ ses + (1 | row)", d)


def test_more_random_effects_than_rows_refused(hs):
    d = hs.groupby("school").head(2).copy()  # 2 rows per school, 3 random terms
    d["x"] = np.random.default_rng(1).standard_normal(len(d))
    with pytest.raises(ValueError, match="number of random effects"):
        lmm.fit("mathach ~ ses + (1 + ses + x | school)", d)


def test_rank_deficient_fixed_part_names_aliased_terms(hs):
    d = hs.copy()
    d["ses2"] = 2.0 * d["ses"] + 1.0
    with pytest.raises(ValueError, match=r"rank deficient.*'ses2'.*aliased"):
        lmm.fit("mathach ~ ses + ses2 + (1 | school)", d)
    # Sector is constant within school: an indicator that duplicates it is aliased
    d["public"] = (d["Sector"] == "Public").astype(float)
    with pytest.raises(ValueError, match=r"term\(s\) '(public|Sector\[T.Public\])' are aliased"):
        lmm.fit("mathach ~ Sector + public + (1 | school)", d)
    d["zero"] = 0.0
    with pytest.raises(ValueError, match="'zero' are all zero"):
        lmm.fit("mathach ~ ses + zero + (1 | school)", d)


def test_groups_of_one_row_are_fine(hs):
    d = hs.copy()
    extra = pd.DataFrame({"school": [1, 2, 3], "mathach": [10.0, 12.0, 14.0], "ses": [0.1, -0.2, 0.3],
                          "Sector": pd.Categorical(["Public"] * 3, categories=["Catholic", "Public"])})
    d = pd.concat([d, extra], ignore_index=True)
    r = lmm.fit("mathach ~ ses + (1 + ses | school)", d)
    assert r.ngroups == 43 and r.converged
    assert set(r.blue_not_estimable) == {1, 2, 3}
    blue = r.blue.set_index(["group", "term"])
    assert np.isnan(blue.loc[(1, "ses"), "estimate"])
