"""Tests of mlmcompare.render with the fallback engine (no Quarto needed).

The expected numbers (figure, table and section numbers, file lines, page
orientations, type sizes) are read off the fixtures in tests/unit/fixtures/render.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("pypandoc")
pymupdf = pytest.importorskip("pymupdf")

from mlmcompare.render import ChunkError, RenderError, render_report  # noqa: E402
from mlmcompare.render.execute import build_notebook  # noqa: E402
from mlmcompare.render.qmd import chunk_options, expand_includes, read_qmd  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "render"
NBSP = "\u00a0"


def render(tmp_path: Path, name: str, pdf: bool = True, **kwargs: object) -> dict[str, object]:
    """Render fixture ``name`` into tmp_path: the HTML text, and the PDF opened."""
    html, pdf_out = tmp_path / f"{name}.html", tmp_path / f"{name}.pdf"
    info = render_report(FIXTURES / f"{name}.qmd", html, pdf_out=pdf_out if pdf else None,
                         engine="fallback", **kwargs)  # type: ignore[arg-type]
    return {"info": info, "html": html.read_text(encoding="utf-8"),
            "pdf": pymupdf.open(pdf_out) if pdf else None}


def html_text(html: str) -> str:
    body = html.split("<body", 1)[1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&nbsp;", NBSP)


def pdf_text(pdf: object) -> str:
    return re.sub(r"\s+", " ", " ".join(page.get_text() for page in pdf))  # type: ignore[attr-defined]


def numbers_in_order(text: str) -> list[str]:
    return re.findall(r"(?:Figure|Table|Section)[\s\u00a0]\d+(?:\.\d+)*", text.replace(NBSP, " "))


def span_sizes(pdf: object) -> list[float]:
    return [span["size"] for page in pdf for block in page.get_text("dict")["blocks"]  # type: ignore[attr-defined]
            for line in block.get("lines", []) for span in line["spans"] if span["text"].strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    out = tmp_path_factory.mktemp("demo")
    return {**render(out, "demo", params={"manifest": "results/injected-manifest.json"}), "out": out}


@pytest.fixture(scope="module")
def crossrefs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return render(tmp_path_factory.mktemp("crossrefs"), "crossrefs")


# ---- reading a .qmd (no kernel) -------------------------------------------


def test_chunk_options_reads_hash_pipe_lines_and_counts_them() -> None:
    lines = ["#| label: fig-x", '#| fig-cap: "A: caption"', "#| tags: [parameters]", "", "x = 1", "#| not"]
    options, skipped = chunk_options(lines)
    assert options == {"label": "fig-x", "fig-cap": "A: caption", "tags": ["parameters"]}
    assert skipped == 4  # three option lines and the blank line after them


def test_unreadable_chunk_options_name_the_chunk(tmp_path: Path) -> None:
    (tmp_path / "doc.qmd").write_text("Text\n\n```{python}\n#| label: [unclosed\nx = 1\n```\n")
    with pytest.raises(RenderError, match=r"doc.qmd:3: unreadable chunk options"):
        read_qmd(tmp_path / "doc.qmd")


def test_read_qmd_leaves_plain_code_blocks_alone(tmp_path: Path) -> None:
    text = "Text\n\n````markdown\n```{python}\nprint(1)\n```\n````\n\n```{python}\nx = 2\n```\n"
    (tmp_path / "doc.qmd").write_text(text)
    doc = read_qmd(tmp_path / "doc.qmd")
    assert [c.code for c in doc.blocks if not isinstance(c, str)] == ["x = 2"]
    assert "```{python}" in doc.blocks[0]


def test_includes_are_expanded_with_the_line_each_comes_from() -> None:
    lines = expand_includes(FIXTURES / "with_include.qmd")
    for text, file, number in lines:
        assert file.read_text(encoding="utf-8").splitlines()[number - 1] == text
    assert [f.name for f in dict.fromkeys(f for _, f, _ in lines)] == [
        "with_include.qmd", "_included_part.qmd", "_nested_part.qmd"]
    assert not any("{{<" in text for text, _, _ in lines)


def test_missing_include_names_the_including_line(tmp_path: Path) -> None:
    (tmp_path / "main.qmd").write_text("Text\n\n{{< include _absent.qmd >}}\n")
    with pytest.raises(RenderError, match=r"main.qmd:3: included file _absent.qmd not found"):
        read_qmd(tmp_path / "main.qmd")


def test_chunks_know_the_file_and_line_they_are_written_at() -> None:
    doc = read_qmd(FIXTURES / "failing.qmd")
    broken = next(c for c in doc.blocks if not isinstance(c, str) and c.label == "broken-chunk")
    part = (FIXTURES / "_failing_part.qmd").read_text(encoding="utf-8").splitlines()
    assert broken.file.name == "_failing_part.qmd"
    assert part[broken.line - 1] == "```{python}" and part[broken.line] == "#| label: broken-chunk"
    assert part[broken.code_line - 1] == "w = x + z"


def test_params_are_injected_after_the_parameters_cell() -> None:
    doc = read_qmd(FIXTURES / "demo.qmd")
    cells = build_notebook(doc, {"manifest": "/abs/m.json"}).cells
    at = next(i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", []))
    assert cells[at + 1].metadata["tags"] == ["injected-parameters"]
    assert "manifest = '/abs/m.json'" in cells[at + 1].source
    assert sum("Injected parameters" in c.source for c in cells) == 1


# ---- the demo report ------------------------------------------------------


def test_demo_html_has_param_table_figure_and_markdown_output(demo: dict[str, object]) -> None:
    html = str(demo["html"])
    assert "Manifest parameter: results/injected-manifest.json" in html
    assert re.search(rf'<table id="tbl-demo"[^>]*>\s*<caption>Table{NBSP}1: Demo estimates by method</caption>', html)
    assert re.search(rf'<figure id="fig-demo"[^>]*>.*<figcaption>Figure{NBSP}1: Demo slopes by sector</figcaption>',
                     html, re.S)
    assert 'src="data:image/png;base64,' in html
    assert "<strong>bold</strong>" in html  # IPython.display.Markdown output
    assert f'<a href="#fig-demo">Figure{NBSP}1</a>' in html and f'<a href="#sec-setting">Section{NBSP}1</a>' in html


def test_demo_html_is_self_contained_with_mathml_toc_and_numbers(demo: dict[str, object]) -> None:
    html = str(demo["html"])
    assert "<math" in html and '<script src="http' not in html
    assert 'href="http' not in html.split("</head>")[0]
    assert 'id="TOC"' in html and "January 15, 2024" in html
    # the document's top level is ##: numbered 1 and 2, as Quarto does
    assert re.findall(r'class="header-section-number">([\d.]+)<', html) == ["1", "2"]
    assert re.findall(r'class="toc-section-number">([\d.]+)<', html) == ["1", "2"]


def test_demo_pdf_numbers_sections_from_the_top_level_present(demo: dict[str, object]) -> None:
    text = pdf_text(demo["pdf"])
    assert "1 Setting" in text and "2 Results" in text and "0.1 Setting" not in text


def test_demo_leaves_only_its_outputs(demo: dict[str, object]) -> None:
    out = Path(demo["out"])  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == ["demo.html", "demo.pdf"]
    assert [p.name for p in demo["info"].outputs] == ["demo.html", "demo.pdf"]  # type: ignore[attr-defined]
    assert demo["info"].engine == "fallback"  # type: ignore[attr-defined]


# ---- cross references -----------------------------------------------------


def test_crossrefs_resolve_in_html(crossrefs: dict[str, object]) -> None:
    html = str(crossrefs["html"])
    assert f'<a href="#fig-scatter">Figure{NBSP}1</a> shows the data' in html
    assert f'<a href="#tbl-means">Table{NBSP}1</a> their means; <a href="#tbl-means">1</a> is' in html
    assert f'Printed by a chunk: <a href="#tbl-prose">Table{NBSP}2</a> and <a href="#fig-prose">Figure{NBSP}2</a>, ' \
           f'in <a href="#sec-fit">Section{NBSP}2.1</a>' in html
    assert f"<figcaption>Figure{NBSP}1: Scatter of <em>y</em> on x</figcaption>" in html
    assert f"<caption>Table{NBSP}2: Estimates written in the text</caption>" in html
    assert "<strong>?@fig-missing</strong>" in html


def test_code_spans_and_blocks_keep_their_at_signs(crossrefs: dict[str, object]) -> None:
    html = str(crossrefs["html"])
    assert "<code>@fig-scatter</code>" in html and "<code>[-@tbl-means]</code>" in html
    assert "# a plain code block: @fig-scatter stays here" in html
    assert "@fig-scatter stays here" in pdf_text(crossrefs["pdf"])


def test_crossrefs_are_numbered_the_same_in_html_and_pdf(crossrefs: dict[str, object]) -> None:
    expected = ["Section 1", "Figure 1", "Table 1", "Section 2", "Figure 1", "Table 1", "Section 2",
                "Section 2.1", "Table 2", "Figure 2", "Table 2", "Figure 2", "Section 2.1"]
    text = pdf_text(crossrefs["pdf"])
    assert numbers_in_order(text.replace("1 Data", "Section 1").replace("2 Model", "Section 2")
                            .replace("2.1 Fit", "Section 2.1")) == expected
    html = html_text(str(crossrefs["html"]))
    assert numbers_in_order(html.replace("1 Data", "Section 1").replace("2 Model", "Section 2")
                            .replace("2.1 Fit", "Section 2.1")) == expected


# ---- chunk options, includes and failures ---------------------------------


def test_chunk_options_are_honoured(tmp_path: Path) -> None:
    html = str(render(tmp_path, "features", pdf=False)["html"])
    assert html.count("<pre class=\"sourceCode python\"") == 1 and "answer = 6 * 7" in html_text(html)  # echo
    assert "the answer is 42" in html
    assert "INCLUDE-FALSE-OUTPUT" not in html and "secret =" not in html  # include: false
    assert "must not run" not in html  # eval: false (and not echoed)
    assert "STDERR-DROPPED" not in html and "stdout kept" in html  # warning: false
    assert re.search(rf'<table id="tbl-frame"[^>]*>\s*<caption>Table{NBSP}1: A data frame</caption>', html)
    assert "<td>Intercept</td>" in html and "<style" not in html.split("</head>")[1]  # pandas' HTML
    assert "ZeroDivisionError" in html  # error: true shows the error


def test_include_shortcode_is_expanded_and_executed(tmp_path: Path) -> None:
    html = html_text(str(render(tmp_path, "with_include", pdf=False, params={"value": "from-test"})["html"]))
    assert "The included chunk sees the parameter: from-test" in html
    assert "The nested chunk sees it too: from-test" in html
    order = ["Before the include", "Included section", "Nested part", "After the include"]
    assert [html.index(s) for s in order] == sorted(html.index(s) for s in order)


def test_failing_chunk_is_reported_where_it_is_written(tmp_path: Path) -> None:
    part = (FIXTURES / "_failing_part.qmd").read_text(encoding="utf-8").splitlines()
    fence = part.index("#| label: broken-chunk")  # 1-based line of the fence above it
    failing = part.index("y = w + undefined_name") + 1
    with pytest.raises(ChunkError) as caught:
        render_report(FIXTURES / "failing.qmd", tmp_path / "fail.html", engine="fallback")
    message = str(caught.value)
    where = f"_failing_part.qmd:{fence}"
    assert re.match(rf"chunk 'broken-chunk' at \S*{where} failed: NameError: name 'undefined_name'", message)
    assert re.search(rf"at \S*_failing_part.qmd:{failing}: y = w \+ undefined_name", message)
    assert caught.value.label == "broken-chunk" and caught.value.where.endswith(where)
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_param_naming_an_existing_path_is_made_absolute(tmp_path: Path) -> None:
    qmd = tmp_path / "p.qmd"
    qmd.write_text('```{python}\n#| tags: [parameters]\nmanifest = "x"\n```\n\n```{python}\nprint(manifest)\n```\n')
    (tmp_path / "m.json").write_text("{}")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        render_report(qmd, tmp_path / "out" / "p.html", params={"manifest": "m.json"}, engine="fallback")
    assert str(tmp_path / "m.json") in (tmp_path / "out" / "p.html").read_text()


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_report(FIXTURES / "demo.qmd", tmp_path / "x.html", engine="latex")


@pytest.mark.skipif(shutil.which("quarto") is not None, reason="quarto is installed")
def test_quarto_engine_without_quarto_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError):
        render_report(FIXTURES / "demo.qmd", tmp_path / "x.html", engine="quarto")


# ---- PDF layout -----------------------------------------------------------


@pytest.fixture(scope="module")
def landscape(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return render(tmp_path_factory.mktemp("landscape"), "landscape")


def test_landscape_div_puts_its_table_on_a_landscape_page(landscape: dict[str, object]) -> None:
    pages = {text: page for page in landscape["pdf"] for text in  # type: ignore[attr-defined]
             ("Twelve columns", "Sixteen columns", "Portrait text after") if text in page.get_text()}
    assert pages["Sixteen columns"].rect.width > pages["Sixteen columns"].rect.height
    for text in ("Twelve columns", "Portrait text after"):
        assert pages[text].rect.width < pages[text].rect.height
    assert '<div class="landscape">' in str(landscape["html"])  # a no-op div in HTML


def test_no_text_below_7pt_even_in_wide_tables(landscape: dict[str, object]) -> None:
    sizes = span_sizes(landscape["pdf"])
    assert min(sizes) >= 7.0 - 1e-6
    assert any(size < 9.0 for size in sizes)  # the portrait table did need smaller type


def test_nested_math_scripts_stay_at_7pt(tmp_path: Path) -> None:
    qmd = tmp_path / "m.qmd"
    qmd.write_text("Inline $x_{i_j}$, $\\frac{a^2}{b_k}$ and $\\sum_{j: W_j = 1} x_j$.\n")
    render_report(qmd, tmp_path / "m.html", pdf_out=tmp_path / "m.pdf", engine="fallback")
    assert min(span_sizes(pymupdf.open(tmp_path / "m.pdf"))) >= 7.0


@pytest.mark.skipif(shutil.which("quarto") is None, reason="needs the Quarto CLI (optional)")
def test_same_fixture_renders_with_quarto(tmp_path: Path) -> None:
    out = tmp_path / "q" / "demo.html"
    info = render_report(FIXTURES / "demo.qmd", out, params={"manifest": "quarto-param"}, engine="quarto")
    html = out.read_text(encoding="utf-8")
    assert info.engine == "quarto"
    assert "Manifest parameter: quarto-param" in html
    assert "Demo estimates by method" in html and "Demo slopes by sector" in html
    assert "<math" in html and 'src="data:image/png;base64,' in html
    assert [p.name for p in out.parent.iterdir()] == ["demo.html"]


def test_the_fallback_renderer_stays_small():
    """The fallback leans on pandoc, nbclient and Typst: at most 600 lines of
    Python (its Lua filter, template and CSS aside)."""
    from ..conftest import ROOT

    files = sorted((ROOT / "src" / "mlmcompare" / "render").glob("*.py"))
    assert sum(len(f.read_text().splitlines()) for f in files) <= 600
