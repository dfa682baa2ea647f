"""The pipeline's steps: what each Snakemake rule runs.

Every rule runs `workflow/scripts/step.py`, which hands its job to
`run_step`: the step named like the rule runs with the job's named input and
output files, params and wildcards (a `Job`). Its log file receives what the
step reports, Python warnings and anything written to stderr; an exception
is logged and still raised, so that Snakemake stops. Every output is written
atomically: a failed step leaves nothing half-written.

Each step imports what it needs when it runs, so a job pays only for the
code it uses. The in-process test tier calls the same steps with a `Job`
built by hand.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

log = logging.getLogger("mlmcompare")


@dataclass(frozen=True)
class Job:
    """A rule's job as a step sees it."""

    rule: str
    input: Mapping[str, Any] = field(default_factory=dict)
    output: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    wildcards: Mapping[str, str] = field(default_factory=dict)
    log: str | None = None


def job_from_snakemake(sm: Any) -> Job:
    """The `snakemake` object a script receives, as a `Job` (named entries only,
    plus `all` for the list of inputs)."""
    return Job(
        rule=sm.rule,
        input={**dict(sm.input.items()), "all": list(sm.input)},
        output=dict(sm.output.items()),
        params=dict(sm.params.items()),
        wildcards=dict(sm.wildcards.items()),
        log=sm.log[0] if len(sm.log) else None,
    )


# ------------------------------------------------------------------ the data
def prepare(job: Job) -> None:
    """Validate and type the CSV; write the student data (with contextual
    columns), the school summary and the data report. Everything is computed
    before anything is written, so a refused input leaves no output."""
    from .data import add_contextual, load_data, school_summary
    from .report.tidy import write_frame_atomic, write_text_atomic
    from .spec import spec_from_config

    csv, spec = job.input["csv"], spec_from_config(job.params["model"])
    loaded = load_data(csv, spec, drop_incomplete=bool(job.params.get("drop_incomplete", False)))
    students = add_contextual(loaded.frame, spec)
    schools = school_summary(loaded.frame, spec)
    levels = schools[spec.level2_factor].astype(str).value_counts()
    report = {
        "source": Path(csv).name,
        "n_rows": int(len(students)),
        "n_dropped_incomplete": loaded.n_dropped,
        "n_groups": int(len(schools)),
        "groups_per_level": {str(k): int(v) for k, v in levels.sort_index().items()},
        "group_size_min": int(schools["n"].min()),
        "group_size_max": int(schools["n"].max()),
        "reference": spec.reference,
    }
    write_frame_atomic(students, job.output["data"])
    write_frame_atomic(schools, job.output["schools"])
    write_text_atomic(json.dumps(report, indent=2, sort_keys=True) + "\n", job.output["report"])
    log.info("rows %d, groups %d, dropped %d", report["n_rows"], report["n_groups"], report["n_dropped_incomplete"])


# ------------------------------------------------------- methods and analyses
def method(job: Job) -> None:
    """Fit one method on the prepared data and write its three tidy tables."""
    from .methods import fit_method
    from .report.tidy import read_table, write_method_result
    from .spec import spec_from_config

    data = read_table(job.input["data"])
    start = time.perf_counter()
    result = fit_method(job.wildcards["method"], data, spec_from_config(job.params["model"]))
    log.info("fit in %.4f s", time.perf_counter() - start)
    write_method_result(result, job.output)


def analysis(job: Job) -> None:
    """One analysis of a data set: its tables into the output folder."""
    from .analyses import Inputs, run_analysis
    from .report.tidy import read_table, write_tables_dir
    from .spec import spec_from_config

    inputs = Inputs(read_table(job.input["data"]), read_table(job.input["schools"]),
                    spec_from_config(job.params["model"]), job.params["settings"])
    tables = run_analysis(job.wildcards["analysis"], inputs)
    write_tables_dir(tables, job.output["tables"])
    log.info("%d tables: %s", len(tables), ", ".join(tables))


def simulated(job: Job) -> None:
    """The simulated example (no data read), shared by every handout."""
    from .analyses import simulated_example
    from .report.tidy import write_tables_dir

    tables = simulated_example(job.params["settings"])
    write_tables_dir(tables, job.output["tables"])
    log.info("%d students", len(tables["sim_students"]))


