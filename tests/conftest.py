"""Shared paths and helpers of both tiers: tests/unit (in-process, `make
check`) and tests/e2e (one real pipeline run of the default config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

if "PYTEST_XDIST_WORKER" in os.environ:
    # one BLAS thread per test worker (set before numpy loads OpenBLAS): two
    # workers each running two OpenBLAS threads on 2 cores spin against each
    # other (measured: the several-factor golden tests 17 s alone, 250 s so)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
GOLDEN = ROOT / "tests" / "golden"
CONFIG = ROOT / "config" / "config.yaml"


def default_config() -> dict:
    """The committed default configuration (config/config.yaml)."""
    return yaml.safe_load(CONFIG.read_text())


def hsb_spec():
    """The model spec of the bundled High School and Beyond data, from the config."""
    from mlmcompare.spec import spec_from_config

    return spec_from_config(default_config()["model"])


HSB_SPEC = hsb_spec()


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


def validated_config(config: dict | None = None) -> dict:
    """A config (default: the committed one) completed by the schema's defaults,
    as the workflow's `validate` completes it."""
    from snakemake.utils import validate

    config = default_config() if config is None else config
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def dataset_handout(config: dict, dataset: str) -> dict:
    """The handout settings of one data set (global, then its own keys)."""
    return {**config["handout"], **(config["datasets"][dataset].get("handout") or {})}


def build_dataset_tables(folder: Path, dataset: str) -> Path:
    """Every table of one data set's handout, computed in-process by the steps
    the workflow runs (mlmcompare.steps), laid out as the pipeline lays them
    out under `folder` (folder/<dataset>/..., folder/simulated/)."""
    from mlmcompare.spec import dataset_model
    from mlmcompare.steps import Job, analysis, method, prepare, simulated

    config = validated_config()
    model, settings = dataset_model(config, dataset), dataset_handout(config, dataset)
    out = folder / dataset
    data = {"data": out / "data.parquet", "schools": out / "schools.parquet"}
    prepare(Job("prepare", input={"csv": ROOT / config["datasets"][dataset]["file"]},
                output={**data, "report": out / "data_report.json"}, params={"model": model}))
    for m in config["methods"]:
        method(Job("method", input=data, output={t: out / "methods" / m / f"{t}.parquet" for t in ("coef", "sector_lines", "fit")},
                   params={"model": model}, wildcards={"method": m}))
    for a in settings["analyses"]:
        analysis(Job("analysis", input=data, output={"tables": out / "analyses" / a},
                     params={"model": model, "settings": settings}, wildcards={"analysis": a}))
    simulated(Job("simulated", output={"tables": folder / "simulated"}, params={"settings": config["handout"]}))
    return out


def table(results: Path, name: str):
    """The table `name` of a data set's results folder, whichever analysis (or
    the simulated example beside it) wrote it."""
    from mlmcompare.report.tidy import read_table

    found = sorted(results.glob(f"analyses/*/{name}.parquet")) + sorted(results.parent.glob(f"simulated/{name}.parquet"))
    if len(found) != 1:
        raise LookupError(f"{len(found)} tables named {name!r} under {results}")
    return read_table(found[0])
