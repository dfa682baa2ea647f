"""The result of a mixed-model fit: data, in tidy tables (lme4's mkMerMod).

This module owns :class:`LmmResult` and how it is assembled from the
statistics, the layout of theta and the optimizer's answer, for one grouping
factor (:class:`~mlmcompare.lmm.stats.SufficientStats`) or several
(:class:`~mlmcompare.lmm.blocked.BlockedStats`): fixed effects with
Satterthwaite t-tests, variance components per factor, likelihood summaries,
BLUPs with conditional SDs per factor, per-group OLS fits (BLUEs, one
factor), fitted values and residuals at each level (streamed chunk by chunk
for fits from files and Dask frames; predictions for new rows), intraclass
correlations, singularity and convergence verdicts.

It speaks lme4's language for the model (``fixef``, ``ranef``, ``vcov``,
``varcorr``, ``summary()`` as lme4's ``summary(lmer)`` with lmerTest) and
broom's for tables (``tidy()``, ``glance()``, ``augment()``, column names in
snake_case).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..estimation.distributions import t_ppf, t_sf
from . import kernels
from .blocked import BlockedFit, BlockedStats
from .design import ChunkMatrices, Design
from .objective import ThetaLayout, evaluate, varpar_gradient, vcov_jacobian
from .optimize import SINGULAR_TOL, OptimizerResult
from .satterthwaite import SatterthwaiteInfo, contrast_df, satterthwaite_info
from .stats import SufficientStats, z_scale
from .summary import LmmSummary

__all__ = ["LmmResult", "VarCorr", "FactorInfo", "TIDY_COLUMNS"]

TIDY_COLUMNS = ["term", "estimate", "std_error", "df", "statistic", "p_value", "conf_low", "conf_high"]

#: |correlation| this close to 1 is reported as "at +-1"
CORR_TOL = 1e-6


@dataclass(frozen=True)
class VarCorr:
    """Random-effects covariance: G, SDs, correlations; sigma the residual SD.

    One grouping factor: indexed by its random terms.  Several: by (group,
    term) pairs (a MultiIndex), G block-diagonal across factors.
    """

    G: pd.DataFrame
    sd: pd.Series
    corr: pd.DataFrame
    sigma: float  # residual SD

    @property
    def sigma2(self) -> float:
        return self.sigma**2


@dataclass(frozen=True)
class FactorInfo:
    """One grouping factor of a fit, in lme4's order of factors."""

    name: str  # lme4's name, e.g. "school" or "class:school"
    levels: np.ndarray  # (l,) labels
    n: np.ndarray  # (l,) rows per level
    terms: tuple[str, ...]  # its random-effect columns
    block_sizes: tuple[int, ...]
    block_labels: tuple[str, ...]  # the bar each block comes from
    off: int  # first column of its lambda in the template Lambda
    spec_index: int  # its position in the row spec's factors (formula order)
    z_index: tuple[int, ...] = ()  # its terms' columns of the row spec's Z

    @property
    def q(self) -> int:
        return len(self.terms)

    def vc_names(self) -> list[str]:
        """lme4's as.data.frame(VarCorr()) group names: one per block, repeats made unique."""
        return [self.name if b == 0 else f"{self.name}.{b}" for b in range(len(self.block_sizes))]


def _tidy_rows(names, est, se, df, level: float = 0.95) -> pd.DataFrame:
    est, se, df = (np.asarray(a, dtype=float) for a in (est, se, df))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = est / se
    p = 2.0 * t_sf(np.abs(stat), df)
    crit = t_ppf(0.5 + level / 2.0, df)
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


# ------------------------------------------------------------------ engines
class _OneFactor:
    """What the result asks of the one-factor engine (the per-group statistics)."""

    def __init__(self, stats: SufficientStats, layout: ThetaLayout):
        self.stats, self.layout = stats, layout

    def evaluate(self, theta: np.ndarray):
        return evaluate(self.stats, self.layout, theta)

    def z_rms(self) -> np.ndarray:
        return z_scale(self.stats)

    def varpar_gradient(self, varpar: np.ndarray, reml: bool) -> np.ndarray:
        return varpar_gradient(self.stats, self.layout, varpar, reml)

    def vcov_jacobian(self, varpar: np.ndarray):
        return vcov_jacobian(self.stats, self.layout, varpar)

    def ranef_arrays(self, ev, sigma2: float) -> list[tuple[np.ndarray, np.ndarray]]:
        Lam = ev.Lam
        u = ev.c - ev.C @ ev.gamma  # (J, q): L_j u_j ... solved below
        u = np.linalg.solve(np.swapaxes(ev.L, 1, 2), u[:, :, None])[:, :, 0]
        b = u @ Lam.T  # b_j = Lambda u_j
        # conditional covariance sigma^2 Lambda (L_j L_j')^{-1} Lambda' (lme4's postVar)
        B = np.linalg.solve(ev.L, np.broadcast_to(Lam.T, ev.L.shape))
        cvar = sigma2 * np.einsum("jat,jat->jt", B, B)
        return [(b, np.sqrt(cvar))]


