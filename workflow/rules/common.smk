# Helpers shared by the rules: paths and config look-ups.
from mlmcompare.pipeline import dataset_model

RESULTS = config.get("results", "results")
METHODS = list(config["methods"])
TABLES = ["coef", "sector_lines", "fit"]
CONDA_ENV = "../../environment.yml"


wildcard_constraints:
    dataset="|".join(config["datasets"]),
    method="|".join(METHODS),


def unknown_run_datasets():
    return [d for d in config["run"] if d not in config["datasets"]]


if unknown_run_datasets():
    raise ValueError(
        f"config 'run' names dataset(s) {unknown_run_datasets()} that are not under 'datasets' "
        f"(known: {', '.join(config['datasets'])})"
    )


def dataset_csv(wildcards):
    return config["datasets"][wildcards.dataset]["file"]


def method_tables(dataset):
    """Every method's three parquet tables for one dataset, keyed 'method/table'."""
    return {
        f"{m}/{t}": f"{RESULTS}/{dataset}/methods/{m}/{t}.parquet"
        for m in METHODS
        for t in TABLES
    }


# Handout sections beyond the method comparison (workflow/rules/part*.smk)
# register here a function dataset -> {key: path} of the files they write;
# the manifest lists (and hashes) them, so the report waits for them.
REPORT_PARTS = []


def report_part_outputs(dataset):
    out = {}
    for part in REPORT_PARTS:
        out.update(part(dataset))
    return out


def handout_sections(qmd):
    """The part files a .qmd includes ({{< include _part.qmd >}}), so that
    editing one re-renders the handout."""
    import re
    from pathlib import Path

    pattern = re.compile(r"^\s*\{\{<\s*include\s+(\S+)\s*>\}\}\s*$", re.M)
    folder = Path(qmd).parent
    return [str(folder / f) for f in pattern.findall(Path(qmd).read_text())]


def report_outputs():
    names = ["handout.html"] + (["handout.pdf"] if config.get("report", {}).get("pdf", True) else [])
    return {n.split(".")[1]: f"{RESULTS}/{{dataset}}/{n}" for n in names}


# Further products of `rule all` (e.g. the designs handout) append here.
EXTRA_TARGETS = []


def handout_targets():
    return [f"{RESULTS}/{d}/handout.html" for d in config["run"]] + EXTRA_TARGETS
