"""Turn a Quarto document (.qmd) into one self-contained HTML file (and a PDF):
with the Quarto CLI where it is on PATH, else offline by the fallback
(``qmd`` reads, ``execute`` runs the chunks, ``assemble`` writes Markdown,
``pandoc`` converts it once per format). A failed render leaves nothing at
the destination."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .assemble import notebook_to_markdown
from .execute import ANSI_ESCAPE, build_notebook, execute_notebook
from .pandoc import compile_typst, to_formats
from .qmd import ChunkError, RenderError, expand_includes, read_qmd

__all__ = ["ChunkError", "RenderError", "RenderInfo", "render_report"]


@dataclass(frozen=True)
class RenderInfo:
    """What a render did: the engine used, the files written, the time taken."""

    engine: str
    outputs: tuple[Path, ...]
    seconds: float


def render_report(qmd: Path, html_out: Path, params: Mapping[str, object] | None = None,
                  pdf_out: Path | None = None, engine: str = "auto") -> RenderInfo:
    """Render ``qmd`` to a self-contained ``html_out`` (and ``pdf_out`` if given).

    ``engine``: "auto" (Quarto when ``quarto`` is on PATH, else the fallback),
    "quarto" or "fallback". ``params`` values that name existing paths are
    made absolute, since the code runs in the .qmd's folder.
    """
    start = time.perf_counter()
    qmd = Path(qmd).resolve()
    if not qmd.is_file():
        raise RenderError(f"no such report source: {qmd}")
    chosen = choose_engine(engine)
    targets = {"html": Path(html_out).resolve()}
    if pdf_out is not None:
        targets["pdf"] = Path(pdf_out).resolve()
    build = render_with_quarto if chosen == "quarto" else render_with_fallback
    with tempfile.TemporaryDirectory(prefix="mlmcompare-render-") as scratch:
        built = build(qmd, absolute_params(params or {}), list(targets), Path(scratch).resolve())
        written = tuple(install_file(built[name], dest) for name, dest in targets.items())
    return RenderInfo(chosen, written, time.perf_counter() - start)


def choose_engine(engine: str) -> str:
    """The engine to use: "quarto" or "fallback"."""
    if engine not in ("auto", "quarto", "fallback"):
        raise ValueError(f"engine must be 'auto', 'quarto' or 'fallback', not {engine!r}")
    if engine == "quarto" and not shutil.which("quarto"):
        raise RenderError("engine='quarto' but no `quarto` on PATH")
    return engine if engine != "auto" else "quarto" if shutil.which("quarto") else "fallback"


def absolute_params(params: Mapping[str, object]) -> dict[str, object]:
    """The params, every value that names an existing path made absolute (the code runs elsewhere)."""
    return {key: str(Path(value).resolve()) if isinstance(value, (str, os.PathLike)) and str(value)
            and Path(value).exists() else os.fspath(value) if isinstance(value, os.PathLike) else value
            for key, value in params.items()}


def install_file(built: Path, dest: Path) -> Path:
    """Copy ``built`` to ``dest`` atomically (temporary sibling + os.replace)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        shutil.copyfile(built, tmp)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # left only where the copy failed
    return dest


def render_with_fallback(qmd: Path, params: dict[str, object], formats: list[str],
                         scratch: Path) -> dict[str, Path]:
    """Run the chunks here, then one pandoc call per format."""
    doc = read_qmd(qmd)
    notebook = execute_notebook(doc, build_notebook(doc, params))
    markdown = notebook_to_markdown(doc, notebook, scratch / "figures")
    return to_formats(markdown, doc, formats, scratch)


def render_with_quarto(qmd: Path, params: dict[str, object], formats: list[str],
                       scratch: Path) -> dict[str, Path]:
    """Render a private copy (includes expanded) with the Quarto CLI."""
    copy = scratch / qmd.name
    copy.write_text("\n".join(text for text, _, _ in expand_includes(qmd)) + "\n", encoding="utf-8")
    common = [str(copy), "--execute-dir", str(qmd.parent), *(a for k, v in params.items() for a in ("-P", f"{k}:{v}"))]
    built = {}
    if "html" in formats:
        run_quarto([*common, "--to", "html", "-M", "embed-resources:true"], scratch)
        built["html"] = scratch / f"{copy.stem}.html"
    if "pdf" in formats:  # Quarto's typst format; compiled here where Quarto has no typst
        log = run_quarto([*common, "--to", "typst", "-M", "keep-typ:true"], scratch, check=False)
        pdf, typ = scratch / f"{copy.stem}.pdf", scratch / f"{copy.stem}.typ"
        if not pdf.is_file() and not typ.is_file():
            raise RenderError(f"quarto render --to typst failed:\n{log}")
        built["pdf"] = pdf if pdf.is_file() else compile_typst(typ, pdf)
    return built


def run_quarto(args: list[str], cwd: Path, check: bool = True) -> str:
    """``quarto render ...`` (with this Python unless QUARTO_PYTHON says otherwise); its log."""
    done = subprocess.run([shutil.which("quarto") or "quarto", "render", *args], cwd=cwd, capture_output=True,
                          text=True, env={"QUARTO_PYTHON": sys.executable, **os.environ}, check=False)
    log = ANSI_ESCAPE.sub("", done.stdout + done.stderr)[-6000:]
    if check and done.returncode != 0:
        raise RenderError(f"quarto render failed (exit {done.returncode}):\n{log}")
    return log
