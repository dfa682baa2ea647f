"""Turn a Quarto document (.qmd) into the final self-contained HTML (and PDF).

Two engines render the same file:

* ``quarto``: the real Quarto CLI, used when ``quarto`` is on PATH.  Each
  render runs in its own temporary copy of the .qmd (two renders of one file
  in parallel would collide on Quarto's intermediate files); the code still
  runs in the .qmd's own folder (``--execute-dir``).
* ``fallback``: no Quarto needed.  The .qmd is parsed here (YAML header,
  Markdown, fenced ``{python}`` chunks with ``#|`` options), its chunks run in
  a Jupyter kernel of this very Python (nbclient), and the results are
  assembled into one Markdown document that pandoc (pypandoc-binary) turns
  into a standalone HTML file with embedded images and MathML, or into Typst
  that the PyPI ``typst`` package compiles to PDF.  Everything works offline.

Outputs are written atomically: a failed render never leaves a half-written
file at the destination.  The fallback supports the common subset of both
engines: YAML header (title, subtitle, author, date, abstract, toc,
number-sections, fig-width/-height/-dpi, ``execute:`` defaults), Markdown,
TeX math, ``@fig-``/``@tbl-``/``@sec-`` cross references, and Python chunks
with the options label, echo, eval, include, output (true/false/asis),
warning, error, fig-cap, tbl-cap and tags.
"""

from __future__ import annotations

import base64
import datetime as _dt
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "ChunkError",
    "RenderError",
    "RenderInfo",
    "render_report",
    "parse_qmd",
    "chunk_options",
    "build_notebook",
    "execute_notebook",
    "notebook_to_markdown",
    "markdown_to_html",
    "markdown_to_pdf",
    "resolve_crossrefs",
]

CELL_TIMEOUT_S = 600
KERNEL_STARTUP_TIMEOUT_S = 120

# Quarto's defaults for chunk behaviour (overridden by the YAML `execute:` key
# and then by each chunk's own `#|` options).
EXECUTE_DEFAULTS: dict[str, object] = {
    "echo": True,
    "eval": True,
    "include": True,
    "output": True,
    "warning": True,
    "error": False,
}

HTML_CSS = """
body { max-width: 56em; line-height: 1.5; }
table { border-collapse: collapse; margin: 1em auto; font-size: 0.9em;
        font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.7em; }
thead th, thead td { background: #eceff3; }
tbody tr:nth-child(even) { background: #f7f8fa; }
caption { caption-side: top; padding: 0.4em; font-weight: 600; }
figure { margin: 1.5em auto; text-align: center; }
figure img, figure svg, img { max-width: 100%; height: auto; }
figcaption { font-style: italic; margin-top: 0.4em; }
pre { background: #f6f8fa; padding: 0.6em 0.8em; overflow-x: auto; }
pre.stderr, div.stderr pre { background: #fff6e5; }
.header-section-number { margin-right: 0.4em; }
div[class*="callout"] { border-left: 4px solid #6c8ebf; background: #f4f7fb;
                        padding: 0.2em 1em; margin: 1em 0; }
"""

# Tables: small type, line breaks allowed after "_" (long column names), and
# tables still wider than the text are scaled down (to 60% at most; beyond
# that their columns wrap).
TYPST_PREAMBLE = r"""
#show table: set text(size: 8.5pt)
#show table: it => { show "_": "_\u{200B}"; it }
#show table: it => layout(size => {
  let natural = measure(it).width
  if natural > size.width {
    let k = calc.max(size.width / natural, 0.6)
    scale(x: k * 100%, y: k * 100%, reflow: true, box(width: size.width / k, it))
  } else { it }
})
#show raw.where(block: true): set text(size: 8pt)
#show raw.where(block: true): block.with(fill: luma(245), inset: 6pt, radius: 2pt, width: 100%)
"""

# Pandoc Lua filter for the PDF: relative image paths are made absolute
# against the .qmd's folder (figures written by chunks are absolute already),
# since Typst resolves image paths against the .typ file.
TYPST_IMAGE_FILTER = """
local base = [==[{base}]==]
function Image(el)
  if not el.src:match('^/') and not el.src:match('^%a+:') then
    el.src = base .. '/' .. el.src
  end
  return el
end
"""

HTML_TABLE = re.compile(r"<table(\b[^>]*)>")
HTML_ID = re.compile(r"""\s+id=(?:"[^"]*"|'[^']*')""")
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CHUNK_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<lang>[A-Za-z][\w-]*)(?P<rest>[^}]*)\}\s*$")
PLAIN_FENCE = re.compile(r"^(?P<fence>`{3,}|~{3,})")
OPTION_LINE = re.compile(r"^#\|\s?(?P<text>.*)$")
XREF_KINDS = {"fig": "Figure", "tbl": "Table", "sec": "Section"}


class RenderError(RuntimeError):
    """The report could not be rendered; nothing was written at the output."""


class ChunkError(RenderError):
    """A Python chunk raised; the message names the chunk and has its traceback."""

    def __init__(self, message: str, label: str, line: int) -> None:
        super().__init__(message)
        self.label = label
        self.line = line


@dataclass(frozen=True)
class RenderInfo:
    """What a render did: the engine used, the files written, the time taken."""

    engine: str
    outputs: tuple[Path, ...]
    seconds: float


