# Monte Carlo study of the methods (issue 10): bias, efficiency and coverage of
# every method's estimate of the gap in the within-school slope, on data
# simulated from the contextual mixed model fitted to config study.source.
# Scatter: one job per scenario and chunk of replicates; gather; summarise.
# The summary is registered in REPORT_PARTS for every handout (when enabled).
from mlmcompare.study.settings import chunk_paths, scenario_by_name, study_replicates, study_settings

STUDY = study_settings(config)
STUDY_DIR = f"{RESULTS}/study"
# Chunks are shared by studies of every size (replicate i is the same in all);
# the gathered table and its summary live in a folder named for the size.
STUDY_REPLICATES = study_replicates(STUDY)
STUDY_OUT = f"{STUDY_DIR}/r{STUDY_REPLICATES}"


rule study_params:
    input:
        data=f"{RESULTS}/{STUDY['source']}/data.parquet",
        coef=f"{RESULTS}/{STUDY['source']}/methods/mixed_contextual/coef.parquet",
        fit=f"{RESULTS}/{STUDY['source']}/methods/mixed_contextual/fit.parquet",
    output:
        f"{STUDY_DIR}/params.json",
    log:
        f"{STUDY_DIR}/logs/params.log",
    params:
        model=lambda wc: dataset_model(config, STUDY["source"]),
    conda:
        CONDA_ENV
    script:
        "../scripts/study_params.py"


rule study_chunk:
    input:
        params=f"{STUDY_DIR}/params.json",
    output:
        f"{STUDY_DIR}/chunks/{{scenario,[A-Za-z0-9_]+}}/reps_{{start,\d+}}_{{stop,\d+}}.parquet",
    log:
        f"{STUDY_DIR}/logs/chunk_{{scenario}}_{{start}}_{{stop}}.log",
    params:
        scenario=lambda wc: scenario_by_name(STUDY, wc.scenario),
        seed=STUDY["seed"],
        model=lambda wc: dataset_model(config, STUDY["source"]),
    conda:
        CONDA_ENV
    script:
        "../scripts/study_chunk.py"


rule study_gather:
    input:
        chunk_paths(f"{STUDY_DIR}/chunks", STUDY),
    output:
        f"{STUDY_OUT}/replicates.parquet",
    log:
        f"{STUDY_OUT}/logs/gather.log",
    conda:
        CONDA_ENV
    script:
        "../scripts/study_gather.py"


rule study_summary:
    input:
        replicates=f"{STUDY_OUT}/replicates.parquet",
    output:
        f"{STUDY_OUT}/summary.parquet",
    log:
        f"{STUDY_OUT}/logs/summary.log",
    params:
        scenarios=STUDY["scenarios"],
    conda:
        CONDA_ENV
    script:
        "../scripts/study_summary.py"


if STUDY["enabled"]:
    REPORT_PARTS.append(
        lambda ds: {
            "study/summary": f"{STUDY_OUT}/summary.parquet",
            "study/params": f"{STUDY_DIR}/params.json",
        }
    )
