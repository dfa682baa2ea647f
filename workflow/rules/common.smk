# Paths and config look-ups shared by the rules; the other rule files hold
# rules only. Nothing here imports the package, so that parsing the workflow
# (every run, a no-op rerun too) stays cheap. Every optional key's default
# comes from the schema (Snakefile's validate).
import os

PROJECT = workflow.basedir  # the folder of the Snakefile: the project's own files
RESULTS = config["results"]
METHODS = list(config["methods"])
METHOD_TABLES = ["coef", "sector_lines", "fit"]
CONDA_ENV = "../../environment.yml"
STEP = "../scripts/step.py"  # the one adapter: runs mlmcompare.steps.<rule>
SIMULATED = f"{RESULTS}/simulated"

# The rules' `priority:` orders the jobs that are ready along the longest chain
# of a default run: prepare -> the methods (the contextual fit gives the
# study's population) -> study_params -> study chunks -> gather, summary ->
# manifest -> report. The analyses come next; the designs handout, off that
# chain, fills the cores left idle (priority 10), and the leaves that nothing
# waits for (the explorable page, the at-a-glance sheet) come last.


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    source="|".join(config["datasets"]),
    method="|".join(METHODS),
    analysis="[a-z0-9_]+",
    part="[a-z0-9_]+",


unknown = [d for d in config["run"] if d not in config["datasets"]]
if unknown:
    raise ValueError(
        f"config 'run' names dataset(s) {unknown} that are not under 'datasets' "
        f"(known: {', '.join(config['datasets'])})"
    )


# ---------------------------------------------------------------- data sets
def project_path(path):
    """A file named in the config: as given when absolute, else in the project."""
    return path if os.path.isabs(path) else os.path.join(PROJECT, path)


def dataset_csv(wildcards):
    return project_path(config["datasets"][wildcards.dataset]["file"])


def dataset_model(dataset):
    """The global `model:` with the data set's own keys over it."""
    return {**config["model"], **(config["datasets"][dataset].get("model") or {})}


def dataset_handout(dataset):
    """The global `handout:` settings with the data set's own keys over them."""
    return {**config["handout"], **(config["datasets"][dataset].get("handout") or {})}


def dataset_dir(dataset):
    return f"{RESULTS}/{dataset}"


def method_outputs(dataset):
    """Every method's three tables, keyed 'method/table' (the manifest's keys)."""
    return {f"{m}/{t}": f"{RESULTS}/{dataset}/methods/{m}/{t}.parquet" for m in METHODS for t in METHOD_TABLES}


def analysis_outputs(dataset):
    """Each analysis's folder of tables, keyed by analysis."""
    return {a: f"{RESULTS}/{dataset}/analyses/{a}" for a in dataset_handout(dataset)["analyses"]}


# ---------------------------------------------------------------- the study
STUDY = config["study"]
STUDY_REPLICATES = int(STUDY["full_replicates"] if STUDY["scale"] == "full" else STUDY["replicates"])
SCENARIO_NAMES = [s["name"] for s in STUDY["scenarios"]]
if len(set(SCENARIO_NAMES)) != len(SCENARIO_NAMES):
    raise ValueError(f"study scenario names must be unique: {SCENARIO_NAMES}")
for s in STUDY["scenarios"]:
    if s.get("baseline") and s["baseline"] not in SCENARIO_NAMES:
        raise ValueError(f"study scenario {s['name']!r} names an unknown baseline {s['baseline']!r}")


def study_source(dataset):
    """The data set whose fit gives the population of the study of `dataset`'s handout."""
    return STUDY["source"] or dataset


def study_dir(source):
    return f"{RESULTS}/study/{source}"


def chunk_paths(wildcards):
    """The scatter's outputs: one file per chunk of replicates, every scenario in each."""
    size = int(STUDY["chunk_size"])
    return [f"{study_dir(wildcards.source)}/chunks/reps_{a:05d}_{min(a + size, STUDY_REPLICATES):05d}.parquet"
            for a in range(0, STUDY_REPLICATES, size)]


def study_outputs(dataset):
    """What a handout reads of its study, keyed as in its manifest."""
    folder = study_dir(study_source(dataset))
    return {"study/summary": f"{folder}/r{STUDY_REPLICATES}/summary.parquet", "study/params": f"{folder}/params.json"}


