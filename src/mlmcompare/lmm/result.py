"""The result of a mixed-model fit: data, in tidy tables (lme4's mkMerMod).

This module owns :class:`LmmResult` and how it is assembled from the
sufficient statistics, the layout of theta and the optimizer's answer:
fixed effects with Satterthwaite t-tests, variance components, likelihood
summaries, BLUPs with conditional SDs, per-group OLS fits (BLUEs), fitted
values and residuals at both levels (streamed chunk by chunk for fits from
files and Dask frames; predictions for new rows), singularity and
convergence verdicts.
Tables use broom's column names in snake_case.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.stats

from . import kernels
from .design import Design
from .objective import ThetaLayout, evaluate
from .optimize import SINGULAR_TOL, OptimizerResult
from .satterthwaite import SatterthwaiteInfo, contrast_df, satterthwaite_setup
from .stats import SufficientStats, z_scale

__all__ = ["LmmResult", "VarCorr", "TIDY_COLUMNS"]

TIDY_COLUMNS = ["term", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"]

#: |correlation| this close to 1 is reported as "at +-1"
CORR_TOL = 1e-6


@dataclass(frozen=True)
class VarCorr:
    """Random-effects covariance: G (q x q, random_terms order), SDs, correlations."""

    G: pd.DataFrame
    sd: pd.Series
    corr: pd.DataFrame
    sigma: float  # residual SD

    @property
    def sigma2(self) -> float:
        return self.sigma**2


def _tidy_rows(names, est, se, df, level: float = 0.95) -> pd.DataFrame:
    est, se, df = (np.asarray(a, dtype=float) for a in (est, se, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    p = 2.0 * scipy.stats.t.sf(np.abs(stat), df)
    crit = scipy.stats.t.ppf(0.5 + level / 2.0, df)
    return pd.DataFrame(
        {
            "term": list(names),
            "estimate": est,
            "std_error": se,
            "df": df,
            "statistic": stat,
            "p_value": p,
            "conf_low": est - crit * se,
            "conf_high": est + crit * se,
        },
        columns=TIDY_COLUMNS,
    )


class LmmResult:
    """A fitted linear mixed model (one grouping factor).  Results are data.

    Construct through :func:`mlmcompare.lmm.fit` or
    :func:`mlmcompare.lmm.fit_from_stats`.
    """

    def __init__(
        self,
        *,
        formula: str | None,
        reml: bool,
        stats: SufficientStats,
        layout: ThetaLayout,
        opt: OptimizerResult,
        fixed_terms: Sequence[str],
        random_terms: Sequence[str],
        group_name: str,
        response: str | None = None,
        block_labels: Sequence[str] | None = None,
        design: Design | None = None,
        source=None,
    ):
        self.formula = formula
        self.reml = bool(reml)
        self.response = response
        self.group_name = group_name
        self.fixed_terms = list(fixed_terms)
        self.random_terms = list(random_terms)
        self.block_labels = list(block_labels) if block_labels is not None else [
            f"block {i + 1}" for i in range(len(layout.block_sizes))
        ]
        self._stats = stats
        self._layout = layout
        self._design = design
        # a chunked source (file, Dask frame): rows are re-read on demand, never held
        self._source = source
        self._opt = opt

        self.nobs = stats.nobs
        self.ngroups = stats.ngroups
        self.groups = stats.groups
        p, k = stats.p, layout.k
        self.df_resid = self.nobs - p
        self.npar = p + k + 1

        theta = np.asarray(opt.theta, dtype=float)
        self.theta = theta
        ev = evaluate(stats, layout, theta)
        self._ev = ev
        self.sigma2 = float(ev.sigma2(self.reml))
        self.sigma = float(np.sqrt(self.sigma2))
        dev = ev.deviance(self.reml)
        self.loglik = -0.5 * dev
        self.reml_criterion = dev if self.reml else None
        # ML deviance (-2 loglik); None for REML fits, whose criterion is reml_criterion
        self.deviance = dev if not self.reml else None
        self.aic = dev + 2.0 * self.npar
        self.bic = dev + np.log(self.nobs) * self.npar

        # fixed effects: the stats work in shifted coordinates gamma
        self._T = stats.beta_map()
        self._beta = stats.beta_from_gamma(ev.gamma)
        self._vcov_gamma = self.sigma2 * kernels.inverse_from_factor(ev.LX)

        # covariance of the random effects
        self.Lambda = layout.make_lambda(theta)
        self._G = self.sigma2 * (self.Lambda @ self.Lambda.T)

        # verdicts
        # lme4's isSingular tolerance, applied in units where each column of
        # Z has unit scale, so that rescaling a predictor cannot make a fit
        # singular (lme4's own check is not scale-free)
        self._unit_lambda = np.diag(z_scale(stats)) @ self.Lambda
        diag = np.diag(self._unit_lambda)
        self.singular = bool(np.any(diag < SINGULAR_TOL))
        self.converged = bool(opt.converged)
        self._fit_warnings: list[str] = []
        if self.singular:
            self._fit_warnings.extend(self._singular_messages())
        if not self.converged:
            self._fit_warnings.append(f"not converged: {opt.message}")
        self.optimizer = opt.summary()

    # Tables and the Satterthwaite set-up are built on first use: a fit whose
    # caller only wants the likelihood (a simulation, a profile, a bootstrap)
    # does not pay for them, as lme4's lmer() leaves df to lmerTest's summary.
    @cached_property
    def group_sizes(self) -> pd.Series:
        return pd.Series(self._stats.n_j.astype(int), index=self.groups, name="n")

    @cached_property
    def fixef(self) -> pd.Series:
        return pd.Series(self._beta, index=self.fixed_terms, name="estimate")

    @cached_property
    def vcov(self) -> pd.DataFrame:
        vb = self._T @ self._vcov_gamma @ self._T.T
        return pd.DataFrame(vb, index=self.fixed_terms, columns=self.fixed_terms)

    @cached_property
    def varcorr(self) -> VarCorr:
        G = self._G
        sd = np.sqrt(np.clip(np.diag(G), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = G / np.outer(sd, sd)
        corr[np.outer(sd, sd) == 0] = np.nan
        np.fill_diagonal(corr, 1.0)
        rt = self.random_terms
        return VarCorr(
            G=pd.DataFrame(G, index=rt, columns=rt),
            sd=pd.Series(sd, index=rt, name="sd"),
            corr=pd.DataFrame(corr, index=rt, columns=rt),
            sigma=self.sigma,
        )

    @cached_property
    def _satt(self) -> SatterthwaiteInfo:
        """Satterthwaite machinery (Hessian in (theta, sigma) at the optimum)."""
        return satterthwaite_setup(self._stats, self._layout, self.theta, self.sigma, self.reml)

    @property
    def warnings(self) -> list[str]:
        """Singular fit, not converged, and troubles of the Hessian in (theta, sigma)."""
        return self._fit_warnings + self._satt.warnings

    # ------------------------------------------------------------------ messages
    def _singular_messages(self) -> list[str]:
        msgs = []
        lay, Lam = self._layout, self._unit_lambda
        start = 0
        for b, size in enumerate(lay.block_sizes):
            idx = list(range(start, start + size))
            start += size
            Lb = Lam[np.ix_(idx, idx)]
            if np.all(np.diag(Lb) >= SINGULAR_TOL):
                continue
            names = [self.random_terms[i] for i in idx]
            rel_sd = np.sqrt((Lb * Lb).sum(axis=1))  # sd / sigma
            found = False
            for i, nm in enumerate(names):
                if rel_sd[i] < SINGULAR_TOL:
                    msgs.append(f"boundary (singular) fit: variance of {nm} estimated at 0")
                    found = True
            Gb = Lb @ Lb.T
            for i in range(size):
                for j in range(i):
                    if rel_sd[i] < SINGULAR_TOL or rel_sd[j] < SINGULAR_TOL:
                        continue
                    r = Gb[i, j] / (rel_sd[i] * rel_sd[j])
                    if abs(r) > 1 - CORR_TOL:
                        msgs.append(
                            f"boundary (singular) fit: {names[j]}-{names[i]} correlation "
                            f"at {'+' if r > 0 else '-'}1"
                        )
                        found = True
            if not found:
                rank = int(np.sum(np.diag(Lb) >= SINGULAR_TOL))
                msgs.append(
                    f"boundary (singular) fit: covariance matrix of {self.block_labels[b]} "
                    f"is singular (rank {rank} of {size})"
                )
        return msgs

    def __repr__(self) -> str:
        crit = "REML criterion" if self.reml else "deviance"
        val = self.reml_criterion if self.reml else self.deviance
        return (
            f"<LmmResult {self.formula!r} {'REML' if self.reml else 'ML'}: nobs={self.nobs}, "
            f"groups={self.ngroups}, loglik={self.loglik:.4f}, {crit}={val:.4f}"
            f"{', singular' if self.singular else ''}"
            f"{'' if self.converged else ', NOT CONVERGED'}>"
        )

    # --------------------------------------------------------------- fixed part
    def _as_matrix(self, L) -> np.ndarray:
        p = len(self.fixed_terms)
        if isinstance(L, Mapping):
            unknown = [t for t in L if t not in self.fixed_terms]
            if unknown:
                raise ValueError(
                    f"unknown term(s) {unknown} in contrast; fixed terms are {self.fixed_terms}"
                )
            vec = np.zeros(p)
            for t, w in L.items():
                vec[self.fixed_terms.index(t)] = float(w)
            return vec[None, :]
        if isinstance(L, pd.Series):
            return self._as_matrix(L.to_dict())
        M = np.asarray(L, dtype=float)
        if M.ndim == 1:
            M = M[None, :]
        if M.ndim != 2 or M.shape[1] != p:
            raise ValueError(
                f"contrast must have {p} columns (one per fixed term: {self.fixed_terms}); "
                f"got shape {np.shape(L)}"
            )
        return M

    def contrast_vcov(self, L) -> np.ndarray:
        """L V L' (k x k): covariances between the contrasts (rows of L)."""
        M = self._as_matrix(L)
        return M @ self.vcov.to_numpy() @ M.T

    def contrast(self, L, names: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
        """Tidy t-tests of L beta, one row per contrast, each with its own Satterthwaite df.

        ``L``: a length-p vector, a k x p array, or a dict {term: weight}.
        """
        M = self._as_matrix(L)
        if names is None:
            names = [f"c{i + 1}" for i in range(M.shape[0])]
        names = list(names)
        if len(names) != M.shape[0]:
            raise ValueError(f"{len(names)} names for {M.shape[0]} contrasts")
        est = M @ self.fixef.to_numpy()
        var, df = contrast_df(self._satt, M @ self._T)
        return _tidy_rows(names, est, np.sqrt(var), df, level)

    @cached_property
    def coef(self) -> pd.DataFrame:
        """Tidy fixed-effects table with Satterthwaite df and 95% t intervals."""
        return self.contrast(np.eye(len(self.fixed_terms)), names=self.fixed_terms)

    # ----------------------------------------------------------- random part
    def varcorr_table(self) -> pd.DataFrame:
        """lme4's as.data.frame(VarCorr(fit)): grp, var1, var2, vcov, sdcor."""
        rows = []
        G, sd, corr = self.varcorr.G.to_numpy(), self.varcorr.sd.to_numpy(), self.varcorr.corr.to_numpy()
        rt = self.random_terms
        start = 0
        for size in self._layout.block_sizes:
            idx = range(start, start + size)
            for i in idx:
                rows.append((self.group_name, rt[i], None, G[i, i], sd[i]))
            for j in idx:
                for i in idx:
                    if i > j:
                        rows.append((self.group_name, rt[j], rt[i], G[i, j], corr[i, j]))
            start += size
        rows.append(("Residual", None, None, self.sigma2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    @cached_property
    def _ranef_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        ev, Lam = self._ev, self.Lambda
        u = ev.c - ev.C @ ev.gamma  # (J, q): L_j u_j... solved below
        u = np.linalg.solve(np.swapaxes(ev.L, 1, 2), u[:, :, None])[:, :, 0]
        b = u @ Lam.T  # b_j = Lambda u_j
        # conditional covariance sigma^2 Lambda (L_j L_j')^{-1} Lambda' (lme4's postVar)
        B = np.linalg.solve(ev.L, np.broadcast_to(Lam.T, ev.L.shape))
        cvar = self.sigma2 * np.einsum("jat,jat->jt", B, B)
        return b, np.sqrt(cvar)

    @cached_property
    def ranef(self) -> pd.DataFrame:
        """BLUPs (conditional modes) and conditional SDs: group, term, estimate, cond_sd."""
        b, csd = self._ranef_arrays
        J, q = b.shape
        return pd.DataFrame(
            {
                "group": np.repeat(self.groups, q),
                "term": np.tile(self.random_terms, J),
                "estimate": b.ravel(),
                "cond_sd": csd.ravel(),
            }
        )

    def ranef_wide(self) -> pd.DataFrame:
        """BLUPs as a group x term table (lme4's ranef(fit)[[group]])."""
        b, _ = self._ranef_arrays
        return pd.DataFrame(b, index=pd.Index(self.groups, name=self.group_name),
                            columns=self.random_terms)

    def coef_by_group(self) -> pd.DataFrame:
        """Fixed plus random effects per group (lme4's coef(fit)[[group]])."""
        wide = self.ranef_wide()
        cols = self.fixed_terms + [t for t in self.random_terms if t not in self.fixed_terms]
        out = pd.DataFrame(0.0, index=wide.index, columns=cols)
        for t in self.fixed_terms:
            out[t] = self.fixef[t]
        for t in self.random_terms:
            out[t] = out[t] + wide[t]
        return out

    @cached_property
    def blue(self) -> pd.DataFrame:
        """Per-group OLS fits of y on the random-term columns (estimate, SE per group and term).

        Groups where the columns are not of full rank get NaN estimates, groups
        without residual df get NaN SEs; both are listed in
        ``blue.attrs["not_estimable"]`` / ``["no_std_error"]`` (also
        :attr:`blue_not_estimable`).
        """
        st = self._stats
        S, n = st.ZtZ, st.n_j
        J, q = S.shape[0], S.shape[1]
        d = np.sqrt(np.clip(np.diagonal(S, axis1=1, axis2=2), 0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            Sn = S / (d[:, :, None] * d[:, None, :])
        Sn = np.where(np.isfinite(Sn), Sn, 0.0)
        ok = (np.linalg.eigvalsh(Sn)[:, 0] > 1e-10) & (d.min(axis=1) > 0)
        est = np.full((J, q), np.nan)
        se = np.full((J, q), np.nan)
        if ok.any():
            Si = np.linalg.inv(S[ok])
            ec = (Si @ st.Zty[ok][:, :, None])[:, :, 0]  # in the shifted response
            h1 = (Si @ st.zsum_j[ok][:, :, None])[:, :, 0]  # S^{-1} Z'1
            s = st.y_shift
            est[ok] = ec + s * h1
            # RSS of the raw response without cancellation (see module docs of stats)
            rss_c = st.yty_j[ok] - np.einsum("jq,jq->j", ec, st.Zty[ok])
            r1 = st.ysum_j[ok] - np.einsum("jq,jq->j", ec, st.zsum_j[ok])
            one_res = n[ok] - np.einsum("jq,jq->j", st.zsum_j[ok], h1)
            rss = np.clip(rss_c + 2 * s * r1 + s * s * one_res, 0.0, None)
            dfj = n[ok] - q
            with np.errstate(divide="ignore", invalid="ignore"):
                s2 = np.where(dfj > 0, rss / dfj, np.nan)
            se[ok] = np.sqrt(s2[:, None] * np.diagonal(Si, axis1=1, axis2=2))
        out = pd.DataFrame(
            {
                "group": np.repeat(self.groups, q),
                "term": np.tile(self.random_terms, J),
                "estimate": est.ravel(),
                "std_error": se.ravel(),
                "n": np.repeat(n.astype(int), q),
            }
        )
        out.attrs["not_estimable"] = list(self.groups[~ok])
        out.attrs["no_std_error"] = list(self.groups[np.isnan(se).any(axis=1) & ok])
        return out

    @property
    def blue_not_estimable(self) -> list:
        return list(self.blue.attrs["not_estimable"])

    # ----------------------------------------------------- fitted, residuals
    def _need_design(self) -> Design:
        if self._design is None:
            if self._source is not None:
                raise ValueError(
                    "this fit was made from chunks (a parquet file or a Dask frame), whose "
                    "rows are not held in memory; use fitted_chunks(level) / "
                    "residual_chunks(level) to stream them, or predict(data) for given rows"
                )
            raise ValueError(
                "fitted values and residuals need the rows; this fit was made from "
                "sufficient statistics only"
            )
        return self._design

    @staticmethod
    def _check_level(level: int) -> None:
        if level not in (0, 1):
            raise ValueError(f"level must be 0 or 1, got {level!r}")

    def _fitted_values(self, X: np.ndarray, Z: np.ndarray, codes: np.ndarray | None,
                       level: int) -> np.ndarray:
        """X beta, plus Z b of each row's group at level 1 (code -1: a group without b)."""
        f = X @ self._beta
        if level == 1:
            b, _ = self._ranef_arrays
            bz = np.vstack([b, np.zeros((1, b.shape[1]))])  # row -1: zero random effects
            f = f + np.einsum("nq,nq->n", Z, bz[codes])
        return f

    def _group_codes_of(self, labels: np.ndarray, allow_new_levels: bool) -> np.ndarray:
        codes = pd.Index(self.groups).get_indexer(labels)
        if not allow_new_levels and np.any(codes < 0):
            new = pd.unique(np.asarray(labels)[codes < 0])
            raise ValueError(
                f"{len(new)} group(s) of {self.group_name!r} not in the fit "
                f"(e.g. {list(new[:5])}); pass allow_new_levels=True to predict them "
                "with zero random effects"
            )
        return codes

    def fitted(self, level: int = 1) -> pd.Series:
        """level=0: X beta (marginal); level=1: X beta + Z b (conditional on the groups)."""
        self._check_level(level)
        d = self._need_design()
        f = self._fitted_values(d.X, d.Z, d.codes, level)
        return pd.Series(f, index=d.index, name=f"fitted_{level}")

    def residuals(self, level: int = 1) -> pd.Series:
        d = self._need_design()
        r = d.y - self.fitted(level).to_numpy()
        return pd.Series(r, index=d.index, name=f"residual_{level}")

    def predict(self, data: pd.DataFrame, level: int = 1, *,
                allow_new_levels: bool = False) -> pd.Series:
        """Predictions for the rows of ``data`` (the model's predictor and group columns).

        Factor levels and columns are read as the fit read its data; at
        level 1 a group not in the fit is refused unless ``allow_new_levels``
        (it then gets zero random effects, lme4's ``allow.new.levels``).
        """
        self._check_level(level)
        spec = self._row_spec()
        if spec.response not in data.columns:  # not needed to predict
            data = data.assign(**{spec.response: 0.0})
        m = spec.matrices(data)
        codes = self._group_codes_of(m.groups, allow_new_levels) if level == 1 else None
        return pd.Series(self._fitted_values(m.X, m.Z, codes, level), index=data.index,
                         name=f"fitted_{level}")

    def _row_spec(self):
        if self._design is not None:
            return self._design.spec
        if self._source is not None:
            return self._source.spec
        raise ValueError("this fit was made from sufficient statistics only; it has no "
                         "row specification to predict with")

    def _chunks(self) -> Iterator[pd.DataFrame]:
        if self._source is not None:
            return self._source.chunks()
        d = self._need_design()
        raise ValueError(
            f"this fit holds its {d.nobs} rows in memory; use fitted() / residuals()"
        )

    def _chunk_series(self, level: int, residual: bool) -> Iterator[pd.Series]:
        self._check_level(level)
        spec = self._row_spec()
        for chunk in self._chunks():
            m = spec.matrices(chunk)
            codes = self._group_codes_of(m.groups, False) if level == 1 else None
            f = self._fitted_values(m.X, m.Z, codes, level)
            yield pd.Series(m.y - f if residual else f, index=chunk.index,
                            name=f"{'residual' if residual else 'fitted'}_{level}")

    def fitted_chunks(self, level: int = 1) -> Iterator[pd.Series]:
        """Fitted values chunk by chunk, re-reading the fit's source (one Series per chunk)."""
        return self._chunk_series(level, residual=False)

    def residual_chunks(self, level: int = 1) -> Iterator[pd.Series]:
        """Residuals chunk by chunk, re-reading the fit's source (one Series per chunk)."""
        return self._chunk_series(level, residual=True)

    # ------------------------------------------------- random-intercept extras
    def _intercept_variance(self) -> float:
        if self.random_terms != ["Intercept"]:
            raise ValueError(
                "icc() and design_effect() are defined for random-intercept-only fits "
                f"((1 | {self.group_name})); this fit has random terms {self.random_terms}"
            )
        return float(self.varcorr.G.iloc[0, 0])

    def icc(self) -> float:
        """Intraclass correlation tau^2 / (tau^2 + sigma^2)."""
        tau2 = self._intercept_variance()
        return tau2 / (tau2 + self.sigma2)

    def design_effect(self, cluster_size: float | None = None) -> float:
        """Kish's design effect 1 + (m - 1) ICC; m defaults to the mean group size."""
        m = self.nobs / self.ngroups if cluster_size is None else float(cluster_size)
        return 1.0 + (m - 1.0) * self.icc()

    # -------------------------------------------------------------- glance
    def glance(self) -> pd.DataFrame:
        """One-row summary in broom's glance names."""
        return pd.DataFrame(
            [{
                "nobs": self.nobs, "ngroups": self.ngroups, "df_resid": self.df_resid,
                "sigma": self.sigma, "loglik": self.loglik, "aic": self.aic, "bic": self.bic,
                "npar": self.npar, "reml": self.reml, "singular": self.singular,
                "converged": self.converged, "warnings": "; ".join(self.warnings),
            }]
        )
