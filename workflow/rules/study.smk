# Monte Carlo study of the methods: bias, efficiency and coverage of every
# method's estimate of the gap in the within-school slope, on data simulated
# from the contextual mixed model fitted to a source data set (by default
# the handout's own). Scatter: one job per chunk of replicates, each running
# every scenario; gather; summarise. Everything lands under
# results/study/<source>/; chunks are shared by studies of every size
# (replicate i is the same in all).


rule study_params:
    input:
        data=f"{RESULTS}/{{source}}/data.parquet",
        coef=f"{RESULTS}/{{source}}/methods/mixed_contextual/coef.parquet",
        fit=f"{RESULTS}/{{source}}/methods/mixed_contextual/fit.parquet",
    output:
        params=f"{RESULTS}/study/{{source}}/params.json",
    log:
        f"{RESULTS}/study/{{source}}/logs/params.log",
    priority: 45
    params:
        model=lambda wc: dataset_model(wc.source),
    conda:
        CONDA_ENV
    script:
        STEP


rule study_chunk:
    input:
        params=f"{RESULTS}/study/{{source}}/params.json",
    output:
        rows=f"{RESULTS}/study/{{source}}/chunks/reps_{{start,\d+}}_{{stop,\d+}}.parquet",
    log:
        f"{RESULTS}/study/{{source}}/logs/chunk_{{start}}_{{stop}}.log",
    priority: 30
    params:
        scenarios=STUDY["scenarios"],
        seed=STUDY["seed"],
        model=lambda wc: dataset_model(wc.source),
    conda:
        CONDA_ENV
    script:
        STEP


rule study_gather:
    input:
        chunk_paths,
    output:
        replicates=f"{RESULTS}/study/{{source}}/r{STUDY_REPLICATES}/replicates.parquet",
    log:
        f"{RESULTS}/study/{{source}}/r{STUDY_REPLICATES}/logs/gather.log",
    priority: 35
    conda:
        CONDA_ENV
    script:
        STEP


rule study_summary:
    input:
        replicates=f"{RESULTS}/study/{{source}}/r{STUDY_REPLICATES}/replicates.parquet",
        params=f"{RESULTS}/study/{{source}}/params.json",
    output:
        summary=f"{RESULTS}/study/{{source}}/r{STUDY_REPLICATES}/summary.parquet",
    log:
        f"{RESULTS}/study/{{source}}/r{STUDY_REPLICATES}/logs/summary.log",
    priority: 35
    params:
        scenarios=STUDY["scenarios"],
    conda:
        CONDA_ENV
    script:
        STEP
