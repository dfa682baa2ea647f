"""Snakemake adapter: one chunk of replicates of one scenario -> parquet rows."""
import json
import time

from mlmcompare.steps import step_log
from mlmcompare.spec import spec_from_config
from mlmcompare.study.dgp import DgpParameters, Scenario
from mlmcompare.study.run import chunk_rows
from mlmcompare.report.tidy import write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
start, stop = int(sm.wildcards.start), int(sm.wildcards.stop)
with step_log(sm.log[0], f"study chunk {sm.wildcards.scenario} replicates [{start}, {stop})") as log:
    params = DgpParameters.from_dict(json.loads(open(sm.input.params).read()))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    rows = chunk_rows(params, Scenario.from_dict(sm.params.scenario), int(sm.params.seed), range(start, stop),
                      spec_from_config(sm.params.model), timings=timings)
    seconds = time.perf_counter() - t0
    write_frame_atomic(rows, sm.output[0])
    log.write(f"{len(rows)} fits in {seconds:.2f} s ({len(rows) / seconds:.1f} fits/s)")
    for method, s in timings.items():
        log.write(f"  {method}: {1000 * s / max(stop - start, 1):.1f} ms per fit")
    failed = rows[rows["error"] != ""]
    for r in failed.itertuples():
        log.write(f"  FAILED replicate {r.replicate} {r.method}: {r.error}")
