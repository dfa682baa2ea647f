"""Snakemake adapter: one-way repeated-measures ANOVA, sphericity, mixed-model LRT, MANOVA."""
import pandas as pd

from mlmcompare.estimation import rmanova as rm
from mlmcompare.estimation.sphericity import epsilon_table, mauchly_test
from mlmcompare.steps import step_log
from mlmcompare.report.tidy import write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
s = sm.params.settings
subj, cond, resp = s["subject"], s["condition"], s["response"]
with step_log(sm.log[0], "designs rmanova") as log:
    data, levels = rm.read_long(pd.read_csv(sm.input.csv), subj, cond, resp, s.get("levels"))
    wide = rm.wide_matrix(data, subj, cond, resp, levels)
    twoway = rm.anova_twoway(wide, cond, subj)
    tables = {
        "wide": wide.reset_index().rename(columns=str),
        "cell_means": rm.condition_means(wide),
        "anova_twoway": twoway,
        "anova_strata": rm.anova_strata(wide, cond, subj),
        "anova_mv": rm.anova_multivariate(wide, cond),
        "ems": rm.expected_mean_squares(wide, cond, subj),
        "sphericity": mauchly_test(wide),
        "epsilon": epsilon_table(wide, float(twoway["statistic"].iloc[0])),
        "manova": rm.hotelling_test(wide, cond),
        **rm.mixed_lrt_tables(data, subj, cond, resp, levels),
    }
    log.write(f"{wide.shape[0]} subjects x {wide.shape[1]} conditions")
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
