# Handout part 1 (sections 1-5 and the errata): two steps writing tidy tables
# under results/<dataset>/part1/, registered in REPORT_PARTS (common.smk) so
# that the manifest lists them and the report waits for them.
from mlmcompare.part1 import LOOK_TABLES, METHODS_TABLES, table_paths

REPORT_PARTS.append(
    lambda ds: {f"part1/{n}": p for n, p in table_paths(RESULTS, ds, LOOK_TABLES + METHODS_TABLES).items()}
)


rule part1_look:
    input:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
        schools=f"{RESULTS}/{{dataset}}/schools.parquet",
    output:
        **table_paths(RESULTS, "{dataset}", LOOK_TABLES),
    log:
        f"{RESULTS}/{{dataset}}/logs/part1_look.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/part1_look.tsv"
    params:
        model=lambda wc: dataset_model(config, wc.dataset),
        part1=config.get("part1", {}),
    conda:
        CONDA_ENV
    script:
        "../scripts/part1_look.py"


rule part1_methods:
    input:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
        schools=f"{RESULTS}/{{dataset}}/schools.parquet",
    output:
        **table_paths(RESULTS, "{dataset}", METHODS_TABLES),
    log:
        f"{RESULTS}/{{dataset}}/logs/part1_methods.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/part1_methods.tsv"
    params:
        model=lambda wc: dataset_model(config, wc.dataset),
        part1=config.get("part1", {}),
    conda:
        CONDA_ENV
    script:
        "../scripts/part1_methods.py"
