# mlmcompare: from raw clustered data to the comparison handouts.
# The rules live in workflow/rules/; everything that computes is in
# src/mlmcompare. `snakemake --cores 2` builds the handouts of config["run"].
import glob
import os

from snakemake.utils import min_version, validate

min_version("8.0")

# One BLAS thread per job: Snakemake runs --cores jobs side by side, and the
# threads OpenBLAS starts on top of them spin against each other (measured:
# the default run 87 s with OpenBLAS's own threads, 70 s with one per job).
# Snakemake sets these for shell commands only; script steps inherit ours.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


# Paths of the project's own files are taken from this file's folder, so that
# the workflow runs from any working directory (`mlmcompare handout` runs it
# in the folder of the results, from an installed copy).
configfile: f"{workflow.basedir}/config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/analyses.smk"
include: "workflow/rules/study.smk"
include: "workflow/rules/designs.smk"
include: "workflow/rules/highlights.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/explore.smk"
include: "workflow/rules/glance.smk"


rule all:
    input:
        handout_targets(),
    default_target: True
