"""The methods computed from per-school statistics against plain row-level computations.

Each method now works from per-school moments (`methods.schools`); here the
same numbers are computed independently from the rows with numpy's least
squares (no statsmodels, no formula reader), or by the engine's own formula
path for the mixed models, and must agree to rounding.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm
from mlmcompare.methods import METHODS, estimate_method, fit_method
from mlmcompare.methods.common import per_group_ols
from mlmcompare.methods.schools import school_stats
from mlmcompare.spec import ModelSpec

from ..conftest import HSB_SPEC
from mlmcompare.estimation.robust import cr2_fit
from mlmcompare.study.cr2 import pooled_ols_cr2_slope_gap
from mlmcompare.study.dgp import DgpParameters, Scenario, replicate_rng, simulate, simulation_spec
from mlmcompare.study.run import CR2_METHOD, slope_gap

RTOL = 1e-10
PARAMS = DgpParameters.from_dict({
    "levels": ["Catholic", "Public"], "share_reference": 0.4375, "intercept": 13.46, "intercept_gap": -1.27,
    "within_slope": 1.44, "within_gap": 1.35, "between_slope": 4.65, "between_gap": 1.12,
    "G": [[2.35, 0.2], [0.2, 0.27]], "sigma": 6.06, "x_mean": [0.16, -0.14], "x_between_sd": 0.39,
    "x_within_sd": [0.63, 0.70],
})


def lstsq(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, int]:
    """Row-level OLS: coefficients, their covariance, residual sum of squares, df."""
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    rss = float(np.sum((y - X @ beta) ** 2))
    df = X.shape[0] - X.shape[1]
    return beta, rss / df * np.linalg.inv(X.T @ X), rss, df


def rows_xy(data: pd.DataFrame, spec: ModelSpec = HSB_SPEC) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """x, y, 0/1 indicator of the non-reference level, school codes."""
    x = data[spec.predictor].to_numpy(float)
    y = data[spec.response].to_numpy(float)
    d = (data[spec.level2_factor].cat.codes.to_numpy() == 1).astype(float)
    return x, y, d, pd.factorize(data[spec.group], sort=True)[0]


def line(result, name: str) -> pd.Series:
    return result.sector_lines.set_index("line").loc[name]


@pytest.fixture(scope="module")
def hs3(hs) -> tuple[pd.DataFrame, ModelSpec]:
    """hs with Public schools split in two by school id: a three-level factor."""
    sector = np.where((hs["Sector"] == "Public") & (hs["school"] % 2 == 1), "Other", hs["Sector"].astype(str))
    spec = ModelSpec(**{**HSB_SPEC.__dict__, "factor_levels": {"Sector": ("Catholic", "Other", "Public")}})
    return hs.assign(Sector=pd.Categorical(sector, categories=["Catholic", "Other", "Public"])), spec


def test_pooled_ols_is_row_level_least_squares(hs):
    x, y, d, _ = rows_xy(hs)
    beta, V, rss, df = lstsq(np.column_stack([np.ones_like(x), x, d, x * d]), y)
    res = fit_method("pooled_ols", hs, HSB_SPEC)
    coef = res.coef.set_index("term")
    np.testing.assert_allclose(coef["estimate"], beta, rtol=RTOL)
    np.testing.assert_allclose(coef["std_error"], np.sqrt(np.diag(V)), rtol=RTOL)
    assert (coef["df"] == df).all()
    n = len(y)
    fit = res.fit.iloc[0]
    assert fit["sigma"] == pytest.approx(np.sqrt(rss / df), rel=RTOL)
    assert fit["loglik"] == pytest.approx(-0.5 * n * (np.log(2 * np.pi * rss / n) + 1), rel=RTOL)
    public = line(res, "Public")
    assert (public["intercept"], public["slope"]) == pytest.approx((beta[0] + beta[2], beta[1] + beta[3]), rel=RTOL)
    assert public["var_slope"] == pytest.approx(V[1, 1] + V[3, 3] + 2 * V[1, 3], rel=RTOL)


def test_pooled_ols_with_three_levels(hs3):
    data, spec = hs3
    x, y, _, _ = rows_xy(data, spec)
    code = data["Sector"].cat.codes.to_numpy()
    d1, d2 = (code == 1).astype(float), (code == 2).astype(float)
    beta, V, _, _ = lstsq(np.column_stack([np.ones_like(x), x, d1, d2, x * d1, x * d2]), y)
    coef = fit_method("pooled_ols", data, spec).coef
    assert list(coef["term"]) == ["Intercept", "ses", "Sector[T.Other]", "Sector[T.Public]", "ses:Sector[T.Other]", "ses:Sector[T.Public]"]
    np.testing.assert_allclose(coef["estimate"], beta, rtol=RTOL)
    np.testing.assert_allclose(coef["std_error"], np.sqrt(np.diag(V)), rtol=RTOL)


def test_fe_common_slope_is_least_squares_with_school_dummies(hs3):
    data, spec = hs3
    x, y, _, school = rows_xy(data, spec)
    code = data["Sector"].cat.codes.to_numpy()
    J = school.max() + 1
    dummies = np.eye(J)[school]
    X = np.column_stack([dummies, x, x * (code == 1), x * (code == 2)])
    beta, V, rss, df = lstsq(X, y)
    school_level = pd.Series(code).groupby(school).first().to_numpy()
    res = fit_method("fe_common_slope", data, spec)
    for k, name in enumerate(["Catholic", "Other", "Public"]):
        a = np.r_[(school_level == k) / (school_level == k).sum(), 0.0, 0.0, 0.0]
        b = np.r_[np.zeros(J), 1.0, k == 1, k == 2]
        got = line(res, name)
        assert (got["intercept"], got["slope"]) == pytest.approx((a @ beta, b @ beta), rel=RTOL)
        assert (got["var_intercept"], got["cov_intercept_slope"], got["var_slope"]) == pytest.approx(
            (a @ V @ a, a @ V @ b, b @ V @ b), rel=RTOL)
        assert got["df_slope"] == df
    assert res.fit.iloc[0]["sigma"] == pytest.approx(np.sqrt(rss / df), rel=RTOL)


def test_between_is_least_squares_on_school_means(hs):
    means = hs.groupby("school").agg(y=("mathach", "mean"), x=("ses", "mean"), s=("Sector", "first"))
    d = (means["s"] == "Public").to_numpy(float)
    x, y = means["x"].to_numpy(), means["y"].to_numpy()
    alone, V1, _, _ = lstsq(np.column_stack([np.ones_like(x), x]), y)
    beta, V, rss, df = lstsq(np.column_stack([np.ones_like(x), x, d, x * d]), y)
    res = fit_method("between", hs, HSB_SPEC)
    np.testing.assert_allclose(res.coef["estimate"], np.r_[alone, beta], rtol=RTOL)
    np.testing.assert_allclose(res.coef["std_error"], np.sqrt(np.r_[np.diag(V1), np.diag(V)]), rtol=RTOL)
    fit = res.fit.iloc[0]
    assert (fit["nobs"], fit["ngroups"], fit["df_resid"]) == (len(y), len(y), df)


def test_school_lines_and_two_stage_from_polyfit(hs):
    lines = per_group_ols(hs, HSB_SPEC).table.set_index("school")
    fits = {s: np.polyfit(g["ses"], g["mathach"], 1) for s, g in hs.groupby("school")}
    np.testing.assert_allclose(lines["slope"], [fits[s][0] for s in lines.index], rtol=1e-9)
    np.testing.assert_allclose(lines["intercept"], [fits[s][1] for s in lines.index], rtol=1e-9)
    res = fit_method("two_stage", hs, HSB_SPEC)
    by = lines.groupby("Sector")
    gap = by["slope"].mean()["Public"] - by["slope"].mean()["Catholic"]
    resid = lines["slope"] - lines["Sector"].map(by["slope"].mean())
    s2 = float(resid @ resid) / (len(lines) - 2)
    n = by.size()
    assert line(res, "Public - Catholic")["slope"] == pytest.approx(gap, rel=1e-9)
    assert line(res, "Public - Catholic")["var_slope"] == pytest.approx(s2 * (1 / n["Public"] + 1 / n["Catholic"]), rel=1e-9)


def test_mixed_models_equal_the_engines_formula_path(hs):
    for method, formula, slope in [
        ("mixed", "mathach ~ ses * Sector + (1 + ses | school)", "ses"),
        ("mixed_contextual", "mathach ~ (ses_cwg + ses_mean) * Sector + (1 + ses_cwg | school)", "ses_cwg"),
    ]:
        ref = lmm.fit(formula, hs)
        res = fit_method(method, hs, HSB_SPEC)
        # the same statistics from the school moments (sums in another order), so
        # the same optimum to the optimizer's precision
        for col in ("estimate", "std_error", "df"):
            np.testing.assert_allclose(res.coef[col], ref.coef[col], rtol=1e-8)
        gap = ref.contrast({f"{slope}:Sector[T.Public]": 1.0})
        assert line(res, "Public - Catholic")["df_slope"] == pytest.approx(gap["df"].iloc[0], rel=1e-8)
        assert res.fit.iloc[0]["loglik"] == pytest.approx(ref.loglik, rel=1e-9)
        assert list(res.fit.iloc[0]["warnings"]) == ref.warnings


def test_cr2_from_school_moments_equals_cr2_from_rows():
    spec = simulation_spec(HSB_SPEC, PARAMS)
    data = simulate(PARAMS, Scenario("x", 15, 9, True, heteroscedasticity=1.0), replicate_rng(3, 0), spec)
    x, y, d, school = rows_xy(data, spec)
    rows = cr2_fit(np.column_stack([np.ones_like(x), x, d, x * d]), y, school).contrast(np.eye(4)[3])
    assert pooled_ols_cr2_slope_gap(school_stats(data, spec)) == pytest.approx(rows, rel=RTOL)


def test_study_reads_the_tables_difference_line():
    spec = simulation_spec(HSB_SPEC, PARAMS)
    data = simulate(PARAMS, Scenario("x", 20, 15, True), replicate_rng(5, 1), spec)
    stats = school_stats(data, spec)
    for method in METHODS:
        gap = line(fit_method(method, data, spec), "Public - Catholic")
        row = slope_gap(method, stats)
        assert (row["estimate"], row["std_error"], row["df"]) == (gap["slope"], np.sqrt(gap["var_slope"]), gap["df_slope"])
    assert slope_gap(CR2_METHOD, stats)["estimate"] == pytest.approx(line(fit_method("pooled_ols", data, spec), "Public - Catholic")["slope"], rel=RTOL)


def test_unestimable_school_slopes_are_left_out_with_a_message(hs):
    flat_school = hs["school"].unique()[1]
    data = pd.concat([hs.assign(ses=np.where(hs["school"] == flat_school, 0.25, hs["ses"])),
                      hs.iloc[[0]].assign(school=99999)], ignore_index=True)
    for method in ("two_stage", "fe_school_lines"):
        warnings = list(fit_method(method, data, HSB_SPEC).fit.iloc[0]["warnings"])
        assert warnings == [f"school {flat_school} left out: no spread in ses", "school 99999 left out: a single row"]


@pytest.mark.parametrize("method, aliased", [("pooled_ols", "ses, ses:Sector[T.Public]"),
                                             ("fe_common_slope", "ses, ses:Sector[T.Public]"),
                                             ("between", "ses")])
def test_constant_predictor_names_the_aliased_terms(hs, method, aliased):
    with pytest.raises(ValueError, match=rf"rank-deficient model matrix: term\(s\) {re.escape(aliased)} are aliased"):
        fit_method(method, hs.assign(ses=1.0), HSB_SPEC)


def test_no_estimable_school_is_refused(hs):
    with pytest.raises(ValueError, match="fe_school_lines: no school has an estimable slope"):
        estimate_method("fe_school_lines", school_stats(hs.assign(ses=1.0), HSB_SPEC))


def test_missing_values_are_refused_naming_rows(hs):
    data = hs.copy()
    data.loc[[3, 7], "ses"] = np.nan
    with pytest.raises(ValueError, match=r"column 'ses' has 2 missing value\(s\) \(rows 3, 7\)"):
        fit_method("pooled_ols", data, HSB_SPEC)
