"""Snakemake adapter: fit the model ladder (REML and ML) and its likelihood-ratio tests."""
from mlmcompare.analyses.ladder import ladder_tables
from mlmcompare.steps import step_log
from mlmcompare.spec import spec_from_config
from mlmcompare.report.tidy import read_table, write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"part2 ladder on {sm.wildcards.dataset}") as log:
    tables = ladder_tables(read_table(sm.input.data), spec_from_config(sm.params.model))
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
    log.write(f"{len(tables['ladder_models'])} fits, {len(tables['ladder_lrt'])} tests")
