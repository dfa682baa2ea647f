# The explorable companion page of each data set: results/<dataset>/explore.html,
# one self-contained file that computes in the browser from the fitted numbers
# its manifest lists (mlmcompare.report.explore).


rule explore:
    input:
        manifest=f"{RESULTS}/{{dataset}}/manifest.json",
    output:
        page=report(f"{RESULTS}/{{dataset}}/explore.html", caption="../report/explore.rst", category="{dataset}", subcategory="Explore"),
    log:
        f"{RESULTS}/{{dataset}}/logs/explore.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/explore.tsv"
    conda:
        CONDA_ENV
    script:
        STEP

