"""Known-answer check of the study: at J = 160 schools without a contextual
effect the mixed model's 95% intervals cover within Monte Carlo error of 95%,
and pooled OLS's clearly less.

    .venv/bin/python bench/study_known_answer.py [--replicates 400] [--workers 2]

Population values as the pipeline derives them (hsfull's contextual mixed
model), seeded, so the verdict is the same on every run. Exit status 0 when
both claims hold, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from mlmcompare.methods import fit_method
from mlmcompare.data import add_contextual, load_data
from mlmcompare.spec import spec_from_config
from mlmcompare.study.dgp import DgpParameters, Scenario
from mlmcompare.study.params import study_parameters
from mlmcompare.study.run import chunk_rows
from mlmcompare.study.summarise import gather_chunks, summarise

ROOT = Path(__file__).resolve().parents[1]
HSB_SPEC = spec_from_config(yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["model"])
SCENARIO = Scenario("J160_n30_none", n_groups=160, mean_size=30, contextual=False)
METHODS = ["pooled_ols", "mixed", "pooled_ols_cr2"]
SEED = 20261123


def hsfull_parameters() -> DgpParameters:
    data = add_contextual(load_data(ROOT / "data" / "hsfull.csv", HSB_SPEC).frame, HSB_SPEC)
    res = fit_method("mixed_contextual", data, HSB_SPEC)
    return study_parameters(data, res.coef, res.fit, HSB_SPEC)


def run_chunk(args: tuple[DgpParameters, int, int]) -> pd.DataFrame:
    params, a, b = args
    return chunk_rows(params, SCENARIO, SEED, range(a, b), HSB_SPEC, METHODS)


def known_answer(replicates: int = 400, workers: int = 2) -> pd.DataFrame:
    params = hsfull_parameters()
    size = max(1, replicates // (4 * workers))
    jobs = [(params, a, min(a + size, replicates)) for a in range(0, replicates, size)]
    with ProcessPoolExecutor(workers) as pool:
        rows = gather_chunks(pool.map(run_chunk, jobs))
    return summarise(rows, {SCENARIO.name: SCENARIO})


def verdict(summary: pd.DataFrame) -> tuple[bool, bool]:
    s = summary.set_index("method")
    R = s.at["mixed", "n_estimates"]
    mc = np.sqrt(0.95 * 0.05 / R)
    mixed_ok = abs(s.at["mixed", "coverage"] - 0.95) <= 2 * mc
    pooled_low = s.at["pooled_ols", "coverage"] < 0.95 - 4 * mc
    return bool(mixed_ok), bool(pooled_low)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--replicates", type=int, default=400)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    start = time.perf_counter()
    summary = known_answer(a.replicates, a.workers)
    seconds = time.perf_counter() - start
    cols = ["method", "n_estimates", "bias", "emp_sd", "se_ratio", "coverage", "coverage_mc_se"]
    print(summary[cols].to_string(index=False))
    mixed_ok, pooled_low = verdict(summary)
    fits = a.replicates * len(METHODS)
    print(f"{fits} fits in {seconds:.1f} s ({fits / seconds:.1f} fits/s, {a.workers} workers)")
    print(f"mixed model coverage within 2 MC SE of 95%: {mixed_ok}; pooled OLS below 95% by more than 4 MC SE: {pooled_low}")
    return 0 if (mixed_ok and pooled_low) else 1


if __name__ == "__main__":
    sys.exit(main())
