"""Provenance: what a handout was made from, written beside it, read back
and verified.

`write_provenance` records a product's manifest (JSON, written atomically):
what it is, the sha256 of every input and output (paths relative to the
manifest's folder), the settings, the version of every installed package and
how the environment stands to the project's lock (report/environment.py),
git commit, creation time and step run times. The manifest is an input of
the render, so the rendered documents get their own record, written after
the render: `write_document_record` (`handout.manifest.json` beside
`handout.html`) names the manifest by its sha256 and hashes each document.
`verify_manifest` is the auditor's check (`mlmcompare verify`): every file
re-hashed, the documents too, the environment against the recorded one and
against the lock. `load_manifest` reads a manifest back with every path
resolved; `method_table` stacks one table over the methods it lists.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from .environment import CONDA, LOCK_FILE, drift_phrase, environment_record, environment_sentence, installed_versions
from .tidy import read_table, sha256_file, write_text_atomic


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
    the settings, the version of every installed package and the environment
    against the lock (`root`/requirements.lock), git commit, creation time
    and step run times. Every path is stored relative to the manifest's
    folder, so the manifest reads the same from any working directory and
    moves with its results folder."""
    path = Path(path)
    versions = installed_versions()
    lock = Path(root) / LOCK_FILE
    entry = lambda p: file_entry(p, path)  # noqa: E731

    manifest = {
        **header,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "inputs": {k: entry(v) for k, v in inputs.items()},
        "config": dict(config_record),
        **(extra or {}),
        "versions": versions,
        "environment": {"lock": manifest_relative(lock, path) if lock.is_file() else None,
                        **environment_record(lock, versions)},
        "platform": {"system": platform.platform(), "executable": sys.executable},
        "git": git_commit(root),
        "outputs": {k: entry(v) for k, v in outputs.items()},
        "step_seconds": step_seconds(benchmarks),
    }
    write_text_atomic(json.dumps(manifest, indent=2) + "\n", path)
    return manifest


def file_entry(file: str | Path, manifest: str | Path) -> dict[str, str]:
    """A file as a manifest records it: its path relative to the manifest and its sha256."""
    return {"path": manifest_relative(file, manifest), "sha256": sha256_file(file)}


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


# ------------------------------------------------------- after the render
RECORD_SUFFIX = ".manifest.json"


def write_document_record(
    path: str | Path, manifest: str | Path, documents: Mapping[str, str | Path], engine: str,
) -> dict[str, Any]:
    """The record of a render, written after it beside the documents (e.g.
    `handout.manifest.json`): the manifest they were rendered from, named by
    its sha256, and each document's sha256."""
    path = Path(path)
    record = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "engine": engine,
        "manifest": file_entry(manifest, path),
        "documents": {k: file_entry(v, path) for k, v in documents.items()},
    }
    write_text_atomic(json.dumps(record, indent=2) + "\n", path)
    return record


# ------------------------------------------------------------ verification
@dataclass
class Verification:
    """What `verify_manifest` found: one line per difference."""

    manifest: Path
    problems: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    environment: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.problems:
            lines = "\n".join(f"  {p}" for p in self.problems)
            return f"FAILED {self.manifest}: {len(self.problems)} difference(s)\n{lines}"
        c = self.checked
        return (f"OK {self.manifest}: {c['inputs']} input(s), {c['outputs']} outputs and {c['documents']} "
                f"document(s) match their sha256, {c['packages']} packages their recorded versions; "
                f"{self.environment}")


def provenance_paragraph(manifest: Mapping[str, Any]) -> str:
    """The checking appendix's provenance in words: the data file (when there
    is one), the versions, the commit, when the manifest was written, and
    whether the environment was the locked one."""
    versions, git = manifest["versions"], manifest.get("git") or {}
    csv = (manifest.get("inputs") or {}).get("csv")
    built = f"Built from `{csv['name']}` (sha256 `{csv['sha256'][:16]}…`) with" if csv else "Built with"
    packages = ", ".join(f"{name} {versions.get(name)}" for name in ("numpy", "pandas", "scipy") if versions.get(name))
    return (
        f"**Provenance.** {built} mlmcompare {versions.get('mlmcompare')}, Python {versions.get('python')}, "
        f"{packages}; git commit `{(git.get('commit') or 'unknown')[:12]}`"
        f"{' (with local changes)' if git.get('dirty') else ''}; manifest written {manifest['created']}. "
        "The manifest beside this file (`manifest.json`) lists the sha256 of every input and every table read "
        "here, the settings and the run time of each step. " + environment_sentence(manifest)
    )


