"""Tests of mlmcompare.render with the fallback engine (no Quarto needed)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("pypandoc")

from mlmcompare.render import (  # noqa: E402
    ChunkError,
    RenderError,
    build_notebook,
    chunk_options,
    notebook_to_markdown,
    parse_qmd,
    render_report,
    resolve_crossrefs,
)

FIXTURES = Path(__file__).parent / "fixtures" / "render"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """The demo fixture rendered once to HTML and PDF."""
    out = tmp_path_factory.mktemp("demo-out")
    info = render_report(
        FIXTURES / "demo.qmd",
        out / "demo.html",
        params={"manifest": "results/injected-manifest.json"},
        pdf_out=out / "demo.pdf",
        engine="fallback",
    )
    return {"out": out, "info": info, "html": (out / "demo.html").read_text(encoding="utf-8")}


# ---- parsing (no kernel) -------------------------------------------------


def test_chunk_options_reads_hash_pipe_lines() -> None:
    options, code = chunk_options(
        [
            "#| label: fig-x",
            '#| fig-cap: "A: caption"',
            "#| tags: [parameters]",
            "x = 1",
            "#| not an option",
        ]
    )
    assert options == {"label": "fig-x", "fig-cap": "A: caption", "tags": ["parameters"]}
    assert code == "x = 1\n#| not an option"


def test_parse_qmd_splits_header_text_and_chunks() -> None:
    doc = parse_qmd((FIXTURES / "demo.qmd").read_text(encoding="utf-8"))
    assert doc.front["title"] == "Render demo"
    labels = [c.label for c in doc.chunks]
    assert labels == ["", "show-param", "tbl-demo", "md-display", "fig-demo"]
    assert doc.chunks[0].options["tags"] == ["parameters"]
    assert any(isinstance(b, str) and r"$\beta_W$" in b for b in doc.blocks)


def test_parse_qmd_leaves_plain_code_blocks_alone() -> None:
    text = "Text\n\n````markdown\n```{python}\nprint(1)\n```\n````\n\n```{python}\nx = 2\n```\n"
    doc = parse_qmd(text)
    assert [c.code for c in doc.chunks] == ["x = 2"]
    assert "```{python}" in doc.blocks[0]


def test_params_are_injected_after_the_parameters_cell() -> None:
    doc = parse_qmd((FIXTURES / "demo.qmd").read_text(encoding="utf-8"))
    nb = build_notebook(doc, {"manifest": "/abs/m.json"})
    sources = [c.source for c in nb.cells]
    params_at = next(
        i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])
    )
    assert nb.cells[params_at + 1].metadata["tags"] == ["injected-parameters"]
    assert "manifest = '/abs/m.json'" in sources[params_at + 1]


def test_crossrefs_number_figures_tables_sections() -> None:
    markdown = "\n".join(
        [
            "## Intro {#sec-intro}",
            "See @fig-a, [-@tbl-b] and @sec-intro; @fig-missing.",
            "![\u27e6xref:fig-a\u27e7Cap A](a.png){#fig-a}",
            "",
            "| a |",
            "|---|",
            "| 1 |",
            "",
            ": \u27e6xref:tbl-b\u27e7Cap B {#tbl-b}",
            "```python",
            "x = '@fig-a'",
            "```",
        ]
    )
    html = resolve_crossrefs(markdown, number_sections=True, target="html")
    assert "[Figure\u00a01](#fig-a)" in html
    assert "[1](#tbl-b)" in html
    assert "[Section\u00a01](#sec-intro)" in html
    assert "**?@fig-missing**" in html
    assert "![Figure\u00a01: Cap A]" in html
    assert ": Table\u00a01: Cap B {#tbl-b}" in html
    assert "x = '@fig-a'" in html  # code is left alone
    pdf = resolve_crossrefs(markdown, number_sections=False, target="pdf")
    assert "![Cap A]" in pdf  # typst numbers its own figures


def test_html_table_output_gets_caption_for_html_and_becomes_markdown_for_pdf(
    tmp_path: Path,
) -> None:
    import nbformat.v4 as nbf

    doc = parse_qmd('```{python}\n#| label: tbl-x\n#| tbl-cap: "A cap"\ndf\n```\n\nSee @tbl-x.\n')
    html_table = "<style>td {}</style><table border='1' id='T_1'><tr><th>term</th></tr>"
    html_table += "<tr><td>ses</td></tr></table>"
    output = nbf.new_output("execute_result", data={"text/html": html_table, "text/plain": "df"})
    nb = build_notebook(doc)
    nb.cells[-1].outputs = [output]
    as_html = notebook_to_markdown(doc, nb, target="html", figdir=tmp_path)
    assert "<table id=\"tbl-x\" border='1'><caption>Table\u00a01: A cap</caption>" in as_html
    assert "[Table\u00a01](#tbl-x)" in as_html
    as_pdf = notebook_to_markdown(doc, nb, target="pdf", figdir=tmp_path)
    assert "| term |" in as_pdf.replace("  ", " ") and ": A cap {#tbl-x}" in as_pdf
    assert "<style" not in as_pdf


# ---- the demo report -----------------------------------------------------


def test_demo_html_is_written_with_param_table_and_figure(demo: dict[str, object]) -> None:
    html = str(demo["html"])
    assert "Manifest parameter: results/injected-manifest.json" in html
    assert "<table" in html
    assert "Demo estimates by method" in html
    assert re.search(r"<caption>Table.1: Demo estimates by method</caption>", html)
    assert '<img src="data:image/png;base64,' in html or 'src="data:image/png;base64,' in html
    assert "Demo slopes by sector" in html
    assert "<strong>bold</strong>" in html  # IPython.display.Markdown output
    assert 'id="fig-demo"' in html and 'id="tbl-demo"' in html
    assert '<a href="#fig-demo">Figure' in html


def test_demo_html_is_self_contained_with_mathml(demo: dict[str, object]) -> None:
    html = str(demo["html"])
    assert "<math" in html
    assert '<script src="http' not in html
    assert 'href="http' not in html.split("</head>")[0]  # no external stylesheet
    assert "Render demo" in html and 'id="TOC"' in html
    assert 'class="header-section-number">1<' in html


def test_demo_leaves_only_its_outputs(demo: dict[str, object]) -> None:
    out = Path(demo["out"])  # type: ignore[arg-type]
    assert sorted(p.name for p in out.iterdir()) == ["demo.html", "demo.pdf"]
    info = demo["info"]
    assert info.engine == "fallback"  # type: ignore[attr-defined]
    assert [p.name for p in info.outputs] == ["demo.html", "demo.pdf"]  # type: ignore[attr-defined]


def test_demo_pdf_is_a_pdf(demo: dict[str, object]) -> None:
    pdf = Path(demo["out"]) / "demo.pdf"  # type: ignore[arg-type]
    assert pdf.read_bytes()[:4] == b"%PDF"


def test_param_naming_an_existing_path_is_made_absolute(tmp_path: Path) -> None:
    qmd = tmp_path / "p.qmd"
    chunks = ['#| tags: [parameters]\nmanifest = "x"', "print(manifest)"]
    qmd.write_text("".join(f"```{{python}}\n{c}\n```\n\n" for c in chunks))
    (tmp_path / "m.json").write_text("{}")
    out = tmp_path / "out" / "p.html"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        render_report(qmd, out, params={"manifest": "m.json"}, engine="fallback")
    assert str(tmp_path / "m.json") in out.read_text()


# ---- chunk options and failures ------------------------------------------


def test_chunk_options_are_honoured(tmp_path: Path) -> None:
    out = tmp_path / "features.html"
    render_report(FIXTURES / "features.qmd", out, engine="fallback", pdf_out=tmp_path / "f.pdf")
    html = out.read_text(encoding="utf-8")
    assert html.count('<pre class="sourceCode python"') == 1 and "answer" in html  # echo: true
    assert "the answer is 42" in html
    assert "INCLUDE-FALSE-OUTPUT" not in html and "secret =" not in html  # include: false
    assert "must not run" not in html  # eval: false (and not echoed)
    assert "STDERR-DROPPED" not in html and "stdout kept" in html  # warning: false
    assert re.search(r'<table id="tbl-frame"[^>]*><caption>Table.1: A data frame</caption>', html)
    assert "ZeroDivisionError" in html  # error: true shows the error
    assert '<a href="#tbl-frame">Table' in html
    assert (tmp_path / "f.pdf").read_bytes()[:4] == b"%PDF"


def test_failing_chunk_names_its_label_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fail.html"
    with pytest.raises(ChunkError) as caught:
        render_report(FIXTURES / "failing.qmd", out, engine="fallback")
    message = str(caught.value)
    assert "broken-chunk" in message
    assert "y = x + undefined_name" in message  # source excerpt
    assert "NameError" in message  # traceback
    assert caught.value.label == "broken-chunk"
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_unknown_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_report(FIXTURES / "demo.qmd", tmp_path / "x.html", engine="latex")


@pytest.mark.skipif(shutil.which("quarto") is not None, reason="quarto is installed")
def test_quarto_engine_without_quarto_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RenderError):
        render_report(FIXTURES / "demo.qmd", tmp_path / "x.html", engine="quarto")


@pytest.mark.skipif(shutil.which("quarto") is None, reason="needs the Quarto CLI (optional)")
def test_same_fixture_renders_with_quarto(tmp_path: Path) -> None:
    out = tmp_path / "q" / "demo.html"
    info = render_report(
        FIXTURES / "demo.qmd", out, params={"manifest": "quarto-param"}, engine="quarto"
    )
    html = out.read_text(encoding="utf-8")
    assert info.engine == "quarto"
    assert "Manifest parameter: quarto-param" in html
    assert "Demo estimates by method" in html and "Demo slopes by sector" in html
    assert "<math" in html and 'src="data:image/png;base64,' in html
    assert '<script src="http' not in html
    assert [p.name for p in out.parent.iterdir()] == ["demo.html"]


def test_include_shortcode_is_expanded_and_executed(tmp_path):
    """`{{< include >}}` pulls in a part whose chunks run with the same params."""
    out = tmp_path / "inc.html"
    render_report(FIXTURES / "with_include.qmd", out, params={"value": "from-include-test"}, engine="fallback")
    html = out.read_text()
    assert "Included section" in html
    assert "The included chunk sees the parameter: <strong>from-include-test</strong>" in html
    assert html.index("Before the include") < html.index("Included section") < html.index("After the include")
