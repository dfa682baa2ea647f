"""Properties the engine must have whatever the data (hypothesis), and
numerical trouble: badly scaled columns, very unbalanced groups, boundary fits.

Independent references: an invariance (the same fit after a transformation
whose effect on the estimates is known exactly), or a closed-form
random-intercept log-likelihood written out here per group, not through the
engine's sufficient statistics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import optimize

from mlmcompare import lmm

DATA = Path(__file__).parents[2] / "data"
GOLDEN = Path(__file__).parents[1] / "golden" / "lme4"
SLOPES = "mathach ~ ses * Sector + (1 + ses | school)"
FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def base(hs):
    return lmm.fit(SLOPES, hs)


def same_fit(a, b, rtol=1e-6):
    assert b.loglik == pytest.approx(a.loglik, abs=1e-6)
    np.testing.assert_allclose(b.fixef.to_numpy(), a.fixef.to_numpy(), rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(b.coef["std_error"], a.coef["std_error"], rtol=1e-5)
    np.testing.assert_allclose(b.varcorr.G, a.varcorr.G, rtol=1e-5, atol=1e-8)


@FAST
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order_and_group_labels_do_not_matter(hs, base, seed):
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(hs))
    d = hs.iloc[perm].reset_index(drop=True)
    schools = d["school"].unique()
    relabel = dict(zip(schools, [f"g{v}" for v in rng.permutation(len(schools))]))
    d["school"] = d["school"].map(relabel)
    same_fit(base, lmm.fit(SLOPES, d))


@FAST
@given(shift=st.floats(-1e6, 1e6, allow_nan=False))
def test_adding_a_constant_to_y_moves_only_the_intercept(hs, base, shift):
    b = lmm.fit(SLOPES, hs.assign(mathach=hs["mathach"] + shift))
    assert b.fixef["Intercept"] - shift == pytest.approx(base.fixef["Intercept"], abs=1e-6 * max(1.0, abs(shift)) * 1e-3)
    np.testing.assert_allclose(b.fixef.iloc[1:], base.fixef.iloc[1:], rtol=1e-6)
    np.testing.assert_allclose(b.varcorr.G, base.varcorr.G, rtol=1e-5)
    assert b.loglik == pytest.approx(base.loglik, abs=1e-6)


@FAST
@given(scale=st.sampled_from([1e-3, 0.5, 7.0, 1e3, 1e6]))
def test_scaling_x_scales_its_coefficients_and_ses(hs, base, scale):
    b = lmm.fit(SLOPES, hs.assign(ses=hs["ses"] * scale))
    for t in ("ses", "ses:Sector[T.Public]"):
        assert b.fixef[t] * scale == pytest.approx(base.fixef[t], rel=1e-6)
        assert b.coef.set_index("term").at[t, "std_error"] * scale == pytest.approx(base.coef.set_index("term").at[t, "std_error"], rel=1e-5)
    for t in ("Intercept", "Sector[T.Public]"):
        assert b.fixef[t] == pytest.approx(base.fixef[t], rel=1e-6)
    # the slope's random-effect SD scales too; the intercept's does not
    assert b.varcorr.sd.iloc[1] * scale == pytest.approx(base.varcorr.sd.iloc[1], rel=1e-5)
    assert b.varcorr.sd.iloc[0] == pytest.approx(base.varcorr.sd.iloc[0], rel=1e-5)
    assert b.coef["df"].to_numpy() == pytest.approx(base.coef["df"].to_numpy(), rel=1e-3)


def test_badly_scaled_data_fit_the_same(hs, base):
    """ses in millionths and mathach shifted by 1e8 at once: the same fit after rescaling."""
    b = lmm.fit(SLOPES, hs.assign(ses=hs["ses"] * 1e6, mathach=hs["mathach"] + 1e8))
    assert b.fixef["Intercept"] - 1e8 == pytest.approx(base.fixef["Intercept"], abs=1e-6)
    assert b.fixef["ses"] * 1e6 == pytest.approx(base.fixef["ses"], rel=1e-6)
    assert b.converged and not any("converge" in w for w in b.warnings)
    # REML log-likelihood changes by log|scale| per scaled fixed-effect column
    # (the REML criterion includes log|X'V^-1X|); ML's would not change at all.
    ml_a = lmm.fit(SLOPES, hs, reml=False)
    ml_b = lmm.fit(SLOPES, hs.assign(ses=hs["ses"] * 1e6, mathach=hs["mathach"] + 1e8), reml=False)
    assert ml_b.loglik == pytest.approx(ml_a.loglik, abs=1e-6)


def group_rows(g: np.ndarray) -> list[np.ndarray]:
    """The row indices of each group (found once: the likelihood below is
    evaluated thousands of times by the reference optimizer)."""
    return [np.flatnonzero(g == k) for k in np.unique(g)]


def ri_loglik_direct(y: np.ndarray, X: np.ndarray, groups: list[np.ndarray], tau2: float, sigma2: float) -> float:
    """ML log-likelihood of y = X b + u_g + e, maximised over b by GLS, written
    out per group with the closed-form inverse of sigma2 I + tau2 11'."""
    XtVX = np.zeros((X.shape[1], X.shape[1]))
    XtVy = np.zeros(X.shape[1])
    logdet = 0.0
    for idx in groups:
        n = len(idx)
        c = tau2 / (sigma2 + n * tau2)
        Xj, yj = X[idx], y[idx]
        sx, sy = Xj.sum(0), yj.sum()
        XtVX += (Xj.T @ Xj - c * np.outer(sx, sx)) / sigma2
        XtVy += (Xj.T @ yj - c * sx * sy) / sigma2
        logdet += n * np.log(sigma2) + np.log1p(n * tau2 / sigma2)
    beta = np.linalg.solve(XtVX, XtVy)
    quad = 0.0
    for idx in groups:
        n = len(idx)
        c = tau2 / (sigma2 + n * tau2)
        e = y[idx] - X[idx] @ beta
        quad += (e @ e - c * e.sum() ** 2) / sigma2
    return -0.5 * (len(y) * np.log(2 * np.pi) + logdet + quad)


