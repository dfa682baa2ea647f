"""Snakemake adapter: validate the CSV, write typed data and school summary."""
from mlmcompare.steps import prepare_dataset, step_log
from mlmcompare.spec import spec_from_config

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"prepare {sm.wildcards.dataset}") as log:
    report = prepare_dataset(
        sm.input.csv,
        spec_from_config(sm.params.model),
        sm.output.data,
        sm.output.schools,
        sm.output.report,
        drop_incomplete=sm.params.drop_incomplete,
    )
    log.write(f"rows {report['n_rows']}, groups {report['n_groups']}, dropped {report['n_dropped_incomplete']}")
