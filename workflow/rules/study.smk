# Monte Carlo study of the methods: bias, efficiency and coverage of every
# method's estimate of the gap in the within-school slope, on data simulated
# from the contextual mixed model fitted to a source data set (by default
# the handout's own). Scatter: one job per chunk of replicates, each running
# every scenario; gather; summarise. Everything lands under
# results/study/<source>/; chunks are shared by studies of every size
# (replicate i is the same in all).

STUDY = config["study"]
STUDY_REPLICATES = int(STUDY["full_replicates"] if STUDY["scale"] == "full" else STUDY["replicates"])
SCENARIOS = {s["name"]: s for s in STUDY["scenarios"]}

if len(SCENARIOS) != len(STUDY["scenarios"]):
    raise ValueError(f"study scenario names must be unique: {[s['name'] for s in STUDY['scenarios']]}")
for s in STUDY["scenarios"]:
    if s.get("baseline") and s["baseline"] not in SCENARIOS:
        raise ValueError(f"study scenario {s['name']!r} names an unknown baseline {s['baseline']!r}")


def study_source(dataset):
    """The data set whose fit gives the population of the study of `dataset`'s handout."""
    return STUDY["source"] or dataset


def study_dir(source):
    return f"{RESULTS}/study/{source}"


def chunk_ranges():
    """Half-open replicate ranges [start, stop) of the chunks."""
    size = int(STUDY["chunk_size"])
    return [(a, min(a + size, STUDY_REPLICATES)) for a in range(0, STUDY_REPLICATES, size)]


def chunk_paths(wildcards):
    return [f"{study_dir(wildcards.source)}/chunks/reps_{a:05d}_{b:05d}.parquet" for a, b in chunk_ranges()]


def study_outputs(dataset):
    """What a handout reads of its study, keyed as in its manifest."""
    folder = study_dir(study_source(dataset))
    return {"study/summary": f"{folder}/r{STUDY_REPLICATES}/summary.parquet", "study/params": f"{folder}/params.json"}


wildcard_constraints:
    source="|".join(config["datasets"]),


rule study_params:
    input:
        data=f"{RESULTS}/{{source}}/data.parquet",
        coef=f"{RESULTS}/{{source}}/methods/mixed_contextual/coef.parquet",
        fit=f"{RESULTS}/{{source}}/methods/mixed_contextual/fit.parquet",
    output:
        params=f"{RESULTS}/study/{{source}}/params.json",
    log:
        f"{RESULTS}/study/{{source}}/logs/params.log",
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
    params:
        scenarios=STUDY["scenarios"],
    conda:
        CONDA_ENV
    script:
        STEP
