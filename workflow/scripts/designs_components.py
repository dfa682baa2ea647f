"""Snakemake adapter: covariance components of random intercepts and slopes (designs part 3)."""
import pandas as pd

from mlmcompare.analyses.components import component_formulas, components_tables, fit_components, prepare_components
from mlmcompare.steps import step_log
from mlmcompare.report.tidy import write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
s = sm.params.settings
with step_log(sm.log[0], "designs components") as log:
    data, names = prepare_components(
        pd.read_csv(sm.input.csv), s["response"], s["group"], s["slopes"], s.get("level2"), s.get("reference")
    )
    formulas = component_formulas(s["response"], s["group"], names, s.get("level2"))
    fits = fit_components(data, formulas)
    for key, f in fits.items():
        log.write(f"{key}: {f!r}")
    for name, frame in components_tables(fits, formulas).items():
        write_frame_atomic(frame, sm.output[name])
