"""The pipeline case of the benchmark: the `hs` handouts from nothing, then a rerun.

Times ``snakemake --cores 2`` on the bundled data with the Monte Carlo study
off and everything else on (parts 1 and 2 of the handout, the designs
handout), writing into a temporary results directory so that the user's
``results/`` is left alone: once cold (no results yet; the environment,
numba's compiled kernels included, already installed, as ``make venv``
leaves it), then once more with nothing changed, when Snakemake should find
nothing to do.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

PIPELINE_TIMEOUT_S = 1800


def snakemake_command() -> Path | None:
    """The Snakemake of this environment, if it is installed."""
    exe = Path(sys.executable).parent / "snakemake"
    return exe if exe.exists() else None


def pipeline_config(tmpdir: Path) -> Path:
    """A config file (merged over config/config.yaml) sending results to ``tmpdir``."""
    path = tmpdir / "pipeline-bench.yaml"
    path.write_text(f"results: {tmpdir / 'pipeline-results'}\nstudy:\n  enabled: false\n")
    return path


def timed_run(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=PIPELINE_TIMEOUT_S)
    return time.perf_counter() - t0, out


def time_pipeline(repo_root: Path, tmpdir: Path, cores: int = 2) -> dict[str, Any]:
    """Wall-clock seconds of a cold run and of a rerun with nothing changed."""
    exe = snakemake_command()
    if exe is None:
        return {"available": False, "reason": "snakemake is not installed in this environment"}
    cmd = [str(exe), "--cores", str(cores), "--configfile", str(pipeline_config(tmpdir)), "--quiet"]
    cold_s, cold = timed_run(cmd, repo_root)
    if cold.returncode != 0:
        return {"available": False, "reason": f"snakemake failed: {cold.stderr.strip()[-500:]}"}
    rerun_s, rerun = timed_run(cmd, repo_root)
    return {
        "available": True,
        "command": " ".join(["snakemake", *cmd[1:]]),
        "cores": cores,
        "cold_s": cold_s,
        "rerun_s": rerun_s,
        "rerun_did_nothing": "Nothing to be done" in (rerun.stdout + rerun.stderr),
    }
