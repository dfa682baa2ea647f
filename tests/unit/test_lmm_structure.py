"""Structural properties of the engine: equivalent formulas, chunked statistics,
shift invariance, the API of the result, and a dense brute-force likelihood."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmcompare import lmm
from mlmcompare.lmm import TIDY_COLUMNS

DATA = Path(__file__).parents[2] / "data"
GOLDEN_DATA = Path(__file__).parents[1] / "golden" / "data"


@pytest.fixture(scope="module")
def slopes(hs):
    return lmm.fit("mathach ~ ses * Sector + (1 + ses | school)", hs)


def test_double_bar_equals_separate_terms(hs):
    a = lmm.fit("mathach ~ ses + (1 + ses || school)", hs)
    b = lmm.fit("mathach ~ ses + (1 | school) + (0 + ses | school)", hs)
    assert a.random_terms == b.random_terms == ["Intercept", "ses"]
    assert a.loglik == pytest.approx(b.loglik, abs=1e-9)
    np.testing.assert_allclose(a.theta, b.theta, atol=1e-8)
    np.testing.assert_allclose(a.fixef, b.fixef, rtol=1e-9)
    assert a.npar == b.npar == 5
    assert a.varcorr.G.loc["Intercept", "ses"] == 0.0


def test_block_mix_layout(hs):
    r = lmm.fit("mathach ~ ses_cwg + female + (1 | school) + (0 + ses_cwg + female | school)", hs)
    assert r.random_terms == ["Intercept", "ses_cwg", "female"]
    assert len(r.theta) == 4 and r.npar == 3 + 4 + 1
    assert r.varcorr.G.loc["Intercept", "female"] == 0.0


def test_dense_brute_force_likelihood():
    d = pd.read_csv(GOLDEN_DATA / "sleepstudy.csv")
    for reml in (True, False):
        r = lmm.fit("Reaction ~ Days + (Days | Subject)", d, reml=reml)
        X = np.c_[np.ones(len(d)), d["Days"]]
        y = d["Reaction"].to_numpy()
        G = r.varcorr.G.to_numpy()
        V = np.zeros((len(d), len(d)))
        for s in d["Subject"].unique():
            i = np.flatnonzero(d["Subject"].to_numpy() == s)
            Zi = X[i]
            V[np.ix_(i, i)] = Zi @ G @ Zi.T + r.sigma2 * np.eye(len(i))
        Vi = np.linalg.inv(V)
        beta = np.linalg.solve(X.T @ Vi @ X, X.T @ Vi @ y)
        e = y - X @ beta
        n, p = X.shape
        ll = -0.5 * (np.linalg.slogdet(V)[1] + e @ Vi @ e + n * np.log(2 * np.pi))
        if reml:
            ll += -0.5 * np.linalg.slogdet(X.T @ Vi @ X)[1] + 0.5 * p * np.log(2 * np.pi)
        assert r.loglik == pytest.approx(ll, abs=1e-8)
        np.testing.assert_allclose(r.fixef, beta, rtol=1e-10)
        np.testing.assert_allclose(r.vcov, np.linalg.inv(X.T @ Vi @ X), rtol=1e-8)
        # BLUPs: G Z' V^{-1} e, per subject
        b = r.ranef_wide()
        s0 = d["Subject"].unique()[0]
        i = np.flatnonzero(d["Subject"].to_numpy() == s0)
        np.testing.assert_allclose(b.loc[s0].to_numpy(), G @ X[i].T @ Vi[np.ix_(i, i)] @ e[i], atol=1e-8)


def test_chunked_statistics_add_up(hs):
    r = lmm.fit("mathach ~ ses + (1 + ses | school)", hs)
    X = np.c_[np.ones(len(hs)), hs["ses"]]
    Z = X.copy()
    y = hs["mathach"].to_numpy()
    g = hs["school"].to_numpy()
    full = lmm.sufficient_stats(X, Z, y, g)
    parts = np.array_split(np.random.default_rng(0).permutation(len(hs)), 3)
    stats = None
    for idx in parts:
        s = lmm.sufficient_stats(X[idx], Z[idx], y[idx], g[idx],
                                 x_shift=full.x_shift, y_shift=full.y_shift)
        stats = s if stats is None else stats + s
    np.testing.assert_allclose(stats.ZtZ, full.ZtZ, rtol=1e-12)
    f2 = lmm.fit_from_stats(stats, reml=True, fixed_terms=["Intercept", "ses"],
                            random_terms=["Intercept", "ses"], group_name="school")
    assert f2.loglik == pytest.approx(r.loglik, abs=1e-8)
    np.testing.assert_allclose(f2.fixef, r.fixef, rtol=1e-9)
    np.testing.assert_allclose(f2.coef["df"], r.coef["df"], rtol=1e-6)
    pd.testing.assert_frame_equal(f2.ranef, r.ranef, check_exact=False, rtol=1e-6, atol=1e-8)
    with pytest.raises(ValueError, match="need the rows"):
        f2.fitted()
    with pytest.raises(ValueError, match="different shifts"):
        stats + lmm.sufficient_stats(X[:10], Z[:10], y[:10], g[:10])


def test_response_shift_by_1e8(hs):
    d = hs.copy()
    d["mathach"] = d["mathach"] + 1e8
    a = lmm.fit("mathach ~ ses * Sector + (1 + ses | school)", hs)
    b = lmm.fit("mathach ~ ses * Sector + (1 + ses | school)", d)
    assert b.loglik == pytest.approx(a.loglik, abs=1e-6)
    assert b.fixef["Intercept"] - 1e8 == pytest.approx(a.fixef["Intercept"], abs=1e-6)
    np.testing.assert_allclose(b.fixef.iloc[1:], a.fixef.iloc[1:], rtol=1e-7)
    np.testing.assert_allclose(b.varcorr.G, a.varcorr.G, rtol=1e-6)
    np.testing.assert_allclose(b.coef["std_error"], a.coef["std_error"], rtol=1e-6)
    np.testing.assert_allclose(b.ranef["estimate"], a.ranef["estimate"], atol=1e-6)


def test_shift_free_stats_agree(hs):
    X = np.c_[np.ones(len(hs)), hs["ses"]]
    y = hs["mathach"].to_numpy()
    g = hs["school"].to_numpy()
    a = lmm.fit_from_stats(lmm.sufficient_stats(X, X, y, g))
    b = lmm.fit_from_stats(lmm.sufficient_stats(X, X, y, g, x_shift=np.zeros(2), y_shift=0.0))
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)
    np.testing.assert_allclose(a.fixef, b.fixef, rtol=1e-9)


def test_result_tables(hs, slopes):
    r = slopes
    assert list(r.coef.columns) == TIDY_COLUMNS
    assert r.fixed_terms == ["Intercept", "ses", "Sector[T.Public]", "ses:Sector[T.Public]"]
    assert r.random_terms == ["Intercept", "ses"]
    assert r.group_name == "school" and r.nobs == 1977 and r.ngroups == 40
    assert r.df_resid == 1973 and r.npar == 8
    assert list(r.ranef.columns) == ["group", "term", "estimate", "cond_sd"]
    assert len(r.ranef) == 80
    assert r.varcorr.G.shape == (2, 2) and list(r.varcorr.G.index) == r.random_terms
    vt = r.varcorr_table()
    assert list(vt["grp"]) == ["school", "school", "school", "Residual"]
    assert set(r.optimizer) >= {"method", "theta_start", "theta_end", "n_evals", "grad_norm",
                                "verdict", "message"}
    # the method-of-moments start is a valid interior point, and lme4's
    # identity start (in units where each column of Z has unit root mean
    # square: Lambda = diag(1 / rms(z))) reaches the same optimum
    start = np.asarray(r.optimizer["theta_start"])
    assert start[0] > 0 and start[2] > 0
    rms_ses = np.sqrt(np.mean(hs["ses"] ** 2))
    ident = lmm.fit(r.formula, hs, theta_start=[1.0, 0.0, 1.0 / rms_ses])
    assert ident.optimizer["theta_start"] == [1.0, 0.0, 1.0 / rms_ses]
    np.testing.assert_allclose(ident.theta, r.theta, rtol=1e-7, atol=1e-9)
    assert ident.loglik == pytest.approx(r.loglik, abs=1e-9)
    assert r.aic == pytest.approx(-2 * r.loglik + 2 * r.npar)
    assert r.bic == pytest.approx(-2 * r.loglik + np.log(r.nobs) * r.npar)
    assert r.reml_criterion == pytest.approx(-2 * r.loglik) and r.deviance is None
    cg = r.coef_by_group()
    assert list(cg.columns) == r.fixed_terms
    b = r.ranef_wide()
    np.testing.assert_allclose(cg["ses"], r.fixef["ses"] + b["ses"])
    np.testing.assert_allclose(cg["Sector[T.Public]"], r.fixef["Sector[T.Public]"])


def test_contrasts(slopes):
    r = slopes
    one = r.contrast({"Intercept": 1, "Sector[T.Public]": 1}, names=["public_intercept"])
    vec = r.contrast([1, 0, 1, 0])
    assert list(one.columns) == TIDY_COLUMNS
    assert one["term"].iloc[0] == "public_intercept" and vec["term"].iloc[0] == "c1"
    np.testing.assert_allclose(one.iloc[0, 1:].to_numpy(float), vec.iloc[0, 1:].to_numpy(float))
    L = np.array([[1, 0, 0, 0], [1, 0, 1, 0], [0, 0, 1, 0]])
    many = r.contrast(L)
    assert list(many["term"]) == ["c1", "c2", "c3"]
    # a unit contrast reproduces the coefficient table (df included)
    np.testing.assert_allclose(many.iloc[[0, 2], 1:].to_numpy(float),
                               r.coef.iloc[[0, 2], 1:].to_numpy(float), rtol=1e-12)
    C = r.contrast_vcov(L)
    assert C.shape == (3, 3)
    np.testing.assert_allclose(np.sqrt(np.diag(C)), many["std_error"], rtol=1e-12)
    np.testing.assert_allclose(C, L @ r.vcov.to_numpy() @ L.T)
    with pytest.raises(ValueError, match="unknown term"):
        r.contrast({"nope": 1})
    with pytest.raises(ValueError, match="must have 4 columns"):
        r.contrast([1, 0])


def test_fitted_and_residuals(hs, slopes):
    r = slopes
    f0, f1 = r.fitted(0), r.fitted(1)
    X = np.c_[np.ones(len(hs)), hs["ses"], hs["Sector"] == "Public",
              hs["ses"] * (hs["Sector"] == "Public")].astype(float)
    np.testing.assert_allclose(f0, X @ r.fixef.to_numpy())
    b = r.ranef_wide().loc[hs["school"]].to_numpy()
    np.testing.assert_allclose(f1 - f0, b[:, 0] + b[:, 1] * hs["ses"].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(r.residuals(1) + f1, hs["mathach"])
    np.testing.assert_allclose(r.residuals(0) + f0, hs["mathach"])
    assert (r.fitted(1).index == hs.index).all()


def test_blue_matches_per_group_ols(hs, slopes):
    blue = slopes.blue.set_index(["group", "term"])
    for s in hs["school"].unique()[:5]:
        d = hs[hs["school"] == s]
        Z = np.c_[np.ones(len(d)), d["ses"]]
        coef, rss, *_ = np.linalg.lstsq(Z, d["mathach"], rcond=None)
        s2 = rss[0] / (len(d) - 2)
        se = np.sqrt(s2 * np.diag(np.linalg.inv(Z.T @ Z)))
        np.testing.assert_allclose(blue.loc[s, "estimate"].to_numpy(), coef, rtol=1e-9)
        np.testing.assert_allclose(blue.loc[s, "std_error"].to_numpy(), se, rtol=1e-8)
    assert slopes.blue_not_estimable == []


def test_icc_and_design_effect(hs, slopes):
    r = lmm.fit("mathach ~ 1 + (1 | school)", hs)
    tau2 = r.varcorr.G.iloc[0, 0]
    assert r.icc() == pytest.approx(tau2 / (tau2 + r.sigma2))
    assert r.design_effect() == pytest.approx(1 + (len(hs) / 40 - 1) * r.icc())
    assert r.design_effect(10) == pytest.approx(1 + 9 * r.icc())
    with pytest.raises(ValueError, match="random-intercept-only"):
        slopes.icc()


def test_reference_level_follows_category_order(hs):
    d = hs.copy()
    d["Sector"] = pd.Categorical(d["Sector"], categories=["Public", "Catholic"])
    r = lmm.fit("mathach ~ Sector + (1 | school)", d)
    assert r.fixed_terms == ["Intercept", "Sector[T.Catholic]"]


def test_no_intercept_fixed_part(hs):
    a = lmm.fit("mathach ~ 0 + Sector + (1 | school)", hs)
    b = lmm.fit("mathach ~ Sector + (1 | school)", hs)
    assert a.fixed_terms == ["Sector[Catholic]", "Sector[Public]"]
    assert a.loglik == pytest.approx(b.loglik, abs=1e-8)
    assert a.fixef["Sector[Public]"] == pytest.approx(b.fixef.sum(), rel=1e-10)
    c = lmm.fit("mathach ~ ses - 1 + (1 | school)", hs)
    assert c.fixed_terms == ["ses"] and c.converged


@pytest.mark.parametrize("expr", ["1", "0 + ses", "ses", "ses - 1", "-1 + ses + female",
                                  "1 + ses + female", "female + ses", "ses + 1", "ses + ses"])
def test_random_columns_fast_path_matches_formulaic(hs, expr):
    import formulaic

    from mlmcompare.lmm.design import _simple_columns

    names, Z = _simple_columns(expr, hs)
    mm = formulaic.model_matrix(expr, hs)
    assert names == list(mm.columns)
    np.testing.assert_array_equal(Z, np.asarray(mm, dtype=float))


@pytest.mark.parametrize("q", [1, 2, 3, 4, 6])
def test_compiled_group_pass_matches_lapack(q):
    """The compiled per-group factor and solves equal numpy's dense LAPACK results."""
    from mlmcompare.lmm.kernels import group_pass

    rng = np.random.default_rng(q)
    J, p = 30, 3
    A = rng.normal(size=(J, q, q + 2))
    S = A @ np.swapaxes(A, 1, 2)  # Z_j'Z_j
    ZtX, Zty = rng.normal(size=(J, q, p)), rng.normal(size=(J, q))
    Lam = np.tril(rng.normal(size=(q, q)))
    L, sol = np.empty((J, q, q)), np.empty((J, q, 1 + p + q))
    CtC, Ctc, ctc, ld, ok = group_pass(Lam, S, ZtX, Zty, L, sol)
    assert ok
    Lref = np.linalg.cholesky(Lam.T @ S @ Lam + np.eye(q))
    np.testing.assert_allclose(L, Lref, rtol=1e-12, atol=1e-12)
    rhs = np.concatenate([Lam.T @ Zty[:, :, None], Lam.T @ ZtX, Lam.T @ S], axis=2)
    ref = np.linalg.solve(Lref, rhs)
    np.testing.assert_allclose(sol, ref, rtol=1e-10, atol=1e-12)
    C, c = ref[:, :, 1 : 1 + p], ref[:, :, 0]
    np.testing.assert_allclose(CtC, np.einsum("jqa,jqb->ab", C, C), rtol=1e-10)
    np.testing.assert_allclose(Ctc, np.einsum("jqa,jq->a", C, c), rtol=1e-10)
    assert ctc == pytest.approx(float((c * c).sum()), rel=1e-12)
    assert ld == pytest.approx(2 * np.log(np.diagonal(Lref, axis1=1, axis2=2)).sum(), rel=1e-12)


def test_predict_reproduces_fitted_and_handles_new_groups(hs, slopes):
    """predict() on the fit's own rows equals fitted(); a new group is refused or gets b = 0."""
    for level in (0, 1):
        np.testing.assert_allclose(slopes.predict(hs, level), slopes.fitted(level), rtol=1e-12)
    new = hs.head(3).assign(school="NEW").drop(columns="mathach")
    with pytest.raises(ValueError, match="not in the fit"):
        slopes.predict(new)
    np.testing.assert_allclose(slopes.predict(new, allow_new_levels=True),
                               slopes.predict(new, level=0), rtol=1e-12)
    with pytest.raises(ValueError, match="holds its .* rows in memory"):
        next(slopes.fitted_chunks())
