# The at-a-glance sheet of each data set: results/<dataset>/glance.html (and
# .pdf), at most two pages with the comparison table, the ellipse figure and
# the summary of methods with the study's measurements. It renders
# reports/glance.qmd from the handout's manifest with the same display
# functions as the handout (mlmcompare.steps.report). Its target joins rule all.


rule glance:
    input:
        manifest=f"{RESULTS}/{{dataset}}/manifest.json",
        qmd=f"{PROJECT}/reports/glance.qmd",
    output:
        **report_outputs(document_outputs(f"{RESULTS}/{{dataset}}", "glance"), "glance.rst", "{dataset}", "At a glance"),
    log:
        f"{RESULTS}/{{dataset}}/logs/glance.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/glance.tsv"
    params:
        engine=config["report"]["engine"],
    conda:
        CONDA_ENV
    script:
        STEP