def _factors_of(stats, layout: ThetaLayout, random_terms, group_name, block_labels,
                spec) -> list[FactorInfo]:
    if isinstance(stats, BlockedStats):
        order = stats.fit_order()
        out, off = [], 0
        for f in order:
            fs = stats.factors[f]
            cols = list(fs.columns or range(fs.q))
            starts = np.cumsum([0] + list(fs.block_sizes[:-1]))
            if spec is not None:
                fspec = spec.factors[f]
                # a block's bar: that of its first column in the formula order
                bar_of_col = [lab for lab, size in zip(fspec.block_bars, fspec.block_sizes)
                              for _ in range(size)]
                labels = tuple(bar_of_col[cols[s0]] for s0 in starts)
                z_index = tuple(fspec.z_index[c] for c in cols)
            else:
                labels = tuple(f"({' + '.join(fs.terms)} | {fs.name})" for _ in fs.block_sizes)
                z_index = ()
            out.append(FactorInfo(name=fs.name, levels=fs.levels, n=fs.n, terms=tuple(fs.terms),
                                  block_sizes=fs.block_sizes, block_labels=labels, off=off,
                                  spec_index=f, z_index=z_index))
            off += fs.q
        return out
    labels = tuple(block_labels) if block_labels is not None else tuple(
        f"block {i + 1}" for i in range(len(layout.block_sizes)))
    return [FactorInfo(name=group_name, levels=stats.groups, n=stats.n_j, terms=tuple(random_terms),
                       block_sizes=layout.block_sizes, block_labels=labels, off=0, spec_index=0)]


