"""Generalized least squares for repeated measures with a chosen covariance structure.

The model: subject i's responses y_i (one per occasion it was measured on)
satisfy y_i ~ N(X_i b, sigma^2 R_i(theta)), independently over subjects,
where R_i is the rows and columns of a k x k matrix R(theta) for subject
i's occasions.  For fixed theta the GLS estimate of b and the scale
sigma^2 have closed forms, so the (RE)ML log-likelihood is maximised over
theta only (the profiled likelihood), with scipy.  The structures
(:data:`STRUCTURES`), as in nlme's ``gls``:

==================  ===================================================  ==========
name                R(theta)                                             parameters
==================  ===================================================  ==========
independence        I                                                    0
compound_symmetry   1 on the diagonal, rho elsewhere (corCompSymm)       1
ar1                 rho^|s - t| (corAR1, occasions in their order)       1
toeplitz            rho_|s - t| (for k occasions corARMA(p = k - 1)      k - 1
                    spans the same set)
heterogeneous       diag(d_1^2, ..., d_k^2), d_1 = 1 (varIdent)          k - 1
unstructured        D C D, C any correlation matrix, D as above          k(k-1)/2 + k - 1
                    (corSymm + varIdent)
==================  ===================================================  ==========

Parameters are mapped to unconstrained ones (logistic, tanh of partial
autocorrelations, log ratios, a unit-diagonal Cholesky factor), so the
optimizer never leaves the set of valid correlation matrices.

Likelihoods follow nlme: with N observations and p coefficients,
ML: -N/2 log(2 pi sigma^2) - 1/2 sum log|R_i| - N/2 with sigma^2 = r'R^-1 r / N;
REML: -(N - p)/2 log(2 pi sigma^2) - 1/2 sum log|R_i| - 1/2 log|X'R^-1 X|
- (N - p)/2 with sigma^2 = r'R^-1 r / (N - p).  The number of parameters
counts b, theta and sigma; BIC uses log N for ML and log(N - p) for REML.
The covariance of b is sigma^2 (X'R^-1 X)^-1 with the REML-type scale
r'R^-1 r / (N - p) also for ML fits.  All as nlme's ``gls`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.optimize

from ..lmm.lrt import likelihood_ratio
from .distributions import t_ppf, t_sf

__all__ = [
    "STRUCTURES",
    "STRUCTURE_LABELS",
    "Structure",
    "GlsResult",
    "fit_gls",
    "fit_gls_long",
    "gls_tables",
    "nested_lrt_table",
    "NESTED_PAIRS",
]


# ----------------------------------------------------------------- structures
def _logistic(t: float) -> float:
    return 1.0 / (1.0 + np.exp(-t))


def _pacf_to_acf(pacf: np.ndarray) -> np.ndarray:
    """Autocorrelations at lags 1..m of the stationary AR(m) with these partial
    autocorrelations (Durbin-Levinson); every Toeplitz correlation matrix that is
    positive definite arises this way from a pacf in (-1, 1)^m."""
    m = len(pacf)
    rho = np.zeros(m + 1)
    rho[0] = 1.0
    phi = np.zeros(0)
    for j in range(m):
        a = pacf[j]
        phi = np.append(phi - a * phi[::-1], a) if j else np.array([a])
        rho[j + 1] = float(np.dot(phi, rho[j::-1][: j + 1]))
    return rho[1:]


def _acf_to_pacf(acf: np.ndarray) -> np.ndarray:
    m = len(acf)
    rho = np.r_[1.0, acf]
    pacf = np.zeros(m)
    phi = np.zeros(0)
    for j in range(m):
        num = rho[j + 1] - (np.dot(phi, rho[j:0:-1]) if j else 0.0)
        den = 1.0 - (np.dot(phi, rho[1 : j + 1]) if j else 0.0)
        a = num / den
        pacf[j] = a
        phi = np.append(phi - a * phi[::-1], a) if j else np.array([a])
    return pacf


def _toeplitz(acf: np.ndarray, k: int) -> np.ndarray:
    r = np.r_[1.0, acf]
    idx = np.abs(np.subtract.outer(np.arange(k), np.arange(k)))
    return r[idx]


def _unit_cholesky_corr(t: np.ndarray, k: int) -> np.ndarray:
    """A correlation matrix from an unconstrained lower triangle (unit diagonal L)."""
    L = np.eye(k)
    L[np.tril_indices(k, -1)] = t
    S = L @ L.T
    d = np.sqrt(np.diag(S))
    return S / np.outer(d, d)


def _corr_to_unit_cholesky(C: np.ndarray) -> np.ndarray:
    L = np.linalg.cholesky(C)
    L = L / np.diag(L)[:, None]
    return L[np.tril_indices(C.shape[0], -1)]


@dataclass(frozen=True)
class Structure:
    """A covariance structure: its size, its relative covariance R(theta), its
    parameters in natural units, and a start from a residual covariance."""

    name: str
    label: str
    n_theta: Callable[[int], int]
    relcov: Callable[[np.ndarray, int], np.ndarray]
    natural: Callable[[np.ndarray, int], dict[str, float]]
    start: Callable[[np.ndarray], np.ndarray]


def _cs_rho(t: np.ndarray, k: int) -> float:
    lo = -1.0 / (k - 1)
    return lo + (1.0 - lo) * _logistic(float(t[0]))


def _cs_start(S: np.ndarray) -> np.ndarray:
    k = S.shape[0]
    C = _cov2cor(S)
    rho = float(np.clip(C[~np.eye(k, dtype=bool)].mean(), -1 / (k - 1) + 1e-3, 1 - 1e-3))
    lo = -1.0 / (k - 1)
    u = (rho - lo) / (1 - lo)
    return np.array([np.log(u / (1 - u))])


def _cov2cor(S: np.ndarray) -> np.ndarray:
    d = np.sqrt(np.diag(S))
    return S / np.outer(d, d)


def _ratios(t: np.ndarray) -> np.ndarray:
    return np.exp(np.r_[0.0, t])


def _ratio_start(S: np.ndarray) -> np.ndarray:
    sd = np.sqrt(np.diag(S))
    return np.log(sd[1:] / sd[0])


def _toeplitz_start(S: np.ndarray) -> np.ndarray:
    k = S.shape[0]
    C = _cov2cor(S)
    acf = np.array([np.mean(np.diag(C, h)) for h in range(1, k)])
    pacf = np.clip(_acf_to_pacf(acf), -0.99, 0.99)
    return np.arctanh(pacf)


def _unstructured_start(S: np.ndarray) -> np.ndarray:
    C = _cov2cor(S)
    k = C.shape[0]
    C = 0.98 * C + 0.02 * np.eye(k)  # a safe interior start
    return np.r_[_corr_to_unit_cholesky(C), _ratio_start(S)]


def _unstructured_relcov(t: np.ndarray, k: int) -> np.ndarray:
    m = k * (k - 1) // 2
    C = _unit_cholesky_corr(t[:m], k)
    d = _ratios(t[m:])
    return C * np.outer(d, d)


def _unstructured_natural(t: np.ndarray, k: int) -> dict[str, float]:
    m = k * (k - 1) // 2
    C = _unit_cholesky_corr(t[:m], k)
    out = {f"rho_{j + 1}{i + 1}": float(C[i, j]) for j in range(k) for i in range(j + 1, k)}
    out.update({f"ratio_{j + 1}": float(r) for j, r in enumerate(_ratios(t[m:]))})
    return out


STRUCTURES: dict[str, Structure] = {
    "independence": Structure(
        "independence", "Independence", lambda k: 0,
        lambda t, k: np.eye(k), lambda t, k: {}, lambda S: np.zeros(0),
    ),
    "compound_symmetry": Structure(
        "compound_symmetry", "Compound symmetry", lambda k: 1,
        lambda t, k: (1 - _cs_rho(t, k)) * np.eye(k) + _cs_rho(t, k),
        lambda t, k: {"rho": _cs_rho(t, k)}, _cs_start,
    ),
    "ar1": Structure(
        "ar1", "AR(1)", lambda k: 1,
        lambda t, k: _toeplitz(np.tanh(t[0]) ** np.arange(1, k), k),
        lambda t, k: {"rho": float(np.tanh(t[0]))},
        lambda S: np.array([np.arctanh(np.clip(np.mean(np.diag(_cov2cor(S), 1)), -0.95, 0.95))]),
    ),
    "toeplitz": Structure(
        "toeplitz", "Toeplitz", lambda k: k - 1,
        lambda t, k: _toeplitz(_pacf_to_acf(np.tanh(t)), k),
        lambda t, k: {f"rho_lag{h + 1}": float(r) for h, r in enumerate(_pacf_to_acf(np.tanh(t)))},
        _toeplitz_start,
    ),
    "heterogeneous": Structure(
        "heterogeneous", "Heterogeneous variances", lambda k: k - 1,
        lambda t, k: np.diag(_ratios(t) ** 2),
        lambda t, k: {f"ratio_{j + 1}": float(r) for j, r in enumerate(_ratios(t))},
        _ratio_start,
    ),
    "unstructured": Structure(
        "unstructured", "Unstructured", lambda k: k * (k - 1) // 2 + k - 1,
        _unstructured_relcov, _unstructured_natural, _unstructured_start,
    ),
}
STRUCTURE_LABELS = {name: s.label for name, s in STRUCTURES.items()}

#: nested pairs (small, big) and what the null hypothesis fixes
NESTED_PAIRS: list[tuple[str, str]] = [
    ("independence", "compound_symmetry"),
    ("independence", "ar1"),
    ("independence", "heterogeneous"),
    ("compound_symmetry", "toeplitz"),
    ("ar1", "toeplitz"),
    ("compound_symmetry", "unstructured"),
    ("toeplitz", "unstructured"),
    ("heterogeneous", "unstructured"),
]


# -------------------------------------------------------------------- the fit
@dataclass
class _Patterns:
    """Subjects grouped by the set of occasions they were measured on."""

    occasions: list[np.ndarray]  # per pattern: occasion indices (sorted)
    y: list[np.ndarray]  # per pattern: (m, len) responses
    X: list[np.ndarray]  # per pattern: (m, len, p) rows of X
    nobs: int
    p: int


def _patterns(y: np.ndarray, X: np.ndarray, subject_codes: np.ndarray, occ: np.ndarray) -> _Patterns:
    order = np.lexsort((occ, subject_codes))
    y, X, s, o = y[order], X[order], subject_codes[order], occ[order]
    starts = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    ends = np.r_[starts[1:], len(s)]
    groups: dict[tuple, list[tuple[int, int]]] = {}
    for a, b in zip(starts, ends):
        key = tuple(o[a:b])
        if len(set(key)) != len(key):
            raise ValueError("a subject has two rows for the same occasion")
        groups.setdefault(key, []).append((a, b))
    occs, ys, Xs = [], [], []
    for key, spans in groups.items():
        occs.append(np.array(key))
        ys.append(np.stack([y[a:b] for a, b in spans]))
        Xs.append(np.stack([X[a:b] for a, b in spans]))
    return _Patterns(occs, ys, Xs, len(y), X.shape[1])


@dataclass
class _Eval:
    loglik: float
    beta: np.ndarray
    sigma2: float
    XtRX: np.ndarray  # X' R^-1 X


def _evaluate(P: _Patterns, R: np.ndarray, reml: bool) -> _Eval:
    p, N = P.p, P.nobs
    A = np.zeros((p, p))
    c = np.zeros(p)
    yy = 0.0
    logdet = 0.0
    for occ, Y, X in zip(P.occasions, P.y, P.X):
        Ri = R[np.ix_(occ, occ)]
        L = np.linalg.cholesky(Ri)
        logdet += Y.shape[0] * 2.0 * np.sum(np.log(np.diag(L)))
        Yw = np.linalg.solve(L, Y.T).T  # (m, len)
        Xw = np.linalg.solve(L[None], X)  # (m, len, p)
        A += np.einsum("mlp,mlq->pq", Xw, Xw)
        c += np.einsum("mlp,ml->p", Xw, Yw)
        yy += float(np.sum(Yw * Yw))
    LA = np.linalg.cholesky(A)
    z = np.linalg.solve(LA, c)
    beta = np.linalg.solve(LA.T, z)
    rss = max(yy - float(z @ z), 1e-300)
    nu = N - p if reml else N
    sigma2 = rss / nu
    ll = -0.5 * nu * (np.log(2 * np.pi * sigma2) + 1.0) - 0.5 * logdet
    if reml:
        ll += -np.sum(np.log(np.diag(LA)))
    return _Eval(float(ll), beta, sigma2, A)


@dataclass
class GlsResult:
    """A GLS fit: coefficients, their covariance, the covariance structure, likelihood."""

    structure: str
    reml: bool
    terms: list[str]
    occasion_labels: list[str]
    beta: np.ndarray
    vcov: np.ndarray
    sigma2: float
    relcov: np.ndarray  # k x k, the covariance is sigma2 * relcov
    theta: np.ndarray
    params: dict[str, float]
    loglik: float
    nobs: int
    n_theta: int
    converged: bool
    optimizer: dict = field(default_factory=dict)

    @property
    def p(self) -> int:
        return len(self.beta)

    @property
    def npar(self) -> int:
        return self.p + self.n_theta + 1

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        n = self.nobs - self.p if self.reml else self.nobs
        return -2.0 * self.loglik + np.log(n) * self.npar

    @property
    def covariance(self) -> np.ndarray:
        return self.sigma2 * self.relcov

    @property
    def correlation(self) -> np.ndarray:
        return _cov2cor(self.covariance)

    @property
    def df_resid(self) -> int:
        return self.nobs - self.p


def _residual_cov(P: _Patterns, k: int) -> np.ndarray:
    """A start: the covariance of OLS residuals of complete subjects (identity if none)."""
    X = np.concatenate([x.reshape(-1, P.p) for x in P.X])
    y = np.concatenate([yy.ravel() for yy in P.y])
    b, *_ = np.linalg.lstsq(X, y, rcond=None)
    for occ, Y, Xp in zip(P.occasions, P.y, P.X):
        if len(occ) == k and Y.shape[0] > k:
            r = Y - Xp @ b
            return np.cov(r, rowvar=False) + 1e-8 * np.eye(k)
    return np.eye(k)


def fit_gls(
    y: np.ndarray,
    X: np.ndarray,
    subjects: Sequence,
    occasions: Sequence[int],
    structure: str,
    reml: bool = True,
    *,
    n_occasions: int | None = None,
    terms: Sequence[str] | None = None,
    occasion_labels: Sequence[str] | None = None,
) -> GlsResult:
    """Fit y ~ N(X b, block-diagonal sigma^2 R) by ML or REML.

    ``occasions``: the integer occasion (0..k-1) of each row; R is indexed by it.
    """
    if structure not in STRUCTURES:
        raise ValueError(f"unknown covariance structure {structure!r}; choose from {list(STRUCTURES)}")
    st = STRUCTURES[structure]
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    occ = np.asarray(occasions, dtype=int)
    k = int(n_occasions if n_occasions is not None else occ.max() + 1)
    codes, _ = pd.factorize(np.asarray(subjects), sort=True)
    P = _patterns(y, X, codes, occ)
    if np.linalg.matrix_rank(X) < X.shape[1]:
        raise ValueError("X is not of full column rank")
    nth = st.n_theta(k)

    def negll(t: np.ndarray) -> float:
        try:
            return -_evaluate(P, st.relcov(t, k), reml).loglik
        except np.linalg.LinAlgError:
            return np.inf

    if nth:
        t0 = np.asarray(st.start(_residual_cov(P, k)), dtype=float)
        best = None
        for method in ("BFGS", "Nelder-Mead", "BFGS"):
            start = t0 if best is None else best.x
            opts = {"gtol": 1e-9, "maxiter": 5000} if method == "BFGS" else {
                "xatol": 1e-10, "fatol": 1e-12, "maxiter": 20000, "maxfev": 40000}
            res = scipy.optimize.minimize(negll, start, method=method, options=opts)
            if best is None or res.fun <= best.fun:
                best = res
        theta = best.x
        info = {"method": "BFGS, Nelder-Mead, BFGS", "n_evals": int(best.nfev), "message": str(best.message)}
        grad = scipy.optimize.approx_fprime(theta, negll, 1e-7)
        info["grad_norm"] = float(np.max(np.abs(grad)))
        converged = bool(np.isfinite(best.fun) and info["grad_norm"] < 1e-3)
    else:
        theta = np.zeros(0)
        info = {"method": "closed form", "n_evals": 1, "message": "", "grad_norm": 0.0}
        converged = True
    R = st.relcov(theta, k)
    ev = _evaluate(P, R, reml)
    scale = ev.sigma2 if reml else ev.sigma2 * P.nobs / (P.nobs - P.p)
    vcov = scale * np.linalg.inv(ev.XtRX)
    return GlsResult(
        structure=structure,
        reml=bool(reml),
        terms=list(terms) if terms is not None else [f"x{i + 1}" for i in range(X.shape[1])],
        occasion_labels=list(occasion_labels) if occasion_labels is not None else [str(i + 1) for i in range(k)],
        beta=ev.beta,
        vcov=vcov,
        sigma2=ev.sigma2,
        relcov=R,
        theta=theta,
        params=st.natural(theta, k),
        loglik=ev.loglik,
        nobs=P.nobs,
        n_theta=nth,
        converged=converged,
        optimizer=info,
    )


def condition_design(conditions: pd.Series, levels: Sequence) -> tuple[np.ndarray, list[str]]:
    """Treatment-coded X (intercept + one column per non-reference level), term names
    in formulaic's style (``Intercept``, ``store[T.B]``)."""
    name = conditions.name or "condition"
    cols = [np.ones(len(conditions))]
    terms = ["Intercept"]
    for lv in levels[1:]:
        cols.append((conditions.astype(str) == str(lv)).to_numpy(float))
        terms.append(f"{name}[T.{lv}]")
    return np.column_stack(cols), terms


