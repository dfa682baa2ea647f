# A handout's key figures and tables as files: results/<dataset>/highlights/
# (the ellipse and coverage figures, the comparison of the gaps and the
# summary of methods). The handout and the at-a-glance sheet include them,
# and `snakemake --report` shows them (mlmcompare.report.highlights).


rule highlights:
    input:
        unpack(highlight_inputs),
    output:
        **{name: report(path, caption=f"../report/{name}.rst", category="{dataset}", subcategory="Key results")
           for name, path in highlight_files("{dataset}").items()},
    log:
        f"{RESULTS}/{{dataset}}/logs/highlights.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/highlights.tsv"
    priority: 30
    params:
        methods=METHODS,
    conda:
        CONDA_ENV
    script:
        STEP
