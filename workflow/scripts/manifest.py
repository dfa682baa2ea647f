"""Snakemake adapter: write the provenance manifest of one dataset."""
from pathlib import Path

from mlmcompare.steps import step_log, write_manifest

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"manifest {sm.wildcards.dataset}"):
    outputs = {"data": sm.input.data, "schools": sm.input.schools, "data_report": sm.input.report, **sm.params.outputs}
    write_manifest(
        sm.output[0],
        sm.wildcards.dataset,
        sm.config,
        inputs={"csv": sm.input.csv},
        outputs=outputs,
        data_report=sm.input.report,
        benchmarks=sorted(Path(sm.params.benchmarks).glob("*.tsv")),
        root=Path(sm.scriptdir).parents[1],
    )