def fit_gls_long(
    data: pd.DataFrame, subject: str, condition: str, response: str, levels: Sequence,
    structure: str, reml: bool,
) -> GlsResult:
    """``response ~ condition`` with the chosen structure over the conditions (long data)."""
    lv = [str(v) for v in levels]
    cond = data[condition].astype(str)
    X, terms = condition_design(cond.rename(condition), lv)
    occ = cond.map({v: i for i, v in enumerate(lv)}).to_numpy()
    return fit_gls(
        data[response].to_numpy(float), X, data[subject].astype(str).to_numpy(), occ, structure, reml,
        n_occasions=len(lv), terms=terms, occasion_labels=lv,
    )


# ------------------------------------------------------------------- tables
def gls_tables(fits: Sequence[GlsResult], level: float = 0.95) -> dict[str, pd.DataFrame]:
    """fits (glance), coef (tidy, df = N - p as nlme), covariance (long), params (long)."""
    fit_rows, coef_rows, cov_rows, par_rows = [], [], [], []
    for f in fits:
        method = "REML" if f.reml else "ML"
        fit_rows.append({
            "structure": f.structure, "label": STRUCTURE_LABELS[f.structure], "method": method,
            "nobs": f.nobs, "npar": f.npar, "n_cov_params": f.n_theta + 1, "sigma": float(np.sqrt(f.sigma2)),
            "loglik": f.loglik, "aic": f.aic, "bic": f.bic, "converged": f.converged,
            "grad_norm": float(f.optimizer.get("grad_norm", np.nan)),
        })
        se = np.sqrt(np.diag(f.vcov))
        df = float(f.df_resid)
        q = t_ppf(0.5 + level / 2, df)
        for term, b, s in zip(f.terms, f.beta, se):
            coef_rows.append({
                "structure": f.structure, "method": method, "term": term, "estimate": float(b),
                "std_error": float(s), "df": df, "statistic": float(b / s),
                "p_value": float(2 * t_sf(abs(b / s), df)),
                "conf_low": float(b - q * s), "conf_high": float(b + q * s),
            })
        V, C = f.covariance, f.correlation
        for i, a in enumerate(f.occasion_labels):
            for j, b in enumerate(f.occasion_labels):
                cov_rows.append({"structure": f.structure, "method": method, "row": a, "col": b,
                                 "covariance": float(V[i, j]), "correlation": float(C[i, j])})
        par_rows.append({"structure": f.structure, "method": method, "parameter": "sigma",
                         "estimate": float(np.sqrt(f.sigma2))})
        for name, value in f.params.items():
            par_rows.append({"structure": f.structure, "method": method, "parameter": name, "estimate": value})
    return {
        "fits": pd.DataFrame(fit_rows),
        "coef": pd.DataFrame(coef_rows),
        "covariance": pd.DataFrame(cov_rows),
        "params": pd.DataFrame(par_rows),
    }


