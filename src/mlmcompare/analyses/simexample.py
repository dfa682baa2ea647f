"""The simulated example: school lines drawn from a known population.

This module owns the handout's simulation: gamma = (12, 2),
G = [[16, 8], [8, 25]], sigma^2 = 20, N_j ~ Poisson(30), X ~ N(0, 1), with
the seed from the config. Because the truth is known, each school's true
line beta_j, its least-squares line (BLUE) and its BLUP
(G^-1 + X'X / sigma^2)^-1 (G^-1 gamma + X'X / sigma^2 BLUE) with the true
parameters can be set side by side, together with the 1-SD dispersion
matrices G, sigma^2 (X_j'X_j)^-1 and V_j = G + sigma^2 (X_j'X_j)^-1, and the
ordering Var(BLUP_j) = G V_j^-1 G <= G <= V_j = Var(BLUE_j) checked in
numbers. The model is also fitted with our engine to show how well the
parameters are recovered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import models

MIN_SCHOOL_SIZE = 3  # a school line needs 3 students to have a residual df
SIM_ROLES = {"y": "y", "x": "x", "g": "school"}  # the simulated data's columns


@dataclass(frozen=True)
class SimSettings:
    """The population and design of the simulation."""

    seed: int = 2026
    n_schools: int = 40
    mean_size: float = 30.0
    gamma: tuple[float, float] = (12.0, 2.0)
    G: tuple[tuple[float, float], tuple[float, float]] = ((16.0, 8.0), (8.0, 25.0))
    sigma2: float = 20.0
    n_highlight: int = 3

    @property
    def G_matrix(self) -> np.ndarray:
        return np.asarray(self.G, dtype="float64")


@dataclass
class Simulation:
    settings: SimSettings
    students: pd.DataFrame  # school, x, y
    true: np.ndarray  # (J, 2) true beta_j
    n: np.ndarray = field(default_factory=lambda: np.zeros(0))


def simulate(settings: SimSettings) -> Simulation:
    """Draw the schools' lines, sizes and students (sizes below 3 are drawn again)."""
    rng = np.random.default_rng(settings.seed)
    J = settings.n_schools
    gamma = np.asarray(settings.gamma, dtype="float64")
    u = rng.multivariate_normal(np.zeros(2), settings.G_matrix, size=J, method="cholesky")
    beta = gamma + u
    n = rng.poisson(settings.mean_size, size=J)
    while np.any(n < MIN_SCHOOL_SIZE):
        small = n < MIN_SCHOOL_SIZE
        n[small] = rng.poisson(settings.mean_size, size=int(small.sum()))
    rows = []
    for j in range(J):
        x = rng.standard_normal(n[j])
        e = rng.normal(0.0, np.sqrt(settings.sigma2), size=n[j])
        y = beta[j, 0] + beta[j, 1] * x + e
        rows.append(pd.DataFrame({"school": j + 1, "x": x, "y": y}))
    return Simulation(settings, pd.concat(rows, ignore_index=True), beta, n.astype("int64"))


def school_matrices(sim: Simulation) -> tuple[np.ndarray, np.ndarray]:
    """Per school X_j'X_j (J, 2, 2) and X_j'y_j (J, 2) for X_j = [1, x]."""
    J = sim.settings.n_schools
    xtx = np.zeros((J, 2, 2))
    xty = np.zeros((J, 2))
    for j, part in sim.students.groupby("school", sort=True):
        X = np.column_stack([np.ones(len(part)), part["x"].to_numpy()])
        xtx[j - 1] = X.T @ X
        xty[j - 1] = X.T @ part["y"].to_numpy()
    return xtx, xty


def blue_blup(sim: Simulation) -> dict[str, np.ndarray]:
    """BLUEs, BLUPs with the true parameters, and each school's variance matrices."""
    s = sim.settings
    G = s.G_matrix
    gamma = np.asarray(s.gamma)
    xtx, xty = school_matrices(sim)
    blue = np.linalg.solve(xtx, xty[:, :, None])[:, :, 0]
    cond = s.sigma2 * np.linalg.inv(xtx)  # Var(BLUE_j | beta_j)
    V = G + cond  # Var(BLUE_j)
    Ginv = np.linalg.inv(G)
    W = xtx / s.sigma2  # precision of the BLUE given beta_j
    post = np.linalg.inv(Ginv + W)  # Var(beta_j | data)
    blup = (post @ (Ginv @ gamma + (W @ blue[:, :, None])[:, :, 0])[:, :, None])[:, :, 0]
    var_blup = G @ np.linalg.inv(V) @ G  # Var(BLUP_j) over the population
    weight = post @ W  # matrix weight of the BLUE in the BLUP
    return {"blue": blue, "blup": blup, "cond": cond, "V": V, "post": post, "var_blup": var_blup, "weight": weight}


def _entries(prefix: str, M: np.ndarray) -> dict[str, np.ndarray]:
    return {f"{prefix}_intercept": M[:, 0, 0], f"{prefix}_cov": M[:, 0, 1], f"{prefix}_slope": M[:, 1, 1]}


def highlight_schools(n: np.ndarray, k: int) -> np.ndarray:
    """Indices of k schools spread over the range of sizes (smallest, ..., largest)."""
    order = np.argsort(n, kind="stable")
    picks = np.unique(np.round(np.linspace(0, len(n) - 1, k)).astype(int))
    return order[picks]


