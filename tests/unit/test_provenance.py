"""The lock, the environment record and `mlmcompare verify`, in-process.

A small product is laid out as the pipeline lays one out (a project folder
with its lock and an input, a results folder with an output table, the
manifest, the rendered documents and their record); each test tampers with
one thing and `verify` must name it."""

from __future__ import annotations

import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from mlmcompare.cli import main
from mlmcompare.report import environment
from mlmcompare.report.environment import (
    CONDA, DIFFERS, MATCHES, NO_LOCK, conda_environment_yaml, direct_dependencies, environment_record,
    environment_sentence, installed_versions, lock_drift, lock_pins,
)
from mlmcompare.report.provenance import load_manifest, provenance_paragraph, verify_manifest, write_document_record, write_provenance

from ..conftest import ROOT

LOCK = ROOT / "requirements.lock"
FAKE_HASH = "--hash=sha256:" + "0" * 64


def lock_of(pins: dict[str, str]) -> str:
    """A lock in uv's layout pinning exactly `pins`."""
    return "".join(f"{name}=={version} \\\n    {FAKE_HASH}\n    # via test\n" for name, version in pins.items())


def this_environment_lock() -> str:
    """A lock that the running environment matches."""
    return lock_of({n: v for n, v in installed_versions().items() if n not in ("python", "mlmcompare")})


@pytest.fixture
def product(tmp_path, monkeypatch) -> Path:
    """project/ (lock, input CSV) and project/results/demo/ (a table, the
    manifest, handout.html/.pdf and handout.manifest.json); returns the manifest."""
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "requirements.lock").write_text(this_environment_lock())
    csv = project / "data" / "demo.csv"
    csv.write_text("school,y\n1,2.5\n2,3.5\n")
    folder = project / "results" / "demo"
    folder.mkdir(parents=True)
    table = folder / "coef.parquet"
    pd.DataFrame({"term": ["Intercept"], "estimate": [3.0]}).to_parquet(table)
    manifest = folder / "manifest.json"
    write_provenance(manifest, header={"dataset": "demo"}, inputs={"csv": csv}, outputs={"coef": table},
                     config_record={}, root=project)
    html, pdf = folder / "handout.html", folder / "handout.pdf"
    html.write_text("<html>estimate 3.0</html>")
    pdf.write_bytes(b"%PDF-1.7 estimate 3.0")
    write_document_record(folder / "handout.manifest.json", manifest, {"html": html, "pdf": pdf}, "fallback")
    return manifest


def problems(manifest: Path) -> list[str]:
    return verify_manifest(manifest).problems


# ---- the manifest knows the environment and the lock --------------------------------


def test_manifest_records_every_installed_package_and_the_lock(product):
    m = json.loads(product.read_text())
    assert m["versions"]["python"] == sys.version.split()[0]
    assert m["versions"]["numpy"] == metadata.version("numpy")
    every = {canonicalize_name(d.metadata["Name"]) for d in metadata.distributions()}  # duplicates on sys.path once
    assert set(m["versions"]) == every | {"python"}
    env = m["environment"]
    assert env["lock"] == "../../requirements.lock"
    assert env["status"] == MATCHES and env["drift"] == []
    assert env["lock_sha256"] == __import__("hashlib").sha256((product.parents[2] / "requirements.lock").read_bytes()).hexdigest()
    assert "matches `requirements.lock`" in environment_sentence(m)


def test_provenance_paragraph_names_the_data_commit_and_environment(product):
    m = load_manifest(product)
    digest = __import__("hashlib").sha256((product.parents[2] / "data" / "demo.csv").read_bytes()).hexdigest()
    text = provenance_paragraph(m)
    assert text.startswith(f"**Provenance.** Built from `demo.csv` (sha256 `{digest[:16]}…`) with mlmcompare ")
    assert f"numpy {metadata.version('numpy')}" in text and text.endswith(environment_sentence(m))
    without_data = provenance_paragraph({**m, "inputs": {}})  # the designs handout has several inputs, no csv
    assert without_data.startswith("**Provenance.** Built with mlmcompare ")


