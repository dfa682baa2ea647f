# mlmcompare: from raw clustered data to the comparison handout.
# The rules live in workflow/rules/; everything that computes is in
# src/mlmcompare. `snakemake --cores 2` builds the handouts of config["run"].
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/prepare.smk"
include: "workflow/rules/methods.smk"
include: "workflow/rules/part1.smk"
include: "workflow/rules/part2.smk"
include: "workflow/rules/study.smk"
include: "workflow/rules/designs.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/explore.smk"


rule all:
    input:
        handout_targets(),
    default_target: True
