"""Snakemake adapter: fit one method and write its three tidy tables."""
from mlmcompare.steps import run_method, step_log
from mlmcompare.spec import spec_from_config

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"method {sm.wildcards.method} on {sm.wildcards.dataset}") as log:
    outputs = {"coef": sm.output.coef, "sector_lines": sm.output.sector_lines, "fit": sm.output.fit}
    seconds = run_method(sm.wildcards.method, sm.input.data, spec_from_config(sm.params.model), outputs)
    log.write(f"fit in {seconds:.4f} s")