def nested_lrt_table(fits: Sequence[GlsResult], pairs: Sequence[tuple[str, str]] = NESTED_PAIRS) -> pd.DataFrame:
    """LRTs between nested structures (same fixed part, so valid for REML too).

    The null values are interior points (a correlation of 0, equal
    correlations, variance ratios of 1), so the reference is chi-square with
    the difference in parameters.  One boundary case is added: independence
    against a random intercept for subjects, the compound-symmetry fit with
    its correlation restricted to be >= 0 (the subject variance >= 0); under
    the null that variance sits on the boundary and the reference is
    1/2 chi2_0 + 1/2 chi2_1.
    """
    by = {(f.structure, f.reml): f for f in fits}
    rows = []
    for reml in (False, True):
        for small, big in pairs:
            if (small, reml) not in by or (big, reml) not in by:
                continue
            fs, fb = by[(small, reml)], by[(big, reml)]
            df = fb.npar - fs.npar
            stat, p, _ = likelihood_ratio(fs.loglik, fb.loglik, df)
            rows.append({
                "method": "REML" if reml else "ML", "small": small, "big": big,
                "loglik_small": fs.loglik, "loglik_big": fb.loglik, "statistic": stat, "df": float(df),
                "p_value": p, "reference": "chi-square",
            })
        cs, ind = by.get(("compound_symmetry", reml)), by.get(("independence", reml))
        if cs is not None and ind is not None:
            rho = cs.params["rho"]
            ll_big = cs.loglik if rho >= 0 else ind.loglik  # restricted to rho >= 0
            stat, _, p = likelihood_ratio(ind.loglik, ll_big, 1, boundary=True)
            stat = max(stat, 0.0)
            rows.append({
                "method": "REML" if reml else "ML", "small": "independence", "big": "random_intercept",
                "loglik_small": ind.loglik, "loglik_big": ll_big, "statistic": stat, "df": 1.0,
                "p_value": p, "reference": "chi-bar-square 1/2 chi2_0 + 1/2 chi2_1",
            })
    return pd.DataFrame(rows)