def sim_schools_table(sim: Simulation, est: dict[str, np.ndarray], eblup: pd.DataFrame) -> pd.DataFrame:
    """One row per simulated school: n, true, BLUE, BLUP, EBLUP lines and their matrices."""
    J = sim.settings.n_schools
    out = pd.DataFrame({"school": np.arange(1, J + 1), "n": sim.n})
    out["true_intercept"], out["true_slope"] = sim.true[:, 0], sim.true[:, 1]
    out["blue_intercept"], out["blue_slope"] = est["blue"][:, 0], est["blue"][:, 1]
    out["blup_intercept"], out["blup_slope"] = est["blup"][:, 0], est["blup"][:, 1]
    out["eblup_intercept"] = eblup["Intercept"].to_numpy()
    out["eblup_slope"] = eblup["x"].to_numpy()
    for prefix, key in (("cond", "cond"), ("v", "V"), ("post", "post"), ("var_blup", "var_blup")):
        for k, v in _entries(prefix, est[key]).items():
            out[k] = v
    out["blue_weight"] = np.trace(est["weight"], axis1=1, axis2=2) / 2.0
    out["shrinkage"] = 1.0 - out["blue_weight"]
    out["x_sd"] = sim.students.groupby("school", sort=True)["x"].std(ddof=0).to_numpy()
    out["highlight"] = False
    out.loc[highlight_schools(sim.n, sim.settings.n_highlight), "highlight"] = True
    return out


def loewner_gap(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Smallest eigenvalue of B - A (per school if stacked): >= 0 means A <= B."""
    return np.linalg.eigvalsh(B - A)[..., 0]


def sim_variance_table(sim: Simulation, est: dict[str, np.ndarray]) -> pd.DataFrame:
    """Var(BLUP) <= G <= Var(BLUE): theory per school (averaged) and across the simulated schools."""
    G = sim.settings.G_matrix
    gamma = np.asarray(sim.settings.gamma)
    rows = []

    def row(name: str, kind: str, M: np.ndarray, gap_to_g: float) -> None:
        rows.append({"matrix": name, "kind": kind, "var_intercept": M[0, 0], "cov_intercept_slope": M[0, 1],
                     "var_slope": M[1, 1], "trace": float(np.trace(M)), "det": float(np.linalg.det(M)),
                     "min_eig_vs_g": gap_to_g})

    row(r"$\mathrm{Var}(\tilde\beta_j) = G V_j^{-1} G$, mean over schools", "theory", est["var_blup"].mean(axis=0),
        float(loewner_gap(est["var_blup"], G).min()))
    row("G", "theory", G, 0.0)
    row(r"$\mathrm{Var}(\hat\beta_j) = V_j$, mean over schools", "theory", est["V"].mean(axis=0),
        float(loewner_gap(G, est["V"]).min()))

    def spread(M: np.ndarray) -> np.ndarray:
        d = M - gamma  # around the known mean line
        return d.T @ d / len(d)

    emp_true = spread(sim.true)
    row(r"BLUPs: spread around $\gamma$", "simulated", spread(est["blup"]), float(loewner_gap(spread(est["blup"]), emp_true).min()))
    row(r"True lines: spread around $\gamma$", "simulated", emp_true, 0.0)
    row(r"BLUEs: spread around $\gamma$", "simulated", spread(est["blue"]), float(loewner_gap(emp_true, spread(est["blue"])).min()))
    return pd.DataFrame(rows)


def sim_params_table(sim: Simulation) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The engine's REML fit of y ~ x + (1 + x | school) on the simulated data, against the truth."""
    fit = models.fit("randcoef", sim.students, SIM_ROLES)
    s = sim.settings
    G = fit.varcorr.G.to_numpy()
    rows = [
        ("gamma0", "Mean intercept", s.gamma[0], float(fit.fixef["Intercept"]), float(fit.coef.set_index("term").loc["Intercept", "std_error"])),
        ("gamma1", "Mean slope", s.gamma[1], float(fit.fixef["x"]), float(fit.coef.set_index("term").loc["x", "std_error"])),
        ("g00", "Variance of intercepts", s.G[0][0], G[0, 0], np.nan),
        ("g01", "Covariance of intercepts and slopes", s.G[0][1], G[0, 1], np.nan),
        ("g11", "Variance of slopes", s.G[1][1], G[1, 1], np.nan),
        ("sigma2", "Within-school variance", s.sigma2, fit.sigma2, np.nan),
    ]
    params = pd.DataFrame(rows, columns=["term", "label", "true", "estimate", "std_error"])
    eblup = fit.coef_by_group()
    eblup.index = eblup.index.astype(int)
    return params, eblup.sort_index()


def sim_tables(settings: SimSettings) -> dict[str, pd.DataFrame]:
    """All tables of the simulated example."""
    sim = simulate(settings)
    est = blue_blup(sim)
    params, eblup = sim_params_table(sim)
    return {
        "sim_students": sim.students,
        "sim_schools": sim_schools_table(sim, est, eblup),
        "sim_params": params,
        "sim_variance": sim_variance_table(sim, est),
        "sim_settings": pd.DataFrame([{"seed": settings.seed, "n_schools": settings.n_schools,
                                       "mean_size": settings.mean_size, "gamma0": settings.gamma[0],
                                       "gamma1": settings.gamma[1], "g00": settings.G[0][0],
                                       "g01": settings.G[0][1], "g11": settings.G[1][1],
                                       "sigma2": settings.sigma2}]),
    }
