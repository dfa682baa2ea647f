"""Every model the handouts fit, named and written once.

A `Model` is a fixed part and an optional random part written with role
placeholders: {y} the response, {x} the level-1 predictor, {F} the compared
level-2 factor, {g} the group, {c} the group mean of the predictor (cvar),
{d} the deviation from it (dvar), {f} a level-1 factor and {p} its group
proportion. `formula(model, spec)` fills them with a data set's column
names; `fit(model, data, spec)` fits it (the mixed models with our engine).
Sections and steps ask for a model by its id and never write its formula.

The ten mixed models of the ladder carry their level-1 and level-2
equations as well; `LADDER` gives their order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import pandas as pd

from .spec import ModelSpec

if TYPE_CHECKING:  # the engine is imported only when a model is fitted
    from .lmm import LmmResult


@dataclass(frozen=True)
class Model:
    id: str
    name: str
    fixed: str  # right-hand side of the fixed part, with placeholders
    random: str | None = None  # lme4 random-effects term(s); None for a model fitted by OLS
    level1: str = ""  # LaTeX equations (the ladder's)
    level2: str = ""


Roles = ModelSpec | Mapping[str, str]


def roles(spec: Roles, **extra: str) -> dict[str, str]:
    """The placeholders' column names: from a data set's spec, or given as a
    mapping (data that are not students in schools), plus `extra` (e.g. f=)."""
    if isinstance(spec, ModelSpec):
        names = {"y": spec.response, "x": spec.predictor, "F": spec.level2_factor, "g": spec.group,
                 "c": spec.cvar, "d": spec.dvar}
    else:
        names = dict(spec)
    return {**names, **extra}


_MODELS = (
    # the seven methods and the sections around them
    Model("pooled", "Pooled OLS", "{x} * {F}"),
    Model("oneway", "One-way ANOVA with random effects", "1", "(1 | {g})",
          r"Y_{ij} = \beta_{0j} + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + u_{0j}"),
    Model("means", "Means as outcomes", "1 + {F}", "(1 | {g})",
          r"Y_{ij} = \beta_{0j} + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}"),
    Model("ancova", "One-way ANCOVA with random effects", "1 + {x}", "(1 | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + u_{0j}, \quad \beta_{1j} = \gamma_{10}"),
    Model("randcoef", "Random coefficients", "1 + {x}", "(1 + {x} | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Model("isao", "Intercepts and slopes as outcomes", "{x} * {F}", "(1 + {x} | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}, \quad \beta_{1j} = \gamma_{10} + \gamma_{11} W_j + u_{1j}"),
    Model("nonrandom", "Non-random slopes", "{x} * {F}", "(1 | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}, \quad \beta_{1j} = \gamma_{10} + \gamma_{11} W_j"),
    Model("parallel", "Parallel mean slopes", "1 + {x} + {F}", "(1 + {x} | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} X_{ij} + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + \gamma_{01} W_j + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Model("ctx_cwg", "Contextual mean with CWG variable", "1 + {c} + {d}", "(1 + {d} | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} (X_{ij} - \bar X_{\cdot j}) + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + \gamma_{01} \bar X_{\cdot j} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Model("ctx_raw", "Contextual mean with raw variable", "1 + {c} + {x}", "(1 + {d} | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} (X_{ij} - \bar X_{\cdot j}) + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + (\gamma_{01} + \gamma_{10}) \bar X_{\cdot j} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + u_{1j}"),
    Model("ctx_isao", "Intercepts and slopes as outcomes with contextual mean", "({d} + {c}) * {F}", "(1 + {d} | {g})",
          r"Y_{ij} = \beta_{0j} + \beta_{1j} (X_{ij} - \bar X_{\cdot j}) + r_{ij}",
          r"\beta_{0j} = \gamma_{00} + \gamma_{01} \bar X_{\cdot j} + \gamma_{02} W_j + \gamma_{03} W_j \bar X_{\cdot j} + u_{0j}, \quad \beta_{1j} = \gamma_{10} + \gamma_{11} W_j + u_{1j}"),
    # a level-1 factor {f} beside the predictor (the second example)
    Model("factor_pooled", "Pooled OLS with a level-1 factor", "{x} * {f}"),
    Model("factor_lines", "Random lines with a level-1 factor", "{x} * {f}", "(1 + {x} | {g})"),
    Model("factor_contextual", "Random lines with a level-1 factor and its school proportion",
          "{x} * {f} + {c} + {p}", "(1 + {x} | {g})"),
    # covariance components of random slopes: covariates {k}, slopes {s}
    Model("components_null", "Null: random intercept only", "1", "(1 | {g})"),
    Model("components_intercept", "Random intercept", "{k}", "(1 | {g})"),
    Model("components_diagonal", "Random slopes, uncorrelated G (||)", "{k}", "(1 + {s} || {g})"),
    Model("components_block", "Random slopes, block G", "{k}", "(1 | {g}) + (0 + {s} | {g})"),
    Model("components_unstructured", "Random slopes, unstructured G", "{k}", "(1 + {s} | {g})"),
    # three levels: {g} the top level (schools), {h} the middle level nested in it
    # (classes, labels that may repeat across schools), covariates {k}
    Model("levels_null", "Three levels", "1", "(1 | {g}/{h})"),
    Model("levels_null_top", "Top level only", "1", "(1 | {g})"),
    Model("levels_null_middle", "Middle level only", "1", "(1 | {h}:{g})"),
    Model("levels_labels_crossed", "Middle-level labels read as crossed with the top level", "1", "(1 | {g}) + (1 | {h})"),
    Model("levels_three", "Three levels", "{k}", "(1 | {g}/{h})"),
    Model("levels_no_middle", "Middle level left out", "{k}", "(1 | {g})"),
    Model("levels_no_top", "Top level left out", "{k}", "(1 | {h}:{g})"),
    Model("levels_ols", "No level: OLS", "{k}"),
    # two crossed factors {a} and {b}, and the same data read as if one were nested in the other
    Model("crossed", "Crossed", "1", "(1 | {a}) + (1 | {b})"),
    Model("crossed_a_only", "First factor only", "1", "(1 | {a})"),
    Model("crossed_b_only", "Second factor only", "1", "(1 | {b})"),
    Model("crossed_b_in_a", "Second factor nested in the first", "1", "(1 | {a}/{b})"),
    Model("crossed_a_in_b", "First factor nested in the second", "1", "(1 | {b}/{a})"),
)

MODELS: dict[str, Model] = {m.id: m for m in _MODELS}

#: the model ladder, from the one-way ANOVA upwards
LADDER: tuple[str, ...] = ("oneway", "means", "ancova", "randcoef", "isao", "nonrandom", "parallel",
                           "ctx_cwg", "ctx_raw", "ctx_isao")

#: roles of the seven methods and of the sections that refit them
MAIN_MIXED = "isao"  # the mixed model of the sector lines
CONTEXTUAL = "ctx_isao"  # the same with the predictor split into group mean and deviation


def model(model_id: str) -> Model:
    """The model of that id; an unknown id is refused naming the known ones."""
    try:
        return MODELS[model_id]
    except KeyError:
        raise ValueError(f"unknown model {model_id!r}; known models: {', '.join(MODELS)}") from None


def fixed_part(model_id: str, spec: Roles, **extra: str) -> str:
    """The right-hand side of the fixed part with the data's column names."""
    return model(model_id).fixed.format(**roles(spec, **extra))


def formula(model_id: str, spec: Roles, **extra: str) -> str:
    """The model's formula (lme4 syntax for a mixed model) with the data's column names."""
    m = model(model_id)
    names = roles(spec, **extra)
    rhs = m.fixed if m.random is None else f"{m.fixed} + {m.random}"
    return f"{names['y']} ~ {rhs.format(**names)}"


def symbolic(model_id: str) -> tuple[str, str]:
    """The fixed and random parts in the handout's symbols (Y, X, W, cvar, dvar)."""
    m = model(model_id)
    names = {"y": "Y", "x": "X", "F": "W", "g": "school", "c": "cvar", "d": "dvar"}
    random = (m.random or "").format(**names).strip("()")
    return f"Y ~ {m.fixed.format(**names)}", f"~ {random}"


def fit(model_id: str, data: pd.DataFrame, spec: Roles, reml: bool = True, **extra: str) -> "LmmResult":
    """Fit a mixed model of the registry with our engine (REML unless `reml=False`)."""
    if model(model_id).random is None:
        raise ValueError(f"model {model_id!r} has no random part: fit it by OLS")
    from . import lmm

    return lmm.fit(formula(model_id, spec, **extra), data, reml=reml)


