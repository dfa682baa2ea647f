"""The Pages index: one section per results folder, provenance from its manifest."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from mlmcompare.report.provenance import write_provenance
from mlmcompare.report.pages_index import site_entries, write_pages_index

from ..conftest import ROOT



def make_site(tmp_path: Path) -> Path:
    """A site with two results folders; their manifests come from the pipeline's own writer."""
    site = tmp_path / "site"
    for folder, title, files in (("hs", "HSB <40 schools> & more", ["handout.html", "explore.html"]),
                                 ("designs", "Designs", ["designs.html", "designs.pdf"])):
        (site / folder).mkdir(parents=True)
        data = tmp_path / f"{folder}.csv"
        data.write_text(f"x,y\n1,{len(folder)}\n")
        write_provenance(site / folder / "manifest.json", header={"dataset": folder, "title": title},
                         inputs={"csv": data}, outputs={}, config_record={}, root=ROOT)
        for name in files:
            (site / folder / name).write_text("<html></html>")
    return site


def test_index_lists_each_folder_with_its_provenance(tmp_path):
    site = make_site(tmp_path)
    out = write_pages_index(site, commit="0123abc")
    text = out.read_text()
    for folder in ("hs", "designs"):
        digest = hashlib.sha256((tmp_path / f"{folder}.csv").read_bytes()).hexdigest()
        assert digest in text
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert text.count(commit) == 2
    assert "Published from commit <code>0123abc</code>" in text
    assert '<a href="hs/handout.html">' in text and '<a href="hs/explore.html">' in text
    assert '<a href="designs/designs.pdf">' in text
    assert "hs/handout.pdf" not in text  # only files that exist are linked
    assert "HSB &lt;40 schools&gt; &amp; more" in text and "<40 schools>" not in text
    assert [p.name for p in site.iterdir() if p.name.startswith(".")] == []


def test_entries_are_sorted_and_name_the_files_present(tmp_path):
    entries = site_entries(make_site(tmp_path))
    assert [e["folder"] for e in entries] == ["designs", "hs"]
    assert entries[1]["files"] == ["handout.html", "explore.html", "manifest.json"]


def test_command_line_runs_without_the_package_dependencies(tmp_path):
    """The Pages job runs it with a bare Python: it must import no third-party module."""
    site = make_site(tmp_path)
    code = ("import runpy, sys; sys.argv = ['pages_index', sys.argv[1], '--commit', 'c0ffee'];"
            "runpy.run_module('mlmcompare.report.pages_index', run_name='__main__')")
    check = ("import sys; sys.path.insert(0, 'src'); import mlmcompare.report.pages_index;"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in {'numpy', 'pandas', 'pyarrow', 'yaml'}))")
    assert subprocess.run([sys.executable, "-I", "-c", check], cwd=ROOT, capture_output=True, text=True).stdout.strip() == "[]"
    proc = subprocess.run([sys.executable, "-c", code, str(site)], cwd=ROOT, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert "c0ffee" in (site / "index.html").read_text()
