rule prepare:
    input:
        csv=dataset_csv,
    output:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
        schools=f"{RESULTS}/{{dataset}}/schools.parquet",
        report=f"{RESULTS}/{{dataset}}/data_report.json",
    log:
        f"{RESULTS}/{{dataset}}/logs/prepare.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/prepare.tsv"
    priority: 50
    params:
        model=lambda wc: dataset_model(wc.dataset),
        drop_incomplete=config["drop_incomplete"],
    conda:
        CONDA_ENV
    script:
        STEP
