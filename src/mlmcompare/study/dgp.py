"""The data-generating process of the Monte Carlo study, shaped like HSB.

J schools are split between the two levels of the compared factor (in the
proportions of the source data). School j has n_j ~ Poisson(mean size)
students, at least `MIN_SIZE`. The level-1 predictor has a between-school
part, the school's true mean m_j ~ N(mu_sector, tau_x^2), and a within-school
part d_ij ~ N(0, s_sector^2): x_ij = m_j + d_ij. The response follows the
contextual mixed model, written with the *sample* school mean xbar_j:

    y_ij = g00 + g01 W_j + (bW + dW W_j + u1j)(x_ij - xbar_j)
                          + (bB + dB W_j) xbar_j + u0j + e_ij,

with (u0j, u1j) of covariance G and e_ij of variance sigma^2. The target of
every method is dW, the gap (non-reference minus reference level) in the
within-school slope. Without a contextual effect the between-school slopes
equal the within-school ones (bB = bW, dB = dW); with one, they are those
fitted to the source data.

Robustness variants: random effects from a multivariate t with 3 df scaled
to covariance G (`random_effects: t3`), and level-1 errors whose variance
grows with x, sigma^2 exp(h (x - mu_x) - h^2 v_x / 2), of mean sigma^2 when
x ~ N(mu_x, v_x) (`heteroscedasticity: h`).

Every replicate draws from its own generator, seeded by
`replicate_seed(seed, replicate)` (numpy's SeedSequence with the replicate
number as spawn key), so a replicate can be rerun alone and results do not
depend on how replicates are grouped into chunks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..spec import ModelSpec

MIN_SIZE = 5
MIN_GROUPS = 8  # a scenario's schools: at least 2 per level and a few more for the two-stage fit
T_DF = 3


@dataclass(frozen=True)
class DgpParameters:
    """Population values, normally taken from the contextual mixed-model fit.

    `levels` are the two levels of the compared factor, reference first;
    `share_reference` is the share of schools at the reference level.
    """

    levels: tuple[str, str]
    share_reference: float
    intercept: float  # g00
    intercept_gap: float  # g01
    within_slope: float  # bW, reference level
    within_gap: float  # dW: the target
    between_slope: float  # bB, reference level (fitted)
    between_gap: float  # dB (fitted)
    G: tuple[tuple[float, float], tuple[float, float]]  # cov of (u0, u1)
    sigma: float
    x_mean: tuple[float, float]  # mu per level
    x_between_sd: float  # tau_x
    x_within_sd: tuple[float, float]  # s per level
    n_groups: int = 0  # the source data's number of schools
    mean_size: float = 0.0  # and their mean size: scenarios may be given relative to these

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["levels"] = list(self.levels)
        d["G"] = [list(r) for r in self.G]
        d["x_mean"] = list(self.x_mean)
        d["x_within_sd"] = list(self.x_within_sd)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DgpParameters":
        d = dict(d)
        d["levels"] = tuple(d["levels"])
        d["G"] = tuple(tuple(float(v) for v in r) for r in d["G"])
        d["x_mean"] = tuple(d["x_mean"])
        d["x_within_sd"] = tuple(d["x_within_sd"])
        return cls(**d)

    @property
    def contextual_effect(self) -> tuple[float, float]:
        """Between minus within slope at each level (fitted values)."""
        return (self.between_slope - self.within_slope,
                self.between_slope + self.between_gap - self.within_slope - self.within_gap)


@dataclass(frozen=True)
class Scenario:
    """One cell of the study: design and departures from the model."""

    name: str
    n_groups: int
    mean_size: float
    contextual: bool
    random_effects: str = "normal"  # normal | t3
    heteroscedasticity: float = 0.0  # h: log-variance slope in x

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Scenario":
        return cls(
            name=str(d["name"]),
            n_groups=int(d["n_groups"]),
            mean_size=float(d["mean_size"]),
            contextual=bool(d["contextual"]),
            random_effects=str(d.get("random_effects", "normal")),
            heteroscedasticity=float(d.get("heteroscedasticity", 0.0)),
        )

    @classmethod
    def from_config(cls, d: Mapping[str, Any], params: DgpParameters) -> "Scenario":
        """A configured scenario with its design made absolute: `n_groups` and
        `mean_size` as given, or `groups` and `size` as multiples of the source
        data's number of schools and mean school size."""
        d = dict(d)
        if "n_groups" not in d:
            d["n_groups"] = max(MIN_GROUPS, round(float(d["groups"]) * params.n_groups))
        if "mean_size" not in d:
            d["mean_size"] = round(float(d["size"]) * params.mean_size, 1)
        return cls.from_dict(d)


