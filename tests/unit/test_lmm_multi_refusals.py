"""Bad input for fits with several grouping factors, and bad values for any fit.

Each refusal is a ValueError that names what is wrong and where: the term
(lme4's checkNlevels, checkNobsRE), the column and rows (missing or infinite
values), the response (constant, lme4's checkResponse; an exact fit, where
sigma would go to 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm


@pytest.fixture(scope="module")
def nested() -> pd.DataFrame:
    """60 rows: 10 batches x 3 casks x 2 samples (lme4's Pastes design), a noisy response."""
    rng = np.random.default_rng(3)
    d = pd.DataFrame({"batch": np.repeat(list("ABCDEFGHIJ"), 6),
                      "cask": np.tile(list("aabbcc"), 10),
                      "x": rng.normal(size=60)})
    d["y"] = 60 + rng.normal(size=10).repeat(6) + rng.normal(size=30).repeat(2) + rng.normal(size=60)
    return d


def test_factor_with_one_level_is_named(nested):
    d = nested.assign(one="k")
    with pytest.raises(ValueError, match="grouping factor 'one' has 1 level"):
        lmm.fit("y ~ x + (1 | batch) + (1 | one)", d)


def test_factor_with_a_level_per_row_is_named(nested):
    d = nested.assign(row=np.arange(len(nested)))
    with pytest.raises(ValueError, match="grouping factor 'row' has 60 levels for 60 rows"):
        lmm.fit("y ~ x + (1 | batch) + (1 | row)", d)
    # an interaction can reach one level per row too: lme4's c:(b:a) case
    d = nested.assign(rep=np.tile([0, 1], 30))
    with pytest.raises(ValueError, match=r"grouping factor 'rep:\(cask:batch\)' has 60 levels"):
        lmm.fit("y ~ x + (1 | batch/cask/rep)", d)


def test_more_random_effects_than_rows_is_named(nested):
    # cask:batch has 30 levels; 30 x 2 = 60 random effects for 60 rows
    with pytest.raises(ValueError, match=r"number of random effects of grouping factor "
                                         r"'cask:batch' \(60 = 30 groups x 2 terms\)"):
        lmm.fit("y ~ x + (1 | batch) + (1 + x | cask:batch)", nested)


def test_missing_values_in_a_grouping_column_are_named(nested):
    d = nested.copy()
    d.loc[[4, 7], "cask"] = None
    with pytest.raises(ValueError, match=r"column 'cask' has 2 missing value\(s\) \(rows 4, 7\)"):
        lmm.fit("y ~ x + (1 | batch/cask)", d)
    d = nested.copy()
    d.loc[9, "batch"] = np.nan
    with pytest.raises(ValueError, match=r"column 'batch' has 1 missing value\(s\) \(rows 9\)"):
        lmm.fit("y ~ x + (1 | batch) + (1 | cask)", d)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | batch)", "y ~ 1 + (1 + x | batch)",
                                     "y ~ x * cask + (1 | batch) + (1 | cask:batch)"])
def test_infinite_predictor_is_named_before_any_product(nested, formula):
    d = nested.copy()
    d.loc[[3, 10], "x"] = [np.inf, -np.inf]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        with pytest.raises(ValueError) as err:
            lmm.fit(formula, d)
    msg = str(err.value)
    assert "column 'x' has 2 infinite value(s) (inf, -inf) in rows 3, 10" in msg
    assert "np.float64" not in msg


def test_infinite_transformed_column_is_named(nested):
    d = nested.assign(z=np.abs(nested["x"]))
    d.loc[5, "z"] = 0.0
    with pytest.raises(ValueError, match=r"column 'np.log\(z\)' is -inf in rows 5"):
        lmm.fit("y ~ np.log(z) + (1 | batch)", d)


def test_constant_response_is_refused_by_name(nested, tmp_path):
    d = nested.assign(y=2.5)
    with pytest.raises(ValueError, match=r"response 'y' is constant \(every row is 2.5\)"):
        lmm.fit("y ~ x + (1 | batch/cask)", d)
    with pytest.raises(ValueError, match=r"response 'y' is constant"):
        lmm.fit("y ~ x + (1 | batch)", d)
    path = tmp_path / "constant.parquet"
    d.to_parquet(path)
    with pytest.raises(ValueError, match=r"response 'y' is constant \(every row is 2.5\)"):
        lmm.fit("y ~ x + (1 | batch)", path)


def test_exact_linear_response_is_refused(nested):
    d = nested.assign(y=2.0 + 3.0 * nested["x"])
    for formula in ("y ~ x + (1 | batch)", "y ~ x + (1 | batch/cask)"):
        with pytest.raises(ValueError, match="'y' is an exact linear function of the fixed "
                                             r"effects \(Intercept, x\)"):
            lmm.fit(formula, d)


def test_response_reproduced_by_random_effects_is_refused(nested):
    # y constant within casks: the random effects fit it exactly, sigma -> 0
    codes = pd.factorize(nested["batch"] + nested["cask"])[0]
    d = nested.assign(y=np.random.default_rng(1).normal(size=30)[codes])
    with pytest.raises(ValueError, match="residual variance is 0 at the optimum"):
        lmm.fit("y ~ 1 + (1 | batch) + (1 | cask:batch)", d)


@pytest.mark.parametrize("group, pattern", [
    ("batch + cask", "grouping expression 'batch \\+ cask'"),
    ("batch * cask", "grouping expression 'batch \\* cask'"),
    ("factor(batch)", "plain column name, an interaction"),
])
def test_unsupported_grouping_expressions(nested, group, pattern):
    with pytest.raises(ValueError, match=pattern):
        lmm.fit(f"y ~ x + (1 | {group})", nested)


def test_unknown_grouping_column_is_named(nested):
    with pytest.raises(ValueError, match="unknown column 'barrel'"):
        lmm.fit("y ~ x + (1 | batch/barrel)", nested)
