"""Snakemake adapter: the one-way model's estimators of the mean, intervals, BLUEs and BLUPs."""
from mlmcompare.analyses.oneway import oneway_tables
from mlmcompare.steps import step_log
from mlmcompare.analyses.shrinkage import shrinkage_tables
from mlmcompare.spec import spec_from_config
from mlmcompare.report.tidy import read_table, write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"part2 one-way and shrinkage on {sm.wildcards.dataset}") as log:
    spec = spec_from_config(sm.params.model)
    data, schools = read_table(sm.input.data), read_table(sm.input.schools)
    tables = {**oneway_tables(data, schools, spec, sm.params.size_column), **shrinkage_tables(data, schools, spec)}
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
    log.write(f"{len(tables)} tables")
