"""One-way repeated-measures ANOVA: n subjects each measured under a conditions.

From long data (subject, condition, response) :func:`wide_matrix` builds
the n x a matrix Y (checked: every subject once under every condition).
Then, all in closed form for the balanced design:

- :func:`anova_twoway`: the two-way fixed-effects layout
  (``aov(y ~ condition + subject)``): the subject row's F is printed as
  software prints it, but it is not a valid test of the subject variance.
- :func:`anova_strata`: the error-strata layout
  (``aov(y ~ condition + Error(subject/condition))``).
- :func:`anova_multivariate`: the univariate tests of car's type-III
  ``Anova`` of the multivariate linear model Y ~ 1 with the conditions as
  the within-subject factor: the intercept (grand mean = 0, tested against
  subjects) and the condition effect.  The intercept row is the test of the
  grand mean under sum-to-zero coding of the conditions.
- :func:`expected_mean_squares`: E(MS) of each stratum and the moment
  estimates of the two variances.
- :func:`hotelling_test`: the multivariate (MANOVA) test of equal condition
  means from the a - 1 within-subject contrasts: Hotelling's T^2 with its
  exact F, and the four classical statistics.
- :func:`mixed_lrt_tables`: the same question as a mixed model,
  ``y ~ condition + (1 | subject)`` by ML against ``y ~ 1 + (1 | subject)``,
  with our engine.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .. import lmm, models
from .distributions import f_sf

__all__ = [
    "read_long",
    "wide_matrix",
    "condition_means",
    "anova_twoway",
    "anova_strata",
    "anova_multivariate",
    "expected_mean_squares",
    "hotelling_test",
    "mixed_lrt_tables",
    "sum_to_zero_effects",
    "helmert_contrasts",
]

ANOVA_COLUMNS = ["term", "df", "sumsq", "meansq", "statistic", "p_value"]


def read_long(frame: pd.DataFrame, subject: str, condition: str, response: str, levels: Sequence | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The long data checked and typed (subject, condition as str; response float)
    and the condition levels (as given, else in order of first appearance)."""
    missing = [c for c in (subject, condition, response) if c not in frame.columns]
    if missing:
        raise ValueError(f"repeated-measures file lacks column(s) {missing}; it has {list(frame.columns)}")
    out = frame[[subject, condition, response]].copy()
    out[subject] = out[subject].astype(str)
    out[condition] = out[condition].astype(str)
    y = pd.to_numeric(out[response], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(y.to_numpy(float)))
    if len(bad):
        lines = ", ".join(str(i + 2) for i in bad[:5])
        raise ValueError(f"column {response!r}: {len(bad)} missing or non-numeric value(s) (file lines {lines})")
    out[response] = y.astype(float)
    lv = [str(v) for v in levels] if levels is not None else list(dict.fromkeys(out[condition]))
    unknown = sorted(set(out[condition]) - set(lv))
    if unknown:
        raise ValueError(f"column {condition!r} has level(s) {unknown} not among the configured levels {lv}")
    if len(lv) < 2:
        raise ValueError(f"column {condition!r} has a single level; repeated measures need at least 2")
    return out, lv


def wide_matrix(data: pd.DataFrame, subject: str, condition: str, response: str, levels: Sequence[str]) -> pd.DataFrame:
    """Subjects x conditions (in ``levels`` order); refuses repeats and gaps."""
    dup = data.duplicated([subject, condition])
    if dup.any():
        first = data.loc[dup, [subject, condition]].iloc[0].tolist()
        raise ValueError(f"{int(dup.sum())} repeated (subject, condition) pair(s), first {first}")
    wide = data.pivot(index=subject, columns=condition, values=response)
    wide = wide.reindex(columns=list(levels))
    wide = wide.loc[list(dict.fromkeys(data[subject]))]
    gaps = wide.isna()
    if gaps.any().any():
        who = [str(s) for s in wide.index[gaps.any(axis=1)]][:5]
        raise ValueError(
            f"{int(gaps.sum().sum())} missing (subject, condition) cell(s), subjects {who}: "
            "the classical repeated-measures ANOVA needs complete subjects"
        )
    if wide.shape[0] < 3:
        raise ValueError("need at least 3 subjects")
    wide.columns.name = condition
    wide.index.name = subject
    return wide


def _parts(Y: np.ndarray) -> dict[str, float]:
    n, a = Y.shape
    mu = Y.mean()
    rho = Y.mean(axis=1) - mu
    alpha = Y.mean(axis=0) - mu
    resid = Y - mu - rho[:, None] - alpha[None, :]
    return {
        "n": n, "a": a, "mu": mu,
        "ss_subject": a * float(np.sum(rho**2)),
        "ss_condition": n * float(np.sum(alpha**2)),
        "ss_error": float(np.sum(resid**2)),
        "ss_total": float(np.sum((Y - mu) ** 2)),
    }


