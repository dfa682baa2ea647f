"""Time the Monte Carlo study's fits: per method, per replicate, per study, per chunk job.

    .venv/bin/python bench/bench_study.py [--baseline SRC] [--replicates 200] [--skip-study]

`--baseline SRC` names the `src` folder of another version of the package
(e.g. `git archive <commit> src | tar -x -C /tmp/base`, then
`--baseline /tmp/base/src`); every measurement then runs for both
versions, one after the other, section by section, so that both see the
same machine, and the ratio is printed. Each measurement runs in a fresh
interpreter with that version first on `PYTHONPATH`.

The study's population values are those the pipeline derives from hsfull
(`study_known_answer.hsfull_parameters`). Measured, in CPU seconds of the process (the machine may be shared, so
process time is steadier than wall time), one BLAS thread:

- `fits`: each method's time per fit through `fit_method` (the pipeline's
  path, tables included) on a J40_n30 replicate and on hsfull;
- `replicate`: one study replicate (simulation, all eight methods, rows)
  through `replicate_rows`, mean over 50 replicates of J40_n30_none; with
  the current version also each method's share on the statistics the
  study shares between them;
- `study`: the whole reduced study, every default scenario with
  `--replicates` each, through `chunk_rows`;
- `chunk`: one chunk job as Snakemake runs it, in wall seconds: a fresh
  interpreter importing what the job imports, then 100 replicates of
  J40_n30_none.

A benchmark, not a test: compare numbers only within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEED = 20261123
SECTIONS = ["chunk", "fits", "replicate", "study"]
PARAMS: dict = {}  # the study's population values (hsfull's contextual fit), set by main


def cpu_ms(fn, repeats: int) -> float:
    fn()  # warm
    start = time.process_time()
    for _ in range(repeats):
        fn()
    return 1000 * (time.process_time() - start) / repeats


def section_fits() -> dict[str, float]:
    """CPU ms per fit of each method through fit_method."""
    from mlmcompare.contextual import add_contextual
    from mlmcompare.data import load_data
    from mlmcompare.methods import METHODS, fit_method
    from mlmcompare.spec import HSB_SPEC
    from mlmcompare.study.dgp import DgpParameters, Scenario, replicate_rng, simulate, simulation_spec

    params = DgpParameters.from_dict(PARAMS)
    spec = simulation_spec(HSB_SPEC, params)
    j40 = simulate(params, Scenario("J40_n30_none", 40, 30, False), replicate_rng(SEED, 0), spec)
    hsfull = add_contextual(load_data(ROOT / "data" / "hsfull.csv", HSB_SPEC).frame, HSB_SPEC)
    out = {}
    for name, data, sp, repeats in [("J40_n30", j40, spec, 40), ("hsfull", hsfull, HSB_SPEC, 5)]:
        for method in METHODS:
            out[f"{name} {method}"] = cpu_ms(lambda: fit_method(method, data, sp), repeats)
    return out


def section_replicate() -> dict[str, float]:
    """CPU ms per study replicate; with the current version each method's share."""
    from mlmcompare.spec import HSB_SPEC
    from mlmcompare.study.dgp import DgpParameters, Scenario, replicate_rng, simulate, simulation_spec
    from mlmcompare.study import run

    params = DgpParameters.from_dict(PARAMS)
    scenario = Scenario("J40_n30_none", 40, 30, False)
    reps = iter(range(10**6))
    out = {"replicate (simulation, 8 methods, rows)": cpu_ms(
        lambda: run.replicate_rows(params, scenario, SEED, next(reps), HSB_SPEC), 50)}
    if hasattr(run, "slope_gap") and hasattr(run, "school_stats"):  # the statistics-sharing version
        spec = simulation_spec(HSB_SPEC, params)
        data = [simulate(params, scenario, replicate_rng(SEED, i), spec) for i in range(50)]
        out["  simulate"] = cpu_ms(lambda: simulate(params, scenario, replicate_rng(SEED, 0), spec), 50)
        out["  school_stats"] = cpu_ms(lambda: [run.school_stats(d, spec) for d in data], 1) / len(data)
        stats = [run.school_stats(d, spec) for d in data]
        for method in run.STUDY_METHODS:
            out[f"  {method}"] = cpu_ms(lambda: [run.slope_gap(method, s) for s in stats], 1) / len(stats)
    return out


def section_study(replicates: int) -> dict[str, float]:
    """CPU s of chunk_rows over every default scenario."""
    from mlmcompare.spec import HSB_SPEC
    from mlmcompare.study.dgp import DgpParameters, Scenario
    from mlmcompare.study.run import chunk_rows
    from mlmcompare.study.settings import DEFAULT_SCENARIOS

    params = DgpParameters.from_dict(PARAMS)
    out = {}
    for sc in DEFAULT_SCENARIOS:
        start = time.process_time()
        chunk_rows(params, Scenario.from_dict(sc), SEED, range(replicates), HSB_SPEC)
        out[sc["name"]] = time.process_time() - start
    out["total"] = sum(out.values())
    return out


def section_chunk() -> dict[str, float]:
    """Wall s of a chunk job in this fresh interpreter: its imports, then its fits."""
    t0 = time.perf_counter()
    from mlmcompare.pipeline import step_log  # noqa: F401 - what workflow/scripts/study_chunk.py imports
    from mlmcompare.spec import HSB_SPEC
    from mlmcompare.study.dgp import DgpParameters, Scenario
    from mlmcompare.study.run import chunk_rows
    from mlmcompare.tidy import write_frame_atomic  # noqa: F401

    t1 = time.perf_counter()
    chunk_rows(DgpParameters.from_dict(PARAMS), Scenario("J40_n30_none", 40, 30, False), 1, range(100), HSB_SPEC)
    t2 = time.perf_counter()
    return {"imports": t1 - t0, "100 replicates": t2 - t1}


def run_worker(src: Path, section: str, replicates: int, params: str) -> dict[str, float]:
    """One section in a fresh interpreter with `src` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--worker", section, "--replicates", str(replicates), "--params", params],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{section} with {src} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if section == "chunk":
        out["job (interpreter start to exit)"] = time.perf_counter() - start
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline", type=Path, help="src folder of the version to compare with")
    ap.add_argument("--replicates", type=int, default=200, help="replicates per scenario of the whole study")
    ap.add_argument("--skip-study", action="store_true", help="skip the whole study")
    ap.add_argument("--worker", choices=SECTIONS, help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        PARAMS.update(json.loads(args.params))
        work = {"fits": section_fits, "replicate": section_replicate, "chunk": section_chunk,
                "study": lambda: section_study(args.replicates)}[args.worker]
        print(json.dumps(work()))
        return 0
    from study_known_answer import hsfull_parameters  # bench/, next to this script

    params = json.dumps(hsfull_parameters().to_dict())
    versions = {"current": ROOT / "src"}
    if args.baseline:
        versions["baseline"] = args.baseline.resolve()
    units = {"fits": "ms CPU per fit", "replicate": "ms CPU per replicate", "study": "s CPU",
             "chunk": "s wall"}
    for section in SECTIONS:
        if section == "study" and args.skip_study:
            continue
        results = {name: run_worker(src, section, args.replicates, params) for name, src in versions.items()}
        print(f"{section} ({units[section]})" + ("" if len(versions) == 1 else "    current  baseline  ratio"))
        for key, value in results["current"].items():
            line = f"  {key:44s} {value:9.2f}"
            base = results.get("baseline", {}).get(key)
            if base is not None:
                line += f" {base:9.2f} {base / value:6.1f}x"
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
