"""The executed chunks put back into the text: one Pandoc Markdown document
for every output format. Numbering and cross references are left to the Lua
filter (crossref.lua), which sees this document's AST."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .execute import ANSI_ESCAPE
from .qmd import Chunk, Qmd

IMAGE_TYPES = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}


def notebook_to_markdown(doc: Qmd, notebook: Any, figdir: Path) -> str:
    """The document's text with each chunk's code (if echoed) and outputs;
    images are written to ``figdir`` and linked by absolute path."""
    figdir.mkdir(parents=True, exist_ok=True)
    outputs = {c.metadata["block"]: c.get("outputs", []) for c in notebook.cells if "block" in c.metadata}
    parts = [
        block if isinstance(block, str) else chunk_markdown(doc, block, outputs.get(index, []), figdir / f"chunk{index}")
        for index, block in enumerate(doc.blocks)
    ]
    return "\n\n".join(p.strip("\n") for p in parts if p.strip()) + "\n"


def chunk_markdown(doc: Qmd, chunk: Chunk, outputs: list[Any], stem: Path) -> str:
    """A chunk's code and outputs; a labelled figure or table chunk's outputs go
    in a div ``#fig-x``/``#tbl-x`` that ends with a ``.caption`` div, from
    which the filter makes the figure or the captioned table."""
    options = doc.execute_options(chunk)
    if not options["include"]:
        return ""
    code = [fenced(chunk.code, "python")] if options["echo"] else []
    shown = [] if options["output"] is False else outputs_markdown(outputs, options, stem)
    kind = chunk.label.split("-", 1)[0]
    caption = chunk.options.get(f"{kind}-cap") if kind in ("fig", "tbl") else None
    if caption and shown:
        shown = [f":::: {{#{chunk.label}}}", *shown, f"::: {{.caption}}\n{caption}\n:::", "::::"]
    return "\n\n".join(p for p in code + shown if p.strip())


def outputs_markdown(outputs: list[Any], options: Mapping[str, Any], stem: Path) -> list[str]:
    """Markdown for a cell's outputs in order (``output: asis`` passes text through)."""
    asis = options["output"] == "asis"
    parts: list[str] = []
    for output in merged_streams(outputs):
        kind = output.get("output_type")
        if kind == "stream" and output["name"] == "stderr":
            parts += [fenced(output["text"], "stderr")] if options["warning"] is not False else []
        elif kind == "stream":
            parts.append(output["text"] if asis else fenced(output["text"], ""))
        elif kind == "error":
            parts.append(fenced(ANSI_ESCAPE.sub("", "\n".join(output["traceback"])), "error"))
        elif kind in ("display_data", "execute_result"):
            parts.append(display_markdown(output, asis, Path(f"{stem}-{len(parts) + 1}")))
    return parts


def merged_streams(outputs: list[Any]) -> list[Mapping[str, Any]]:
    """Outputs with consecutive stream outputs of the same name joined."""
    merged: list[dict[str, Any]] = []
    for output in outputs:
        last = merged[-1] if merged else {}
        if output.get("output_type") == "stream" == last.get("output_type") and output["name"] == last["name"]:
            last["text"] += output["text"]
        else:
            merged.append(dict(output))
    return merged


def display_markdown(output: Mapping[str, Any], asis: bool, stem: Path) -> str:
    """The richest Markdown for one display: Markdown, an image, raw HTML
    (tables become pandoc tables in the filter), LaTeX, or plain text."""
    data = output.get("data", {})
    if "text/markdown" in data:
        return str(data["text/markdown"])
    for mime, ext in IMAGE_TYPES.items():
        if mime in data:
            path = stem.with_suffix(f".{ext}")
            path.write_bytes(str(data[mime]).encode() if ext == "svg" else base64.b64decode(data[mime]))
            width = (output.get("metadata", {}).get(mime) or {}).get("width")
            return f"![](<{path.as_posix()}>)" + (f"{{width={int(width)}}}" if width else "")
    if "text/html" in data:
        return fenced(str(data["text/html"]), "{=html}")
    if "text/latex" in data:
        return str(data["text/latex"])
    text = str(data.get("text/plain", ""))
    return text if asis or not text else fenced(text, "")


def fenced(text: str, info: str) -> str:
    """A fenced code (or raw) block longer than any backtick run in ``text``."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", text)), default=0))
    return f"{fence}{info}\n{text.rstrip()}\n{fence}"
