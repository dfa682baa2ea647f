"""The blocked objective of several grouping factors, checked against closed forms.

* the profiled (RE)ML deviance from the blocked Cholesky equals the one from
  the dense marginal covariance V = I + Z Lambda Lambda' Z' (brute force, small
  data), for crossed and nested factors, vector-valued terms, and each of the
  rest's storages (compiled sparse, sparse with a dense LAPACK tail, dense);
* its analytic gradient equals central differences of the deviance;
* a one-factor model fitted through the blocked engine equals the
  one-factor engine's fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.linalg

from mlmcompare import lmm
from mlmcompare.lmm import blocked
from mlmcompare.lmm.objective import make_layout


def simulate(seed=1, n=300, levels=(30, 12, 4), q=(2, 1, 2), nested_c=False):
    """Three grouping factors a, b, c (c nested in b when asked), x in the slopes."""
    rng = np.random.default_rng(seed)
    la, lb, lc = levels
    a, b = rng.integers(0, la, n), rng.integers(0, lb, n)
    c = (b % lc) if nested_c else rng.integers(0, lc, n)
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), x, rng.normal(size=n)])
    base = np.column_stack([np.ones(n), x])
    Zs = [base[:, :qq] for qq in q]
    y = (X @ [1.0, 2.0, 0.5] + rng.normal(size=la)[a] + rng.normal(size=lb)[b]
         + rng.normal(size=lc)[c] + 0.5 * x * rng.normal(size=la)[a] + rng.normal(size=n))
    return X, y, Zs, [a, b, c], [np.arange(la), np.arange(lb), np.arange(lc)]


def dense_deviance(X, y, Zs, codes, levels, lams, reml):
    """-2 log-likelihood profiled over beta and sigma, from V itself."""
    n, p = X.shape
    cols, blocks = [], []
    for Z, c, lv, lam in zip(Zs, codes, levels, lams):
        q = Z.shape[1]
        Zf = np.zeros((n, len(lv) * q))
        for r in range(n):
            Zf[r, c[r] * q:(c[r] + 1) * q] = Z[r]
        cols.append(Zf)
        blocks.append(np.kron(np.eye(len(lv)), lam))
    Z, Lam = np.hstack(cols), scipy.linalg.block_diag(*blocks)
    V = np.eye(n) + Z @ Lam @ Lam.T @ Z.T
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    beta = np.linalg.solve(A, X.T @ Vi @ y)
    r = y - X @ beta
    r2 = r @ Vi @ r
    dev = np.linalg.slogdet(V)[1]
    if reml:
        m = n - p
        return dev + np.linalg.slogdet(A)[1] + m * (1 + np.log(2 * np.pi * r2 / m))
    return dev + n * (1 + np.log(2 * np.pi * r2 / n))


STORAGES = {
    "sparse": dict(DENSE_BELOW=10**6, TAIL_MIN=10**6),
    "sparse+tail": dict(DENSE_BELOW=10**6, TAIL_MIN=4, TAIL_SHARE=0.5),
    "dense": dict(DENSE_BELOW=0, DENSE_SHARE=0.0),
}
DESIGNS = {
    "crossed": dict(),
    "nested": dict(nested_c=True),
    "more levels": dict(n=500, levels=(80, 40, 6)),
    "slopes on b": dict(n=200, q=(1, 2, 1)),
    "b has most levels": dict(n=200, levels=(8, 30, 5)),
}


@pytest.mark.parametrize("storage", list(STORAGES))
@pytest.mark.parametrize("design", list(DESIGNS))
def test_deviance_and_gradient_match_dense_forms(storage, design, monkeypatch):
    for name, value in STORAGES[storage].items():
        monkeypatch.setattr(blocked, name, value)
    X, y, Zs, codes, levels = simulate(**DESIGNS[design])
    st = blocked.blocked_stats(X, y, Zs, codes, levels, ["a", "b", "c"],
                               [["Intercept", "x"][:Z.shape[1]] for Z in Zs]).in_lme4_order()
    order = st.fit_order()
    lay = make_layout(st.block_sizes())
    theta = np.random.default_rng(5).uniform(0.2, 1.2, lay.k) * np.where(lay.is_diag, 1.0, 0.5)
    prob = blocked.BlockedProblem(st, lay)
    assert prob.rest.dense == (storage == "dense")
    if storage == "sparse+tail":
        assert prob.rest.tail < prob.rest.nr
    Lam = lay.make_lambda(theta)
    lams, off = [None] * 3, 0
    for f in order:
        q = st.factors[f].q
        lams[f] = Lam[off:off + q, off:off + q]
        off += q
    for reml in (True, False):
        f, g = blocked.deviance_gradient(prob, theta, reml)
        assert f == pytest.approx(dense_deviance(X, y, Zs, codes, levels, lams, reml), rel=1e-11)
        h = 1e-5
        fd = np.array([(blocked.deviance_gradient(prob, theta + h * e, reml)[0]
                        - blocked.deviance_gradient(prob, theta - h * e, reml)[0]) / (2 * h)
                       for e in np.eye(lay.k)])
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-5)


def test_singular_theta_has_a_gradient():
    """A diagonal element at 0 (a boundary fit) needs no inverse of Lambda."""
    X, y, Zs, codes, levels = simulate()
    st = blocked.blocked_stats(X, y, Zs, codes, levels, ["a", "b", "c"],
                               [["Intercept", "x"][:Z.shape[1]] for Z in Zs]).in_lme4_order()
    lay = make_layout(st.block_sizes())
    theta = lay.start() * 0.7
    theta[np.flatnonzero(lay.is_diag)[1]] = 0.0
    prob = blocked.BlockedProblem(st, lay)
    f, g = blocked.deviance_gradient(prob, theta, True)
    assert np.isfinite(f) and np.all(np.isfinite(g))
    h = 1e-6
    e = np.zeros(lay.k)
    e[0] = h
    fd = (blocked.deviance_gradient(prob, theta + e, True)[0]
          - blocked.deviance_gradient(prob, theta - e, True)[0]) / (2 * h)
    assert g[0] == pytest.approx(fd, rel=1e-5)


def test_one_factor_through_the_blocked_engine_equals_the_one_factor_engine(hs):
    """(1 + ses | school) with a second factor whose variance is held at 0 by its data."""
    one = lmm.fit("mathach ~ ses + (1 + ses | school)", hs)
    design = lmm.build_design("mathach ~ ses + (1 + ses | school)", hs)
    st = blocked.blocked_stats(design.X, design.y, [design.Z, np.ones((len(hs), 1))],
                               [design.codes, np.arange(len(hs)) % 2],
                               [design.levels, np.arange(2)], ["school", "half"],
                               [["Intercept", "ses"], ["Intercept"]])
    # evaluate the blocked deviance with the second factor's theta at 0: the one-factor model
    st = st.in_lme4_order()
    lay = make_layout(st.block_sizes())
    prob = blocked.BlockedProblem(st, lay)
    theta = np.append(one.theta, 0.0)
    f, _ = blocked.deviance_gradient(prob, theta, True)
    assert f == pytest.approx(one.reml_criterion, rel=1e-12)


def test_theta_follows_lme4_term_order():
    """(1 | g) + (1 | h:g) + (0 + x | g): lme4 sorts terms by levels, ties reversed."""
    rng = np.random.default_rng(4)
    n = 400
    d = pd.DataFrame({"g": rng.integers(0, 20, n).astype(str), "h": rng.integers(0, 5, n).astype(str),
                      "x": rng.normal(size=n)})
    d["y"] = rng.normal(size=n) + d["x"]
    r = lmm.fit("y ~ x + (1 | g) + (1 | h:g) + (0 + x | g)", d)
    # h:g has most levels, then g's two terms in reverse formula order (x first), as lme4
    assert list(r.ngroups) == ["h:g", "g"]
    assert r.factors[1].terms == ("x", "Intercept")
    assert list(r.varcorr_table()["grp"]) == ["h:g", "g", "g.1", "Residual"]
    # the fitted values use each term's own column whatever the order
    np.testing.assert_allclose(r.fitted(1).to_numpy(), r.predict(d).to_numpy(), rtol=1e-12)