def verify_manifest(path: str | Path) -> Verification:
    """Check a manifest (or a document record, for the manifest it names) as
    an auditor would: every input and output re-hashed, the rendered
    documents re-hashed through the records that name this manifest, the
    installed packages against the recorded ones, the lock against its
    recorded sha256 and the environment against the lock."""
    path = Path(path)
    if not path.is_file():
        return Verification(path, problems=[f"{path}: no such manifest"])
    data = json.loads(path.read_text())
    if "documents" in data:
        return verify_manifest(os.path.normpath(path.parent / data["manifest"]["path"]))
    result = Verification(path)
    for section in ("inputs", "outputs"):
        for key, item in data[section].items():
            result.problems += file_problems(f"{section[:-1]} {key}", path.parent / item["path"], item["sha256"])
        result.checked[section] = len(data[section])
    result.problems += document_problems(path, result)
    result.problems += environment_problems(data, path, result)
    return result


def file_problems(label: str, file: Path, sha256: str) -> list[str]:
    """A recorded file that is missing or whose bytes changed."""
    shown = os.path.normpath(file)
    if not file.is_file():
        return [f"{label}: {shown} is missing"]
    if sha256_file(file) != sha256:
        return [f"{label}: {shown} differs from the recorded sha256 ({sha256[:12]}…)"]
    return []


def document_problems(manifest: Path, result: Verification) -> list[str]:
    """Each rendered document, through the records beside the manifest that
    name it; a record of another manifest's sha256 means the manifest was
    rewritten after the render."""
    problems, documents = [], 0
    here = sha256_file(manifest)
    for record_path in sorted(manifest.parent.glob(f"*{RECORD_SUFFIX}")):
        record = json.loads(record_path.read_text())
        if (record_path.parent / record["manifest"]["path"]).resolve() != manifest.resolve():
            continue
        if record["manifest"]["sha256"] != here:
            problems.append(f"{manifest.name} changed after the render that {record_path.name} records")
        for key, item in record["documents"].items():
            problems += file_problems(f"document {key}", record_path.parent / item["path"], item["sha256"])
            documents += 1
    if not documents:
        problems.append(f"no record of a rendered document (*{RECORD_SUFFIX}) beside {manifest.name} names it")
    result.checked["documents"] = documents
    return problems


def environment_problems(data: Mapping[str, Any], manifest: Path, result: Verification) -> list[str]:
    """The installed packages against those recorded (all of them where the
    manifest records all), the lock against its recorded sha256, and the
    environment against the lock unless it is a conda environment."""
    recorded, now = data.get("versions", {}), installed_versions()
    env = data.get("environment")
    names = sorted(set(recorded) | set(now)) if env else list(recorded)
    problems = [
        f"package {name}: {recorded.get(name, 'absent')} when built, {now.get(name, 'not installed')} now"
        for name in names if recorded.get(name) != now.get(name)
    ]
    result.checked["packages"] = len(names)
    if not env or not env.get("lock"):
        result.environment = "the build recorded no lock"
        return problems
    lock = Path(os.path.normpath(manifest.parent / env["lock"]))
    if not lock.is_file():
        return problems + [f"lock {lock}: missing"]
    if sha256_file(lock) != env["lock_sha256"]:
        problems.append(f"lock {lock}: differs from the recorded sha256 ({env['lock_sha256'][:12]}…)")
    current = environment_record(lock, now)
    if current["status"] == CONDA:
        result.environment = f"a conda environment, not compared with {lock}"
        return problems
    problems += [f"lock {lock.name}: {drift_phrase(d)}" for d in current["drift"]]
    result.environment = f"the environment matches {lock} (sha256 {current['lock_sha256'][:12]}…)"
    return problems
