"""The explorable page's closed forms against the engine and the handout's own
formulas (the numbers it exports from a real run: tests/e2e/test_explore_pipeline.py)."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm
from mlmcompare.report import explore as E
from mlmcompare.analyses.sectorgap import approximate_se
from mlmcompare.spec import ModelSpec

FORMULA = "mathach ~ ses * Sector + (1 + ses | school)"


def spec_of_hs() -> ModelSpec:
    return ModelSpec(response="mathach", predictor="ses", group="school", level2_factor="Sector", reference="Catholic")


@pytest.fixture(scope="module")
def engine(hs):
    """The mixed model fitted by the engine, with each school's cross-products and sector line."""
    fit = lmm.fit(FORMULA, hs, reml=True)
    cp = hs.groupby("school", sort=True).apply(
        lambda d: pd.Series({"n": len(d), "sx": d.ses.sum(), "sxx": (d.ses**2).sum(), "sy": d.mathach.sum(), "sxy": (d.ses * d.mathach).sum()}),
        include_groups=False,
    )
    public = (hs.groupby("school", sort=True)["Sector"].first() == "Public").to_numpy()
    b = fit.fixef
    lines = np.where(public[:, None], [b["Intercept"] + b["Sector[T.Public]"], b["ses"] + b["ses:Sector[T.Public]"]], [b["Intercept"], b["ses"]])
    xtx = np.array([[[r.n, r.sx], [r.sx, r.sxx]] for r in cp.itertuples()])
    xty = cp[["sy", "sxy"]].to_numpy()
    return fit, cp.index.to_numpy(), xtx, xty, lines, public


def test_cross_products_match_a_plain_groupby(hs, engine):
    _, groups, xtx, xty, _, _ = engine
    sums = E.school_cross_products(hs, spec_of_hs())
    got_xtx, got_xty = E.cross_product_matrices(sums)
    assert sums["school"].to_list() == list(groups)
    np.testing.assert_allclose(got_xtx, xtx, rtol=1e-12)
    np.testing.assert_allclose(got_xty, xty, rtol=1e-12)


def test_blup_closed_form_is_the_engines_ranef(engine):
    fit, groups, xtx, xty, lines, _ = engine
    got = E.blup_lines(xtx, xty, lines, fit.varcorr.G.to_numpy(), fit.sigma2)
    u = fit.ranef.pivot(index="group", columns="term", values="estimate").loc[groups, ["Intercept", "ses"]].to_numpy()
    np.testing.assert_allclose(got, lines + u, rtol=0, atol=1e-6)


def test_blup_limits_are_the_sector_line_and_the_ols_line(engine):
    fit, _, xtx, xty, lines, _ = engine
    np.testing.assert_allclose(E.blup_lines(xtx, xty, lines, np.zeros((2, 2)), fit.sigma2), lines, atol=1e-12)
    ols = np.linalg.solve(xtx, xty[..., None])[..., 0]
    np.testing.assert_allclose(E.blup_lines(xtx, xty, lines, 1e9 * np.eye(2), fit.sigma2), ols, atol=1e-5)


def test_gap_variance_from_the_schools_is_the_engines_vcov(engine):
    fit, _, xtx, _, _, public = engine
    terms = ["Sector[T.Public]", "ses:Sector[T.Public]"]
    want = fit.vcov.loc[terms, terms].to_numpy()
    got = E.gap_variance_from_schools(xtx, public, ~public, fit.varcorr.G.to_numpy(), fit.sigma2)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_balanced_formula_equals_the_school_sums_when_schools_are_alike():
    """Every school with the same X'X: the closed form and the matrix sums agree."""
    G = np.array([[4.0, 0.6], [0.6, 0.3]])
    n, J, p = 25, 30, 0.4
    per_student = np.array([[1.0, -0.2], [-0.2, 0.7]])
    xtx = np.repeat((n * per_student)[None], J, axis=0)
    in_level = np.arange(J) < p * J
    exact = E.gap_variance_from_schools(xtx, in_level, ~in_level, G, 36.0)
    np.testing.assert_allclose(E.gap_variance_balanced(J, p, 1 - p, n, per_student, G, 36.0), exact, rtol=1e-12)


def test_balanced_intercept_is_the_handouts_approximation():
    """With a centred predictor and G = diag(g00, 0) the intercept entry is
    the handout's sqrt((g00 + sigma^2/n) / (J var(W)))."""
    g00, s2, n, J, p = 7.0, 39.6, 49.4, 40, 0.475
    V = E.gap_variance_balanced(J, p, 1 - p, n, np.array([[1.0, 0.0], [0.0, 0.6]]), np.diag([g00, 0.0]), s2)
    assert np.sqrt(V[0, 0]) == pytest.approx(approximate_se(g00, s2, n, J, p * (1 - p)), rel=1e-12)


def test_embedded_text_cannot_close_the_script():
    odd = {"title": "</script><script>alert(1)</script> & co", "schools": [{"id": "a\u2028b"}]}
    page = E.render_page(odd)
    data = page.split('<script type="application/json" id="explore-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data) == odd
    assert "<title>Explore: &lt;/script&gt;&lt;script&gt;" in page


def test_template_ships_with_the_package():
    from importlib import resources

    template = resources.files("mlmcompare.report").joinpath(E.TEMPLATE).read_text(encoding="utf-8")
    assert E.DATA_MARK in template and E.TITLE_MARK in template
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", template)
