"""Snakemake adapter: one-way random effects from published group means (designs part 1)."""
import pandas as pd

from mlmcompare.analyses.group_means import fit_from_group_means, oneway_tables, read_group_means
from mlmcompare.steps import step_log
from mlmcompare.report.tidy import write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
s = sm.params.settings
with step_log(sm.log[0], "designs oneway") as log:
    groups = read_group_means(pd.read_csv(sm.input.csv), s["group"], s["n"], s["mean"])
    fit = fit_from_group_means(
        groups["mean"], groups["n"], within_sd=s.get("within_sd"), within_ss=s.get("within_ss"),
        reml=True, groups=groups["group"], group_name=s["group"], response=s.get("response", "y"),
    )
    log.write(repr(fit))
    tables = oneway_tables(fit, groups)
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
