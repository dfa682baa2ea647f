"""Shared paths and helpers of both tiers: tests/unit (in-process, `make
check`) and tests/e2e (one real pipeline run of the default config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
GOLDEN = ROOT / "tests" / "golden"
CONFIG = ROOT / "config" / "config.yaml"


def default_config() -> dict:
    """The committed default configuration (config/config.yaml)."""
    return yaml.safe_load(CONFIG.read_text())


@pytest.fixture(scope="session")
def hs():
    """data/hs.csv typed as the engine tests use it: Sector with Catholic as
    reference, school mean and within-school deviation of ses, female 0/1.
    Shared by the whole session: tests take copies (`assign`, `copy`)."""
    import pandas as pd

    d = pd.read_csv(DATA / "hs.csv")
    d["Sector"] = pd.Categorical(d["Sector"], categories=["Catholic", "Public"])
    d["ses_mean"] = d.groupby("school")["ses"].transform("mean")
    d["ses_cwg"] = d["ses"] - d["ses_mean"]
    d["female"] = (d["Sex"] == "Female").astype(float)
    return d


def snakemake_cmd(*args: str) -> list[str]:
    """Snakemake from the interpreter running the tests (the project's venv)."""
    return [sys.executable, "-m", "snakemake", *args]


def run_snakemake(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(snakemake_cmd(*args), cwd=cwd, capture_output=True, text=True, env=env)


def build_dataset_tables(folder: Path, dataset: str) -> Path:
    """Every table of one dataset's handout, computed in-process by the step
    functions the workflow's adapters call, under `folder/<dataset>/`."""
    from mlmcompare.analyses.ladder import ladder_tables
    from mlmcompare.methods import METHODS
    from mlmcompare.analyses.oneway import oneway_tables
    from mlmcompare.part1 import Part1Settings, look_tables, methods_tables
    from mlmcompare.steps import dataset_model, prepare_dataset, run_method
    from mlmcompare.analyses.sectorgap import sector_gap_tables
    from mlmcompare.analyses.shrinkage import shrinkage_tables
    from mlmcompare.analyses.simexample import SimSettings, sim_tables
    from mlmcompare.spec import spec_from_config
    from mlmcompare.report.tidy import read_table, write_frame_atomic

    config = default_config()
    spec = spec_from_config(dataset_model(config, dataset))
    out = folder / dataset
    prepare_dataset(ROOT / config["datasets"][dataset]["file"], spec, out / "data.parquet", out / "schools.parquet", out / "data_report.json")
    for method in METHODS:
        run_method(method, out / "data.parquet", spec, {t: out / "methods" / method / f"{t}.parquet" for t in ("coef", "sector_lines", "fit")})
    data, schools = read_table(out / "data.parquet"), read_table(out / "schools.parquet")
    settings = Part1Settings.from_config(config.get("part1"), spec)
    part2 = config.get("part2", {})
    tables = {
        "part1": {**look_tables(data, schools, spec, settings), **methods_tables(data, schools, spec, settings)},
        "part2": {
            **ladder_tables(data, spec),
            **oneway_tables(data, schools, spec, part2.get("size_column", "Size")),
            **shrinkage_tables(data, schools, spec),
            **sector_gap_tables(data, spec, preferred_reference=str(part2.get("gap_reference", "Public")), seed=int(part2.get("seed", 2026))),
            **sim_tables(SimSettings(seed=int(part2.get("seed", 2026)), n_schools=int(part2.get("sim_schools", 40)))),
        },
    }
    for part, frames in tables.items():
        for name, frame in frames.items():
            write_frame_atomic(frame, out / part / f"{name}.parquet")
    return out
