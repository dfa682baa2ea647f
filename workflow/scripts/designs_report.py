"""Snakemake adapter: render the designs handout from its manifest (HTML, and PDF if asked)."""
from pathlib import Path

from mlmcompare.steps import step_log
from mlmcompare.render import render_report

sm = snakemake  # noqa: F821 (injected by Snakemake)
with step_log(sm.log[0], "designs report") as log:
    info = render_report(
        Path(sm.input.qmd),
        Path(sm.output.html),
        params={"manifest": str(Path(sm.input.manifest).resolve())},
        pdf_out=Path(sm.output.pdf) if "pdf" in sm.output.keys() else None,
        engine=sm.params.engine,
    )
    log.write(f"rendered with {info.engine}")
