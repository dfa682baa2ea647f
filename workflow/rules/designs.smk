# The second handout, designs and variance components: one step per part
# (mlmcompare.analyses.DESIGN_PARTS), each from the file of the config
# section it reads, into results/designs/<part>/; a part runs when its
# section is in the config. reports/designs.qmd displays them.


rule design_part:
    input:
        csv=lambda wc: project_path(DESIGNS[DESIGN_SECTIONS[wc.part]]["file"]),
    output:
        tables=directory(f"{DESIGNS_DIR}/{{part}}"),
    log:
        f"{DESIGNS_DIR}/logs/{{part}}.log",
    benchmark:
        f"{DESIGNS_DIR}/benchmarks/{{part}}.tsv"
    params:
        designs=DESIGNS,
    wildcard_constraints:
        part="|".join(DESIGN_PARTS) or "none",
    priority: 10
    conda:
        CONDA_ENV
    script:
        STEP