# ------------------------------------------------------- the designs handout
DESIGNS = config["designs"]
DESIGNS_DIR = f"{RESULTS}/designs"
# each part and the config section (under designs:) it reads
DESIGN_SECTIONS = {"oneway": "oneway", "rmanova": "repeated", "multcomp": "repeated", "gls": "repeated",
                   "components": "components", "threelevel": "threelevel", "crossed": "crossed"}
DESIGN_PARTS = [p for p, section in DESIGN_SECTIONS.items() if section in DESIGNS]


def design_inputs():
    """The input file of each present config section, keyed by section."""
    return {DESIGN_SECTIONS[p]: project_path(DESIGNS[DESIGN_SECTIONS[p]]["file"]) for p in DESIGN_PARTS}


def design_outputs():
    return {p: f"{DESIGNS_DIR}/{p}" for p in DESIGN_PARTS}


# ------------------------------------------------- provenance and rendering
def handout_outputs(dataset):
    """Everything the handout of `dataset` reads, keyed as in its manifest."""
    folder = dataset_dir(dataset)
    out = {"data": f"{folder}/data.parquet", "schools": f"{folder}/schools.parquet",
           "data_report": f"{folder}/data_report.json", **method_outputs(dataset),
           **analysis_outputs(dataset), "simulated": SIMULATED}
    if STUDY["enabled"]:
        out.update(study_outputs(dataset))
    out.update({f"highlights/{name}": path for name, path in highlight_files(dataset).items()})
    return out


def highlight_files(dataset):
    """The handout's key figures and tables (rule highlights) by name; the
    coverage figure only where the study runs."""
    folder = f"{dataset_dir(dataset)}/highlights"
    files = {"ellipses": "ellipses.png", "comparison": "comparison.csv", "summary_of_methods": "summary_of_methods.csv"}
    if STUDY["enabled"]:
        files["coverage"] = "coverage.png"
    return {name: f"{folder}/{file}" for name, file in files.items()}


def highlight_inputs(wc):
    """What the highlights step reads: each method's sector lines and fit, the
    data's counts, and the study's summary where it runs."""
    methods = [f"{dataset_dir(wc.dataset)}/methods/{m}" for m in METHODS]
    out = {"lines": [f"{m}/sector_lines.parquet" for m in methods], "fits": [f"{m}/fit.parquet" for m in methods],
           "data_report": f"{dataset_dir(wc.dataset)}/data_report.json"}
    if STUDY["enabled"]:
        out["study"] = study_outputs(wc.dataset)["study/summary"]
    return out


def handout_config(dataset):
    """The settings a handout's manifest records."""
    return {"model": dataset_model(dataset), "methods": METHODS, "drop_incomplete": config["drop_incomplete"],
            "handout": dataset_handout(dataset),
            "study": {**STUDY, "source": study_source(dataset), "replicates": STUDY_REPLICATES} if STUDY["enabled"] else None}


def report_sections(prefix):
    """The section files a handout's .qmd includes (reports/_<prefix>*.qmd), so
    that editing one renders it again."""
    return sorted(glob.glob(f"{PROJECT}/reports/_{prefix}*.qmd"))


def document_outputs(folder, name):
    """The rendered document: HTML, and the PDF unless the config says no, and
    the record of their sha256 written after the render."""
    return {"html": f"{folder}/{name}.html", **({"pdf": f"{folder}/{name}.pdf"} if config["report"]["pdf"] else {}),
            "record": f"{folder}/{name}.manifest.json"}


def report_outputs(outputs, caption, category, subcategory):
    """A rule's named outputs with the documents (not the sha256 record)
    marked for `snakemake --report`, under the caption of workflow/report/."""
    mark = dict(caption=f"../report/{caption}", category=category, subcategory=subcategory)
    return {name: (path if name == "record" else report(path, **mark)) for name, path in outputs.items()}


def handout_targets():
    """The products: each data set's handout, at-a-glance sheet and explorable
    page, and the designs handout when its config asks for it."""
    out = [f"{RESULTS}/{d}/{f}" for d in config["run"] for f in ("handout.html", "glance.html", "explore.html")]
    if DESIGN_PARTS and DESIGNS["build"]:
        out.append(f"{DESIGNS_DIR}/designs.html")
    return out