def test_verify_passes_on_an_untouched_product(product, capsys):
    assert main(["verify", str(product)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK {product}: 1 input(s), 1 outputs and 2 document(s) match their sha256")
    assert "the environment matches" in out
    assert main(["verify", str(product.parent / "handout.manifest.json")]) == 0  # the record leads to its manifest


# ---- each tampering is named ---------------------------------------------------------


def test_verify_names_a_changed_output(product, capsys):
    pd.DataFrame({"term": ["Intercept"], "estimate": [3.1]}).to_parquet(product.parent / "coef.parquet")
    assert main(["verify", str(product)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"FAILED {product}: 1 difference(s)")
    assert "output coef: " in out and "coef.parquet differs from the recorded sha256" in out


def test_verify_names_a_changed_or_missing_input(product):
    csv = product.parents[2] / "data" / "demo.csv"
    csv.write_text("school,y\n1,2.5\n2,3.6\n")
    assert [p.split(":")[0] for p in problems(product)] == ["input csv"]
    csv.unlink()
    assert problems(product)[0].endswith("demo.csv is missing")


def test_verify_names_a_changed_handout(product):
    (product.parent / "handout.pdf").write_bytes(b"%PDF-1.7 estimate 3.1")
    found = problems(product)
    assert len(found) == 1 and found[0].startswith("document pdf: ") and "handout.pdf differs" in found[0]


def test_verify_names_a_manifest_rewritten_after_the_render(product):
    m = json.loads(product.read_text())
    m["outputs"]["coef"]["sha256"] = "f" * 64
    product.write_text(json.dumps(m))
    found = problems(product)
    assert "manifest.json changed after the render that handout.manifest.json records" in found
    assert any(p.startswith("output coef: ") for p in found)


def test_verify_needs_a_record_of_the_render(product):
    (product.parent / "handout.manifest.json").unlink()
    assert problems(product) == ["no record of a rendered document (*.manifest.json) beside manifest.json names it"]


def test_verify_names_a_package_at_another_version(product, monkeypatch):
    """numpy reports another version now: it differs from the build's and from the lock's."""
    real = metadata.distributions
    built = metadata.version("numpy")

    class Other:
        def __init__(self, dist):
            self.metadata, self.version = dist.metadata, "0.0.1"

    def distributions():
        for dist in real():
            yield Other(dist) if canonicalize_name(dist.metadata["Name"]) == "numpy" else dist

    monkeypatch.setattr(environment.metadata, "distributions", distributions)
    assert problems(product) == [
        f"package numpy: {built} when built, 0.0.1 now",
        f"lock requirements.lock: numpy 0.0.1 installed, {built} locked",
    ]


def test_verify_names_a_version_edited_in_the_manifest(product):
    m = json.loads(product.read_text())
    m["versions"]["scipy"] = "1.0.0"
    product.write_text(json.dumps(m))
    assert f"package scipy: 1.0.0 when built, {metadata.version('scipy')} now" in problems(product)


def test_verify_names_a_changed_lock(product):
    lock = product.parents[2] / "requirements.lock"
    lock.write_text(lock.read_text() + lock_of({"not-a-package": "1.0"}))
    found = problems(product)
    assert found[0].startswith(f"lock {lock}: differs from the recorded sha256")
    assert found[1:] == ["lock requirements.lock: not-a-package 1.0 locked but not installed"]


# ---- the lock and the drift ----------------------------------------------------------

MARKED = """\
numpy==2.4.6 ; python_full_version < '3.12' \\
    --hash=sha256:aa \\
    --hash=sha256:bb
    # via mlmcompare
numpy==2.5.5 ; python_full_version >= '3.12' \\
    --hash=sha256:cc
Colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:dd
tqdm==4.70.1 \\
    --hash=sha256:ee
"""


def test_lock_pins_apply_the_markers():
    py311 = {"python_full_version": "3.11.7", "python_version": "3.11", "sys_platform": "linux"}
    py313 = {"python_full_version": "3.13.0", "python_version": "3.13", "sys_platform": "linux"}
    assert lock_pins(MARKED, py311) == {"numpy": "2.4.6", "tqdm": "4.70.1"}
    assert lock_pins(MARKED, py313) == {"numpy": "2.5.5", "tqdm": "4.70.1"}
    assert lock_pins(MARKED, {**py313, "sys_platform": "win32"})["colorama"] == "0.4.6"


def test_lock_pins_refuse_an_unpinned_line():
    with pytest.raises(ValueError, match="numpy is not pinned to one version"):
        lock_pins("numpy>=2 \\\n    --hash=sha256:aa\n")


def test_drift_lists_missing_extra_and_other_versions(monkeypatch):
    monkeypatch.delenv("CONDA_PREFIX", raising=False)
    pins = {"numpy": "2.4.6", "tqdm": "4.70.1", "scipy": "1.17.1"}
    installed = {"python": "3.11.7", "mlmcompare": "0.1.0", "numpy": "2.4.6", "tqdm": "4.66.0", "ipdb": "0.13"}
    assert lock_drift(pins, installed) == [
        {"package": "ipdb", "locked": None, "installed": "0.13"},
        {"package": "scipy", "locked": "1.17.1", "installed": None},
        {"package": "tqdm", "locked": "4.70.1", "installed": "4.66.0"},
    ]
    assert environment_record(None, installed) == {"kind": environment.environment_kind(), "lock_sha256": None,
                                                   "status": NO_LOCK, "drift": []}


def test_sentence_lists_the_drift():
    m = {"versions": {"python": "3.11", "numpy": "2.5.5", "ipdb": "0.13"},
         "environment": {"status": DIFFERS, "lock_sha256": "ab" * 32, "drift": [
             {"package": "ipdb", "locked": None, "installed": "0.13"},
             {"package": "numpy", "locked": "2.4.6", "installed": "2.5.5"},
             {"package": "tqdm", "locked": "4.70.1", "installed": None}]}}
    assert environment_sentence(m) == (
        "It ran in an environment that differs from `requirements.lock` (sha256 `abababababababab…`) in 3 packages: "
        "ipdb 0.13 installed but not in the lock; numpy 2.5.5 installed, 2.4.6 locked; "
        "tqdm 4.70.1 locked but not installed.")
    assert environment_sentence(m, show=1).endswith("ipdb 0.13 installed but not in the lock; and 2 more (see the manifest).")


def test_conda_environment_is_named_and_not_compared(product, monkeypatch):
    """In a conda environment the manifest says so and lists no drift, even
    against a lock the environment does not match; verify does not compare it."""
    monkeypatch.setenv("CONDA_PREFIX", sys.prefix)
    lock = product.parents[2] / "requirements.lock"
    lock.write_text(lock_of({"numpy": "0.0.1"}))
    record = environment_record(lock)
    assert record["kind"] == "conda" and record["status"] == CONDA and record["drift"] == []
    sentence = environment_sentence({"versions": {"numpy": "2"}, "environment": record})
    assert sentence.startswith("It ran in a conda environment (environment.yml), which is not checked against the pip lock")
    result = verify_manifest(product)
    assert result.problems == [f"lock {lock}: differs from the recorded sha256 ({json.loads(product.read_text())['environment']['lock_sha256'][:12]}…)"]
    assert result.environment.startswith("a conda environment")


# ---- the committed lock ----------------------------------------------------------------


@pytest.mark.parametrize("python", ["3.11.7", "3.12.1", "3.13.0"])
def test_committed_lock_covers_pyproject_for_each_python(python):
    """Every requirement of pyproject.toml (core, every extra, the build
    backend) has a locked version that satisfies it, on Linux x86-64 for
    CPython 3.11 to 3.13, and every locked line carries a hash."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    marker_env = {"python_full_version": python, "python_version": python[:4], "sys_platform": "linux",
                  "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython"}
    pins = lock_pins(LOCK.read_text(), marker_env)
    project = pyproject["project"]
    wanted = [*project["dependencies"], *sum(project["optional-dependencies"].values(), []),
              *pyproject["build-system"]["requires"], "pip"]
    for text in wanted:
        req = Requirement(text)
        name = canonicalize_name(req.name)
        if name == "mlmcompare" or (req.marker and not req.marker.evaluate(marker_env)):
            continue
        assert name in pins, f"{name} is not in requirements.lock: run make lock"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name} {pins[name]} does not satisfy {text}: run make lock"
    blocks = LOCK.read_text().split("\n")
    for i, line in enumerate(blocks):
        if line and not line.startswith((" ", "#")):
            assert blocks[i + 1].strip().startswith("--hash=sha256:"), line


def test_environment_yml_is_written_from_the_lock():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert (ROOT / "environment.yml").read_text() == conda_environment_yaml(pyproject, LOCK.read_text()), \
        "environment.yml is out of date: run make lock"
    assert "numba" in direct_dependencies(pyproject) and "mlmcompare" not in direct_dependencies(pyproject)