def design_part(job: Job) -> None:
    """One part of the designs handout from its input file."""
    import pandas as pd

    from .analyses import run_design_part
    from .report.tidy import write_tables_dir

    tables = run_design_part(job.wildcards["part"], pd.read_csv(job.input["csv"]), job.params["designs"])
    write_tables_dir(tables, job.output["tables"])
    log.info("%d tables: %s", len(tables), ", ".join(tables))


# ------------------------------------------------------------------ the study
def study_params(job: Job) -> None:
    """The study's population values from the source data's contextual fit."""
    from .report.tidy import read_table, write_text_atomic
    from .spec import spec_from_config
    from .study.params import study_parameters

    params = study_parameters(read_table(job.input["data"]), read_table(job.input["coef"]),
                              read_table(job.input["fit"]), spec_from_config(job.params["model"]))
    text = json.dumps(params.to_dict(), indent=2, sort_keys=True) + "\n"
    log.info("%s", text)
    write_text_atomic(text, job.output["params"])


def study_chunk(job: Job) -> None:
    """One chunk of replicates of every scenario -> one row per scenario, replicate and method."""
    import pandas as pd

    from .report.tidy import write_frame_atomic
    from .spec import spec_from_config
    from .study.dgp import DgpParameters, Scenario
    from .study.run import chunk_rows

    start, stop = int(job.wildcards["start"]), int(job.wildcards["stop"])
    params = DgpParameters.from_dict(json.loads(Path(job.input["params"]).read_text()))
    spec = spec_from_config(job.params["model"])
    frames = []
    for configured in job.params["scenarios"]:
        scenario = Scenario.from_config(configured, params)
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        rows = chunk_rows(params, scenario, int(job.params["seed"]), range(start, stop), spec, timings=timings)
        log.info("%s: %d schools of mean size %.1f; %d fits in %.2f s (%s)", scenario.name, scenario.n_groups,
                 scenario.mean_size, len(rows), time.perf_counter() - t0,
                 ", ".join(f"{m} {1000 * s / max(stop - start, 1):.1f} ms" for m, s in timings.items()))
        for r in rows[rows["error"] != ""].itertuples():
            log.warning("%s replicate %d %s failed: %s", scenario.name, r.replicate, r.method, r.error)
        frames.append(rows)
    write_frame_atomic(pd.concat(frames, ignore_index=True), job.output["rows"])


def study_gather(job: Job) -> None:
    """All chunks of the study -> one replicates table."""
    from .report.tidy import read_table, write_frame_atomic
    from .study.summarise import gather_chunks

    rows = gather_chunks(read_table(p) for p in job.input["all"])
    write_frame_atomic(rows, job.output["replicates"])
    log.info("%d rows", len(rows))


def study_summary(job: Job) -> None:
    """The replicates table -> one summary row per scenario and method."""
    from .report.tidy import read_table, write_frame_atomic
    from .study.dgp import DgpParameters, Scenario
    from .study.summarise import summarise

    params = DgpParameters.from_dict(json.loads(Path(job.input["params"]).read_text()))
    configured = job.params["scenarios"]
    scenarios = {s["name"]: Scenario.from_config(s, params) for s in configured}
    baselines = {s["name"]: s.get("baseline", "") for s in configured}
    write_frame_atomic(summarise(read_table(job.input["replicates"]), scenarios, baselines), job.output["summary"])


def highlights(job: Job) -> None:
    """A handout's key figures and tables as files (report.highlights), read
    by the handout and the at-a-glance sheet and shown by `snakemake --report`."""
    import pandas as pd

    from .methods import LABELS
    from .report.highlights import write_highlights
    from .report.tidy import read_table

    def stacked(key: str) -> pd.DataFrame:
        return pd.concat([read_table(p) for p in job.input[key]], ignore_index=True)

    facts = json.loads(Path(job.input["data_report"]).read_text())
    study = read_table(job.input["study"]) if "study" in job.input else None
    write_highlights(job.output, stacked("lines"), stacked("fits"), job.params["methods"], LABELS, study,
                     facts["n_groups"], facts["n_rows"] / facts["n_groups"])


