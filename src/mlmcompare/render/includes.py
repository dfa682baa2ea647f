"""Quarto's include shortcode, ``{{< include _part.qmd >}}`` on a line of its own.

The renderer expands includes here, and only here: every expanded line keeps
the file and line it was written at, so that a failing chunk can be reported
where it is written. Standard library only (and no ``__future__`` import), so
a workflow can ``include:`` or run this file to list a document's parts
without importing the package.
"""

import re
from pathlib import Path

INCLUDE = re.compile(r"^\s*\{\{<\s*include\s+(?P<file>\S+)\s*>\}\}\s*$")
MAX_DEPTH = 10


def expand_includes(path: Path, depth: int = 0) -> list[tuple[str, Path, int]]:
    """The lines of ``path``, include lines replaced by the lines of the file
    they name (relative to the including file): (text, file, 1-based line)."""
    if depth > MAX_DEPTH:
        raise RecursionError(f"{path}: includes nested more than {MAX_DEPTH} deep")
    lines: list[tuple[str, Path, int]] = []
    for number, text in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        found = INCLUDE.match(text)
        if found is None:
            lines.append((text, Path(path), number))
            continue
        part = Path(path).parent / found["file"]
        if not part.is_file():
            raise FileNotFoundError(f"{path}:{number}: included file {found['file']} not found")
        lines.extend(expand_includes(part, depth + 1))
    return lines


def included_files(path: Path) -> list[str]:
    """Every file that ``path`` includes, directly or through another part, in order."""
    found: list[str] = []
    for text in Path(path).read_text(encoding="utf-8").splitlines():
        match = INCLUDE.match(text)
        if match:
            part = Path(path).parent / match["file"]
            found += [str(part), *included_files(part)]
    return found
