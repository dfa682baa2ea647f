"""The designs handout as read: its sections and numbers, print sizes, and lecture
remarks that belong to the bundled files only (recognised by sha256, not name)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ..conftest import ROOT, run_snakemake
from .conftest import built_once


def pdf_spans(path: Path):
    import pymupdf

    doc = pymupdf.open(path)
    spans = [(page.number, s["size"], s["text"]) for page in doc for b in page.get_text("dict")["blocks"]
             for line in b.get("lines", []) for s in line["spans"] if s["text"].strip()]
    return doc, spans


@pytest.fixture(scope="module")
def html(designs) -> str:
    return (designs / "designs.html").read_text()


def test_new_section_renders_with_its_tables_and_figures(html):
    for heading in ("Three levels and crossed factors", "Where the variance lies", "Leaving a level out",
                    "Nested labels read as crossed", "Crossed factors read as nested", "How these numbers were checked"):
        assert heading in html, heading
    for label in ("tbl-levels-variance", "tbl-levels-lrt", "tbl-levels-se", "tbl-crossed-variance",
                  "tbl-crossed-mean", "fig-levels-variance", "fig-crossed-profiles", "tbl-checks-timss",
                  "tbl-checks-grocery"):
        assert f'id="{label}"' in html, label
    # numbers of the section, as the tables hold them (4 significant digits)
    assert "0.08447" in html and "0.04726" in html  # SE of the class-level effect, with and without classes
    assert "0.8086" in html and "0.1788" in html  # SE of the Penicillin mean, crossed and read as nested


def test_lecture_content_is_in(html):
    assert "<strong>144.6</strong>" in html  # schools 1 SD above and below the mean
    assert "<strong>3.979</strong>" in html  # square root of the design effect


def test_instructor_appendix_reports_what_the_data_cannot_reproduce(html):
    # the lecture's variance of the school means beside the exact value of the printed means
    assert ">5393.40<" in html and ">5393.292<" in html and "5393.2916" in html
    # the within-school SD is the config's input: shown, not counted as agreeing
    assert "input, not a check" in html and "8 of the 13 numbers checked agree" in html
    assert "19.00000" not in html


def test_words_and_missing_values(html):
    body = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    assert "(= <code>ses</code>)" not in body and "an <code>item</code> ×" in body
    assert not re.search(r"<td[^>]*>\s*</td>", body)  # a missing value is a dash, never a blank cell
    text = re.sub(r"<math.*?</math>|<[^>]+>", " ", body, flags=re.S)
    assert not re.search(r"(?<![\w.])-\d", text)  # negative numbers print with a minus sign
    assert "between-group SD)" not in text  # a variance is not labelled an SD


def test_no_pipeline_language_or_broken_formats_in_the_html(html):
    body = re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S)
    for bad in ("\\|", "p = &lt;", "p = <", "?@", "second product", "mlmcompare.designs", "our engine", "our GLS",
                "AIC prefers Compound symmetry and BIC Compound symmetry"):
        assert bad not in body, bad
    # whole degrees of freedom print as integers (the condition differences' Satterthwaite df are 27)
    assert not re.search(r">\s*27\.0\s*<", body) and ">27<" in body
    images = re.findall(r"data:image/([a-z+]+);base64", html)
    assert images and set(images) == {"svg+xml"}
    assert len(html) < 1_500_000


def test_pdf_type_sizes_and_pages(designs):
    doc, spans = pdf_spans(designs / "designs.pdf")
    assert min(size for _, size, _ in spans) >= 7.0 - 1e-6
    assert 10 <= len(doc) <= 22
    last = doc[-1]
    bottom = max(b[3] for b in last.get_text("blocks") if not re.fullmatch(r"\s*\d+\s*", b[4]))  # not the page number
    assert bottom > 0.3 * last.rect.height, "a nearly empty last page"
    assert not any("\\|" in text for _, _, text in spans)
    assert (designs / "designs.pdf").stat().st_size < 1_500_000


@pytest.fixture(scope="session")
def renamed_copies(tmp_path_factory) -> Path:
    """The designs handout built from copies of the bundled files with one byte
    added to each (the same rows under the same names, other sha256)."""
    return built_once(tmp_path_factory, "designs_copies", build_renamed_copies) / "results" / "designs" / "designs.html"


def build_renamed_copies(folder: Path) -> None:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    designs = dict(cfg["designs"])
    for section in ("oneway", "repeated", "components", "threelevel", "crossed"):
        source = ROOT / designs[section]["file"]
        copy = folder / source.name  # the same name: only the content tells
        copy.write_bytes(source.read_bytes() + b"\n")
        designs[section] = {**designs[section], "file": str(copy)}
    cfg.update(results=str(folder / "results"), report={"pdf": False, "engine": "fallback"},
               study={**cfg["study"], "enabled": False}, designs=designs)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    target = folder / "results" / "designs" / "designs.html"
    proc = run_snakemake(str(target), "--cores", "2", "--nolock", "--configfile", str(folder / "config.yaml"))
    assert proc.returncode == 0, proc.stderr[-5000:]


def test_lecture_remarks_follow_the_content_not_the_name(renamed_copies, html):
    other = renamed_copies.read_text()
    for remark in ("TIMSS 2019 example", "grocery prices of the lecture notes", "the lecture notes switch to this coding",
                   "simulated (with a fixed seed)", "penicillin data of Davies", "The one-way lecture (TIMSS)",
                   "The repeated-measures lecture notes", "TIMSS 1997 example"):
        assert remark in html, remark
        assert remark not in other, remark
    assert "not a bundled file" in other
    # the numbers are the same: the rows are
    for number in ("<strong>144.6</strong>", "0.08447", "0.8086"):
        assert number in other
