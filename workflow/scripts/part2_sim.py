"""Snakemake adapter: the simulated example (seed and number of schools from the config)."""
from mlmcompare.steps import step_log
from mlmcompare.analyses.simexample import SimSettings, sim_tables
from mlmcompare.report.tidy import write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"part2 simulation for {sm.wildcards.dataset}") as log:
    settings = SimSettings(seed=int(sm.params.seed), n_schools=int(sm.params.n_schools))
    tables = sim_tables(settings)
    for name, frame in tables.items():
        write_frame_atomic(frame, sm.output[name])
    log.write(f"seed {settings.seed}, {settings.n_schools} schools, {len(tables['sim_students'])} students")
