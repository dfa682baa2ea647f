"""Snakemake adapter of every rule: run the step named like the rule
(mlmcompare.steps) with the job's files, params and wildcards."""
from mlmcompare.steps import job_from_snakemake, run_step, exit_without_teardown

run_step(job_from_snakemake(snakemake))  # noqa: F821 (injected by Snakemake)
exit_without_teardown()
