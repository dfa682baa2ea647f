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
    `mixed_label` (Girls / Boys / Coed for the HSB data).
    """

    column: str
    level: str
    all_label: str = "Girls"
    none_label: str = "Boys"
    mixed_label: str = "Coed"


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


def spec_from_config(model: Mapping[str, Any]) -> ModelSpec:
    """Build a ModelSpec from the `model:` mapping of config/config.yaml."""
    comp = model.get("composition")
    composition = None
    if comp:
        labels = comp.get("labels", {})
        composition = Composition(
            column=comp["column"],
            level=str(comp["level"]),
            all_label=labels.get("all", "Girls"),
            none_label=labels.get("none", "Boys"),
            mixed_label=labels.get("mixed", "Coed"),
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


HSB_SPEC = ModelSpec(
    response="mathach",
    predictor="ses",
    group="school",
    level2_factor="Sector",
    reference="Catholic",
    level2=("Size", "Sector", "PRACAD", "DISCLIM"),
    factor_levels={"Sector": ("Catholic", "Public"), "Sex": ("Female", "Male"), "Minority": ("No", "Yes")},
    composition=Composition(column="Sex", level="Female"),
)
"""The High School and Beyond spec used by the bundled data and the handout."""
