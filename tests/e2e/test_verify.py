"""`mlmcompare verify` on the default run: it passes on the fresh build and
names what was tampered with in a copy; `make venv`'s environment matches
the lock."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from mlmcompare.cli import main
from mlmcompare.report.environment import MATCHES, drift_phrase, environment_record
from mlmcompare.report.provenance import verify_manifest

from ..conftest import ROOT

LOCK = ROOT / "requirements.lock"


def test_verify_passes_on_the_fresh_build(default_run):
    """Every file and document of both handouts as recorded; the only
    differences allowed are the running environment's own drift from the
    lock (none in make venv's environment)."""
    drift = [f"lock {LOCK.name}: {drift_phrase(d)}" for d in environment_record(LOCK)["drift"]]
    for product, name in (("hs", "handout"), ("designs", "designs")):
        result = verify_manifest(default_run / product / "manifest.json")
        assert result.problems == drift
        # the handout's manifest stands behind two rendered sheets (handout and at-a-glance, HTML and PDF each)
        assert result.checked["documents"] == {"hs": 4, "designs": 2}[product] and result.checked["outputs"] > 10
        record = json.loads((default_run / product / f"{name}.manifest.json").read_text())
        assert {d["path"] for d in record["documents"].values()} == {f"{name}.html", f"{name}.pdf"}


def test_verify_names_each_tampered_file(default_run, tmp_path, capsys):
    """A copy at the same depth (the manifests' paths to the project's data
    and lock stay valid) with an output table, the study summary and a
    handout changed: verify exits 1 and names each."""
    copy = tmp_path / "results"
    shutil.copytree(default_run, copy)
    with open(copy / "hs" / "methods" / "mixed" / "coef.parquet", "r+b") as fh:
        fh.seek(200)
        byte = fh.read(1)
        fh.seek(200)
        fh.write(bytes([byte[0] ^ 1]))
    summary = json.loads((copy / "hs" / "manifest.json").read_text())["outputs"]["study/summary"]["path"]
    (copy / "hs" / summary).resolve().unlink()  # ../study/r<N>/summary.parquet
    with open(copy / "designs" / "designs.html", "a") as fh:
        fh.write("<!-- edited -->")
    assert main(["verify", str(copy / "hs" / "manifest.json"), str(copy / "designs" / "manifest.json")]) == 1
    out = capsys.readouterr().out
    assert "output mixed/coef: " in out and "methods/mixed/coef.parquet differs from the recorded sha256" in out
    assert "output study/summary: " in out and "summary.parquet is missing" in out
    assert "document html: " in out and "designs.html differs from the recorded sha256" in out
    assert out.count("FAILED") == 2


@pytest.mark.skipif(Path(sys.prefix).resolve() != (ROOT / ".venv").resolve(),
                    reason="only make venv's environment is built from the lock")
def test_make_venv_matches_the_lock(hs_results):
    env = json.loads((hs_results / "manifest.json").read_text())["environment"]
    assert env["status"] == MATCHES and env["drift"] == []
    assert Path(os.path.normpath(hs_results / env["lock"])) == LOCK
