"""The model specification shared by every method: which column is what.

A `ModelSpec` names the response, the level-1 predictor, the grouping
column and the level-2 factor whose levels are compared (with its reference
level), plus the other level-2 columns and factor level orders. It is built
from the pipeline config so that a user's own data needs only a config entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Composition:
    """How a binary level-1 factor describes a school's composition.

    `column` == `level` marks the counted students (e.g. Sex == Female); a
    school where all are counted is `all_label`, none `none_label`, else
    `mixed_label` (the config gives Girls / Boys / Coed for the HSB data).
    """

    column: str
    level: str
    all_label: str = ""  # "" names it after the level: "all Female", "no Female", "mixed"
    none_label: str = ""
    mixed_label: str = "mixed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "all_label", self.all_label or f"all {self.level}")
        object.__setattr__(self, "none_label", self.none_label or f"no {self.level}")


@dataclass(frozen=True)
class ModelSpec:
    response: str
    predictor: str
    group: str
    level2_factor: str
    reference: str
    level2: tuple[str, ...] = ()
    factor_levels: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    composition: Composition | None = None

    @property
    def cvar(self) -> str:
        """Name of the contextual variable: the group mean of the predictor."""
        return f"{self.predictor}_mean"

    @property
    def dvar(self) -> str:
        """Name of the within-group deviation (centred within group) predictor."""
        return f"{self.predictor}_cwg"

    @property
    def level2_columns(self) -> tuple[str, ...]:
        """Level-2 columns, the compared factor always among them."""
        cols = list(self.level2)
        if self.level2_factor not in cols:
            cols.insert(0, self.level2_factor)
        return tuple(cols)

    @property
    def required_columns(self) -> tuple[str, ...]:
        cols = [self.group, self.response, self.predictor, *self.level2_columns]
        if self.composition is not None:
            cols.append(self.composition.column)
        return tuple(dict.fromkeys(cols))


def dataset_model(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The config's `model:` mapping with the data set's own `model:` keys over it."""
    if dataset not in config["datasets"]:
        raise ValueError(f"dataset {dataset!r} is not in the config; known: {', '.join(config['datasets'])}")
    return {**config["model"], **(config["datasets"][dataset].get("model") or {})}


def spec_from_config(model: Mapping[str, Any]) -> ModelSpec:
    """Build a ModelSpec from the `model:` mapping of config/config.yaml."""
    comp = model.get("composition")
    composition = None
    if comp:
        labels = comp.get("labels", {})
        composition = Composition(
            column=comp["column"],
            level=str(comp["level"]),
            all_label=labels.get("all") or "",
            none_label=labels.get("none") or "",
            mixed_label=labels.get("mixed") or "mixed",
        )
    levels = {k: tuple(str(x) for x in v) for k, v in (model.get("factor_levels") or {}).items()}
    return ModelSpec(
        response=model["response"],
        predictor=model["predictor"],
        group=model["group"],
        level2_factor=model["level2_factor"],
        reference=str(model["reference"]),
        level2=tuple(model.get("level2", ())),
        factor_levels=levels,
        composition=composition,
    )
