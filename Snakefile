# mlmcompare: from raw clustered data to the comparison handouts.
# The rules live in workflow/rules/; everything that computes is in
# src/mlmcompare. `snakemake --cores 2` builds the handouts of config["run"].
import glob

from snakemake.utils import min_version, validate

min_version("8.0")


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
include: "workflow/rules/report.smk"
include: "workflow/rules/explore.smk"
include: "workflow/rules/glance.smk"


rule all:
    input:
        handout_targets(),
    default_target: True
