"""Snakemake adapter: the replicates table -> one summary row per scenario and method."""
from mlmcompare.steps import step_log
from mlmcompare.study.dgp import Scenario
from mlmcompare.study.summarise import summarise
from mlmcompare.report.tidy import read_table, write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], "study summary"):
    scenarios = {s["name"]: Scenario.from_dict(s) for s in sm.params.scenarios}
    baselines = {s["name"]: s.get("baseline", "") for s in sm.params.scenarios}
    write_frame_atomic(summarise(read_table(sm.input.replicates), scenarios, baselines), sm.output[0])
