"""Snakemake adapter: GLS with six covariance structures for the repeated measures (ML, REML)."""
import pandas as pd

from mlmcompare.estimation import rmanova as rm
from mlmcompare.estimation.gls import STRUCTURES, fit_gls_long, gls_tables, nested_lrt_table
from mlmcompare.steps import step_log
from mlmcompare.report.tidy import write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
s = sm.params.settings
subj, cond, resp = s["subject"], s["condition"], s["response"]
with step_log(sm.log[0], "designs gls") as log:
    data, levels = rm.read_long(pd.read_csv(sm.input.csv), subj, cond, resp, s.get("levels"))
    fits = []
    for structure in STRUCTURES:
        for reml in (True, False):
            f = fit_gls_long(data, subj, cond, resp, levels, structure, reml)
            log.write(f"{structure} {'REML' if reml else 'ML'}: loglik {f.loglik:.6f}, {f.optimizer}")
            fits.append(f)
    tables = gls_tables(fits)
    tables["lrt"] = nested_lrt_table(fits)
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
