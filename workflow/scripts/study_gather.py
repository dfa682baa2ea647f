"""Snakemake adapter: all chunks of the study -> one replicates table."""
from mlmcompare.steps import step_log
from mlmcompare.study.summarise import gather_chunks
from mlmcompare.report.tidy import read_table, write_frame_atomic

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"study gather ({len(sm.input)} chunks)") as log:
    rows = gather_chunks(read_table(p) for p in sm.input)
    write_frame_atomic(rows, sm.output[0])
    log.write(f"{len(rows)} rows")
