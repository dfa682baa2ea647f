"""Sphericity of repeated measures: Mauchly's test and the epsilon corrections.

Sphericity (equal variances of all pairwise differences between conditions)
is what the F test of the one-way repeated-measures ANOVA needs; compound
symmetry implies it.  With C an a x (a - 1) orthonormal contrast matrix and
S the sample covariance of the subjects' rows, everything is a function of
S_c = C'SC:

- Mauchly's W = |S_c| / (tr(S_c) / (a - 1))^(a - 1), with Anderson's
  chi-square approximation and its second-order term (p_value), and the
  p-value R's ``mauchly.test`` and car print, whose second-order term has
  3 a where Anderson has 3 (a - 1) (p_value_r; the difference is small);
- Box's epsilon estimated by Greenhouse and Geisser,
  tr(S_c)^2 / ((a - 1) tr(S_c^2)) (the same as from the eigenvalues of the
  double-centred covariance), and Huynh and Feldt's correction
  (n (a - 1) e_GG - 2) / ((a - 1) (n - 1 - (a - 1) e_GG)); the F test
  is then referred to F(e (a - 1), e (a - 1)(n - 1)).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .distributions import chi2_sf, f_sf
from .rmanova import helmert_contrasts

__all__ = ["mauchly_test", "epsilon_table"]


def _contrast_cov(Y: np.ndarray) -> np.ndarray:
    C = helmert_contrasts(Y.shape[1])
    return C.T @ np.cov(Y, rowvar=False) @ C


def mauchly_test(wide: pd.DataFrame) -> pd.DataFrame:
    """Mauchly's W, its chi-square statistic, df and p-value (as R's mauchly.test)."""
    Y = wide.to_numpy(float)
    n_resid = Y.shape[0] - 1
    Sc = _contrast_cov(Y)
    p = Sc.shape[0]
    W = float(np.linalg.det(Sc) / (np.trace(Sc) / p) ** p)
    rho = 1 - (2 * p**2 + p + 2) / (6 * p * n_resid)
    w2 = (p + 2) * (p - 1) * (p - 2) * (2 * p**3 + 6 * p**2 + 3 * p + 2) / (288 * (n_resid * p * rho) ** 2)
    # R's mauchly.test (and car, which copies it) put 3 a where Anderson's
    # second-order term has 3 (a - 1); both p-values are reported
    w2_r = (p + 2) * (p - 1) * (p - 2) * (2 * p**3 + 6 * p**2 + 3 * (p + 1) + 2) / (288 * (n_resid * p * rho) ** 2)
    z = -n_resid * rho * np.log(W)
    f = p * (p + 1) / 2 - 1
    pr1 = chi2_sf(z, f)
    pr2 = chi2_sf(z, f + 4)
    return pd.DataFrame([{
        "test": "Mauchly", "W": W, "statistic": float(z), "df": float(f),
        "p_value": float(pr1 + w2 * (pr2 - pr1)),
        "p_value_r": float(pr1 + w2_r * (pr2 - pr1)),
    }])


def epsilon_table(wide: pd.DataFrame, F: float) -> pd.DataFrame:
    """Epsilon estimates and the F test's p-value under each correction."""
    Y = wide.to_numpy(float)
    n, a = Y.shape
    Sc = _contrast_cov(Y)
    gg = float(np.trace(Sc) ** 2 / ((a - 1) * np.trace(Sc @ Sc)))
    hf = (n * (a - 1) * gg - 2) / ((a - 1) * (n - 1 - (a - 1) * gg))
    rows = []
    for name, eps in [("none (sphericity)", 1.0), ("Greenhouse-Geisser", gg), ("Huynh-Feldt", hf),
                      ("lower bound", 1.0 / (a - 1))]:
        used = min(eps, 1.0)
        df1, df2 = used * (a - 1), used * (a - 1) * (n - 1)
        rows.append({"correction": name, "epsilon": eps, "num_df": df1, "den_df": df2, "statistic": F,
                     "p_value": float(f_sf(F, df1, df2))})
    return pd.DataFrame(rows)