def condition_means(wide: pd.DataFrame) -> pd.DataFrame:
    """Per condition: n, mean, SD, and the sum-to-zero effect (mean - grand mean)."""
    Y = wide.to_numpy(float)
    return pd.DataFrame({
        "condition": [str(c) for c in wide.columns],
        "n": Y.shape[0],
        "mean": Y.mean(axis=0),
        "sd": Y.std(axis=0, ddof=1),
        "effect": Y.mean(axis=0) - Y.mean(),
    })


def sum_to_zero_effects(wide: pd.DataFrame) -> pd.DataFrame:
    """Grand mean and sum-to-zero condition effects alpha_j (sum alpha_j = 0)."""
    Y = wide.to_numpy(float)
    mu = Y.mean()
    rows = [("grand mean", mu)] + [(f"effect {c}", m - mu) for c, m in zip(wide.columns, Y.mean(axis=0))]
    return pd.DataFrame(rows, columns=["term", "estimate"])


def _f_row(term: str, ss: float, df: float, ms_err: float, df_err: float) -> dict:
    ms = ss / df
    F = ms / ms_err
    return {"term": term, "df": float(df), "sumsq": ss, "meansq": ms, "statistic": F,
            "p_value": float(f_sf(F, df, df_err))}


def anova_twoway(wide: pd.DataFrame, condition: str, subject: str) -> pd.DataFrame:
    """``aov(y ~ condition + subject)``: both rows tested against the residual."""
    P = _parts(wide.to_numpy(float))
    n, a = P["n"], P["a"]
    df_e = (n - 1) * (a - 1)
    mse = P["ss_error"] / df_e
    rows = [
        _f_row(condition, P["ss_condition"], a - 1, mse, df_e),
        _f_row(subject, P["ss_subject"], n - 1, mse, df_e),
        {"term": "Residuals", "df": float(df_e), "sumsq": P["ss_error"], "meansq": mse,
         "statistic": np.nan, "p_value": np.nan},
        {"term": "Total", "df": float(n * a - 1), "sumsq": P["ss_total"], "meansq": np.nan,
         "statistic": np.nan, "p_value": np.nan},
    ]
    return pd.DataFrame(rows, columns=ANOVA_COLUMNS)


def anova_strata(wide: pd.DataFrame, condition: str, subject: str) -> pd.DataFrame:
    """``aov(y ~ condition + Error(subject/condition))``: one block per error stratum."""
    P = _parts(wide.to_numpy(float))
    n, a = P["n"], P["a"]
    df_e = (n - 1) * (a - 1)
    mse = P["ss_error"] / df_e
    rows = [
        {"stratum": subject, "term": "Residuals", "df": float(n - 1), "sumsq": P["ss_subject"],
         "meansq": P["ss_subject"] / (n - 1), "statistic": np.nan, "p_value": np.nan},
        {"stratum": f"{subject}:{condition}", **_f_row(condition, P["ss_condition"], a - 1, mse, df_e)},
        {"stratum": f"{subject}:{condition}", "term": "Residuals", "df": float(df_e), "sumsq": P["ss_error"],
         "meansq": mse, "statistic": np.nan, "p_value": np.nan},
    ]
    return pd.DataFrame(rows, columns=["stratum", *ANOVA_COLUMNS])


def anova_multivariate(wide: pd.DataFrame, condition: str) -> pd.DataFrame:
    """car's type-III univariate table of the multivariate model Y ~ 1.

    Intercept: SS = n a ybar^2 against the subject SS (n - 1 df); condition:
    SS against the subject x condition SS ((n - 1)(a - 1) df).
    """
    P = _parts(wide.to_numpy(float))
    n, a = P["n"], P["a"]
    rows = []
    for term, ss, df, ess, edf in [
        ("(Intercept)", n * a * P["mu"] ** 2, 1, P["ss_subject"], n - 1),
        (condition, P["ss_condition"], a - 1, P["ss_error"], (n - 1) * (a - 1)),
    ]:
        F = (ss / df) / (ess / edf)
        rows.append({"term": term, "sumsq": ss, "num_df": float(df), "error_sumsq": ess, "den_df": float(edf),
                     "statistic": F, "p_value": float(f_sf(F, df, edf))})
    return pd.DataFrame(rows)


