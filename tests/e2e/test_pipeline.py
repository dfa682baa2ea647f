"""The Snakemake workflow: dry run, lint, outputs, provenance, refusals."""

from __future__ import annotations

import base64
import json
import re

from pathlib import Path

import yaml

from mlmcompare.report.provenance import load_manifest
from mlmcompare.report.tidy import read_table, sha256_file

from ..conftest import DATA, ROOT, run_snakemake


def test_dry_run_is_clean(tmp_path):
    proc = run_snakemake("-n", "--cores", "2", "--nolock", "--config", f"results={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job in ("prepare", "method", "manifest", "report"):
        assert re.search(rf"^{job}\s+\d+", proc.stdout, re.M), proc.stdout[-3000:]


def test_lint_is_clean():
    proc = run_snakemake("--lint", "--nolock")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in out, out[-3000:]


def test_outputs_exist_with_manifest_hashes(hs_results):
    manifest = json.loads((hs_results / "manifest.json").read_text())
    assert manifest["inputs"]["csv"]["sha256"] == sha256_file(DATA / "hs.csv")
    methods = ["pooled_ols", "fe_school_lines", "fe_common_slope", "two_stage", "between", "mixed", "mixed_contextual"]
    expected = {"data", "schools", "data_report"} | {f"{m}/{t}" for m in methods for t in ("coef", "sector_lines", "fit")}
    assert expected <= set(manifest["outputs"])
    assert {f"{a}/" for a in manifest["config"]["handout"]["analyses"]} <= {k.split("/")[0] + "/" for k in manifest["outputs"]}
    for item in manifest["outputs"].values():
        assert sha256_file(hs_results / item["path"]) == item["sha256"]
    for key in ("created", "versions", "git", "config", "step_seconds"):
        assert key in manifest
    assert manifest["versions"]["mlmcompare"] != "not installed"
    assert manifest["data_report"]["groups_per_level"] == {"Catholic": 21, "Public": 19}
    assert "method_mixed" in manifest["step_seconds"]


def test_every_manifest_entry_reads_from_any_working_directory(default_run, tmp_path, monkeypatch):
    """Each product's manifest names its files relative to its own folder:
    every input and output resolves and hashes as recorded, wherever the
    reader stands, and the tables load."""
    monkeypatch.chdir(tmp_path)
    products = {"hs": "handout.html", "designs": "designs.html"}
    for folder, page in products.items():
        manifest = load_manifest(default_run / folder / "manifest.json")
        assert (default_run / folder / page).is_file(), page
        entries = {**manifest["inputs"], **manifest["outputs"]}
        assert entries
        for key, item in entries.items():
            assert not Path(item["path"]).is_absolute(), (folder, key)
            path = Path(item["abspath"])
            assert sha256_file(path) == item["sha256"], (folder, key)
            if path.suffix == ".parquet":
                read_table(path)
    # the study summary lies outside results/hs/ and is still found
    assert "study/summary" in load_manifest(default_run / "hs" / "manifest.json")["outputs"]


def test_handout_has_every_part(hs_results):
    manifest = json.loads((hs_results / "manifest.json").read_text())
    assert {"effects/effects", "betaspace/tests", "robust/robust", "diagnostics/influence"} <= set(manifest["outputs"])
    html = (hs_results / "handout.html").read_text(encoding="utf-8")
    for heading in ("A first look at the data", "Three effects of the predictor", "Lines in beta space", "The methods one by one",
                    "Diagnostics and tests", "how these numbers were checked"):
        assert heading in html
    assert (hs_results / "handout.pdf").stat().st_size > 0


def test_handout_html_has_tables_figure_and_math(hs_results):
    html = (hs_results / "handout.html").read_text()
    assert html.count("<table") >= 3  # levels, differences, summary of methods
    for text in ("Public - Catholic", "Pooled OLS", "Mixed model with contextual variable", "Summary of methods", "Honest?"):
        assert text in html, text
    imgs = re.findall(r'<img[^>]+src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert imgs, "no embedded PNG figure"
    assert base64.b64decode(imgs[0])[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<math" in html  # MathML, readable offline
    assert not re.search(r'<script[^>]+src="https?:', html)  # self-contained
    # numbers come from the parquet files: the fixed-effects joint F test
    assert "21.03533" in html
    assert (hs_results / "handout.pdf").read_bytes()[:5] == b"%PDF-"


def test_bad_input_stops_pipeline_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.csv"
    lines = (DATA / "hs.csv").read_text().splitlines()
    parts = lines[3].split(",")
    parts[6] = "Public"  # school 1317 gets two Sector values
    lines[3] = ",".join(parts)
    bad.write_text("\n".join(lines) + "\n")
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["datasets"]["bad"] = {"file": str(bad)}
    cfg["run"] = ["bad"]
    cfg["results"] = str(tmp_path / "results")
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake("--cores", "1", "--nolock", "--configfile", str(cfg_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "level-2 column 'Sector' varies within 1 group(s) of 'school'" in out
    # nothing computed from the refused data exists, and no half-written file;
    # steps that do not read the data (the simulated example, say) may finish
    bad_dir = tmp_path / "results" / "bad"
    for name in ("data.parquet", "schools.parquet", "data_report.json", "manifest.json", "handout.html"):
        assert not (bad_dir / name).exists(), name
    assert not list(bad_dir.glob("methods/*/*.parquet"))
    assert not [p for p in (tmp_path / "results").rglob("*") if p.name.endswith(".tmp")]


def test_config_schema_violation_is_refused(tmp_path):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["methods"] = ["pooled_ols", "magic"]
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    proc = run_snakemake("-n", "--cores", "1", "--nolock", "--configfile", str(cfg_path))
    assert proc.returncode != 0
    assert "magic" in proc.stdout + proc.stderr


def test_quick_config_skips_study_and_designs(tmp_path):
    proc = run_snakemake("-n", "--cores", "2", "--nolock", "--configfile", str(ROOT / "config" / "quick.yaml"), "--config", f"results={tmp_path}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"^method\s+7", proc.stdout, re.M), proc.stdout[-2000:]
    assert "study_chunk" not in proc.stdout and "designs_report" not in proc.stdout


def test_handout_and_manifest_written(designs):
    html = (designs / "designs.html").read_text()
    assert (designs / "designs.pdf").stat().st_size > 10_000
    manifest = json.loads((designs / "manifest.json").read_text())
    assert manifest["dataset"] == "designs"
    for key, entry in manifest["outputs"].items():
        assert (designs / entry["path"]).is_file(), key
    for heading in ("One-way random effects", "Repeated measures", "Covariance components"):
        assert heading in html, heading
    assert "Traceback" not in html


def test_key_figures_are_drawn_once_and_included(hs_results):
    """The handout and the at-a-glance sheet show the very PNG the highlights
    step wrote (no second drawing)."""
    for name in ("ellipses", "coverage"):
        encoded = base64.b64encode((hs_results / "highlights" / f"{name}.png").read_bytes()).decode()
        assert encoded in (hs_results / "handout.html").read_text()
    ellipses = base64.b64encode((hs_results / "highlights" / "ellipses.png").read_bytes()).decode()
    assert ellipses in (hs_results / "glance.html").read_text()


def test_snakemake_report_holds_documents_figures_and_tables(default_run, tmp_path):
    import zipfile

    out = tmp_path / "report.zip"
    proc = run_snakemake("--cores", "1", "--nolock", "--config", f"results={default_run}", "--report", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = {Path(n).name for n in zipfile.ZipFile(out).namelist()}
    assert {"handout.html", "handout.pdf", "glance.html", "glance.pdf", "explore.html", "designs.html",
            "ellipses.png", "coverage.png", "comparison.csv", "summary_of_methods.csv"} <= names
    page = zipfile.ZipFile(out).read(next(n for n in zipfile.ZipFile(out).namelist() if n.endswith("report.html"))).decode()
    for caption in ("joint 95% confidence ellipse", "summary of methods", "at-a-glance sheet"):
        assert caption in page