# -------------------------------------------------------- provenance, report
def manifest(job: Job) -> None:
    """A handout's manifest: every input and output hashed (an output folder
    stands for each of its tables), settings, versions, run times."""
    from .report.provenance import write_provenance

    outputs: dict[str, str] = {}
    for key, path in job.params["outputs"].items():
        path = Path(path)
        if path.is_dir():
            outputs.update({f"{key}/{table.stem}": str(table) for table in sorted(path.glob("*.parquet"))})
        else:
            outputs[key] = str(path)
    extra = {key: json.loads(Path(path).read_text()) for key, path in job.params.get("records", {}).items()}
    benchmarks = sorted(Path(job.params["benchmarks"]).glob("*.tsv")) if job.params.get("benchmarks") else []
    write_provenance(job.output["manifest"], header=job.params["header"], inputs=job.params["inputs"],
                     outputs=outputs, config_record=job.params["config"], extra=extra,
                     benchmarks=benchmarks, root=Path(__file__).resolve().parents[2])


def report(job: Job) -> None:
    """Render a handout, or the at-a-glance sheet, from its manifest (HTML, and
    the PDF when asked), then record the documents' sha256 beside them (the
    manifest, an input of the render, cannot hold them)."""
    from .render import render_report
    from .report.provenance import write_document_record

    documents = {k: Path(job.output[k]) for k in ("html", "pdf") if k in job.output}
    info = render_report(
        Path(job.input["qmd"]),
        documents["html"],
        params={"manifest": str(Path(job.input["manifest"]).resolve())},
        pdf_out=documents.get("pdf"),
        engine=job.params.get("engine", "auto"),
    )
    write_document_record(job.output["record"], job.input["manifest"], documents, info.engine)
    log.info("rendered with %s", info.engine)


def explore(job: Job) -> None:
    """The explorable companion page, from the files the handout's manifest lists."""
    from .report.explore import build_explore_page

    page = build_explore_page(Path(job.input["manifest"]).parent, job.output["page"])
    log.info("wrote %s (%d bytes)", page, page.stat().st_size)


STEPS: dict[str, Callable[[Job], None]] = {
    "prepare": prepare,
    "method": method,
    "analysis": analysis,
    "simulated": simulated,
    "design_part": design_part,
    "study_params": study_params,
    "study_chunk": study_chunk,
    "study_gather": study_gather,
    "study_summary": study_summary,
    "highlights": highlights,
    "manifest": manifest,
    "designs_manifest": manifest,
    "report": report,
    "designs_report": report,
    "glance": report,
    "explore": explore,
}


def run_step(job: Job) -> None:
    """Run the job's step with its log file capturing the step's messages,
    warnings and stderr."""
    if job.rule not in STEPS:
        raise ValueError(f"no step for rule {job.rule!r}; steps: {', '.join(STEPS)}")
    what = f"{job.rule} " + " ".join(f"{k}={v}" for k, v in job.wildcards.items())
    with step_log(job.log, what.strip()):
        STEPS[job.rule](job)


@contextmanager
def step_log(path: str | Path | None, step: str) -> Iterator[None]:
    """Send the package's log records, Python warnings and the process's
    stderr (file descriptor 2, so that messages of compiled code come too)
    to the log file; record the run time, or the failure, at the end."""
    if path is None:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        logging.captureWarnings(True)
        logging.getLogger("py.warnings").addHandler(handler)
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(fh.fileno(), 2)
        start = time.perf_counter()
        age = process_age()
        fh.write(f"{step}: started" + ("" if age is None else f" after {age:.2f} s of start-up") + "\n")
        fh.flush()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")
                yield
        except BaseException as exc:
            fh.write(f"{step}: FAILED after {time.perf_counter() - start:.3f} s: {type(exc).__name__}: {exc}\n")
            raise
        else:
            fh.write(f"{step}: done in {time.perf_counter() - start:.3f} s\n")
        finally:
            sys.stderr.flush()
            fh.flush()
            os.dup2(saved, 2)
            os.close(saved)
            log.removeHandler(handler)
            logging.getLogger("py.warnings").removeHandler(handler)
            logging.captureWarnings(False)


def process_age() -> float | None:
    """Seconds since this process started: what a job spent before its step
    (Python's start-up, Snakemake's script preamble, the adapter's imports),
    read from /proc at its 10 ms resolution; None where there is no /proc."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return None


def exit_without_teardown() -> None:
    """End a job's process once its step has succeeded, skipping the
    interpreter's teardown: freeing numba's compiled code, pandas and the
    rest takes 0.1 to 0.3 s a job, for nothing, as the step has written and
    closed its outputs and its log (a failed step raises before this)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
