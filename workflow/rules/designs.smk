# The second handout, designs and variance components (issue 8):
# reports/designs.qmd from the parquet tables of three parts (one-way random
# effects from group means, repeated measures, covariance components),
# rendered to results/designs/designs.html (+ .pdf). Its target is appended
# to EXTRA_TARGETS (common.smk).

import glob

from mlmcompare.designs.paths import (
    DESIGNS_INPUT,
    designs_inputs,
    designs_outputs,
    designs_parts,
    designs_report_outputs,
    designs_tables,
)

DESIGNS = config.get("designs", {}) or {}
DESIGNS_DIR = f"{RESULTS}/designs"

DESIGNS_PARTS = designs_parts(DESIGNS)


if "oneway" in DESIGNS_PARTS:

    rule designs_oneway:
        input:
            csv=DESIGNS[DESIGNS_INPUT["oneway"]]["file"],
        output:
            **designs_tables(DESIGNS_DIR, "oneway"),
        log:
            f"{DESIGNS_DIR}/logs/oneway.log",
        benchmark:
            f"{DESIGNS_DIR}/benchmarks/oneway.tsv"
        params:
            settings=DESIGNS[DESIGNS_INPUT["oneway"]],
        conda:
            CONDA_ENV
        script:
            "../scripts/designs_oneway.py"


if "rmanova" in DESIGNS_PARTS:

    rule designs_rmanova:
        input:
            csv=DESIGNS[DESIGNS_INPUT["rmanova"]]["file"],
        output:
            **designs_tables(DESIGNS_DIR, "rmanova"),
        log:
            f"{DESIGNS_DIR}/logs/rmanova.log",
        benchmark:
            f"{DESIGNS_DIR}/benchmarks/rmanova.tsv"
        params:
            settings=DESIGNS[DESIGNS_INPUT["rmanova"]],
        conda:
            CONDA_ENV
        script:
            "../scripts/designs_rmanova.py"


if "multcomp" in DESIGNS_PARTS:

    rule designs_multcomp:
        input:
            csv=DESIGNS[DESIGNS_INPUT["multcomp"]]["file"],
        output:
            **designs_tables(DESIGNS_DIR, "multcomp"),
        log:
            f"{DESIGNS_DIR}/logs/multcomp.log",
        benchmark:
            f"{DESIGNS_DIR}/benchmarks/multcomp.tsv"
        params:
            settings=DESIGNS[DESIGNS_INPUT["multcomp"]],
        conda:
            CONDA_ENV
        script:
            "../scripts/designs_multcomp.py"


if "gls" in DESIGNS_PARTS:

    rule designs_gls:
        input:
            csv=DESIGNS[DESIGNS_INPUT["gls"]]["file"],
        output:
            **designs_tables(DESIGNS_DIR, "gls"),
        log:
            f"{DESIGNS_DIR}/logs/gls.log",
        benchmark:
            f"{DESIGNS_DIR}/benchmarks/gls.tsv"
        params:
            settings=DESIGNS[DESIGNS_INPUT["gls"]],
        conda:
            CONDA_ENV
        script:
            "../scripts/designs_gls.py"


if "components" in DESIGNS_PARTS:

    rule designs_components:
        input:
            csv=DESIGNS[DESIGNS_INPUT["components"]]["file"],
        output:
            **designs_tables(DESIGNS_DIR, "components"),
        log:
            f"{DESIGNS_DIR}/logs/components.log",
        benchmark:
            f"{DESIGNS_DIR}/benchmarks/components.tsv"
        params:
            settings=DESIGNS[DESIGNS_INPUT["components"]],
        conda:
            CONDA_ENV
        script:
            "../scripts/designs_components.py"


rule designs_manifest:
    input:
        csv=list(designs_inputs(DESIGNS).values()),
        tables=list(designs_outputs(DESIGNS_DIR, DESIGNS).values()),
    output:
        f"{DESIGNS_DIR}/manifest.json",
    log:
        f"{DESIGNS_DIR}/logs/manifest.log",
    params:
        inputs=designs_inputs(DESIGNS),
        outputs=designs_outputs(DESIGNS_DIR, DESIGNS),
        settings=DESIGNS,
        benchmarks=f"{DESIGNS_DIR}/benchmarks",
    conda:
        CONDA_ENV
    script:
        "../scripts/designs_manifest.py"


rule designs_report:
    input:
        manifest=f"{DESIGNS_DIR}/manifest.json",
        qmd="reports/designs.qmd",
        sections=glob.glob("reports/_designs_*.qmd"),
    output:
        **designs_report_outputs(DESIGNS_DIR, config.get("report", {}).get("pdf", True)),
    log:
        f"{DESIGNS_DIR}/logs/report.log",
    benchmark:
        f"{DESIGNS_DIR}/benchmarks/report.tsv"
    params:
        engine=config.get("report", {}).get("engine", "auto"),
    conda:
        CONDA_ENV
    script:
        "../scripts/designs_report.py"


if DESIGNS_PARTS and config.get("designs", {}).get("build", True):
    EXTRA_TARGETS.append(f"{DESIGNS_DIR}/designs.html")
