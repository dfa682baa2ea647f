# Handout part 2, "the mixed model from inside": the model ladder, the
# one-way model and its estimators of the mean, BLUE and BLUP, the sector
# gap, and the simulated example. Each rule writes tidy parquet tables under
# results/<dataset>/part2/; reports/_part2.qmd only displays them.
#
# Optional config keys (defaults here): part2.seed, part2.sim_schools,
# part2.gap_reference, part2.size_column.

PART2 = config.get("part2", {}) or {}

PART2_TABLES = {
    "ladder": ["ladder_models", "ladder_coef", "ladder_varcorr", "ladder_lrt"],
    "oneway": [
        "oneway_estimators",
        "oneway_schools",
        "oneway_intervals",
        "oneway_summary",
        "oneway_shrinkage",
        "slopes_schools",
        "slopes_mean_lines",
        "slopes_spread",
        "slopes_fit",
    ],
    "sectorgap": [
        "gap_levels",
        "gap_ttest",
        "gap_coef",
        "gap_fit",
        "gap_variance",
        "gap_se",
        "gap_scenarios",
        "g_panels",
    ],
    "sim": ["sim_students", "sim_schools", "sim_params", "sim_variance", "sim_settings"],
}


PART2_OUTPUTS = {
    step: {name: f"{RESULTS}/{{dataset}}/part2/{name}.parquet" for name in names}
    for step, names in PART2_TABLES.items()
}


REPORT_PARTS.append(
    lambda ds: {
        f"part2/{name}": f"{RESULTS}/{ds}/part2/{name}.parquet"
        for names in PART2_TABLES.values()
        for name in names
    }
)


rule part2_ladder:
    input:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
    output:
        **PART2_OUTPUTS["ladder"],
    log:
        f"{RESULTS}/{{dataset}}/logs/part2_ladder.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/part2_ladder.tsv"
    params:
        model=lambda wc: dataset_model(config, wc.dataset),
    conda:
        CONDA_ENV
    script:
        "../scripts/part2_ladder.py"


rule part2_oneway:
    input:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
        schools=f"{RESULTS}/{{dataset}}/schools.parquet",
    output:
        **PART2_OUTPUTS["oneway"],
    log:
        f"{RESULTS}/{{dataset}}/logs/part2_oneway.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/part2_oneway.tsv"
    params:
        model=lambda wc: dataset_model(config, wc.dataset),
        size_column=PART2.get("size_column", "Size"),
    conda:
        CONDA_ENV
    script:
        "../scripts/part2_oneway.py"


rule part2_sectorgap:
    input:
        data=f"{RESULTS}/{{dataset}}/data.parquet",
    output:
        **PART2_OUTPUTS["sectorgap"],
    log:
        f"{RESULTS}/{{dataset}}/logs/part2_sectorgap.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/part2_sectorgap.tsv"
    params:
        model=lambda wc: dataset_model(config, wc.dataset),
        reference=PART2.get("gap_reference", "Public"),
        seed=PART2.get("seed", 2026),
    conda:
        CONDA_ENV
    script:
        "../scripts/part2_sectorgap.py"


rule part2_sim:
    output:
        **PART2_OUTPUTS["sim"],
    log:
        f"{RESULTS}/{{dataset}}/logs/part2_sim.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/part2_sim.tsv"
    params:
        seed=PART2.get("seed", 2026),
        n_schools=PART2.get("sim_schools", 40),
    conda:
        CONDA_ENV
    script:
        "../scripts/part2_sim.py"
