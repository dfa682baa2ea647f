"""Snakemake adapter: the study's population values from the source fit."""
import json


from mlmcompare.steps import step_log
from mlmcompare.spec import spec_from_config
from mlmcompare.study.params import study_parameters
from mlmcompare.report.tidy import read_table, write_text_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], "study parameters") as log:
    params = study_parameters(
        read_table(sm.input.data), read_table(sm.input.coef), read_table(sm.input.fit), spec_from_config(sm.params.model)
    )
    text = json.dumps(params.to_dict(), indent=2, sort_keys=True) + "\n"
    log.write(text)
    write_text_atomic(text, sm.output[0])
