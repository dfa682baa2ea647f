"""The end-to-end tier: one run of the default pipeline per test session.

`default_run` runs Snakemake exactly as the README's `make handout` does,
with the committed config/config.yaml (hs handout, designs handout, reduced
Monte Carlo study), writing into a temporary results folder. Every
end-to-end test reads that one run; tests that need other data or settings
run only the few rules they need.

Each of these runs is built once per test session, however many test
workers ask for it (`built_once`)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Callable

import pytest

from ..conftest import run_snakemake


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder `name` of this test session, filled by `build(folder)` once.

    A session-scoped fixture is per process: under `make test`'s two xdist
    workers each would run the same pipeline again (and xdist's grouping by
    mark, which could keep such tests on one worker, silently does nothing
    with pytest 9.2). So the first worker to ask takes a lock on the folder
    shared by the run's workers and builds; the others wait on the lock and
    read. A failed build is recorded and reported to the others rather than
    tried again."""
    root = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        root = root.parent  # one folder per `pytest -n` run, shared by its workers
    folder, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if failed.exists():
            pytest.fail(f"{name} (built by another test worker) failed:\n{failed.read_text()}")
        if not done.exists():
            folder.mkdir()
            try:
                build(folder)
            except (Exception, pytest.fail.Exception) as error:
                failed.write_text(str(error))
                raise
            done.touch()
    return folder


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> Path:
    """The results folder of `snakemake --cores 2` with the default config."""

    def build(folder: Path) -> None:
        proc = run_snakemake("--cores", "2", "--nolock", "--config", f"results={folder / 'results'}")
        if proc.returncode != 0:
            pytest.fail(f"the default pipeline failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")

    return built_once(tmp_path_factory, "default_run", build) / "results"


@pytest.fixture(scope="session")
def hs_results(default_run) -> Path:
    return default_run / "hs"


@pytest.fixture(scope="session")
def designs(default_run) -> Path:
    return default_run / "designs"
