# Paths and config look-ups shared by the rules; nothing here imports the
# package, so that parsing the workflow (every run, a no-op rerun too) stays
# cheap. Defaults of every optional key come from the schema (Snakefile).

import os

RESULTS = config["results"]
METHODS = list(config["methods"])
METHOD_TABLES = ["coef", "sector_lines", "fit"]
CONDA_ENV = "../../environment.yml"
STEP = "../scripts/step.py"


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    method="|".join(METHODS),
    analysis="[a-z0-9_]+",
    part="[a-z0-9_]+",


unknown = [d for d in config["run"] if d not in config["datasets"]]
if unknown:
    raise ValueError(
        f"config 'run' names dataset(s) {unknown} that are not under 'datasets' "
        f"(known: {', '.join(config['datasets'])})"
    )


PROJECT = workflow.basedir  # the folder of the Snakefile


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


def analyses(dataset):
    return list(dataset_handout(dataset)["analyses"])


def dataset_dir(dataset):
    return f"{RESULTS}/{dataset}"


def method_outputs(dataset):
    """Every method's three tables, keyed 'method/table' (the manifest's keys)."""
    return {f"{m}/{t}": f"{RESULTS}/{dataset}/methods/{m}/{t}.parquet" for m in METHODS for t in METHOD_TABLES}


def analysis_outputs(dataset):
    """Each analysis's folder of tables, keyed by analysis."""
    return {a: f"{RESULTS}/{dataset}/analyses/{a}" for a in analyses(dataset)}


SIMULATED = f"{RESULTS}/simulated"


def pdf_wanted():
    return bool(config["report"]["pdf"])


def document_outputs(folder, name):
    """The rendered document: HTML, and the PDF unless the config says no, and
    the record of their sha256 written after the render."""
    return {"html": f"{folder}/{name}.html", **({"pdf": f"{folder}/{name}.pdf"} if pdf_wanted() else {}),
            "record": f"{folder}/{name}.manifest.json"}


# Further products of `rule all` (the designs handout) append here.
EXTRA_TARGETS = []


def handout_targets():
    return [f"{RESULTS}/{d}/handout.html" for d in config["run"]] + EXTRA_TARGETS
