"""Snakemake adapter: write a dataset's explorable page from the files its manifest lists."""
from pathlib import Path

from mlmcompare.pipeline import step_log
from mlmcompare.report.explore import build_explore_page

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], f"explore {sm.wildcards.dataset}") as log:
    out = build_explore_page(Path(sm.input.manifest).parent, sm.output[0])
    log.write(f"wrote {out} ({out.stat().st_size:,} bytes)")