@dataclass(frozen=True)
class Chunk:
    """One fenced code chunk of a .qmd."""

    language: str
    code: str  # the source without its `#|` option lines
    options: dict[str, Any]
    line: int  # 1-based line of the opening fence in the .qmd
    end: int  # 1-based line of the closing fence

    @property
    def label(self) -> str:
        return str(self.options.get("label") or "")


@dataclass(frozen=True)
class Qmd:
    """A parsed .qmd: YAML header and a sequence of Markdown text and chunks."""

    front: dict[str, Any]
    blocks: list[str | Chunk] = field(default_factory=list)
    path: Path | None = None

    @property
    def chunks(self) -> list[Chunk]:
        return [b for b in self.blocks if isinstance(b, Chunk)]


# --------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------


def render_report(
    qmd: Path,
    html_out: Path,
    params: Mapping[str, object] | None = None,
    pdf_out: Path | None = None,
    engine: str = "auto",
    workdir: Path | None = None,
) -> RenderInfo:
    """Render ``qmd`` to a self-contained ``html_out`` (and ``pdf_out`` if given).

    ``engine``: "auto" (Quarto when ``quarto`` is on PATH, else the fallback),
    "quarto" or "fallback".  ``params`` are injected after the chunk tagged
    ``parameters``; values that name existing paths are made absolute, since
    the code runs in the .qmd's folder.  ``workdir``: where to keep the
    intermediate files (kept for inspection); by default a temporary folder
    that is removed afterwards.
    """
    start = time.perf_counter()
    qmd = Path(qmd).resolve()
    if not qmd.is_file():
        raise RenderError(f"no such report source: {qmd}")
    chosen = choose_engine(engine)
    resolved = absolute_params(params or {})
    html_out = Path(html_out).resolve()
    pdf_out = Path(pdf_out).resolve() if pdf_out is not None else None
    with scratch_dir(workdir) as scratch:
        if chosen == "quarto":
            outputs = render_with_quarto(qmd, html_out, resolved, pdf_out, scratch)
        else:
            outputs = render_with_fallback(qmd, html_out, resolved, pdf_out, scratch)
    return RenderInfo(chosen, tuple(outputs), time.perf_counter() - start)


def choose_engine(engine: str) -> str:
    """The engine to use: "quarto" or "fallback"."""
    if engine == "auto":
        return "quarto" if shutil.which("quarto") else "fallback"
    if engine == "quarto" and not shutil.which("quarto"):
        raise RenderError("engine='quarto' but no `quarto` on PATH")
    if engine not in ("quarto", "fallback"):
        raise ValueError(f"engine must be 'auto', 'quarto' or 'fallback', not {engine!r}")
    return engine


def absolute_params(params: Mapping[str, object]) -> dict[str, object]:
    """The params with every value that names an existing path made absolute."""
    resolved: dict[str, object] = {}
    for key, value in params.items():
        if isinstance(value, (str, os.PathLike)) and str(value) and Path(value).exists():
            value = str(Path(value).resolve())
        elif isinstance(value, os.PathLike):
            value = os.fspath(value)
        resolved[key] = value
    return resolved


