"""The pipeline's steps as plain functions; Snakemake rules only call these.

`prepare_dataset` validates the CSV and writes the typed student data (with
contextual columns), the school summary and a small data report;
`run_method` fits one method and writes its three tidy tables;
`write_manifest` records what made a handout: input hashes, config,
package versions, git commit, output hashes and step run times.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .data.contextual import add_contextual, school_summary
from .data.load import load_data
from .spec import ModelSpec, spec_from_config
from .report.tidy import read_table, sha256_file, write_frame_atomic, write_method_result, write_text_atomic

PACKAGES = ["mlmcompare", "numpy", "scipy", "pandas", "pyarrow", "formulaic", "matplotlib", "snakemake", "nbclient", "pypandoc-binary", "typst"]


def dataset_model(config: Mapping[str, Any], dataset: str) -> dict[str, Any]:
    """The global model mapping with the dataset's own overrides applied."""
    if dataset not in config["datasets"]:
        raise ValueError(f"dataset {dataset!r} is not in the config; known: {', '.join(config['datasets'])}")
    model = copy.deepcopy(dict(config["model"]))
    model.update(config["datasets"][dataset].get("model", {}) or {})
    return model


def dataset_spec(config: Mapping[str, Any], dataset: str) -> ModelSpec:
    return spec_from_config(dataset_model(config, dataset))


def prepare_dataset(csv: str | Path, spec: ModelSpec, out_data: str | Path, out_schools: str | Path, out_report: str | Path, drop_incomplete: bool = False) -> dict[str, Any]:
    """Validate and type the CSV; write data, school summary and data report.

    Everything is computed before anything is written, so a refused input
    leaves no output behind.
    """
    loaded = load_data(csv, spec, drop_incomplete=drop_incomplete)
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
    write_frame_atomic(students, out_data)
    write_frame_atomic(schools, out_schools)
    write_text_atomic(json.dumps(report, indent=2, sort_keys=True) + "\n", out_report)
    return report


def run_method(method: str, data_path: str | Path, spec: ModelSpec, outputs: Mapping[str, str | Path]) -> float:
    """Fit one method on the prepared data and write its tables; returns seconds."""
    data = read_table(data_path)
    start = time.perf_counter()
    # imported here: the rule files import this module, and a no-op rerun
    # should not pay for the estimation code
    from .methods import fit_method

    result = fit_method(method, data, spec)
    seconds = time.perf_counter() - start
    write_method_result(result, outputs)
    return seconds


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def git_commit(root: str | Path) -> dict[str, Any]:
    """The commit of the project checkout and whether it had local changes."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def step_seconds(benchmark_files: Sequence[str | Path]) -> dict[str, float]:
    """Run time of each step from Snakemake's benchmark TSV files."""
    out = {}
    for path in benchmark_files:
        path = Path(path)
        try:
            frame = pd.read_csv(path, sep="\t")
            out[path.stem] = round(float(frame["s"].iloc[0]), 3)
        except (OSError, KeyError, IndexError, pd.errors.ParserError):
            continue
    return out


def write_manifest(
    path: str | Path,
    dataset: str,
    config: Mapping[str, Any],
    inputs: Mapping[str, str | Path],
    outputs: Mapping[str, str | Path],
    data_report: str | Path,
    benchmarks: Sequence[str | Path] = (),
    root: str | Path = ".",
) -> dict[str, Any]:
    """The provenance record a dataset's handout is built from (JSON, atomic)."""
    return write_provenance(
        path,
        header={"dataset": dataset, "title": config["datasets"][dataset].get("title", dataset)},
        inputs=inputs,
        outputs=outputs,
        config_record={
            "model": dataset_model(config, dataset),
            "methods": list(config["methods"]),
            "drop_incomplete": bool(config.get("drop_incomplete", False)),
        },
        extra={"data_report": json.loads(Path(data_report).read_text())},
        benchmarks=benchmarks,
        root=root,
    )


def write_provenance(
    path: str | Path,
    header: Mapping[str, Any],
    inputs: Mapping[str, str | Path],
    outputs: Mapping[str, str | Path],
    config_record: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
    benchmarks: Sequence[str | Path] = (),
    root: str | Path = ".",
) -> dict[str, Any]:
    """Any handout's manifest: what it is (`header`), input and output sha256,
    the settings, package versions, git commit, creation time and step run
    times. Every path is stored relative to the manifest's folder, so the
    manifest reads the same from any working directory and moves with its
    results folder."""
    path = Path(path)

    def entry(p: str | Path) -> dict[str, str]:
        return {"path": manifest_relative(p, path), "sha256": sha256_file(p)}

    manifest = {
        **header,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": {k: entry(v) for k, v in inputs.items()},
        "config": dict(config_record),
        **(extra or {}),
        "versions": package_versions(),
        "platform": {"system": platform.platform(), "executable": sys.executable},
        "git": git_commit(root),
        "outputs": {k: entry(v) for k, v in outputs.items()},
        "step_seconds": step_seconds(benchmarks),
    }
    write_text_atomic(json.dumps(manifest, indent=2) + "\n", path)
    return manifest


def manifest_relative(file: str | Path, manifest: str | Path) -> str:
    """`file`'s path as a manifest records it: relative to the manifest's folder
    (with `..` where it lies outside it), in POSIX form."""
    rel = os.path.relpath(Path(file).resolve(), Path(manifest).resolve().parent)
    return Path(rel).as_posix()


def load_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest, with every input and output given an `abspath` (its
    recorded path resolved against the manifest's folder) and a `name` (the
    file's name, for display)."""
    path = Path(path).resolve()
    manifest = json.loads(path.read_text())
    for section in ("inputs", "outputs"):
        for item in manifest[section].values():
            item["abspath"] = str((path.parent / item["path"]).resolve())
            item["name"] = Path(item["path"]).name
    return manifest


def method_table(manifest: Mapping[str, Any], table: str) -> pd.DataFrame:
    """One table stacked over all methods of a manifest, in config order."""
    frames = [read_table(manifest["outputs"][f"{m}/{table}"]["abspath"]) for m in manifest["config"]["methods"]]
    return pd.concat(frames, ignore_index=True)


class step_log:
    """Context manager for a rule's log file: what ran, how long, or why it failed.

    The exception still propagates, so Snakemake stops and shows it.
    """

    def __init__(self, path: str | Path, step: str):
        self.path = Path(path)
        self.step = step

    def __enter__(self) -> "step_log":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = self.path.open("w", encoding="utf-8")
        self.start = time.perf_counter()
        self.write(f"{self.step}: started")
        return self

    def write(self, message: str) -> None:
        self.fh.write(message + "\n")
        self.fh.flush()

    def __exit__(self, exc_type, exc, tb) -> bool:
        seconds = time.perf_counter() - self.start
        if exc is None:
            self.write(f"{self.step}: done in {seconds:.3f} s")
        else:
            self.write(f"{self.step}: FAILED after {seconds:.3f} s: {type(exc).__name__}: {exc}")
        self.fh.close()
        return False
