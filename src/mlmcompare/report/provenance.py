"""Provenance: what a handout was made from, written beside it and read back.

`write_provenance` records a product's manifest (JSON, written atomically):
what it is, the sha256 of every input and output (paths relative to the
manifest's folder), the settings, package versions, git commit, creation
time and step run times. `load_manifest` reads one back with every path
resolved; `method_table` stacks one table over the methods it lists.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .tidy import read_table, sha256_file, write_text_atomic

PACKAGES = ["mlmcompare", "numpy", "scipy", "pandas", "pyarrow", "formulaic", "matplotlib", "snakemake", "nbclient", "pypandoc-binary", "typst"]


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


def analysis_tables(manifest: Mapping[str, Any]) -> dict[str, pd.DataFrame]:
    """Every table of the handout's analyses and of the simulated example, by
    table name (each name is one table: the analyses name theirs apart)."""
    folders = set(manifest["config"]["handout"]["analyses"]) | {"simulated"}
    out: dict[str, pd.DataFrame] = {}
    for key, item in manifest["outputs"].items():
        folder, _, name = key.partition("/")
        if folder in folders:
            if name in out:
                raise ValueError(f"two analyses write a table named {name!r}")
            out[name] = read_table(item["abspath"])
    return out