def expected_mean_squares(wide: pd.DataFrame, condition: str, subject: str) -> pd.DataFrame:
    """Each mean square, what it estimates, and the moment estimates of the variances."""
    P = _parts(wide.to_numpy(float))
    n, a = P["n"], P["a"]
    mss = P["ss_subject"] / (n - 1)
    msa = P["ss_condition"] / (a - 1)
    mse = P["ss_error"] / ((n - 1) * (a - 1))
    s2_subject = (mss - mse) / a
    return pd.DataFrame([
        {"source": subject, "df": float(n - 1), "meansq": mss,
         "expected": f"sigma_e^2 + {a} sigma_subject^2", "estimates": "sigma_subject^2 = (MS_subject - MS_error) / a",
         "estimate": s2_subject},
        {"source": condition, "df": float(a - 1), "meansq": msa,
         "expected": f"sigma_e^2 + {n} sum(alpha_j^2) / {a - 1}", "estimates": "", "estimate": np.nan},
        {"source": "Residuals", "df": float((n - 1) * (a - 1)), "meansq": mse,
         "expected": "sigma_e^2", "estimates": "sigma_e^2 = MS_error", "estimate": mse},
        {"source": "ICC", "df": np.nan, "meansq": np.nan, "expected": "",
         "estimates": "sigma_subject^2 / (sigma_subject^2 + sigma_e^2)", "estimate": s2_subject / (s2_subject + mse)},
    ])


def helmert_contrasts(a: int) -> np.ndarray:
    """a x (a - 1) orthonormal contrasts (columns orthogonal to 1, unit length)."""
    H = np.zeros((a, a - 1))
    for j in range(1, a):
        H[:j, j - 1] = 1.0
        H[j, j - 1] = -j
        H[:, j - 1] /= np.linalg.norm(H[:, j - 1])
    return H


def hotelling_test(wide: pd.DataFrame, condition: str) -> pd.DataFrame:
    """The multivariate test of equal condition means: Hotelling's T^2 on the a - 1
    within-subject contrasts, its exact F, and Pillai, Wilks, Hotelling-Lawley, Roy."""
    Y = wide.to_numpy(float)
    n, a = Y.shape
    D = Y @ helmert_contrasts(a)
    p = a - 1
    if n <= p:
        raise ValueError(f"the multivariate test needs more subjects ({n}) than contrasts ({p})")
    dbar = D.mean(axis=0)
    S = np.cov(D, rowvar=False).reshape(p, p)
    T2 = float(n * dbar @ np.linalg.solve(S, dbar))
    F = (n - p) / (p * (n - 1)) * T2
    df1, df2 = float(p), float(n - p)
    pval = float(f_sf(F, df1, df2))
    lam = T2 / (n - 1)  # the one non-zero eigenvalue of E^-1 H
    stats = {
        "Hotelling T^2": T2,
        "Pillai": lam / (1 + lam),
        "Wilks": 1 / (1 + lam),
        "Hotelling-Lawley": lam,
        "Roy": lam,
    }
    return pd.DataFrame([
        {"term": condition, "test": name, "value": value, "statistic": F, "num_df": df1, "den_df": df2, "p_value": pval}
        for name, value in stats.items()
    ])


def mixed_lrt_tables(data: pd.DataFrame, subject: str, condition: str, response: str, levels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """``y ~ condition + (1 | subject)`` against ``y ~ 1 + (1 | subject)`` by ML
    (lme4's anova table), and the REML fit's coefficients and variances."""
    d = data.rename(columns={subject: "subject_", condition: "condition_", response: "y_"}).copy()
    d["condition_"] = pd.Categorical(d["condition_"], categories=list(levels))
    # subjects are the groups and conditions the compared factor: the one-way
    # model against the means-as-outcomes model of models.py
    internal = {"y": "y_", "g": "subject_", "F": "condition_"}
    shown = {"y": response, "g": subject, "F": condition}
    null = models.fit("oneway", d, internal, reml=False)
    full = models.fit("means", d, internal, reml=False)
    reml = models.fit("means", d, internal, reml=True)
    test = lmm.lrt(null, full).iloc[0]
    fits = pd.DataFrame([
        {"model": models.formula(name, shown), "npar": f.npar, "aic": f.aic, "bic": f.bic,
         "loglik": f.loglik, "deviance": -2 * f.loglik, "sigma2": f.sigma2,
         "tau2": float(f.varcorr.G.iloc[0, 0]), "reml": f.reml}
        for name, f in (("oneway", null), ("means", full), ("means", reml))
    ])
    lrt = pd.DataFrame([{
        "small": fits.loc[0, "model"], "big": fits.loc[1, "model"], "statistic": float(test["statistic"]),
        "df": float(test["df"]), "p_value": float(test["p_value"]), "reml": False,
    }])

    def rename(term: str) -> str:
        return term.replace("condition_", condition)

    coef = []
    for label, f in (("ML", full), ("REML", reml)):
        c = f.coef.copy()
        c["term"] = c["term"].map(rename)
        c.insert(0, "method", label)
        coef.append(c)
    return {"mixed_fits": fits, "mixed_lrt": lrt, "mixed_coef": pd.concat(coef, ignore_index=True)}
