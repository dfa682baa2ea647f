"""Snakemake adapter: the provenance manifest of the designs handout."""
from pathlib import Path

from mlmcompare.designs.manifest import write_designs_manifest
from mlmcompare.steps import step_log

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], "designs manifest"):
    write_designs_manifest(
        sm.output[0],
        sm.params.settings,
        inputs=sm.params.inputs,
        outputs=sm.params.outputs,
        benchmarks=sorted(Path(sm.params.benchmarks).glob("*.tsv")),
        root=Path(sm.scriptdir).parents[1],
    )
