# A handout's key figures and tables as files: results/<dataset>/highlights/
# (the ellipse and coverage figures, the comparison of the gaps and the
# summary of methods). The handout and the at-a-glance sheet include them,
# and `snakemake --report` shows them (mlmcompare.report.highlights).


def highlight_inputs(wc):
    methods = [f"{dataset_dir(wc.dataset)}/methods/{m}" for m in METHODS]
    out = {"lines": [f"{m}/sector_lines.parquet" for m in methods], "fits": [f"{m}/fit.parquet" for m in methods],
           "data_report": f"{dataset_dir(wc.dataset)}/data_report.json"}
    if STUDY["enabled"]:
        out["study"] = study_outputs(wc.dataset)["study/summary"]
    return out


rule highlights:
    input:
        unpack(highlight_inputs),
    output:
        **{name.partition("/")[2]: report(path, caption=f"../report/{name.partition('/')[2]}.rst",
                                          category="{dataset}", subcategory="Key results")
           for name, path in highlight_outputs("{dataset}").items()},
    log:
        f"{RESULTS}/{{dataset}}/logs/highlights.log",
    benchmark:
        f"{RESULTS}/{{dataset}}/benchmarks/highlights.tsv"
    priority: 30
    params:
        methods=METHODS,
    conda:
        CONDA_ENV
    script:
        STEP