def test_unbalanced_groups_from_1_to_10000_rows():
    rng = np.random.default_rng(11)
    sizes = np.r_[1, 1, 2, 3, 5, 10, 30, 100, 1000, 10000, rng.integers(1, 50, 40)]
    g = np.repeat(np.arange(len(sizes)), sizes)
    x = rng.normal(size=len(g))
    y = 3.0 + 0.5 * x + rng.normal(0, 1.5, len(sizes))[g] + rng.normal(0, 2.0, len(g))
    d = pd.DataFrame({"y": y, "x": x, "g": g})
    fit = lmm.fit("y ~ x + (1 | g)", d, reml=False)
    X = np.c_[np.ones(len(g)), x]
    groups = group_rows(g)
    best = optimize.minimize(lambda p: -ri_loglik_direct(y, X, groups, np.exp(p[0]), np.exp(p[1])), x0=[0.0, 1.0], method="Nelder-Mead", options={"xatol": 1e-10, "fatol": 1e-10, "maxiter": 4000})
    # a tighter fatol lies below the rounding of a log-likelihood of ~2.6e4 and
    # never stops; this one converges in about 90 iterations
    assert best.success, best.message
    assert fit.loglik == pytest.approx(-best.fun, abs=1e-6) or fit.loglik > -best.fun
    assert fit.varcorr.G.iloc[0, 0] == pytest.approx(np.exp(best.x[0]), rel=1e-4)
    assert fit.sigma2 == pytest.approx(np.exp(best.x[1]), rel=1e-4)
    # and the engine's log-likelihood equals the direct formula at its own estimates
    assert ri_loglik_direct(y, X, groups, fit.varcorr.G.iloc[0, 0], fit.sigma2) == pytest.approx(fit.loglik, abs=1e-6)


@FAST
@given(cuts=st.lists(st.integers(1, 1976), min_size=1, max_size=5, unique=True), seed=st.integers(0, 1000))
def test_chunked_and_in_memory_statistics_agree(hs, cuts, seed):
    X = np.c_[np.ones(len(hs)), hs["ses"]]
    y = hs["mathach"].to_numpy()
    g = hs["school"].to_numpy()
    full = lmm.sufficient_stats(X, X, y, g)
    order = np.random.default_rng(seed).permutation(len(hs))
    total = None
    for idx in np.split(order, sorted(cuts)):
        part = lmm.sufficient_stats(X[idx], X[idx], y[idx], g[idx], x_shift=full.x_shift, y_shift=full.y_shift)
        total = part if total is None else total + part
    a = lmm.fit_from_stats(full)
    b = lmm.fit_from_stats(total)
    assert b.loglik == pytest.approx(a.loglik, abs=1e-8)
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=1e-9)


SINGULAR_GOLDEN = [p for p in sorted(GOLDEN.glob("*.json")) if json.loads(p.read_text())["singular"]]


def test_golden_set_has_boundary_fits():
    assert len(SINGULAR_GOLDEN) >= 8  # Dyestuff2, zero slope variances, correlations at +1


@pytest.mark.parametrize("path", SINGULAR_GOLDEN, ids=lambda p: p.stem)
def test_singular_golden_fits_say_so_in_words(path):
    """Where lme4 finds a boundary fit, ours is flagged and carries a warning text."""
    g = json.loads(path.read_text())
    data_file = {"hs": DATA / "hs.csv", "hsfull": DATA / "hsfull.csv"}.get(g["dataset"], Path(__file__).parents[1] / "golden" / "data" / f"{g['dataset']}.csv")
    d = pd.read_csv(data_file)
    if "Sector" in d:
        levels = [g["reference_levels"].get("Sector", "Catholic")]
        d["Sector"] = pd.Categorical(d["Sector"], categories=levels + [l for l in ("Catholic", "Public") if l not in levels])
        d["ses_mean"] = d.groupby("school")["ses"].transform("mean")
        d["ses_cwg"] = d["ses"] - d["ses_mean"]
        d["female"] = (d["Sex"] == "Female").astype(float)
    fit = lmm.fit(g["formula"], d, reml=g["reml"])
    assert fit.singular
    assert any(w.startswith("boundary (singular) fit") for w in fit.warnings), fit.warnings
    assert fit.converged


@pytest.mark.parametrize("reml", [True, False])
def test_varpar_gradient_is_the_slope_of_the_varpar_deviance(base, reml):
    # Satterthwaite's Hessian comes from the compiled gradient in (theta, sigma);
    # the deviance it differentiates is written out separately (objective.varpar_deviance)
    from mlmcompare.lmm.objective import varpar_deviance, varpar_gradient

    stats, layout = base._stats, base._layout
    point = np.append(base.theta * np.array([1.2, 0.7, 1.1]), 1.1 * base.sigma)  # off the optimum
    grad = varpar_gradient(stats, layout, point, reml)
    h = 1e-5 * np.maximum(np.abs(point), 1e-2)
    numeric = [(varpar_deviance(stats, layout, point + e, reml) - varpar_deviance(stats, layout, point - e, reml))
               / (2 * e[i]) for i, e in enumerate(np.diag(h))]
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-6 * np.abs(grad).max())