class LmmResult:
    """A fitted linear mixed model (one or several grouping factors).  Results are data.

    Construct through :func:`mlmcompare.lmm.fit` or
    :func:`mlmcompare.lmm.fit_from_stats`.

    Names: lme4's accessors (``fixef``, ``ranef``, ``vcov``, ``varcorr``,
    ``summary()``) and broom's tables (``tidy()``, ``glance()``,
    ``augment()``).  ``coef`` is the tidy fixed-effects table (as
    ``tidy("fixed")`` without the effect column) and ``df_resid`` is
    ``glance()``'s ``df_residual``; both stay for the callers that use them.
    """

    def __init__(
        self,
        *,
        formula: str | None,
        reml: bool,
        stats: SufficientStats | BlockedStats,
        layout: ThetaLayout,
        opt: OptimizerResult,
        fixed_terms: Sequence[str],
        random_terms: Sequence[str] | None = None,
        group_name: str | None = None,
        response: str | None = None,
        block_labels: Sequence[str] | None = None,
        design: Design | None = None,
        source=None,
    ):
        self.formula = formula
        self.reml = bool(reml)
        self.response = response
        self._stats = stats
        self._layout = layout
        self._design = design
        # a chunked source (file, Dask frame): rows are re-read on demand, never held
        self._source = source
        self._opt = opt
        spec = design.spec if design is not None else (source.spec if source is not None else None)
        several = isinstance(stats, BlockedStats)
        self._engine = (BlockedFit(stats, layout, opt.objective) if several
                        else _OneFactor(stats, layout))
        self.factors = _factors_of(stats, layout, random_terms, group_name, block_labels, spec)
        self.several = several
        self.fixed_terms = list(fixed_terms)
        self.random_terms = [t for f in self.factors for t in f.terms]
        self.group_names = [f.name for f in self.factors]
        self.group_name = self.group_names[0] if not several else " + ".join(self.group_names)
        self.block_labels = [lab for f in self.factors for lab in f.block_labels]

        self.nobs = stats.nobs
        if several:
            self.ngroups = {f.name: int(len(f.levels)) for f in self.factors}
            self.groups = {f.name: f.levels for f in self.factors}
        else:
            self.ngroups = int(len(self.factors[0].levels))
            self.groups = self.factors[0].levels
        p, k = stats.p, layout.k
        self.df_resid = self.nobs - p
        self.npar = p + k + 1

        theta = np.asarray(opt.theta, dtype=float)
        self.theta = theta
        ev = self._engine.evaluate(theta)
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

        # covariance of the random effects (template: the factors' blocks on the diagonal)
        self.Lambda = layout.make_lambda(theta)
        self._G = self.sigma2 * (self.Lambda @ self.Lambda.T)

        # verdicts
        # lme4's isSingular tolerance, applied in units where each column of
        # Z has unit scale, so that rescaling a predictor cannot make a fit
        # singular (lme4's own check is not scale-free)
        self._unit_lambda = np.diag(self._engine.z_rms()) @ self.Lambda
        diag = np.diag(self._unit_lambda)
        self.singular = bool(np.any(diag < SINGULAR_TOL))
        self.converged = bool(opt.converged)
        self._fit_warnings: list[str] = []
        if self.singular:
            self._fit_warnings.extend(self._singular_messages())
        if not self.converged:
            self._fit_warnings.append(f"not converged: {opt.message}")
        self.optimizer = opt.summary()

    # ------------------------------------------------------------- factors
    def _factor(self, group: str | None) -> FactorInfo:
        """The named grouping factor; the only one when ``group`` is None."""
        if group is None:
            if self.several:
                raise ValueError(
                    f"this fit has several grouping factors ({', '.join(self.group_names)}); "
                    "name one with group="
                )
            return self.factors[0]
        for f in self.factors:
            if f.name == group:
                return f
        raise ValueError(f"no grouping factor {group!r}; the fit has {', '.join(self.group_names)}")

    # Tables and the Satterthwaite set-up are built on first use: a fit whose
    # caller only wants the likelihood (a simulation, a profile, a bootstrap)
    # does not pay for them, as lme4's lmer() leaves df to lmerTest's summary.
    @cached_property
    def group_sizes(self) -> pd.Series:
        """Rows per level (one factor: indexed by level; several: by (group, level))."""
        if not self.several:
            f = self.factors[0]
            return pd.Series(f.n.astype(int), index=f.levels, name="n")
        idx = pd.MultiIndex.from_tuples([(f.name, lv) for f in self.factors for lv in f.levels],
                                        names=["grpvar", "group"])
        return pd.Series(np.concatenate([f.n for f in self.factors]).astype(int), index=idx, name="n")

    @cached_property
    def fixef(self) -> pd.Series:
        return pd.Series(self._beta, index=self.fixed_terms, name="estimate")

    @property
    def fixef_array(self) -> np.ndarray:
        """The fixed effects as an array, in the order of ``fixed_terms``."""
        return self._beta.copy()

    @cached_property
    def vcov_array(self) -> np.ndarray:
        """Their covariance matrix as an array (``vcov`` without the labels)."""
        vb = self._T @ self._vcov_gamma @ self._T.T
        vb.flags.writeable = False
        return vb

    @cached_property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self.vcov_array.copy(), index=self.fixed_terms, columns=self.fixed_terms)

    def _re_index(self):
        if not self.several:
            return pd.Index(self.random_terms)
        return pd.MultiIndex.from_tuples([(f.name, t) for f in self.factors for t in f.terms],
                                         names=["group", "term"])

    @cached_property
    def varcorr(self) -> VarCorr:
        G = self._G
        sd = np.sqrt(np.clip(np.diag(G), 0.0, None))
        with np.errstate(divide="ignore", invalid="ignore"):
            corr = G / np.outer(sd, sd)
        corr[np.outer(sd, sd) == 0] = np.nan
        np.fill_diagonal(corr, 1.0)
        rt = self._re_index()
        return VarCorr(
            G=pd.DataFrame(G, index=rt, columns=rt),
            sd=pd.Series(sd, index=rt, name="sd"),
            corr=pd.DataFrame(corr, index=rt, columns=rt),
            sigma=self.sigma,
        )

    @cached_property
    def _satt(self) -> SatterthwaiteInfo:
        """Satterthwaite machinery (Hessian in (theta, sigma) at the optimum)."""
        eng = self._engine
        return satterthwaite_info(
            self._layout, self.theta, self.sigma,
            gradient=lambda v: eng.varpar_gradient(v, self.reml),
            jacobian=eng.vcov_jacobian, z_rms=eng.z_rms())

    @property
    def warnings(self) -> list[str]:
        """Singular fit, not converged, and troubles of the Hessian in (theta, sigma)."""
        return self._fit_warnings + self._satt.warnings

    # ------------------------------------------------------------------ messages
    def _blocks(self) -> Iterator[tuple[FactorInfo, int, list[int]]]:
        """(factor, block number within it, template columns) of every covariance block."""
        for f in self.factors:
            start = f.off
            for b, size in enumerate(f.block_sizes):
                yield f, b, list(range(start, start + size))
                start += size

    def _singular_messages(self) -> list[str]:
        msgs = []
        Lam = self._unit_lambda
        for f, b, idx in self._blocks():
            Lb = Lam[np.ix_(idx, idx)]
            if np.all(np.diag(Lb) >= SINGULAR_TOL):
                continue
            where = f" ({f.name})" if self.several else ""
            names = [f.terms[i - f.off] for i in idx]
            size = len(idx)
            rel_sd = np.sqrt((Lb * Lb).sum(axis=1))  # sd / sigma
            found = False
            for i, nm in enumerate(names):
                if rel_sd[i] < SINGULAR_TOL:
                    msgs.append(f"boundary (singular) fit: variance of {nm}{where} estimated at 0")
                    found = True
            Gb = Lb @ Lb.T
            for i in range(size):
                for j in range(i):
                    if rel_sd[i] < SINGULAR_TOL or rel_sd[j] < SINGULAR_TOL:
                        continue
                    r = Gb[i, j] / (rel_sd[i] * rel_sd[j])
                    if abs(r) > 1 - CORR_TOL:
                        msgs.append(
                            f"boundary (singular) fit: {names[j]}-{names[i]} correlation{where} "
                            f"at {'+' if r > 0 else '-'}1"
                        )
                        found = True
            if not found:
                rank = int(np.sum(np.diag(Lb) >= SINGULAR_TOL))
                msgs.append(
                    f"boundary (singular) fit: covariance matrix of {f.block_labels[b]} "
                    f"is singular (rank {rank} of {size})"
                )
        return msgs

    def singular_terms(self) -> pd.DataFrame:
        """Per covariance block: group (lme4's name), terms, rank and whether it is singular."""
        rows = []
        for f, b, idx in self._blocks():
            Lb = self._unit_lambda[np.ix_(idx, idx)]
            rank = int(np.sum(np.diag(Lb) >= SINGULAR_TOL))
            rows.append({"group": f.vc_names()[b], "terms": ", ".join(f.terms[i - f.off] for i in idx),
                         "size": len(idx), "rank": rank, "singular": rank < len(idx)})
        return pd.DataFrame(rows, columns=["group", "terms", "size", "rank", "singular"])

    def __repr__(self) -> str:
        crit = "REML criterion" if self.reml else "deviance"
        val = self.reml_criterion if self.reml else self.deviance
        groups = (f"groups={self.ngroups}" if not self.several else
                  "groups=" + ", ".join(f"{k}: {v}" for k, v in self.ngroups.items()))
        return (
            f"<LmmResult {self.formula!r} {'REML' if self.reml else 'ML'}: nobs={self.nobs}, "
            f"{groups}, loglik={self.loglik:.4f}, {crit}={val:.4f}"
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
        var, df = self.contrast_variance_df(M)
        return _tidy_rows(names, M @ self._beta, np.sqrt(var), df, level)

    def contrast_variance_df(self, L) -> tuple[np.ndarray, np.ndarray]:
        """The variance and Satterthwaite df of each contrast (rows of ``L``), as arrays:
        :meth:`contrast`'s numbers without the table."""
        return contrast_df(self._satt, self._as_matrix(L) @ self._T)

    @cached_property
    def coef(self) -> pd.DataFrame:
        """Tidy fixed-effects table with Satterthwaite df and 95% t intervals (= tidy("fixed"))."""
        return self.contrast(np.eye(len(self.fixed_terms)), names=self.fixed_terms)

    # ----------------------------------------------------------- random part
    def varcorr_table(self) -> pd.DataFrame:
        """lme4's as.data.frame(VarCorr(fit)): grp, var1, var2, vcov, sdcor.

        One row per variance and per covariance of each block, blocks in
        lme4's order, with lme4's group names (``school``, ``school.1`` for a
        second block of the same factor, ``class:school``), then the residual.
        """
        rows = []
        G, sd, corr = self._G, self.varcorr.sd.to_numpy(), self.varcorr.corr.to_numpy()
        for f, b, idx in self._blocks():
            grp = f.vc_names()[b]
            for i in idx:
                rows.append((grp, f.terms[i - f.off], None, G[i, i], sd[i]))
            for j in idx:
                for i in idx:
                    if i > j:
                        rows.append((grp, f.terms[j - f.off], f.terms[i - f.off], G[i, j], corr[i, j]))
        rows.append(("Residual", None, None, self.sigma2, self.sigma))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    @cached_property
    def _ranef_per_factor(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(b (l, q), conditional SD (l, q)) per factor, in lme4's order."""
        return self._engine.ranef_arrays(self._ev, self.sigma2)

    @property
    def _ranef_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The one factor's (b, conditional SD)."""
        return self._ranef_per_factor[self.factors.index(self._factor(None))]

    @cached_property
    def ranef(self) -> pd.DataFrame:
        """BLUPs (conditional modes) and conditional SDs: group, term, estimate, cond_sd.

        ``group`` is the level; with several factors a first column ``grpvar``
        names the factor (lme4's as.data.frame(ranef()) names), factors in
        lme4's order.
        """
        parts = []
        for f, (b, csd) in zip(self.factors, self._ranef_per_factor):
            J, q = b.shape
            part = {
                "group": np.repeat(f.levels, q),
                "term": np.tile(list(f.terms), J),
                "estimate": b.ravel(),
                "cond_sd": csd.ravel(),
            }
            if self.several:
                part = {"grpvar": np.full(J * q, f.name, dtype=object), **part}
            parts.append(pd.DataFrame(part))
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def ranef_wide(self, group: str | None = None) -> pd.DataFrame:
        """BLUPs as a level x term table (lme4's ranef(fit)[[group]])."""
        f = self._factor(group)
        b, _ = self._ranef_per_factor[self.factors.index(f)]
        return pd.DataFrame(b, index=pd.Index(f.levels, name=f.name), columns=list(f.terms))

    def coef_by_group(self, group: str | None = None) -> pd.DataFrame:
        """Fixed plus the factor's random effects per level (lme4's coef(fit)[[group]])."""
        f = self._factor(group)
        wide = self.ranef_wide(f.name)
        cols = self.fixed_terms + [t for t in f.terms if t not in self.fixed_terms]
        out = pd.DataFrame(0.0, index=wide.index, columns=cols)
        for t in self.fixed_terms:
            out[t] = self.fixef[t]
        for t in f.terms:
            out[t] = out[t] + wide[t]
        return out

    @cached_property
    def blue(self) -> pd.DataFrame:
        """Per-group OLS fits of y on the random-term columns (estimate, SE per group and term).

        Groups where the columns are not of full rank get NaN estimates, groups
        without residual df get NaN SEs; both are listed in
        ``blue.attrs["not_estimable"]`` / ``["no_std_error"]`` (also
        :attr:`blue_not_estimable`).  One grouping factor only.
        """
        if self.several:
            raise ValueError("per-group OLS fits (BLUEs) are defined for one grouping factor; "
                             f"this fit has {', '.join(self.group_names)}")
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

    def _levels_used(self, level) -> list[FactorInfo]:
        """The factors whose random effects a fitted value at ``level`` includes.

        0: none (X beta); 1: all; a factor's name or a list of names: those
        (lme4's re.form with those factors' terms).
        """
        if isinstance(level, (bool, np.bool_)):
            raise ValueError(f"level must be 0, 1 or grouping factor name(s), got {level!r}")
        if isinstance(level, (int, np.integer)):
            if level == 0:
                return []
            if level == 1:
                return list(self.factors)
            raise ValueError(f"level must be 0 or 1 (or grouping factor name(s)), got {level!r}")
        names = [level] if isinstance(level, str) else list(level)
        return [self._factor(n) for n in names]

    @staticmethod
    def _level_name(level) -> str:
        if isinstance(level, (int, np.integer)):
            return str(int(level))
        return level if isinstance(level, str) else "+".join(level)

    def _fitted_values(self, X: np.ndarray, Z: np.ndarray, codes: Sequence[np.ndarray | None],
                       use: Sequence[FactorInfo]) -> np.ndarray:
        """X beta, plus Z_f b_f of each row's level for the factors in ``use`` (code -1: b = 0).

        ``codes`` are per factor in lme4's order (None for factors not used).
        """
        f_all = X @ self._beta
        spec_z = self._z_columns()
        for f in use:
            k = self.factors.index(f)
            b, _ = self._ranef_per_factor[k]
            bz = np.vstack([b, np.zeros((1, b.shape[1]))])  # row -1: zero random effects
            f_all = f_all + np.einsum("nq,nq->n", Z[:, spec_z[k]], bz[codes[k]])
        return f_all

    def _z_columns(self) -> list[list[int]]:
        """Per factor (lme4's order), its columns of the row spec's Z."""
        if not self.several:
            return [list(range(len(self.random_terms)))]
        return [list(f.z_index) for f in self.factors]

    def _codes_of(self, m: ChunkMatrices, use: Sequence[FactorInfo],
                  allow_new_levels: bool) -> list[np.ndarray | None]:
        """Each row's level code (into the fit's levels; -1 for a new level) per factor used."""
        out: list[np.ndarray | None] = [None] * len(self.factors)
        for f in use:
            k = self.factors.index(f)
            if self.several:
                chunk_codes, chunk_levels = m.factors[f.spec_index]
                codes = pd.Index(f.levels).get_indexer(chunk_levels)[chunk_codes]
                labels = None
            else:
                codes = pd.Index(f.levels).get_indexer(m.groups)
                labels = m.groups
            if not allow_new_levels and np.any(codes < 0):
                if labels is None:
                    cc, cl = m.factors[f.spec_index]
                    labels = np.asarray(cl)[cc]
                new = pd.unique(np.asarray(labels)[codes < 0])
                raise ValueError(
                    f"{len(new)} group(s) of {f.name!r} not in the fit "
                    f"(e.g. {list(new[:5])}); pass allow_new_levels=True to predict them "
                    "with zero random effects"
                )
            out[k] = codes
        return out

    def _design_codes(self, d: Design) -> list[np.ndarray]:
        if not self.several:
            return [d.codes]
        return [d.factor_codes[f.spec_index] for f in self.factors]

    def fitted(self, level: int | str | Sequence[str] = 1) -> pd.Series:
        """Fitted values: level 0 X beta; 1 X beta + Z b (all factors); or the named factors only."""
        use = self._levels_used(level)
        d = self._need_design()
        f = self._fitted_values(d.X, d.Z, self._design_codes(d), use)
        return pd.Series(f, index=d.index, name=f"fitted_{self._level_name(level)}")

    def residuals(self, level: int | str | Sequence[str] = 1) -> pd.Series:
        d = self._need_design()
        r = d.y - self.fitted(level).to_numpy()
        return pd.Series(r, index=d.index, name=f"residual_{self._level_name(level)}")

    def predict(self, data: pd.DataFrame, level: int | str | Sequence[str] = 1, *,
                allow_new_levels: bool = False) -> pd.Series:
        """Predictions for the rows of ``data`` (the model's predictor and group columns).

        Factor levels and columns are read as the fit read its data; a level
        of a grouping factor not in the fit is refused, naming the factor,
        unless ``allow_new_levels`` (it then gets zero random effects, lme4's
        ``allow.new.levels``).  ``level`` as for :meth:`fitted`.
        """
        use = self._levels_used(level)
        spec = self._row_spec()
        if spec.response not in data.columns:  # not needed to predict
            data = data.assign(**{spec.response: 0.0})
        m = spec.matrices(data)
        codes = self._codes_of(m, use, allow_new_levels)
        return pd.Series(self._fitted_values(m.X, m.Z, codes, use), index=data.index,
                         name=f"fitted_{self._level_name(level)}")

    def _row_spec_or_none(self):
        if self._design is not None:
            return self._design.spec
        if self._source is not None:
            return self._source.spec
        return None

    def _row_spec(self):
        spec = self._row_spec_or_none()
        if spec is None:
            raise ValueError("this fit was made from sufficient statistics only; it has no "
                             "row specification to predict with")
        return spec

    def _chunks(self) -> Iterator[pd.DataFrame]:
        if self._source is not None:
            return self._source.chunks()
        d = self._need_design()
        raise ValueError(
            f"this fit holds its {d.nobs} rows in memory; use fitted() / residuals()"
        )

    def _chunk_series(self, level, residual: bool) -> Iterator[pd.Series]:
        use = self._levels_used(level)
        spec = self._row_spec()
        for chunk in self._chunks():
            m = spec.matrices(chunk)
            codes = self._codes_of(m, use, False)
            f = self._fitted_values(m.X, m.Z, codes, use)
            yield pd.Series(m.y - f if residual else f, index=chunk.index,
                            name=f"{'residual' if residual else 'fitted'}_{self._level_name(level)}")

    def fitted_chunks(self, level: int | str | Sequence[str] = 1) -> Iterator[pd.Series]:
        """Fitted values chunk by chunk, re-reading the fit's source (one Series per chunk)."""
        return self._chunk_series(level, residual=False)

    def residual_chunks(self, level: int | str | Sequence[str] = 1) -> Iterator[pd.Series]:
        """Residuals chunk by chunk, re-reading the fit's source (one Series per chunk)."""
        return self._chunk_series(level, residual=True)

    # ------------------------------------------------- intraclass correlations
    def _intercept_variances(self) -> dict[str, float]:
        bad = [f.name for f in self.factors if list(f.terms) != ["Intercept"]]
        if bad:
            if not self.several:
                raise ValueError(
                    "icc() and design_effect() are defined for random-intercept-only fits "
                    f"((1 | {self.group_name})); this fit has random terms {self.random_terms}"
                )
            raise ValueError(
                "icc() and design_effect() are defined for random-intercept-only fits; "
                f"grouping factor(s) {', '.join(map(repr, bad))} have other random terms"
            )
        return {f.name: float(self._G[f.off, f.off]) for f in self.factors}

    def _nested_in(self) -> dict[str, list[str]]:
        """For each factor, the factors it is nested in (each of its levels within one of theirs)."""
        out = {f.name: [] for f in self.factors}
        if not self.several:
            return out
        st: BlockedStats = self._stats
        for c in st.cross:
            a, b = st.factors[c.s], st.factors[c.t]
            if np.all(np.bincount(c.i, minlength=a.nlevels) == 1):
                out[a.name].append(b.name)
            if np.all(np.bincount(c.j, minlength=b.nlevels) == 1):
                out[b.name].append(a.name)
        return out

    def icc_table(self) -> pd.DataFrame:
        """Per grouping factor: the intraclass correlation, mean level size and design effect.

        The ICC of factor g is the correlation of two rows that share g's
        level: the variances of g and of every factor g is nested in, over
        the total variance (sum of the variances plus sigma^2); the design
        effect is Kish's 1 + (m - 1) ICC with m the mean rows per level of g.
        Random-intercept models only.
        """
        tau = self._intercept_variances()
        total = sum(tau.values()) + self.sigma2
        nested = self._nested_in()
        rows = []
        for f in self.factors:
            shares = [f.name] + nested[f.name]
            icc = sum(tau[g] for g in shares) / total
            m = self.nobs / len(f.levels)
            rows.append({"group": f.name, "shares": ", ".join(shares), "icc": icc,
                         "mean_size": m, "design_effect": 1.0 + (m - 1.0) * icc})
        return pd.DataFrame(rows, columns=["group", "shares", "icc", "mean_size", "design_effect"])

    def icc(self, group: str | None = None) -> float:
        """Intraclass correlation of the (named) grouping factor (one factor: tau^2 / (tau^2 + sigma^2))."""
        f = self._factor(group)
        t = self.icc_table()
        return float(t.loc[t["group"] == f.name, "icc"].iloc[0])

    def design_effect(self, cluster_size: float | None = None, group: str | None = None) -> float:
        """Kish's design effect 1 + (m - 1) ICC; m defaults to the mean level size."""
        f = self._factor(group)
        m = self.nobs / len(f.levels) if cluster_size is None else float(cluster_size)
        return 1.0 + (m - 1.0) * self.icc(f.name)

    # ---------------------------------------------------------- broom's tables
    def tidy(self, effects: str | Sequence[str] = ("fixed", "ran_pars"),
             conf_level: float = 0.95) -> pd.DataFrame:
        """broom.mixed's tidy(): one row per parameter, snake_case columns.

        ``effects``: "fixed" (t-tests with Satterthwaite df and intervals),
        "ran_pars" (SDs and correlations per group: ``sd__Intercept``,
        ``cor__Intercept.ses``, ``sd__Observation`` for the residual),
        "ran_vals" (conditional modes with their conditional SDs as
        ``std_error``), or several of them.
        """
        wanted = [effects] if isinstance(effects, str) else list(effects)
        unknown = [e for e in wanted if e not in ("fixed", "ran_pars", "ran_vals")]
        if unknown:
            raise ValueError(f"unknown effects {unknown}; use 'fixed', 'ran_pars', 'ran_vals'")
        cols = ["effect", "group", "level", "term", "estimate", "std_error", "statistic", "df",
                "p_value", "conf_low", "conf_high"]
        parts = []
        if "fixed" in wanted:
            c = self.coef if conf_level == 0.95 else self.contrast(
                np.eye(len(self.fixed_terms)), names=self.fixed_terms, level=conf_level)
            parts.append(c.assign(effect="fixed", group=None, level=None))
        if "ran_pars" in wanted:
            vt = self.varcorr_table()
            term = np.where(vt["var2"].isna(), "sd__" + vt["var1"].fillna("Observation"),
                            "cor__" + vt["var1"].fillna("") + "." + vt["var2"].fillna(""))
            parts.append(pd.DataFrame({"effect": "ran_pars", "group": vt["grp"], "level": None,
                                       "term": term, "estimate": vt["sdcor"]}))
        if "ran_vals" in wanted:
            re = self.ranef
            grp = re["grpvar"] if self.several else self.group_name
            parts.append(pd.DataFrame({"effect": "ran_vals", "group": grp, "level": re["group"],
                                       "term": re["term"], "estimate": re["estimate"],
                                       "std_error": re["cond_sd"]}))
        return pd.concat([p.reindex(columns=cols) for p in parts], ignore_index=True)

    def glance(self) -> pd.DataFrame:
        """One-row summary in broom's glance names (snake_case).

        broom.mixed's columns (nobs, sigma, loglik, aic, bic, reml_crit or
        deviance, df_residual) and ours: ngroups (one factor; with several
        a text ``"s: 2972, d: 1128"``), npar, reml, singular, converged,
        warnings; ``df_resid`` is ``df_residual`` under the name callers use.
        """
        ngroups = (self.ngroups if not self.several else
                   ", ".join(f"{k}: {v}" for k, v in self.ngroups.items()))
        return pd.DataFrame(
            [{
                "nobs": self.nobs, "ngroups": ngroups, "df_resid": self.df_resid,
                "sigma": self.sigma, "loglik": self.loglik, "aic": self.aic, "bic": self.bic,
                "npar": self.npar, "reml": self.reml, "singular": self.singular,
                "converged": self.converged, "warnings": "; ".join(self.warnings),
                "reml_crit": self.reml_criterion, "deviance": self.deviance,
                "df_residual": self.df_resid,
            }]
        )

    def augment(self, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """broom's augment(): the model's columns of each row with .fitted, .resid, .fixed.

        ``.fitted`` includes every factor's random effects, ``.fixed`` none
        (X beta); ``.resid`` is the response minus ``.fitted``.  Without
        ``data``, the fit's own rows (in-memory fits); with ``data``, those
        rows (a new level is refused, as in :meth:`predict`).
        """
        spec = self._row_spec()
        if data is None:
            d = self._need_design()
            frame = pd.DataFrame(index=d.index)
            fitted, fixed = self.fitted(1).to_numpy(), self.fitted(0).to_numpy()
            y = d.y
            source = None
        else:
            source = data
            fitted = self.predict(data, 1).to_numpy()
            fixed = self.predict(data, 0).to_numpy()
            y = data[spec.response].to_numpy(dtype=float) if spec.response in data else None
            frame = pd.DataFrame(index=data.index)
        rows = source if source is not None else self._design.frame
        if rows is not None:
            for c in spec.columns:
                if c in rows:
                    frame[c] = rows[c].to_numpy()
        frame[".fitted"] = fitted
        frame[".resid"] = (y - fitted) if y is not None else np.nan
        frame[".fixed"] = fixed
        return frame

    # ----------------------------------------------------------- lme4's print
    def summary(self) -> LmmSummary:
        """What lme4's summary(lmer) with lmerTest shows (print it, or read its tables)."""
        return LmmSummary.of(self)
