"""Snakemake adapter: the sector gap, naive and multilevel, and the meaning of G."""
from mlmcompare.steps import step_log
from mlmcompare.analyses.sectorgap import sector_gap_tables
from mlmcompare.spec import spec_from_config
from mlmcompare.report.tidy import read_table, write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"part2 sector gap on {sm.wildcards.dataset}") as log:
    tables = sector_gap_tables(read_table(sm.input.data), spec_from_config(sm.params.model),
                               preferred_reference=str(sm.params.reference), seed=int(sm.params.seed))
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
    log.write(f"reference level {tables['gap_levels']['level'].iloc[0]}")
