"""Reading a .qmd: Quarto's includes (``{{< include _part.qmd >}}`` on a line
of its own, expanded here and only here), the YAML header, the Markdown text
and the ``{python}`` chunks with their ``#|`` options. Every line keeps the
file and line it is written at, so a failing chunk is told where it is written."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

INCLUDE = re.compile(r"^\s*\{\{<\s*include\s+(?P<file>\S+)\s*>\}\}\s*$")
CHUNK_OPEN = re.compile(r"^(?P<fence>`{3,})\s*\{(?P<lang>[A-Za-z][\w-]*)[^}]*\}\s*$")
FENCE = re.compile(r"^\s*(?P<fence>`{3,}|~{3,})")

# Quarto's chunk defaults, overridden by the header's `execute:` and then by `#|` options.
EXECUTE_DEFAULTS = {"echo": True, "eval": True, "include": True, "output": True, "warning": True, "error": False}


class RenderError(RuntimeError):
    """The report could not be rendered; nothing was written at the output."""


class ChunkError(RenderError):
    """A chunk raised: the message names its label, file and line, and the Python error."""

    def __init__(self, message: str, label: str, where: str) -> None:
        super().__init__(message)
        self.label, self.where = label, where


@dataclass(frozen=True)
class Chunk:
    """A ``{python}`` chunk: code without its option lines, and where it is written."""

    code: str
    options: dict[str, Any]
    file: Path
    line: int  # the opening fence
    code_line: int  # the first line of ``code``

    @property
    def label(self) -> str:
        return str(self.options.get("label") or "")

    @property
    def where(self) -> str:
        return f"{shown_path(self.file)}:{self.line}"


@dataclass(frozen=True)
class Qmd:
    """A .qmd with its includes expanded: header, and Markdown text and chunks in order."""

    path: Path
    front: dict[str, Any]
    blocks: list[str | Chunk]

    def format_options(self) -> dict[str, Any]:
        """The header's options, those under ``format: html:`` merged in."""
        merged = {k: v for k, v in self.front.items() if k not in ("format", "execute")}
        html = (self.front.get("format") or {}) if isinstance(self.front.get("format"), Mapping) else {}
        merged.update(html.get("html") or {})
        return merged

    def execute_options(self, chunk: Chunk) -> dict[str, Any]:
        """A chunk's effective options: Quarto's defaults < header ``execute:`` < ``#|``."""
        execute = self.front.get("execute") or {}
        return {**EXECUTE_DEFAULTS, **{k: v for k, v in execute.items() if k in EXECUTE_DEFAULTS},
                **chunk.options}


def shown_path(path: Path) -> str:
    """``path`` relative to the working folder when it lies inside it, else absolute."""
    return str(path) if (relative := os.path.relpath(path)).startswith("..") else relative


def read_qmd(path: Path) -> Qmd:
    """The .qmd at ``path`` with its includes expanded."""
    return parse_lines(Path(path), expand_includes(Path(path)))


def expand_includes(path: Path, depth: int = 0) -> list[tuple[str, Path, int]]:
    """The lines of ``path`` as (text, file, line), each include line replaced by
    the lines of the file it names (relative to the including file)."""
    if depth > 10:
        raise RenderError(f"{shown_path(path)}: includes nested more than 10 deep")
    lines: list[tuple[str, Path, int]] = []
    for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        found = INCLUDE.match(text)
        if found is None:
            lines.append((text, path, number))
        elif (path.parent / found["file"]).is_file():
            lines += expand_includes(path.parent / found["file"], depth + 1)
        else:
            raise RenderError(f"{shown_path(path)}:{number}: included file {found['file']} not found")
    return lines


def parse_lines(path: Path, lines: list[tuple[str, Path, int]]) -> Qmd:
    """Header, then Markdown and chunks; fenced code that is not a chunk stays Markdown."""
    front, i = front_matter([t for t, _, _ in lines], path)
    blocks: list[str | Chunk] = []
    prose: list[str] = []
    fence = None  # the fence of an open plain code block
    while i < len(lines):
        text, file, number = lines[i]
        opened = CHUNK_OPEN.match(text) if fence is None else None
        if opened is None:
            if fence is not None and closes(text, fence):
                fence = None
            elif fence is None and (plain := FENCE.match(text)):
                fence = plain["fence"]
            prose.append(text)
            i += 1
            continue
        where = f"{shown_path(file)}:{number}"
        end = next((j for j in range(i + 1, len(lines)) if closes(lines[j][0], opened["fence"])), None)
        if end is None or opened["lang"].lower() != "python":
            raise RenderError(f"{where}: chunk is never closed" if end is None else
                              f"{where}: {{{opened['lang']}}} chunk: the fallback runs Python chunks only")
        blocks += ["\n".join(prose)] if prose else []
        prose, body = [], [t for t, _, _ in lines[i + 1 : end]]
        options, skipped = chunk_options(body, where)
        code_line = lines[i + 1 + skipped][2] if i + 1 + skipped < end else number + 1
        blocks.append(Chunk("\n".join(body[skipped:]).rstrip(), options, file, number, code_line))
        i = end + 1
    return Qmd(path, front, [*blocks, "\n".join(prose)] if prose else blocks)


def front_matter(lines: list[str], path: Path) -> tuple[dict[str, Any], int]:
    """(the YAML header, the index of the first line after it)."""
    if not lines or lines[0].strip() != "---":
        return {}, 0
    end = next((k for k in range(1, len(lines)) if lines[k].strip() in ("---", "...")), None)
    header = (yaml.safe_load("\n".join(lines[1:end])) or {}) if end else None
    if not isinstance(header, dict):
        raise RenderError(f"{shown_path(path)}: the YAML header is not closed by '---' or not a mapping")
    return header, end + 1


def closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and set(stripped) == {fence[0]} and len(stripped) >= len(fence)


def chunk_options(lines: list[str], where: str = "chunk") -> tuple[dict[str, Any], int]:
    """(the ``#| key: value`` options, how many leading lines they and blank lines take)."""
    count = next((k for k, line in enumerate(lines) if not line.startswith("#|")), len(lines))
    text = "\n".join(line[2:].removeprefix(" ") for line in lines[:count])
    try:
        options = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as err:
        raise RenderError(f"{where}: unreadable chunk options:\n{text}\n{err}") from err
    if not isinstance(options, dict):
        raise RenderError(f"{where}: chunk options are not 'key: value' lines: {text!r}")
    while count < len(lines) and not lines[count].strip():
        count += 1
    return options, count
