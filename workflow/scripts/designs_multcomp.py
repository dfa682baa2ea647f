"""Snakemake adapter: multiple comparisons of the conditions (RM-ANOVA error term, and paired)."""
import pandas as pd

from mlmcompare.estimation import rmanova as rm
from mlmcompare.estimation.multcomp import paired_comparisons, pairwise_comparisons
from mlmcompare.steps import step_log
from mlmcompare.report.tidy import write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
s = sm.params.settings
subj, cond, resp = s["subject"], s["condition"], s["response"]
with step_log(sm.log[0], "designs multcomp"):
    data, levels = rm.read_long(pd.read_csv(sm.input.csv), subj, cond, resp, s.get("levels"))
    wide = rm.wide_matrix(data, subj, cond, resp, levels)
    resid = rm.anova_twoway(wide, cond, subj).set_index("term").loc["Residuals"]
    write_frame_atomic(pairwise_comparisons(wide, float(resid["meansq"]), float(resid["df"])), sm.output["multcomp"])
    write_frame_atomic(paired_comparisons(wide), sm.output["paired"])
