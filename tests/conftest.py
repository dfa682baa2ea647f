"""Shared fixtures: paths and one real pipeline run on `hs` per test session."""

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


def run_pipeline(folder: Path, dataset: str) -> Path:
    """Run the whole pipeline on one dataset (fallback renderer, PDF on) into `folder`."""
    results = folder / "results"
    overrides = folder / "config.yaml"
    # the designs handout has its own tests (tests/test_designs_*.py)
    overrides.write_text(yaml.safe_dump({
        "results": str(results), "run": [dataset], "report": {"pdf": True, "engine": "fallback"},
        "designs": {"build": False},
        # a token Monte Carlo study (3 scenarios, 4 replicates), so the handout's
        # measured columns are exercised quickly; tests/test_study_*.py check its numbers
        "study": {"replicates": 4, "chunk_size": 4, "scenarios": [
            {"name": "J40_n30_none", "n_groups": 40, "mean_size": 30, "contextual": False},
            {"name": "J40_n30_ctx", "n_groups": 40, "mean_size": 30, "contextual": True},
            {"name": "J40_n30_t3", "n_groups": 40, "mean_size": 30, "contextual": False,
             "random_effects": "t3", "baseline": "J40_n30_none"},
        ]},
    }))
    proc = run_snakemake("--cores", "2", "--nolock", "--configfile", str(overrides))
    if proc.returncode != 0:
        pytest.fail(f"pipeline on {dataset} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return results / dataset


@pytest.fixture(scope="session")
def hs_results(tmp_path_factory) -> Path:
    """The results folder of one real pipeline run on `hs`."""
    return run_pipeline(tmp_path_factory.mktemp("pipeline_hs"), "hs")


@pytest.fixture(scope="session")
def hsfull_results(tmp_path_factory) -> Path:
    """The results folder of one real pipeline run on `hsfull`."""
    return run_pipeline(tmp_path_factory.mktemp("pipeline_hsfull"), "hsfull")
