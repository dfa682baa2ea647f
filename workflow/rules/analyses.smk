# The handout's analyses, one step each (mlmcompare.analyses.ANALYSES): every
# table of an analysis lands in results/<dataset>/analyses/<analysis>/.


rule analysis:
    input:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
        schools=f"{RESULTS}/{{dataset}}/schools.parquet",
    output:
        tables=directory(f"{RESULTS}/{{dataset}}/analyses/{{analysis}}"),
    log:
        f"{RESULTS}/{{dataset}}/logs/analysis_{{analysis}}.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/analysis_{{analysis}}.tsv"
    priority: 20
    params:
        model=lambda wc: dataset_model(wc.dataset),
        settings=lambda wc: dataset_handout(wc.dataset),
    conda:
        CONDA_ENV
    script:
        STEP


# The simulated example reads no data: one run serves every handout.
rule simulated:
    output:
        tables=directory(SIMULATED),
    log:
        f"{RESULTS}/logs/simulated.log",
    benchmark:
        f"{RESULTS}/benchmarks/simulated.tsv"
    priority: 20
    params:
        settings={k: config["handout"][k] for k in ("seed", "simulated_schools")},
    conda:
        CONDA_ENV
    script:
        STEP
