rule method:
    input:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
    output:
        coef=f"{RESULTS}/{{dataset}}/methods/{{method}}/coef.parquet",
        sector_lines=f"{RESULTS}/{{dataset}}/methods/{{method}}/sector_lines.parquet",
        fit=f"{RESULTS}/{{dataset}}/methods/{{method}}/fit.parquet",
    log:
        f"{RESULTS}/{{dataset}}/logs/method_{{method}}.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/method_{{method}}.tsv"
    priority: 40
    params:
        model=lambda wc: dataset_model(wc.dataset),
    conda:
        CONDA_ENV
    script:
        STEP
