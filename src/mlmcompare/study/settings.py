"""The study's settings: config keys under `study:` with their defaults.

`study_settings(config)` returns the `study:` mapping of the pipeline config
completed with the defaults below, and the scenarios as `Scenario` objects.
A scenario may name a `baseline` scenario, of which it is a variant (the
robustness scenarios): the handout reports the change from it.
"""

from __future__ import annotations

from typing import Any, Mapping

from .dgp import Scenario

DEFAULT_SCENARIOS: list[dict[str, Any]] = [
    *(
        {"name": f"J{J}_n{n}_{'ctx' if ctx else 'none'}", "n_groups": J, "mean_size": n, "contextual": ctx}
        for J, n in [(20, 30), (40, 30), (160, 30), (40, 10), (40, 100)]
        for ctx in (False, True)
    ),
    {"name": "J40_n30_t3", "n_groups": 40, "mean_size": 30, "contextual": False, "random_effects": "t3", "baseline": "J40_n30_none"},
    {"name": "J40_n30_hetero", "n_groups": 40, "mean_size": 30, "contextual": False, "heteroscedasticity": 1.0, "baseline": "J40_n30_none"},
]

DEFAULTS: dict[str, Any] = {
    "enabled": True,
    "source": "hsfull",  # dataset whose contextual mixed-model fit sets the population values
    "replicates": 200,  # per scenario, for the handout (scale: reduced)
    "full_replicates": 1000,  # per scenario with scale: full (make study)
    "scale": "reduced",
    "chunk_size": 100,  # replicates per job
    "seed": 20261123,
    "scenarios": DEFAULT_SCENARIOS,
}


def study_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The `study:` config with defaults filled in; scenario names must be unique."""
    out = {**DEFAULTS, **(config.get("study") or {})}
    names = [s["name"] for s in out["scenarios"]]
    if len(set(names)) != len(names):
        raise ValueError(f"study scenario names must be unique: {names}")
    for s in out["scenarios"]:
        if s.get("baseline") and s["baseline"] not in names:
            raise ValueError(f"study scenario {s['name']!r} names an unknown baseline {s['baseline']!r}")
    return out


def study_replicates(settings: Mapping[str, Any]) -> int:
    """Replicates per scenario at the configured scale (reduced or full)."""
    scale = settings.get("scale", "reduced")
    if scale not in ("reduced", "full"):
        raise ValueError(f"study scale must be 'reduced' or 'full', not {scale!r}")
    return int(settings["full_replicates"] if scale == "full" else settings["replicates"])


def scenarios(settings: Mapping[str, Any]) -> dict[str, Scenario]:
    return {s["name"]: Scenario.from_dict(s) for s in settings["scenarios"]}


def chunk_ranges(replicates: int, chunk_size: int) -> list[tuple[int, int]]:
    """Half-open replicate ranges [start, stop) of the chunks."""
    return [(a, min(a + chunk_size, replicates)) for a in range(0, replicates, chunk_size)]


def scenario_by_name(settings: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The config entry of one scenario."""
    for s in settings["scenarios"]:
        if s["name"] == name:
            return dict(s)
    raise ValueError(f"no study scenario named {name!r}")


def chunk_paths(folder: str, settings: Mapping[str, Any]) -> list[str]:
    """The scatter's outputs: one parquet file per scenario and chunk of replicates."""
    return [
        f"{folder}/{s['name']}/reps_{a:05d}_{b:05d}.parquet"
        for s in settings["scenarios"]
        for a, b in chunk_ranges(study_replicates(settings), int(settings["chunk_size"]))
    ]
