"""Snakemake adapter: the handout's part 1, sections 4-5 (robust SEs, diagnostics, second example)."""
from mlmcompare.part1 import Part1Settings, methods_tables
from mlmcompare.steps import step_log
from mlmcompare.spec import spec_from_config
from mlmcompare.report.tidy import read_table, write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"part1 methods on {sm.wildcards.dataset}") as log:
    spec = spec_from_config(sm.params.model)
    tables = methods_tables(read_table(sm.input.data), read_table(sm.input.schools), spec, Part1Settings.from_config(sm.params.part1, spec))
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
    log.write(f"wrote {len(tables)} tables")
