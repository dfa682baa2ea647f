"""One pandoc call per output format: the assembled Markdown becomes one
self-contained HTML file (MathML, embedded images and CSS), or Typst that the
PyPI ``typst`` package compiles to PDF. Both calls run the same Lua filter
(crossref.lua), so both formats number figures, tables and sections alike;
they run at the same time (the render is the last step of a pipeline run)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import yaml

from .qmd import Qmd, RenderError

HERE = Path(__file__).parent  # crossref.lua, template.typ and style.css ship here


def to_formats(markdown: str, doc: Qmd, targets: Sequence[str], scratch: Path) -> dict[str, Path]:
    """``markdown`` (with the header's metadata) as each target, "html" or "pdf",
    the conversions at the same time (one pandoc process each)."""
    source = scratch / f"{doc.path.stem}.md"
    source.write_text(f"---\n{yaml.safe_dump(metadata(doc), allow_unicode=True)}---\n\n{markdown}", encoding="utf-8")
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = {target: pool.submit(convert, source, doc, target, scratch) for target in targets}
        return {target: future.result() for target, future in futures.items()}


def convert(source: Path, doc: Qmd, target: str, scratch: Path) -> Path:
    """The Markdown file ``source`` as ``target``: "html" or "pdf"."""
    options = doc.format_options()
    args = [str(source), "--from=markdown", "--standalone", "--wrap=none",
            "--columns=100000",  # no relative column widths from long pipe-table rows
            f"--lua-filter={HERE / 'crossref.lua'}", f"--resource-path={doc.path.parent}"]
    if options.get("toc"):
        args += ["--toc", f"--toc-depth={int(options.get('toc-depth', 3))}"]
    if options.get("number-sections"):
        args.append("--number-sections")
    if target == "html":
        out = scratch / f"{doc.path.stem}.html"
        run_pandoc([*args, "--to=html5", "--embed-resources", "--mathml", "--section-divs",
                    f"--css={HERE / 'style.css'}", f"--output={out}"])
        return out
    typ = scratch / f"{doc.path.stem}.typ"
    run_pandoc([*args, "--to=typst", f"--template={HERE / 'template.typ'}", f"--output={typ}"])
    return compile_typst(typ, typ.with_suffix(".pdf"))


def metadata(doc: Qmd) -> dict[str, Any]:
    """What the templates and the filter read from the header (``date`` as Quarto shows it)."""
    options = doc.format_options()
    meta = {k: str(options[k]) for k in ("title", "subtitle", "abstract", "lang", "date") if options.get(k)}
    if "date" in meta:
        meta["date"] = display_date(options["date"])
    if options.get("author"):  # a name, a list, or maps with ``name``
        authors = options["author"] if isinstance(options["author"], list) else [options["author"]]
        meta["author"] = [str(a.get("name", "")) if isinstance(a, Mapping) else str(a) for a in authors]
    if "title" not in meta:
        meta["pagetitle"] = doc.path.stem
    meta["number-sections"] = bool(options.get("number-sections"))
    meta["toc-title"] = str(options.get("toc-title", "Table of contents"))
    return meta


def display_date(value: Any) -> str:
    """``today`` and ISO dates in Quarto's default long style ("January 15, 2024")."""
    if value in ("today", "now", "last-modified"):
        value = dt.date.today()
    try:
        value = dt.date.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        return str(value)
    return f"{value:%B} {value.day}, {value.year}" if isinstance(value, dt.date) else str(value)


def compile_typst(typ: Path, pdf: Path) -> Path:
    """Compile ``typ`` to ``pdf`` with the PyPI ``typst`` package (images are absolute paths)."""
    import typst

    try:
        typst.compile(str(typ), output=str(pdf), root="/")
    except Exception as err:  # typst.TypstError and friends
        raise RenderError(f"typst could not compile {typ}: {err}") from err
    return pdf


def run_pandoc(args: list[str]) -> None:
    """Run the pandoc of pypandoc-binary; its warnings (e.g. unresolved references) go to stderr."""
    import pypandoc

    done = subprocess.run([pypandoc.get_pandoc_path(), *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RenderError(f"pandoc failed (exit {done.returncode}): {done.stderr.strip()}")
    sys.stderr.write(done.stderr)