@contextmanager
def scratch_dir(workdir: Path | None) -> Iterator[Path]:
    """A private folder for intermediate files (kept only when workdir is given)."""
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(prefix="render-", dir=workdir)).resolve()
        return
    path = Path(tempfile.mkdtemp(prefix="mlmcompare-render-")).resolve()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def install_file(built: Path, dest: Path) -> Path:
    """Copy ``built`` to ``dest`` atomically (temporary sibling + os.replace)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        shutil.copyfile(built, tmp)  # a new file: default permissions, unlike mkstemp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


# --------------------------------------------------------------------------
# engine: Quarto
# --------------------------------------------------------------------------


def render_with_quarto(
    qmd: Path, html_out: Path, params: dict[str, object], pdf_out: Path | None, scratch: Path
) -> list[Path]:
    """Render with the Quarto CLI in a private copy; the files written.

    The params go into the copy as a hidden chunk after the ``parameters``
    chunk, as papermill (Quarto's ``-P``) would put them, so the kernel's
    environment needs no papermill and both engines see the same code.
    """
    copy = scratch / qmd.name
    copy.write_text(qmd_with_params(read_source(qmd), params), encoding="utf-8")
    common = ["--execute-dir", str(qmd.parent)]
    run_quarto([str(copy), "--to", "html", "-M", "embed-resources:true", *common], scratch)
    written = [install_file(expect_file(scratch / f"{copy.stem}.html", "quarto html"), html_out)]
    if pdf_out is not None:
        written.append(install_file(quarto_pdf(copy, common, scratch), pdf_out))
    return written


def qmd_with_params(text: str, params: Mapping[str, object]) -> str:
    """The .qmd source with a hidden chunk assigning ``params`` (papermill's place:
    after the chunk tagged ``parameters``, else at the top)."""
    if not params:
        return text
    doc = parse_qmd(text)
    tagged = [c.end for c in doc.chunks if "parameters" in chunk_tags(c)]
    at = tagged[0] if tagged else split_front_matter(text)[2]
    chunk = ["", "```{python}", "#| include: false", "#| tags: [injected-parameters]"]
    lines = text.splitlines()
    lines[at:at] = [*chunk, params_source(params), "```", ""]
    return "\n".join(lines) + "\n"


def run_quarto(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run ``quarto render ...``; raise RenderError with its log when it fails.

    Quarto's Python is this one unless QUARTO_PYTHON says otherwise, so that
    both engines run the chunks in the same environment.
    """
    quarto = shutil.which("quarto")
    if quarto is None:
        raise RenderError("no `quarto` on PATH")
    env = dict(os.environ)
    env.setdefault("QUARTO_PYTHON", sys.executable)
    done = subprocess.run(
        [quarto, "render", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        log = ANSI_ESCAPE.sub("", done.stdout + done.stderr)[-6000:]
        raise RenderError(f"quarto render failed (exit {done.returncode}):\n{log}")
    return done


def quarto_pdf(copy: Path, common: list[str], scratch: Path) -> Path:
    """The PDF made by Quarto's typst format, compiled here if Quarto has no typst."""
    done = run_quarto(
        [str(copy), "--to", "typst", "-M", "keep-typ:true", *common], scratch, check=False
    )
    pdf, typ = scratch / f"{copy.stem}.pdf", scratch / f"{copy.stem}.typ"
    if done.returncode == 0 and pdf.is_file():
        return pdf
    if not typ.is_file():
        log = ANSI_ESCAPE.sub("", done.stdout + done.stderr)[-6000:]
        raise RenderError(f"quarto render --to typst failed (exit {done.returncode}):\n{log}")
    return compile_typst(typ, pdf, root=scratch)


def expect_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise RenderError(f"{what} did not produce {path.name}")
    return path


# --------------------------------------------------------------------------
# engine: fallback (nbclient + pandoc + typst)
# --------------------------------------------------------------------------


def render_with_fallback(
    qmd: Path, html_out: Path, params: dict[str, object], pdf_out: Path | None, scratch: Path
) -> list[Path]:
    """Execute the chunks here and convert with pandoc/typst; the files written."""
    doc = parse_qmd(read_source(qmd), path=qmd)
    notebook = execute_notebook(build_notebook(doc, params), cwd=qmd.parent)
    figures = scratch / "figures"
    html_md = notebook_to_markdown(doc, notebook, target="html", figdir=figures)
    written = [install_file(markdown_to_html(html_md, doc, scratch), html_out)]
    if pdf_out is not None:
        pdf_md = notebook_to_markdown(doc, notebook, target="pdf", figdir=figures)
        written.append(install_file(markdown_to_pdf(pdf_md, doc, scratch), pdf_out))
    return written


# ---- parsing -------------------------------------------------------------

INCLUDE = re.compile(r"^\s*\{\{<\s*include\s+(?P<file>\S+)\s*>\}\}\s*$")


def read_source(qmd: Path, depth: int = 0) -> str:
    """The .qmd text with Quarto's `{{< include file >}}` lines replaced by the
    files they name (relative to the including file), as Quarto does before it
    executes anything. Both engines render the expanded text, so includes
    also work from the Quarto engine's private copy."""
    if depth > 10:
        raise RenderError(f"includes nested more than 10 deep at {qmd}")
    out = []
    for line in qmd.read_text(encoding="utf-8").splitlines():
        found = INCLUDE.match(line)
        if found is None:
            out.append(line)
            continue
        part = (qmd.parent / found["file"]).resolve()
        if not part.is_file():
            raise RenderError(f"{qmd}: included file {found['file']} not found")
        out.append(read_source(part, depth + 1))
    return "\n".join(out) + "\n"



def parse_qmd(text: str, path: Path | None = None) -> Qmd:
    """The YAML header and the Markdown/chunk blocks of a .qmd source."""
    front, body, offset = split_front_matter(text)
    blocks: list[str | Chunk] = []
    prose: list[str] = []
    lines = body.splitlines()
    i = 0
    plain_fence: str | None = None
    while i < len(lines):
        line = lines[i]
        if plain_fence is not None:
            prose.append(line)
            if closes_fence(line, plain_fence):
                plain_fence = None
            i += 1
            continue
        opened = CHUNK_OPEN.match(line)
        if opened:
            end = closing_fence(lines, i + 1, opened["fence"])
            if end is None:
                raise RenderError(f"chunk opened at line {offset + i + 1} is never closed")
            if prose:
                blocks.append("\n".join(prose))
                prose = []
            options, code = chunk_options(lines[i + 1 : end])
            language = opened["lang"].lower()
            blocks.append(Chunk(language, code, options, offset + i + 1, offset + end + 1))
            i = end + 1
            continue
        fence = PLAIN_FENCE.match(line.strip())
        if fence:
            plain_fence = fence["fence"]
        prose.append(line)
        i += 1
    if prose:
        blocks.append("\n".join(prose))
    return Qmd(front, blocks, path)


def split_front_matter(text: str) -> tuple[dict[str, Any], str, int]:
    """(YAML header as a dict, the rest of the text, lines taken by the header)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text, 0
    for end in range(1, len(lines)):
        if lines[end].strip() in ("---", "..."):
            header = yaml.safe_load("\n".join(lines[1:end])) or {}
            if not isinstance(header, dict):
                raise RenderError("the YAML header is not a mapping")
            return header, "\n".join(lines[end + 1 :]), end + 1
    raise RenderError("the YAML header is not closed by '---'")


def closing_fence(lines: list[str], start: int, fence: str) -> int | None:
    """Index of the line closing a chunk opened with ``fence``, or None."""
    return next((j for j in range(start, len(lines)) if closes_fence(lines[j], fence)), None)


def closes_fence(line: str, fence: str) -> bool:
    """Whether ``line`` closes a code fence opened with ``fence``."""
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def chunk_options(lines: list[str]) -> tuple[dict[str, Any], str]:
    """(the ``#| key: value`` options, the remaining code) of a chunk's lines."""
    option_text: list[str] = []
    k = 0
    while k < len(lines):
        match = OPTION_LINE.match(lines[k])
        if not match:
            break
        option_text.append(match["text"])
        k += 1
    try:
        options = yaml.safe_load("\n".join(option_text)) if option_text else {}
    except yaml.YAMLError as err:
        raise RenderError(f"unreadable chunk options:\n{chr(10).join(option_text)}\n{err}") from err
    if not isinstance(options, dict):
        raise RenderError(f"chunk options are not 'key: value' lines: {option_text}")
    return options, "\n".join(lines[k:]).strip("\n")


def format_options(front: Mapping[str, Any], target: str) -> dict[str, Any]:
    """Top-level YAML options merged with those of the target's format."""
    names = {"html": ("html",), "pdf": ("typst", "pdf")}[target]
    merged = {k: v for k, v in front.items() if k not in ("format", "execute")}
    fmt = front.get("format")
    if isinstance(fmt, Mapping):
        for name in names:
            if isinstance(fmt.get(name), Mapping):
                merged.update(fmt[name])
                break
    return merged


def execute_options(front: Mapping[str, Any], chunk: Chunk) -> dict[str, Any]:
    """A chunk's effective options: Quarto defaults < YAML ``execute:`` < ``#|``."""
    options = dict(EXECUTE_DEFAULTS)
    execute = front.get("execute")
    if isinstance(execute, Mapping):
        options.update({k: v for k, v in execute.items() if k in EXECUTE_DEFAULTS})
    options.update(chunk.options)
    return options


def chunk_tags(chunk: Chunk) -> list[str]:
    tags = chunk.options.get("tags") or []
    return [str(t) for t in ([tags] if isinstance(tags, str) else tags)]


# ---- notebook ------------------------------------------------------------


def build_notebook(doc: Qmd, params: Mapping[str, object] | None = None) -> Any:
    """An nbformat notebook of the chunks to run, params injected papermill-style.

    A hidden setup cell comes first (figure size/format); the parameters cell
    is followed by an ``injected-parameters`` cell (or that cell comes first
    when no chunk is tagged ``parameters``).  Each chunk cell records its block
    index in ``metadata.mlmcompare.block``.
    """
    import nbformat.v4 as nbf

    cells = [nbf.new_code_cell(setup_source(doc.front), metadata={"mlmcompare": {"role": "setup"}})]
    injected = nbf.new_code_cell(
        params_source(params or {}),
        metadata={"tags": ["injected-parameters"], "mlmcompare": {"role": "params"}},
    )
    tagged = False
    for index, block in enumerate(doc.blocks):
        if not isinstance(block, Chunk):
            continue
        if block.language != "python":
            raise RenderError(
                f"chunk at line {block.line} is {{{block.language}}}: "
                "the fallback renderer runs Python chunks only"
            )
        options = execute_options(doc.front, block)
        if not options["eval"]:
            continue
        tags = chunk_tags(block)
        metadata: dict[str, Any] = {
            "mlmcompare": {"block": index, "label": block.label, "line": block.line}
        }
        if options["error"]:
            tags = [*tags, "raises-exception"]  # nbclient lets such a cell raise
        if tags:
            metadata["tags"] = tags
        cells.append(nbf.new_code_cell(block.code, metadata=metadata))
        if "parameters" in tags and not tagged:
            cells.append(injected)
            tagged = True
    if params and not tagged:
        cells.insert(1, injected)
    notebook = nbf.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return notebook


def params_source(params: Mapping[str, object]) -> str:
    """Python source assigning the parameters (papermill's injected cell)."""
    lines = ["# Injected parameters"]
    for key, value in params.items():
        if not str(key).isidentifier():
            raise RenderError(f"parameter name {key!r} is not a Python identifier")
        lines.append(f"{key} = {value!r}")
    return "\n".join(lines)


def setup_source(front: Mapping[str, Any]) -> str:
    """Hidden first cell: inline matplotlib with the YAML figure size and dpi."""
    options = format_options(front, "html")
    width = float(options.get("fig-width", 7))
    height = float(options.get("fig-height", 5))
    dpi = float(options.get("fig-dpi", 96))
    return (
        "try:\n"
        "    import matplotlib as _mpl\n"
        "    get_ipython().run_line_magic('matplotlib', 'inline')\n"
        "    from matplotlib_inline.backend_inline import set_matplotlib_formats as _fmts\n"
        "    _fmts('retina')\n"
        f"    _mpl.rcParams.update({{'figure.figsize': ({width}, {height}),"
        f" 'figure.dpi': {dpi}}})\n"
        "    del _mpl, _fmts\n"
        "except ImportError:\n"
        "    pass\n"
    )


def execute_notebook(notebook: Any, cwd: Path, timeout: int = CELL_TIMEOUT_S) -> Any:
    """The notebook executed cell by cell in a kernel of this Python, run in ``cwd``.

    Raises ChunkError naming the failing chunk (label, line, source excerpt,
    traceback).
    """
    from nbclient import NotebookClient

    client = NotebookClient(
        notebook,
        km=this_python_kernel_manager(),
        timeout=timeout,
        startup_timeout=KERNEL_STARTUP_TIMEOUT_S,
        allow_errors=False,
        record_timing=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.reset_execution_trackers()
    env = kernel_environment()
    # the kernel process's own stdout/stderr go to `log`, shown if it dies
    with (
        tempfile.TemporaryFile() as log,
        client.setup_kernel(cleanup_kc=True, env=env, stdout=log, stderr=log),
    ):
        run_cells(client, notebook, log)
    return notebook


def run_cells(client: Any, notebook: Any, kernel_log: Any) -> None:
    """Execute the notebook's code cells in order; ChunkError at the first failure."""
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        try:
            client.execute_cell(cell, index)
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as err:
            failure = chunk_failure(cell, err)
            if isinstance(err, DeadKernelError):
                kernel_log.seek(0)
                tail = kernel_log.read().decode(errors="replace")[-3000:]
                message = f"{failure}\n\nkernel log:\n{tail}"
                failure = ChunkError(message, failure.label, failure.line)
            raise failure from None


def this_python_kernel_manager() -> Any:
    """A kernel manager whose kernel is ipykernel on ``sys.executable``."""
    from ipykernel.kernelspec import RESOURCES, get_kernel_dict
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    class ThisPythonSpecs(KernelSpecManager):  # type: ignore[misc]
        def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
            spec = get_kernel_dict()  # argv: [sys.executable, -m, ipykernel_launcher, ...]
            return KernelSpec(
                resource_dir=RESOURCES,
                argv=spec["argv"],
                display_name=spec["display_name"],
                language="python",
            )

    return AsyncKernelManager(kernel_name="python3", kernel_spec_manager=ThisPythonSpecs())


def kernel_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    return env


def chunk_failure(cell: Any, err: Exception) -> ChunkError:
    """A ChunkError naming the chunk of ``cell``, with source excerpt and traceback."""
    meta = cell.metadata.get("mlmcompare", {})
    role = meta.get("role")
    if role:
        label, name = role, f"({role} cell)"
    else:
        label = meta.get("label") or f"#{meta.get('block', 0) + 1}"
        name = f"'{label}'" if meta.get("label") else f"{label} (unlabelled)"
    line = int(meta.get("line") or 0)
    traceback = ""
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error":
            traceback = (
                "\n".join(output.get("traceback", [])) or f"{output['ename']}: {output['evalue']}"
            )
    if not traceback:
        traceback = str(err)
    source = cell.source.splitlines()
    excerpt = "\n".join(f"    {s}" for s in source[:12]) + ("\n    ..." if len(source) > 12 else "")
    where = f" (line {line})" if line else ""
    message = f"chunk {name}{where} failed:\n{excerpt}\n\n{ANSI_ESCAPE.sub('', traceback)}"
    return ChunkError(message, label=label, line=line)


# ---- Markdown assembly ---------------------------------------------------


def notebook_to_markdown(doc: Qmd, notebook: Any, target: str, figdir: Path) -> str:
    """One Pandoc Markdown document: the text, and each chunk's code and outputs.

    ``target`` is "html" or "pdf": raw HTML outputs pass through for HTML
    only; for PDF they are converted to Markdown tables.  Images are written
    to ``figdir`` and referenced by absolute path.
    """
    figdir.mkdir(parents=True, exist_ok=True)
    cells = {
        c.metadata["mlmcompare"]["block"]: c
        for c in notebook.cells
        if "block" in c.metadata.get("mlmcompare", {})
    }
    parts: list[str] = []
    for index, block in enumerate(doc.blocks):
        if isinstance(block, str):
            parts.append(block)
        else:
            parts.append(chunk_markdown(doc, index, block, cells.get(index), target, figdir))
    markdown = "\n\n".join(p.strip("\n") for p in parts if p.strip())
    options = format_options(doc.front, target)
    return resolve_crossrefs(markdown, bool(options.get("number-sections")), target) + "\n"


def chunk_markdown(doc: Qmd, index: int, chunk: Chunk, cell: Any, target: str, figdir: Path) -> str:
    """The Markdown for one chunk: its code (if echoed) and its outputs."""
    options = execute_options(doc.front, chunk)
    if not options["include"]:
        return ""
    parts: list[str] = []
    if options["echo"]:
        parts.append(code_block(chunk.code, "python"))
    if cell is not None and options["output"] is not False:
        parts.extend(
            outputs_markdown(chunk, index, options, cell.get("outputs", []), target, figdir)
        )
    markdown = "\n\n".join(p for p in parts if p.strip())
    if chunk.label.startswith("tbl-") and chunk.options.get("tbl-cap"):
        markdown = with_table_caption(markdown, str(chunk.options["tbl-cap"]), chunk.label, target)
    return markdown


def outputs_markdown(
    chunk: Chunk,
    index: int,
    options: Mapping[str, Any],
    outputs: list[Any],
    target: str,
    figdir: Path,
) -> list[str]:
    """Markdown for a cell's outputs, in order."""
    parts: list[str] = []
    asis = options["output"] == "asis"
    image_count = 0
    for output in merged_streams(outputs):
        kind = output.get("output_type")
        if kind == "stream":
            if output["name"] == "stderr":
                if options["warning"] is not False:
                    parts.append(code_block(output["text"], "stderr"))
            elif asis:
                parts.append(output["text"])
            else:
                parts.append(code_block(output["text"], ""))
        elif kind in ("display_data", "execute_result"):
            part = display_markdown(chunk, index, output, image_count, asis, target, figdir)
            if part.startswith("!["):
                image_count += 1
            parts.append(part)
        elif kind == "error":
            parts.append(
                code_block(ANSI_ESCAPE.sub("", "\n".join(output.get("traceback", []))), "error")
            )
    return parts


def merged_streams(outputs: list[Any]) -> list[Any]:
    """Outputs with consecutive stream outputs of the same name joined."""
    merged: list[Any] = []
    for output in outputs:
        if (
            output.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1]["name"] == output["name"]
        ):
            merged[-1] = {**merged[-1], "text": merged[-1]["text"] + output["text"]}
        else:
            merged.append(dict(output))
    return merged


IMAGE_TYPES = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}


def display_markdown(
    chunk: Chunk,
    index: int,
    output: Mapping[str, Any],
    image_count: int,
    asis: bool,
    target: str,
    figdir: Path,
) -> str:
    """Markdown for one display output: the richest type the target can show."""
    data = output.get("data", {})
    if "text/markdown" in data:
        return str(data["text/markdown"])
    for mime, ext in IMAGE_TYPES.items():
        if mime in data:
            path = write_image(
                data[mime], mime, figdir / f"chunk{index + 1}-{image_count + 1}.{ext}"
            )
            width = (output.get("metadata", {}).get(mime) or {}).get("width")
            return image_markdown(chunk, path, image_count, width if target == "html" else None)
    if "text/html" in data:
        html = str(data["text/html"])
        return raw_block(html, "html") if target == "html" else html_to_markdown(html)
    if "text/latex" in data:
        return str(data["text/latex"])
    if "text/plain" in data:
        text = str(data["text/plain"])
        return text if asis else code_block(text, "")
    return ""


def write_image(payload: Any, mime: str, path: Path) -> Path:
    if mime == "image/svg+xml":
        path.write_text(payload if isinstance(payload, str) else "".join(payload), encoding="utf-8")
    else:
        path.write_bytes(base64.b64decode(payload))
    return path


def image_markdown(chunk: Chunk, path: Path, image_count: int, width: float | None) -> str:
    """``![caption](path){#fig-label}``: caption and id go to the chunk's first image."""
    caption = chunk.options.get("fig-cap") or ""
    if isinstance(caption, list):
        caption = caption[image_count] if image_count < len(caption) else ""
    elif image_count > 0:
        caption = ""
    alt = escape_brackets(str(caption))
    attrs = []
    if image_count == 0 and chunk.label.startswith("fig-") and caption:
        attrs.append(f"#{chunk.label}")
        alt = xref_placeholder(chunk.label) + alt
    if width:
        attrs.append(f"width={int(width)}")
    suffix = "{" + " ".join(attrs) + "}" if attrs else ""
    return f"![{alt}](<{path.as_posix()}>){suffix}"


def with_table_caption(markdown: str, caption: str, label: str, target: str) -> str:
    """The chunk's Markdown with a table caption ``: caption {#tbl-label}`` added."""
    text = xref_placeholder(label) + caption
    if target == "html" and "<table" in markdown:

        def captioned(match: re.Match[str]) -> str:
            attrs = HTML_ID.sub("", match[1])
            return f'<table id="{label}"{attrs}><caption>{html_escape(text)}</caption>'

        return HTML_TABLE.sub(captioned, markdown, count=1)
    lines = markdown.split("\n")
    last = max(
        (k for k, line in enumerate(lines) if line.lstrip().startswith(("|", "+"))), default=None
    )
    if last is None:
        return f"::: {{#{label}}}\n{text}\n\n{markdown}\n:::"
    return "\n".join([*lines[: last + 1], "", f": {text} {{#{label}}}", "", *lines[last + 1 :]])


def html_to_markdown(html: str) -> str:
    """An HTML fragment (e.g. a pandas table) as Pandoc Markdown, for the PDF."""
    html = re.sub(r"<(style|script)\b.*?</\1\s*>", "", html, flags=re.DOTALL | re.IGNORECASE)
    writer = "markdown" + "".join(
        f"-{ext}"
        for ext in (
            "raw_html",
            "raw_attribute",
            "fenced_divs",
            "native_divs",
            "native_spans",
            "simple_tables",
            "multiline_tables",
        )
    )
    return run_pandoc(["-f", "html", "-t", writer, "--wrap=none"], stdin=html).strip()


def code_block(text: str, cls: str) -> str:
    """A fenced code block longer than any backtick run in ``text``."""
    text = text.rstrip("\n")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{' ' + cls if cls else ''}\n{text}\n{fence}"


def raw_block(text: str, fmt: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{{={fmt}}}\n{text.rstrip()}\n{fence}"


def escape_brackets(text: str) -> str:
    return text.replace("[", r"\[").replace("]", r"\]")


def html_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ---- cross references ----------------------------------------------------

XREF_TOKEN = "\u27e6xref:{}\u27e7"
XREF_TOKEN_RE = re.compile("\u27e6xref:([\\w-]+)\u27e7")
HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<text>.*?)\s*(?:\{(?P<attrs>[^}]*)\})?\s*$")
PROSE_FIGURE = re.compile(r"!\[(?P<cap>(?:[^\]\\]|\\.)*)\]\((?P<src>[^)]*)\)\{#(?P<id>fig-[\w-]+)")
PROSE_TABLE_CAPTION = re.compile(
    r"^(?P<lead>(?::|Table:)\s+)(?P<cap>.*\{#(?P<id>tbl-[\w-]+)[^}]*\})\s*$"
)
XREF_USE = re.compile(
    r"(?P<open>\[)?(?P<minus>-)?(?<![\w@.])@(?P<id>(?:fig|tbl|sec)-[\w-]*\w)(?(open)\])"
)


def xref_placeholder(label: str) -> str:
    return XREF_TOKEN.format(label) if label.startswith(("fig-", "tbl-")) else ""


def resolve_crossrefs(markdown: str, number_sections: bool, target: str) -> str:
    """Number figures, tables and (optionally) sections; resolve ``@fig-x`` etc.

    Captions of labelled figures and tables get Quarto's "Figure 1: " prefix in
    HTML (Typst numbers its own figures); references become links whose text
    is "Figure 1", "Table 2" or "Section 1.2".
    """
    lines = markdown.split("\n")
    counters = {"fig": 0, "tbl": 0}
    names: dict[str, str] = {}
    heading_numbers = HeadingNumbers(top=min_heading_level(lines))
    out: list[str] = []
    for line, in_code in fence_aware(lines):
        if in_code:
            for label in XREF_TOKEN_RE.findall(line):  # raw HTML tables
                names.setdefault(label, number_label(label, counters))
            out.append(line)
            continue
        heading = HEADING.match(line)
        if heading and number_sections:
            line = heading_numbers.numbered(heading, names)
        elif heading:
            heading_numbers.record(heading, names)
        for match in PROSE_FIGURE.finditer(line):
            if XREF_TOKEN_RE.match(match["cap"]) is None:
                line = line.replace(
                    match.group(0),
                    match.group(0).replace("![", "![" + XREF_TOKEN.format(match["id"]), 1),
                    1,
                )
        table = PROSE_TABLE_CAPTION.match(line)
        if table and XREF_TOKEN_RE.search(line) is None:
            line = f"{table['lead']}{XREF_TOKEN.format(table['id'])}{table['cap']}"
        for label in XREF_TOKEN_RE.findall(line):
            names.setdefault(label, number_label(label, counters))
        out.append(line)
    prefix = (lambda label: f"{names[label]}: ") if target == "html" else (lambda label: "")
    resolved: list[str] = []
    for line, in_code in fence_aware(out):
        line = XREF_TOKEN_RE.sub(lambda m: prefix(m[1]), line)
        if not in_code:
            line = XREF_USE.sub(lambda m: reference_link(m, names), line)
        resolved.append(line)
    return "\n".join(resolved)


def number_label(label: str, counters: dict[str, int]) -> str:
    kind = label.split("-", 1)[0]
    counters[kind] += 1
    return f"{XREF_KINDS[kind]}\u00a0{counters[kind]}"


def reference_link(match: re.Match[str], names: Mapping[str, str]) -> str:
    label = match["id"]
    if label not in names:
        return f"**?@{label}**"
    text = names[label]
    if match["minus"]:
        text = text.split("\u00a0", 1)[-1]
    return f"[{text}](#{label})"


def min_heading_level(lines: list[str]) -> int:
    levels = [
        len(m["hashes"])
        for line, code in fence_aware(lines)
        if not code and (m := HEADING.match(line))
    ]
    return min(levels, default=1)


class HeadingNumbers:
    """Section numbers as Quarto shows them (the top heading level counts as 1)."""

    def __init__(self, top: int) -> None:
        self.top = top
        self.counts = [0] * 7

    def numbered(self, heading: re.Match[str], names: dict[str, str]) -> str:
        attrs = heading["attrs"] or ""
        if ".unnumbered" in attrs or re.search(r"(^|\s)-($|\s)", attrs):
            self.record(heading, names)
            return heading.group(0)
        level = len(heading["hashes"])
        depth = max(level - self.top, 0)
        self.counts[depth] += 1
        self.counts[depth + 1 :] = [0] * (len(self.counts) - depth - 1)
        number = ".".join(str(c) for c in self.counts[: depth + 1])
        ident = self.identifier(attrs)
        if ident:
            names[ident] = f"Section\u00a0{number}"
        suffix = f" {{{attrs}}}" if heading["attrs"] is not None else ""
        return f"{heading['hashes']} [{number}]{{.header-section-number}} {heading['text']}{suffix}"

    def record(self, heading: re.Match[str], names: dict[str, str]) -> None:
        ident = self.identifier(heading["attrs"] or "")
        if ident:
            names[ident] = heading["text"]

    @staticmethod
    def identifier(attrs: str) -> str | None:
        match = re.search(r"#(sec-[\w-]+)", attrs)
        return match[1] if match else None


def fence_aware(lines: list[str]) -> Iterator[tuple[str, bool]]:
    """Each line with a flag: inside a fenced code/raw block (fence lines included)."""
    fence: str | None = None
    for line in lines:
        stripped = line.strip()
        if fence is None:
            match = PLAIN_FENCE.match(stripped)
            if match:
                fence = match["fence"]
                yield line, True
                continue
            yield line, False
        else:
            if closes_fence(line, fence):
                fence = None
            yield line, True


# ---- pandoc and typst ----------------------------------------------------


def pandoc_metadata(front: Mapping[str, Any], target: str, fallback_title: str) -> dict[str, Any]:
    """The YAML header pandoc sees: title, subtitle, author, date, abstract, lang."""
    meta: dict[str, Any] = {}
    for key in ("title", "subtitle", "abstract", "lang"):
        if front.get(key):
            meta[key] = str(front[key])
    if front.get("author"):
        meta["author"] = author_names(front["author"])
    if front.get("date"):
        meta["date"] = display_date(front["date"], front.get("date-format"))
    if "title" not in meta and target == "html":
        meta["pagetitle"] = fallback_title
    return meta


def author_names(author: Any) -> list[str]:
    """Quarto's author field (string, list, or dicts with ``name``) as names."""
    items = author if isinstance(author, list) else [author]
    names: list[str] = []
    for item in items:
        if isinstance(item, Mapping):
            name = item.get("name", "")
            if isinstance(name, Mapping):
                name = name.get("literal") or " ".join(
                    str(name[k]) for k in ("given", "family") if name.get(k)
                )
            names.append(str(name))
        else:
            names.append(str(item))
    return [n for n in names if n]


def display_date(value: Any, date_format: Any = None) -> str:
    """``today``/ISO dates in Quarto's default long style ("January 15, 2024")."""
    if isinstance(value, str) and value in ("today", "now", "last-modified"):
        value = _dt.date.today()
    if isinstance(value, str):
        try:
            value = _dt.date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, _dt.date):  # datetime is a date too
        if date_format in (None, "long"):
            return f"{value:%B} {value.day}, {value.year}"
        return value.isoformat()[:10]
    return str(value)


def with_metadata(markdown: str, meta: Mapping[str, Any]) -> str:
    if not meta:
        return markdown
    return (
        "---\n"
        + yaml.safe_dump(dict(meta), sort_keys=False, allow_unicode=True)
        + "---\n\n"
        + markdown
    )


def pandoc_source(markdown: str, doc: Qmd, scratch: Path, target: str) -> tuple[str, Path, dict[str, Any]]:
    """The report's name, the Markdown file pandoc reads (with the YAML
    metadata for `target`), and the format options for `target`."""
    name = doc.path.stem if doc.path else "report"
    source = scratch / f"{name}.{target}.md"
    source.write_text(
        with_metadata(markdown, pandoc_metadata(doc.front, target, name)), encoding="utf-8"
    )
    return name, source, format_options(doc.front, target)


def markdown_to_html(markdown: str, doc: Qmd, scratch: Path) -> Path:
    """A standalone, self-contained HTML file (MathML, embedded images and CSS)."""
    name, source, options = pandoc_source(markdown, doc, scratch, "html")
    css = scratch / "report-style.html"
    css.write_text(f"<style>{HTML_CSS}</style>\n", encoding="utf-8")
    out = scratch / f"{name}.html"
    args = [
        str(source),
        "--from",
        "markdown-citations",
        "--to",
        "html5",
        "--standalone",
        "--embed-resources",
        "--mathml",
        "--section-divs",
        "--wrap=none",
        "--columns=100000",  # no relative column widths from long pipe-table rows
        f"--include-in-header={css}",
        f"--resource-path={scratch}{os.pathsep}{doc.path.parent if doc.path else scratch}",
        "--output",
        str(out),
    ]
    args += toc_args(options)
    if options.get("toc"):
        args.append(f"--metadata=toc-title:{options.get('toc-title', 'Table of contents')}")
    run_pandoc(args, cwd=doc.path.parent if doc.path else scratch)
    return expect_file(out, "pandoc")


def markdown_to_pdf(markdown: str, doc: Qmd, scratch: Path) -> Path:
    """A PDF: pandoc writes Typst, the ``typst`` package compiles it."""
    name, source, options = pandoc_source(markdown, doc, scratch, "pdf")
    preamble = scratch / "preamble.typ"
    preamble.write_text(TYPST_PREAMBLE, encoding="utf-8")
    lua = scratch / "absolute-images.lua"
    base = (doc.path.parent if doc.path else scratch).as_posix()
    lua.write_text(TYPST_IMAGE_FILTER.replace("{base}", base), encoding="utf-8")
    typ = scratch / f"{name}.typ"
    args = [
        str(source),
        "--from",
        "markdown-citations",
        "--to",
        "typst",
        "--standalone",
        "--wrap=none",
        "--columns=100000",  # no relative column widths from long pipe-table rows
        f"--include-in-header={preamble}",
        f"--lua-filter={lua}",
        "--output",
        str(typ),
    ]
    args += toc_args(options)
    for key in ("papersize", "fontsize", "mainfont"):
        if options.get(key):
            args.append(f"--variable={key}:{options[key]}")
    run_pandoc(args, cwd=scratch)
    return compile_typst(typ, scratch / f"{name}.pdf", root=Path("/"))


def toc_args(options: Mapping[str, Any]) -> list[str]:
    if not options.get("toc"):
        return []
    return ["--toc", f"--toc-depth={int(options.get('toc-depth', 3))}"]


def compile_typst(typ: Path, pdf: Path, root: Path) -> Path:
    """Compile ``typ`` to ``pdf`` with the PyPI ``typst`` package."""
    import typst

    try:
        typst.compile(str(typ), output=str(pdf), root=str(root))
    except Exception as err:  # typst.TypstError and friends
        raise RenderError(f"typst could not compile {typ.name}: {err}") from err
    return expect_file(pdf, "typst")


def run_pandoc(args: list[str], stdin: str | None = None, cwd: Path | None = None) -> str:
    """Run the pandoc bundled with pypandoc-binary; its stdout."""
    import pypandoc

    done = subprocess.run(
        [pypandoc.get_pandoc_path(), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )
    if done.returncode != 0:
        raise RenderError(f"pandoc failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout
