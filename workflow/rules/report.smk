rule manifest:
    input:
        csv=dataset_csv,
        data=f"{RESULTS}/{{dataset}}/data.parquet",
        schools=f"{RESULTS}/{{dataset}}/schools.parquet",
        report=f"{RESULTS}/{{dataset}}/data_report.json",
        tables=lambda wc: list(method_tables(wc.dataset).values()),
        parts=lambda wc: list(report_part_outputs(wc.dataset).values()),
    output:
        f"{RESULTS}/{{dataset}}/manifest.json",
    log:
        f"{RESULTS}/{{dataset}}/logs/manifest.log",
    params:
        outputs=lambda wc: {**method_tables(wc.dataset), **report_part_outputs(wc.dataset)},
        benchmarks=lambda wc: f"{RESULTS}/{wc.dataset}/benchmarks",
    conda:
        CONDA_ENV
    script:
        "../scripts/manifest.py"


rule report:
    input:
        manifest=f"{RESULTS}/{{dataset}}/manifest.json",
        qmd="reports/handout.qmd",
        sections=handout_sections("reports/handout.qmd"),
    output:
        **report_outputs(),
    log:
        f"{RESULTS}/{{dataset}}/logs/report.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/report.tsv"
    params:
        engine=config.get("report", {}).get("engine", "auto"),
    conda:
        CONDA_ENV
    script:
        "../scripts/report.py"
