# The explorable companion page of each dataset: results/<dataset>/explore.html,
# one self-contained file computed in the browser from the fitted numbers
# (src/mlmcompare/report/explore.py). Its target is appended to EXTRA_TARGETS.


rule explore:
    input:
        manifest=f"{RESULTS}/{{dataset}}/manifest.json",
        data=f"{RESULTS}/{{dataset}}/data.parquet",
        schools=f"{RESULTS}/{{dataset}}/schools.parquet",
        ellipses=f"{RESULTS}/{{dataset}}/part1/ellipses.parquet",
        varcorr=f"{RESULTS}/{{dataset}}/part1/varcorr.parquet",
        tables=lambda wc: [method_tables(wc.dataset)[f"{m}/{t}"] for m in METHODS for t in ("sector_lines", "fit")],
    output:
        f"{RESULTS}/{{dataset}}/explore.html",
    log:
        f"{RESULTS}/{{dataset}}/logs/explore.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/explore.tsv"
    conda:
        CONDA_ENV
    script:
        "../scripts/explore.py"


EXTRA_TARGETS.extend(f"{RESULTS}/{d}/explore.html" for d in config["run"])
