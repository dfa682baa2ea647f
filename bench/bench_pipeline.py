"""The pipeline case of the benchmark: `make handout`'s run from nothing, then a rerun.

Times ``snakemake --cores 2`` with the committed default configuration
(config/config.yaml: the hs handout with its at-a-glance sheet and
explorable page, the designs handout and the reduced Monte Carlo study),
writing into a temporary results directory so that the user's ``results/``
is left alone: several times cold (no results yet; the environment, numba's
compiled kernels included, already installed, as ``make venv`` leaves it),
then with nothing changed, when Snakemake should find nothing to do.

Besides the wall-clock times it reports where a cold run's time goes: the
CPU-seconds of Snakemake and every job (``getrusage`` of the children), and,
from each step's log, every job's start-up (Python, Snakemake's script
preamble and the adapter, before the step begins) and the step itself
(its imports and its work).

The install case times ``make venv`` in a fresh clone of this checkout's
HEAD: what the README's first command spends before the pipeline (from
PyPI, or pip's cache where it holds the files already).
"""

from __future__ import annotations

import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

PIPELINE_TIMEOUT_S = 1800
INSTALL_TIMEOUT_S = 1800
COLD_RUNS = 3
NOOP_RUNS = 3
STEP_LINE = re.compile(r"^(?P<step>\S+)(?: [^:]*)?: (?:started after (?P<startup>[\d.]+) s of start-up"
                       r"|done in (?P<done>[\d.]+) s)$")


def snakemake_command() -> Path | None:
    """The Snakemake of this environment, if it is installed."""
    exe = Path(sys.executable).parent / "snakemake"
    return exe if exe.exists() else None


def children_cpu_s() -> float:
    """User and system CPU-seconds of every finished child of this process (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_run(cmd: list[str], cwd: Path, timeout: float = PIPELINE_TIMEOUT_S) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall-clock seconds, CPU-seconds (the command and all it started) and the process."""
    cpu0, t0 = children_cpu_s(), time.perf_counter()
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - t0, children_cpu_s() - cpu0, out


def step_profile(results: Path) -> list[dict[str, Any]]:
    """Per rule, from the steps' logs under `results`: jobs, summed start-up
    seconds and summed step seconds, the longest rule first."""
    rules: dict[str, dict[str, Any]] = defaultdict(lambda: {"jobs": 0, "startup_s": 0.0, "step_s": 0.0})
    for log in results.rglob("*.log"):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            m = STEP_LINE.match(line)
            if m is None:
                continue
            row = rules[m["step"]]
            if m["startup"] is not None:
                row["jobs"] += 1
                row["startup_s"] += float(m["startup"])
            else:
                row["step_s"] += float(m["done"])
    rows = [{"rule": rule, **row, "total_s": row["startup_s"] + row["step_s"]} for rule, row in rules.items()]
    return sorted(rows, key=lambda r: -r["total_s"])


def time_pipeline(repo_root: Path, tmpdir: Path, cores: int = 2, cold_runs: int = COLD_RUNS,
                  noop_runs: int = NOOP_RUNS) -> dict[str, Any]:
    """Cold runs (each into an empty results folder), then reruns with nothing
    changed, and the profile of the last cold run."""
    exe = snakemake_command()
    if exe is None:
        return {"available": False, "reason": "snakemake is not installed in this environment"}
    cold = []
    for i in range(cold_runs):
        results = tmpdir / f"pipeline-results-{i}"
        cmd = [str(exe), "--cores", str(cores), "--config", f"results={results}", "--quiet"]
        wall, cpu, proc = timed_run(cmd, repo_root)
        if proc.returncode != 0:
            return {"available": False, "reason": f"snakemake failed: {proc.stderr.strip()[-500:]}"}
        cold.append({"wall_s": wall, "cpu_s": cpu})
        if i < cold_runs - 1:
            shutil.rmtree(results)
    noop = []
    for _ in range(noop_runs):
        wall, cpu, proc = timed_run(cmd, repo_root)
        noop.append({"wall_s": wall, "cpu_s": cpu,
                     "did_nothing": "Nothing to be done" in (proc.stdout + proc.stderr)})
    profile = step_profile(results)
    walls = [r["wall_s"] for r in cold]
    return {
        "available": True,
        "command": " ".join(["snakemake", *cmd[1:3], "--config", "results=<temporary>", "--quiet"]),
        "cores": cores,
        "cold": cold,
        "cold_median_s": statistics.median(walls),
        "cold_max_s": max(walls),
        "noop": noop,
        "noop_median_s": statistics.median(r["wall_s"] for r in noop),
        "noop_did_nothing": all(r["did_nothing"] for r in noop),
        "profile": profile,
        "jobs": sum(r["jobs"] for r in profile),
    }


def time_install(repo_root: Path, tmpdir: Path) -> dict[str, Any]:
    """`make venv` in a fresh clone of HEAD, with the interpreter that made this environment."""
    clone = tmpdir / "install-clone"
    proc = subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(repo_root), str(clone)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return {"available": False, "reason": f"git clone failed: {proc.stderr.strip()[-300:]}"}
    python = getattr(sys, "_base_executable", None) or sys.executable
    wall, cpu, proc = timed_run(["make", "venv", f"PYTHON={python}"], clone, timeout=INSTALL_TIMEOUT_S)
    if proc.returncode != 0:
        return {"available": False, "reason": f"make venv failed: {proc.stderr.strip()[-500:]}"}
    return {"available": True, "command": "make venv (fresh clone of HEAD)", "wall_s": wall, "cpu_s": cpu}
