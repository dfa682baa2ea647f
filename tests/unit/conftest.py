"""In-process fixtures of the fast tier (`make check`): the tables the
pipeline writes, computed by the same step functions the Snakemake adapters
call, into a folder laid out as `results/<dataset>/`, without Snakemake.

The end-to-end tier (tests/e2e) checks that a real pipeline run writes the
very same bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import build_dataset_tables


@pytest.fixture(scope="session")
def hs_results(tmp_path_factory) -> Path:
    """results/hs as the pipeline writes it (tables only: no manifest, no handout)."""
    return build_dataset_tables(tmp_path_factory.mktemp("inproc_hs"), "hs")


@pytest.fixture(scope="session")
def hsfull_results(tmp_path_factory) -> Path:
    """results/hsfull as the pipeline writes it (tables only)."""
    return build_dataset_tables(tmp_path_factory.mktemp("inproc_hsfull"), "hsfull")