def replicate_seed(seed: int, replicate: int) -> np.random.SeedSequence:
    """The seed of one replicate: the same whatever chunk it runs in."""
    return np.random.SeedSequence(int(seed), spawn_key=(int(replicate),))


def replicate_rng(seed: int, replicate: int) -> np.random.Generator:
    return np.random.default_rng(replicate_seed(seed, replicate))


def group_levels(params: DgpParameters, n_groups: int) -> np.ndarray:
    """0/1 (reference/other) per school, in fixed proportions, at least 2 each."""
    n_ref = int(round(params.share_reference * n_groups))
    n_ref = min(max(n_ref, 2), n_groups - 2)
    return np.r_[np.zeros(n_ref, dtype=int), np.ones(n_groups - n_ref, dtype=int)]


def random_effects(params: DgpParameters, scenario: Scenario, rng: np.random.Generator) -> np.ndarray:
    """(J, 2) draws of (u0, u1) with covariance G: normal or scaled t3."""
    G = np.asarray(params.G, dtype=float)
    J = scenario.n_groups
    z = rng.standard_normal((J, 2)) @ np.linalg.cholesky(G).T
    if scenario.random_effects == "normal":
        return z
    if scenario.random_effects == "t3":
        w = rng.chisquare(T_DF, size=J) / T_DF
        return z * np.sqrt((T_DF - 2) / T_DF / w)[:, None]
    raise ValueError(f"unknown random_effects {scenario.random_effects!r}; known: normal, t3")


def simulate(params: DgpParameters, scenario: Scenario, rng: np.random.Generator, spec: ModelSpec) -> pd.DataFrame:
    """One simulated data set, with the columns the methods read (and the
    contextual columns `<x>_mean`, `<x>_cwg`)."""
    J = scenario.n_groups
    level = group_levels(params, J)
    n = np.maximum(rng.poisson(scenario.mean_size, size=J), MIN_SIZE)
    u = random_effects(params, scenario, rng)
    mu = np.asarray(params.x_mean)[level]
    m = mu + params.x_between_sd * rng.standard_normal(J)
    codes = np.repeat(np.arange(J), n)
    lv = level[codes]
    x = m[codes] + np.asarray(params.x_within_sd)[lv] * rng.standard_normal(codes.size)
    xbar = np.bincount(codes, x) / n
    xcwg = x - xbar[codes]
    bW = params.within_slope + params.within_gap * lv
    if scenario.contextual:
        bB = params.between_slope + params.between_gap * lv
    else:
        bB = bW
    e = params.sigma * rng.standard_normal(codes.size)
    if scenario.heteroscedasticity:
        h = scenario.heteroscedasticity
        mu_x, v_x = x_moments(params)
        e *= np.exp(0.5 * (h * (x - mu_x) - h * h * v_x / 2.0))
    y = (params.intercept + params.intercept_gap * lv + (bW + u[codes, 1]) * xcwg
         + bB * xbar[codes] + u[codes, 0] + e)
    levels = list(params.levels)
    return pd.DataFrame(
        {
            spec.group: codes + 1,
            spec.response: y,
            spec.predictor: x,
            spec.level2_factor: pd.Categorical.from_codes(lv, categories=levels),
            spec.cvar: xbar[codes],
            spec.dvar: xcwg,
        }
    )


def x_moments(params: DgpParameters) -> tuple[float, float]:
    """Mean and variance of x over both levels (a two-component mixture)."""
    p = np.array([params.share_reference, 1.0 - params.share_reference])
    mu = np.asarray(params.x_mean)
    s2 = params.x_between_sd**2 + np.asarray(params.x_within_sd) ** 2
    mean = float(p @ mu)
    return mean, float(p @ (s2 + (mu - mean) ** 2))


def simulation_spec(spec: ModelSpec, params: DgpParameters) -> ModelSpec:
    """The source spec reduced to what simulated data carry."""
    return ModelSpec(
        response=spec.response,
        predictor=spec.predictor,
        group=spec.group,
        level2_factor=spec.level2_factor,
        reference=params.levels[0],
        level2=(spec.level2_factor,),
        factor_levels={spec.level2_factor: tuple(params.levels)},
    )
