# Provenance and rendering, for both handouts: the manifest records what a
# handout is made from (every input and output hashed, settings, versions,
# run times) and the report renders the .qmd from it. One step serves each
# pair of rules (mlmcompare.steps.manifest and .report).


rule manifest:
    input:
        csv=dataset_csv,
        outputs=lambda wc: list(handout_outputs(wc.dataset).values()),
    output:
        manifest=f"{RESULTS}/{{dataset}}/manifest.json",
    log:
        f"{RESULTS}/{{dataset}}/logs/manifest.log",
    priority: 35
    params:
        header=lambda wc: {"dataset": wc.dataset, "title": config["datasets"][wc.dataset].get("title", wc.dataset)},
        inputs=lambda wc: {"csv": dataset_csv(wc)},
        outputs=lambda wc: handout_outputs(wc.dataset),
        config=lambda wc: handout_config(wc.dataset),
        records=lambda wc: {"data_report": f"{dataset_dir(wc.dataset)}/data_report.json"},
        benchmarks=lambda wc: f"{dataset_dir(wc.dataset)}/benchmarks",
    conda:
        CONDA_ENV
    script:
        STEP


rule report:
    input:
        manifest=f"{RESULTS}/{{dataset}}/manifest.json",
        qmd=f"{PROJECT}/reports/handout.qmd",
        sections=report_sections("part") + report_sections("summary"),
    output:
        **report_outputs(document_outputs(f"{RESULTS}/{{dataset}}", "handout"), "handout.rst", "{dataset}", "Handout"),
    log:
        f"{RESULTS}/{{dataset}}/logs/report.log",
    priority: 35
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/report.tsv"
    params:
        engine=config["report"]["engine"],
    conda:
        CONDA_ENV
    script:
        STEP


rule designs_manifest:
    input:
        csv=list(design_inputs().values()),
        tables=list(design_outputs().values()),
    output:
        manifest=f"{DESIGNS_DIR}/manifest.json",
    log:
        f"{DESIGNS_DIR}/logs/manifest.log",
    params:
        header={"dataset": "designs", "title": DESIGNS["title"]},
        inputs=design_inputs(),
        outputs=design_outputs(),
        config={"designs": DESIGNS},
        benchmarks=f"{DESIGNS_DIR}/benchmarks",
    priority: 10
    conda:
        CONDA_ENV
    script:
        STEP


rule designs_report:
    input:
        manifest=f"{DESIGNS_DIR}/manifest.json",
        qmd=f"{PROJECT}/reports/designs.qmd",
        sections=report_sections("designs_"),
    output:
        **report_outputs(document_outputs(DESIGNS_DIR, "designs"), "designs.rst", "designs", "Handout"),
    log:
        f"{DESIGNS_DIR}/logs/report.log",
    benchmark:
        f"{DESIGNS_DIR}/benchmarks/report.tsv"
    params:
        engine=config["report"]["engine"],
    priority: 10
    conda:
        CONDA_ENV
    script:
        STEP
