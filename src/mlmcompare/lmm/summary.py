"""lme4's summary(lmer) with lmerTest's t-tests, as data and as text.

This module owns :class:`LmmSummary`: the tables that lme4's print of a
fitted model shows (the criterion, scaled residuals, the random-effects
table with variances, SDs and correlations per grouping factor, the number
of observations and levels, the fixed effects with Satterthwaite df and
p-values, the correlation of the fixed effects, and the singular-fit and
convergence messages), and their text in lme4's layout (term names stay
ours: ``Intercept``, ``Sector[T.Public]``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from .result import LmmResult

__all__ = ["LmmSummary"]


def _signif(p: float) -> str:
    if not np.isfinite(p):
        return ""
    for cut, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*"), (0.1, ".")):
        if p < cut:
            return mark
    return ""


def _num(x: float, digits: int = 4) -> str:
    if x is None or not np.isfinite(x):
        return "NA"
    return f"{x:.{digits}g}" if abs(x) >= 1e5 or (x != 0 and abs(x) < 1e-3) else f"{x:.{digits}f}"


def _table(rows: list[list[str]], right: set[int]) -> list[str]:
    """Columns padded to their widest cell; ``right`` ones right-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))]
        out.append(" " + " ".join(cells).rstrip())
    return out


@dataclass
class LmmSummary:
    """The parts of lme4's summary of one fit; ``str()`` gives lme4's layout."""

    title: str
    formula: str | None
    criterion: dict[str, float]  # "REML criterion at convergence" or AIC, BIC, logLik, deviance, df.resid
    scaled_residuals: pd.Series | None  # Min, 1Q, Median, 3Q, Max of residuals / sigma (rows at hand)
    random_effects: pd.DataFrame  # groups, name, variance, std_dev, corr (list per row)
    nobs: int
    ngroups: dict[str, int]
    fixed_effects: pd.DataFrame  # estimate, std_error, df, statistic, p_value
    fixed_correlation: pd.DataFrame
    messages: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, fit: LmmResult) -> LmmSummary:
        reml = fit.reml
        title = ("Linear mixed model fit by REML. t-tests use Satterthwaite's method" if reml else
                 "Linear mixed model fit by maximum likelihood . t-tests use Satterthwaite's method")
        if reml:
            crit = {"REML criterion at convergence": float(fit.reml_criterion)}
        else:
            crit = {"AIC": fit.aic, "BIC": fit.bic, "logLik": fit.loglik,
                    "deviance": float(fit.deviance), "df.resid": float(fit.df_resid)}
        res = None
        try:
            r = fit.residuals(1).to_numpy() / fit.sigma
            res = pd.Series(np.quantile(r, [0, 0.25, 0.5, 0.75, 1.0]),
                            index=["Min", "1Q", "Median", "3Q", "Max"])
        except ValueError:  # no rows at hand (statistics, parquet, Dask)
            pass
        vt = fit.varcorr_table()
        rows = []
        for grp, block in vt[vt["grp"] != "Residual"].groupby("grp", sort=False):
            variances = block[block["var2"].isna()]
            names = list(variances["var1"])
            for i, (_, v) in enumerate(variances.iterrows()):
                corr = []
                for nm in names[:i]:
                    c = block[(block["var1"] == nm) & (block["var2"] == v["var1"])]
                    corr.append(float(c["sdcor"].iloc[0]) if len(c) else np.nan)
                rows.append({"groups": grp if i == 0 else "", "name": v["var1"],
                             "variance": float(v["vcov"]), "std_dev": float(v["sdcor"]),
                             "corr": corr})
        rows.append({"groups": "Residual", "name": "", "variance": fit.sigma2,
                     "std_dev": fit.sigma, "corr": []})
        ngroups = fit.ngroups if isinstance(fit.ngroups, dict) else {fit.group_name: fit.ngroups}
        coef = fit.coef.set_index("term")[["estimate", "std_error", "df", "statistic", "p_value"]]
        V = fit.vcov.to_numpy()
        se = np.sqrt(np.diag(V))
        with np.errstate(divide="ignore", invalid="ignore"):
            C = V / np.outer(se, se)
        corr = pd.DataFrame(C, index=fit.fixed_terms, columns=fit.fixed_terms)
        msgs = list(fit.warnings)
        opt = fit.optimizer
        msgs.append(f"optimizer: {opt['verdict']} after {opt['n_evals']} evaluations "
                    f"({opt['message']})")
        return cls(title=title, formula=fit.formula, criterion=crit, scaled_residuals=res,
                   random_effects=pd.DataFrame(rows), nobs=fit.nobs, ngroups=ngroups,
                   fixed_effects=coef, fixed_correlation=corr, messages=msgs)

    # ------------------------------------------------------------------ text
    def lines(self) -> list[str]:
        out = [self.title]
        if self.formula:
            out.append(f"Formula: {self.formula}")
        out.append("")
        if "REML criterion at convergence" in self.criterion:
            out.append(f"REML criterion at convergence: {self.criterion['REML criterion at convergence']:.1f}")
        else:
            keys = list(self.criterion)
            vals = [f"{self.criterion[k]:.1f}" if k != "df.resid" else f"{int(self.criterion[k])}"
                    for k in keys]
            out.extend(_table([keys, vals], right=set(range(len(keys)))))
        out.append("")
        if self.scaled_residuals is not None:
            out.append("Scaled residuals:")
            s = self.scaled_residuals
            out.extend(_table([list(s.index), [f"{v:.4f}" for v in s]], right=set(range(len(s)))))
            out.append("")
        out.append("Random effects:")
        re = self.random_effects
        ncorr = max((len(c) for c in re["corr"]), default=0)
        head = ["Groups", "Name", "Variance", "Std.Dev."] + (["Corr"] + [""] * (ncorr - 1) if ncorr else [])
        rows = [head]
        for _, r in re.iterrows():
            corr = [f"{c:.2f}" if np.isfinite(c) else "NA" for c in r["corr"]]
            rows.append([r["groups"], r["name"], _num(r["variance"]), _num(r["std_dev"])]
                        + corr + [""] * (ncorr - len(corr)))
        out.extend(_table(rows, right={2, 3} | set(range(4, 4 + ncorr))))
        groups = "; ".join(f"{k}, {v}" for k, v in self.ngroups.items())
        out.append(f"Number of obs: {self.nobs}, groups:  {groups}")
        out.append("")
        out.append("Fixed effects:")
        fe = self.fixed_effects
        rows = [["", "Estimate", "Std. Error", "df", "t value", "Pr(>|t|)", ""]]
        for term, r in fe.iterrows():
            p = r["p_value"]
            rows.append([str(term), f"{r['estimate']:.7g}", f"{r['std_error']:.7g}", f"{r['df']:.2f}",
                         f"{r['statistic']:.3f}", f"{p:.3g}" if p >= 2e-16 else "<2e-16",
                         _signif(p)])
        out.extend(_table(rows, right={1, 2, 3, 4, 5}))
        out.append("---")
        out.append("Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1")
        if len(fe) > 1:
            out.append("")
            out.append("Correlation of Fixed Effects:")
            C = self.fixed_correlation
            short = [t[:6] for t in C.columns[:-1]]
            rows = [[""] + short]
            for i, t in enumerate(C.index[1:], start=1):
                rows.append([t] + [f"{C.iloc[i, j]:.3f}" if j < i else "" for j in range(len(short))])
            out.extend(_table(rows, right=set(range(1, len(short) + 1))))
        if self.messages:
            out.append("")
            out.extend(self.messages)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)
