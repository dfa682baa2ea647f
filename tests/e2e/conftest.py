"""The end-to-end tier: one run of the default pipeline per test session.

`default_run` runs Snakemake exactly as the README's `make handout` does,
with the committed config/config.yaml (hs handout, designs handout, reduced
Monte Carlo study), writing into a temporary results folder. Every
end-to-end test reads that one run; tests that need other data or settings
run only the few rules they need."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import run_snakemake


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Path:
    """The results folder of `snakemake --cores 2` with the default config."""
    results = tmp_path_factory.mktemp("default_run") / "results"
    proc = run_snakemake("--cores", "2", "--nolock", "--config", f"results={results}")
    if proc.returncode != 0:
        pytest.fail(f"the default pipeline failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return results


@pytest.fixture(scope="session")
def hs_results(default_run) -> Path:
    return default_run / "hs"


@pytest.fixture(scope="session")
def designs(default_run) -> Path:
    return default_run / "designs"
