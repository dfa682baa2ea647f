"""The hosted CI files, checked offline: actionlint, the GitHub and GitLab
JSON schemas, zizmor's security audits, and the pinning and permission
rules of .github/workflows/handouts.yml."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
HANDOUTS = ROOT / ".github" / "workflows" / "handouts.yml"
GITLAB = ROOT / ".gitlab-ci.yml"


def tool(name: str) -> str:
    """A checker from the test extra: next to this interpreter, else on PATH."""
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, cwd=ROOT)


def zizmor_findings(*paths: Path) -> list[dict]:
    proc = run(tool("zizmor"), "--offline", "--format", "json", *map(str, paths))
    assert proc.stdout.strip(), proc.stderr
    return json.loads(proc.stdout)


def high(findings: list[dict]) -> list[str]:
    return [f["ident"] for f in findings if f["determinations"]["severity"] == "High"]


def test_there_is_a_handouts_workflow():
    assert HANDOUTS in WORKFLOWS


def test_actionlint_is_clean():
    proc = run(tool("actionlint"), *map(str, WORKFLOWS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_workflows_match_github_schema():
    proc = run(tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_gitlab_ci_matches_gitlab_schema():
    proc = run(tool("check-jsonschema"), "--builtin-schema", "vendor.gitlab-ci", str(GITLAB))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zizmor_finds_nothing_of_high_severity():
    assert high(zizmor_findings(*WORKFLOWS)) == []


def test_zizmor_does_flag_an_unsafe_workflow(tmp_path):
    """The audit above can fail: an injectable, unpinned workflow has high findings."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "name: bad\non: pull_request_target\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v4\n"
        "      - run: echo \"${{ github.event.pull_request.title }}\"\n"
    )
    assert {"template-injection", "unpinned-uses"} <= set(high(zizmor_findings(bad)))


def workflow() -> dict:
    doc = yaml.safe_load(HANDOUTS.read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as true
    return doc


def test_every_action_is_pinned_by_commit_with_its_tag():
    uses = re.findall(r"uses:\s*(\S+)(.*)", HANDOUTS.read_text())
    assert uses
    for ref, comment in uses:
        assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", ref), ref
        assert re.search(r"#\s*v\d+\.\d+\.\d+", comment), f"{ref} lacks its tag in a comment"


def test_least_privilege_and_no_event_text_in_run_lines():
    doc = workflow()
    assert set(doc["on"]) == {"push", "pull_request"}
    assert doc["permissions"] == {"contents": "read"}
    for name, job in doc["jobs"].items():
        extra = {k: v for k, v in (job.get("permissions") or {}).items() if v != "read"}
        assert name == "pages" or not extra, (name, extra)
        for step in job["steps"]:
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False, name
            assert not re.search(r"\$\{\{\s*(github\.(event|head_ref)|inputs\.)", step.get("run", "")), step


def test_pages_job_deploys_main_only_and_restores_no_cache():
    pages = workflow()["jobs"]["pages"]
    assert "refs/heads/main" in pages["if"] and "push" in pages["if"]
    assert pages["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    used = [s.get("uses", "").split("@")[0] for s in pages["steps"]]
    assert "actions/cache" not in used and "actions/deploy-pages" in used
    assert not any("cache" in s.get("with", {}) for s in pages["steps"])
    assert any("mlmcompare.report.pages_index" in s.get("run", "") for s in pages["steps"])


def test_build_runs_the_readme_commands_and_caches_no_results():
    build = workflow()["jobs"]["build"]
    runs = [s["run"] for s in build["steps"] if "run" in s]
    assert runs[:2] == ["make handout", "make test"]
    for step in build["steps"]:
        if step.get("uses", "").startswith("actions/cache@"):
            assert step["with"]["path"].strip() == ".venv"
            assert "hashFiles('requirements.lock', 'pyproject.toml')" in step["with"]["key"]
    uploaded = "\n".join(s["with"]["path"] for s in build["steps"] if s.get("uses", "").startswith("actions/upload-artifact@"))
    for pattern in ("results/*/handout.html", "results/*/manifest.json", "results/*/explore.html", "results/designs/designs.html"):
        assert pattern in uploaded
